-- POST the signed WeChat Pay notifications or Stripe webhook events of notify_bodies.txt to
-- $BENCH_NOTIFY_PATH (bench/payments.sh with PROVIDER=wechatpay or stripe). A line is
-- `out_trade_no<TAB>Header: value<TAB>...<TAB>body` (bench/payments_prep.py sign-wechatpay,
-- sign-stripe); the order number is not sent. As bench/payments_notify.lua: with
-- $BENCH_THREADS wrk threads, thread t sends lines t, t+T, t+2T, ... in order and starts again
-- at its first line, so the first pass sends every notification once and later passes are
-- duplicates. Every answer must be 2xx with the body $BENCH_NOTIFY_BODY (WeChat Pay: 204 and
-- no body; Stripe: {"received":true}).
dofile("bench/payments_common.lua")

local want = os.getenv("BENCH_NOTIFY_BODY") or ""
body_want = "body = '" .. want .. "'"
function body_ok(body) return (body or "") == want end

local reqs, n, idx

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
  local path = os.getenv("BENCH_NOTIFY_PATH")
  reqs = {}
  local i = 0
  for line in io.lines(data_dir .. "/notify_bodies.txt") do
    if line ~= "" then
      i = i + 1
      if (i - 1) % nthreads == thread_no - 1 then
        local fields = {}
        for f in string.gmatch(line, "[^\t]+") do table.insert(fields, f) end
        local headers = {}
        for k = 2, #fields - 1 do
          local name, value = string.match(fields[k], "^([^:]+): (.*)$")
          headers[name] = value
        end
        table.insert(reqs, wrk.format("POST", path, headers, fields[#fields]))
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
