//! The test harness: a real server on port 0 against a fresh database per test, SQLite or
//! Postgres, and a client that talks to it the way the Vue front end does.
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;
use serde_json::Value;
use shop_app::AppContext;
use shop_app::accounts::{self, AddUser};
use shop_app::config::{AlipayMode, Profile, Settings};
use shop_app::sms::RecordingGateway;
use shop_http::Application;

use crate::fake_alipay::{self, FakeGateway};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Every test server logs (JSON, the production default filter) into [`LOG`], where a test
/// can read what the server wrote ([`logged_lines`]); with `TEST_LOG` set it is also printed.
static TRACING: LazyLock<()> = LazyLock::new(|| {
    let echo = std::env::var_os("TEST_LOG").is_some();
    shop_http::telemetry::init_to("json", "info,sqlx=warn,sea_orm=warn", Box::new(LogCapture { echo }));
});

/// What the test servers logged; the older half is let go beyond 16 MiB.
static LOG: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogCapture {
    echo: bool,
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.echo {
            std::io::stdout().write_all(buf)?;
        }
        let mut log = LOG.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if log.len() > 16 << 20 {
            let half = log.len() / 2;
            let cut = log[half..].iter().position(|&b| b == b'\n').map_or(log.len(), |i| half + i + 1);
            log.drain(..cut);
        }
        log.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The lines the test servers logged that carry `request_id` (JSON objects), once written:
/// waits up to 5 s for at least one.
pub fn logged_lines(request_id: &str) -> Vec<(String, Value)> {
    let needle = format!("\"request_id\":\"{request_id}\"");
    for _ in 0..100 {
        shop_http::telemetry::flush();
        let log = LOG.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let lines: Vec<(String, Value)> = String::from_utf8_lossy(&log)
            .lines()
            .filter(|l| l.contains(&needle))
            .map(|l| (l.to_owned(), serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))))
            .collect();
        if !lines.is_empty() {
            return lines;
        }
        drop(log);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Vec::new()
}

/// A server in Alipay gateway mode, talking to a fake gateway; workers off (tests drive the
/// outbox and expiry passes themselves).
pub async fn spawn_with_gateway(backend: Backend) -> (TestApp, FakeGateway) {
    let gateway = FakeGateway::start().await;
    let app = TestApp::spawn_with(backend, |s| gateway_settings(s, &gateway)).await;
    (app, gateway)
}

/// Points `settings` at the fake gateway with the TEST-ONLY keys.
pub fn gateway_settings(s: &mut Settings, gateway: &FakeGateway) {
    s.alipay.mode = AlipayMode::Gateway;
    s.alipay.app_private_key = SecretString::from(fake_alipay::app_private_key());
    s.alipay.alipay_public_key = fake_alipay::alipay_public_key();
    s.alipay.gateway_url = gateway.url.clone();
    s.alipay.http_timeout_seconds = 1;
    s.workers.enabled = false;
}

/// A running server and what a test needs to talk to it and look behind it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub ctx: Arc<AppContext>,
    pub sms: Arc<RecordingGateway>,
    pub db_url: String,
    /// The test's own directory (media, mail, SQLite file).
    pub dir: PathBuf,
    _dir: TempDir,
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("course-shop-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn test_settings() -> Settings {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    Settings::load(Some(Profile::Test), Some(&dir)).expect("test settings")
}

/// A fresh, empty database for one test; its URL.
pub async fn fresh_database(backend: Backend, dir: &TempDir) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}/shop.db?mode=rwc", dir.0.display()),
        Backend::Postgres => {
            let admin = std::env::var("TEST_DATABASE_URL").expect(
                "TEST_DATABASE_URL is not set: the Postgres half of the suite needs a server. \
                 Run scripts/test.sh (it starts a throwaway cluster) or set TEST_DATABASE_URL.",
            );
            let name = format!("cs_test_{}", uuid::Uuid::new_v4().simple());
            let conn = Database::connect(&admin).await.expect("connect to TEST_DATABASE_URL");
            conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create database");
            conn.close().await.expect("close admin connection");
            let (base, _) = admin.rsplit_once('/').expect("URL has a database path");
            format!("{base}/{name}")
        }
    }
}

impl TestApp {
    /// Runs statements on the Postgres server as its administrator (TEST_DATABASE_URL), with
    /// `{db}` standing for this server's database name; the rows of the last one.
    async fn as_admin(&self, statements: &[&str]) -> Vec<sea_orm::QueryResult> {
        let admin = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
        let (_, name) = self.db_url.rsplit_once('/').expect("URL has a database path");
        let conn = Database::connect(&admin).await.expect("connect to TEST_DATABASE_URL");
        let mut rows = Vec::new();
        for sql in statements {
            rows = conn
                .query_all_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    sql.replace("{db}", name),
                ))
                .await
                .expect("an administrator's statement");
        }
        conn.close().await.expect("close admin connection");
        rows
    }

    /// Takes the Postgres database away from the server, as an outage would: it accepts no
    /// new connection, and every open one (of each worker's pool and of the shared pool) is
    /// terminated.
    pub async fn cut_database(&self) {
        self.as_admin(&[
            "ALTER DATABASE \"{db}\" WITH ALLOW_CONNECTIONS false",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'",
        ])
        .await;
    }

    /// Gives the Postgres database back after [`TestApp::cut_database`].
    pub async fn restore_database(&self) {
        self.as_admin(&["ALTER DATABASE \"{db}\" WITH ALLOW_CONNECTIONS true"]).await;
    }

    /// Terminates every connection the server holds to its Postgres database (as a restart
    /// of Postgres does), leaving new connections allowed; how many.
    pub async fn terminate_connections(&self) -> u64 {
        let rows = self
            .as_admin(&[
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()",
            ])
            .await;
        rows.len() as u64
    }

    /// A server with the demo catalog.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// A server whose settings `configure` may change first.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        let dir = TempDir::new();
        let url = fresh_database(backend, &dir).await;
        Self::start(dir, url, configure).await
    }

    async fn start(dir: TempDir, url: String, configure: impl FnOnce(&mut Settings)) -> Self {
        LazyLock::force(&TRACING);
        let mut settings = test_settings();
        settings.database.url = SecretString::from(url.clone());
        settings.database.max_connections = 5;
        settings.media.root = dir.0.join("media");
        settings.server.port = 0;
        settings.server.workers = 1;
        settings.catalog.seed_demo_when_empty = true;
        settings.alipay.simulator_key_dir = dir.0.join("alipay-simulator");
        settings.storage.local_root = dir.0.join("private-media");
        settings.email.file_dir = dir.0.join("mail");
        configure(&mut settings);
        let sms = Arc::new(RecordingGateway::default());
        let ctx = Arc::new(AppContext::init_with(settings, sms.clone()).await.expect("context"));
        let app = Application::build_with_context(Arc::clone(&ctx)).expect("server builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        TestApp { address, client, ctx, sms, db_url: url, dir: dir.0.clone(), _dir: dir }
    }

    /// The backend of this server's database.
    pub fn backend(&self) -> Backend {
        if self.db_url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres }
    }

    /// A server on an existing database (another process of the same shop).
    pub async fn spawn_on(url: &str, configure: impl FnOnce(&mut Settings)) -> Self {
        Self::start(TempDir::new(), url.to_owned(), configure).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// GET a path; status and JSON body (Null when the body is not JSON).
    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let res = self.client.get(self.url(path)).send().await.expect("request");
        json_of(res).await
    }

    /// GET with a token in the Luffy front end's format.
    pub async fn get_json_auth(&self, path: &str, authorization: &str) -> (StatusCode, Value) {
        let res = self
            .client
            .get(self.url(path))
            .header("Authorization", authorization)
            .send()
            .await
            .expect("request");
        json_of(res).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let res = self.client.post(self.url(path)).json(body).send().await.expect("request");
        json_of(res).await
    }

    /// Creates an account through the operator use case.
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        mobile: Option<&str>,
        email: Option<&str>,
    ) -> i64 {
        accounts::add_user(
            &self.ctx.accounts(),
            AddUser {
                username: username.into(),
                email: email.map(Into::into),
                mobile: mobile.map(Into::into),
                password: SecretString::from(password.to_owned()),
                admin: false,
            },
        )
        .await
        .expect("user created")
        .id
    }

    /// Logs in with a password; the token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .post_json(
                "/api/v1/user/user/mul_login/",
                &serde_json::json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }
}

pub async fn json_of(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Runs an async test fn taking a gateway-mode app and its fake Alipay gateway, on SQLite
/// and on Postgres, as two tests.
#[macro_export]
macro_rules! with_gateway_on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let (app, gw) = $crate::helpers::spawn_with_gateway($crate::helpers::Backend::Sqlite).await;
                    super::$name(app, gw).await;
                }
                #[tokio::test]
                async fn postgres() {
                    let (app, gw) = $crate::helpers::spawn_with_gateway($crate::helpers::Backend::Postgres).await;
                    super::$name(app, gw).await;
                }
            }
        )+
    };
}

/// Runs an async test fn against SQLite and against Postgres, as two tests.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await).await;
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name($crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await).await;
                }
            }
        )+
    };
}

impl TestApp {
    /// A new buyer, logged in; the token.
    pub async fn buyer(&self, username: &str) -> String {
        self.create_user(username, "correct horse", None, None).await;
        self.login(username, "correct horse").await
    }

    /// POSTs a purchase as the Luffy front end does.
    pub async fn buy(&self, token: &str, body: &Value, idempotency_key: Option<&str>) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(self.url("/api/v1/order/alipay/"))
            .header("Authorization", format!("jwt {token}"))
            .json(body);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        json_of(req.send().await.expect("request")).await
    }

    /// Buys courses at their listed prices; the order number and amount in fen.
    pub async fn order(&self, token: &str, course_ids: &[i64]) -> (String, i64) {
        let mut total = 0;
        for id in course_ids {
            let (_, c) = self.get_json(&format!("/api/v1/course/list/{id}/")).await;
            total +=
                shop_domain::Money::parse_yuan(c["price"].as_str().expect("price")).expect("price").fen();
        }
        let amount = shop_domain::Money::from_fen(total).expect("money").to_string();
        let (status, body) =
            self.buy(token, &serde_json::json!({"courses": course_ids, "total_amount": amount, "subject": "课程", "pay_type": 1}), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (body["out_trade_no"].as_str().expect("out_trade_no").to_owned(), total)
    }

    /// POSTs raw bytes to the notify endpoint, form-encoded as Alipay sends it; status and text.
    pub async fn post_notify_bytes(&self, body: Vec<u8>) -> (StatusCode, String) {
        let res = self
            .client
            .post(self.url("/api/v1/order/success/"))
            .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = res.status();
        (status, res.text().await.expect("text"))
    }

    /// POSTs a notify body; status and text.
    pub async fn post_notify(&self, body: String) -> (StatusCode, String) {
        self.post_notify_bytes(body.into_bytes()).await
    }

    /// The order row.
    pub async fn order_row(&self, out_trade_no: &str) -> shop_db::entities::order::Model {
        shop_db::orders::by_out_trade_no(self.ctx.db(), out_trade_no)
            .await
            .expect("query")
            .expect("order exists")
    }
}

impl TestApp {
    /// Pays an order with a signed notify and runs the outbox until it is idle (links
    /// issued, emails attempted).
    pub async fn pay(&self, gw: &FakeGateway, out_trade_no: &str, total_fen: i64) {
        let body = gw.sign(&gw.paid_notify(out_trade_no, total_fen, shop_alipay::TradeStatus::TradeSuccess));
        let (_, text) = self.post_notify(body).await;
        assert_eq!(text, "success");
        self.drain_outbox().await;
    }

    /// Runs outbox passes until one does nothing (at most 20).
    pub async fn drain_outbox(&self) -> shop_app::jobs::OutboxPass {
        let mut total = shop_app::jobs::OutboxPass::default();
        for _ in 0..20 {
            let pass = shop_app::worker::run_once(&self.ctx).await.expect("outbox pass");
            total.done += pass.done;
            total.retried += pass.retried;
            total.failed += pass.failed;
            if pass.done + pass.retried + pass.failed == 0 {
                break;
            }
        }
        total
    }

    /// Uploads a file for a course, as `course-shop media put` does.
    pub async fn upload(
        &self,
        course: i64,
        name: &str,
        bytes: &[u8],
        target: shop_app::delivery::MediaTarget,
    ) -> String {
        let path = self.dir.join(format!("upload-{}-{name}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, bytes).expect("write upload");
        let renamed = path.with_file_name(name);
        std::fs::rename(&path, &renamed).expect("rename");
        let up = shop_app::delivery::put_media(&self.ctx.delivery(), course, &renamed, target, &|_, _| {})
            .await
            .expect("upload");
        std::fs::remove_file(&renamed).ok();
        up.key
    }

    /// A buyer with an email address, logged in; the token.
    pub async fn buyer_with_email(&self, username: &str) -> String {
        self.create_user(username, "correct horse", None, Some(&format!("{username}@example.com"))).await;
        self.login(username, "correct horse").await
    }
}
