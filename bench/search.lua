-- wrk script: course search, GET /api/v1/course/search/?search=<kw>&page=<1..3>&page_size=10
-- with a random keyword of KEYWORDS (Chinese and English, course and teacher names) and a
-- random page 1-3. Used by bench/run.sh:
--   wrk -t2 -c16 -d20s --latency -s bench/search.lua http://127.0.0.1:PORT
-- Every keyword matches more than 30 courses of the catalog of bench/gen_catalog.py (it
-- checks), so page 3 exists; bench/run.sh checks it against the server before measuring,
-- and non-2xx answers are counted anyway (common.lua).
dofile("bench/common.lua")

-- KEYWORDS BEGIN (bench/run.sh reads the quoted words between these markers)
KEYWORDS = {
  "Python", "python", "Go", "Linux", "Django", "Vue", "Docker", "MySQL", "Redis", "Alex",
  "数据分析", "运维", "爬虫", "微服务", "入门", "实战", "进阶", "精通", "全栈", "自动化",
}
-- KEYWORDS END
PAGES = 3

function init(args)
  local paths = {}
  for _, kw in ipairs(KEYWORDS) do
    for page = 1, PAGES do
      table.insert(paths, "/api/v1/course/search/?search=" .. urlencode(kw) .. "&page=" .. page .. "&page_size=10")
    end
  end
  prepare(paths)
end
