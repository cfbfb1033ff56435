//! The client against the fake Stripe (feature `fake`): Checkout Session flow, webhooks,
//! expiry, refunds, idempotency keys and errors.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use shop_stripe::fake::{FakeStripe, Fault};
use shop_stripe::simulator::RefundOutcome;
use shop_stripe::{
    ClientConfig, CreateSession, EventKind, LineItem, PaymentStatus, SessionStatus, StripeClient,
    StripeError, construct_event,
};

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()).expect("i64")
}

fn session(no: &str, unit_amount: i64) -> CreateSession {
    CreateSession {
        out_trade_no: no.into(),
        line_items: vec![LineItem { name: "Rust 实战课程".into(), unit_amount, quantity: 1 }],
        currency: "cny".into(),
        expires_at: now() + 3600,
        success_url: "https://shop.example.com/paid?session={CHECKOUT_SESSION_ID}".into(),
        cancel_url: "https://shop.example.com/cancel".into(),
    }
}

async fn setup() -> (FakeStripe, StripeClient) {
    let fake = FakeStripe::start().await.expect("fake");
    let client = StripeClient::new(fake.client_config(Duration::from_secs(5))).expect("client");
    (fake, client)
}

#[tokio::test]
async fn checkout_flow_pay_webhook_refund() {
    let (fake, client) = setup().await;
    let created =
        client.create_checkout_session(&session("CS1", 9990), "order-CS1", now()).await.expect("create");
    assert!(created.id.starts_with("cs_test_"));
    assert_eq!((created.status, created.payment_status), (Some(SessionStatus::Open), PaymentStatus::Unpaid));
    assert_eq!(created.payment_intent, None);
    assert!(created.url.as_deref().is_some_and(|u| u.starts_with("https://checkout.stripe.com/")));
    assert_eq!(created.out_trade_no(), Some("CS1"));

    let seen = &fake.requests()[0];
    assert_eq!(seen.header("idempotency-key"), Some("order-CS1"));
    assert!(seen.header("authorization").is_some_and(|a| a.starts_with("Bearer sk_test_")));
    assert_eq!(seen.param("payment_intent_data[metadata][out_trade_no]"), Some("CS1"));
    assert_eq!(seen.param("line_items[0][price_data][product_data][name]"), Some("Rust 实战课程"));

    let (payload, header) = fake.complete_session(&created.id, true).expect("pay");
    let event =
        construct_event(payload.as_bytes(), Some(&header), fake.gateway().secret(), now()).expect("webhook");
    let EventKind::CheckoutSessionCompleted(paid) = event.kind().expect("kind") else { panic!() };
    assert_eq!((paid.payment_status, paid.amount_total), (PaymentStatus::Paid, Some(9990)));
    let pi = paid.payment_intent.clone().expect("payment intent");
    assert_eq!(
        client.retrieve_checkout_session(&created.id).await.expect("get").status,
        Some(SessionStatus::Complete)
    );

    // A completed session cannot be expired.
    let e = client.expire_checkout_session(&created.id).await.expect_err("not open");
    assert!(
        matches!(e, StripeError::Api { status: 400, ref error_type, .. } if error_type == "invalid_request_error")
    );

    let r = client.create_refund(&pi, 4000, "CS1", "refund-CS1-1").await.expect("refund");
    assert_eq!(
        (r.amount, r.status.as_deref(), r.payment_intent.as_deref()),
        (4000, Some("succeeded"), Some(pi.as_str()))
    );
    // Replayed with the same key and parameters: the same refund, not a second one.
    assert_eq!(client.create_refund(&pi, 4000, "CS1", "refund-CS1-1").await.expect("replay"), r);
    assert_eq!(fake.requests().last().map(|r| r.header("authorization").is_some()), Some(true));
    // Same key, other parameters: idempotency_error.
    let e = client.create_refund(&pi, 10, "CS1", "refund-CS1-1").await.expect_err("reuse");
    assert!(
        matches!(e, StripeError::Api { status: 400, ref error_type, .. } if error_type == "idempotency_error"),
        "{e:?}"
    );
    let e = client.create_refund(&pi, 6000, "CS1", "refund-CS1-2").await.expect_err("too much");
    assert_eq!(e.code(), Some("amount_too_large"));
    client.create_refund(&pi, 5990, "CS1", "refund-CS1-3").await.expect("the rest");
    let e = client.create_refund(&pi, 1, "CS1", "refund-CS1-4").await.expect_err("all refunded");
    assert_eq!(e.code(), Some("charge_already_refunded"));

    // charge.refunded carries the cumulative amount and the PaymentIntent's metadata.
    let (payload, header) = fake.charge_refunded_event(&pi).expect("event");
    let event =
        construct_event(payload.as_bytes(), Some(&header), fake.gateway().secret(), now()).expect("webhook");
    let EventKind::ChargeRefunded(charge) = event.kind().expect("kind") else { panic!() };
    assert_eq!((charge.amount_refunded, charge.refunded), (9990, true));
    assert_eq!(charge.metadata.get("out_trade_no").map(String::as_str), Some("CS1"));
    assert_eq!(charge.payment_intent.as_deref(), Some(pi.as_str()));
}

#[tokio::test]
async fn a_pending_refund_is_retrieved_until_it_ends() {
    let (fake, client) = setup().await;
    let created =
        client.create_checkout_session(&session("CS9", 5000), "order-CS9", now()).await.expect("create");
    fake.complete_session(&created.id, true).expect("pay");
    let pi = fake.session(&created.id).and_then(|s| s.payment_intent).expect("payment intent");
    fake.simulator().answer_refunds_with(RefundOutcome::Pending);
    let r = client.create_refund(&pi, 5000, "CS9", "refund-CS9-1").await.expect("refund");
    assert_eq!(r.status.as_deref(), Some("pending"));
    // Neither refunded nor refundable again while pending.
    let e = client.create_refund(&pi, 1, "CS9", "refund-CS9-2").await.expect_err("held");
    assert_eq!(e.code(), Some("charge_already_refunded"));
    let (payload, header) = fake.charge_refunded_event(&pi).expect("event");
    let event =
        construct_event(payload.as_bytes(), Some(&header), fake.gateway().secret(), now()).expect("webhook");
    let EventKind::ChargeRefunded(charge) = event.kind().expect("kind") else { panic!() };
    assert_eq!(charge.amount_refunded, 0, "a pending refund is not refunded yet");
    // A replay answers the first answer; the retrieve tells the current status.
    let replay = client.create_refund(&pi, 5000, "CS9", "refund-CS9-1").await.expect("replay");
    assert_eq!(replay.status.as_deref(), Some("pending"));
    assert_eq!(fake.simulator().settle_refund(&r.id, true).expect("settle"), "succeeded");
    assert_eq!(client.create_refund(&pi, 5000, "CS9", "refund-CS9-1").await.expect("replay"), replay);
    assert_eq!(client.retrieve_refund(&r.id).await.expect("get").status.as_deref(), Some("succeeded"));
    let (payload, header) = fake.charge_refunded_event(&pi).expect("event");
    let event =
        construct_event(payload.as_bytes(), Some(&header), fake.gateway().secret(), now()).expect("webhook");
    let EventKind::ChargeRefunded(charge) = event.kind().expect("kind") else { panic!() };
    assert_eq!((charge.amount_refunded, charge.refunded), (5000, true));
    assert!(fake.simulator().settle_refund(&r.id, false).is_err(), "it has ended");
    let e = client.retrieve_refund("re_unknown").await.expect_err("unknown");
    assert_eq!(e.code(), Some("resource_missing"));
}

#[tokio::test]
async fn idempotent_create_replays_and_refuses_other_parameters() {
    let (_fake, client) = setup().await;
    let mut s = session("CS2", 100);
    let a = client.create_checkout_session(&s, "order-CS2", now()).await.expect("create");
    let b = client.create_checkout_session(&s, "order-CS2", now()).await.expect("replay");
    assert_eq!(a, b);
    s.line_items[0].unit_amount = 200;
    let e = client.create_checkout_session(&s, "order-CS2", now()).await.expect_err("other params");
    assert!(
        matches!(e, StripeError::Api { status: 400, ref error_type, .. } if error_type == "idempotency_error")
    );
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn delayed_payment_then_expiry_of_another_session() {
    let (fake, client) = setup().await;
    let a = client.create_checkout_session(&session("CS3", 100), "order-CS3", now()).await.expect("create");
    let (payload, header) = fake.complete_session(&a.id, false).expect("complete unpaid");
    let e =
        construct_event(payload.as_bytes(), Some(&header), fake.gateway().secret(), now()).expect("webhook");
    let EventKind::CheckoutSessionCompleted(s) = e.kind().expect("kind") else { panic!() };
    assert_eq!(s.payment_status, PaymentStatus::Unpaid);
    let (payload, header) = fake.async_payment_succeeded(&a.id).expect("async");
    let e =
        construct_event(payload.as_bytes(), Some(&header), fake.gateway().secret(), now()).expect("webhook");
    assert!(
        matches!(e.kind(), Ok(EventKind::CheckoutSessionAsyncPaymentSucceeded(s)) if s.payment_status == PaymentStatus::Paid)
    );

    let b = client.create_checkout_session(&session("CS4", 100), "order-CS4", now()).await.expect("create");
    let expired = client.expire_checkout_session(&b.id).await.expect("expire");
    assert_eq!((expired.status, expired.url), (Some(SessionStatus::Expired), None));
    let (payload, header) = fake.expired_event(&b.id).expect("event");
    let e =
        construct_event(payload.as_bytes(), Some(&header), fake.gateway().secret(), now()).expect("webhook");
    assert!(matches!(e.kind(), Ok(EventKind::CheckoutSessionExpired(_))));
    assert!(fake.complete_session(&b.id, true).is_err());
}

#[tokio::test]
async fn errors_timeouts_and_bad_keys() {
    let (fake, client) = setup().await;
    let e = client.retrieve_checkout_session("cs_test_nope").await.expect_err("missing");
    assert_eq!(e.code(), Some("resource_missing"));
    assert!(matches!(
        client.retrieve_checkout_session("../v1/refunds").await,
        Err(StripeError::InvalidRequest(_))
    ));

    let mut config: ClientConfig = fake.client_config(Duration::from_secs(5));
    config.secret_key = "sk_test_wrong".to_owned().into();
    let wrong = StripeClient::new(config).expect("client");
    let e = wrong.retrieve_checkout_session("cs_test_nope").await.expect_err("401");
    assert!(matches!(e, StripeError::Api { status: 401, .. }));

    fake.set_fault(Some(Fault::Error(500, "api_error".into())));
    let e = client.create_checkout_session(&session("CS5", 100), "order-CS5", now()).await.expect_err("500");
    assert!(matches!(e, StripeError::Api { status: 500, .. }) && e.is_retryable());
    fake.set_fault(Some(Fault::Error(429, "rate_limit_error".into())));
    assert!(client.retrieve_checkout_session("cs_test_x").await.expect_err("429").is_retryable());
    fake.set_fault(Some(Fault::Garbage(502)));
    let e = client.retrieve_checkout_session("cs_test_x").await.expect_err("502");
    assert!(matches!(e, StripeError::Malformed { status: 502, .. }) && e.is_retryable());
    fake.set_fault(Some(Fault::Delay(Duration::from_secs(3))));
    let fast = StripeClient::new(fake.client_config(Duration::from_millis(300))).expect("client");
    assert_eq!(fast.retrieve_checkout_session("cs_test_x").await, Err(StripeError::Timeout));
    fake.set_fault(None);
    // The failed creates reached no API: the key is still free.
    client.create_checkout_session(&session("CS5", 100), "order-CS5", now()).await.expect("healthy");

    // Refused before sending: expiry window, currency.
    let before = fake.requests().len();
    let mut s = session("CS6", 100);
    s.expires_at = now() + 29 * 60;
    assert!(matches!(
        client.create_checkout_session(&s, "k", now()).await,
        Err(StripeError::InvalidRequest(_))
    ));
    assert_eq!(fake.requests().len(), before);
}
