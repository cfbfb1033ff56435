#!/usr/bin/env python3
"""Stripe Checkout against the official `stripe` package (PyPI): run by stripe_sdk_e2e.sh.

A small stand-in for Stripe's API (this file, standard library) answers the Checkout Session
the shop creates; the webhook events are signed by the SDK's own code
(`stripe.WebhookSignature.generate_signature_header`, the endpoint secret `whsec_...` as
given) and checked with `stripe.Webhook.construct_event` before they are posted. The shop runs
in gateway mode with that secret: the genuine event is accepted and pays the order; a
tampered one and one signed with another secret are refused with 400 and change nothing.
"""

import argparse
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import stripe

from provider_e2e_common import Failed, Server, finish, http, info, require, run_step

SECRET_KEY = "sk_test_e2e_" + secrets.token_hex(12)
WEBHOOK_SECRET = "whsec_" + secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")


class FakeStripe(BaseHTTPRequestHandler):
    """Checkout Sessions in memory: create (form-encoded, Bearer key, Idempotency-Key) and
    retrieve, as Stripe answers them."""

    sessions = {}
    creates = []

    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorised(self):
        if self.headers.get("Authorization") != "Bearer " + SECRET_KEY:
            self.answer(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided."}})
            return False
        return True

    def do_POST(self):
        if not self.authorised():
            return
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        if self.path != "/v1/checkout/sessions":
            return self.answer(404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}})
        FakeStripe.creates.append({"form": form, "idempotency_key": self.headers.get("Idempotency-Key")})
        sid = "cs_test_" + secrets.token_hex(20)
        session = {
            "id": sid, "object": "checkout.session", "mode": form.get("mode"),
            "amount_total": sum(int(form["line_items[{}][price_data][unit_amount]".format(i)])
                                * int(form["line_items[{}][quantity]".format(i)])
                                for i in range(len([k for k in form if k.endswith("][quantity]")]))),
            "currency": form["line_items[0][price_data][currency]"],
            "client_reference_id": form.get("client_reference_id"),
            "metadata": {"out_trade_no": form.get("metadata[out_trade_no]")},
            "payment_intent": None, "payment_status": "unpaid", "status": "open",
            "expires_at": int(form["expires_at"]), "created": int(time.time()), "livemode": False,
            "success_url": form.get("success_url"), "cancel_url": form.get("cancel_url"),
            "url": "https://checkout.stripe.com/c/pay/" + sid + "#fidkdWxOYHwnPyd1blpxYHZxWjA0",
        }
        FakeStripe.sessions[sid] = session
        self.answer(200, session)

    def do_GET(self):
        if not self.authorised():
            return
        sid = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/v1/checkout/sessions/") and sid in FakeStripe.sessions:
            return self.answer(200, FakeStripe.sessions[sid])
        self.answer(404, {"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such checkout.session"}})


def event(event_type, obj):
    return json.dumps({
        "id": "evt_" + secrets.token_hex(12), "object": "event", "api_version": "2025-03-31.basil",
        "created": int(time.time()), "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": event_type,
    })


def sdk_accepts(payload, header, secret):
    try:
        stripe.Webhook.construct_event(payload, header, secret)
        return True
    except stripe.SignatureVerificationError:
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    print("stripe (PyPI) {}".format(stripe.VERSION), flush=True)

    fake = ThreadingHTTPServer(("127.0.0.1", 0), FakeStripe)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    server = Server(args.bin, args.workdir, {
        "COURSE_SHOP__STRIPE__MODE": "gateway",
        "COURSE_SHOP__STRIPE__SECRET_KEY": SECRET_KEY,
        "COURSE_SHOP__STRIPE__WEBHOOK_SECRET": WEBHOOK_SECRET,
        "COURSE_SHOP__STRIPE__API_BASE": "http://127.0.0.1:{}".format(fake.server_address[1]),
        "COURSE_SHOP__STRIPE__CURRENCY": "cny",
    })
    webhook = server.api + "/order/stripe/webhook/"
    state = {}

    def post(payload, header):
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if header:
            headers["Stripe-Signature"] = header
        status, raw = http("POST", webhook, payload.encode("utf-8"), headers)
        return status, raw.decode("utf-8", "replace")

    def step_start():
        return server.start()

    def step_order():
        server.add_user("e2e")
        token, order = server.login_and_buy("e2e", 3)
        require(len(FakeStripe.creates) == 1, "the shop created one Checkout Session at Stripe")
        sent = FakeStripe.creates[0]
        form, no = sent["form"], order["out_trade_no"]
        fen = int(round(float(order["price"]) * 100))
        require(form.get("mode") == "payment", "mode=payment")
        require(form.get("line_items[0][price_data][unit_amount]") == str(fen)
                and form.get("line_items[0][price_data][currency]") == "cny",
                "price_data: {} fen in cny".format(fen))
        require(form.get("client_reference_id") == no and form.get("metadata[out_trade_no]") == no
                and form.get("payment_intent_data[metadata][out_trade_no]") == no,
                "the order number as client_reference_id and in both metadata")
        require(int(form["expires_at"]) - time.time() >= 30 * 60, "expires_at at least 30 minutes ahead")
        require(bool(sent["idempotency_key"]), "an Idempotency-Key header")
        session = next(s for s in FakeStripe.sessions.values() if s["client_reference_id"] == no)
        require(order["pay_url"] == session["url"], "pay_url is the session's url")
        require(server.status_code(no) == 101, "the order is unpaid")
        state.update(token=token, no=no, session=session)
        return "order {} with Checkout Session {}".format(no, session["id"])

    def paid_session():
        s = dict(state["session"])
        s.update(status="complete", payment_status="paid", payment_intent="pi_" + secrets.token_hex(12), url=None)
        return s

    def step_refused():
        payload = event("checkout.session.completed", paid_session())
        header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
        tampered = payload.replace('"amount_total": {}'.format(state["session"]["amount_total"]), '"amount_total": 1')
        require(tampered != payload, "tampered copy differs (amount_total)")
        require(not sdk_accepts(tampered, header, WEBHOOK_SECRET), "the SDK refuses the tampered copy too")
        status, body = post(tampered, header)
        require(status == 400, "tampered event: 400 (got {} {})".format(status, body[:120]))
        other = "whsec_" + secrets.token_hex(16)
        wrong = stripe.WebhookSignature.generate_signature_header(payload, other)
        status, body = post(payload, wrong)
        require(status == 400, "signed with another endpoint secret: 400 (got {})".format(status))
        status, body = post(payload, None)
        require(status == 400, "no Stripe-Signature: 400 (got {})".format(status))
        require(server.status_code(state["no"]) == 101, "nothing changed: still unpaid")
        return "tampered, wrong secret and unsigned events refused with 400; order unpaid"

    def step_accepted():
        payload = event("checkout.session.completed", paid_session())
        header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
        info("Stripe-Signature " + header[:40] + "...")
        require(sdk_accepts(payload, header, WEBHOOK_SECRET), "stripe.Webhook.construct_event accepts it")
        status, body = post(payload, header)
        require(status == 200 and json.loads(body).get("received") is True,
                "genuine event: 200 {{\"received\": true}} (got {} {})".format(status, body[:120]))
        require(server.status_code(state["no"]) == 100, "status endpoint: 100 (paid)")
        require(server.owns(state["token"], 2), "course 2 is owned")
        status, _ = post(payload, header)
        require(status == 200 and server.status_code(state["no"]) == 100, "a resend: 200, still paid once")
        return "SDK-signed checkout.session.completed accepted; order paid, course owned"

    ok = run_step("1", "start course-shop with [stripe] in gateway mode", step_start)
    ok = ok and run_step("2", "order with pay_type 3: a Checkout Session", step_order)
    ok = ok and run_step("3", "tampered and wrongly signed events refused", step_refused)
    ok = ok and run_step("4", "SDK-signed event accepted", step_accepted)
    server.stop()

    def step_log():
        text = server.log_text()
        require(SECRET_KEY not in text and WEBHOOK_SECRET not in text, "no secret in the server log")
        return "server stopped; neither secret appears in its log"

    run_step("5", "secrets stay out of the log", step_log)
    fake.shutdown()
    finish()


if __name__ == "__main__":
    try:
        main()
    except Failed as e:
        print("RESULT - FAIL " + str(e))
        raise SystemExit(1)
