-- POST /api/v1/order/success/ with the signed notify bodies of notify_bodies.txt (one
-- form-encoded body a line). With $BENCH_THREADS wrk threads, thread t sends lines t,
-- t+T, t+2T, ... in order and starts again at its first line when it reaches the end, so
-- the first pass sends every body once and later passes are duplicates. Every answer must
-- be the bare text `success`.
dofile("bench/payments_common.lua")

body_want = "body = success"
function body_ok(body) return body == "success" end

local reqs, n, idx

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8" }
  reqs = {}
  local i = 0
  for line in io.lines(data_dir .. "/notify_bodies.txt") do
    if line ~= "" then
      i = i + 1
      if (i - 1) % nthreads == thread_no - 1 then
        table.insert(reqs, wrk.format("POST", "/api/v1/order/success/", headers, line))
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
