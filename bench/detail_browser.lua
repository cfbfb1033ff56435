-- wrk script: bench/detail.lua's course pages as a browser asks for them, with a browser's
-- User-Agent, so that each request goes through the checkout funnel's view counting
-- (bench/detail.lua sends none: a bot, not counted). One visitor (one address, one user
-- agent): its first view of each course is written, the rest are claimed already. Used by
-- bench/run.sh (ENDPOINTS=detail_browser).
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
dofile("bench/detail.lua")
