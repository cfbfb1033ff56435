#!/usr/bin/env python3
"""Helpers of bench/payments.sh (standard library, plus `cryptography` for `sign`).

  payments_prep.py login    BASE USER_PREFIX COUNT PASSWORD OUT   tokens of users logged in through
                                                                 POST /api/v1/user/user/mul_login/
  payments_prep.py courses  BASE OUT                             "id price" of every paid course of
                                                                 GET /api/v1/course/list/?size=50
  payments_prep.py precheck BASE TOKENS COURSES                  one order per paid course must
                                                                 answer 200 / code 100
  payments_prep.py sign     ORDERS_TSV KEY_PEM APP_ID SELLER_ID BODIES EXPECTED
                                                                 signs one TRADE_SUCCESS notify per
                                                                 order ("out_trade_no<TAB>fen")
  payments_prep.py post     BASE BODIES [LIST]                   posts notify bodies (those of the
                                                                 orders in LIST, when given), 4 at
                                                                 a time; counts non-`success`

Notifies are built like tests/api/fake_alipay.rs (`PaymentNotify::to_params`) and signed the
way Alipay signs them: RSA2 (PKCS#1 v1.5, SHA-256) over every parameter except `sign` and
`sign_type`, empty values dropped, sorted by key, `k=v` joined with `&` (raw values). The body
is form-encoded (quote_plus), as Alipay posts it.
"""

import base64
import concurrent.futures as cf
import json
import os
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

BEIJING = timezone(timedelta(hours=8))


def http(method, url, body=None, headers=None, timeout=30):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def login(base, prefix, count, password, out):
    names = ["{}{:04d}".format(prefix, i) for i in range(1, int(count) + 1)]

    def one(name):
        body = json.dumps({"username": name, "password": password}).encode()
        status, text = http("POST", base + "/api/v1/user/user/mul_login/", body,
                            {"Content-Type": "application/json"})
        data = json.loads(text) if text.startswith("{") else {}
        if status != 200 or data.get("code") != 100 or not data.get("token"):
            raise SystemExit("login {} -> {} {}".format(name, status, text[:200]))
        return data["token"]

    with cf.ThreadPoolExecutor(4) as pool:
        tokens = list(pool.map(one, names))
    with open(out, "w", encoding="ascii") as f:
        f.write("\n".join(tokens) + "\n")
    print("login: {} users logged in, {} tokens written".format(len(names), len(tokens)))


def courses(base, out):
    status, text = http("GET", base + "/api/v1/course/list/?size=50")
    if status != 200:
        raise SystemExit("course list -> {} {}".format(status, text[:200]))
    data = json.loads(text)
    items = data["results"] if isinstance(data, dict) else data
    paid = [(c["id"], c["price"]) for c in items if float(c["price"]) > 0]
    with open(out, "w", encoding="ascii") as f:
        for cid, price in paid:
            f.write("{} {}\n".format(cid, price))
    print("courses: {} listed (count {}), {} paid: {}".format(
        len(items), data.get("count", "?") if isinstance(data, dict) else "?", len(paid),
        ", ".join("{}={}".format(c, p) for c, p in paid)))


def precheck(base, tokens_file, courses_file):
    token = open(tokens_file, encoding="ascii").readline().strip()
    bad = []
    n = 0
    for line in open(courses_file, encoding="ascii"):
        cid, price = line.split()
        body = json.dumps({"courses": [int(cid)], "total_amount": price, "subject": "bench",
                           "pay_type": 1}).encode()
        status, text = http("POST", base + "/api/v1/order/alipay/", body,
                            {"Content-Type": "application/json", "Authorization": "jwt " + token,
                             "Idempotency-Key": "precheck-" + cid})
        n += 1
        if status != 200 or '"code":100' not in text:
            bad.append("course {} at {} -> {} {}".format(cid, price, status, text[:160]))
    print("precheck: {} orders (one per paid course) created through POST /api/v1/order/alipay/"
          .format(n))
    if bad:
        print("precheck: FAILED: " + "; ".join(bad))
        sys.exit(1)
    print("precheck: every course the create script can send answers 200 and code 100")


def yuan(fen):
    return "{}.{:02d}".format(fen // 100, fen % 100)


def _sign_chunk(args):
    rows, key_pem, app_id, seller_id, now_ts = args
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_private_key(key_pem, password=None)
    now = datetime.fromtimestamp(now_ts, BEIJING)
    at = now.strftime("%Y-%m-%d %H:%M:%S")
    out = []
    for idx, no, fen in rows:
        amount = yuan(fen)
        trade_no = now.strftime("%Y%m%d") + "22001" + "{:015d}".format(idx)
        params = [
            ("gmt_create", at),
            ("charset", "utf-8"),
            ("gmt_payment", at),
            ("notify_time", at),
            ("subject", "bench"),
            ("buyer_id", "2088102177846880"),
            ("invoice_amount", amount),
            ("version", "1.0"),
            ("notify_id", "bench-{}-TRADE_SUCCESS".format(no)),
            ("fund_bill_list", json.dumps([{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}],
                                          separators=(",", ":"))),
            ("notify_type", "trade_status_sync"),
            ("out_trade_no", no),
            ("total_amount", amount),
            ("trade_status", "TRADE_SUCCESS"),
            ("trade_no", trade_no),
            ("auth_app_id", app_id),
            ("receipt_amount", amount),
            ("point_amount", "0.00"),
            ("app_id", app_id),
            ("buyer_pay_amount", amount),
            ("seller_id", seller_id),
        ]
        content = "&".join("{}={}".format(k, v) for k, v in sorted(params) if v != "")
        sig = key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        params.append(("sign", base64.b64encode(sig).decode("ascii")))
        params.append(("sign_type", "RSA2"))
        out.append((no, fen, trade_no, urlencode(params)))
    return out


def sign(orders_tsv, key_file, app_id, seller_id, bodies_out, expected_out):
    rows = []
    for i, line in enumerate(open(orders_tsv, encoding="ascii"), 1):
        no, fen = line.rstrip("\n").split("\t")
        rows.append((i, no, int(fen)))
    key_pem = open(key_file, "rb").read()
    now_ts = datetime.now(timezone.utc).timestamp()
    procs = max(1, os.cpu_count() or 1)
    step = (len(rows) + procs * 4 - 1) // (procs * 4) or 1
    chunks = [(rows[i:i + step], key_pem, app_id, seller_id, now_ts)
              for i in range(0, len(rows), step)]
    with cf.ProcessPoolExecutor(procs) as pool:
        results = [r for chunk in pool.map(_sign_chunk, chunks) for r in chunk]
    with open(bodies_out, "w", encoding="ascii") as b, open(expected_out, "w", encoding="ascii") as e:
        for no, fen, trade_no, body in results:
            b.write(body + "\n")
            e.write("{}\t{}\t{}\n".format(no, fen, trade_no))
    print("sign: {} notifies signed with the \"alipay\" private key {} ({} bytes on average)".format(
        len(results), os.path.basename(key_file), sum(len(r[3]) for r in results) // max(1, len(results))))


def post(base, bodies_file, list_file=None):
    bodies = [l.rstrip("\n") for l in open(bodies_file, encoding="ascii") if l.strip()]
    if list_file:
        wanted = {l.strip() for l in open(list_file, encoding="ascii") if l.strip()}
        bodies = [b for b in bodies if _no(b) in wanted]

    def one(body):
        return http("POST", base + "/api/v1/order/success/", body.encode("ascii"),
                    {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})

    with cf.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(one, bodies))
    bad = [(s, t) for s, t in answers if (s, t) != (200, "success")]
    print("post: {} notifies posted, {} answered other than 200 'success'{}".format(
        len(answers), len(bad), (": " + repr(bad[:5])) if bad else ""))
    return 1 if bad else 0


def _no(body):
    for part in body.split("&"):
        if part.startswith("out_trade_no="):
            return part[len("out_trade_no="):]
    return ""


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "login":
        login(*args)
    elif cmd == "courses":
        courses(*args)
    elif cmd == "precheck":
        precheck(*args)
    elif cmd == "sign":
        sign(*args)
    elif cmd == "post":
        sys.exit(post(*args))
    else:
        raise SystemExit(__doc__)
