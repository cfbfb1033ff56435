-- wrk script: course list, GET /api/v1/course/list/?ordering=<o>&page=<p>&page_size=10
-- [&course_category=<c>], with a random ordering of the five, no category or one of 1-8,
-- and a random page: 1-50 of the whole list (2,000 courses), 1-20 of one category (250).
-- Used by bench/run.sh:
--   wrk -t2 -c16 -d20s --latency -s bench/list.lua http://127.0.0.1:PORT
dofile("bench/common.lua")

ORDERINGS = { "orders", "students", "-students", "price", "-price" }

function init(args)
  local paths = {}
  for _, o in ipairs(ORDERINGS) do
    for page = 1, 50 do
      table.insert(paths, "/api/v1/course/list/?ordering=" .. o .. "&page=" .. page .. "&page_size=10")
    end
    for cat = 1, 8 do
      for page = 1, 20 do
        table.insert(paths, "/api/v1/course/list/?ordering=" .. o .. "&course_category=" .. cat
          .. "&page=" .. page .. "&page_size=10")
      end
    end
  end
  prepare(paths)
end
