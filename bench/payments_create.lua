-- POST /api/v1/order/alipay/ as a random user (tokens.txt) for a random paid course
-- (courses.txt: "id price"), each request with its own Idempotency-Key
-- ($BENCH_RUN-<thread>-<counter>), so that every request creates an order.
dofile("bench/payments_common.lua")

body_want = 'a 2xx body with "code":100'
function body_ok(body) return string.find(body, '"code":100', 1, true) ~= nil end

local auths, bodies, ntok, ncourses, run, counter

function init(args)
  math.randomseed(3000 + thread_no)
  auths, bodies = {}, {}
  for i, t in ipairs(read_lines("tokens.txt")) do auths[i] = "jwt " .. t end
  for i, line in ipairs(read_lines("courses.txt")) do
    local id, price = line:match("^(%d+) (%S+)$")
    bodies[i] = '{"courses":[' .. id .. '],"total_amount":"' .. price ..
      '","subject":"bench","pay_type":1}'
  end
  ntok, ncourses = #auths, #bodies
  run = os.getenv("BENCH_RUN") or "run"
  counter = 0
end

function request()
  counter = counter + 1
  issued = counter
  return wrk.format("POST", "/api/v1/order/alipay/", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = auths[math.random(ntok)],
    ["Idempotency-Key"] = run .. "-" .. thread_no .. "-" .. counter,
  }, bodies[math.random(ncourses)])
end
