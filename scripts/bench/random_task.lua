-- wrk script: GET /api/v1/tasks/{id} for an id drawn at random from IDS_FILE (one per line), with a
-- bearer token from TOKEN. With PUT=1 it sends a partial update of that task instead.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local put = os.getenv("PUT") == "1"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
if put then wrk.headers["Content-Type"] = "application/json" end
local statuses = { '{"status":"in_progress"}', '{"status":"pending"}' }

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function request()
  local path = "/api/v1/tasks/" .. ids[math.random(#ids)]
  if put then
    return wrk.format("PUT", path, nil, statuses[math.random(2)])
  end
  return wrk.format("GET", path)
end
