//! A fake Stripe API (cargo feature `fake`, for tests only; release builds leave it out): the
//! in-memory [`StripeSimulator`] behind an HTTP server on 127.0.0.1 with a random secret key and
//! webhook secret, plus [`Fault`]s (5xx, 429, garbage, late answers) and the requests received.
//!
//! The test plays the buyer with [`FakeStripe::complete_session`] (which returns the signed
//! `checkout.session.completed` webhook to post to the shop) and reads the other events from
//! [`FakeStripe::expired_event`] and [`FakeStripe::charge_refunded_event`].

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use secrecy::SecretString;
use serde_json::json;

use crate::client::ClientConfig;
use crate::event::CheckoutSession;
use crate::gateway::StripeGateway;
use crate::simulator::{SimAnswer, SimulatorError, StripeSimulator, random_token};
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
    /// The secret could not be made.
    #[error("{0}")]
    State(String),
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[derive(Default)]
struct Control {
    fault: Option<Fault>,
    requests: Vec<SeenRequest>,
}

struct Inner {
    simulator: StripeSimulator,
    control: Mutex<Control>,
}

impl Inner {
    fn control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
            let mut control = self.control();
            control.requests.push(seen.clone());
            control.fault.clone()
        };
        let answer = match fault {
            Some(Fault::Error(status, error_type)) => SimAnswer {
                status,
                headers: Vec::new(),
                body: json!({ "error": { "type": error_type, "message": "fault injected by the test" } })
                    .to_string()
                    .into_bytes(),
            },
            Some(Fault::Garbage(status)) => {
                SimAnswer { status, headers: Vec::new(), body: b"<html>oops</html>".to_vec() }
            }
            Some(Fault::Delay(d)) => {
                tokio::time::sleep(d).await;
                self.answer(&seen, &body)
            }
            None => self.answer(&seen, &body),
        };
        let mut builder = Response::builder()
            .status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header("content-type", "application/json");
        for (name, value) in answer.headers {
            builder = builder.header(name, value);
        }
        builder
            .body(Full::new(Bytes::from(answer.body)))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    }

    fn answer(&self, seen: &SeenRequest, body: &[u8]) -> SimAnswer {
        self.simulator.handle(
            &seen.method,
            &seen.path,
            |name| seen.header(name).map(str::to_owned),
            body,
            now(),
        )
    }
}

/// The fake Stripe server. Stops when dropped.
pub struct FakeStripe {
    api_base: String,
    inner: Arc<Inner>,
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
        let simulator = StripeSimulator::new(
            secret_key,
            StripeGateway::new(webhook_secret),
            "https://checkout.stripe.com/c/pay/",
        );
        let inner = Arc::new(Inner { simulator, control: Mutex::new(Control::default()) });
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
        Ok(FakeStripe { api_base, inner, task })
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
            secret_key: self.inner.simulator.secret_key().clone(),
            api_base: self.api_base.clone(),
            stripe_version: None,
            timeout,
        }
    }

    /// The in-memory Stripe behind the server.
    #[must_use]
    pub fn simulator(&self) -> &StripeSimulator {
        &self.inner.simulator
    }

    /// The webhook signer (and its secret, via [`StripeGateway::secret`]).
    #[must_use]
    pub fn gateway(&self) -> &StripeGateway {
        self.inner.simulator.gateway()
    }

    /// Sets (or with `None` clears) a fault for every following answer.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.inner.control().fault = fault;
    }

    /// Every request received so far.
    #[must_use]
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.inner.control().requests.clone()
    }

    /// A session as the API would answer it.
    #[must_use]
    pub fn session(&self, id: &str) -> Option<CheckoutSession> {
        self.inner.simulator.session(id)
    }

    /// The buyer pays now (see [`StripeSimulator::complete_session`]).
    ///
    /// # Errors
    /// [`SimulatorError::State`].
    pub fn complete_session(&self, id: &str, paid: bool) -> Result<(String, String), SimulatorError> {
        self.inner.simulator.complete_session(id, paid, now())
    }

    /// A delayed payment succeeds now (see [`StripeSimulator::async_payment_succeeded`]).
    ///
    /// # Errors
    /// [`SimulatorError::State`].
    pub fn async_payment_succeeded(&self, id: &str) -> Result<(String, String), SimulatorError> {
        self.inner.simulator.async_payment_succeeded(id, now())
    }

    /// The signed `checkout.session.expired` webhook (see [`StripeSimulator::expired_event`]).
    ///
    /// # Errors
    /// [`SimulatorError::State`].
    pub fn expired_event(&self, id: &str) -> Result<(String, String), SimulatorError> {
        self.inner.simulator.expired_event(id, now())
    }

    /// The signed `charge.refunded` webhook (see [`StripeSimulator::charge_refunded_event`]).
    ///
    /// # Errors
    /// [`SimulatorError::State`].
    pub fn charge_refunded_event(&self, payment_intent: &str) -> Result<(String, String), SimulatorError> {
        self.inner.simulator.charge_refunded_event(payment_intent, now())
    }
}
