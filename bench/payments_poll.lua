-- GET /api/v1/order/success/?out_trade_no=<a random paid order of paid.txt>. Every answer
-- must carry code 100 (paid).
dofile("bench/payments_common.lua")

body_want = 'a 2xx body with "code":100'
function body_ok(body) return string.find(body, '"code":100', 1, true) ~= nil end

local reqs, n

function init(args)
  math.randomseed(4000 + thread_no)
  reqs = {}
  for i, no in ipairs(read_lines("paid.txt")) do
    reqs[i] = wrk.format("GET", "/api/v1/order/success/?out_trade_no=" .. no)
  end
  n = #reqs
end

function request()
  issued = issued + 1
  return reqs[math.random(n)]
end
