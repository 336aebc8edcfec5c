-- One REST call, repeated: POST $IMCAST_PATH with the JSON body $IMCAST_BODY (imcast-bench
-- rest fills both; the path carries the admin's UserSig in its query string). Also the
-- nginx ceiling: the same request to an nginx that answers '{}' ($IMCAST_EXPECT={}).
wrk.method = "POST"
wrk.path = os.getenv("IMCAST_PATH")
wrk.body = os.getenv("IMCAST_BODY")
wrk.headers["Content-Type"] = "application/json"

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
