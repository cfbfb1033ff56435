-- Shared by payments_create.lua, payments_notify.lua and payments_poll.lua, loaded with
-- dofile("bench/payments_common.lua"): run wrk from the repository root, as bench/payments.sh
-- does. The data files are in the directory $BENCH_DATA (written by bench/payments.sh).
--
-- Each wrk thread counts responses by status, and counts "bad" answers: a 2xx whose body
-- fails the script's check (body_ok). When the run ends, done() prints
--   statuses: 200=N ...
--   non-2xx: M
--   bad-body: K (<what the check wants>)
--   requests-issued: R        (request() calls, including those still in flight at the end)
-- bench/payments.sh reads these lines for its summary.

local threads = {}
local thread_count = 0
data_dir = os.getenv("BENCH_DATA") or "."

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_no", thread_count)
  table.insert(threads, thread)
end

function read_lines(name)
  local t = {}
  for line in io.lines(data_dir .. "/" .. name) do
    if line ~= "" then table.insert(t, line) end
  end
  return t
end

statuses = {}
bad = 0
issued = 0
sample_bad = nil

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 200 and status <= 299 and not body_ok(body) then
    bad = bad + 1
    if sample_bad == nil then sample_bad = string.sub(body or "", 1, 200) end
  end
end

function done(summary, latency, requests)
  local total, codes, parts, non2xx, nbad, nissued, sample = {}, {}, {}, 0, 0, 0, nil
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {}) do
      total[code] = (total[code] or 0) + n
    end
    nbad = nbad + (t:get("bad") or 0)
    nissued = nissued + (t:get("issued") or 0)
    sample = sample or t:get("sample_bad")
  end
  for code in pairs(total) do table.insert(codes, code) end
  table.sort(codes)
  for _, code in ipairs(codes) do
    table.insert(parts, code .. "=" .. total[code])
    if code < 200 or code > 299 then non2xx = non2xx + total[code] end
  end
  io.write("statuses: " .. table.concat(parts, " ") .. "\n")
  io.write("non-2xx: " .. non2xx .. "\n")
  io.write("bad-body: " .. nbad .. " (" .. (body_want or "?") .. ")\n")
  if sample then io.write("bad-body sample: " .. sample .. "\n") end
  io.write("requests-issued: " .. nissued .. "\n")
  if extra_done then extra_done(threads) end
end
