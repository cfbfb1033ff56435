//! The HTTP client (reqwest, rustls) for Checkout Sessions and refunds; the only module of this
//! crate that does I/O. Requests are form-encoded with `Authorization: Bearer <secret key>`;
//! creating calls carry an `Idempotency-Key` (retry with the same key after a timeout or a 5xx).
//! Error answers are `{"error":{"type":..,"code":..,"message":..}}` ([`StripeError::Api`]).

use std::fmt;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::checkout::{CreateSession, InvalidRequest, encode_form};
use crate::event::{CheckoutSession, Refund};

/// Production API base.
pub const PRODUCTION_API_BASE: &str = "https://api.stripe.com";

/// The idempotency header.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// Configuration of a [`StripeClient`].
#[derive(Clone)]
pub struct ClientConfig {
    /// Secret API key (`sk_live_...` / `sk_test_...`, or a restricted `rk_...`).
    pub secret_key: SecretString,
    /// API base, e.g. [`PRODUCTION_API_BASE`] or a fake's URL.
    pub api_base: String,
    /// `Stripe-Version` to pin, if any (otherwise the account's default version applies).
    pub stripe_version: Option<String>,
    /// Upper bound for one whole HTTP exchange.
    pub timeout: Duration,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("secret_key", &"[REDACTED]")
            .field("api_base", &self.api_base)
            .field("stripe_version", &self.stripe_version)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// Refused before sending.
    #[error(transparent)]
    InvalidRequest(#[from] InvalidRequest),
    /// Timed out: the outcome is unknown; retry with the same idempotency key.
    #[error("timeout")]
    Timeout,
    /// Connection or protocol failure.
    #[error("transport: {0}")]
    Transport(String),
    /// An error answer.
    #[error("stripe error (HTTP {status}) {error_type}{}: {}", code.as_deref().map(|c| format!("/{c}")).unwrap_or_default(), message.as_deref().unwrap_or(""))]
    Api {
        /// HTTP status.
        status: u16,
        /// `api_error`, `card_error`, `idempotency_error`, `invalid_request_error`, ...
        error_type: String,
        /// e.g. `resource_missing`, `amount_too_large`, `charge_already_refunded`.
        code: Option<String>,
        /// Message.
        message: Option<String>,
    },
    /// An answer that is not the expected JSON.
    #[error("malformed answer (HTTP {status}): {message}")]
    Malformed {
        /// HTTP status.
        status: u16,
        /// Why.
        message: String,
    },
}

impl StripeError {
    /// Whether retrying later with the same idempotency key may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            StripeError::Timeout | StripeError::Transport(_) => true,
            StripeError::Api { status, .. } | StripeError::Malformed { status, .. } => {
                *status >= 500 || *status == 429 || *status == 409
            }
            StripeError::InvalidRequest(_) => false,
        }
    }

    /// The `code` of an API error.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            StripeError::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorObject,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(rename = "type")]
    error_type: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

fn map_reqwest(e: &reqwest::Error) -> StripeError {
    if e.is_timeout() {
        StripeError::Timeout
    } else {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        StripeError::Transport(msg)
    }
}

/// An id usable as a path segment: a known prefix and `[A-Za-z0-9_]`.
fn check_id(kind: &str, prefix: &str, id: &str) -> Result<(), StripeError> {
    let ok = id.len() > prefix.len()
        && id.len() <= 255
        && id.starts_with(prefix)
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok { Ok(()) } else { Err(InvalidRequest(format!("{kind} id must look like {prefix}...")).into()) }
}

fn check_idempotency_key(key: &str) -> Result<(), StripeError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            InvalidRequest("idempotency key must be 1 to 255 printable ASCII characters".into()).into()
        );
    }
    Ok(())
}

/// Stripe API client. Cheap to clone (shares the connection pool).
#[derive(Clone, Debug)]
pub struct StripeClient {
    config: ClientConfig,
    base: String,
    http: reqwest::Client,
}

impl StripeClient {
    /// Creates a client.
    ///
    /// # Errors
    /// [`StripeError::InvalidRequest`] for an empty key, an `api_base` that is not an absolute
    /// http(s) URL without path, a zero timeout, or if the HTTP client cannot be built.
    pub fn new(config: ClientConfig) -> Result<Self, StripeError> {
        let invalid = |m: &str| StripeError::InvalidRequest(InvalidRequest(m.to_owned()));
        let key = config.secret_key.expose_secret();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("secret_key is empty or not printable ASCII"));
        }
        let url = url::Url::parse(&config.api_base).map_err(|_| invalid("api_base is not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.path() != "/" || url.query().is_some() {
            return Err(invalid("api_base must be http(s)://host[:port] without path"));
        }
        if config.timeout.is_zero() {
            return Err(invalid("timeout is zero"));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("shop-stripe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid(&format!("http client: {e}")))?;
        let base = config.api_base.trim_end_matches('/').to_owned();
        Ok(StripeClient { config, base, http })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        form: Option<&[(String, String)]>,
        idempotency_key: Option<&str>,
    ) -> Result<T, StripeError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(AUTHORIZATION, format!("Bearer {}", self.config.secret_key.expose_secret()))
            .header(ACCEPT, "application/json");
        if let Some(version) = &self.config.stripe_version {
            request = request.header("Stripe-Version", version);
        }
        if let Some(key) = idempotency_key {
            request = request.header(IDEMPOTENCY_KEY_HEADER, key);
        }
        if let Some(form) = form {
            request =
                request.header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(encode_form(form));
        }
        let response = request.send().await.map_err(|e| map_reqwest(&e.without_url()))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| map_reqwest(&e.without_url()))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&body)
                .map_err(|e| StripeError::Malformed { status, message: e.to_string() });
        }
        match serde_json::from_slice::<ErrorEnvelope>(&body) {
            Ok(ErrorEnvelope { error }) => Err(StripeError::Api {
                status,
                error_type: error.error_type,
                code: error.code,
                message: error.message,
            }),
            Err(_) => Err(StripeError::Malformed { status, message: "not a Stripe error object".into() }),
        }
    }

    /// `POST /v1/checkout/sessions`; its `url` is where the buyer pays. `now` is the current
    /// Unix time (for the `expires_at` check).
    ///
    /// # Errors
    /// [`StripeError`]; reusing `idempotency_key` with other parameters is a 400
    /// `idempotency_error`.
    pub async fn create_checkout_session(
        &self,
        session: &CreateSession,
        idempotency_key: &str,
        now: i64,
    ) -> Result<CheckoutSession, StripeError> {
        check_idempotency_key(idempotency_key)?;
        let form = session.to_form(now)?;
        self.call(reqwest::Method::POST, "/v1/checkout/sessions", Some(&form), Some(idempotency_key)).await
    }

    /// `GET /v1/checkout/sessions/{id}`.
    ///
    /// # Errors
    /// [`StripeError`] (`resource_missing` for an unknown id).
    pub async fn retrieve_checkout_session(&self, id: &str) -> Result<CheckoutSession, StripeError> {
        check_id("checkout session", "cs_", id)?;
        self.call(reqwest::Method::GET, &format!("/v1/checkout/sessions/{id}"), None, None).await
    }

    /// `POST /v1/checkout/sessions/{id}/expire`: only an open session can be expired (retrieve
    /// it first).
    ///
    /// # Errors
    /// [`StripeError`].
    pub async fn expire_checkout_session(&self, id: &str) -> Result<CheckoutSession, StripeError> {
        check_id("checkout session", "cs_", id)?;
        self.call(reqwest::Method::POST, &format!("/v1/checkout/sessions/{id}/expire"), Some(&[]), None).await
    }

    /// `POST /v1/refunds` of `amount` (smallest unit) on `payment_intent`, with
    /// `metadata[out_trade_no]`.
    ///
    /// # Errors
    /// [`StripeError`] (e.g. `amount_too_large`, `charge_already_refunded`,
    /// `idempotency_error`).
    pub async fn create_refund(
        &self,
        payment_intent: &str,
        amount: i64,
        out_trade_no: &str,
        idempotency_key: &str,
    ) -> Result<Refund, StripeError> {
        check_id("payment intent", "pi_", payment_intent)?;
        check_idempotency_key(idempotency_key)?;
        if amount < 1 {
            return Err(InvalidRequest("refund amount must be positive".into()).into());
        }
        let form = vec![
            ("payment_intent".to_owned(), payment_intent.to_owned()),
            ("amount".to_owned(), amount.to_string()),
            ("metadata[out_trade_no]".to_owned(), out_trade_no.to_owned()),
        ];
        self.call(reqwest::Method::POST, "/v1/refunds", Some(&form), Some(idempotency_key)).await
    }

    /// `GET /v1/refunds/{id}`: the refund's current status (a replayed `POST /v1/refunds`
    /// answers the first answer again, `pending` included).
    ///
    /// # Errors
    /// [`StripeError`] (`resource_missing` for an unknown id).
    pub async fn retrieve_refund(&self, id: &str) -> Result<Refund, StripeError> {
        check_id("refund", "re_", id)?;
        self.call(reqwest::Method::GET, &format!("/v1/refunds/{id}"), None, None).await
    }
}
