-- report.lua — shared by the bench's wrk scripts (each loads it with dofile): numbers the
-- wrk threads (global `tid`, 0..), counts answers that are not good, and at the end prints
-- ONE machine-readable line for imcast-bench (mode_rest.c):
--   imcast-wrk requests= duration_us= rps= p50_us= p90_us= p99_us= max_us= bad_answers= ...
-- A good answer is HTTP 200 whose body holds $IMCAST_EXPECT (default "ErrorCode":0).
local expect = os.getenv("IMCAST_EXPECT") or '"ErrorCode":0'
local threads = {}
failures = 0   -- per thread; global so that done() can read it with thread:get

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, expect, 1, true) then
    failures = failures + 1
    if failures == 1 then io.stderr:write("unexpected answer: " .. status .. " " .. body .. "\n") end
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("failures") or 0) end
  local e = summary.errors
  io.write(string.format(
    "imcast-wrk requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "bad_answers=%d connect_errors=%d read_errors=%d write_errors=%d status_errors=%d timeouts=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    bad, e.connect, e.read, e.write, e.status, e.timeout))
end
