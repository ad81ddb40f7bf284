-- Shared by the wrk scripts in this directory (loaded with dofile; see scripts/load.sh).
-- Counts responses per status code in every thread and prints one machine-readable line,
--   RESULT requests=N duration_s=S rps=R p50_ms=A p99_ms=B non2xx=K statuses=200:N,429:M errors=connect:0,read:0,write:0,timeout:0
-- which load.sh turns into its table. wrk's own "Non-2xx or 3xx" count misses 3xx, so the
-- status table here is the one reported.

local report = {}
local threads = {}

function report.setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function report.count(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function report.done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local counted = thread:get("statuses")
    for status, n in pairs(counted) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  local codes = {}
  local non2xx = 0
  for status, n in pairs(totals) do
    table.insert(codes, status)
    if status < 200 or status > 299 then
      non2xx = non2xx + n
    end
  end
  table.sort(codes)
  local parts = {}
  for _, status in ipairs(codes) do
    table.insert(parts, string.format("%d:%d", status, totals[status]))
  end
  local duration_s = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_s=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f non2xx=%d statuses=%s errors=connect:%d,read:%d,write:%d,timeout:%d\n",
    summary.requests, duration_s, summary.requests / duration_s,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    non2xx, table.concat(parts, ","), e.connect, e.read, e.write, e.timeout))
end

return report
