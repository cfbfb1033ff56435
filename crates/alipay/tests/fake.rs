//! The fake Alipay (feature `fake`): what it produces verifies with the production code paths.

mod common;

use chrono::{TimeZone, Utc};
use common::{app_private, app_public, case, key_text};
use shop_alipay::fake::{FakeAlipay, PaymentNotify, error_json, query_success_json};
use shop_alipay::form::{encode_pairs, parse_urlencoded};
use shop_alipay::request::signed_params;
use shop_alipay::response::{parse_close_response, parse_query_response};
use shop_alipay::{
    AlipayPublicKey, CloseOutcome, GatewayError, QueryOutcome, TradeStatus, VerifyError, verify_notify_body,
    verify_return,
};

fn notify() -> PaymentNotify {
    PaymentNotify {
        app_id: "2021000123456789".into(),
        seller_id: "2088102177296610".into(),
        out_trade_no: "ORD_7".into(),
        trade_no: "2026112122001446880500000007".into(),
        notify_id: "n-7".into(),
        trade_status: TradeStatus::TradeSuccess,
        total_fen: 9990,
        subject: "课程 a+b & c=d".into(),
        paid_at: Utc.with_ymd_and_hms(2026, 11, 21, 7, 51, 10).single().expect("t"),
    }
}

#[test]
fn generated_fake_signs_notifies_the_app_can_verify() {
    let fake = FakeAlipay::generate().expect("fake");
    // The app gets the public key the way it is configured in production: base64 SPKI text.
    let public = AlipayPublicKey::parse(&fake.public_key_base64()).expect("public");
    let body = fake.notify_body(&notify().to_params()).expect("body");
    let n = verify_notify_body(&body, &public).expect("verify");
    assert_eq!(n.out_trade_no, "ORD_7");
    assert_eq!(n.total_amount_fen, 9990);
    assert_eq!(n.trade_status, TradeStatus::TradeSuccess);
    assert_eq!(n.gmt_payment.map(|t| t.to_rfc3339()), Some("2026-11-21T07:51:10+00:00".into()));
    // Another fake's key does not verify it.
    let other = FakeAlipay::generate().expect("fake");
    assert_eq!(verify_notify_body(&body, other.public_key()), Err(VerifyError::BadSignature));
    // The same signer works for return_url query strings.
    let ret = fake
        .notify_body(&[
            ("out_trade_no".to_owned(), "ORD_7".to_owned()),
            ("trade_no".to_owned(), "T7".to_owned()),
            ("total_amount".to_owned(), "99.90".to_owned()),
            ("app_id".to_owned(), "2021000123456789".to_owned()),
            ("method".to_owned(), "alipay.trade.page.pay.return".to_owned()),
        ])
        .expect("return");
    let r = verify_return(&parse_urlencoded(&ret).expect("decode"), &public).expect("return");
    assert_eq!(r.total_amount_fen, 9990);
}

#[test]
fn fake_with_the_test_key_matches_the_python_sdk() {
    let fake =
        FakeAlipay::from_private_key(&key_text("TEST_ONLY_alipay_private_key_pkcs8.pem")).expect("fake");
    let c = case("notify_cases", "trade_success");
    let sdk = parse_urlencoded(c["body"].as_str().expect("body")).expect("decode");
    let ours = fake.sign_notify(&sdk).expect("sign");
    // Same parameters, same order, same signature: the body is byte-identical.
    assert_eq!(encode_pairs(&ours), c["body"].as_str().expect("body"));
}

#[test]
fn fake_signs_gateway_responses() {
    let fake = FakeAlipay::generate().expect("fake");
    let paid = Utc.with_ymd_and_hms(2026, 11, 21, 7, 51, 10).single().expect("t");
    let node = query_success_json("ORD_7", "T7", &TradeStatus::TradeSuccess, 9990, Some(paid));
    let body = fake.signed_response("alipay.trade.query", &node).expect("sign");
    match parse_query_response(&body, "ORD_7", fake.public_key()) {
        Ok(QueryOutcome::Found(t)) => {
            assert_eq!(t.total_amount_fen, 9990);
            assert_eq!(t.send_pay_date, Some(paid));
        }
        other => panic!("{other:?}"),
    }
    let not_exist = fake
        .signed_response(
            "alipay.trade.close",
            &error_json("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在"),
        )
        .expect("sign");
    assert_eq!(parse_close_response(&not_exist, fake.public_key()), Ok(CloseOutcome::NotExist));
    let unsigned = FakeAlipay::unsigned_response(
        "alipay.trade.close",
        &error_json("40002", "Invalid Arguments", "isv.invalid-app-id", "无效的AppID参数"),
    );
    assert!(matches!(
        parse_close_response(&unsigned, fake.public_key()),
        Err(GatewayError::Business { signed: false, .. })
    ));
}

#[test]
fn fake_verifies_app_requests_like_the_gateway() {
    let params = signed_params(
        "2021000123456789",
        "alipay.trade.query",
        r#"{"out_trade_no":"ORD_7"}"#,
        &[],
        &app_private(),
        Utc::now(),
    )
    .expect("params");
    let (body, query): (Vec<_>, Vec<_>) = params.into_iter().partition(|(k, _)| k == "biz_content");
    let query = encode_pairs(&query);
    let body = encode_pairs(&body);
    let verified = FakeAlipay::verify_request(&query, body.as_bytes(), &app_public()).expect("verify");
    assert!(verified.iter().any(|(k, v)| k == "method" && v == "alipay.trade.query"));
    assert!(verified.iter().all(|(k, _)| k != "sign"));
    // Tampered biz_content is rejected.
    let tampered = body.replace("ORD_7", "ORD_8");
    assert_eq!(
        FakeAlipay::verify_request(&query, tampered.as_bytes(), &app_public()),
        Err(VerifyError::BadSignature)
    );
    // Wrong key (the fake's own) is rejected.
    let fake = FakeAlipay::generate().expect("fake");
    assert_eq!(
        FakeAlipay::verify_request(&query, body.as_bytes(), fake.public_key()),
        Err(VerifyError::BadSignature)
    );
}
