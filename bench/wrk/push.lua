-- im_push, repeated, each with its own MsgRandom: a (sender, MsgRandom) seen within 7 days
-- is a safe retry that pushes nothing, so request n of thread tid carries
-- ($IMCAST_RANDOM_BASE + tid + n * $IMCAST_THREADS) mod 2^32 — one contiguous range per run,
-- starting at a random base. $IMCAST_BODY is a complete im_push body (its MsgRandom is
-- replaced); $IMCAST_PATH the im_push path.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local path = os.getenv("IMCAST_PATH")
local head, tail = string.match(os.getenv("IMCAST_BODY"), '^(.-"MsgRandom":)%d+(.*)$')
local base = tonumber(os.getenv("IMCAST_RANDOM_BASE"))
local nthreads = tonumber(os.getenv("IMCAST_THREADS"))
local n = 0

function request()
  local r = (base + tid + n * nthreads) % 4294967296
  n = n + 1
  return wrk.format(nil, path, nil, head .. string.format("%d", r) .. tail)
end

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
