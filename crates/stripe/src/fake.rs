//! A fake Stripe API (cargo feature `fake`, for tests only; release builds leave it out): an
//! HTTP server on 127.0.0.1 answering `POST /v1/checkout/sessions`,
//! `GET /v1/checkout/sessions/{id}`, `POST /v1/checkout/sessions/{id}/expire` and
//! `POST /v1/refunds` like Stripe: bearer secret key, form parameters, the error object,
//! sessions, payment intents and charges kept in memory, and idempotency keys honoured (a replay
//! answers the first answer with `Idempotent-Replayed: true`; the same key with other
//! parameters is a 400 `idempotency_error`).
//!
//! The test plays the buyer with [`FakeStripe::complete_session`] (which returns the signed
//! `checkout.session.completed` webhook to post to the shop) and reads the other events from
//! [`FakeStripe::expired_event`] and [`FakeStripe::charge_refunded_event`]. [`Fault`]s make it
//! answer 5xx, 429, garbage or late.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::client::ClientConfig;
use crate::event::{
    CHARGE_REFUNDED, CHECKOUT_SESSION_ASYNC_PAYMENT_SUCCEEDED, CHECKOUT_SESSION_COMPLETED,
    CHECKOUT_SESSION_EXPIRED, Charge, CheckoutSession, PaymentStatus, SessionStatus,
};
use crate::gateway::StripeGateway;
use crate::webhook::WebhookSecret;

/// How the fake misbehaves (until [`FakeStripe::set_fault`] clears it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An error object with this status and type (e.g. 500 `api_error`, 429 `rate_limit_error`).
    Error(u16, String),
    /// A body that is not JSON, with this status.
    Garbage(u16),
    /// Answers after this delay.
    Delay(Duration),
}

/// A request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Decoded form parameters.
    pub form: Vec<(String, String)>,
}

impl SeenRequest {
    /// A header by (case-insensitive) name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// A form parameter.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The fake could not do what the test asked.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    /// Binding the port.
    #[error("bind: {0}")]
    Io(#[from] std::io::Error),
    /// No such session or payment intent, or not in a state that allows it.
    #[error("{0}")]
    State(String),
    /// Serialising an event.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut bytes = vec![0u8; len];
    // Only fails without an OS entropy source; zeros are fine for a test double.
    let _ = SystemRandom::new().fill(&mut bytes);
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[derive(Debug, Clone)]
struct Intent {
    charge: Charge,
}

/// A request's form parameters, and the status and body answered.
type Saved = (Vec<(String, String)>, u16, Vec<u8>);

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, CheckoutSession>,
    /// Session id → `payment_intent_data[metadata]`.
    intent_metadata: HashMap<String, BTreeMap<String, String>>,
    intents: HashMap<String, Intent>,
    /// (path, idempotency key) → the first request's parameters and answer.
    idempotency: HashMap<(String, String), Saved>,
    fault: Option<Fault>,
    requests: Vec<SeenRequest>,
}

struct Inner {
    secret_key: SecretString,
    state: Mutex<State>,
}

type Answer = (u16, Value);

fn error(status: u16, error_type: &str, code: Option<&str>, message: &str, param: Option<&str>) -> Answer {
    (status, json!({ "error": { "type": error_type, "code": code, "message": message, "param": param } }))
}

fn missing(param: &str) -> Answer {
    error(
        400,
        "invalid_request_error",
        Some("parameter_missing"),
        &format!("Missing required param: {param}."),
        Some(param),
    )
}

fn invalid(param: &str, message: &str) -> Answer {
    error(400, "invalid_request_error", Some("parameter_invalid_integer"), message, Some(param))
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let body = request.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
        let form: Vec<(String, String)> =
            url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let seen = SeenRequest { method, path, headers, form };
        let fault = {
            let mut state = self.state();
            state.requests.push(seen.clone());
            state.fault.clone()
        };
        match fault {
            Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
            Some(Fault::Error(status, error_type)) => {
                let (s, v) = error(status, &error_type, None, "fault injected by the test", None);
                return respond(s, v.to_string().into_bytes(), false);
            }
            Some(Fault::Garbage(status)) => return respond(status, b"<html>oops</html>".to_vec(), false),
            None => {}
        }
        if seen.header("authorization") != Some(&format!("Bearer {}", self.secret_key.expose_secret())) {
            let (s, v) = error(401, "invalid_request_error", None, "Invalid API Key provided.", None);
            return respond(s, v.to_string().into_bytes(), false);
        }
        let key = seen.header("idempotency-key").map(str::to_owned);
        if let (Some(key), "POST") = (&key, seen.method.as_str()) {
            let slot = (seen.path.clone(), key.clone());
            if let Some((form, status, body)) = self.state().idempotency.get(&slot).cloned() {
                if form == seen.form {
                    return respond(status, body, true);
                }
                let (s, v) = error(
                    400,
                    "idempotency_error",
                    None,
                    &format!(
                        "Keys for idempotent requests can only be used with the same parameters they were first \
                         used with. Try using a key other than '{key}' if you meant to execute a different request."
                    ),
                    None,
                );
                return respond(s, v.to_string().into_bytes(), false);
            }
            let (status, value) = self.route(&seen);
            let body = value.to_string().into_bytes();
            // Stripe saves the outcome of a request that reached its API, including 4xx.
            self.state().idempotency.insert(slot, (seen.form.clone(), status, body.clone()));
            return respond(status, body, false);
        }
        let (status, value) = self.route(&seen);
        respond(status, value.to_string().into_bytes(), false)
    }

    fn route(&self, req: &SeenRequest) -> Answer {
        let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        match (req.method.as_str(), segments.as_slice()) {
            ("POST", ["v1", "checkout", "sessions"]) => self.create_session(req),
            ("GET", ["v1", "checkout", "sessions", id]) => match self.state().sessions.get(*id) {
                Some(s) => (200, serde_json::to_value(s).unwrap_or_default()),
                None => error(
                    404,
                    "invalid_request_error",
                    Some("resource_missing"),
                    &format!("No such checkout.session: '{id}'"),
                    Some("session"),
                ),
            },
            ("POST", ["v1", "checkout", "sessions", id, "expire"]) => {
                let mut state = self.state();
                match state.sessions.get_mut(*id) {
                    None => error(
                        404,
                        "invalid_request_error",
                        Some("resource_missing"),
                        &format!("No such checkout.session: '{id}'"),
                        Some("session"),
                    ),
                    Some(s) if s.status != Some(SessionStatus::Open) => error(
                        400,
                        "invalid_request_error",
                        None,
                        "Only Checkout Sessions with a status in [\"open\"] can be expired.",
                        None,
                    ),
                    Some(s) => {
                        s.status = Some(SessionStatus::Expired);
                        s.url = None;
                        (200, serde_json::to_value(&*s).unwrap_or_default())
                    }
                }
            }
            ("POST", ["v1", "refunds"]) => self.refund(req),
            _ => error(
                404,
                "invalid_request_error",
                None,
                &format!("Unrecognized request URL ({} {}).", req.method, req.path),
                None,
            ),
        }
    }

    fn create_session(&self, req: &SeenRequest) -> Answer {
        let p = |name: &str| req.param(name);
        if p("mode") != Some("payment") {
            return missing("mode");
        }
        let Some(currency) = p("line_items[0][price_data][currency]") else {
            return missing("line_items[0][price_data][currency]");
        };
        let Some(name) = p("line_items[0][price_data][product_data][name]").filter(|n| !n.is_empty()) else {
            return missing("line_items[0][price_data][product_data][name]");
        };
        let Some(unit_amount) = p("line_items[0][price_data][unit_amount]")
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|v| *v >= 1)
        else {
            return invalid("line_items[0][price_data][unit_amount]", "Invalid integer");
        };
        let Some(quantity) =
            p("line_items[0][quantity]").and_then(|v| v.parse::<i64>().ok()).filter(|v| *v >= 1)
        else {
            return invalid("line_items[0][quantity]", "Invalid integer");
        };
        let Some(success_url) = p("success_url") else { return missing("success_url") };
        let _ = (name, success_url);
        let now = now();
        let expires_at = match p("expires_at").map(str::parse::<i64>) {
            None => now + 24 * 3600,
            Some(Ok(t)) if (now + 30 * 60..=now + 24 * 3600).contains(&t) => t,
            Some(_) => {
                return invalid(
                    "expires_at",
                    "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
                );
            }
        };
        let metadata = prefixed(&req.form, "metadata[");
        let intent_metadata = prefixed(&req.form, "payment_intent_data[metadata][");
        let id = format!("cs_test_{}", random_token(40));
        let session = CheckoutSession {
            id: id.clone(),
            object: "checkout.session".into(),
            amount_total: unit_amount.checked_mul(quantity),
            currency: Some(currency.to_owned()),
            client_reference_id: p("client_reference_id").map(str::to_owned),
            metadata,
            payment_intent: None,
            payment_status: PaymentStatus::Unpaid,
            status: Some(SessionStatus::Open),
            url: Some(format!("https://checkout.stripe.com/c/pay/{id}")),
            expires_at: Some(expires_at),
            created: Some(now),
            livemode: false,
        };
        let answer = (200, serde_json::to_value(&session).unwrap_or_default());
        let mut state = self.state();
        state.intent_metadata.insert(id.clone(), intent_metadata);
        state.sessions.insert(id, session);
        answer
    }

    fn refund(&self, req: &SeenRequest) -> Answer {
        let Some(pi) = req.param("payment_intent") else { return missing("payment_intent") };
        let mut state = self.state();
        let Some(intent) = state.intents.get_mut(pi) else {
            return error(
                404,
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such payment_intent: '{pi}'"),
                Some("payment_intent"),
            );
        };
        let left = intent.charge.amount - intent.charge.amount_refunded;
        if left == 0 {
            return error(
                400,
                "invalid_request_error",
                Some("charge_already_refunded"),
                &format!("Charge {} has already been refunded.", intent.charge.id),
                None,
            );
        }
        let amount = match req.param("amount").map(str::parse::<i64>) {
            None => left,
            Some(Ok(a)) if a >= 1 && a <= left => a,
            Some(Ok(a)) if a > left => {
                return error(
                    400,
                    "invalid_request_error",
                    Some("amount_too_large"),
                    &format!("Refund amount ({a}) is greater than unrefunded amount on charge ({left})"),
                    Some("amount"),
                );
            }
            Some(_) => return invalid("amount", "Invalid integer"),
        };
        intent.charge.amount_refunded += amount;
        intent.charge.refunded = intent.charge.amount_refunded == intent.charge.amount;
        let metadata = prefixed(&req.form, "metadata[");
        (
            200,
            json!({
                "id": format!("re_{}", random_token(24)),
                "object": "refund",
                "amount": amount,
                "charge": intent.charge.id,
                "currency": intent.charge.currency,
                "payment_intent": pi,
                "status": "succeeded",
                "metadata": metadata,
            }),
        )
    }
}

/// `prefix<key>]` form parameters as a map.
fn prefixed(form: &[(String, String)], prefix: &str) -> BTreeMap<String, String> {
    form.iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix(prefix)?.strip_suffix(']')?;
            (!key.contains('[')).then(|| (key.to_owned(), v.clone()))
        })
        .collect()
}

fn respond(status: u16, body: Vec<u8>, replayed: bool) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .header("request-id", format!("req_{}", random_token(14)));
    if replayed {
        builder = builder.header("idempotent-replayed", "true");
    }
    builder.body(Full::new(Bytes::from(body))).unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// The fake Stripe server. Stops when dropped.
pub struct FakeStripe {
    api_base: String,
    inner: Arc<Inner>,
    gateway: StripeGateway,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for FakeStripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeStripe").field("api_base", &self.api_base).finish_non_exhaustive()
    }
}

impl FakeStripe {
    /// Starts a fake on 127.0.0.1 (a free port) with a random secret key `sk_test_...` and
    /// webhook secret `whsec_...`. Needs a Tokio runtime.
    ///
    /// # Errors
    /// [`FakeError`].
    pub async fn start() -> Result<Self, FakeError> {
        let secret_key = SecretString::from(format!("sk_test_{}", random_token(32)));
        let webhook_secret = WebhookSecret::parse(&format!("whsec_{}", random_token(32)))
            .map_err(|e| FakeError::State(e.to_string()))?;
        let inner = Arc::new(Inner { secret_key, state: Mutex::new(State::default()) });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api_base = format!("http://{}", listener.local_addr()?);
        let served = Arc::clone(&inner);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let inner = Arc::clone(&served);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let inner = Arc::clone(&inner);
                        async move { Ok::<_, Infallible>(inner.handle(request).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    // A client that hangs up early is not the fake's problem.
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
        Ok(FakeStripe { api_base, inner, gateway: StripeGateway::new(webhook_secret), task })
    }

    /// `http://127.0.0.1:PORT` (the client's `api_base`).
    #[must_use]
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// A client configuration for this fake.
    #[must_use]
    pub fn client_config(&self, timeout: Duration) -> ClientConfig {
        ClientConfig {
            secret_key: self.inner.secret_key.clone(),
            api_base: self.api_base.clone(),
            stripe_version: None,
            timeout,
        }
    }

    /// The secret API key.
    #[must_use]
    pub fn secret_key(&self) -> &SecretString {
        &self.inner.secret_key
    }

    /// The webhook signer (and its secret, via [`StripeGateway::secret`]).
    #[must_use]
    pub fn gateway(&self) -> &StripeGateway {
        &self.gateway
    }

    /// Sets (or with `None` clears) a fault for every following answer.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.inner.state().fault = fault;
    }

    /// Every request received so far.
    #[must_use]
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.inner.state().requests.clone()
    }

    /// A session as the API would answer it.
    #[must_use]
    pub fn session(&self, id: &str) -> Option<CheckoutSession> {
        self.inner.state().sessions.get(id).cloned()
    }

    fn signed<T: serde::Serialize>(
        &self,
        event_type: &str,
        object: &T,
    ) -> Result<(String, String), FakeError> {
        Ok(self.gateway.event(&format!("evt_{}", random_token(24)), event_type, object, now())?)
    }

    /// The buyer pays: the session becomes `complete` with a payment intent and a charge.
    /// With `paid` false it completes `unpaid` (a delayed method; see
    /// [`FakeStripe::async_payment_succeeded`]). Returns the signed
    /// `checkout.session.completed` webhook `(payload, Stripe-Signature)`.
    ///
    /// # Errors
    /// [`FakeError::State`] for an unknown session or one that is not open.
    pub fn complete_session(&self, id: &str, paid: bool) -> Result<(String, String), FakeError> {
        let session = {
            let mut state = self.inner.state();
            let metadata = state.intent_metadata.get(id).cloned().unwrap_or_default();
            let session =
                state.sessions.get_mut(id).ok_or_else(|| FakeError::State(format!("no session {id}")))?;
            if session.status != Some(SessionStatus::Open) {
                return Err(FakeError::State(format!("session {id} is not open")));
            }
            let pi = format!("pi_{}", random_token(24));
            session.status = Some(SessionStatus::Complete);
            session.payment_status = if paid { PaymentStatus::Paid } else { PaymentStatus::Unpaid };
            session.payment_intent = Some(pi.clone());
            session.url = None;
            let session = session.clone();
            let charge = Charge {
                id: format!("ch_{}", random_token(24)),
                amount: session.amount_total.unwrap_or_default(),
                amount_refunded: 0,
                currency: session.currency.clone().unwrap_or_default(),
                payment_intent: Some(pi.clone()),
                metadata,
                refunded: false,
            };
            state.intents.insert(pi, Intent { charge });
            session
        };
        self.signed(CHECKOUT_SESSION_COMPLETED, &session)
    }

    /// A delayed payment succeeds: the session becomes `paid`; returns the signed
    /// `checkout.session.async_payment_succeeded` webhook.
    ///
    /// # Errors
    /// [`FakeError::State`] for an unknown or not completed session.
    pub fn async_payment_succeeded(&self, id: &str) -> Result<(String, String), FakeError> {
        let session = {
            let mut state = self.inner.state();
            let session =
                state.sessions.get_mut(id).ok_or_else(|| FakeError::State(format!("no session {id}")))?;
            if session.status != Some(SessionStatus::Complete) {
                return Err(FakeError::State(format!("session {id} is not complete")));
            }
            session.payment_status = PaymentStatus::Paid;
            session.clone()
        };
        self.signed(CHECKOUT_SESSION_ASYNC_PAYMENT_SUCCEEDED, &session)
    }

    /// The signed `checkout.session.expired` webhook of an expired session.
    ///
    /// # Errors
    /// [`FakeError::State`] for an unknown or not expired session.
    pub fn expired_event(&self, id: &str) -> Result<(String, String), FakeError> {
        let session = self.session(id).ok_or_else(|| FakeError::State(format!("no session {id}")))?;
        if session.status != Some(SessionStatus::Expired) {
            return Err(FakeError::State(format!("session {id} is not expired")));
        }
        self.signed(CHECKOUT_SESSION_EXPIRED, &session)
    }

    /// The signed `charge.refunded` webhook of the charge of `payment_intent` (with the
    /// cumulative `amount_refunded`).
    ///
    /// # Errors
    /// [`FakeError::State`] for an unknown payment intent.
    pub fn charge_refunded_event(&self, payment_intent: &str) -> Result<(String, String), FakeError> {
        let intent = self
            .inner
            .state()
            .intents
            .get(payment_intent)
            .cloned()
            .ok_or_else(|| FakeError::State(format!("no payment intent {payment_intent}")))?;
        self.signed(CHARGE_REFUNDED, &intent.charge)
    }
}
