#!/usr/bin/env bash
# Runs scripts/e2e/browser_check.mjs: a real browser (Debian's Chromium, headless) against
# the server in its development defaults, on a fresh data directory holding the
# benchmark-sized catalog (bench/gen_catalog.py, imported with `course-shop import-catalog`),
# with course views from a few visitors under two `ref`s and some orders, so that the sales
# page's charts and funnel have data to draw.
#   scripts/e2e/browser_check.sh [screenshot dir]     (installs chromium, a CJK font and playwright-core if missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
shots=${1:-$(mktemp -d)}
mkdir -p "$shots"
command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
# A CJK font, so that the screenshots show the Chinese text a person reads (without one,
# Chromium draws empty boxes).
fc-list :lang=zh 2>/dev/null | grep -q . || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null; }
pw=${PLAYWRIGHT_DIR:-/var/cache/course-shop/playwright}
[ -d "$pw/node_modules/playwright-core" ] || npm install --prefix "$pw" --silent playwright-core@1 >/dev/null
bin=${COURSE_SHOP_BIN:-}
if [ -z "$bin" ]; then
  CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/course-shop/target} cargo build --quiet --bin course-shop
  bin=${CARGO_TARGET_DIR:-/var/cache/course-shop/target}/debug/course-shop
fi
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cfg="$PWD/config"
( cd "$work" && echo 'correct horse battery' | "$bin" --config-dir "$cfg" user add browser --email browser@example.com >/dev/null )
# The seller, as a new user makes one: course-shop user add boss --admin.
( cd "$work" && echo 'seller horse battery' | "$bin" --config-dir "$cfg" user add boss --admin >/dev/null )
python3 bench/gen_catalog.py "$work/catalog.json" >/dev/null
( cd "$work" && "$bin" --config-dir "$cfg" import-catalog "$work/catalog.json" >/dev/null )
( cd "$work" && PORT=$port exec "$bin" --config-dir "$cfg" > server.log 2>&1 ) &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 60); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.5; done
base="http://127.0.0.1:$port"
# Course views: 40 visitors (user agents) over 8 courses (3 to 10), each course seen under
# ref spring-a and under spring-b; then orders of the buyer for a few of those courses, with
# one of those refs, so that the funnel per ref has views and orders on the same lines.
for i in $(seq 1 40); do
  tag=$([ $((i / 8 % 2)) -eq 0 ] && echo spring-a || echo spring-b)
  curl -fs -o /dev/null -A "Mozilla/5.0 (browser check visitor $i)" "$base/api/v1/course/list/$((3 + i % 8))/?ref=$tag"
done
token=$(curl -fs -H 'Content-Type: application/json' -d '{"username":"browser","password":"correct horse battery"}' \
  "$base/api/v1/user/user/mul_login/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
for id in 4 5 7 9 10; do
  tag=$([ $((id % 2)) -eq 0 ] && echo spring-a || echo spring-b)
  price=$(curl -fs "$base/api/v1/course/list/$id/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["price"])')
  curl -fs -o /dev/null -H 'Content-Type: application/json' -H "Authorization: jwt $token" \
    -d "{\"courses\":[$id],\"total_amount\":\"$price\",\"subject\":\"课程 $id\",\"pay_type\":1,\"ref\":\"$tag\"}" \
    "$base/api/v1/order/alipay/" || echo "order of course $id refused (free course?)"
done
# A material of the demo course 3 (the server seeds the demo catalog), for the guest's
# download from the purchase page.
printf 'the notes of course 3\n' > "$work/notes.txt"
( cd "$work" && "$bin" --config-dir "$cfg" media put 3 notes.txt --material notes --version 1 >/dev/null )
cp scripts/e2e/browser_check.mjs "$pw/"
node "$pw/browser_check.mjs" "http://127.0.0.1:$port" browser 'correct horse battery' "$shots" boss 'seller horse battery'
echo "screenshots in $shots"
