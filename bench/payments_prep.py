#!/usr/bin/env python3
"""Helpers of bench/payments.sh (standard library, plus `cryptography` for `sign`).

  payments_prep.py login    BASE USER_PREFIX COUNT PASSWORD OUT   tokens of users logged in through
                                                                 POST /api/v1/user/user/mul_login/
  payments_prep.py courses  BASE OUT                             "id price" of every paid course of
                                                                 GET /api/v1/course/list/?size=50
  payments_prep.py precheck BASE TOKENS COURSES [PAY_TYPE]       one order per paid course must
                                                                 answer 200 / code 100 (pay_type 1)
  payments_prep.py sign     ORDERS_TSV KEY_PEM APP_ID SELLER_ID BODIES EXPECTED
                                                                 signs one TRADE_SUCCESS notify per
                                                                 order ("out_trade_no<TAB>fen")
  payments_prep.py sign-wechatpay ORDERS_TSV KEY_PEM API_V3_KEY APP_ID MCH_ID KEY_ID BODIES EXPECTED
                                                                 one TRANSACTION.SUCCESS notification
                                                                 per order, signed with the WeChat Pay
                                                                 (platform) key, resource encrypted
  payments_prep.py sign-stripe ORDERS_TSV WHSEC CURRENCY BODIES EXPECTED
                                                                 one checkout.session.completed
                                                                 (paid) event per order, signed
  payments_prep.py wechatpay-key PEM_OUT                         a new RSA-2048 key (PKCS#8 PEM): the
                                                                 WeChat Pay key of the bench
  payments_prep.py post     BASE BODIES [LIST]                   posts notify bodies (those of the
                                                                 orders in LIST, when given), 4 at
                                                                 a time; counts other answers than
                                                                 the provider's success

Notifies are built like tests/api/fake_alipay.rs (`PaymentNotify::to_params`) and signed the
way Alipay signs them: RSA2 (PKCS#1 v1.5, SHA-256) over every parameter except `sign` and
`sign_type`, empty values dropped, sorted by key, `k=v` joined with `&` (raw values). The body
is form-encoded (quote_plus), as Alipay posts it.

WeChat Pay notifications are built like scripts/e2e/wechatpay_sdk_e2e.py: the transaction is
encrypted AEAD_AES_256_GCM with the APIv3 key (its 32 ASCII bytes), a 12-character nonce and
associated data "transaction"; the envelope is signed RSA PKCS#1 v1.5 SHA-256 over
"timestamp\nnonce\nbody\n" with the WeChat Pay key, its id as Wechatpay-Serial. Stripe events
carry `Stripe-Signature: t=<now>,v1=<HMAC-SHA256 of "t.payload" with the whsec_ string as
bytes>`. Both are signed with the current time, so they must be posted within WeChat's 300 s
window (Stripe's 300 s tolerance): bench/payments.sh signs them right before each notify run.
A line of their BODIES file is `out_trade_no<TAB>Header: value<TAB>...<TAB>body` (the number
for `post`'s LIST; bench/payments_notify.lua drops it). The notification ids, trade
numbers and payment intents depend on the order only, so signing again gives the same
notifications (later runs are duplicates).
"""

import base64
import concurrent.futures as cf
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
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


def precheck(base, tokens_file, courses_file, pay_type="1"):
    token = open(tokens_file, encoding="ascii").readline().strip()
    bad = []
    n = 0
    for line in open(courses_file, encoding="ascii"):
        cid, price = line.split()
        body = json.dumps({"courses": [int(cid)], "total_amount": price, "subject": "bench",
                           "pay_type": int(pay_type)}).encode()
        status, text = http("POST", base + "/api/v1/order/alipay/", body,
                            {"Content-Type": "application/json", "Authorization": "jwt " + token,
                             "Idempotency-Key": "precheck-" + cid})
        n += 1
        if status != 200 or '"code":100' not in text:
            bad.append("course {} at {} -> {} {}".format(cid, price, status, text[:160]))
    print("precheck: {} orders (one per paid course) created through POST /api/v1/order/alipay/ "
          "with pay_type {}".format(n, pay_type))
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


def wechatpay_key(pem_out):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(pem_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    print("wechatpay-key: a new RSA-2048 key for the bench's WeChat Pay written")


def _sign_wechatpay_chunk(args):
    rows, key_pem, api_v3_key, app_id, mch_id, key_id, now_ts = args
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = serialization.load_pem_private_key(key_pem, password=None)
    aead = AESGCM(api_v3_key.encode("ascii"))
    now = datetime.fromtimestamp(now_ts, BEIJING).replace(microsecond=0)
    at = now.isoformat()
    ts = str(int(now_ts))
    out = []
    for idx, no, fen in rows:
        transaction_id = "4200000000" + "{:018d}".format(idx)  # 28 digits, as WeChat Pay's
        resource = json.dumps({
            "appid": app_id, "mchid": mch_id, "out_trade_no": no, "transaction_id": transaction_id,
            "trade_type": "NATIVE", "trade_state": "SUCCESS", "trade_state_desc": "支付成功",
            "bank_type": "OTHERS", "attach": "", "success_time": at,
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": fen, "payer_total": fen, "currency": "CNY", "payer_currency": "CNY"},
        }, ensure_ascii=False, separators=(",", ":"))
        nonce = secrets.token_hex(6)
        ciphertext = base64.b64encode(
            aead.encrypt(nonce.encode("ascii"), resource.encode("utf-8"), b"transaction")).decode("ascii")
        body = json.dumps({
            "id": "EV-BENCH-{:012d}".format(idx), "create_time": at,
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": ciphertext, "associated_data": "transaction", "nonce": nonce},
        }, ensure_ascii=False, separators=(",", ":"))
        header_nonce = secrets.token_hex(16)
        message = "{}\n{}\n{}\n".format(ts, header_nonce, body).encode("utf-8")
        signature = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")
        headers = [("Content-Type", "application/json"), ("Wechatpay-Serial", key_id),
                   ("Wechatpay-Signature", signature), ("Wechatpay-Timestamp", ts),
                   ("Wechatpay-Nonce", header_nonce), ("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")]
        out.append((no, fen, transaction_id, _signed_line(no, headers, body)))
    return out


def _signed_line(no, headers, body):
    for text in [no, body] + [v for _, v in headers]:
        if "\t" in text or "\n" in text:
            raise SystemExit("a tab or newline in a signed notification of {}".format(no))
    return "\t".join([no] + ["{}: {}".format(k, v) for k, v in headers] + [body])


def _sign_stripe_chunk(args):
    rows, secret, currency, now_ts = args
    ts = int(now_ts)
    out = []
    for idx, no, fen in rows:
        intent = "pi_bench{:016d}".format(idx)
        session = {
            "id": "cs_test_bench{:016d}".format(idx), "object": "checkout.session", "mode": "payment",
            "amount_total": fen, "currency": currency, "client_reference_id": no,
            "metadata": {"out_trade_no": no}, "payment_intent": intent, "payment_status": "paid",
            "status": "complete", "url": None, "expires_at": ts + 3600, "created": ts - 60,
            "livemode": False,
        }
        payload = json.dumps({
            "id": "evt_bench{:016d}".format(idx), "object": "event", "api_version": "2025-03-31.basil",
            "created": ts, "data": {"object": session}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": "checkout.session.completed",
        }, separators=(",", ":"))
        mac = hmac.new(secret.encode("utf-8"), "{}.{}".format(ts, payload).encode("utf-8"), hashlib.sha256)
        headers = [("Content-Type", "application/json"),
                   ("Stripe-Signature", "t={},v1={}".format(ts, mac.hexdigest()))]
        out.append((no, fen, intent, _signed_line(no, headers, payload)))
    return out


def _sign_all(orders_tsv, chunk_fn, extra, bodies_out, expected_out):
    rows = []
    for i, line in enumerate(open(orders_tsv, encoding="ascii"), 1):
        no, fen = line.rstrip("\n").split("\t")
        rows.append((i, no, int(fen)))
    now_ts = time.time()
    procs = max(1, os.cpu_count() or 1)
    step = (len(rows) + procs * 4 - 1) // (procs * 4) or 1
    chunks = [(rows[i:i + step],) + tuple(extra) + (now_ts,) for i in range(0, len(rows), step)]
    t0 = time.time()
    with cf.ProcessPoolExecutor(procs) as pool:
        results = [r for chunk in pool.map(chunk_fn, chunks) for r in chunk]
    with open(bodies_out, "w", encoding="utf-8") as b, open(expected_out, "w", encoding="ascii") as e:
        for no, fen, trade_no, line in results:
            b.write(line + "\n")
            e.write("{}\t{}\t{}\n".format(no, fen, trade_no))
    return results, time.time() - t0, now_ts


def sign_wechatpay(orders_tsv, key_file, api_v3_key, app_id, mch_id, key_id, bodies_out, expected_out):
    key_pem = open(key_file, "rb").read()
    results, took, now_ts = _sign_all(orders_tsv, _sign_wechatpay_chunk,
                                      (key_pem, api_v3_key, app_id, mch_id, key_id), bodies_out, expected_out)
    print("sign-wechatpay: {} TRANSACTION.SUCCESS notifications encrypted and signed in {:.1f} s "
          "(Wechatpay-Timestamp {}; {} bytes a line on average)".format(
              len(results), took, int(now_ts), sum(len(r[3]) for r in results) // max(1, len(results))))


def sign_stripe(orders_tsv, secret, currency, bodies_out, expected_out):
    results, took, now_ts = _sign_all(orders_tsv, _sign_stripe_chunk, (secret, currency), bodies_out,
                                      expected_out)
    print("sign-stripe: {} checkout.session.completed events signed in {:.1f} s (t={}; {} bytes a line "
          "on average)".format(len(results), took, int(now_ts),
                               sum(len(r[3]) for r in results) // max(1, len(results))))


def post(base, bodies_file, list_file=None):
    bodies = [l.rstrip("\n") for l in open(bodies_file, encoding="utf-8") if l.strip()]
    if list_file:
        wanted = {l.strip() for l in open(list_file, encoding="ascii") if l.strip()}
        bodies = [b for b in bodies if _no(b) in wanted]

    def one(line):
        if "\t" not in line:
            return http("POST", base + "/api/v1/order/success/", line.encode("ascii"),
                        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}), (200, "success")
        fields = line.split("\t")
        headers = dict(f.split(": ", 1) for f in fields[1:-1])
        if "Stripe-Signature" in headers:
            path, want = "/api/v1/order/stripe/webhook/", (200, '{"received":true}')
        else:
            path, want = "/api/v1/order/wechat/notify/", (204, "")
        return http("POST", base + path, fields[-1].encode("utf-8"), headers), want

    with cf.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(one, bodies))
    bad = [got for got, want in answers if got != want]
    print("post: {} notifies posted, {} answered other than the provider's success (200 'success', "
          "204, 200 received){}".format(len(answers), len(bad), (": " + repr(bad[:5])) if bad else ""))
    return 1 if bad else 0


def _no(body):
    if "\t" in body:
        return body.split("\t", 1)[0]
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
    elif cmd == "sign-wechatpay":
        sign_wechatpay(*args)
    elif cmd == "sign-stripe":
        sign_stripe(*args)
    elif cmd == "wechatpay-key":
        wechatpay_key(*args)
    elif cmd == "post":
        sys.exit(post(*args))
    else:
        raise SystemExit(__doc__)
