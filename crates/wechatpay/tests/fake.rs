//! The client against the fake WeChat Pay (feature `fake`): the whole Native flow, refunds,
//! errors and every kind of bad answer.

use std::time::Duration;

use chrono::Utc;
use shop_wechatpay::fake::{APP_ID, FakeWechatPay, Fault, MCH_ID, PUBLIC_KEY_ID};
use shop_wechatpay::{
    ApiError, ApiV3Key, MerchantPrivateKey, NativeOrder, NotifyEvent, QueryOutcome, RefundQueryOutcome,
    RefundRequest, RefundStatus, TradeState, VerifyError, WechatPayClient, WechatPayPublicKey,
    verify_notification,
};

fn order(no: &str, total_fen: i64) -> NativeOrder {
    NativeOrder {
        description: "Rust 实战课程".into(),
        out_trade_no: no.into(),
        // Fixed, so that repeating an order repeats it exactly.
        time_expire: chrono::DateTime::from_timestamp(1_900_000_000, 0).expect("time"),
        notify_url: "https://shop.example.com/api/v1/order/wechat/notify/".into(),
        total_fen,
        attach: None,
    }
}

fn refund(no: &str, out_refund_no: &str, refund_fen: i64, total_fen: i64) -> RefundRequest {
    RefundRequest {
        out_trade_no: no.into(),
        out_refund_no: out_refund_no.into(),
        reason: Some("课程退款".into()),
        notify_url: None,
        refund_fen,
        total_fen,
    }
}

async fn setup() -> (FakeWechatPay, WechatPayClient) {
    let fake = FakeWechatPay::start().await.expect("fake");
    let client = WechatPayClient::new(fake.client_config(Duration::from_secs(5))).expect("client");
    (fake, client)
}

#[tokio::test]
async fn native_flow_create_pay_notify_query() {
    let (fake, client) = setup().await;
    let no = "CS20261130abcdef0123456789";
    assert_eq!(client.query_by_out_trade_no(no).await, Ok(QueryOutcome::NotFound));
    let created = client.native_create(&order(no, 9990)).await.expect("create");
    assert!(created.code_url.starts_with("weixin://wxpay/bizpayurl?pr="), "{}", created.code_url);
    // Repeating the same order is idempotent; the same number with another amount is refused.
    assert_eq!(client.native_create(&order(no, 9990)).await.expect("again"), created);
    assert!(matches!(
        client.native_create(&order(no, 1)).await,
        Err(ApiError::Api { status: 403, ref code, .. }) if code == "OUT_TRADE_NO_USED"
    ));
    let QueryOutcome::Found(t) = client.query_by_out_trade_no(no).await.expect("query") else { panic!() };
    assert_eq!((t.trade_state.clone(), t.total_fen()), (TradeState::NotPay, Some(9990)));

    // Every request carried what WeChat requires.
    for r in fake.requests() {
        assert_eq!(r.header("accept"), Some("application/json"), "{r:?}");
        assert_eq!(r.header("wechatpay-serial"), Some(PUBLIC_KEY_ID));
        assert!(r.header("user-agent").is_some_and(|u| u.starts_with("shop-wechatpay/")));
        assert!(
            r.header("authorization")
                .is_some_and(|a| a.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\""))
        );
    }
    let body: serde_json::Value = serde_json::from_slice(&fake.requests()[1].body).expect("json");
    assert_eq!(body["appid"], APP_ID);
    assert_eq!(body["mchid"], MCH_ID);
    assert_eq!(body["amount"], serde_json::json!({"total": 9990, "currency": "CNY"}));
    assert!(body["time_expire"].as_str().expect("time").ends_with("+08:00"));

    // The buyer pays: the notification verifies and decrypts with what the shop configures.
    let (headers, body) = fake.pay(no).expect("pay");
    let public = WechatPayPublicKey::parse(PUBLIC_KEY_ID, &fake.wechatpay_public_key_pem()).expect("public");
    let v3 = ApiV3Key::parse(fake.api_v3_key().expose()).expect("v3");
    let n =
        verify_notification(&headers, body.as_bytes(), &public, &v3, Utc::now().timestamp()).expect("notify");
    let NotifyEvent::Transaction(paid) = n.event else { panic!("{:?}", n.event) };
    assert_eq!(
        (paid.trade_state.clone(), paid.total_fen(), paid.mchid.as_str()),
        (TradeState::Success, Some(9990), MCH_ID)
    );
    let QueryOutcome::Found(t) = client.query_by_out_trade_no(no).await.expect("query") else { panic!() };
    assert_eq!(t.trade_state, TradeState::Success);
    assert_eq!(t.transaction_id, paid.transaction_id);
    // A paid order cannot be closed.
    assert!(matches!(client.close(no).await, Err(ApiError::Api { ref code, .. }) if code == "ORDERPAID"));
}

#[tokio::test]
async fn close_then_create_again_is_refused() {
    let (_fake, client) = setup().await;
    let no = "CS20261130close000000001";
    assert!(matches!(client.close(no).await, Err(ApiError::Api { status: 404, .. })));
    client.native_create(&order(no, 100)).await.expect("create");
    client.close(no).await.expect("close");
    let QueryOutcome::Found(t) = client.query_by_out_trade_no(no).await.expect("query") else { panic!() };
    assert_eq!(t.trade_state, TradeState::Closed);
    assert!(
        matches!(client.native_create(&order(no, 100)).await, Err(ApiError::Api { ref code, .. }) if code == "ORDER_CLOSED")
    );
}

#[tokio::test]
async fn refund_is_processing_then_succeeds_and_the_order_says_refund() {
    let (fake, client) = setup().await;
    let no = "CS20261130refund00000001";
    client.native_create(&order(no, 9990)).await.expect("create");
    // Not paid yet: refused.
    assert!(client.refund(&refund(no, "RF1", 100, 9990)).await.is_err());
    fake.pay(no).expect("pay");
    let r = client.refund(&refund(no, "RF1", 4000, 9990)).await.expect("refund");
    assert_eq!((r.status.clone(), r.amount.refund), (RefundStatus::Processing, 4000));
    // Same out_refund_no, same request: the same refund. Other amount: refused.
    assert_eq!(client.refund(&refund(no, "RF1", 4000, 9990)).await.expect("again"), r);
    assert!(client.refund(&refund(no, "RF1", 4001, 9990)).await.is_err());
    // More than what is left: refused.
    assert!(matches!(
        client.refund(&refund(no, "RF2", 6000, 9990)).await,
        Err(ApiError::Api { ref code, .. }) if code == "NOT_ENOUGH"
    ));
    let QueryOutcome::Found(t) = client.query_by_out_trade_no(no).await.expect("query") else { panic!() };
    assert_eq!(t.trade_state, TradeState::Refund);
    assert!(t.trade_state.money_received());
    assert_eq!(client.query_refund("RF9").await, Ok(RefundQueryOutcome::NotFound));
    let RefundQueryOutcome::Found(q) = client.query_refund("RF1").await.expect("q") else { panic!() };
    assert_eq!(q.status, RefundStatus::Processing);
    let (headers, body) = fake.complete_refund("RF1").expect("complete");
    let n = verify_notification(
        &headers,
        body.as_bytes(),
        fake.wechatpay_public_key(),
        fake.api_v3_key(),
        Utc::now().timestamp(),
    )
    .expect("notify");
    assert_eq!(n.envelope.event_type, "REFUND.SUCCESS");
    let NotifyEvent::Refund(notice) = n.event else { panic!() };
    assert_eq!(
        (notice.refund_status, notice.amount.refund, notice.out_trade_no.as_str()),
        (RefundStatus::Success, 4000, no)
    );
    let RefundQueryOutcome::Found(q) = client.query_refund("RF1").await.expect("q") else { panic!() };
    assert_eq!(q.status, RefundStatus::Success);
}

/// What a fault must turn into.
type Expect = fn(&ApiError) -> bool;

#[tokio::test]
async fn every_bad_answer_is_refused_before_parsing() {
    let (fake, client) = setup().await;
    let no = "CS20261130faults00000001";
    let cases: [(Fault, Expect); 9] = [
        (Fault::BadSignature, |e| {
            matches!(e, ApiError::Unverified { reason: VerifyError::BadSignature, .. })
        }),
        (Fault::WrongSerial, |e| {
            matches!(e, ApiError::Unverified { reason: VerifyError::UnknownSerial, .. })
        }),
        (Fault::SignatureProbe, |e| {
            matches!(e, ApiError::Unverified { reason: VerifyError::SignatureProbe, .. })
        }),
        (Fault::StaleTimestamp, |e| {
            matches!(e, ApiError::Unverified { reason: VerifyError::StaleTimestamp, .. })
        }),
        (Fault::TamperedBody, |e| {
            matches!(e, ApiError::Unverified { reason: VerifyError::BadSignature, .. })
        }),
        (Fault::Unsigned(502), |e| matches!(e, ApiError::HttpStatus { status: 502 }) && e.is_retryable()),
        (Fault::Error(500, "SYSTEM_ERROR".into(), "系统异常".into()), |e| {
            matches!(e, ApiError::Api { status: 500, code, signed: true, .. } if code == "SYSTEM_ERROR")
                && e.is_retryable()
        }),
        // Unsigned: the code is reported (signed: false) but never becomes an outcome.
        (
            Fault::UnsignedError(404, "ORDER_NOT_EXIST".into(), "订单不存在".into()),
            |e| matches!(e, ApiError::Api { status: 404, code, signed: false, .. } if code == "ORDER_NOT_EXIST"),
        ),
        (Fault::Delay(Duration::from_secs(3)), |e| matches!(e, ApiError::Timeout)),
    ];
    let fast = WechatPayClient::new(fake.client_config(Duration::from_millis(500))).expect("client");
    for (fault, expected) in cases {
        fake.set_fault(Some(fault.clone()));
        let e = fast.native_create(&order(no, 100)).await.expect_err("must fail");
        assert!(expected(&e), "{fault:?}: {e:?}");
        let e = fast.query_by_out_trade_no(no).await.expect_err("must fail");
        assert!(expected(&e), "{fault:?}: {e:?}");
    }
    fake.set_fault(None);
    // The faulty answers were refused, but the order was made: repeating it is safe.
    client.native_create(&order(no, 100)).await.expect("healthy again");
}

#[tokio::test]
async fn a_merchant_with_the_wrong_key_is_refused_by_the_fake() {
    let (fake, _) = setup().await;
    let mut config = fake.client_config(Duration::from_secs(5));
    config.merchant_private_key = MerchantPrivateKey::generate().expect("key");
    let client = WechatPayClient::new(config).expect("client");
    assert!(matches!(
        client.native_create(&order("CS20261130wrongkey0001", 100)).await,
        Err(ApiError::Api { status: 401, ref code, .. }) if code == "SIGN_ERROR"
    ));
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let (fake, client) = setup().await;
    for bad in [order("short", 100), order(&"a".repeat(33), 100), order("CS20261130bad0001", 0)] {
        assert!(matches!(client.native_create(&bad).await, Err(ApiError::InvalidRequest(_))), "{bad:?}");
    }
    let mut with_query = order("CS20261130bad0002", 100);
    with_query.notify_url.push_str("?a=1");
    assert!(matches!(client.native_create(&with_query).await, Err(ApiError::InvalidRequest(_))));
    assert!(matches!(
        client.refund(&refund("CS20261130bad0003", &"r".repeat(65), 1, 1)).await,
        Err(ApiError::InvalidRequest(_))
    ));
    assert!(fake.requests().is_empty());
}
