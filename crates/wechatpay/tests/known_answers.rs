//! Known answers from the independent PyPI SDK `wechatpayv3` (see scripts/gen_fixtures.py):
//! request signatures byte for byte, answers and notifications it signed (and decrypted).

mod common;

use common::{api_v3_key, case, fixtures, headers, merchant_private, s, ts, wechatpay_public};
use shop_wechatpay::sign::authorization;
use shop_wechatpay::verify::verify_signed;
use shop_wechatpay::{
    NotifyError, NotifyEvent, RefundStatus, TradeState, Transaction, VerifyError, verify_notification,
};

#[test]
fn request_authorization_is_byte_identical_to_the_sdk() {
    let f = fixtures();
    let cases = f["request_cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 5);
    for c in cases {
        let ours = authorization(
            s(&f["mchid"]),
            s(&f["merchant_serial_no"]),
            &merchant_private(),
            s(&c["method"]),
            s(&c["path"]),
            s(&c["body"]).as_bytes(),
            c["timestamp"].as_i64().expect("ts"),
            s(&c["nonce"]),
        )
        .expect("sign");
        assert_eq!(ours, s(&c["authorization"]), "{}", c["name"]);
    }
}

#[test]
fn the_sdk_sends_accept_and_the_public_key_id_like_we_do() {
    let c = case("request_cases", "sdk_pay_native");
    assert_eq!(s(&c["accept"]), "application/json");
    assert_eq!(s(&c["wechatpay_serial"]), s(&fixtures()["public_key_id"]));
}

#[test]
fn answers_signed_like_wechat_verify_including_empty_bodies() {
    let key = wechatpay_public();
    for c in fixtures()["answer_cases"].as_array().expect("cases") {
        let body = s(&c["body"]).as_bytes();
        let h = headers(c);
        verify_signed(&h, body, &key, ts(c)).unwrap_or_else(|e| panic!("{}: {e}", c["name"]));
        // Within 300 s either way, not beyond.
        verify_signed(&h, body, &key, ts(c) + 300).expect("+300");
        verify_signed(&h, body, &key, ts(c) - 300).expect("-300");
        assert_eq!(verify_signed(&h, body, &key, ts(c) + 301), Err(VerifyError::StaleTimestamp));
        assert_eq!(verify_signed(&h, body, &key, ts(c) - 301), Err(VerifyError::StaleTimestamp));
        let mut tampered = body.to_vec();
        tampered.push(b' ');
        assert_eq!(verify_signed(&h, &tampered, &key, ts(c)), Err(VerifyError::BadSignature));
    }
    // The 204 of a close: the body line is empty.
    assert_eq!(s(&case("answer_cases", "closed_204")["body"]), "");
}

#[test]
fn query_answer_with_trade_state_refund_means_money_received() {
    let c = case("answer_cases", "query_refund_state");
    let t: Transaction = serde_json::from_str(s(&c["body"])).expect("parse");
    assert_eq!(t.trade_state, TradeState::Refund);
    assert!(t.trade_state.money_received());
    assert_eq!(t.total_fen(), Some(9990));
}

#[test]
fn serial_probe_and_signature_type_are_checked() {
    let key = wechatpay_public();
    let c = case("answer_cases", "native_created");
    let body = s(&c["body"]).as_bytes();
    let mut h = headers(c);
    h.serial = "PUB_KEY_ID_0000000000000000000000000000000000".into();
    assert_eq!(verify_signed(&h, body, &key, ts(c)), Err(VerifyError::UnknownSerial));
    let mut h = headers(c);
    h.signature = format!("WECHATPAY/SIGNTEST/{}", h.signature);
    assert_eq!(verify_signed(&h, body, &key, ts(c)), Err(VerifyError::SignatureProbe));
    let mut h = headers(c);
    h.signature_type = Some("WECHATPAY2-SM2-WITH-SM3".into());
    assert_eq!(verify_signed(&h, body, &key, ts(c)), Err(VerifyError::UnsupportedSignatureType));
    let mut h = headers(c);
    h.timestamp = format!("{}.0", h.timestamp);
    assert_eq!(verify_signed(&h, body, &key, ts(c)), Err(VerifyError::MalformedTimestamp));
    let missing = shop_wechatpay::SignatureHeaders::from_lookup(|name| {
        (name != "Wechatpay-Nonce").then(|| "x".to_owned())
    });
    assert_eq!(missing, Err(VerifyError::MissingHeader("Wechatpay-Nonce")));
}

#[test]
fn sdk_notifications_verify_decrypt_and_parse() {
    let (key, v3) = (wechatpay_public(), api_v3_key());
    let c = case("notify_cases", "transaction_success");
    let n = verify_notification(&headers(c), s(&c["body"]).as_bytes(), &key, &v3, ts(c)).expect("verify");
    assert_eq!(n.plaintext, s(&c["plaintext"]));
    assert_eq!(n.envelope.event_type, "TRANSACTION.SUCCESS");
    let NotifyEvent::Transaction(t) = n.event else { panic!("{:?}", n.event) };
    assert_eq!(
        (t.trade_state.clone(), t.total_fen(), t.out_trade_no.as_str()),
        (TradeState::Success, Some(9990), "CS20261126abcdef0123456789")
    );
    assert_eq!(t.paid_at().map(|p| p.to_rfc3339()), Some("2026-11-26T04:35:10+00:00".into()));

    let c = case("notify_cases", "refund_success");
    let n = verify_notification(&headers(c), s(&c["body"]).as_bytes(), &key, &v3, ts(c)).expect("verify");
    let NotifyEvent::Refund(r) = n.event else { panic!("{:?}", n.event) };
    assert_eq!((r.refund_status, r.amount.refund), (RefundStatus::Success, 9990));

    let c = case("notify_cases", "empty_associated_data");
    verify_notification(&headers(c), s(&c["body"]).as_bytes(), &key, &v3, ts(c)).expect("empty aad");
}

#[test]
fn notification_with_wrong_key_or_apiv3_key_is_refused() {
    let c = case("notify_cases", "transaction_success");
    let body = s(&c["body"]).as_bytes();
    let other = shop_wechatpay::MerchantPrivateKey::generate().expect("generate");
    let other_public =
        shop_wechatpay::WechatPayPublicKey::new(wechatpay_public().id(), other.public_key().expect("pub"))
            .expect("k");
    assert_eq!(
        verify_notification(&headers(c), body, &other_public, &api_v3_key(), ts(c)),
        Err(NotifyError::Signature(VerifyError::BadSignature))
    );
    let wrong_v3 = shop_wechatpay::ApiV3Key::parse("TEST0ONLY0apiv3key0never0use0it1").expect("k");
    assert_eq!(
        verify_notification(&headers(c), body, &wechatpay_public(), &wrong_v3, ts(c)),
        Err(NotifyError::Decrypt(shop_wechatpay::DecryptError::Failed))
    );
}

#[cfg(feature = "gateway")]
mod gateway {
    use super::*;
    use common::wechatpay_private;
    use shop_wechatpay::gateway::WechatPayGateway;

    fn gateway() -> WechatPayGateway {
        let f = fixtures();
        WechatPayGateway::new(
            wechatpay_private(),
            s(&f["public_key_id"]),
            api_v3_key(),
            s(&f["mchid"]),
            s(&f["merchant_serial_no"]),
            merchant_private().public_key().expect("public"),
        )
        .expect("gateway")
    }

    #[test]
    fn our_gateway_builds_the_sdk_notifications_byte_for_byte() {
        let g = gateway();
        for c in fixtures()["notify_cases"].as_array().expect("cases") {
            let body = g
                .notification_body(
                    s(&c["id"]),
                    s(&c["create_time"]),
                    s(&c["event_type"]),
                    s(&c["summary"]),
                    s(&c["original_type"]),
                    s(&c["plaintext"]),
                    s(&c["resource_nonce"]),
                    s(&c["associated_data"]),
                )
                .expect("encrypt");
            assert_eq!(body, s(&c["body"]), "{}", c["name"]);
            let h = g.sign_with(body.as_bytes(), ts(c), s(&c["headers"]["Wechatpay-Nonce"])).expect("sign");
            assert_eq!(h, headers(c), "{}", c["name"]);
        }
    }

    #[test]
    fn our_gateway_accepts_the_sdk_requests_and_refuses_changed_ones() {
        let g = gateway();
        for c in fixtures()["request_cases"].as_array().expect("cases") {
            let (method, path, body) = (s(&c["method"]), s(&c["path"]), s(&c["body"]).as_bytes());
            let auth = Some(s(&c["authorization"]));
            let now = c["timestamp"].as_i64().expect("ts");
            g.verify_request(method, path, auth, body, now).unwrap_or_else(|e| panic!("{}: {e}", c["name"]));
            assert!(g.verify_request(method, &format!("{path}x"), auth, body, now).is_err());
            assert!(g.verify_request(method, path, auth, b"{}", now).is_err());
            assert!(g.verify_request(method, path, auth, body, now + 301).is_err());
            assert!(g.verify_request(method, path, None, body, now).is_err());
        }
    }

    #[test]
    fn signed_notifications_of_other_kinds() {
        let g = gateway();
        let c = case("notify_cases", "transaction_success");
        let (key, v3) = (wechatpay_public(), api_v3_key());
        // Not an encrypted resource: refused although signed.
        let body = s(&c["body"]).replace("encrypt-resource", "plain-resource");
        let h = g.sign(body.as_bytes(), ts(c)).expect("sign");
        assert!(matches!(
            verify_notification(&h, body.as_bytes(), &key, &v3, ts(c)),
            Err(NotifyError::Malformed(_))
        ));
        // An event type the shop does not handle: verified, decrypted, `Other`.
        let body = s(&c["body"]).replace("TRANSACTION.SUCCESS", "MCHTRANSFER.BILL.FINISHED");
        let h = g.sign(body.as_bytes(), ts(c)).expect("sign");
        let n = verify_notification(&h, body.as_bytes(), &key, &v3, ts(c)).expect("other");
        assert_eq!(n.event, NotifyEvent::Other);
    }
}
