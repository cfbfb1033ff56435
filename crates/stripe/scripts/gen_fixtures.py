#!/usr/bin/env python3
"""Known-answer fixtures for shop-stripe, made with the official PyPI package `stripe`.

Writes tests/fixtures/stripe_sdk_fixtures.json (deterministic: fixed secret, payloads and
timestamps; HMAC is deterministic) with webhook cases. Each case has the raw payload, the
`Stripe-Signature` header, the time `now` of verification, the verdict of the SDK's own
`stripe.Webhook.construct_event` (with the clock set to `now`) and the verdict shop-stripe must
reach (`expected`). They differ in one case on purpose: the SDK accepts a timestamp from the
future, shop-stripe refuses one more than 300 s ahead.

Usage (any virtual environment, outside the repository):
    python3 -m venv VENV && VENV/bin/pip install stripe
    VENV/bin/python crates/stripe/scripts/gen_fixtures.py
"""

import json
import pathlib
import sys
from unittest import mock

import stripe
from stripe import _webhook

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parent / "tests" / "fixtures" / "stripe_sdk_fixtures.json"

SECRET = "whsec_TEST_ONLY_never_use_this_signing_secret_0123"
OTHER_SECRET = "whsec_TEST_ONLY_another_endpoint_secret_000000000"
T = 1795679470


def session(status, payment_status, payment_intent, amount=9990, out_trade_no="CS20261126abcdef0123456789"):
    return {
        "id": "cs_test_a1b2c3d4e5f6g7h8i9j0", "object": "checkout.session", "amount_subtotal": amount,
        "amount_total": amount, "client_reference_id": out_trade_no, "created": T - 120, "currency": "cny",
        "customer_details": {"email": "buyer@example.com", "name": "张三"}, "expires_at": T + 3600,
        "livemode": False, "metadata": {"out_trade_no": out_trade_no}, "mode": "payment",
        "payment_intent": payment_intent, "payment_status": payment_status, "status": status,
        "success_url": "https://shop.example.com/paid?session={CHECKOUT_SESSION_ID}", "url": None,
    }


def event(evt_id, event_type, obj):
    return json.dumps({
        "id": evt_id, "object": "event", "api_version": "2025-03-31.basil", "created": T,
        "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": event_type,
    }, ensure_ascii=False, indent=2)


def sdk_accepts(payload, header, secret, now):
    with mock.patch.object(_webhook.time, "time", return_value=now):
        try:
            stripe.Webhook.construct_event(payload, header, secret)
            return True
        except stripe.SignatureVerificationError:
            return False


def main():
    payloads = {
        "completed_paid": event("evt_1TEST0000000000000000001", "checkout.session.completed",
                                session("complete", "paid", "pi_3TEST00000000000000000001")),
        "completed_unpaid": event("evt_1TEST0000000000000000002", "checkout.session.completed",
                                  session("complete", "unpaid", "pi_3TEST00000000000000000002")),
        "async_payment_succeeded": event("evt_1TEST0000000000000000003", "checkout.session.async_payment_succeeded",
                                         session("complete", "paid", "pi_3TEST00000000000000000002")),
        "expired": event("evt_1TEST0000000000000000004", "checkout.session.expired",
                         session("expired", "unpaid", None)),
        "charge_refunded": event("evt_1TEST0000000000000000005", "charge.refunded", {
            "id": "ch_3TEST00000000000000000001", "object": "charge", "amount": 9990, "amount_captured": 9990,
            "amount_refunded": 4000, "currency": "cny", "captured": True, "paid": True, "refunded": False,
            "payment_intent": "pi_3TEST00000000000000000001",
            "metadata": {"out_trade_no": "CS20261126abcdef0123456789"}, "status": "succeeded"}),
        "unknown_type": event("evt_1TEST0000000000000000006", "customer.created",
                              {"id": "cus_TEST", "object": "customer"}),
    }
    sign = _webhook.WebhookSignature.generate_signature_header
    cases = []

    def add(name, payload_name, header, now, expected, payload=None, note=None):
        payload = payload if payload is not None else payloads[payload_name]
        case = {"name": name, "payload_name": payload_name, "payload": payload, "header": header, "now": now,
                "sdk_accepts": sdk_accepts(payload, header, SECRET, now), "expected": expected}
        if note:
            case["note"] = note
        cases.append(case)

    for name in payloads:
        add(name, name, sign(payloads[name], SECRET, T), T + 5, True)
    p = payloads["completed_paid"]
    good = sign(p, SECRET, T)
    v1 = good.split("v1=")[1]
    wrong = _webhook.WebhookSignature._compute_signature("%d.%s" % (T, p), OTHER_SECRET)
    add("several_v1_one_matches", "completed_paid", "t=%d,v1=%s,v1=%s" % (T, wrong, v1), T, True)
    add("v0_is_ignored", "completed_paid", "t=%d,v1=%s,v0=%s" % (T, v1, "0" * 64), T, True)
    add("only_v0", "completed_paid", "t=%d,v0=%s" % (T, v1), T, False)
    add("wrong_secret", "completed_paid", sign(p, OTHER_SECRET, T), T, False)
    add("tampered_payload", "completed_paid", good, T, False, payload=p.replace("9990", "1", 1))
    add("timestamp_changed", "completed_paid", "t=%d,v1=%s" % (T + 1, v1), T, False)
    add("at_tolerance_past", "completed_paid", good, T + 300, True)
    add("beyond_tolerance_past", "completed_paid", good, T + 301, False)
    add("at_tolerance_future", "completed_paid", good, T - 300, True)
    add("beyond_tolerance_future", "completed_paid", good, T - 301, False,
        note="the SDK only refuses old timestamps; shop-stripe refuses both directions")
    add("uppercase_hex", "completed_paid", "t=%d,v1=%s" % (T, v1.upper()), T, False)
    add("no_timestamp", "completed_paid", "v1=%s" % v1, T, False)

    for c in cases:
        if c["name"] != "beyond_tolerance_future":
            assert c["sdk_accepts"] == c["expected"], c["name"]
        else:
            assert c["sdk_accepts"] and not c["expected"]

    out = {"generator": "stripe %s (PyPI); scripts/gen_fixtures.py" % stripe.VERSION,
           "secret": SECRET, "other_secret": OTHER_SECRET, "cases": cases}
    OUT.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    print("wrote", OUT.relative_to(HERE.parent.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
