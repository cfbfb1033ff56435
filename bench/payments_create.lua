-- POST /api/v1/order/alipay/ for a buyer (tokens.txt) and a paid course (courses.txt: "id
-- price"), each request with its own Idempotency-Key ($BENCH_RUN-<thread>-<counter>). A buyer
-- has one open order per course, so every request asks for a buyer-course pair no request
-- asked for before: pair k = BENCH_OFFSET + counter * BENCH_THREADS + thread, buyer k mod
-- buyers, course k div buyers (round and round when the pairs run out: then requests are
-- repeats, answered with the open order). The pay_type is $BENCH_PAY_TYPE (default 1, Alipay;
-- 2 WeChat Pay, 3 Stripe: bench/payments.sh sets it from PROVIDER).
dofile("bench/payments_common.lua")

body_want = 'a 2xx body with "code":100'
function body_ok(body) return string.find(body, '"code":100', 1, true) ~= nil end

local auths, bodies, ntok, ncourses, run, counter

function init(args)
  auths, bodies = {}, {}
  local pay_type = tonumber(os.getenv("BENCH_PAY_TYPE") or "1")
  for i, t in ipairs(read_lines("tokens.txt")) do auths[i] = "jwt " .. t end
  for i, line in ipairs(read_lines("courses.txt")) do
    local id, price = line:match("^(%d+) (%S+)$")
    bodies[i] = '{"courses":[' .. id .. '],"total_amount":"' .. price ..
      '","subject":"bench","pay_type":' .. pay_type .. '}'
  end
  ntok, ncourses = #auths, #bodies
  run = os.getenv("BENCH_RUN") or "run"
  offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  counter = 0
end

function request()
  local k = (offset + counter * nthreads + thread_no - 1) % (ntok * ncourses)
  counter = counter + 1
  issued = counter
  return wrk.format("POST", "/api/v1/order/alipay/", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = auths[k % ntok + 1],
    ["Idempotency-Key"] = run .. "-" .. thread_no .. "-" .. counter,
  }, bodies[math.floor(k / ntok) % ncourses + 1])
end
