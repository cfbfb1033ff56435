//! Stripe Checkout end to end, on SQLite and Postgres through the real server: creating an
//! order with `pay_type: 3` (a Checkout Session at the fake Stripe, its `url` as `pay_url`),
//! the webhook matrix (valid, ten concurrent duplicates, replayed, tampered, wrong secret,
//! stale, malformed, wrong amount, wrong currency, unknown order, unpaid then async success,
//! expired, unknown event type), polling that retrieves the session, expiry that retrieves and
//! expires it, refunds on its PaymentIntent, provider errors and timeouts, and the development
//! simulator's card form. The fake (`shop_stripe::fake`) plays Stripe's API over HTTP and signs
//! webhooks with the endpoint secret; our verification is never stubbed.
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use shop_app::config::AlipayMode;
use shop_app::payments;
use shop_db::entities::payment_notify;
use shop_domain::order::OrderStatus;
use shop_stripe::fake::{FakeStripe, Fault};
use shop_stripe::gateway::StripeGateway;
use shop_stripe::simulator::RefundOutcome;
use shop_stripe::{CheckoutSession, PaymentStatus, SessionStatus, StripeClient, WebhookSecret};

use crate::helpers::{Backend, TestApp};

const WEBHOOK: &str = "/api/v1/order/stripe/webhook/";

/// A server with Stripe in gateway mode against the fake; workers off.
async fn spawn(backend: Backend) -> (TestApp, FakeStripe) {
    let fake = FakeStripe::start().await.expect("fake Stripe");
    let config = fake.client_config(Duration::from_secs(2));
    let secret = fake.gateway().secret().expose().to_owned();
    let app = TestApp::spawn_with(backend, |s| {
        let st = &mut s.stripe;
        st.mode = AlipayMode::Gateway;
        st.secret_key = SecretString::from(config.secret_key.expose_secret().to_owned());
        st.webhook_secret = SecretString::from(secret);
        st.api_base = config.api_base.clone();
        s.alipay.http_timeout_seconds = 2;
        s.workers.enabled = false;
    })
    .await;
    (app, fake)
}

macro_rules! with_stripe_on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let (app, fake) = super::spawn($crate::helpers::Backend::Sqlite).await;
                    super::$name(app, fake).await;
                }
                #[tokio::test]
                async fn postgres() {
                    let (app, fake) = super::spawn($crate::helpers::Backend::Postgres).await;
                    super::$name(app, fake).await;
                }
            }
        )+
    };
}

with_stripe_on_both_backends!(
    pay_type_3_makes_a_checkout_session_and_a_paid_webhook_pays_once,
    bad_webhooks_change_nothing,
    polling_retrieves_the_session_and_refunds_go_through_stripe,
    expiry_retrieves_the_session_first_and_expired_sessions_close_orders,
    stripe_errors_and_timeouts_change_nothing,
    money_after_expiry_is_refunded_through_stripe,
    a_session_has_one_line_item_per_course_of_the_order,
    a_pending_refund_waits_for_charge_refunded,
    a_pending_refund_that_fails_leaves_the_money,
);

crate::on_both_backends!(stripe_that_is_not_enabled_is_refused, the_simulator_pays_with_its_card_form);

/// Buys course `id` with `pay_type` 3; the answer.
async fn buy_stripe(app: &TestApp, token: &str, id: i64) -> Value {
    let (status, body) = try_buy_stripe(app, token, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn try_buy_stripe(app: &TestApp, token: &str, id: i64) -> (StatusCode, Value) {
    let (_, course) = app.get_json(&format!("/api/v1/course/list/{id}/")).await;
    let price = course["price"].as_str().expect("price").to_owned();
    app.buy(
        token,
        &json!({"courses": [id], "total_amount": price, "subject": "Python 全栈开发", "pay_type": 3}),
        None,
    )
    .await
}

/// The Checkout Session of an order answer (the id at the end of its `pay_url`).
fn session_of(body: &Value) -> String {
    let url = body["pay_url"].as_str().expect("pay_url");
    url.rsplit('/').next().expect("id").to_owned()
}

/// POSTs a webhook; status and JSON body (Null for none).
async fn webhook(
    app: &TestApp,
    signature: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let mut req = app.client.post(app.url(WEBHOOK)).header("Content-Type", "application/json").body(body);
    if let Some(signature) = signature {
        req = req.header("Stripe-Signature", signature);
    }
    let res = req.send().await.expect("webhook");
    let status = res.status();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn post_event(app: &TestApp, event: &(String, String)) -> (StatusCode, Value) {
    webhook(app, Some(&event.1), event.0.clone()).await
}

fn refused(answer: &(StatusCode, Value), what: &str) {
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{what}: {}", answer.1);
    assert_eq!(answer.1["code"], 1001, "{what}: our envelope: {}", answer.1);
}

fn received(answer: &(StatusCode, Value), what: &str) {
    assert_eq!(answer.0, StatusCode::OK, "{what}: {}", answer.1);
    assert_eq!(answer.1["received"], true, "{what}: {}", answer.1);
}

async fn audit(app: &TestApp, verdict: &str) -> Vec<payment_notify::Model> {
    payment_notify::Entity::find()
        .filter(payment_notify::Column::Verdict.eq(verdict))
        .all(app.ctx.db())
        .await
        .expect("audit")
}

async fn owned(app: &TestApp, token: &str) -> Vec<i64> {
    let (status, mine) = app.get_json_auth("/api/v1/course/mine/", &format!("jwt {token}")).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    mine["result"]
        .as_array()
        .expect("result")
        .iter()
        .filter(|c| c["active"] == true)
        .filter_map(|c| c["course_id"].as_i64())
        .collect()
}

async fn status_code(app: &TestApp, no: &str) -> i64 {
    let (status, body) = app.get_json(&format!("/api/v1/order/success/?out_trade_no={no}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["code"].as_i64().expect("code")
}

async fn make_overdue(app: &TestApp, no: &str) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let mut row = app.order_row(no).await.into_active_model();
    row.expires_at = Set(Some(Utc::now() - chrono::Duration::minutes(1)));
    row.update(app.ctx.db()).await.expect("overdue");
}

async fn pay_type_3_makes_a_checkout_session_and_a_paid_webhook_pays_once(app: TestApp, fake: FakeStripe) {
    let token = app.buyer("stripe-buyer").await;
    let body = buy_stripe(&app, &token, 2).await;
    let no = body["out_trade_no"].as_str().expect("out_trade_no").to_owned();
    let pay_url = body["pay_url"].as_str().expect("pay_url").to_owned();
    assert!(pay_url.starts_with("https://checkout.stripe.com/c/pay/cs_test_"), "{body}");
    assert!(body.get("code_url").is_none(), "{body}");
    let id = session_of(&body);
    let fen = app.order_row(&no).await.total_amount_fen.fen();
    // The session Stripe got: our prices, our number three times, a deadline Stripe accepts.
    let request = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/v1/checkout/sessions")
        .expect("create request");
    let param = |name: &str| request.param(name).map(str::to_owned);
    assert_eq!(param("mode").as_deref(), Some("payment"));
    assert_eq!(param("line_items[0][price_data][unit_amount]"), Some(fen.to_string()));
    assert_eq!(param("line_items[0][price_data][currency]").as_deref(), Some("cny"));
    assert_eq!(param("line_items[0][quantity]").as_deref(), Some("1"));
    for name in
        ["client_reference_id", "metadata[out_trade_no]", "payment_intent_data[metadata][out_trade_no]"]
    {
        assert_eq!(param(name).as_deref(), Some(no.as_str()), "{name}");
    }
    let expires_at: i64 = param("expires_at").expect("expires_at").parse().expect("unix");
    assert!(expires_at - Utc::now().timestamp() >= 30 * 60, "Stripe needs 30 minutes at least");
    assert_eq!(param("success_url"), Some(app.url(&format!("/pay/result/?out_trade_no={no}"))));
    assert!(request.header("Idempotency-Key").is_some_and(|k| k.contains(&no)), "{request:?}");
    // The order keeps the session as its payment reference.
    assert!(app.order_row(&no).await.pay_url.is_some_and(|p| p.starts_with(&format!("{id} "))));
    // Repeating the purchase answers the same order and session.
    let again = buy_stripe(&app, &token, 2).await;
    assert_eq!(
        (again["out_trade_no"].as_str(), again["pay_url"].as_str()),
        (Some(no.as_str()), Some(pay_url.as_str()))
    );
    assert_eq!(status_code(&app, &no).await, 101);

    // The buyer pays; Stripe's webhook, ten copies at once: paid exactly once.
    let paid = fake.complete_session(&id, true).expect("pay");
    let answers = futures_util::future::join_all((0..10).map(|_| post_event(&app, &paid))).await;
    for answer in &answers {
        received(answer, "a copy");
    }
    let order = app.order_row(&no).await;
    assert_eq!(order.order_status, OrderStatus::Paid);
    assert_eq!(order.trade_no, fake.session(&id).and_then(|s| s.payment_intent), "the PaymentIntent");
    assert_eq!(audit(&app, "accepted").await.len(), 1);
    assert_eq!(audit(&app, "duplicate").await.len(), 9);
    assert_eq!(shop_db::outbox::list(app.ctx.db(), Some("order_paid")).await.expect("jobs").len(), 1);
    // Replayed later: still 200, nothing more.
    received(&post_event(&app, &paid).await, "replayed");
    assert_eq!(audit(&app, "accepted").await.len(), 1);
    // An event type the shop does not act on: acknowledged, audited, ignored.
    let other = fake.gateway().event(
        "evt_other",
        "customer.created",
        &json!({"id": "cus_1"}),
        Utc::now().timestamp(),
    );
    received(&post_event(&app, &other.expect("event")).await, "unknown type");
    assert_eq!(audit(&app, "accepted").await.len(), 2);
    app.drain_outbox().await;
    assert_eq!(status_code(&app, &no).await, 100);
    assert_eq!(owned(&app, &token).await, vec![2]);
}

/// The session `id` as Stripe would send it once paid, changed by `change`.
fn paid_session(fake: &FakeStripe, id: &str, change: impl FnOnce(&mut CheckoutSession)) -> CheckoutSession {
    let mut s = fake.session(id).expect("session at Stripe");
    s.status = Some(SessionStatus::Complete);
    s.payment_status = PaymentStatus::Paid;
    s.payment_intent = Some("pi_3QxyzTestIntent".into());
    change(&mut s);
    s
}

async fn bad_webhooks_change_nothing(app: TestApp, fake: FakeStripe) {
    let token = app.buyer("stripe-careful").await;
    let body = buy_stripe(&app, &token, 2).await;
    let no = body["out_trade_no"].as_str().expect("out_trade_no").to_owned();
    let id = session_of(&body);
    let now = Utc::now().timestamp();
    let gateway = fake.gateway();
    let signed = |s: &CheckoutSession| {
        gateway.event("evt_test_1", "checkout.session.completed", s, now).expect("event")
    };
    let (payload, header) = signed(&paid_session(&fake, &id, |_| {}));

    // Signatures: 400, nothing parsed, nothing changed.
    let impostor = StripeGateway::new(WebhookSecret::parse("whsec_not_the_endpoint_secret").expect("secret"));
    refused(
        &webhook(&app, Some(&impostor.sign(payload.as_bytes(), now)), payload.clone()).await,
        "wrong secret",
    );
    let tampered = payload.replacen("\"paid\"", "\"paiD\"", 1);
    assert_ne!(tampered, payload);
    refused(&webhook(&app, Some(&header), tampered).await, "tampered");
    refused(&webhook(&app, None, payload.clone()).await, "no signature");
    refused(&webhook(&app, Some("v1=00"), payload.clone()).await, "no timestamp");
    let stale = gateway.sign(payload.as_bytes(), now - 600);
    refused(&webhook(&app, Some(&stale), payload.clone()).await, "stale");
    let future = gateway.sign(payload.as_bytes(), now + 600);
    refused(&webhook(&app, Some(&future), payload.clone()).await, "from the future");
    let v0_only = header.replace("v1=", "v0=");
    refused(&webhook(&app, Some(&v0_only), payload.clone()).await, "v0 only");
    let garbage = "{not json";
    refused(&webhook(&app, Some(&gateway.sign(garbage.as_bytes(), now)), garbage).await, "malformed");
    let with_nul = payload.replacen('{', r#"{"x":"\u0000","#, 1);
    refused(&webhook(&app, Some(&header), with_nul).await, "NUL in the body");
    assert_eq!(audit(&app, "rejected").await.len(), 9, "every refusal audited");

    // Authentic but not matching the order: 200 (a resend says the same), audited, nothing applied.
    let wrong_amount = signed(&paid_session(&fake, &id, |s| s.amount_total = Some(1)));
    received(&post_event(&app, &wrong_amount).await, "wrong amount");
    let wrong_currency = signed(&paid_session(&fake, &id, |s| s.currency = Some("usd".into())));
    received(&post_event(&app, &wrong_currency).await, "wrong currency");
    let unknown = signed(&paid_session(&fake, &id, |s| {
        s.client_reference_id = Some("CS20261130000000DEADBEEF00000000".into());
        s.metadata.insert("out_trade_no".into(), "CS20261130000000DEADBEEF00000000".into());
    }));
    received(&post_event(&app, &unknown).await, "unknown order");
    let differing = signed(&paid_session(&fake, &id, |s| s.client_reference_id = Some("CSOTHER".into())));
    received(&post_event(&app, &differing).await, "order numbers differ");
    let rejected = audit(&app, "rejected").await;
    assert_eq!(rejected.len(), 13);
    for why in [
        "signature",
        "tolerance",
        "malformed",
        "differs from the order",
        "currency",
        "not one of our orders",
        "names no order",
    ] {
        assert!(
            rejected
                .iter()
                .any(|r| r.reason.starts_with("stripe: ") && r.reason.to_lowercase().contains(why)),
            "{why}: {:#?}",
            rejected.iter().map(|r| &r.reason).collect::<Vec<_>>()
        );
    }
    assert_eq!(app.order_row(&no).await.order_status, OrderStatus::Unpaid, "nothing changed");
    assert!(audit(&app, "accepted").await.is_empty());
    assert!(shop_db::outbox::list(app.ctx.db(), Some("order_paid")).await.expect("jobs").is_empty());

    // Completed but unpaid (a delayed method): acknowledged, not paid; the async success pays.
    let unpaid = fake.complete_session(&id, false).expect("complete unpaid");
    received(&post_event(&app, &unpaid).await, "unpaid completed");
    assert_eq!(app.order_row(&no).await.order_status, OrderStatus::Unpaid, "not paid while unpaid");
    let succeeded = fake.async_payment_succeeded(&id).expect("async");
    received(&post_event(&app, &succeeded).await, "async succeeded");
    assert_eq!(app.order_row(&no).await.order_status, OrderStatus::Paid);
    assert_eq!(shop_db::outbox::list(app.ctx.db(), Some("order_paid")).await.expect("jobs").len(), 1);
}

async fn polling_retrieves_the_session_and_refunds_go_through_stripe(app: TestApp, fake: FakeStripe) {
    let token = app.buyer("stripe-poller").await;
    let body = buy_stripe(&app, &token, 2).await;
    let no = body["out_trade_no"].as_str().expect("no").to_owned();
    let id = session_of(&body);
    let fen = app.order_row(&no).await.total_amount_fen.fen();
    // Paid at Stripe, the webhook lost: the status poll retrieves the session and applies it.
    let _lost = fake.complete_session(&id, true).expect("pay");
    assert_eq!(status_code(&app, &no).await, 100);
    assert!(
        fake.requests().iter().any(|r| r.method == "GET" && r.path == format!("/v1/checkout/sessions/{id}")),
        "retrieved by the session's id"
    );
    let intent = fake.session(&id).and_then(|s| s.payment_intent).expect("payment intent");
    app.drain_outbox().await;
    assert_eq!(owned(&app, &token).await, vec![2]);

    // A partial refund made at Stripe (the dashboard): its charge.refunded is recorded.
    let client = StripeClient::new(fake.client_config(Duration::from_secs(2))).expect("client");
    client.create_refund(&intent, 100, &no, "dashboard-1").await.expect("refund at Stripe");
    let partial = fake.charge_refunded_event(&intent).expect("event");
    received(&post_event(&app, &partial).await, "partial refund");
    let order = app.order_row(&no).await;
    assert_eq!((order.order_status, order.refunded_fen.fen()), (OrderStatus::Paid, 100));
    received(&post_event(&app, &partial).await, "a repeat");
    assert_eq!(app.order_row(&no).await.refunded_fen.fen(), 100, "cumulative, counted once");

    // The shop refunds the rest (course-shop refund / the console): on the PaymentIntent,
    // idempotent by the refund's number.
    let refund = payments::request_refund(&app.ctx, &no, None, "test").await.expect("refund");
    assert_eq!(shop_db::outbox::list(app.ctx.db(), Some("stripe_refund")).await.expect("jobs").len(), 1);
    app.drain_outbox().await;
    let sent: Vec<_> = fake.requests().into_iter().filter(|r| r.path == "/v1/refunds").collect();
    let ours = sent.last().expect("refund request");
    assert_eq!(ours.param("payment_intent"), Some(intent.as_str()));
    assert_eq!(ours.param("amount"), Some((fen - 100).to_string().as_str()));
    assert_eq!(ours.header("Idempotency-Key"), Some(refund.out_request_no.as_str()));
    let row = shop_db::payments::refund_by_request_no(app.ctx.db(), &refund.out_request_no)
        .await
        .expect("read")
        .expect("refund");
    assert_eq!(row.status, shop_db::payments::refund_status::SUCCEEDED);
    // The job knows its own refunds; Stripe's charge.refunded carries the cumulative total
    // (the dashboard's refund included): the order is wholly refunded once it arrives.
    assert!(app.order_row(&no).await.refunded_fen.fen() >= fen - 100);
    let full = fake.charge_refunded_event(&intent).expect("event");
    received(&post_event(&app, &full).await, "full refund event");
    let order = app.order_row(&no).await;
    assert_eq!((order.order_status, order.refunded_fen.fen()), (OrderStatus::Refunded, fen));
    received(&post_event(&app, &full).await, "a repeat");
    assert_eq!(app.order_row(&no).await.refunded_fen.fen(), fen);
}

async fn expiry_retrieves_the_session_first_and_expired_sessions_close_orders(
    app: TestApp,
    fake: FakeStripe,
) {
    // Overdue and unpaid: expired here, the session expired at Stripe by the close job.
    let token = app.buyer("stripe-late").await;
    let body = buy_stripe(&app, &token, 2).await;
    let no = body["out_trade_no"].as_str().expect("no").to_owned();
    let id = session_of(&body);
    make_overdue(&app, &no).await;
    let outcome = payments::expire_due_orders(&app.ctx).await.expect("sweep");
    assert_eq!(outcome, vec![(no.clone(), payments::ExpiryOutcome::Expired)]);
    assert_eq!(shop_db::outbox::list(app.ctx.db(), Some("stripe_close")).await.expect("jobs").len(), 1);
    app.drain_outbox().await;
    assert_eq!(fake.session(&id).and_then(|s| s.status), Some(SessionStatus::Expired), "expired at Stripe");
    assert!(fake.requests().iter().any(|r| r.path == format!("/v1/checkout/sessions/{id}/expire")));
    // Its checkout.session.expired: nothing more.
    received(&post_event(&app, &fake.expired_event(&id).expect("event")).await, "expired event");
    assert_eq!(app.order_row(&no).await.order_status, OrderStatus::Expired);

    // Overdue but paid at Stripe (webhook lost): the sweep's retrieve finds the money.
    let token = app.buyer("stripe-late-payer").await;
    let body = buy_stripe(&app, &token, 2).await;
    let paid_no = body["out_trade_no"].as_str().expect("no").to_owned();
    let _lost = fake.complete_session(&session_of(&body), true).expect("pay");
    make_overdue(&app, &paid_no).await;
    let outcome = payments::expire_due_orders(&app.ctx).await.expect("sweep");
    assert_eq!(outcome, vec![(paid_no.clone(), payments::ExpiryOutcome::Paid)]);
    assert_eq!(app.order_row(&paid_no).await.order_status, OrderStatus::Paid);
    // Closing a session that completed meanwhile is not an error, and does not try to expire
    // it (Stripe expires open sessions only: the session is retrieved first).
    let paid_id = session_of(&body);
    let stored = app.order_row(&paid_no).await.pay_url;
    let stripe = app.ctx.payments().provider(shop_domain::order::PayType::Stripe).expect("stripe");
    let trade = payments::provider::TradeRef { out_trade_no: &paid_no, stored: stored.as_deref() };
    stripe.close(trade).await.expect("not an error");
    assert_eq!(fake.session(&paid_id).and_then(|s| s.status), Some(SessionStatus::Complete));
    assert!(!fake.requests().iter().any(|r| r.path == format!("/v1/checkout/sessions/{paid_id}/expire")));
    let before = fake.requests().len();

    // A session that expires at Stripe (its own deadline): the webhook cancels the order.
    let token = app.buyer("stripe-walked-away").await;
    let body = buy_stripe(&app, &token, 2).await;
    let open_no = body["out_trade_no"].as_str().expect("no").to_owned();
    let open_id = session_of(&body);
    let client = StripeClient::new(fake.client_config(Duration::from_secs(2))).expect("client");
    client.expire_checkout_session(&open_id).await.expect("expire at Stripe");
    received(&post_event(&app, &fake.expired_event(&open_id).expect("event")).await, "expired");
    assert_eq!(app.order_row(&open_no).await.order_status, OrderStatus::Cancelled);
    assert!(fake.requests().len() > before);
}

async fn stripe_errors_and_timeouts_change_nothing(app: TestApp, fake: FakeStripe) {
    let token = app.buyer("stripe-unlucky").await;
    // Creating the session fails: no order, a 503 to retry.
    fake.set_fault(Some(Fault::Error(500, "api_error".into())));
    let (status, body) = try_buy_stripe(&app, &token, 2).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    fake.set_fault(Some(Fault::Delay(Duration::from_secs(4))));
    let (status, body) = try_buy_stripe(&app, &token, 2).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "timeout: {body}");
    fake.set_fault(Some(Fault::Garbage(200)));
    let (status, body) = try_buy_stripe(&app, &token, 2).await;
    assert!(status.is_server_error(), "garbage: {status} {body}");
    let (_, list) = app.get_json_auth("/api/v1/order/list/", &format!("jwt {token}")).await;
    assert_eq!(list["result"].as_array().map(Vec::len), Some(0), "no order without a session: {list}");

    fake.set_fault(None);
    let body = buy_stripe(&app, &token, 2).await;
    let no = body["out_trade_no"].as_str().expect("no").to_owned();
    let id = session_of(&body);
    let _lost = fake.complete_session(&id, true).expect("pay");
    // Stripe down: the poll learns nothing and changes nothing; the sweep waits.
    fake.set_fault(Some(Fault::Error(503, "api_error".into())));
    assert_eq!(status_code(&app, &no).await, 101);
    make_overdue(&app, &no).await;
    let outcome = payments::expire_due_orders(&app.ctx).await.expect("sweep");
    assert!(
        matches!(outcome.as_slice(), [(n, payments::ExpiryOutcome::Deferred(_))] if *n == no),
        "{outcome:?}"
    );
    assert_eq!(app.order_row(&no).await.order_status, OrderStatus::Unpaid, "never expired without asking");
    // Back: the sweep finds the payment.
    fake.set_fault(None);
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let mut row = app.order_row(&no).await.into_active_model();
    row.last_query_at = Set(None);
    row.update(app.ctx.db()).await.expect("query allowed again");
    let outcome = payments::expire_due_orders(&app.ctx).await.expect("sweep");
    assert_eq!(outcome, vec![(no.clone(), payments::ExpiryOutcome::Paid)]);

    // A refund while Stripe times out: retried later, nothing recorded as refunded.
    fake.set_fault(Some(Fault::Delay(Duration::from_secs(4))));
    let refund = payments::request_refund(&app.ctx, &no, None, "test").await.expect("refund");
    let pass = app.drain_outbox().await;
    assert!(pass.retried >= 1, "{pass:?}");
    let order = app.order_row(&no).await;
    assert_eq!((order.order_status, order.refunded_fen.fen()), (OrderStatus::Paid, 0));
    let row = shop_db::payments::refund_by_request_no(app.ctx.db(), &refund.out_request_no)
        .await
        .expect("read")
        .expect("refund");
    assert_ne!(row.status, shop_db::payments::refund_status::SUCCEEDED);
    fake.set_fault(None);
}

async fn money_after_expiry_is_refunded_through_stripe(app: TestApp, fake: FakeStripe) {
    let token = app.buyer("stripe-too-late").await;
    let body = buy_stripe(&app, &token, 2).await;
    let no = body["out_trade_no"].as_str().expect("no").to_owned();
    let id = session_of(&body);
    let fen = app.order_row(&no).await.total_amount_fen.fen();
    // Expired here; before the close job expires the session, the buyer pays it.
    make_overdue(&app, &no).await;
    let outcome = payments::expire_due_orders(&app.ctx).await.expect("sweep");
    assert_eq!(outcome, vec![(no.clone(), payments::ExpiryOutcome::Expired)]);
    let paid = fake.complete_session(&id, true).expect("pay");
    received(&post_event(&app, &paid).await, "late payment");
    let order = app.order_row(&no).await;
    assert_eq!(order.order_status, OrderStatus::PaidAfterCancel, "recorded, never dropped");
    assert_eq!(shop_db::outbox::list(app.ctx.db(), Some("stripe_refund")).await.expect("jobs").len(), 1);
    app.drain_outbox().await;
    // The close job found the session complete and left it; the money went back.
    assert_eq!(fake.session(&id).and_then(|s| s.status), Some(SessionStatus::Complete));
    let intent = fake.session(&id).and_then(|s| s.payment_intent).expect("intent");
    let refund = fake.requests().into_iter().find(|r| r.path == "/v1/refunds").expect("refund request");
    assert_eq!(
        (refund.param("payment_intent"), refund.param("amount")),
        (Some(intent.as_str()), Some(fen.to_string().as_str()))
    );
    let order = app.order_row(&no).await;
    assert_eq!((order.order_status, order.refunded_fen.fen()), (OrderStatus::Refunded, fen));
    assert!(owned(&app, &token).await.is_empty(), "no course for money that went back");
    // The console's order page lists the order's Stripe jobs.
    let audit = payments::audit::order_audit(&app.ctx, &no).await.expect("audit");
    let kinds: Vec<&str> = audit.jobs.iter().map(|j| j.kind.as_str()).collect();
    for kind in ["stripe_close", "stripe_refund"] {
        assert!(kinds.contains(&kind), "{kind}: {kinds:?}");
    }
}

async fn stripe_that_is_not_enabled_is_refused(app: TestApp) {
    let token = app.buyer("stripe-none").await;
    let (_, course) = app.get_json("/api/v1/course/list/2/").await;
    let price = course["price"].clone();
    for pay_type in [json!(3), json!("3")] {
        let body = json!({"courses": [2], "total_amount": price, "subject": "x", "pay_type": pay_type});
        let (status, answer) = app.buy(&token, &body, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{pay_type}: {answer}");
        assert_eq!(answer["code"], 1000, "{answer}");
        assert!(
            answer["errors"]["pay_type"].is_array() || answer["errors"]["pay_type"].is_string(),
            "{answer}"
        );
    }
    let res = app.client.post(app.url(WEBHOOK)).body("{}").send().await.expect("webhook");
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "no Stripe here");
    let res = app.client.get(app.url("/dev/stripe/checkout/cs_test_1")).send().await.expect("page");
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "no simulator here");
}

async fn the_simulator_pays_with_its_card_form(app: TestApp) {
    // The test profile leaves Stripe off; a server of its own turns its simulator on, as the
    // development profile does. Its own database: a worker of the first server would take
    // this server's Stripe jobs and put them off (Stripe is not enabled there).
    let app = TestApp::spawn_with(app.backend(), |s| {
        s.stripe.mode = AlipayMode::Simulator;
        s.workers.enabled = false;
    })
    .await;
    let token = app.buyer("stripe-dev").await;
    let body = buy_stripe(&app, &token, 2).await;
    let no = body["out_trade_no"].as_str().expect("no").to_owned();
    let id = session_of(&body);
    assert_eq!(body["pay_url"], app.url(&format!("/dev/stripe/checkout/{id}")), "{body}");
    let html = app.client.get(body["pay_url"].as_str().expect("pay_url")).send().await.expect("page");
    let html = html.text().await.expect("html");
    assert!(html.contains("/dev/stripe/pay") && html.contains(&id) && html.contains(&no), "{html}");
    let res = app.client.post(app.url("/dev/stripe/pay")).form(&[("session_id", id.as_str())]).send().await;
    let res = res.expect("pay");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_code(&app, &no).await, 100);
    assert_eq!(audit(&app, "accepted").await.len(), 1, "through the webhook's verification");
    app.drain_outbox().await;
    assert_eq!(owned(&app, &token).await, vec![2]);
    // Paying twice is refused by the simulator; the order stays paid once.
    let res = app.client.post(app.url("/dev/stripe/pay")).form(&[("session_id", id.as_str())]).send().await;
    assert_eq!(res.expect("pay").status(), StatusCode::BAD_REQUEST);
    let html = app.client.get(app.url(&format!("/dev/stripe/checkout/{id}"))).send().await.expect("page");
    assert!(!html.text().await.expect("html").contains("/dev/stripe/pay"), "a paid session has no button");
    // A refund through the simulated Stripe; its charge.refunded webhook follows.
    payments::request_refund(&app.ctx, &no, None, "test").await.expect("refund");
    app.drain_outbox().await;
    assert_eq!(app.order_row(&no).await.order_status, OrderStatus::Refunded);
    let mut followed = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if audit(&app, "duplicate").await.iter().any(|r| r.trade_status.as_deref() == Some("charge.refunded"))
        {
            followed = true;
            break;
        }
    }
    assert!(followed, "the simulator sends charge.refunded, verified like any webhook");
}

async fn a_session_has_one_line_item_per_course_of_the_order(app: TestApp, fake: FakeStripe) {
    let token = app.buyer("stripe-two-courses").await;
    let mut courses = Vec::new();
    let mut total = 0;
    for id in [2_i64, 3] {
        let (_, c) = app.get_json(&format!("/api/v1/course/list/{id}/")).await;
        let fen = shop_domain::Money::parse_yuan(c["price"].as_str().expect("price")).expect("price").fen();
        total += fen;
        courses.push((c["name"].as_str().expect("name").to_owned(), fen));
    }
    let amount = shop_domain::Money::from_fen(total).expect("money").to_string();
    let (status, body) = app
        .buy(
            &token,
            &json!({"courses": [2, 3], "total_amount": amount, "subject": "两门课", "pay_type": 3}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let no = body["out_trade_no"].as_str().expect("no").to_owned();
    let request = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/v1/checkout/sessions")
        .expect("create request");
    // One line item per course, priced from our catalog, quantity 1, in our currency.
    for (i, (name, fen)) in courses.iter().enumerate() {
        let param = |field: &str| request.param(&format!("line_items[{i}]{field}")).map(str::to_owned);
        assert_eq!(param("[price_data][product_data][name]").as_deref(), Some(name.as_str()), "item {i}");
        assert_eq!(param("[price_data][unit_amount]"), Some(fen.to_string()), "item {i}");
        assert_eq!(param("[price_data][currency]").as_deref(), Some("cny"), "item {i}");
        assert_eq!(param("[quantity]").as_deref(), Some("1"), "item {i}");
    }
    assert!(request.param("line_items[2][quantity]").is_none(), "{request:?}");
    // Stripe's total is the order's: the paid webhook passes the amount check.
    let id = session_of(&body);
    assert_eq!(fake.session(&id).and_then(|s| s.amount_total), Some(total));
    assert_eq!(app.order_row(&no).await.total_amount_fen.fen(), total);
    received(&post_event(&app, &fake.complete_session(&id, true).expect("pay")).await, "paid");
    assert_eq!(app.order_row(&no).await.order_status, OrderStatus::Paid);
    app.drain_outbox().await;
    let mut mine = owned(&app, &token).await;
    mine.sort_unstable();
    assert_eq!(mine, vec![2, 3]);
}

/// Buys course 2 with Stripe and pays it through the webhook; the order number, its total and
/// the PaymentIntent.
async fn paid_stripe_order(app: &TestApp, fake: &FakeStripe, buyer: &str) -> (String, i64, String) {
    let token = app.buyer(buyer).await;
    let body = buy_stripe(app, &token, 2).await;
    let no = body["out_trade_no"].as_str().expect("no").to_owned();
    let id = session_of(&body);
    received(&post_event(app, &fake.complete_session(&id, true).expect("pay")).await, "paid");
    app.drain_outbox().await;
    let fen = app.order_row(&no).await.total_amount_fen.fen();
    let intent = fake.session(&id).and_then(|s| s.payment_intent).expect("payment intent");
    (no, fen, intent)
}

/// Makes the refund job of `out_request_no` due now (its backoff over).
async fn refund_job_due(app: &TestApp) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    for job in shop_db::outbox::list(app.ctx.db(), Some("stripe_refund")).await.expect("jobs") {
        let mut row = job.into_active_model();
        row.next_attempt_at = Set(Utc::now() - chrono::Duration::seconds(1));
        row.update(app.ctx.db()).await.expect("due");
    }
}

async fn refund_row(app: &TestApp, out_request_no: &str) -> shop_db::entities::refund::Model {
    shop_db::payments::refund_by_request_no(app.ctx.db(), out_request_no)
        .await
        .expect("read")
        .expect("refund")
}

async fn a_pending_refund_waits_for_charge_refunded(app: TestApp, fake: FakeStripe) {
    let (no, fen, intent) = paid_stripe_order(&app, &fake, "stripe-pending").await;
    // Stripe accepts the refund as pending: it is in progress, not done.
    fake.simulator().answer_refunds_with(RefundOutcome::Pending);
    let refund = payments::request_refund(&app.ctx, &no, None, "test").await.expect("refund");
    let pass = app.drain_outbox().await;
    assert_eq!((pass.done, pass.retried), (0, 1), "asked again later");
    let order = app.order_row(&no).await;
    assert_eq!(
        (order.order_status, order.refunded_fen.fen()),
        (OrderStatus::Paid, 0),
        "not refunded while pending"
    );
    assert_eq!(
        refund_row(&app, &refund.out_request_no).await.status,
        shop_db::payments::refund_status::PENDING
    );
    // Asked again while still pending: the same refund (idempotent), retrieved, still pending.
    refund_job_due(&app).await;
    assert_eq!(app.drain_outbox().await.retried, 1);
    let sent: Vec<_> = fake.requests().into_iter().filter(|r| r.path == "/v1/refunds").collect();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|r| r.header("Idempotency-Key") == Some(refund.out_request_no.as_str())));
    let re = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.starts_with("/v1/refunds/re_"))
        .expect("the refund retrieved");
    assert_eq!(app.order_row(&no).await.refunded_fen.fen(), 0);

    // The refund succeeds at Stripe; its charge.refunded completes it (once).
    let refund_id = re.path.rsplit('/').next().expect("id").to_owned();
    fake.simulator().settle_refund(&refund_id, true).expect("settle");
    let event = fake.charge_refunded_event(&intent).expect("event");
    received(&post_event(&app, &event).await, "charge.refunded");
    let order = app.order_row(&no).await;
    assert_eq!((order.order_status, order.refunded_fen.fen()), (OrderStatus::Refunded, fen));
    assert_eq!(
        refund_row(&app, &refund.out_request_no).await.status,
        shop_db::payments::refund_status::SUCCEEDED
    );
    received(&post_event(&app, &event).await, "a repeat");
    assert_eq!(app.order_row(&no).await.refunded_fen.fen(), fen, "counted once");
    // The waiting job ends without asking Stripe again.
    refund_job_due(&app).await;
    assert_eq!(app.drain_outbox().await.done, 1);
    assert_eq!(fake.requests().iter().filter(|r| r.path == "/v1/refunds").count(), 2);
    assert_eq!(app.order_row(&no).await.refunded_fen.fen(), fen);

    // requires_action is in progress too; when the webhook is lost, the retrieve completes it.
    let (no, fen, _) = paid_stripe_order(&app, &fake, "stripe-action").await;
    fake.simulator().answer_refunds_with(RefundOutcome::RequiresAction);
    let refund = payments::request_refund(&app.ctx, &no, None, "test").await.expect("refund");
    assert_eq!(app.drain_outbox().await.retried, 1);
    assert_eq!(
        app.order_row(&no).await.order_status,
        OrderStatus::Paid,
        "not refunded while it needs action"
    );
    let re = fake
        .requests()
        .into_iter()
        .rfind(|r| r.method == "GET" && r.path.starts_with("/v1/refunds/re_"))
        .expect("the refund retrieved");
    fake.simulator().settle_refund(re.path.rsplit('/').next().expect("id"), true).expect("settle");
    refund_job_due(&app).await;
    assert_eq!(app.drain_outbox().await.done, 1);
    let order = app.order_row(&no).await;
    assert_eq!((order.order_status, order.refunded_fen.fen()), (OrderStatus::Refunded, fen));
    assert_eq!(
        refund_row(&app, &refund.out_request_no).await.status,
        shop_db::payments::refund_status::SUCCEEDED
    );
}

async fn a_pending_refund_that_fails_leaves_the_money(app: TestApp, fake: FakeStripe) {
    let (no, _, intent) = paid_stripe_order(&app, &fake, "stripe-failing").await;
    fake.simulator().answer_refunds_with(RefundOutcome::Pending);
    let refund = payments::request_refund(&app.ctx, &no, None, "test").await.expect("refund");
    assert_eq!(app.drain_outbox().await.retried, 1);
    let re = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.starts_with("/v1/refunds/re_"))
        .expect("the refund retrieved");
    // The refund fails at Stripe: charge.refunded says nothing was refunded, the retrieve says
    // failed; the order keeps its money and the refund is marked failed for an operator.
    fake.simulator().settle_refund(re.path.rsplit('/').next().expect("id"), false).expect("settle");
    received(
        &post_event(&app, &fake.charge_refunded_event(&intent).expect("event")).await,
        "charge.refunded",
    );
    refund_job_due(&app).await;
    app.drain_outbox().await;
    let order = app.order_row(&no).await;
    assert_eq!((order.order_status, order.refunded_fen.fen()), (OrderStatus::Paid, 0));
    let row = refund_row(&app, &refund.out_request_no).await;
    assert_eq!(row.status, shop_db::payments::refund_status::FAILED, "{row:?}");
    assert!(row.last_error.as_deref().is_some_and(|e| e.contains("failed")), "{row:?}");
}
