//! Reconciliation against the providers' statements (对账单), run as the operator runs it:
//! `course-shop reconcile --statement <day>` as a process, against the fake Alipay (a zip of
//! GBK CSV files) and the fake WeChat Pay (a backtick CSV checked by its SHA1), both built from
//! the fakes' own trades with every kind of difference planted; on SQLite and Postgres.
use std::process::{Command, Stdio};

use chrono::Utc;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::Value;
use shop_alipay::TradeStatus;
use shop_domain::order::OrderStatus;
use shop_wechatpay::fake::{APP_ID, FakeWechatPay, MCH_ID, MERCHANT_SERIAL_NO, PUBLIC_KEY_ID};

use crate::fake_alipay::{self, FakeGateway};
use crate::helpers::{Backend, TestApp};
use crate::with_gateway_on_both_backends;

const BIN: &str = env!("CARGO_BIN_EXE_course-shop");

/// Today in Beijing (the fakes' trades are today's).
fn today() -> String {
    shop_domain::time::beijing_day(Utc::now()).format("%Y-%m-%d").to_string()
}

/// Runs `course-shop` against the test's database with extra settings; (exit code, stdout,
/// stderr). The process runs on the blocking pool, so the fakes (served by this test's
/// runtime) answer it meanwhile.
async fn course_shop(
    app: &TestApp,
    env: &[(String, String)],
    args: &[&str],
) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("COURSE_SHOP_PROFILE", "test")
        .env("COURSE_SHOP__DATABASE__URL", &app.db_url)
        .env("COURSE_SHOP__MEDIA__ROOT", app.dir.join("media"))
        .env_remove("DATABASE_URL")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out =
        tokio::task::spawn_blocking(move || cmd.output()).await.expect("join").expect("run course-shop");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn alipay_env(gw: &FakeGateway) -> Vec<(String, String)> {
    [
        ("COURSE_SHOP__ALIPAY__MODE", "gateway".to_owned()),
        ("COURSE_SHOP__ALIPAY__GATEWAY_URL", gw.url.clone()),
        ("COURSE_SHOP__ALIPAY__APP_PRIVATE_KEY", fake_alipay::app_private_key()),
        ("COURSE_SHOP__ALIPAY__ALIPAY_PUBLIC_KEY", fake_alipay::alipay_public_key()),
        ("COURSE_SHOP__ALIPAY__HTTP_TIMEOUT_SECONDS", "5".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn yuan(fen: i64) -> String {
    shop_domain::Money::from_fen(fen).expect("amount").to_string()
}

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("--json prints JSON ({e}):\n{stdout}"))
}

/// The entries of `doc[list]` of `kind` for the order `no`.
fn entries<'a>(doc: &'a Value, list: &str, kind: &str, no: &str) -> Vec<&'a Value> {
    doc[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} is an array: {doc}"))
        .iter()
        .filter(|e| e["kind"] == kind && e["out_trade_no"] == no)
        .collect()
}

/// The courses the buyer may use now.
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

with_gateway_on_both_backends!(
    the_alipay_statement_finds_every_difference_once,
    a_broken_statement_applies_nothing
);

async fn the_alipay_statement_finds_every_difference_once(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("statement").await;
    let env = alipay_env(&gw);
    // Matched: paid, and in the statement with the same amount.
    let (matched, matched_fen) = app.order(&token, &[2]).await;
    gw.set_trade(&matched, matched_fen, TradeStatus::TradeSuccess);
    app.pay(&gw, &matched, matched_fen).await;
    // A payment whose notifies were all lost: unpaid here, paid at Alipay.
    let (lost, lost_fen) = app.order(&token, &[3]).await;
    gw.set_trade(&lost, lost_fen, TradeStatus::TradeSuccess);
    // Refunded in full in Alipay's console.
    let (console, console_fen) = app.order(&token, &[4]).await;
    gw.set_trade(&console, console_fen, TradeStatus::TradeSuccess);
    app.pay(&gw, &console, console_fen).await;
    let batch = gw.console_refund(&console, console_fen);
    // Booked at Alipay with another amount.
    let (differs, differs_fen) = app.order(&token, &[5]).await;
    gw.set_trade(&differs, differs_fen, TradeStatus::TradeSuccess);
    app.pay(&gw, &differs, differs_fen).await;
    gw.set_trade(&differs, differs_fen + 100, TradeStatus::TradeSuccess);
    // A trade of somebody else's system.
    gw.set_trade("OTHERSHOP000000000000000000001", 1234, TradeStatus::TradeSuccess);
    // Paid here (a notify), but Alipay's statement does not list it.
    let (unlisted, unlisted_fen) = app.order(&token, &[6]).await;
    app.pay(&gw, &unlisted, unlisted_fen).await;
    assert!(owned(&app, &token).await.contains(&4), "the console-refunded course is owned before");

    let day = today();
    let (code, stdout, stderr) =
        course_shop(&app, &env, &["reconcile", "--statement", &day, "--provider", "alipay", "--json"]).await;
    assert_eq!(code, Some(1), "flagged differences exit 1\n{stdout}\n{stderr}");
    assert!(stderr.contains("3 difference(s) flagged"), "{stderr}");
    let doc = json_of(&stdout);
    assert_eq!(doc["date"], day.as_str());
    assert_eq!(doc["provider"], "alipay");
    // Five payments and one refund in the statement; the matched payment and the console
    // refund's payment match.
    assert_eq!((doc["lines"].as_u64(), doc["matched"].as_u64()), (Some(6), Some(2)), "{doc}");
    for entry in
        doc["applied"].as_array().into_iter().flatten().chain(doc["flagged"].as_array().into_iter().flatten())
    {
        for key in ["kind", "trade_no", "out_trade_no", "amount"] {
            assert!(entry[key].is_string(), "{key} in {entry}");
        }
    }
    let paid = entries(&doc, "applied", "payment", &lost);
    assert_eq!(paid.len(), 1, "{doc}");
    assert_eq!(paid[0]["amount"], yuan(lost_fen));
    assert_eq!(paid[0]["trade_no"], gw.trade_no(&lost));
    let refund = entries(&doc, "applied", "refund", &console);
    assert_eq!(refund.len(), 1, "{doc}");
    assert_eq!(refund[0]["amount"], yuan(console_fen));
    assert_eq!(entries(&doc, "flagged", "amount_differs", &differs).len(), 1, "{doc}");
    assert_eq!(entries(&doc, "flagged", "unknown_trade", "OTHERSHOP000000000000000000001").len(), 1, "{doc}");
    assert_eq!(entries(&doc, "flagged", "not_listed", &unlisted).len(), 1, "{doc}");
    assert_eq!(doc["applied"].as_array().map(Vec::len), Some(2), "{doc}");
    assert_eq!(doc["flagged"].as_array().map(Vec::len), Some(3), "{doc}");

    // Applied through the normal rules: the lost payment is paid and its course granted; the
    // console refund recorded under Alipay's batch number, the order refunded, access revoked.
    assert_eq!(app.order_row(&lost).await.order_status, OrderStatus::Paid);
    let refunded = app.order_row(&console).await;
    assert_eq!((refunded.order_status, refunded.refunded_fen.fen()), (OrderStatus::Refunded, console_fen));
    let row =
        shop_db::payments::refund_by_request_no(app.ctx.db(), &batch).await.expect("q").expect("recorded");
    assert_eq!((row.amount_fen.fen(), row.status.as_str()), (console_fen, "succeeded"));
    let now_owned = owned(&app, &token).await;
    assert!(now_owned.contains(&3) && !now_owned.contains(&4), "{now_owned:?}");
    // Flagged lines changed nothing.
    assert_eq!(app.order_row(&differs).await.order_status, OrderStatus::Paid);
    assert!(
        shop_db::orders::by_out_trade_no(app.ctx.db(), "OTHERSHOP000000000000000000001")
            .await
            .expect("q")
            .is_none()
    );

    // A second run applies nothing again: what was applied now matches; the flagged stay.
    let (code, stdout, _) =
        course_shop(&app, &env, &["reconcile", "--statement", &day, "--provider", "alipay", "--json"]).await;
    assert_eq!(code, Some(1));
    let again = json_of(&stdout);
    assert_eq!(again["applied"].as_array().map(Vec::len), Some(0), "{again}");
    assert_eq!(again["flagged"].as_array().map(Vec::len), Some(3), "{again}");
    assert_eq!(again["matched"].as_u64(), Some(4), "{again}");
    let refunds = shop_db::payments::refunds_of(app.ctx.db(), refunded.id).await.expect("refunds");
    assert_eq!(refunds.len(), 1, "the console refund is recorded once");
    assert_eq!(app.order_row(&console).await.refunded_fen.fen(), console_fen);

    // Without --provider: every configured provider, an array of documents; the table.
    let (_, stdout, _) = course_shop(&app, &env, &["reconcile", "--statement", &day, "--json"]).await;
    let all = json_of(&stdout);
    assert_eq!(
        all.as_array().map(|a| a.iter().map(|d| d["provider"].clone()).collect::<Vec<_>>()),
        Some(vec![Value::from("alipay")])
    );
    let (code, table, _) = course_shop(&app, &env, &["reconcile", "--statement", &day]).await;
    assert_eq!(code, Some(1));
    assert!(table.contains("amount_differs") && table.contains(&differs), "{table}");
    assert!(table.contains("6 line(s): 4 matched, 0 applied, 3 flagged"), "{table}");

    // A day without differences exits 0.
    let (code, table, stderr) =
        course_shop(&app, &env, &["reconcile", "--statement", "2026-01-01", "--provider", "alipay"]).await;
    assert_eq!(code, Some(0), "{table}\n{stderr}");
    assert!(table.contains("no differences") && table.contains("0 line(s)"), "{table}");
    // A day that is not a date is refused.
    let (code, _, stderr) = course_shop(&app, &env, &["reconcile", "--statement", "29.11.2026"]).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("use YYYY-MM-DD"), "{stderr}");

    // The runs are stored and the admin sales endpoint shows them with what they flagged.
    let runs = shop_app::payments::last_runs(&app.ctx, 10).await.expect("runs");
    assert_eq!(runs.len(), 5, "{runs:?}");
    assert_eq!((runs[4].applied.len(), runs[4].flagged.len()), (2, 3));
    let boss = admin(&app).await;
    let (status, sales) = app.get_json_auth("/api/v1/admin/sales/", &format!("jwt {boss}")).await;
    assert_eq!(status, StatusCode::OK, "{sales}");
    let shown = &sales["result"]["reconciliation"];
    assert_eq!(shown.as_array().map(Vec::len), Some(5), "{sales}");
    let first = &shown[4];
    assert_eq!((first["provider"].as_str(), first["date"].as_str()), (Some("alipay"), Some(day.as_str())));
    assert_eq!(
        (
            first["lines"].as_i64(),
            first["matched"].as_i64(),
            first["applied"].as_i64(),
            first["flagged"].as_i64()
        ),
        (Some(6), Some(2), Some(2), Some(3))
    );
    let differences = first["differences"].as_array().expect("differences");
    assert!(
        differences.iter().any(|d| d["outcome"] == "flagged"
            && d["kind"] == "not_listed"
            && d["out_trade_no"] == unlisted.as_str()),
        "{first}"
    );
}

async fn admin(app: &TestApp) -> String {
    shop_app::accounts::add_user(
        &app.ctx.accounts(),
        shop_app::accounts::AddUser {
            username: "boss".into(),
            email: None,
            mobile: None,
            password: secrecy::SecretString::from("correct horse".to_owned()),
            admin: true,
        },
    )
    .await
    .expect("admin");
    app.login("boss", "correct horse").await
}

async fn a_broken_statement_applies_nothing(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("truncated").await;
    let (lost, lost_fen) = app.order(&token, &[7]).await;
    gw.set_trade(&lost, lost_fen, TradeStatus::TradeSuccess);
    gw.truncate_statements(true);
    let (code, stdout, stderr) =
        course_shop(&app, &alipay_env(&gw), &["reconcile", "--statement", &today(), "--provider", "alipay"])
            .await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stderr.contains("statement") && stderr.contains("zip"), "a clear message: {stderr}");
    assert_eq!(app.order_row(&lost).await.order_status, OrderStatus::Unpaid, "nothing applied");
    let runs = shop_app::payments::last_runs(&app.ctx, 10).await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert!(runs[0].error.as_deref().is_some_and(|e| e.contains("zip")), "{runs:?}");
    // A statement file downloaded before (--file) is verified the same way: cut short, it is
    // refused and applies nothing.
    let zip = gw.statement_zip(&today().replace('-', ""));
    let file = app.dir.join("statement.zip");
    std::fs::write(&file, &zip[..zip.len() / 2]).expect("write");
    let path = file.to_str().expect("path");
    let args = ["reconcile", "--statement", &today(), "--provider", "alipay", "--file", path];
    let (code, _, stderr) = course_shop(&app, &alipay_env(&gw), &args).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("zip"), "{stderr}");
    assert_eq!(app.order_row(&lost).await.order_status, OrderStatus::Unpaid, "nothing applied");
    // Once the statement is whole, the same day reconciles and applies the payment.
    gw.truncate_statements(false);
    let (code, stdout, stderr) =
        course_shop(&app, &alipay_env(&gw), &["reconcile", "--statement", &today(), "--provider", "alipay"])
            .await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(app.order_row(&lost).await.order_status, OrderStatus::Paid);
    // The whole file reads as the download does: the payment now matches.
    std::fs::write(&file, &zip).expect("write");
    let (code, table, stderr) = course_shop(&app, &alipay_env(&gw), &args).await;
    assert_eq!(code, Some(0), "{table}\n{stderr}");
    assert!(table.contains("1 line(s): 1 matched, 0 applied, 0 flagged"), "{table}");
}

/// A server with WeChat Pay against the fake, and the settings the command needs for it.
async fn spawn_wechat(backend: Backend) -> (TestApp, FakeWechatPay, Vec<(String, String)>) {
    let fake = FakeWechatPay::start().await.expect("fake WeChat Pay");
    let key = fake.merchant_private_key_pem().expect("key").expose_secret().to_owned();
    let env: Vec<(String, String)> = [
        ("COURSE_SHOP__WECHATPAY__MODE", "gateway".to_owned()),
        ("COURSE_SHOP__WECHATPAY__APP_ID", APP_ID.to_owned()),
        ("COURSE_SHOP__WECHATPAY__MCH_ID", MCH_ID.to_owned()),
        ("COURSE_SHOP__WECHATPAY__MERCHANT_PRIVATE_KEY", key),
        ("COURSE_SHOP__WECHATPAY__MERCHANT_SERIAL_NO", MERCHANT_SERIAL_NO.to_owned()),
        ("COURSE_SHOP__WECHATPAY__PLATFORM_PUBLIC_KEY", fake.wechatpay_public_key_pem()),
        ("COURSE_SHOP__WECHATPAY__PLATFORM_PUBLIC_KEY_ID", PUBLIC_KEY_ID.to_owned()),
        ("COURSE_SHOP__WECHATPAY__API_V3_KEY", fake.api_v3_key().expose().to_owned()),
        ("COURSE_SHOP__WECHATPAY__GATEWAY_URL", fake.base_url().to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = env.clone();
    let app = TestApp::spawn_with(backend, move |s| {
        let get = |k: &str| {
            settings.iter().find(|(n, _)| n.ends_with(k)).map(|(_, v)| v.clone()).unwrap_or_default()
        };
        let w = &mut s.wechatpay;
        w.mode = shop_app::config::AlipayMode::Gateway;
        w.app_id = get("APP_ID");
        w.mch_id = get("MCH_ID");
        w.merchant_private_key = secrecy::SecretString::from(get("MERCHANT_PRIVATE_KEY"));
        w.merchant_serial_no = get("MERCHANT_SERIAL_NO");
        w.platform_public_key = get("__PLATFORM_PUBLIC_KEY");
        w.platform_public_key_id = get("PLATFORM_PUBLIC_KEY_ID");
        w.api_v3_key = secrecy::SecretString::from(get("API_V3_KEY"));
        w.gateway_url = get("GATEWAY_URL");
        s.workers.enabled = false;
    })
    .await;
    (app, fake, env)
}

/// Buys course `id` with WeChat Pay; the order number and amount.
async fn buy_wechat(app: &TestApp, token: &str, id: i64) -> (String, i64) {
    let (_, course) = app.get_json(&format!("/api/v1/course/list/{id}/")).await;
    let price = course["price"].as_str().expect("price").to_owned();
    let (status, body) = app
        .buy(
            token,
            &serde_json::json!({"courses": [id], "total_amount": price, "subject": "数据结构", "pay_type": 2}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["out_trade_no"].as_str().expect("no").to_owned(),
        shop_domain::Money::parse_yuan(&price).expect("price").fen(),
    )
}

/// Posts the signed notification WeChat Pay sends when the buyer pays.
async fn wechat_pays(app: &TestApp, fake: &FakeWechatPay, no: &str) {
    let (headers, body) = fake.pay(no).expect("pay");
    let mut req = app
        .client
        .post(app.url("/api/v1/order/wechat/notify/"))
        .header("Content-Type", "application/json")
        .body(body);
    for (name, value) in headers.to_pairs() {
        req = req.header(name, value);
    }
    assert!(req.send().await.expect("notify").status().is_success());
}

mod the_wechat_pay_bill_finds_every_difference_once {
    #[tokio::test]
    async fn sqlite() {
        super::the_wechat_pay_bill_finds_every_difference_once(crate::helpers::Backend::Sqlite).await;
    }
    #[tokio::test]
    async fn postgres() {
        super::the_wechat_pay_bill_finds_every_difference_once(crate::helpers::Backend::Postgres).await;
    }
}

mod a_late_malformed_line_applies_nothing {
    #[tokio::test]
    async fn sqlite() {
        super::a_late_malformed_line_applies_nothing(crate::helpers::Backend::Sqlite).await;
    }
    #[tokio::test]
    async fn postgres() {
        super::a_late_malformed_line_applies_nothing(crate::helpers::Backend::Postgres).await;
    }
}

/// The start of today (Beijing time), in seconds: planted lines are placed after it.
fn start_of_today() -> i64 {
    shop_domain::time::beijing_day_start(shop_domain::time::beijing_day(Utc::now())).timestamp()
}

/// The statement is compared in batches, but verified whole first: a malformed line after more
/// than a batch of good ones refuses it before its first line (a lost payment) is applied.
async fn a_late_malformed_line_applies_nothing(backend: Backend) {
    let (app, fake, env) = spawn_wechat(backend).await;
    let sim = fake.simulator();
    let start = start_of_today();
    let token = app.buyer("late-malformed").await;
    // The bill's first line: a payment whose notification was lost.
    let (lost, lost_fen) = buy_wechat(&app, &token, 3).await;
    sim.plant_payment(&lost, lost_fen, "数据结构", start + 60);
    // More than a batch of lines after it, then one with a value that splits in two (",`").
    let filler = shop_app::payments::STATEMENT_BATCH + 100;
    for i in 0..filler {
        sim.plant_payment(&format!("OTHERSHOP{i:05}"), 100, "别家的课", start + 120);
    }
    sim.plant_payment("OTHERSHOPBROKEN", 100, "坏,`行", start + 180);
    let (code, stdout, stderr) =
        course_shop(&app, &env, &["reconcile", "--statement", &today(), "--provider", "wechatpay"]).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    // The header is line 1, the lost payment line 2, the filler after it.
    let line = format!("bill line {}", filler + 3);
    assert!(stderr.contains(&line), "the message names the late line ({line}): {stderr}");
    assert_eq!(app.order_row(&lost).await.order_status, OrderStatus::Unpaid, "nothing applied");
    let runs = shop_app::payments::last_runs(&app.ctx, 10).await.expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].error.as_deref().is_some_and(|e| e.contains(&line)), "{runs:?}");
    assert_eq!((runs[0].lines, runs[0].matched), (0, 0));
    assert!(runs[0].applied.is_empty() && runs[0].flagged.is_empty(), "nothing stored: {runs:?}");
}

mod a_statement_of_several_batches {
    #[tokio::test]
    async fn sqlite() {
        super::a_statement_of_several_batches(crate::helpers::Backend::Sqlite).await;
    }
    #[tokio::test]
    async fn postgres() {
        super::a_statement_of_several_batches(crate::helpers::Backend::Postgres).await;
    }
}

/// Lines in different batches are each compared once; an order listed in an early batch is
/// not taken for unlisted at the end; the lines, money and differences add up over batches.
async fn a_statement_of_several_batches(backend: Backend) {
    let (app, fake, env) = spawn_wechat(backend).await;
    let sim = fake.simulator();
    let start = start_of_today();
    let token = app.buyer("batches").await;
    // First batch: a lost payment; the matched payment (paid through its notification) is
    // placed in the first batch too.
    let (first, first_fen) = buy_wechat(&app, &token, 3).await;
    sim.plant_payment(&first, first_fen, "数据结构", start + 60);
    let (matched, matched_fen) = buy_wechat(&app, &token, 2).await;
    wechat_pays(&app, &fake, &matched).await;
    sim.plant_payment(&matched, matched_fen, "数据结构", start + 61);
    // Two batches and more of trades that are not ours, then a second lost payment.
    let batch = shop_app::payments::STATEMENT_BATCH;
    let others = 2 * batch + 10;
    for i in 0..others {
        sim.plant_payment(&format!("OTHERSHOP{i:05}"), 100, "别家的课", start + 120);
    }
    let (last, last_fen) = buy_wechat(&app, &token, 4).await;
    sim.plant_payment(&last, last_fen, "数据结构", start + 180);

    let day = today();
    let (code, stdout, stderr) =
        course_shop(&app, &env, &["reconcile", "--statement", &day, "--provider", "wechatpay", "--json"])
            .await;
    assert_eq!(code, Some(1), "{stderr}");
    let doc = json_of(&stdout);
    let lines = u64::try_from(others + 3).expect("lines");
    assert_eq!((doc["lines"].as_u64(), doc["matched"].as_u64()), (Some(lines), Some(1)));
    assert_eq!(entries(&doc, "applied", "payment", &first).len(), 1);
    assert_eq!(entries(&doc, "applied", "payment", &last).len(), 1);
    assert_eq!(doc["applied"].as_array().map(Vec::len), Some(2));
    let flagged = doc["flagged"].as_array().expect("flagged");
    assert_eq!(flagged.len(), others, "every other trade flagged once, nothing unlisted");
    assert!(flagged.iter().all(|f| f["kind"] == "unknown_trade"));
    assert_eq!(app.order_row(&first).await.order_status, OrderStatus::Paid);
    assert_eq!(app.order_row(&last).await.order_status, OrderStatus::Paid);
    let runs = shop_app::payments::last_runs(&app.ctx, 1).await.expect("runs");
    let money_in = first_fen + matched_fen + last_fen + 100 * i64::try_from(others).expect("n");
    assert_eq!((runs[0].money_in.fen(), runs[0].error.as_deref()), (money_in, None));
    let others_n = i64::try_from(others).expect("n");
    assert_eq!((runs[0].applied_count, runs[0].flagged_count), (2, others_n));
    let shown = shop_app::payments::DIFFERENCES_SHOWN;
    assert_eq!((runs[0].applied.len() as u64, runs[0].flagged.len() as u64), (2, shown));

    // The reports show the counts and the first differences of each outcome, not thousands.
    let session = app.console_session("statement-boss").await;
    let (status, sales) = app.console_get("/api/v1/admin/sales/", &session).await;
    assert_eq!(status, StatusCode::OK, "{sales}");
    let run = &sales["result"]["reconciliation"][0];
    assert_eq!((run["applied"].as_i64(), run["flagged"].as_i64()), (Some(2), Some(others_n)), "{run}");
    let listed = run["differences"].as_array().expect("differences").len() as u64;
    assert_eq!(listed, 2 + shown);
    assert_eq!(run["differences_omitted"].as_i64(), Some(others_n - i64::try_from(shown).expect("n")));
    let html = app.console_page("/admin/sales/?lang=en", &session).await;
    let more = format!(
        "Further differences not listed (course-shop reconcile lists them all): {}",
        others as u64 - shown
    );
    assert!(html.contains(&more), "the console says how many are not listed");
    assert_eq!(html.matches("unknown_trade").count() as u64, shown, "the console lists the first flagged");

    // Again: both payments now match; nothing applied twice.
    let (_, stdout, _) =
        course_shop(&app, &env, &["reconcile", "--statement", &day, "--provider", "wechatpay", "--json"])
            .await;
    let again = json_of(&stdout);
    assert_eq!((again["matched"].as_u64(), again["applied"].as_array().map(Vec::len)), (Some(3), Some(0)));
}

async fn the_wechat_pay_bill_finds_every_difference_once(backend: Backend) {
    let (app, fake, env) = spawn_wechat(backend).await;
    let sim = fake.simulator();
    let now = || Utc::now().timestamp();
    let token = app.buyer("wechat-statement").await;
    // Matched: paid through the notification.
    let (matched, _) = buy_wechat(&app, &token, 2).await;
    wechat_pays(&app, &fake, &matched).await;
    // Paid at WeChat Pay, the notification lost.
    let (lost, lost_fen) = buy_wechat(&app, &token, 3).await;
    fake.pay(&lost).expect("pay without telling the shop");
    // Refunded in part in the merchant console.
    let (console, console_fen) = buy_wechat(&app, &token, 4).await;
    wechat_pays(&app, &fake, &console).await;
    let console_no = sim.console_refund(&console, 1, now()).expect("console refund");
    // Booked with another amount; a trade that is not ours.
    let (differs, differs_fen) = buy_wechat(&app, &token, 5).await;
    wechat_pays(&app, &fake, &differs).await;
    sim.plant_payment(&differs, differs_fen + 1, "数据结构", now());
    sim.plant_payment("OTHERSHOP1", 500, "别家的课", now());
    // Paid here, not in the bill: the fake forgets the payment.
    let (unlisted, _) = buy_wechat(&app, &token, 6).await;
    wechat_pays(&app, &fake, &unlisted).await;
    sim.plant_payment(&unlisted, 1, "x", now() - 3 * 86_400);

    let day = today();
    let (code, stdout, stderr) =
        course_shop(&app, &env, &["reconcile", "--statement", &day, "--provider", "wechatpay", "--json"])
            .await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let doc = json_of(&stdout);
    assert_eq!(doc["provider"], "wechatpay");
    assert_eq!((doc["lines"].as_u64(), doc["matched"].as_u64()), (Some(6), Some(2)), "{doc}");
    assert_eq!(entries(&doc, "applied", "payment", &lost).len(), 1, "{doc}");
    let refund = entries(&doc, "applied", "refund", &console);
    assert_eq!(refund.len(), 1, "{doc}");
    assert_eq!(refund[0]["amount"], "0.01");
    assert_eq!(entries(&doc, "flagged", "amount_differs", &differs).len(), 1, "{doc}");
    assert_eq!(entries(&doc, "flagged", "unknown_trade", "OTHERSHOP1").len(), 1, "{doc}");
    assert_eq!(entries(&doc, "flagged", "not_listed", &unlisted).len(), 1, "{doc}");
    assert_eq!(app.order_row(&lost).await.order_status, OrderStatus::Paid);
    assert_eq!(lost_fen, app.order_row(&lost).await.total_amount_fen.fen());
    let partly = app.order_row(&console).await;
    assert_eq!(
        (partly.order_status, partly.refunded_fen.fen()),
        (OrderStatus::Paid, 1),
        "a partial refund keeps it paid"
    );
    assert!(shop_db::payments::refund_by_request_no(app.ctx.db(), &console_no).await.expect("q").is_some());
    assert!(console_fen > 1);

    // Again: nothing applied twice.
    let (code, stdout, _) =
        course_shop(&app, &env, &["reconcile", "--statement", &day, "--provider", "wechatpay", "--json"])
            .await;
    assert_eq!(code, Some(1));
    let again = json_of(&stdout);
    assert_eq!(
        (again["applied"].as_array().map(Vec::len), again["matched"].as_u64()),
        (Some(0), Some(4)),
        "{again}"
    );
    assert_eq!(app.order_row(&console).await.refunded_fen.fen(), 1);

    // A bill whose body is not what its hash says is refused; nothing applied.
    let (late, late_fen) = buy_wechat(&app, &token, 7).await;
    fake.pay(&late).expect("pay");
    fake.set_fault(Some(shop_wechatpay::fake::Fault::TamperedBody));
    let (code, _, stderr) =
        course_shop(&app, &env, &["reconcile", "--statement", &day, "--provider", "wechatpay"]).await;
    fake.set_fault(None);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("WeChat Pay statement"), "{stderr}");
    assert_eq!(app.order_row(&late).await.order_status, OrderStatus::Unpaid);
    assert!(late_fen > 0);
}
