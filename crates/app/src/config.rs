//! Layered, typed configuration.
//!
//! Order (later wins): the compiled-in `config/default.toml` and `config/<profile>.toml`, the
//! same files from a `config/` directory on disk when present, `DATABASE_URL` / `PORT`, then
//! `COURSE_SHOP__<SECTION>__<KEY>` variables. Secrets are [`SecretString`]s: `Debug` prints
//! them redacted, so logging the settings cannot leak them.
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");
const DEVELOPMENT_TOML: &str = include_str!("../../../config/development.toml");
const TEST_TOML: &str = include_str!("../../../config/test.toml");
const PRODUCTION_TOML: &str = include_str!("../../../config/production.toml");

/// The development JWT secret of `config/development.toml`; production refuses it.
const DEVELOPMENT_JWT_SECRET: &str = "development-only-jwt-secret-do-not-use-in-production";
const TEST_JWT_SECRET: &str = "test-only-jwt-secret-0123456789abcdef0123456789";

/// Which set of defaults and rules applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Local development: embedded SQLite, demo data, permissive CORS, SMS codes in the log.
    Development,
    /// The test suite.
    Test,
    /// Production: secrets required, development values refused.
    Production,
}

impl Profile {
    /// Parses `development`, `test` or `production`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "development" | "dev" => Some(Profile::Development),
            "test" => Some(Profile::Test),
            "production" | "prod" => Some(Profile::Production),
            _ => None,
        }
    }

    /// The profile's name, as in its file name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Development => "development",
            Profile::Test => "test",
            Profile::Production => "production",
        }
    }

    fn embedded(self) -> &'static str {
        match self {
            Profile::Development => DEVELOPMENT_TOML,
            Profile::Test => TEST_TOML,
            Profile::Production => PRODUCTION_TOML,
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// All settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// The active profile (set by the loader, not read from files).
    #[serde(skip, default = "default_profile")]
    pub profile: Profile,
    /// HTTP server.
    pub server: ServerSettings,
    /// Database.
    pub database: DatabaseSettings,
    /// Tokens, passwords and login limits.
    pub auth: AuthSettings,
    /// SMS codes.
    pub sms: SmsSettings,
    /// Cross-origin access for the SPA.
    pub cors: CorsSettings,
    /// Wire behaviour.
    pub api: ApiSettings,
    /// In-memory catalog.
    pub catalog: CatalogSettings,
    /// Static media.
    pub media: MediaSettings,
    /// Logging.
    pub log: LogSettings,
    /// API documentation.
    pub docs: DocsSettings,
    /// Alipay.
    pub alipay: AlipaySettings,
    /// WeChat Pay.
    pub wechatpay: WechatPaySettings,
    /// Stripe.
    pub stripe: StripeSettings,
    /// The outbox worker.
    pub outbox: OutboxSettings,
    /// Background workers.
    pub workers: WorkersSettings,
    /// `[reconciliation]`.
    pub reconciliation: ReconciliationSettings,
    /// Outgoing email.
    pub email: EmailSettings,
    /// Private media (videos, materials).
    pub storage: StorageSettings,
    /// Delivery of what was bought.
    pub delivery: DeliverySettings,
}

/// `[email]`.
#[derive(Debug, Clone, Deserialize)]
pub struct EmailSettings {
    /// `file` or `smtp`.
    pub transport: EmailTransport,
    /// Where `file` writes `.eml` files.
    pub file_dir: PathBuf,
    /// The From header.
    pub from: String,
    /// `zh`, `en` or `both`.
    pub language: EmailLanguage,
    /// SMTP server.
    pub smtp_host: String,
    /// SMTP port.
    pub smtp_port: u16,
    /// SMTP user (empty: no authentication).
    pub smtp_username: String,
    /// SMTP password.
    pub smtp_password: SecretString,
    /// `none`, `starttls` or `tls`.
    pub smtp_tls: SmtpTls,
    /// Timeout of one SMTP exchange.
    pub timeout_seconds: u64,
    /// Lets the production profile keep `transport = "file"` (which sends nothing); off by
    /// default, so that a production server never writes purchase emails to disk by mistake.
    #[serde(default)]
    pub allow_file_transport_in_production: bool,
}

/// How emails leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTransport {
    /// `.eml` files in a directory.
    File,
    /// An SMTP server.
    Smtp,
}

/// Language of buyer emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailLanguage {
    /// Chinese.
    Zh,
    /// English.
    En,
    /// Chinese, then English.
    Both,
}

/// SMTP transport security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (local relays, tests).
    None,
    /// STARTTLS upgrade.
    Starttls,
    /// Implicit TLS.
    Tls,
}

/// `[storage]`.
#[derive(Debug, Clone, Deserialize)]
pub struct StorageSettings {
    /// `local` or `s3`.
    pub backend: StorageBackend,
    /// Directory of the `local` backend.
    pub local_root: PathBuf,
    /// S3 bucket.
    pub s3_bucket: String,
    /// S3 region.
    pub s3_region: String,
    /// S3 endpoint (empty: AWS).
    pub s3_endpoint: String,
    /// S3 access key id.
    pub s3_access_key_id: String,
    /// S3 secret key.
    pub s3_secret_access_key: SecretString,
    /// Allow `http://` endpoints.
    pub s3_allow_http: bool,
    /// Lifetime of signed URLs in seconds (at most 900).
    pub url_ttl_seconds: u64,
}

/// Where private media live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// A local directory.
    Local,
    /// An S3-compatible object store.
    S3,
}

/// `[delivery]`.
#[derive(Debug, Clone, Deserialize)]
pub struct DeliverySettings {
    /// Downloads allowed per private link.
    pub downloads_per_link: i32,
    /// Orders without an account (checkout with only an email) per client address and hour.
    pub guest_orders_per_address_per_hour: u32,
    /// Orders without an account per email address and hour.
    pub guest_orders_per_email_per_hour: u32,
}

/// `[alipay]`.
#[derive(Debug, Clone, Deserialize)]
pub struct AlipaySettings {
    /// `gateway` or `simulator`.
    pub mode: AlipayMode,
    /// Our app id.
    pub app_id: String,
    /// The app private key text (PEM or base64).
    pub app_private_key: SecretString,
    /// A file holding the app private key.
    pub app_private_key_file: String,
    /// Alipay's public key text.
    pub alipay_public_key: String,
    /// A file holding Alipay's public key.
    pub alipay_public_key_file: String,
    /// The gateway.
    pub gateway_url: String,
    /// Our merchant PID, if checked.
    pub seller_id: String,
    /// Notify URL; empty derives it from the public URL.
    pub notify_url: String,
    /// Return URL; empty derives it from the public URL.
    pub return_url: String,
    /// Minutes an unpaid order stays payable.
    pub order_timeout_minutes: i64,
    /// Least seconds between two active queries of one order.
    pub query_interval_seconds: i64,
    /// Timeout of one gateway call.
    pub http_timeout_seconds: u64,
    /// What to do with money for a cancelled order.
    pub late_payment: LatePayment,
    /// Seconds between expiry sweeps.
    pub expiry_check_seconds: u64,
    /// Where simulator keys are kept.
    pub simulator_key_dir: PathBuf,
}

/// How orders are paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlipayMode {
    /// Real Alipay (or a sandbox or fake gateway).
    Gateway,
    /// The built-in cashier simulator.
    Simulator,
}

/// `[wechatpay]`: WeChat Pay API v3, Native payment. Enabled when `mch_id` is set or in
/// simulator mode. Order deadlines, query intervals, timeouts and the late-payment policy are
/// the shop's, in `[alipay]`.
#[derive(Debug, Clone, Deserialize)]
pub struct WechatPaySettings {
    /// `gateway` or `simulator`.
    pub mode: AlipayMode,
    /// The app id (`appid`) the Native orders are made for.
    pub app_id: String,
    /// Our merchant id (`mchid`); empty: WeChat Pay is off (in gateway mode).
    pub mch_id: String,
    /// The merchant API private key (PKCS#8 PEM).
    pub merchant_private_key: SecretString,
    /// A file holding the merchant API private key.
    pub merchant_private_key_file: String,
    /// The serial number of the merchant API certificate.
    pub merchant_serial_no: String,
    /// The WeChat Pay public key (SPKI PEM).
    pub platform_public_key: String,
    /// A file holding the WeChat Pay public key.
    pub platform_public_key_file: String,
    /// The WeChat Pay public key's id (`PUB_KEY_ID_...`).
    pub platform_public_key_id: String,
    /// The APIv3 key (32 characters).
    pub api_v3_key: SecretString,
    /// The API base URL.
    pub gateway_url: String,
    /// Notify URL; empty derives it from the public URL.
    pub notify_url: String,
}

impl WechatPaySettings {
    /// Whether WeChat Pay is offered: in simulator mode, or with a merchant id.
    pub fn enabled(&self) -> bool {
        self.mode == AlipayMode::Simulator || !self.mch_id.is_empty()
    }
}

/// `[stripe]`: Stripe Checkout (cards). Enabled when `secret_key` is set or in simulator mode.
/// Order deadlines, query intervals, timeouts and the late-payment policy are the shop's, in
/// `[alipay]`.
#[derive(Debug, Clone, Deserialize)]
pub struct StripeSettings {
    /// `gateway` or `simulator`.
    pub mode: AlipayMode,
    /// The secret API key (`sk_live_...`, `sk_test_...` or a restricted `rk_...`); empty: Stripe
    /// is off (in gateway mode).
    pub secret_key: SecretString,
    /// The webhook endpoint's signing secret (`whsec_...`), used as given.
    pub webhook_secret: SecretString,
    /// The API base URL.
    pub api_base: String,
    /// The currency of the Checkout Sessions (lower-case ISO code); amounts are the prices in
    /// its smallest unit (fen for `cny`).
    pub currency: String,
    /// Where Stripe sends the buyer after paying (`{OUT_TRADE_NO}` is replaced by the order
    /// number); empty: `<public_url>/pay/result/?out_trade_no=<number>`.
    pub success_url: String,
    /// Where Stripe sends the buyer who cancels (`{OUT_TRADE_NO}` as above); empty: the same
    /// result page.
    pub cancel_url: String,
}

impl StripeSettings {
    /// Whether Stripe is offered: in simulator mode, or with a secret key.
    pub fn enabled(&self) -> bool {
        self.mode == AlipayMode::Simulator || !self.secret_key.expose_secret().is_empty()
    }
}

/// Policy for money that arrives for a cancelled or expired order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatePayment {
    /// Refund it through the outbox.
    Refund,
    /// Keep it and treat the order as paid.
    Grant,
}

/// `[outbox]`.
#[derive(Debug, Clone, Deserialize)]
pub struct OutboxSettings {
    /// Milliseconds between polls.
    pub poll_interval_ms: u64,
    /// Seconds a claimed job is reserved for its worker.
    pub lease_seconds: i64,
    /// Attempts before a job is marked failed.
    pub max_attempts: i32,
    /// First retry delay.
    pub backoff_base_seconds: i64,
    /// Largest retry delay.
    pub backoff_max_seconds: i64,
    /// With at least this many HTTP requests in progress in the process, the worker pauses
    /// after each batch as long as the batch took instead of running them one after another
    /// (0: never holds back).
    pub yield_at_requests: usize,
    /// Seconds a job may wait past its due time before the worker catches up: when the oldest
    /// job of a full batch was due at least this long ago, the worker runs bigger batches
    /// back to back and does not yield to requests until it is back on time (0: never).
    pub catch_up_after_seconds: u64,
}

/// `[reconciliation]`: the daily reconciliation against the providers' statements.
#[derive(Debug, Clone, Deserialize)]
pub struct ReconciliationSettings {
    /// Whether `serve`'s worker reconciles the previous day's statements every day.
    pub daily: bool,
    /// From which hour (Beijing time, 0–23) of a day the worker reconciles the day before
    /// (the providers publish a day's statement the next morning).
    pub hour: u32,
}

/// `[workers]`.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkersSettings {
    /// Run the expiry and outbox workers in `serve`.
    pub enabled: bool,
}

fn default_profile() -> Profile {
    Profile::Development
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    /// Address to bind.
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// Absolute base URL of links in responses; empty derives it from host and port.
    pub public_url: String,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
    /// Largest JSON body in bytes.
    pub json_limit_bytes: usize,
    /// Proxy hops whose `X-Forwarded-For` entries are trusted.
    pub trusted_proxy_hops: usize,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// Connection URL (may hold a password).
    pub url: SecretString,
    /// Pool size.
    pub max_connections: u32,
    /// Seconds to wait for a connection.
    pub acquire_timeout_seconds: u64,
    /// Postgres: longest a statement may run, in milliseconds (0: no limit).
    pub statement_timeout_ms: u64,
    /// Postgres: longest a statement waits for a lock, in milliseconds (0: no limit).
    pub lock_timeout_ms: u64,
    /// SQLite: longest a statement waits for another connection's write lock, in milliseconds.
    pub busy_timeout_ms: u64,
    /// Apply migrations at start-up.
    pub migrate_on_start: bool,
}

/// `[auth]`.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    /// HS256 secret.
    pub jwt_secret: SecretString,
    /// Token lifetime.
    pub token_ttl_hours: i64,
    /// Clock skew tolerated on `exp`, and on `iat` and `nbf` in the future.
    pub leeway_seconds: u64,
    /// `iss` of issued tokens, required on received ones.
    pub issuer: String,
    /// Login attempts per client address and minute.
    pub login_attempts_per_minute: u32,
    /// Registration attempts per client address and minute.
    pub register_attempts_per_minute: u32,
    /// Lifetime of a login session of the seller's console (`/admin/`).
    pub console_session_hours: i64,
}

/// `[sms]`.
#[derive(Debug, Clone, Deserialize)]
pub struct SmsSettings {
    /// `log` or `disabled`.
    pub sender: SmsSender,
    /// Lifetime of a code.
    pub code_ttl_seconds: i64,
    /// Least time between two codes to one number.
    pub resend_interval_seconds: i64,
    /// Most codes per number and hour.
    pub max_per_hour: u64,
    /// Most codes sent on behalf of one client address per hour.
    pub max_per_address_per_hour: u32,
    /// Most codes the whole shop sends per hour.
    pub max_overall_per_hour: u32,
    /// Wrong guesses before a code is void.
    pub max_attempts: i32,
}

/// How SMS codes are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsSender {
    /// Written to the server log (development).
    Log,
    /// Not configured: sending fails with a clear answer.
    Disabled,
}

/// `[cors]`.
#[derive(Debug, Clone, Deserialize)]
pub struct CorsSettings {
    /// Allowed origins, or `["*"]` in development.
    pub allowed_origins: Vec<String>,
}

/// `[api]`.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiSettings {
    /// Answer 4xx business errors with HTTP 200 (tutorial front-end compatibility).
    pub business_errors_as_200: bool,
    /// The language of `msg` and of the pages when `Accept-Language` names neither `zh`
    /// nor `en` (or is absent).
    #[serde(default)]
    pub default_language: crate::i18n::Lang,
    /// Banners on the home page.
    pub banner_count: usize,
    /// Page size when none is asked for.
    pub default_page_size: u64,
    /// Largest page size (larger requests are lowered to it; at most
    /// `shop_domain::paging::PageRequest::MAX_SIZE` take effect).
    pub max_page_size: u64,
}

/// `[catalog]`.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogSettings {
    /// Seconds within which a catalog change or a learner count is visible (the revision and
    /// the noted learner changes are checked twice per interval).
    pub refresh_seconds: u64,
    /// Seconds within which every learner count is read again whole (twice per interval), the
    /// backstop of the noted changes; no reload.
    pub stats_refresh_seconds: u64,
    /// Seed the demo catalog into an empty database at start-up.
    pub seed_demo_when_empty: bool,
}

/// `[media]`.
#[derive(Debug, Clone, Deserialize)]
pub struct MediaSettings {
    /// Directory served at `/media/`.
    pub root: PathBuf,
    /// Avatar of users without one, relative to the media root.
    pub default_icon: String,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// `pretty` or `json`.
    pub format: String,
    /// `RUST_LOG`-style filter (the `RUST_LOG` variable wins when set).
    pub filter: String,
}

/// `[docs]`.
#[derive(Debug, Clone, Deserialize)]
pub struct DocsSettings {
    /// Serve Swagger UI and the spec.
    pub enabled: bool,
}

/// Why the settings could not be loaded or are not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Files or variables could not be read or do not fit the types.
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// `COURSE_SHOP_PROFILE` names no profile.
    #[error("unknown profile {0:?}: use development, test or production")]
    Profile(String),
    /// A setting is missing or not acceptable for the profile.
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads the settings of `profile` (or of `COURSE_SHOP_PROFILE`, default development)
    /// from the embedded files, `config_dir` (or `COURSE_SHOP_CONFIG_DIR`, default
    /// `./config`) and the environment, then checks them with [`Settings::validate`].
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting that is missing or wrong.
    pub fn load(profile: Option<Profile>, config_dir: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(profile, config_dir, std::env::vars().collect())
    }

    /// [`Settings::load`] with the environment given as a map (tests pass their own).
    ///
    /// Environment values are strings and stay strings: a setting is converted to its type
    /// (number, boolean) when the settings are deserialized, so a secret made of digits is
    /// never reinterpreted as a number. The one list, `cors.allowed_origins`, is split on
    /// commas.
    ///
    /// # Errors
    /// As [`Settings::load`].
    pub fn load_with_env(
        profile: Option<Profile>,
        config_dir: Option<&Path>,
        mut env: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let profile = match profile {
            Some(p) => p,
            None => match env.get("COURSE_SHOP_PROFILE") {
                Some(name) if !name.is_empty() => {
                    Profile::parse(name).ok_or_else(|| ConfigError::Profile(name.clone()))?
                }
                _ => Profile::Development,
            },
        };
        let dir = config_dir.map(Path::to_path_buf).unwrap_or_else(|| {
            env.get("COURSE_SHOP_CONFIG_DIR").map_or_else(|| PathBuf::from("config"), PathBuf::from)
        });
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .add_source(File::from_str(profile.embedded(), FileFormat::Toml))
            .add_source(File::from(dir.join("default.toml")).required(false))
            .add_source(File::from(dir.join(format!("{}.toml", profile.name()))).required(false));
        // Conventional shortcuts, below the explicit COURSE_SHOP__ variables.
        if let (Some(url), false) = (env.get("DATABASE_URL"), env.contains_key("COURSE_SHOP__DATABASE__URL"))
        {
            builder = builder.set_override("database.url", url.clone())?;
        }
        if let (Some(port), false) = (env.get("PORT"), env.contains_key("COURSE_SHOP__SERVER__PORT")) {
            builder = builder.set_override("server.port", port.clone())?;
        }
        if let Some(origins) = env.remove("COURSE_SHOP__CORS__ALLOWED_ORIGINS") {
            let list: Vec<String> =
                origins.split(',').map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned).collect();
            builder = builder.set_override("cors.allowed_origins", list)?;
        }
        let env: config::Map<String, String> =
            env.into_iter().filter(|(k, _)| k.starts_with("COURSE_SHOP__")).collect();
        builder = builder.add_source(
            Environment::with_prefix("COURSE_SHOP").prefix_separator("__").separator("__").source(Some(env)),
        );
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        settings.profile = profile;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what the profile requires: a database URL of a supported kind, a JWT secret
    /// of at least 32 bytes; in production no development secret, no SMS codes in the log,
    /// no `*` CORS origin.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the setting and the variable that sets it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        let url = self.database.url.expose_secret();
        if url.is_empty() {
            return invalid(format!(
                "database.url is required in the {} profile: set COURSE_SHOP__DATABASE__URL or DATABASE_URL",
                self.profile
            ));
        }
        if shop_db::backend_of(url).is_none() {
            return invalid("database.url must start with postgres://, postgresql:// or sqlite:".into());
        }
        let secret = self.auth.jwt_secret.expose_secret();
        if secret.is_empty() {
            return invalid(format!(
                "auth.jwt_secret is required in the {} profile: set COURSE_SHOP__AUTH__JWT_SECRET to at least 32 random bytes",
                self.profile
            ));
        }
        if secret.len() < 32 {
            return invalid(
                "auth.jwt_secret must be at least 32 bytes (COURSE_SHOP__AUTH__JWT_SECRET)".into(),
            );
        }
        if self.alipay.order_timeout_minutes < 1 || self.alipay.order_timeout_minutes > 15 * 24 * 60 {
            return invalid("alipay.order_timeout_minutes must be between 1 and 21600 (15 days)".into());
        }
        if self.reconciliation.hour > 23 {
            return invalid("reconciliation.hour must be between 0 and 23 (Beijing time)".into());
        }
        if shop_stripe::checkout::check_currency(&self.stripe.currency).is_err() {
            return invalid("stripe.currency must be a lower-case ISO currency code, e.g. cny".into());
        }
        if self.storage.url_ttl_seconds == 0 || self.storage.url_ttl_seconds > 900 {
            return invalid("storage.url_ttl_seconds must be between 1 and 900 (15 minutes)".into());
        }
        if self.storage.backend == StorageBackend::S3 && self.storage.s3_bucket.is_empty() {
            return invalid("storage.s3_bucket is required with storage.backend = \"s3\"".into());
        }
        if self.delivery.downloads_per_link < 1 {
            return invalid("delivery.downloads_per_link must be at least 1".into());
        }
        if self.api.max_page_size == 0 || self.api.default_page_size == 0 {
            return invalid("api.default_page_size and api.max_page_size must be positive".into());
        }
        let wildcard = self.cors.allowed_origins.iter().any(|o| o == "*");
        if wildcard && self.profile != Profile::Development {
            return invalid("cors.allowed_origins may contain \"*\" in the development profile only".into());
        }
        if self.profile == Profile::Production {
            if secret == DEVELOPMENT_JWT_SECRET || secret == TEST_JWT_SECRET {
                return invalid(
                    "auth.jwt_secret is a development value: set COURSE_SHOP__AUTH__JWT_SECRET to a real secret".into(),
                );
            }
            let a = &self.alipay;
            if a.mode == AlipayMode::Simulator {
                return invalid(
                    "alipay.mode = \"simulator\" is for development and tests: not allowed in production"
                        .into(),
                );
            }
            if a.app_id.is_empty() {
                return invalid(
                    "alipay.app_id is required in production (COURSE_SHOP__ALIPAY__APP_ID)".into(),
                );
            }
            if a.app_private_key.expose_secret().is_empty() && a.app_private_key_file.is_empty() {
                return invalid(
                    "alipay.app_private_key (or app_private_key_file) is required in production (COURSE_SHOP__ALIPAY__APP_PRIVATE_KEY)".into(),
                );
            }
            if a.alipay_public_key.is_empty() && a.alipay_public_key_file.is_empty() {
                return invalid(
                    "alipay.alipay_public_key (or alipay_public_key_file) is required in production (COURSE_SHOP__ALIPAY__ALIPAY_PUBLIC_KEY)".into(),
                );
            }
            if a.notify_url.is_empty() && self.server.public_url.is_empty() {
                return invalid("alipay.notify_url or server.public_url is required in production: Alipay must reach the notify endpoint".into());
            }
            let w = &self.wechatpay;
            if w.mode == AlipayMode::Simulator {
                return invalid(
                    "wechatpay.mode = \"simulator\" is for development and tests: not allowed in production"
                        .into(),
                );
            }
            if w.enabled() {
                let missing = [
                    ("app_id", w.app_id.is_empty()),
                    ("merchant_serial_no", w.merchant_serial_no.is_empty()),
                    (
                        "merchant_private_key (or merchant_private_key_file)",
                        w.merchant_private_key.expose_secret().is_empty()
                            && w.merchant_private_key_file.is_empty(),
                    ),
                    (
                        "platform_public_key (or platform_public_key_file)",
                        w.platform_public_key.is_empty() && w.platform_public_key_file.is_empty(),
                    ),
                    ("platform_public_key_id", w.platform_public_key_id.is_empty()),
                    ("api_v3_key", w.api_v3_key.expose_secret().is_empty()),
                ];
                if let Some((key, _)) = missing.iter().find(|(_, missing)| *missing) {
                    let env = key.split(' ').next().unwrap_or(key).to_uppercase();
                    return invalid(format!(
                        "wechatpay.{key} is required in production when wechatpay.mch_id is set (COURSE_SHOP__WECHATPAY__{env})"
                    ));
                }
                if w.notify_url.is_empty() && self.server.public_url.is_empty() {
                    return invalid("wechatpay.notify_url or server.public_url is required in production: WeChat Pay must reach the notify endpoint".into());
                }
            }
            let st = &self.stripe;
            if st.mode == AlipayMode::Simulator {
                return invalid(
                    "stripe.mode = \"simulator\" is for development and tests: not allowed in production"
                        .into(),
                );
            }
            if st.enabled() {
                if st.webhook_secret.expose_secret().is_empty() {
                    return invalid("stripe.webhook_secret is required in production when stripe.secret_key is set (COURSE_SHOP__STRIPE__WEBHOOK_SECRET)".into());
                }
                if (st.success_url.is_empty() || st.cancel_url.is_empty())
                    && self.server.public_url.is_empty()
                {
                    return invalid("stripe.success_url and stripe.cancel_url, or server.public_url, are required in production: Stripe sends the buyer back there".into());
                }
            }
            if self.sms.sender == SmsSender::Log {
                return invalid(
                    "sms.sender = \"log\" would write login codes to the log: not allowed in production"
                        .into(),
                );
            }
            if self.email.transport == EmailTransport::File && !self.email.allow_file_transport_in_production
            {
                return invalid(
                    "email.transport = \"file\" writes purchase emails to disk and sends nothing: set email.transport = \"smtp\" (COURSE_SHOP__EMAIL__TRANSPORT) with email.smtp_host, or email.allow_file_transport_in_production = true to keep files on purpose".into(),
                );
            }
        }
        Ok(())
    }

    /// The absolute base URL of links, given the port actually bound.
    pub fn public_url(&self, bound_port: u16) -> String {
        let configured = self.server.public_url.trim_end_matches('/');
        if configured.is_empty() {
            let host = match self.server.host.as_str() {
                "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
                other => other,
            };
            format!("http://{host}:{bound_port}")
        } else {
            configured.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_env(profile: Profile, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::load_with_env(Some(profile), Some(Path::new("/nonexistent-config-dir")), env)
    }

    fn load(profile: Profile) -> Result<Settings, ConfigError> {
        // An empty directory and environment: only the embedded files apply.
        load_env(profile, &[])
    }

    #[test]
    fn environment_values_keep_their_text_and_convert_to_the_field_type() {
        let digits = "12345678901234567890123456789012345678901234567890";
        let s = load_env(
            Profile::Development,
            &[
                ("COURSE_SHOP__AUTH__JWT_SECRET", digits),
                ("COURSE_SHOP__ALIPAY__APP_ID", "0021000123456789"),
                ("COURSE_SHOP__API__BUSINESS_ERRORS_AS_200", "true"),
                ("COURSE_SHOP__CORS__ALLOWED_ORIGINS", "https://a.example, https://b.example"),
                ("PORT", "9000"),
                ("DATABASE_URL", "sqlite://shortcut.db"),
                ("COURSE_SHOP__DATABASE__URL", "sqlite://explicit.db"),
                ("UNRELATED", "x"),
            ],
        )
        .expect("settings");
        assert_eq!(s.auth.jwt_secret.expose_secret(), digits, "a secret of digits stays exactly as given");
        assert_eq!(s.alipay.app_id, "0021000123456789", "leading zeros kept");
        assert!(s.api.business_errors_as_200);
        assert_eq!(s.server.port, 9000);
        assert_eq!(s.cors.allowed_origins, ["https://a.example", "https://b.example"]);
        assert_eq!(s.database.url.expose_secret(), "sqlite://explicit.db", "the explicit variable wins");
        let port = load_env(Profile::Development, &[("PORT", "eighty")]);
        assert!(port.is_err(), "a port that is not a number is refused");
    }

    #[test]
    fn development_runs_with_no_setup() {
        let s = load(Profile::Development).expect("development settings");
        assert!(s.database.url.expose_secret().starts_with("sqlite://"));
        assert_eq!(s.server.port, 8000);
        assert_eq!(s.public_url(8000), "http://127.0.0.1:8000");
    }

    #[test]
    fn secrets_are_not_printed() {
        let s = load(Profile::Development).expect("development settings");
        let printed = format!("{s:?}");
        assert!(!printed.contains(DEVELOPMENT_JWT_SECRET));
        assert!(!printed.contains("course-shop.db"));
    }

    #[test]
    fn production_names_the_missing_setting() {
        let mut s = load(Profile::Development).expect("development settings");
        s.profile = Profile::Production;
        s.sms.sender = SmsSender::Disabled;
        s.cors.allowed_origins = vec!["https://shop.example.com".into()];
        let err = s.validate().map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("auth.jwt_secret is a development value")), "{err:?}");
        s.auth.jwt_secret = SecretString::from("y".repeat(40));
        let err = s.validate().map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("\"simulator\" is for development")), "{err:?}");
        s.alipay.mode = AlipayMode::Gateway;
        s.alipay.app_id.clear();
        let err = s.validate().map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("alipay.app_id is required")), "{err:?}");
        s.alipay.app_id = "2021000123456789".into();
        let err = s.validate().map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("alipay.app_private_key")), "{err:?}");
        s.alipay.app_private_key_file = "/etc/course-shop/app_private_key.pem".into();
        let err = s.validate().map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("alipay.alipay_public_key")), "{err:?}");
        s.alipay.alipay_public_key_file = "/etc/course-shop/alipay_public_key.pem".into();
        s.server.public_url = "https://api.example.com".into();
        // The development profile's WeChat Pay and Stripe simulators (see the tests below).
        s.wechatpay.mode = AlipayMode::Gateway;
        s.wechatpay.mch_id.clear();
        s.stripe.mode = AlipayMode::Gateway;

        s.auth.jwt_secret = SecretString::from("");
        let err = s.validate().map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("COURSE_SHOP__AUTH__JWT_SECRET")), "{err:?}");

        s.auth.jwt_secret = SecretString::from("x".repeat(40));
        s.database.url = SecretString::from("");
        let err = s.validate().map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("database.url is required")), "{err:?}");

        s.database.url = SecretString::from("postgres://shop@db/shop");
        let err = s.validate().map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("email.transport = \"file\"")), "{err:?}");
        s.email.allow_file_transport_in_production = true;
        assert!(s.validate().is_ok(), "files kept on purpose");
        s.email.allow_file_transport_in_production = false;
        s.email.transport = EmailTransport::Smtp;
        assert!(s.validate().is_ok());
        s.sms.sender = SmsSender::Log;
        assert!(s.validate().is_err());
    }

    #[test]
    fn production_refuses_the_wechatpay_simulator_and_missing_keys() {
        let mut s = load(Profile::Development).expect("development settings");
        assert!(s.wechatpay.enabled(), "the development profile plays WeChat Pay");
        s.stripe.mode = AlipayMode::Gateway;
        s.profile = Profile::Production;
        s.sms.sender = SmsSender::Disabled;
        s.cors.allowed_origins = vec!["https://shop.example.com".into()];
        s.auth.jwt_secret = SecretString::from("y".repeat(40));
        s.alipay.mode = AlipayMode::Gateway;
        s.alipay.app_private_key_file = "/etc/course-shop/app_private_key.pem".into();
        s.alipay.alipay_public_key_file = "/etc/course-shop/alipay_public_key.pem".into();
        s.server.public_url = "https://api.example.com".into();
        s.database.url = SecretString::from("postgres://shop@db/shop");
        s.email.allow_file_transport_in_production = true;
        let err = s.validate().map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("wechatpay.mode = \"simulator\"")), "{err:?}");
        s.wechatpay.mode = AlipayMode::Gateway;
        // mch_id set: every key is required, named with its variable.
        let wanted = [
            "wechatpay.merchant_serial_no",
            "COURSE_SHOP__WECHATPAY__MERCHANT_PRIVATE_KEY",
            "COURSE_SHOP__WECHATPAY__PLATFORM_PUBLIC_KEY)",
            "wechatpay.platform_public_key_id",
            "COURSE_SHOP__WECHATPAY__API_V3_KEY",
        ];
        let fixes: [&dyn Fn(&mut Settings); 5] = [
            &|s| s.wechatpay.merchant_serial_no = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into(),
            &|s| s.wechatpay.merchant_private_key_file = "/etc/course-shop/apiclient_key.pem".into(),
            &|s| s.wechatpay.platform_public_key_file = "/etc/course-shop/pub_key.pem".into(),
            &|s| s.wechatpay.platform_public_key_id = "PUB_KEY_ID_0119000001".into(),
            &|s| s.wechatpay.api_v3_key = SecretString::from("a".repeat(32)),
        ];
        for (message, fix) in wanted.iter().zip(fixes) {
            let err = s.validate().map_err(|e| e.to_string());
            assert!(matches!(&err, Err(m) if m.contains(message)), "{message}: {err:?}");
            fix(&mut s);
        }
        assert!(s.validate().is_ok(), "{:?}", s.validate().map_err(|e| e.to_string()));
        // Without a merchant id WeChat Pay is off, and nothing of it is required.
        let mut off = load(Profile::Test).expect("test settings");
        assert!(!off.wechatpay.enabled(), "off unless configured");
        off.wechatpay.mch_id = "1900000109".into();
        assert!(off.wechatpay.enabled());
    }

    #[test]
    fn production_refuses_the_stripe_simulator_and_missing_keys() {
        let mut s = load(Profile::Development).expect("development settings");
        assert!(s.stripe.enabled(), "the development profile plays Stripe");
        s.profile = Profile::Production;
        s.sms.sender = SmsSender::Disabled;
        s.cors.allowed_origins = vec!["https://shop.example.com".into()];
        s.auth.jwt_secret = SecretString::from("y".repeat(40));
        s.alipay.mode = AlipayMode::Gateway;
        s.alipay.app_private_key_file = "/etc/course-shop/app_private_key.pem".into();
        s.alipay.alipay_public_key_file = "/etc/course-shop/alipay_public_key.pem".into();
        s.database.url = SecretString::from("postgres://shop@db/shop");
        s.email.allow_file_transport_in_production = true;
        s.wechatpay.mode = AlipayMode::Gateway;
        s.wechatpay.mch_id.clear();
        s.server.public_url = "https://api.example.com".into();
        let err = s.validate().map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("stripe.mode = \"simulator\"")), "{err:?}");
        s.stripe.mode = AlipayMode::Gateway;
        assert!(!s.stripe.enabled(), "off without a secret key");
        assert!(s.validate().is_ok(), "{:?}", s.validate().map_err(|e| e.to_string()));
        s.stripe.secret_key = SecretString::from("sk_live_123");
        let err = s.validate().map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("COURSE_SHOP__STRIPE__WEBHOOK_SECRET")), "{err:?}");
        s.stripe.webhook_secret = SecretString::from("whsec_123");
        assert!(s.validate().is_ok());
        s.server.public_url.clear();
        s.alipay.notify_url = "https://api.example.com/api/v1/order/success/".into();
        let err = s.validate().map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("stripe.success_url")), "{err:?}");
        s.stripe.success_url = "https://shop.example.com/paid?no={OUT_TRADE_NO}".into();
        s.stripe.cancel_url = "https://shop.example.com/cancelled".into();
        assert!(s.validate().is_ok(), "{:?}", s.validate().map_err(|e| e.to_string()));
        s.stripe.currency = "CNY".into();
        let err = s.validate().map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("stripe.currency")), "{err:?}");
    }

    #[test]
    fn production_without_environment_refuses_to_start() {
        // The production profile has no database URL and no secret of its own.
        let err = load(Profile::Production).map(|_| ()).map_err(|e| e.to_string());
        assert!(matches!(&err, Err(m) if m.contains("database.url is required")), "{err:?}");
    }
}
