#!/usr/bin/env python3
"""WeChat Pay API v3 (Native) against `wechatpayv3` (PyPI): run by provider_sdk_e2e.sh.

Keys in the official formats are made here: the merchant API private key as apiclient_key.pem
(PKCS#8 PEM), the WeChat Pay public key as pub_key.pem (SPKI PEM) with its id
`PUB_KEY_ID_...`, a 40-hex merchant certificate serial and a 32-character APIv3 key; the shop
reads them from files, in gateway mode. A small stand-in for WeChat Pay's API (this file)
checks the shop's signed Native order request (SHA256withRSA over
`METHOD\\nPATH\\ntimestamp\\nnonce\\nbody\\n`, verified with the merchant public key) and answers
signed by `wechatpayv3.utils.rsa_sign`. The payment notification is signed by the SDK's code
(`utils.rsa_sign` over `timestamp\\nnonce\\nbody\\n`, checked with `utils.rsa_verify`), its
resource AES-256-GCM encrypted with the APIv3 key (checked with `utils.aes_decrypt`). The
shop accepts it (204, order paid) and refuses a tampered copy and one signed with another key
(400 `{"code":"FAIL"}`), changing nothing.
"""

import argparse
import base64
import json
import os
import secrets
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpayv3 import utils as wxutils

from provider_e2e_common import Failed, Server, finish, http, info, require, run_step

APP_ID = "wx8888888888888888"
MCH_ID = "1900000109"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001" + "".join(secrets.choice("0123456789") for _ in range(19))
SERIAL_NO = secrets.token_hex(20).upper()
API_V3_KEY = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(32))
BEIJING = timezone(timedelta(hours=8))


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


MERCHANT = new_key()
WECHATPAY = new_key()


def pem_private(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def pem_public(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def signed_headers(body, key=None, timestamp=None):
    """The five Wechatpay-* headers of an answer or notification, signed by wechatpayv3."""
    ts = str(timestamp or int(time.time()))
    nonce = secrets.token_hex(16).upper()
    signer = wxutils.load_private_key(pem_private(key or WECHATPAY))
    return {
        "Wechatpay-Serial": PUBLIC_KEY_ID, "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": wxutils.rsa_sign(signer, "{}\n{}\n{}\n".format(ts, nonce, body)),
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


class FakeWechatPay(BaseHTTPRequestHandler):
    """Native create and the order query, checking the merchant's signature, answering signed."""

    orders = {}
    problems = []

    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        raw = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in signed_headers(body).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def merchant_signed(self, body):
        auth = self.headers.get("Authorization", "")
        scheme, _, params = auth.partition(" ")
        fields = dict(p.split("=", 1) for p in params.split(",") if "=" in p)
        fields = {k: v.strip('"') for k, v in fields.items()}
        message = "{}\n{}\n{}\n{}\n{}\n".format(self.command, self.path, fields.get("timestamp"),
                                                fields.get("nonce_str"), body)
        try:
            MERCHANT.public_key().verify(base64.b64decode(fields.get("signature", "")), message.encode(),
                                         padding.PKCS1v15(), hashes.SHA256())
        except Exception:  # noqa: BLE001 - any failure is a bad signature
            FakeWechatPay.problems.append("bad merchant signature")
            return False
        ok = (scheme == "WECHATPAY2-SHA256-RSA2048" and fields.get("mchid") == MCH_ID
              and fields.get("serial_no") == SERIAL_NO
              and self.headers.get("Wechatpay-Serial") == PUBLIC_KEY_ID
              and "json" in self.headers.get("Accept", "") and self.headers.get("User-Agent"))
        if not ok:
            FakeWechatPay.problems.append("headers: " + auth[:60])
        return ok

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8")
        if not self.merchant_signed(body):
            return self.answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        if self.path != "/v3/pay/transactions/native":
            return self.answer(404, {"code": "NOT_FOUND", "message": "no such API"})
        order = json.loads(body)
        FakeWechatPay.orders[order["out_trade_no"]] = order
        self.answer(200, {"code_url": "weixin://wxpay/bizpayurl?pr=" + secrets.token_hex(6)})

    def do_GET(self):
        if not self.merchant_signed(""):
            return self.answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        path = urllib.parse.urlsplit(self.path).path
        no = path.rsplit("/", 1)[-1]
        order = FakeWechatPay.orders.get(no)
        if not path.startswith("/v3/pay/transactions/out-trade-no/") or order is None:
            return self.answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
        self.answer(200, {"appid": APP_ID, "mchid": MCH_ID, "out_trade_no": no, "trade_state": "NOTPAY",
                          "trade_state_desc": "订单未支付", "amount": {"total": order["amount"]["total"], "currency": "CNY"}})


def notification(order, transaction_id):
    """TRANSACTION.SUCCESS for `order`: (body, plaintext resource)."""
    resource = json.dumps({
        "appid": APP_ID, "mchid": MCH_ID, "out_trade_no": order["out_trade_no"], "transaction_id": transaction_id,
        "trade_type": "NATIVE", "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
        "attach": "", "success_time": datetime.now(BEIJING).replace(microsecond=0).isoformat(),
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": order["amount"]["total"], "payer_total": order["amount"]["total"],
                   "currency": "CNY", "payer_currency": "CNY"},
    }, ensure_ascii=False, separators=(",", ":"))
    nonce = secrets.token_hex(6)
    ciphertext = base64.b64encode(
        AESGCM(API_V3_KEY.encode()).encrypt(nonce.encode(), resource.encode("utf-8"), b"transaction")).decode()
    body = json.dumps({
        "id": "EV-2018022511223320873", "create_time": datetime.now(BEIJING).replace(microsecond=0).isoformat(),
        "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
        "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "ciphertext": ciphertext,
                     "associated_data": "transaction", "nonce": nonce},
    }, ensure_ascii=False, separators=(",", ":"))
    return body, resource


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    keys = os.path.join(args.workdir, "keys")
    os.makedirs(keys, exist_ok=True)
    with open(os.path.join(keys, "apiclient_key.pem"), "w") as f:
        f.write(pem_private(MERCHANT))
    with open(os.path.join(keys, "pub_key.pem"), "w") as f:
        f.write(pem_public(WECHATPAY))

    fake = ThreadingHTTPServer(("127.0.0.1", 0), FakeWechatPay)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    server = Server(args.bin, args.workdir, {
        "COURSE_SHOP__WECHATPAY__MODE": "gateway",
        "COURSE_SHOP__WECHATPAY__APP_ID": APP_ID,
        "COURSE_SHOP__WECHATPAY__MCH_ID": MCH_ID,
        "COURSE_SHOP__WECHATPAY__MERCHANT_PRIVATE_KEY_FILE": os.path.join(keys, "apiclient_key.pem"),
        "COURSE_SHOP__WECHATPAY__MERCHANT_SERIAL_NO": SERIAL_NO,
        "COURSE_SHOP__WECHATPAY__PLATFORM_PUBLIC_KEY_FILE": os.path.join(keys, "pub_key.pem"),
        "COURSE_SHOP__WECHATPAY__PLATFORM_PUBLIC_KEY_ID": PUBLIC_KEY_ID,
        "COURSE_SHOP__WECHATPAY__API_V3_KEY": API_V3_KEY,
        "COURSE_SHOP__WECHATPAY__GATEWAY_URL": "http://127.0.0.1:{}".format(fake.server_address[1]),
    })
    notify_url = server.api + "/order/wechat/notify/"
    state = {}

    def post(body, headers):
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers)
        status, raw = http("POST", notify_url, body.encode("utf-8"), all_headers)
        return status, raw.decode("utf-8", "replace")

    def step_start():
        info("keys: apiclient_key.pem (PKCS#8), pub_key.pem (SPKI), {}, serial {}...".format(PUBLIC_KEY_ID, SERIAL_NO[:8]))
        return server.start()

    def step_order():
        server.add_user("e2e")
        token, order = server.login_and_buy("e2e", 2)
        no = order["out_trade_no"]
        require(not FakeWechatPay.problems, "the shop's requests were signed with the merchant key ({})".format(FakeWechatPay.problems))
        sent = FakeWechatPay.orders.get(no)
        require(sent is not None, "a Native order for {} at WeChat Pay".format(no))
        fen = int(round(float(order["price"]) * 100))
        require(sent["appid"] == APP_ID and sent["mchid"] == MCH_ID, "appid and mchid")
        require(sent["amount"] == {"total": fen, "currency": "CNY"}, "amount.total {} fen, CNY".format(fen))
        require(sent["time_expire"].endswith("+08:00"), "time_expire in +08:00 ({})".format(sent["time_expire"]))
        require(sent["notify_url"] == notify_url, "notify_url is the shop's endpoint")
        require(6 <= len(no) <= 32, "out_trade_no of {} characters".format(len(no)))
        require(order.get("code_url", "").startswith("weixin://wxpay/"), "the answer carries the code_url")
        require(server.status_code(no) == 101, "the order is unpaid")
        state.update(token=token, no=no, order=sent)
        return "order {} with a Native order at WeChat Pay".format(no)

    def step_refused():
        body, resource = notification(state["order"], "4200000000" + time.strftime("%Y%m%d") + "0000000001")
        headers = signed_headers(body)
        tampered = body.replace('"summary":"支付成功"', '"summary":"支付成功!"')
        require(tampered != body, "tampered copy differs")
        public = wxutils.load_public_key(pem_public(WECHATPAY))
        require(not wxutils.rsa_verify(headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"], tampered,
                                       headers["Wechatpay-Signature"], public), "the SDK refuses the tampered copy too")
        status, answer = post(tampered, headers)
        require(status == 400 and json.loads(answer).get("code") == "FAIL",
                "tampered notification: 400 FAIL (got {} {})".format(status, answer[:100]))
        impostor = signed_headers(body, key=new_key())
        status, answer = post(body, impostor)
        require(status == 400 and json.loads(answer).get("code") == "FAIL",
                "signed with another key: 400 FAIL (got {})".format(status))
        require(server.status_code(state["no"]) == 101, "nothing changed: still unpaid")
        state.update(body=body, resource=resource)
        return "tampered and wrongly signed notifications refused with 400 FAIL; order unpaid"

    def step_accepted():
        body = state["body"]
        headers = signed_headers(body)
        public = wxutils.load_public_key(pem_public(WECHATPAY))
        require(wxutils.rsa_verify(headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"], body,
                                   headers["Wechatpay-Signature"], public), "wechatpayv3's rsa_verify accepts it")
        r = json.loads(body)["resource"]
        require(wxutils.aes_decrypt(r["nonce"], r["ciphertext"], r["associated_data"], API_V3_KEY) == state["resource"],
                "wechatpayv3's aes_decrypt opens the resource")
        status, answer = post(body, headers)
        require(status == 204, "genuine notification: 204 (got {} {})".format(status, answer[:100]))
        require(server.status_code(state["no"]) == 100, "status endpoint: 100 (paid)")
        require(server.owns(state["token"], 2), "course 2 is owned")
        status, _ = post(body, signed_headers(body))
        require(status == 204, "a resend: 204, still paid once")
        return "wechatpayv3-signed TRANSACTION.SUCCESS accepted; order paid, course owned"

    ok = run_step("1", "start course-shop with [wechatpay] in gateway mode, keys from files", step_start)
    ok = ok and run_step("2", "order with pay_type 2: a signed Native order", step_order)
    ok = ok and run_step("3", "tampered and wrongly signed notifications refused", step_refused)
    ok = ok and run_step("4", "SDK-signed notification accepted", step_accepted)
    server.stop()

    def step_log():
        text = server.log_text()
        require(API_V3_KEY not in text, "the APIv3 key is not in the server log")
        return "server stopped; the APIv3 key does not appear in its log"

    run_step("5", "secrets stay out of the log", step_log)
    fake.shutdown()
    finish()


if __name__ == "__main__":
    try:
        main()
    except Failed as e:
        print("RESULT - FAIL " + str(e))
        raise SystemExit(1)
