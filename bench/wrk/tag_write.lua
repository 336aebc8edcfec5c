-- im_remove_tag and im_add_tag of ONE tag on 100 accounts, alternating, so that every
-- request really writes 100 (account, tag) rows — however wrk's connections reorder them.
-- $IMCAST_PATH is the im_add_tag path (im_remove_tag: the same with the name changed).
-- Each wrk thread owns 100 accounts ($IMCAST_ACCOUNT_PREFIX + index tid*100 .. tid*100+99,
-- 8 digits) and a ring of $IMCAST_RING tag names ($IMCAST_TAG_PREFIX + slot). imcast-bench
-- gave every account slots 0 .. RING/2-1 beforehand (and nothing else). Request pair j
-- removes slot j and adds slot j + RING/2 (mod RING): a tag goes RING-1 requests after the
-- thread added it and comes back RING+1 requests after it went. RING is several times the
-- thread's connections (each has at most one request in flight), so the earlier request
-- was answered long before: every remove finds the tag, every add lacks it.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local add_path = os.getenv("IMCAST_PATH")
local remove_path = string.gsub(add_path, "im_add_tag", "im_remove_tag")
local account_prefix = os.getenv("IMCAST_ACCOUNT_PREFIX")
local tag_prefix = os.getenv("IMCAST_TAG_PREFIX")
local ring = tonumber(os.getenv("IMCAST_RING"))
local parts   -- the body split where the tag goes: table.concat(parts, tag) is the body
local n = 0

local function body_parts()
  local p = {}
  for i = 0, 99 do
    local account = string.format("%s%08d", account_prefix, tid * 100 + i)
    table.insert(p, (i == 0 and '{"UserTags":[' or '"]},') ..
                    '{"To_Account":"' .. account .. '","Tags":["')
  end
  table.insert(p, '"]}]}')
  return p
end

function request()
  if not parts then parts = body_parts() end
  local j = math.floor(n / 2)
  local remove = n % 2 == 0
  local slot = remove and j % ring or (j + ring / 2) % ring
  n = n + 1
  return wrk.format(nil, remove and remove_path or add_path, nil,
                    table.concat(parts, tag_prefix .. slot))
end

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
