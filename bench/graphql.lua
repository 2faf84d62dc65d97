-- wrk script for bench/nested_query.py: POST one GraphQL request body read from a file and
-- count answers that are not a clean 200 of the expected size.
-- usage: wrk ... -s graphql.lua URL -- BODY_FILE EXPECTED_BYTES [AUTH_HEADER_VALUE]
local all_threads = {}

function setup(thread)
  all_threads[#all_threads + 1] = thread
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.body = file:read("*a")
  file:close()
  expected_bytes = tonumber(args[2] or "0")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if args[3] then
    wrk.headers["X-Auth-Token"] = args[3]
  end
  failed = 0
end

function response(status, headers, body)
  local wrong_size = expected_bytes > 0 and #body ~= expected_bytes
  if status ~= 200 or wrong_size or body:find('"errors"', 1, true) then
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local failures = 0
  for _, thread in ipairs(all_threads) do
    failures = failures + (thread:get("failed") or 0)
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    "WRK_JSON {\"requests\": %d, \"duration_s\": %.6f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, " ..
    "\"p99_ms\": %.3f, \"max_ms\": %.3f, \"failed\": %d, \"socket_errors\": %d, " ..
    "\"non_2xx\": %d}\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    failures, socket_errors, e.status))
end
