#!/usr/bin/env python3
"""Generate known-answer fixtures for the `shop-alipay` crate with an independent implementation.

The independent implementation is the PyPI package `python-alipay-sdk` (module `alipay`), which signs
with pycryptodomex. Run it from anywhere:

    python3 -m venv /tmp/venv-alipay && /tmp/venv-alipay/bin/pip install python-alipay-sdk
    /tmp/venv-alipay/bin/python crates/alipay/scripts/gen_fixtures.py

It reads the TEST-ONLY keys in `tests/fixtures/test-only-keys/` and writes
`tests/fixtures/python_sdk_fixtures.json`. Everything is deterministic (fixed timestamps, and
RSASSA-PKCS1-v1_5 signatures are deterministic), so re-running it produces the same file.

If `tests/fixtures/rust_page_pay_url.txt` exists (written by the Rust test
`page_pay_url_matches_golden_file` when UPDATE_ALIPAY_FIXTURES=1), the script also checks that URL,
built by the Rust code, with the Python SDK and prints the result.
"""

import json
import sys
from pathlib import Path
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

from alipay import AliPay

CRATE = Path(__file__).resolve().parent.parent
FIXTURES = CRATE / "tests" / "fixtures"
KEYS = FIXTURES / "test-only-keys"
OUT = FIXTURES / "python_sdk_fixtures.json"
RUST_URL = FIXTURES / "rust_page_pay_url.txt"

APP_ID = "2021000123456789"
GATEWAY = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"


def key(name):
    return (KEYS / name).read_text()


# The "app" signs requests; "alipay" signs notifies and responses. The SDK object needs both keys;
# which one is used for what is set up so that `_sign` uses the wanted private key and
# `_verify` / `verify` use the wanted public key.
app = AliPay(
    appid=APP_ID,
    app_private_key_string=key("TEST_ONLY_app_private_key_pkcs1.pem"),
    alipay_public_key_string=key("TEST_ONLY_app_public_key_spki.pem"),  # to check our own requests
    sign_type="RSA2",
)
alipay_signer = AliPay(
    appid=APP_ID,
    app_private_key_string=key("TEST_ONLY_alipay_private_key_pkcs1.pem"),
    alipay_public_key_string=key("TEST_ONLY_alipay_public_key_spki.pem"),
    sign_type="RSA2",
)
merchant = AliPay(  # what a merchant using the SDK would do to verify notifies / responses
    appid=APP_ID,
    app_private_key_string=key("TEST_ONLY_app_private_key_pkcs8.pem"),
    alipay_public_key_string=key("TEST_ONLY_alipay_public_key_spki.pem"),
    sign_type="RSA2",
)


def sdk_sign_content(pairs):
    """The SDK's string to sign: sorted by key, k=v joined by & (its `sign_data` logic)."""
    ordered = app._ordered_data(dict(pairs))
    return "&".join("{}={}".format(k, v) for k, v in ordered)


# ------------------------------------------------------------------------------------------------
# 1. request parameter sets: string to sign + signature made with the app key

def common(method, biz, **extra):
    p = [
        ("app_id", APP_ID),
        ("method", method),
        ("format", "JSON"),
        ("charset", "utf-8"),
        ("sign_type", "RSA2"),
        ("timestamp", "2026-11-21 15:50:46"),
        ("version", "1.0"),
    ]
    p += list(extra.items())
    p.append(("biz_content", json.dumps(biz, separators=(",", ":"), ensure_ascii=False)))
    return p


request_sets = {
    "page_pay_chinese_subject": common(
        "alipay.trade.page.pay",
        {"out_trade_no": "ORD_1001", "total_amount": "99.90", "subject": "Rust 课程：从入门到实战",
         "product_code": "FAST_INSTANT_TRADE_PAY", "time_expire": "2026-11-21 16:20:46"},
        notify_url="http://127.0.0.1:18199/notify", return_url="http://127.0.0.1:18199/return",
    ),
    "plus_space_amp_eq_in_values": common(
        "alipay.trade.page.pay",
        {"out_trade_no": "ORD_1002", "total_amount": "0.01", "subject": "a+b c&d=e / 100% ~*'\"",
         "product_code": "FAST_INSTANT_TRADE_PAY"},
        notify_url="https://shop.example.com/api/alipay/notify?x=1&y=a+b",
    ),
    "trade_query": common("alipay.trade.query", {"out_trade_no": "ORD_1001"}),
    "trade_refund_reason": common(
        "alipay.trade.refund",
        {"out_trade_no": "ORD_1001", "refund_amount": "10.00", "out_request_no": "RF_1",
         "refund_reason": "用户申请退款 + 部分"},
    ),
    "unicode_escaped_biz_content": [
        ("app_id", APP_ID), ("method", "alipay.trade.close"), ("charset", "utf-8"),
        ("sign_type", "RSA2"), ("timestamp", "2026-01-01 00:00:00"), ("version", "1.0"),
        ("biz_content", json.dumps({"out_trade_no": "ORD_9", "operator_id": "管理员"},
                                   separators=(",", ":"))),
    ],
}

request_cases = []
for name, pairs in request_sets.items():
    content = sdk_sign_content(pairs)
    request_cases.append({
        "name": name,
        "params": [[k, v] for k, v in pairs],
        "sign_content": content,
        "sign": app._sign(content),
    })

# ------------------------------------------------------------------------------------------------
# 2. the page-pay query string exactly as the SDK builds it (`build_body` + `sign_data`)

biz = {
    "subject": "Rust 课程 a+b&c=d",
    "out_trade_no": "ORD_2001",
    "total_amount": "88.80",
    "product_code": "FAST_INSTANT_TRADE_PAY",
    "time_expire": "2026-11-21 16:20:46",
}
data = app.build_body(
    "alipay.trade.page.pay", biz,
    return_url="http://127.0.0.1:18199/return", notify_url="http://127.0.0.1:18199/notify",
    timestamp="2026-11-21 15:50:46",
)
unsigned_pairs = [(k, v) for k, v in app._ordered_data(dict(data))]
query_string = app.sign_data(dict(data))
page_pay = {
    "gateway": GATEWAY,
    "unsigned_params": [[k, v] for k, v in unsigned_pairs],
    "sign_content": sdk_sign_content(unsigned_pairs),
    "query_string": query_string,
    "url": GATEWAY + "?" + query_string,
}

# ------------------------------------------------------------------------------------------------
# 3. notifies signed as Alipay signs them (sign and sign_type excluded, sorted, raw values),
#    form-encoded as Alipay posts them

FUND_BILL = '[{"amount":"88.80","fundChannel":"ALIPAYACCOUNT"}]'


def base_notify(**over):
    p = [
        ("gmt_create", "2026-11-21 15:51:02"),
        ("charset", "utf-8"),
        ("gmt_payment", "2026-11-21 15:51:10"),
        ("notify_time", "2026-11-21 15:51:11"),
        ("subject", "Rust 课程：入门 + 实战 a&b=c"),
        ("buyer_id", "2088102177846880"),
        ("invoice_amount", "88.80"),
        ("version", "1.0"),
        ("notify_id", "2026112100222155110034231111111111"),
        ("fund_bill_list", FUND_BILL),
        ("notify_type", "trade_status_sync"),
        ("out_trade_no", "ORD_2001"),
        ("total_amount", "88.80"),
        ("trade_status", "TRADE_SUCCESS"),
        ("trade_no", "2026112122001446880500000001"),
        ("auth_app_id", APP_ID),
        ("receipt_amount", "88.80"),
        ("point_amount", "0.00"),
        ("app_id", APP_ID),
        ("buyer_pay_amount", "88.80"),
        ("seller_id", "2088102177296610"),
        ("passback_params", "uid%3D7%26c%3Dx+y"),
    ]
    d = dict(p)
    for k, v in over.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return list(d.items())


def alipay_notify_sign(pairs):
    content = "&".join("{}={}".format(k, v) for k, v in sorted(pairs))
    return content, alipay_signer._sign(content)


def make_notify(name, pairs, expect, mutate_body=None, sign_with_sign_type=False, valid=True,
                sdk_check=True):
    to_sign = list(pairs)
    if sign_with_sign_type:
        to_sign.append(("sign_type", "RSA2"))
    content, sign = alipay_notify_sign(to_sign)
    sent = list(pairs) + [("sign", sign), ("sign_type", "RSA2")]
    if mutate_body:
        sent = mutate_body(sent)
    body = urlencode(sent)  # quote_plus, like Alipay's form POST
    sdk_ok = None
    if sdk_check:
        decoded = dict(parse_qsl(body, keep_blank_values=True))
        s = decoded.pop("sign")
        sdk_ok = merchant.verify(decoded, s)
        assert sdk_ok == valid, (name, sdk_ok)
    return {"name": name, "body": body, "sign_content": content, "valid": valid,
            "python_sdk_verifies": sdk_ok, "expect": expect}


notify_cases = [
    make_notify("trade_success", base_notify(), {
        "notify_id": "2026112100222155110034231111111111", "notify_type": "trade_status_sync",
        "app_id": APP_ID, "seller_id": "2088102177296610", "out_trade_no": "ORD_2001",
        "trade_no": "2026112122001446880500000001", "trade_status": "TRADE_SUCCESS",
        "total_amount_fen": 8880, "gmt_payment_utc": "2026-11-21T07:51:10Z",
        "passback_params": "uid%3D7%26c%3Dx+y", "subject": "Rust 课程：入门 + 实战 a&b=c"}),
    make_notify("fund_bill_list_html_escaped", base_notify(),
                {"out_trade_no": "ORD_2001", "total_amount_fen": 8880},
                mutate_body=lambda s: [(k, v.replace('"', "&quot;") if k == "fund_bill_list" else v)
                                       for k, v in s],
                sdk_check=False),
    make_notify("partial_refund", base_notify(
        refund_fee="10.00", gmt_refund="2026-11-22 10:00:00.123", out_biz_no="RF_1",
        notify_time="2026-11-22 10:00:01"), {
        "out_trade_no": "ORD_2001", "trade_status": "TRADE_SUCCESS", "refund_fee_fen": 1000,
        "gmt_refund_utc": "2026-11-22T02:00:00.123Z", "out_biz_no": "RF_1", "total_amount_fen": 8880}),
    make_notify("full_refund_closed", base_notify(
        trade_status="TRADE_CLOSED", refund_fee="88.80", gmt_refund="2026-11-22 11:00:00",
        gmt_close="2026-11-22 11:00:00", out_biz_no="RF_2"), {
        "trade_status": "TRADE_CLOSED", "refund_fee_fen": 8880,
        "gmt_close_utc": "2026-11-22T03:00:00Z"}),
    make_notify("trade_finished", base_notify(trade_status="TRADE_FINISHED"),
                {"trade_status": "TRADE_FINISHED"}),
    make_notify("unknown_future_field", base_notify(new_field_2027="某个新字段 x+y"),
                {"out_trade_no": "ORD_2001"}),
    make_notify("signed_with_sign_type_v2", base_notify(), {"out_trade_no": "ORD_2001"},
                sign_with_sign_type=True, sdk_check=False),
    make_notify("tampered_amount", base_notify(), {}, valid=False,
                mutate_body=lambda s: [(k, "0.01" if k == "total_amount" else v) for k, v in s]),
    make_notify("tampered_status", base_notify(trade_status="WAIT_BUYER_PAY"), {}, valid=False,
                mutate_body=lambda s: [(k, "TRADE_SUCCESS" if k == "trade_status" else v)
                                       for k, v in s]),
]

# return_url parameters (GET query string), verified like notifies
ret_pairs = [
    ("charset", "utf-8"), ("out_trade_no", "ORD_2001"), ("method", "alipay.trade.page.pay.return"),
    ("total_amount", "88.80"), ("trade_no", "2026112122001446880500000001"),
    ("auth_app_id", APP_ID), ("version", "1.0"), ("app_id", APP_ID),
    ("seller_id", "2088102177296610"), ("timestamp", "2026-11-21 15:51:15"),
]
ret_content, ret_sign = alipay_notify_sign(ret_pairs)
ret_query = urlencode(ret_pairs[:4] + [("sign", ret_sign)] + ret_pairs[4:] + [("sign_type", "RSA2")])
_d = dict(parse_qsl(ret_query))
_s = _d.pop("sign")
assert merchant.verify(_d, _s)
return_case = {"query": ret_query, "sign_content": ret_content, "valid": True}

# ------------------------------------------------------------------------------------------------
# 4. gateway JSON responses signed by "Alipay" over the raw text of the *_response object


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def make_response(name, method, node_obj, signed=True, escape_slash=False, sign_first=False,
                  bad_sign=False, sdk_check=True, expect=None):
    node = method.replace(".", "_") + "_response"
    raw = compact(node_obj)
    sign = alipay_signer._sign(raw + ("x" if bad_sign else ""))
    sent_raw = raw.replace("/", "\\/") if escape_slash else raw
    if not signed:
        body = "{" + '"{}":{}'.format(node, sent_raw) + "}"
    elif sign_first:
        body = '{{"sign":"{}","{}":{}}}'.format(sign, node, sent_raw)
    else:
        body = '{{"{}":{},"sign":"{}"}}'.format(node, sent_raw, sign)
    if sdk_check and signed and not bad_sign and not escape_slash:
        assert merchant._verify_and_return_sync_response(body, node) == node_obj, name
    return {"name": name, "method": method, "body": body, "signed_content": raw,
            "expect": expect or {}}


QUERY_OK = {
    "code": "10000", "msg": "Success", "buyer_logon_id": "abc***@example.com",
    "buyer_pay_amount": "88.80", "buyer_user_id": "2088102177846880", "invoice_amount": "88.80",
    "out_trade_no": "ORD_2001", "point_amount": "0.00", "receipt_amount": "88.80",
    "send_pay_date": "2026-11-21 15:51:10", "total_amount": "88.80",
    "trade_no": "2026112122001446880500000001", "trade_status": "TRADE_SUCCESS",
    "fund_bill_list": [{"amount": "88.80", "fund_channel": "ALIPAYACCOUNT"}],
}
response_cases = [
    make_response("query_success", "alipay.trade.query", QUERY_OK,
                  expect={"trade_status": "TRADE_SUCCESS", "total_amount_fen": 8880,
                          "send_pay_date_utc": "2026-11-21T07:51:10Z"}),
    make_response("query_success_sign_first", "alipay.trade.query", QUERY_OK, sign_first=True),
    make_response("query_escaped_slash", "alipay.trade.query",
                  dict(QUERY_OK, buyer_logon_id="a/b***@example.com", subject="课程 {a/b} \"q\""),
                  escape_slash=True),
    make_response("query_braces_in_strings", "alipay.trade.query",
                  dict(QUERY_OK, subject="}}{ \" \\\" {"), sdk_check=False),
    make_response("query_trade_not_exist", "alipay.trade.query",
                  {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
                   "sub_msg": "交易不存在", "out_trade_no": "ORD_404", "buyer_pay_amount": "0.00",
                   "invoice_amount": "0.00", "point_amount": "0.00", "receipt_amount": "0.00"},
                  sdk_check=False),
    make_response("query_bad_signature", "alipay.trade.query", QUERY_OK, bad_sign=True),
    make_response("query_unsigned_app_error", "alipay.trade.query",
                  {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-app-id",
                   "sub_msg": "无效的AppID参数"}, signed=False),
    make_response("query_unsigned_success", "alipay.trade.query", QUERY_OK, signed=False),
    make_response("query_system_error", "alipay.trade.query",
                  {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR",
                   "sub_msg": "系统错误"}, sdk_check=False),
    make_response("query_service_unavailable", "alipay.trade.query",
                  {"code": "20000", "msg": "Service Currently Unavailable",
                   "sub_code": "isp.unknow-error", "sub_msg": "系统繁忙"}, sdk_check=False),
    make_response("close_success", "alipay.trade.close",
                  {"code": "10000", "msg": "Success", "out_trade_no": "ORD_2001",
                   "trade_no": "2026112122001446880500000001"}),
    make_response("close_status_error", "alipay.trade.close",
                  {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR",
                   "sub_msg": "交易状态不合法"}, sdk_check=False),
    make_response("close_trade_not_exist", "alipay.trade.close",
                  {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
                   "sub_msg": "交易不存在"}, sdk_check=False),
    make_response("refund_success", "alipay.trade.refund",
                  {"code": "10000", "msg": "Success", "buyer_logon_id": "abc***@example.com",
                   "buyer_user_id": "2088102177846880", "fund_change": "Y",
                   "gmt_refund_pay": "2026-11-22 10:00:00", "out_trade_no": "ORD_2001",
                   "refund_fee": "10.00", "send_back_fee": "10.00",
                   "trade_no": "2026112122001446880500000001"},
                  expect={"fund_change": True, "refund_fee_fen": 1000,
                          "gmt_refund_pay_utc": "2026-11-22T02:00:00Z"}),
    make_response("refund_not_equal_total", "alipay.trade.refund",
                  {"code": "40004", "msg": "Business Failed",
                   "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "sub_msg": "退款金额超限"},
                  sdk_check=False),
]

fixtures = {
    "_comment": "Generated by crates/alipay/scripts/gen_fixtures.py with python-alipay-sdk; "
                "TEST-ONLY keys in test-only-keys/. Do not edit by hand.",
    "app_id": APP_ID,
    "request_cases": request_cases,
    "page_pay": page_pay,
    "notify_cases": notify_cases,
    "return_case": return_case,
    "response_cases": response_cases,
}
OUT.write_text(json.dumps(fixtures, ensure_ascii=False, indent=2) + "\n")
print("wrote", OUT.relative_to(CRATE))

# ------------------------------------------------------------------------------------------------
# 5. check a page-pay URL built by the Rust code with the SDK (request verification keeps sign_type)

if RUST_URL.exists():
    url = RUST_URL.read_text().strip()
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    params = dict(pairs)
    assert len(params) == len(pairs), "duplicate parameter in the Rust URL"
    sign = params.pop("sign")
    content = sdk_sign_content(list(params.items()))
    ok = app._verify(content, sign)  # `app` holds the app *public* key as its verifying key
    same_sign = app._sign(content) == sign
    biz_ok = json.loads(params["biz_content"])
    print("Rust page-pay URL: gateway={} method={} signature valid with python-alipay-sdk: {}; "
          "identical to the SDK's own signature: {}; biz_content={}".format(
              parts.scheme + "://" + parts.netloc + parts.path, params.get("method"), ok, same_sign,
              compact(biz_ok)))
    if not (ok and same_sign):
        sys.exit("Rust page-pay URL check FAILED")
else:
    print("no", RUST_URL.name, "yet: run `UPDATE_ALIPAY_FIXTURES=1 cargo test -p shop-alipay` first "
          "to check a Rust-built URL")
