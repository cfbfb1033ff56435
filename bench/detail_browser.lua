-- wrk script: course detail as a browser asks for it, GET /api/v1/course/list/<id>/ with a
-- random id 1-2000 and a browser's User-Agent, so that each request goes through the checkout
-- funnel's view counting (bench/detail.lua sends none: a bot, not counted). One visitor (one
-- address, one user agent): its first view of each course is written, the rest are claimed
-- already. Used by bench/run.sh (ENDPOINTS=detail_browser).
dofile("bench/common.lua")

COURSES = tonumber(os.getenv("BENCH_COURSES") or "2000")
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"

function init(args)
  local paths = {}
  for id = 1, COURSES do
    table.insert(paths, "/api/v1/course/list/" .. id .. "/")
  end
  prepare(paths)
end
