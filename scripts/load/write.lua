-- wrk script: authenticated listing writes, POST /api/v1/listings with a unique title per
-- request (run tag + thread id + per-thread counter).
-- Usage: XT_TOKEN=... XT_RUN_TAG=w8 XT_LOAD_LUA_DIR=scripts/load \
--          wrk -t2 -c8 -d15s --timeout 30s -s scripts/load/write.lua http://127.0.0.1:PORT

local report = dofile((os.getenv("XT_LOAD_LUA_DIR") or "scripts/load") .. "/report.lua")

local token = os.getenv("XT_TOKEN") or error("set XT_TOKEN to an API token with the write scope")
local run_tag = os.getenv("XT_RUN_TAG") or tostring(os.time())
local headers = {
  ["Authorization"] = "Bearer " .. token,
  ["Content-Type"] = "application/json",
}

function setup(thread) report.setup(thread) end

function init(args)
  statuses = {}
  written = 0
end

function request()
  written = written + 1
  local body = string.format(
    '{"kind":"demand","title":"压测需求 %s-%d-%d","summary":"负载测试写入","region_codes":["110106"]}',
    run_tag, thread_id, written)
  return wrk.format("POST", "/api/v1/listings", headers, body)
end

function response(status, headers, body) report.count(status) end

done = report.done
