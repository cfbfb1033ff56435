-- POST the signed notifications of notify_bodies.txt (one a line) to the shop.
-- Alipay (the default): a line is a form-encoded notify body, posted to
-- /api/v1/order/success/; every answer must be the bare text `success`.
-- WeChat Pay and Stripe (bench/payments.sh with PROVIDER=wechatpay or stripe sets
-- $BENCH_NOTIFY_PATH and $BENCH_NOTIFY_BODY): a line is
-- `out_trade_no<TAB>Header: value<TAB>...<TAB>body` (bench/payments_prep.py sign-wechatpay,
-- sign-stripe; the order number is not sent), posted to $BENCH_NOTIFY_PATH; every answer must
-- be 2xx with the body $BENCH_NOTIFY_BODY (WeChat Pay: 204 and no body; Stripe:
-- {"received":true}).
-- With $BENCH_THREADS wrk threads, thread t sends lines t, t+T, t+2T, ... in order and starts
-- again at its first line when it reaches the end, so the first pass sends every notification
-- once and later passes are duplicates.
dofile("bench/payments_common.lua")

local signed_path = os.getenv("BENCH_NOTIFY_PATH")
local want = signed_path and (os.getenv("BENCH_NOTIFY_BODY") or "") or "success"
body_want = "body = '" .. want .. "'"
function body_ok(body) return (body or "") == want end

local form = { ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8" }

-- The request of one line of notify_bodies.txt.
local function request_of(line)
  if not signed_path then
    return wrk.format("POST", "/api/v1/order/success/", form, line)
  end
  local fields = {}
  for f in string.gmatch(line, "[^\t]+") do table.insert(fields, f) end
  local headers = {}
  for k = 2, #fields - 1 do
    local name, value = string.match(fields[k], "^([^:]+): (.*)$")
    headers[name] = value
  end
  return wrk.format("POST", signed_path, headers, fields[#fields])
end

local reqs, n, idx

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
  reqs = {}
  local i = 0
  for line in io.lines(data_dir .. "/notify_bodies.txt") do
    if line ~= "" then
      i = i + 1
      if (i - 1) % nthreads == thread_no - 1 then
        table.insert(reqs, request_of(line))
      end
    end
  end
  n, idx = #reqs, 0
  bodies_here = n
end

function request()
  idx = idx % n + 1
  issued = issued + 1
  return reqs[idx]
end

function extra_done(threads)
  local distinct, all = 0, 0
  for _, t in ipairs(threads) do
    local here, sent = t:get("bodies_here") or 0, t:get("issued") or 0
    all = all + here
    distinct = distinct + math.min(here, sent)
  end
  io.write("bodies-issued-distinct: " .. distinct .. " of " .. all .. "\n")
end
