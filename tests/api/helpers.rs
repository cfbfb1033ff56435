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
use shop_app::config::{Profile, Settings};
use shop_app::sms::RecordingGateway;
use shop_http::Application;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        shop_http::telemetry::init("pretty", "info");
    }
});

/// A running server and what a test needs to talk to it and look behind it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub ctx: Arc<AppContext>,
    pub sms: Arc<RecordingGateway>,
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
    /// A server with the demo catalog.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// A server whose settings `configure` may change first.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        LazyLock::force(&TRACING);
        let dir = TempDir::new();
        let mut settings = test_settings();
        settings.database.url = SecretString::from(fresh_database(backend, &dir).await);
        settings.database.max_connections = 5;
        settings.media.root = dir.0.join("media");
        settings.server.port = 0;
        settings.server.workers = 1;
        settings.catalog.seed_demo_when_empty = true;
        configure(&mut settings);
        let sms = Arc::new(RecordingGateway::default());
        let ctx = Arc::new(AppContext::init_with(settings, sms.clone()).await.expect("context"));
        let app = Application::build_with_context(Arc::clone(&ctx)).expect("server builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        TestApp { address, client, ctx, sms, _dir: dir }
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
            &self.ctx,
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
