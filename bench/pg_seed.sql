-- Data for bench/pg_statements.sh on a migrated database: 4,000 courses, 2,000 buyers, and
-- :N unpaid orders (order number 1..N) with their lines and holds, shaped as the create
-- statement writes them (a pay_url of :'payurl'), for the settle statement to pay.
INSERT INTO teachers (name, brief, created_time, updated_time) VALUES ('t', '', now(), now());
INSERT INTO courses (id, name, teacher_id, brief, price_fen, created_time, updated_time)
  SELECT g, 'course ' || g, 1, '', 149900, now(), now() FROM generate_series(1, 4000) g;
INSERT INTO users (id, username, password_hash, created_time, updated_time)
  SELECT g, 'user' || g, 'x', now(), now() FROM generate_series(1, 2000) g;
SELECT setval(pg_get_serial_sequence('courses', 'id'), 4000), setval(pg_get_serial_sequence('users', 'id'), 2000) \g /dev/null
WITH o AS (
  INSERT INTO orders (subject, total_amount_fen, out_trade_no, order_status, pay_type, user_id, expires_at,
    refunded_fen, pay_url, idempotency_key, request_hash, orders, is_show, is_delete, created_time,
    updated_time, purchase_token_hash)
  SELECT 'Python 全栈开发', 149900, g::text, 0, 1, 1 + g % 2000, now() + interval '1 day', 0, :'payurl',
    md5(g::text), md5('r' || g) || md5('s' || g), 0, true, false, now() - (:N - g) * interval '1 second',
    now(), md5('p' || g) || md5('q' || g)
  FROM generate_series(1, :N) g RETURNING id, out_trade_no, user_id, created_time),
d AS (
  INSERT INTO order_details (order_id, course_id, price_fen, real_price_fen, orders, is_show, is_delete,
    created_time, updated_time)
  SELECT id, 1 + (out_trade_no::bigint / 2000) % 1000, 149900, 149900, 0, true, false, created_time, created_time FROM o)
INSERT INTO order_holds (order_id, user_id, course_id, created_time)
SELECT id, user_id, 1 + (out_trade_no::bigint / 2000) % 1000, created_time FROM o;
VACUUM ANALYZE;
