-- wrk script: course detail, GET /api/v1/course/list/<id>/ with a random id 1-2000 (every
-- course of bench/gen_catalog.py's catalog is public). Used by bench/run.sh:
--   wrk -t2 -c16 -d20s --latency -s bench/detail.lua http://127.0.0.1:PORT
dofile("bench/common.lua")

COURSES = tonumber(os.getenv("BENCH_COURSES") or "2000")

function init(args)
  local paths = {}
  for id = 1, COURSES do
    table.insert(paths, "/api/v1/course/list/" .. id .. "/")
  end
  prepare(paths)
end
