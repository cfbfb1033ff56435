#!/usr/bin/env python3
"""Steps 5-8 of the Alipay end-to-end check, driven by scripts/e2e/python_sdk_e2e.sh.

Talks to a running course-shop server (gateway mode) over HTTP and checks it with the PyPI
package `python-alipay-sdk` (module `alipay`, an implementation independent of ours):

  5. log in, read course 2's price, create an order with POST /api/v1/order/alipay/;
  6. verify the pay URL's RSA2 signature with the SDK (app public key), re-sign the same
     parameters with the SDK (app private key) and require a byte-identical signature, and
     check biz_content and the Beijing-time timestamp;
  7. post a trade_status_sync notify signed the way Alipay signs notifies, with the SDK and the
     "alipay" private key; require `success`, then the order paid with our trade_no;
  8. a notify with total_amount changed after signing, and one signed with the app key
     (wrong key), must both get `fail` (sent before the genuine notify, the order must stay
     unpaid; sent again after it, still `fail`).

Keys are read from --keys-dir, in the one-line bare base64 formats Alipay's key tool hands out
(the same text the server gets); they are wrapped in PEM armour for the SDK, as a merchant
using the SDK would do. Nothing from the Rust code or its tests is used.

Each step prints `RESULT <step> PASS|FAIL <text>`; the exit status is non-zero when any failed.
Needs only the standard library and python-alipay-sdk.
"""

import argparse
import json
import secrets
import sys
import textwrap
import traceback
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from alipay import AliPay

BEIJING = timezone(timedelta(hours=8))
SUBJECT = "Python 全栈开发"
PASSWORD = "correct horse battery"

results = []  # (step, ok, text)


def result(step, ok, text):
    results.append((step, ok, text))
    print("RESULT {} {} {}".format(step, "PASS" if ok else "FAIL", text), flush=True)


def info(text):
    print("  " + text, flush=True)


class StepFailed(Exception):
    pass


def require(cond, what):
    if not cond:
        raise StepFailed(what)
    info("ok: " + what)


# ---------------------------------------------------------------------------------------------
# keys


def pem(b64_line, label):
    body = "\n".join(textwrap.wrap(b64_line.strip(), 64))
    return "-----BEGIN {0}-----\n{1}\n-----END {0}-----\n".format(label, body)


def load_keys(keys_dir, variant):
    d = Path(keys_dir)
    read = lambda name: (d / name).read_text().strip()  # noqa: E731
    label = {"pkcs1": "RSA PRIVATE KEY", "pkcs8": "PRIVATE KEY"}[variant]
    return {
        # the app private key exactly as the server got it (variant's format)
        "app_private": pem(read("app_private_key_{}.b64.txt".format(variant)), label),
        "app_public": pem(read("app_public_key_spki.b64.txt"), "PUBLIC KEY"),
        # "Alipay"'s key pair: its private key signs notifies
        "alipay_private": pem(read("alipay_private_key_pkcs1.b64.txt"), "RSA PRIVATE KEY"),
        "alipay_public": pem(read("alipay_public_key_spki.b64.txt"), "PUBLIC KEY"),
    }


# ---------------------------------------------------------------------------------------------
# HTTP (standard library only)


def http(method, url, body=None, headers=None, timeout=30):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def get_json(url, token=None):
    headers = {"Authorization": "jwt " + token} if token else {}
    status, text = http("GET", url, headers=headers)
    return status, json.loads(text)


def post_json(url, obj, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "jwt " + token
    status, text = http("POST", url, json.dumps(obj, ensure_ascii=False).encode(), headers)
    return status, json.loads(text)


def post_notify(url, pairs):
    body = urlencode(pairs).encode("ascii")  # quote_plus, as Alipay's form POST
    return http("POST", url, body,
                {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--keys-dir", required=True)
    ap.add_argument("--variant", choices=["pkcs1", "pkcs8"], required=True)
    ap.add_argument("--app-id", required=True)
    ap.add_argument("--seller-id", required=True)
    ap.add_argument("--gateway-url", required=True)
    ap.add_argument("--username", default="e2e")
    args = ap.parse_args()
    base = args.base_url.rstrip("/")
    api = base + "/api/v1"

    info("python-alipay-sdk {} (pycryptodomex {})".format(
        version("python-alipay-sdk"), version("pycryptodomex")))
    keys = load_keys(args.keys_dir, args.variant)

    # The SDK signs with its "app private key" and verifies with its "alipay public key".
    # Request side: sign with the app private key, verify with the APP public key.
    app_sdk = AliPay(appid=args.app_id, app_private_key_string=keys["app_private"],
                     alipay_public_key_string=keys["app_public"], sign_type="RSA2")
    # Alipay side: sign notifies with the "alipay" private key.
    alipay_sdk = AliPay(appid=args.app_id, app_private_key_string=keys["alipay_private"],
                        alipay_public_key_string=keys["alipay_public"], sign_type="RSA2")
    # A merchant using the SDK: verifies notifies with the Alipay public key.
    merchant_sdk = AliPay(appid=args.app_id, app_private_key_string=keys["app_private"],
                          alipay_public_key_string=keys["alipay_public"], sign_type="RSA2")

    state = {}

    # ----- 5: login, price, order ------------------------------------------------------------
    def step5():
        status, login = post_json(api + "/user/user/mul_login/",
                                  {"username": args.username, "password": PASSWORD})
        require(status == 200 and login.get("code") == 100 and login.get("token"),
                "login answers 200, code 100 and a token (got {} {})".format(
                    status, {k: v for k, v in login.items() if k != "token"}))
        token = login["token"]
        status, course = get_json(api + "/course/list/2/")
        require(status == 200 and isinstance(course.get("price"), str),
                "course 2: {!r}, price {!r}".format(course.get("name"), course.get("price")))
        price = course["price"]
        body = {"courses": ["2"], "total_amount": price, "subject": SUBJECT, "pay_type": 1}
        status, order = post_json(api + "/order/alipay/", body, token)
        require(status == 200 and order.get("code") == 100 and order.get("pay_url")
                and order.get("out_trade_no"),
                "POST order/alipay/ answers 200, code 100, pay_url and out_trade_no "
                "(got {} code={} msg={!r})".format(status, order.get("code"), order.get("msg")))
        info("out_trade_no {}".format(order["out_trade_no"]))
        info("pay_url {}...".format(order["pay_url"][:110]))
        state.update(token=token, price=price, no=order["out_trade_no"], pay_url=order["pay_url"])
        return "order {} for course 2 at {} yuan".format(order["out_trade_no"], price)

    # ----- 6: the pay URL, checked with the SDK ----------------------------------------------
    def step6():
        parts = urlsplit(state["pay_url"])
        gateway = "{}://{}{}".format(parts.scheme, parts.netloc, parts.path)
        require(gateway == args.gateway_url, "pay URL goes to the configured gateway " + gateway)
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)  # decoded once
        params = dict(pairs)
        require(len(params) == len(pairs), "no repeated parameter")
        sign = params.pop("sign")
        require(all(v != "" for v in params.values()), "no empty parameter is sent")
        # The request string to sign: every parameter but sign, sorted, sign_type included
        # (the SDK's own _ordered_data / sign_data logic).
        content = "&".join("{}={}".format(k, v) for k, v in app_sdk._ordered_data(dict(params)))
        info("string to sign: " + (content if len(content) < 400 else content[:400] + "..."))
        require(app_sdk._verify(content, sign),
                "sign verifies with python-alipay-sdk (AliPay._verify, app public key, RSA2)")
        resigned = app_sdk._sign(content)
        require(resigned == sign,
                "SDK re-sign with the app private key is byte-identical to the server's sign")
        # The same through the SDK's public request signer (sign_data builds the query string).
        via_sign_data = dict(parse_qsl(app_sdk.sign_data(dict(params))))["sign"]
        require(via_sign_data == sign, "AliPay.sign_data gives the same sign")
        require(params.get("method") == "alipay.trade.page.pay", "method alipay.trade.page.pay")
        require(params.get("app_id") == args.app_id, "app_id " + args.app_id)
        require(params.get("sign_type") == "RSA2" and params.get("charset") == "utf-8"
                and params.get("version") == "1.0", "sign_type RSA2, charset utf-8, version 1.0")
        require(params.get("notify_url") == base + "/api/v1/order/success/",
                "notify_url " + str(params.get("notify_url")))
        biz = json.loads(params["biz_content"])
        info("biz_content " + json.dumps(biz, ensure_ascii=False))
        require(biz.get("out_trade_no") == state["no"], "biz_content.out_trade_no is the order's")
        require(biz.get("total_amount") == state["price"],
                "biz_content.total_amount {!r} equals the price".format(biz.get("total_amount")))
        require(biz.get("product_code") == "FAST_INSTANT_TRADE_PAY",
                "biz_content.product_code FAST_INSTANT_TRADE_PAY")
        require(biz.get("subject") == SUBJECT, "biz_content.subject " + SUBJECT)
        now_bj = datetime.now(BEIJING).replace(tzinfo=None)
        ts = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S")
        require(abs((ts - now_bj).total_seconds()) <= 60,
                "timestamp {} is Beijing time (now UTC+8 {:%Y-%m-%d %H:%M:%S})".format(
                    params["timestamp"], now_bj))
        expire = datetime.strptime(biz.get("time_expire", ""), "%Y-%m-%d %H:%M:%S")
        require(ts < expire <= ts + timedelta(hours=24),
                "biz_content.time_expire {} present, after the timestamp".format(
                    biz["time_expire"]))
        return "pay URL sign verifies with the SDK and equals the SDK's own signature"

    # ----- 7 / 8: notifies -----------------------------------------------------------------
    def notify_pairs():
        if "notify" in state:
            return state["notify"]
        now = datetime.now(BEIJING)
        fmt = lambda t: t.strftime("%Y-%m-%d %H:%M:%S")  # noqa: E731
        price = state["price"]
        trade_no = now.strftime("%Y%m%d") + "22001" + "".join(
            str(secrets.randbelow(10)) for _ in range(15))
        pairs = [
            ("gmt_create", fmt(now - timedelta(seconds=20))),
            ("charset", "utf-8"),
            ("gmt_payment", fmt(now - timedelta(seconds=5))),
            ("notify_time", fmt(now)),
            ("subject", SUBJECT),
            ("buyer_id", "2088102177846880"),
            ("invoice_amount", price),
            ("version", "1.0"),
            ("notify_id", now.strftime("%Y%m%d") + "00222" + secrets.token_hex(12)),
            ("fund_bill_list", json.dumps([{"amount": price, "fundChannel": "ALIPAYACCOUNT"}],
                                          separators=(",", ":"))),
            ("notify_type", "trade_status_sync"),
            ("out_trade_no", state["no"]),
            ("total_amount", price),
            ("trade_status", "TRADE_SUCCESS"),
            ("trade_no", trade_no),
            ("auth_app_id", args.app_id),
            ("receipt_amount", price),
            ("point_amount", "0.00"),
            ("app_id", args.app_id),
            ("buyer_pay_amount", price),
            ("seller_id", args.seller_id),
        ]
        state["notify"] = pairs
        state["trade_no"] = trade_no
        return pairs

    def alipay_signed(pairs, signer):
        """Signs as Alipay signs notifies: without sign and sign_type, sorted, raw values."""
        content = "&".join("{}={}".format(k, v) for k, v in signer._ordered_data(dict(pairs)))
        sign = signer._sign(content)
        # sent in Alipay's field order, sign and sign_type where Alipay puts them
        out = []
        for k, v in pairs:
            out.append((k, v))
            if k == "subject":
                out.append(("sign", sign))
            if k == "buyer_pay_amount":
                out.append(("sign_type", "RSA2"))
        return out

    def order_detail():
        status, body = get_json("{}/order/{}/".format(api, state["no"]), state["token"])
        if status != 200:
            raise StepFailed("GET order/{}/ answered {} {}".format(state["no"], status, body))
        return body["result"]

    def negatives(when):
        pairs = notify_pairs()
        signed = alipay_signed(pairs, alipay_sdk)
        tampered = [(k, "0.01" if k == "total_amount" else v) for k, v in signed]
        d = dict(tampered)
        s = d.pop("sign")
        require(not merchant_sdk.verify(d, s),
                "(control) the SDK itself rejects the tampered notify")
        status, text = post_notify(api + "/order/success/", tampered)
        require((status, text) == (200, "fail"),
                "{}: total_amount changed to 0.01 after signing -> {} {!r} (want 200 'fail')"
                .format(when, status, text))
        wrong = alipay_signed(pairs, app_sdk)  # signed with the APP private key
        d = dict(wrong)
        s = d.pop("sign")
        require(not merchant_sdk.verify(d, s),
                "(control) the SDK itself rejects the app-key-signed notify")
        status, text = post_notify(api + "/order/success/", wrong)
        require((status, text) == (200, "fail"),
                "{}: notify signed with the app key (wrong key) -> {} {!r} (want 200 'fail')"
                .format(when, status, text))

    def step8_before():
        negatives("before the genuine notify")
        o = order_detail()
        require(o["order_status"] == 0 and o["trade_no"] is None,
                "order still unpaid after the bad notifies (order_status {}, trade_no {})".format(
                    o["order_status"], o["trade_no"]))
        return "tampered amount -> fail, wrong key -> fail, order still unpaid"

    def step7():
        pairs = notify_pairs()
        signed = alipay_signed(pairs, alipay_sdk)
        d = dict(signed)
        s = d.pop("sign")
        require(merchant_sdk.verify(d, s),
                "(control) the notify verifies with the SDK's own AliPay.verify (alipay public key)")
        status, text = post_notify(api + "/order/success/", signed)
        require((status, text) == (200, "success"),
                "POST order/success/ (SDK-signed TRADE_SUCCESS notify) -> {} {!r} "
                "(want 200 'success')".format(status, text))
        status, poll = get_json("{}/order/success/?out_trade_no={}".format(api, state["no"]))
        require(status == 200 and poll.get("code") == 100,
                "GET order/success/?out_trade_no= -> {} code {} {!r}".format(
                    status, poll.get("code"), poll.get("msg")))
        o = order_detail()
        require(o["order_status"] == 1, "GET order/{}/ order_status {} ({})".format(
            state["no"], o["order_status"], o.get("order_status_name")))
        require(o["trade_no"] == state["trade_no"], "trade_no {} is the one sent".format(
            o["trade_no"]))
        # A duplicate (Alipay resends until it reads success) is answered success again.
        status, text = post_notify(api + "/order/success/", signed)
        require((status, text) == (200, "success"), "the same notify again -> {!r}".format(text))
        return "SDK-signed notify -> 'success'; status code 100; order_status 1, trade_no {}".format(
            state["trade_no"])

    def step8_after():
        negatives("after payment")
        o = order_detail()
        require(o["order_status"] == 1 and o["trade_no"] == state["trade_no"],
                "order unchanged (order_status 1, trade_no kept)")
        return "tampered amount -> fail, wrong key -> fail (also after payment)"

    plan = [
        ("5", "login, price, create order", step5),
        ("6", "pay URL verified with python-alipay-sdk", step6),
        ("8a", "negative notifies before payment", step8_before),
        ("7", "SDK-signed notify accepted", step7),
        ("8b", "negative notifies after payment", step8_after),
    ]
    blocked = False
    for step, title, fn in plan:
        print("--- step {}: {} [{}]".format(step, title, args.variant), flush=True)
        if blocked:
            result(step, False, "skipped: an earlier step failed")
            continue
        try:
            result(step, True, fn())
        except StepFailed as e:
            result(step, False, str(e))
            blocked = blocked or step in ("5",)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            result(step, False, "{}: {}".format(type(e).__name__, e))
            blocked = blocked or step in ("5",)
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
