-- Shared by search.lua, list.lua and detail.lua, loaded with dofile("bench/common.lua"):
-- run wrk from the repository root, as bench/run.sh does.
--
-- Each script calls prepare(paths) from its init(): the paths become ready-made requests
-- and request() sends a random one (a per-thread generator with a fixed seed).
--
-- Every response is counted by status in each wrk thread; when the run ends, done() prints
--   statuses: 200=N 404=M ...
--   non-2xx: M
-- wrk's own "Non-2xx or 3xx responses" line counts statuses >= 400 only; this counts
-- everything outside 200-299, so a 404 (e.g. a search page past the end) or a redirect
-- shows. bench/run.sh reads the "non-2xx:" line for its summary.

local threads = {}
local thread_count = 0
local reqs, nreqs = nil, 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_no", thread_count)
  table.insert(threads, thread)
end

-- Percent-encodes a query value byte by byte (UTF-8 Chinese becomes %E6%95%B0...).
function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function prepare(paths)
  math.randomseed(1000 + (thread_no or 0))
  reqs = {}
  for i, p in ipairs(paths) do reqs[i] = wrk.format("GET", p) end
  nreqs = #reqs
end

-- Global at load time, so wrk knows the requests are dynamic.
function request()
  return reqs[math.random(nreqs)]
end

-- BENCH_COUNT_STATUS=0 leaves response() undefined: wrk then skips handing each response
-- to Lua (slightly cheaper) and only its own ">= 400" count remains.
statuses = {}
if os.getenv("BENCH_COUNT_STATUS") ~= "0" then
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  if response == nil then
    io.write("statuses: not counted (BENCH_COUNT_STATUS=0)\n")
    return
  end
  local total, codes, parts, bad = {}, {}, {}, 0
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {}) do
      total[code] = (total[code] or 0) + n
    end
  end
  for code in pairs(total) do table.insert(codes, code) end
  table.sort(codes)
  for _, code in ipairs(codes) do
    table.insert(parts, code .. "=" .. total[code])
    if code < 200 or code > 299 then bad = bad + total[code] end
  end
  io.write("statuses: " .. table.concat(parts, " ") .. "\n")
  io.write("non-2xx: " .. bad .. "\n")
end
