//! WeChat Pay Native end to end, on SQLite and Postgres through the real server: creating an
//! order with `pay_type: 2` (a Native order at the fake WeChat Pay, `code_url`, our QR
//! cashier), the notification matrix (valid, ten concurrent duplicates, replayed, tampered,
//! wrong key, wrong amount, wrong mchid and appid, unknown order, malformed, stale timestamp,
//! signature probe, missing headers), polling that queries WeChat Pay, expiry that closes the
//! trade, refunds (`PROCESSING`, then the refund notification), and the development simulator's
//! "scan and pay" button. The fake (`shop_wechatpay::fake`) plays WeChat Pay over HTTP with real
//! keys; our verification is never stubbed.
use chrono::Utc;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use shop_app::config::AlipayMode;
use shop_app::payments;
use shop_db::entities::payment_notify;
use shop_domain::order::OrderStatus;
use shop_wechatpay::fake::{APP_ID, FakeWechatPay, MCH_ID, MERCHANT_SERIAL_NO, PUBLIC_KEY_ID};
use shop_wechatpay::gateway::WechatPayGateway;
use shop_wechatpay::{ApiV3Key, MerchantPrivateKey, SignatureHeaders, TradeState, Transaction};

use crate::helpers::{Backend, TestApp};

const NOTIFY: &str = "/api/v1/order/wechat/notify/";

/// A server with WeChat Pay in gateway mode against the fake; workers off.
async fn spawn(backend: Backend) -> (TestApp, FakeWechatPay) {
    let fake = FakeWechatPay::start().await.expect("fake WeChat Pay");
    let key = fake.merchant_private_key_pem().expect("key").expose_secret().to_owned();
    let public = fake.wechatpay_public_key_pem();
    let v3 = fake.api_v3_key().expose().to_owned();
    let base = fake.base_url().to_owned();
    let app = TestApp::spawn_with(backend, |s| {
        let w = &mut s.wechatpay;
        w.mode = AlipayMode::Gateway;
        w.app_id = APP_ID.into();
        w.mch_id = MCH_ID.into();
        w.merchant_private_key = SecretString::from(key);
        w.merchant_serial_no = MERCHANT_SERIAL_NO.into();
        w.platform_public_key = public;
        w.platform_public_key_id = PUBLIC_KEY_ID.into();
        w.api_v3_key = SecretString::from(v3);
        w.gateway_url = base;
        s.alipay.http_timeout_seconds = 2;
        s.workers.enabled = false;
    })
    .await;
    (app, fake)
}

macro_rules! with_wechat_on_both_backends {
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

with_wechat_on_both_backends!(
    pay_type_2_shows_a_qr_cashier_and_a_valid_notification_pays_once,
    bad_notifications_change_nothing,
    polling_queries_wechat_pay_and_refunds_go_through_it,
    expiry_asks_wechat_pay_and_closes_the_trade,
);

crate::on_both_backends!(wechat_pay_that_is_not_enabled_is_refused, the_simulator_pays_with_its_button);

/// Buys course `id` with `pay_type` 2; the answer.
async fn buy_wechat(app: &TestApp, token: &str, id: i64) -> Value {
    let (_, course) = app.get_json(&format!("/api/v1/course/list/{id}/")).await;
    let price = course["price"].as_str().expect("price").to_owned();
    let (status, body) = app
        .buy(
            token,
            &json!({"courses": [id], "total_amount": price, "subject": "Python 全栈开发", "pay_type": 2}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// POSTs a notification with its headers; status and JSON body (Null for none).
async fn notify(
    app: &TestApp,
    headers: &SignatureHeaders,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let mut req = app.client.post(app.url(NOTIFY)).header("Content-Type", "application/json").body(body);
    for (name, value) in headers.to_pairs() {
        req = req.header(name, value);
    }
    let res = req.send().await.expect("notify");
    let status = res.status();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn refused(answer: &(StatusCode, Value), what: &str) {
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{what}: {}", answer.1);
    assert_eq!(answer.1["code"], "FAIL", "{what}: {}", answer.1);
    assert!(answer.1["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {}", answer.1);
}

async fn audit(app: &TestApp, verdict: &str) -> usize {
    payment_notify::Entity::find()
        .filter(payment_notify::Column::Verdict.eq(verdict))
        .all(app.ctx.db())
        .await
        .expect("audit")
        .len()
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

async fn pay_type_2_shows_a_qr_cashier_and_a_valid_notification_pays_once(app: TestApp, fake: FakeWechatPay) {
    let token = app.buyer("wx-buyer").await;
    let body = buy_wechat(&app, &token, 2).await;
    let no = body["out_trade_no"].as_str().expect("out_trade_no").to_owned();
    let code_url = body["code_url"].as_str().expect("code_url");
    assert!(code_url.starts_with("weixin://wxpay/"), "{body}");
    let pay_url = body["pay_url"].as_str().expect("pay_url");
    assert_eq!(pay_url, app.url(&format!("/pay/wechat/?out_trade_no={no}")), "our cashier");
    // The Native order WeChat Pay got: our number, the amount in fen, +08:00 deadline.
    let created = fake.order(&no).expect("a Native order at WeChat Pay");
    let fen = created.total_fen().expect("amount");
    assert_eq!(app.order_row(&no).await.total_amount_fen.fen(), fen);
    let request =
        fake.requests().into_iter().find(|r| r.path_and_query.ends_with("/native")).expect("create request");
    let sent: Value = serde_json::from_slice(&request.body).expect("json");
    assert_eq!((sent["appid"].as_str(), sent["mchid"].as_str()), (Some(APP_ID), Some(MCH_ID)));
    assert!(sent["time_expire"].as_str().is_some_and(|t| t.ends_with("+08:00")), "{sent}");
    assert_eq!(sent["notify_url"], app.url(NOTIFY));
    // The order answer and the order list carry our cashier; the cashier draws the code.
    let page = app.client.get(pay_url).send().await.expect("cashier");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("data:image/svg+xml;base64,") && html.contains("/pay/wechat/cashier.js"), "{html}");
    assert!(!html.contains("/dev/wechatpay/pay"), "no simulator button in gateway mode");
    // Repeating the purchase answers the same order and code.
    let again = buy_wechat(&app, &token, 2).await;
    assert_eq!(
        (again["out_trade_no"].as_str(), again["code_url"].as_str()),
        (Some(no.as_str()), Some(code_url))
    );
    assert_eq!(status_code(&app, &no).await, 101);

    // The buyer pays; WeChat Pay's notification, ten copies at once: paid exactly once.
    let (headers, payment) = fake.pay(&no).expect("pay");
    let answers =
        futures_util::future::join_all((0..10).map(|_| notify(&app, &headers, payment.clone()))).await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::NO_CONTENT, "{body}");
    }
    let order = app.order_row(&no).await;
    assert_eq!(order.order_status, OrderStatus::Paid);
    assert!(order.trade_no.as_deref().is_some_and(|t| t.starts_with("42")), "{:?}", order.trade_no);
    assert_eq!(audit(&app, "accepted").await, 1);
    assert_eq!(audit(&app, "duplicate").await, 9);
    assert_eq!(shop_db::outbox::list(app.ctx.db(), Some("order_paid")).await.expect("jobs").len(), 1);
    // Replayed later: still 204, nothing more.
    assert_eq!(notify(&app, &headers, payment.clone()).await.0, StatusCode::NO_CONTENT);
    assert_eq!(audit(&app, "accepted").await, 1);
    app.drain_outbox().await;
    assert_eq!(status_code(&app, &no).await, 100);
    assert_eq!(owned(&app, &token).await, vec![2]);
    // The cashier of a paid order says so.
    let html = app.client.get(pay_url).send().await.expect("cashier").text().await.expect("html");
    assert!(html.contains("支付成功") && !html.contains("<img"), "{html}");
}

/// A transaction of `no` as WeChat Pay would notify it once paid, changed by `change`.
fn paid(fake: &FakeWechatPay, no: &str, change: impl FnOnce(&mut Transaction)) -> Transaction {
    let mut tx = fake.order(no).expect("order at WeChat Pay");
    tx.trade_state = TradeState::Success;
    tx.transaction_id = Some("4200000000202611300000000001".into());
    tx.success_time = Some("2026-11-30T18:00:00+08:00".into());
    change(&mut tx);
    tx
}

async fn bad_notifications_change_nothing(app: TestApp, fake: FakeWechatPay) {
    let token = app.buyer("wx-careful").await;
    let body = buy_wechat(&app, &token, 2).await;
    let no = body["out_trade_no"].as_str().expect("out_trade_no").to_owned();
    let gateway = fake.gateway();
    let now = Utc::now().timestamp();
    let signed = |tx: &Transaction| gateway.payment_notification(tx, now).expect("notification");

    // Another key playing WeChat Pay (same id, same APIv3 key): the signature fails.
    let impostor = WechatPayGateway::new(
        MerchantPrivateKey::generate().expect("key"),
        PUBLIC_KEY_ID,
        ApiV3Key::parse(fake.api_v3_key().expose()).expect("v3"),
        MCH_ID,
        MERCHANT_SERIAL_NO,
        MerchantPrivateKey::generate().expect("key").public_key().expect("public"),
    )
    .expect("impostor");
    let (h, b) = impostor.payment_notification(&paid(&fake, &no, |_| {}), now).expect("notification");
    refused(&notify(&app, &h, b).await, "wrong key");
    // Encrypted with another APIv3 key (signed correctly): decryption fails.
    let other_v3 = WechatPayGateway::new(
        MerchantPrivateKey::parse(fake.wechatpay_private_key_pem().expect("pem").expose_secret())
            .expect("key"),
        PUBLIC_KEY_ID,
        ApiV3Key::parse("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345").expect("v3"),
        MCH_ID,
        MERCHANT_SERIAL_NO,
        MerchantPrivateKey::generate().expect("key").public_key().expect("public"),
    )
    .expect("gateway");
    let (h, b) = other_v3.payment_notification(&paid(&fake, &no, |_| {}), now).expect("notification");
    refused(&notify(&app, &h, b).await, "another APIv3 key");
    // Genuine but not for this order or merchant.
    let (h, b) = signed(&paid(&fake, &no, |tx| tx.amount.as_mut().expect("amount").total = Some(1)));
    refused(&notify(&app, &h, b).await, "wrong amount");
    let (h, b) = signed(&paid(&fake, &no, |tx| tx.mchid = "1900000000".into()));
    refused(&notify(&app, &h, b).await, "wrong mchid");
    let (h, b) = signed(&paid(&fake, &no, |tx| tx.appid = "wx0000000000000000".into()));
    refused(&notify(&app, &h, b).await, "wrong appid");
    let (h, b) = signed(&paid(&fake, &no, |tx| tx.out_trade_no = "CS20261130000000DEADBEEF00000000".into()));
    refused(&notify(&app, &h, b).await, "unknown order");
    // Tampered after signing: one byte of the body changed.
    let (h, b) = signed(&paid(&fake, &no, |_| {}));
    let tampered = b.replacen("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESs", 1);
    assert_ne!(tampered, b);
    refused(&notify(&app, &h, tampered).await, "tampered");
    // Malformed, correctly signed.
    let garbage = b"{not json".to_vec();
    let h = gateway.sign(&garbage, now).expect("sign");
    refused(&notify(&app, &h, garbage).await, "malformed");
    // Stale timestamp (10 minutes old), signed correctly for it.
    let h = gateway.sign_with(b.as_bytes(), now - 600, "STALE0123456789").expect("sign");
    refused(&notify(&app, &h, b.clone()).await, "stale timestamp");
    // A signature probe.
    let (mut h, b2) = signed(&paid(&fake, &no, |_| {}));
    h.signature = format!("WECHATPAY/SIGNTEST/{}", h.signature);
    refused(&notify(&app, &h, b2).await, "signature probe");
    // No signature headers at all.
    let res = app.client.post(app.url(NOTIFY)).body(b.clone()).send().await.expect("notify");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // A NUL character in the JSON: answered in WeChat Pay's format, like any bad signature
    // (a schemathesis finding: the NUL guard answered with our envelope).
    let with_nul = b.replacen('{', r#"{"x":"\u0000","#, 1);
    refused(&notify(&app, &h, with_nul).await, "NUL in the body");

    assert_eq!(app.order_row(&no).await.order_status, OrderStatus::Unpaid, "nothing changed");
    assert_eq!(audit(&app, "rejected").await, 12, "every refusal audited");
    let reasons: Vec<String> = payment_notify::Entity::find()
        .filter(payment_notify::Column::Verdict.eq("rejected"))
        .all(app.ctx.db())
        .await
        .expect("audit")
        .into_iter()
        .map(|r| r.reason)
        .collect();
    // Each refusal for its own reason (not all for a signature that never verified).
    for why in [
        "signature",
        "resource",
        "differs from the order",
        "mchid",
        "appid",
        "not one of our orders",
        "malformed",
        "tolerance",
        "probe",
    ] {
        assert!(
            reasons.iter().any(|r| r.starts_with("wechatpay: ") && r.to_lowercase().contains(why)),
            "{why}: {reasons:#?}"
        );
    }
    assert_eq!(audit(&app, "accepted").await, 0);
    assert!(shop_db::outbox::list(app.ctx.db(), Some("order_paid")).await.expect("jobs").is_empty());
    // The genuine one still pays.
    let (h, b) = signed(&paid(&fake, &no, |_| {}));
    assert_eq!(notify(&app, &h, b).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.order_row(&no).await.order_status, OrderStatus::Paid);
}

async fn polling_queries_wechat_pay_and_refunds_go_through_it(app: TestApp, fake: FakeWechatPay) {
    let token = app.buyer("wx-poller").await;
    let no = buy_wechat(&app, &token, 2).await["out_trade_no"].as_str().expect("no").to_owned();
    let fen = app.order_row(&no).await.total_amount_fen.fen();
    // Paid at WeChat Pay, the notification lost: the status poll asks and applies the answer.
    let _lost = fake.pay(&no).expect("pay");
    assert_eq!(status_code(&app, &no).await, 100);
    assert_eq!(app.order_row(&no).await.order_status, OrderStatus::Paid);
    app.drain_outbox().await;
    assert_eq!(owned(&app, &token).await, vec![2]);

    // A refund: WeChat Pay answers PROCESSING, the job waits; the REFUND.SUCCESS notification
    // settles it (once).
    let refund = payments::request_refund(&app.ctx, &no, None, "test").await.expect("refund");
    let jobs = shop_db::outbox::list(app.ctx.db(), Some("wechatpay_refund")).await.expect("jobs");
    assert_eq!(jobs.len(), 1, "the job names the provider");
    app.drain_outbox().await;
    let sent =
        fake.requests().into_iter().filter(|r| r.path_and_query == "/v3/refund/domestic/refunds").count();
    assert!(sent >= 1, "the refund was asked for");
    assert_eq!(app.order_row(&no).await.order_status, OrderStatus::Paid, "not refunded while PROCESSING");
    let (h, b) = fake.complete_refund(&refund.out_request_no).expect("complete");
    assert_eq!(notify(&app, &h, b.clone()).await.0, StatusCode::NO_CONTENT);
    assert_eq!(notify(&app, &h, b).await.0, StatusCode::NO_CONTENT, "a repeat is answered too");
    let order = app.order_row(&no).await;
    assert_eq!((order.order_status, order.refunded_fen.fen()), (OrderStatus::Refunded, fen));
    let row = shop_db::payments::refund_by_request_no(app.ctx.db(), &refund.out_request_no)
        .await
        .expect("read")
        .expect("refund");
    assert_eq!(row.status, shop_db::payments::refund_status::SUCCEEDED);
    // WeChat Pay's order query now says REFUND: money was received, never "unpaid".
    assert_eq!(fake.order(&no).expect("order").trade_state, TradeState::Refund);
}

async fn expiry_asks_wechat_pay_and_closes_the_trade(app: TestApp, fake: FakeWechatPay) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let token = app.buyer("wx-late").await;
    let no = buy_wechat(&app, &token, 2).await["out_trade_no"].as_str().expect("no").to_owned();
    let mut row = app.order_row(&no).await.into_active_model();
    row.expires_at = Set(Some(Utc::now() - chrono::Duration::minutes(1)));
    row.update(app.ctx.db()).await.expect("overdue");
    let outcome = payments::expire_due_orders(&app.ctx).await.expect("sweep");
    assert_eq!(outcome, vec![(no.clone(), payments::ExpiryOutcome::Expired)]);
    assert_eq!(shop_db::outbox::list(app.ctx.db(), Some("wechatpay_close")).await.expect("jobs").len(), 1);
    app.drain_outbox().await;
    assert_eq!(fake.order(&no).expect("order").trade_state, TradeState::Closed, "closed at WeChat Pay");
    assert_eq!(app.order_row(&no).await.order_status, OrderStatus::Expired);
}

async fn wechat_pay_that_is_not_enabled_is_refused(app: TestApp) {
    let token = app.buyer("wx-none").await;
    let (_, course) = app.get_json("/api/v1/course/list/2/").await;
    let price = course["price"].clone();
    for pay_type in [json!(2), json!("2"), json!(3), json!(0)] {
        let body = json!({"courses": [2], "total_amount": price, "subject": "x", "pay_type": pay_type});
        let (status, answer) = app.buy(&token, &body, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{pay_type}: {answer}");
        assert_eq!(answer["code"], 1000, "{answer}");
        assert!(
            answer["errors"]["pay_type"].is_array() || answer["errors"]["pay_type"].is_string(),
            "{answer}"
        );
    }
    let res = app.client.post(app.url(NOTIFY)).body("{}").send().await.expect("notify");
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "no WeChat Pay here");
}

async fn the_simulator_pays_with_its_button(app: TestApp) {
    // The test profile leaves WeChat Pay off; a server of its own turns its simulator on, as
    // the development profile does. Its own database: a worker of the first server would take
    // this server's WeChat Pay jobs and put them off (WeChat Pay is not enabled there).
    let app = TestApp::spawn_with(app.backend(), |s| {
        s.wechatpay.mode = AlipayMode::Simulator;
        s.wechatpay.app_id = "wx0000000000000001".into();
        s.wechatpay.mch_id = "1900000001".into();
        s.workers.enabled = false;
    })
    .await;
    let token = app.buyer("wx-dev").await;
    let body = buy_wechat(&app, &token, 2).await;
    let no = body["out_trade_no"].as_str().expect("no").to_owned();
    let html = app.client.get(body["pay_url"].as_str().expect("pay_url")).send().await.expect("page");
    let html = html.text().await.expect("html");
    assert!(html.contains("/dev/wechatpay/pay") && html.contains("data:image/svg+xml"), "{html}");
    let res = app
        .client
        .post(app.url("/dev/wechatpay/pay"))
        .form(&[("out_trade_no", no.as_str())])
        .send()
        .await
        .expect("pay");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_code(&app, &no).await, 100);
    app.drain_outbox().await;
    assert_eq!(owned(&app, &token).await, vec![2]);
    // Paying twice is refused by the simulator; the order stays paid once.
    let res =
        app.client.post(app.url("/dev/wechatpay/pay")).form(&[("out_trade_no", no.as_str())]).send().await;
    assert_eq!(res.expect("pay").status(), StatusCode::BAD_REQUEST);
}
