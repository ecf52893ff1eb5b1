-- wrk script: every request opens a different launch link, read from the file given after `--`,
-- and every answer must be a 200 auto-post page; `delay_ms` (a second argument) paces each connection.
-- A fourth argument, when given, is the text every 200 answer must hold instead of "SAMLResponse".
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  links = {}
  total = tonumber(args[3])
  local index = 0
  for line in io.lines(args[1]) do
    if index % total == id then table.insert(links, line) end
    index = index + 1
  end
  pacing = tonumber(args[2] or "0")
  expect = args[4] or "SAMLResponse"
  next_link = 0
  bad = 0
  ran_out = 0
end

function delay()
  return pacing
end

function request()
  next_link = next_link + 1
  if next_link > #links then
    ran_out = ran_out + 1
    next_link = #links
  end
  return wrk.format("GET", links[next_link])
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, expect, 1, true) then bad = bad + 1 end
end

function done(summary, latency, requests)
  local bad_total, ran_out_total = 0, 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    ran_out_total = ran_out_total + thread:get("ran_out")
  end
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %f, "bad": %d, "ran_out": %d, "errors": %d, "p50_ms": %f, "p99_ms": %f}\n',
    summary.requests, summary.duration / 1e6, bad_total, ran_out_total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
