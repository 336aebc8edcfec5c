-- One REST call, repeated: POST $IMCAST_PATH with the JSON body in $IMCAST_BODY.
-- The bench script fills both (path with a fresh admin UserSig).
wrk.method = "POST"
wrk.path = os.getenv("IMCAST_PATH")
wrk.body = os.getenv("IMCAST_BODY")
wrk.headers["Content-Type"] = "application/json"

local failures = 0
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"ErrorCode":0', 1, true) then
    failures = failures + 1
    if failures == 1 then io.stderr:write("unexpected answer: " .. status .. " " .. body .. "\n") end
  end
end
