-- wrk script: POST the body file in BENCH_BODY with BENCH_AUTH_HEADER: BENCH_KEY; print JSON at the end.
wrk.method = "POST"
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["content-type"] = "application/json"
wrk.headers[os.getenv("BENCH_AUTH_HEADER")] = os.getenv("BENCH_KEY")
wrk.headers["anthropic-version"] = "2023-06-01"

-- BENCH_SESSIONS=N: each request names one of N conversations (x-claude-code-session-id), so
-- session stickiness and the caches see a realistic spread (the soak).
local sessions = tonumber(os.getenv("BENCH_SESSIONS") or "")
if sessions then
  request = function()
    wrk.headers["x-claude-code-session-id"] = "soak-" .. math.random(sessions)
    return wrk.format()
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON{"requests":%d,"duration_us":%d,"socket_errors":%d,"non2xx":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
