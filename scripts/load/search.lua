-- wrk script: anonymous searches, GET /api/v1/search?q=..., rotating through realistic Chinese
-- queries (each thread starts at a different one).
-- Usage: XT_LOAD_LUA_DIR=scripts/load wrk -t2 -c8 -d15s --timeout 30s -s scripts/load/search.lua http://127.0.0.1:PORT

local report = dofile((os.getenv("XT_LOAD_LUA_DIR") or "scripts/load") .. "/report.lua")

local queries = {
  "机器视觉", "锂电池", "新材料", "人工智能", "生物医药", "智能制造",
  "工业互联网", "新能源汽车", "集成电路", "氢能", "医疗器械", "大数据",
  "机器人", "节能环保", "5G通信", "碳纤维",
}

local function urlencode(text)
  return (text:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local paths = {}
for i, q in ipairs(queries) do
  paths[i] = "/api/v1/search?q=" .. urlencode(q)
end

function setup(thread) report.setup(thread) end

function init(args)
  statuses = {}
  next_query = (thread_id or 1) - 1
end

function request()
  next_query = next_query + 1
  return wrk.format("GET", paths[(next_query - 1) % #paths + 1])
end

function response(status, headers, body) report.count(status) end

done = report.done
