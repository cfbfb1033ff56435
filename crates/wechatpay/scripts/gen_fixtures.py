#!/usr/bin/env python3
"""Known-answer fixtures for shop-wechatpay, made with the independent PyPI SDK `wechatpayv3`.

Writes tests/fixtures/wechatpayv3_fixtures.json (deterministic: fixed timestamps, nonces and
keys; RSASSA-PKCS1-v1_5 and AES-GCM with a fixed nonce are deterministic), with:

* request_cases:  `Authorization` headers built by `wechatpayv3.utils.build_authorization`,
  and one request captured from the SDK's own `WeChatPay.pay(...)` (Native) with its body;
* answer_cases:   answers signed with the SDK's `rsa_sign` (the WeChat Pay key), each checked
  with the SDK's `rsa_verify` (including the empty body of a 204 and of a GET);
* notify_cases:   notifications whose resource is encrypted with AES-256-GCM (the
  `cryptography` package the SDK uses; the SDK itself only decrypts) and signed with `rsa_sign`;
  each is then accepted by the SDK's full `WeChatPay.callback(headers, body)` (signature check +
  decryption) and the decrypted resource compared with the plaintext.

Usage (any virtual environment, outside the repository):
    python3 -m venv VENV && VENV/bin/pip install wechatpayv3
    VENV/bin/python crates/wechatpay/scripts/gen_fixtures.py
"""

import base64
import json
import pathlib
import sys
import uuid
from unittest import mock

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3 import core as wx_core
from wechatpayv3 import utils as wx_utils

HERE = pathlib.Path(__file__).resolve().parent
FIXTURES = HERE.parent / "tests" / "fixtures"
KEYS = FIXTURES / "test-only-keys"

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092026113000000000000001"
APIV3_KEY = "TEST0ONLY0apiv3key0never0use0it0"  # 32 ASCII characters
NOTIFY_URL = "https://shop.example.com/api/v1/order/wechat/notify/"
TIMESTAMP = 1795679470  # 2026-11-26T04:31:10Z

assert len(APIV3_KEY) == 32


def key(name):
    return (KEYS / name).read_text()


MERCHANT_PRIVATE = key("TEST_ONLY_merchant_private_key_pkcs8.pem")
WECHATPAY_PRIVATE = key("TEST_ONLY_wechatpay_private_key_pkcs8.pem")
WECHATPAY_PUBLIC = key("TEST_ONLY_wechatpay_public_key_spki.pem")


def sdk():
    return WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=MCHID,
        private_key=MERCHANT_PRIVATE,
        cert_serial_no=MERCHANT_SERIAL,
        appid=APPID,
        apiv3_key=APIV3_KEY,
        notify_url=NOTIFY_URL,
        public_key=WECHATPAY_PUBLIC,
        public_key_id=PUBLIC_KEY_ID,
    )


def request_cases():
    merchant_key = wx_utils.load_private_key(MERCHANT_PRIVATE)
    cases = []
    specs = [
        ("native_create", "POST", "/v3/pay/transactions/native", json.dumps(
            {"appid": APPID, "mchid": MCHID, "description": "Rust 实战课程 a+b & c=d",
             "out_trade_no": "CS20261126abcdef0123456789", "time_expire": "2026-11-26T13:01:10+08:00",
             "notify_url": NOTIFY_URL, "amount": {"total": 9990, "currency": "CNY"}},
            ensure_ascii=False, separators=(",", ":"))),
        ("query", "GET", "/v3/pay/transactions/out-trade-no/CS20261126abcdef0123456789?mchid=" + MCHID, ""),
        ("close", "POST", "/v3/pay/transactions/out-trade-no/CS20261126abcdef0123456789/close",
         json.dumps({"mchid": MCHID})),
        ("refund", "POST", "/v3/refund/domestic/refunds", json.dumps(
            {"out_trade_no": "CS20261126abcdef0123456789", "out_refund_no": "RF20261126abcdef0123456789-1",
             "reason": "课程退款", "amount": {"refund": 9990, "total": 9990, "currency": "CNY"}},
            ensure_ascii=False)),
    ]
    for i, (name, method, path, body) in enumerate(specs):
        nonce = "593BEC0C930BF1AFEB40B4A08C8FB24%d" % i
        with mock.patch.object(wx_utils.time, "time", return_value=TIMESTAMP + i):
            auth = wx_utils.build_authorization(path, method, MCHID, MERCHANT_SERIAL, merchant_key,
                                                data=body or None, nonce_str=nonce)
        cases.append({"name": name, "method": method, "path": path, "body": body,
                      "timestamp": TIMESTAMP + i, "nonce": nonce, "authorization": auth})

    # What the SDK itself sends for a Native order (captured instead of sent).
    captured = {}

    def fake_post(url, json=None, data=None, headers=None, **_):
        captured.update(url=url, json=json, headers=dict(headers))
        response = mock.Mock(status_code=200, text='{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}',
                             headers={"Content-Type": "application/json"})
        return response

    with mock.patch.object(wx_core.requests, "post", side_effect=fake_post), \
            mock.patch.object(wx_utils.time, "time", return_value=TIMESTAMP), \
            mock.patch.object(wx_utils.uuid, "uuid4", return_value=uuid.UUID("366a153a-ab16-4164-a175-edf51901ad34")), \
            mock.patch.object(wx_core.Core, "_verify_signature", return_value=True):
        code, _ = sdk().pay(description="课程", out_trade_no="CS20261126sdk0000000000000001",
                            amount={"total": 1, "currency": "CNY"}, time_expire="2026-11-26T13:01:10+08:00")
    assert code == 200
    # The SDK signs json.dumps(data) and requests sends the same text: record that text.
    body = json.dumps(captured["json"])
    cases.append({"name": "sdk_pay_native", "method": "POST", "path": "/v3/pay/transactions/native",
                  "body": body, "timestamp": TIMESTAMP,
                  "nonce": captured["headers"]["Authorization"].split('nonce_str="')[1].split('"')[0],
                  "authorization": captured["headers"]["Authorization"],
                  "wechatpay_serial": captured["headers"].get("Wechatpay-Serial"),
                  "accept": captured["headers"].get("Accept")})
    return cases


def sign_answer(timestamp, nonce, body):
    wechatpay_key = wx_utils.load_private_key(WECHATPAY_PRIVATE)
    return wx_utils.rsa_sign(wechatpay_key, "%s\n%s\n%s\n" % (timestamp, nonce, body))


def answer_cases():
    public = wx_utils.load_public_key(WECHATPAY_PUBLIC)
    bodies = [
        ("native_created", 200, '{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}'),
        ("query_refund_state", 200, json.dumps({
            "appid": APPID, "mchid": MCHID, "out_trade_no": "CS20261126abcdef0123456789",
            "transaction_id": "4200000000202611260000000001", "trade_type": "NATIVE", "trade_state": "REFUND",
            "trade_state_desc": "转入退款", "bank_type": "OTHERS", "attach": "",
            "success_time": "2026-11-26T12:35:10+08:00", "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": 9990, "payer_total": 9990, "currency": "CNY", "payer_currency": "CNY"}},
            ensure_ascii=False)),
        ("order_not_exist", 404, '{"code":"ORDER_NOT_EXIST","message":"订单不存在"}'),
        ("closed_204", 204, ""),
    ]
    cases = []
    for i, (name, status, body) in enumerate(bodies):
        ts, nonce = str(TIMESTAMP + 10 + i), "c5ac7061fccab6bf3e254dcf98995b8%d" % i
        signature = sign_answer(ts, nonce, body)
        assert wx_utils.rsa_verify(ts, nonce, body, signature, public)
        assert not wx_utils.rsa_verify(ts, nonce, body + " ", signature, public)
        cases.append({"name": name, "status": status, "body": body, "headers": {
            "Wechatpay-Serial": PUBLIC_KEY_ID, "Wechatpay-Signature": signature, "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce, "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"}})
    return cases


def notify_cases():
    client = sdk()
    transaction = {
        "mchid": MCHID, "appid": APPID, "out_trade_no": "CS20261126abcdef0123456789",
        "transaction_id": "4200000000202611260000000001", "trade_type": "NATIVE", "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "",
        "success_time": "2026-11-26T12:35:10+08:00", "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": 9990, "payer_total": 9990, "currency": "CNY", "payer_currency": "CNY"}}
    refund = {
        "mchid": MCHID, "out_trade_no": "CS20261126abcdef0123456789",
        "transaction_id": "4200000000202611260000000001", "out_refund_no": "RF20261126abcdef0123456789-1",
        "refund_id": "50000000382019052709732678859", "refund_status": "SUCCESS",
        "success_time": "2026-11-26T12:40:10+08:00", "user_received_account": "支付用户零钱",
        "amount": {"total": 9990, "refund": 9990, "payer_total": 9990, "payer_refund": 9990}}
    specs = [
        ("transaction_success", "TRANSACTION.SUCCESS", "支付成功", "transaction", transaction, "transaction",
         "fdasflkja484"),
        ("refund_success", "REFUND.SUCCESS", "退款成功", "refund", refund, "refund", "fdasfjihihih"),
        ("empty_associated_data", "TRANSACTION.SUCCESS", "支付成功", "transaction", transaction, "",
         "0123456789ab"),
    ]
    cases = []
    for i, (name, event_type, summary, original_type, resource, aad, nonce) in enumerate(specs):
        plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
        ciphertext = base64.b64encode(
            AESGCM(APIV3_KEY.encode()).encrypt(nonce.encode(), plaintext.encode(), aad.encode())).decode()
        envelope = {
            "id": "EV-2018022511223320873%d" % i, "create_time": "2026-11-26T12:35:11+08:00",
            "resource_type": "encrypt-resource", "event_type": event_type, "summary": summary,
            "resource": {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": ciphertext, "associated_data": aad, "nonce": nonce}}
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        ts, header_nonce = str(TIMESTAMP + 20 + i), "5K8264ILTKCH16CQ2502SI8ZNMTM67V%d" % i
        headers = {"Wechatpay-Serial": PUBLIC_KEY_ID, "Wechatpay-Signature": sign_answer(ts, header_nonce, body),
                   "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": header_nonce,
                   "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"}
        # The SDK's own verification and decryption accept it and give back the plaintext.
        result = client.callback(headers, body.encode())
        assert result is not None and result["resource"] == resource, name
        assert wx_utils.aes_decrypt(nonce, ciphertext, aad, APIV3_KEY) == plaintext
        # ... and refuse a tampered copy.
        assert client.callback(headers, body.replace(event_type, event_type + "X")) is None
        cases.append({"name": name, "headers": headers, "body": body, "plaintext": plaintext,
                      "resource_nonce": nonce, "associated_data": aad, "original_type": original_type,
                      "event_type": event_type, "summary": summary, "id": envelope["id"],
                      "create_time": envelope["create_time"]})
    return cases


def main():
    import wechatpayv3
    out = {
        "generator": "wechatpayv3 %s (PyPI); scripts/gen_fixtures.py" % wechatpayv3.__version__,
        "mchid": MCHID, "appid": APPID, "merchant_serial_no": MERCHANT_SERIAL,
        "public_key_id": PUBLIC_KEY_ID, "apiv3_key": APIV3_KEY,
        "request_cases": request_cases(), "answer_cases": answer_cases(), "notify_cases": notify_cases(),
    }
    path = FIXTURES / "wechatpayv3_fixtures.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    print("wrote", path.relative_to(HERE.parent.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
