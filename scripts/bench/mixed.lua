-- wrk script: the mixed workload of many users (BENCHMARKS.md). USERS_FILE has one line per user:
-- its access token, then the ids of some of its tasks, separated by spaces. Every request picks
-- a user at random, then: 70 % GET one of its tasks, 10 % POST a task, 10 % PUT one of its tasks,
-- 10 % GET its first list page.
local users = {}
for line in io.lines(os.getenv("USERS_FILE")) do
  local fields = {}
  for field in line:gmatch("%S+") do fields[#fields + 1] = field end
  local token = table.remove(fields, 1)
  users[#users + 1] = { auth = "Bearer " .. token, ids = fields }
end
local json = "application/json"
-- RATE (requests/s over all connections, optional) paces the load: each connection waits
-- CONNECTIONS / RATE seconds before each request, so latency is measured below saturation.
if os.getenv("RATE") then
  local pause_ms = 1000 * tonumber(os.getenv("CONNECTIONS")) / tonumber(os.getenv("RATE"))
  function delay()
    return pause_ms
  end
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function request()
  local user = users[math.random(#users)]
  local roll = math.random(100)
  local headers = { ["Authorization"] = user.auth }
  if roll <= 70 then
    return wrk.format("GET", "/api/v1/tasks/" .. user.ids[math.random(#user.ids)], headers)
  elseif roll <= 80 then
    headers["Content-Type"] = json
    return wrk.format("POST", "/api/v1/tasks", headers, '{"title":"Mixed task","priority":"low"}')
  elseif roll <= 90 then
    headers["Content-Type"] = json
    return wrk.format("PUT", "/api/v1/tasks/" .. user.ids[math.random(#user.ids)], headers,
      '{"status":"in_progress"}')
  end
  return wrk.format("GET", "/api/v1/tasks?pageSize=10", headers)
end
