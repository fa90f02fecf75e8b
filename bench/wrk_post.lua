-- POST bodies for wrk, one JSON document per line of the file given after `--`.
-- With a second argument `bearer`, each line is instead `TOKEN JSON` (split at the first
-- space) and the request carries `Authorization: Bearer TOKEN` (the instance check-in).
-- Each thread starts at its own offset and cycles over the bodies; `done` prints one
-- machine-readable line (latencies in microseconds) that bench/validate.py parses.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs = {}
local n = 0
local i = 0

function init(args)
  local path = args[1]
  if path == nil then
    error("usage: wrk ... -s wrk_post.lua URL -- BODIES_FILE [bearer]")
  end
  local bearer = args[2] == "bearer"
  for line in io.lines(path) do
    if #line > 0 then
      local headers = { ["Content-Type"] = "application/json" }
      local body = line
      if bearer then
        local token, rest = line:match("^(%S+) (.*)$")
        if token == nil then
          error("not `TOKEN JSON`: " .. line)
        end
        headers["Authorization"] = "Bearer " .. token
        body = rest
      end
      n = n + 1
      reqs[n] = wrk.format("POST", nil, headers, body)
    end
  end
  if n == 0 then
    error("no bodies in " .. path)
  end
  i = ((tid or 0) * 7919) % n
end

function request()
  i = i % n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
