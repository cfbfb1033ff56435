-- pgbench script: the naive SQL of a Django REST Framework course search (SearchFilter's
-- ILIKE '%kw%' on the course name, then PageNumberPagination's COUNT(*) and one page
-- ordered by display priority). One transaction = one search request.
-- Used by bench/run.sh against the imported benchmark catalog:
--   pgbench -n -c 16 -j 2 -T 20 -f bench/naive_search.sql postgres://.../bench
-- pgbench's \set takes numbers only, so the keyword is an index into an array: the
-- course-name keywords of bench/search.lua (its teacher-name keyword "Alex" is left out,
-- as this query does not join teachers), and the page is 1-3 of 10.
\set k random(1, 19)
\set p random(0, 2)
SELECT count(*) FROM courses WHERE is_delete = false AND is_show = true AND name ILIKE '%' || (ARRAY['Python', 'python', 'Go', 'Linux', 'Django', 'Vue', 'Docker', 'MySQL', 'Redis', '数据分析', '运维', '爬虫', '微服务', '入门', '实战', '进阶', '精通', '全栈', '自动化'])[:k] || '%';
SELECT * FROM courses WHERE is_delete = false AND is_show = true AND name ILIKE '%' || (ARRAY['Python', 'python', 'Go', 'Linux', 'Django', 'Vue', 'Docker', 'MySQL', 'Redis', '数据分析', '运维', '爬虫', '微服务', '入门', '实战', '进阶', '精通', '全栈', '自动化'])[:k] || '%' ORDER BY orders, id LIMIT 10 OFFSET :p * 10;
