-- Every request is a real write: it alternates im_add_tag and im_remove_tag of one tag on
-- the same 100 accounts (adding a tag an account already has would change nothing).
-- $IMCAST_PATH is the im_add_tag path; $IMCAST_BODY its body.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local add_path = os.getenv("IMCAST_PATH")
local remove_path = string.gsub(add_path, "im_add_tag", "im_remove_tag")
local body = os.getenv("IMCAST_BODY")
local n = 0

function request()
  n = n + 1
  local path = (n % 2 == 1) and add_path or remove_path
  return wrk.format(nil, path, nil, body)
end

local failures = 0
function response(status, headers, resp)
  if status ~= 200 or not string.find(resp, '"ErrorCode":0', 1, true) then
    failures = failures + 1
    if failures == 1 then io.stderr:write("unexpected answer: " .. status .. " " .. resp .. "\n") end
  end
end
