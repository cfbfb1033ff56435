//! An in-memory Stripe API (cargo feature `gateway`): `POST /v1/checkout/sessions`,
//! `GET /v1/checkout/sessions/{id}`, `POST /v1/checkout/sessions/{id}/expire`,
//! `POST /v1/refunds` and `GET /v1/refunds/{id}` as Stripe answers them — bearer secret key, form parameters, the error
//! object, sessions, payment intents and charges in memory, idempotency keys honoured (a replay
//! answers the first answer with `Idempotent-Replayed: true`; the same key with other parameters
//! is a 400 `idempotency_error`). The development simulator of `shop-app` serves it over HTTP
//! and plays the buyer with [`StripeSimulator::complete_session`]; the test fake (feature
//! `fake`) wraps the same type in an HTTP server with fault injection.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::event::{
    CHARGE_REFUNDED, CHECKOUT_SESSION_ASYNC_PAYMENT_SUCCEEDED, CHECKOUT_SESSION_COMPLETED,
    CHECKOUT_SESSION_EXPIRED, Charge, CheckoutSession, PaymentStatus, SessionStatus,
};
use crate::gateway::StripeGateway;

/// The simulator could not play a part.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// No such session or payment intent, or not in a state that allows it.
    #[error("{0}")]
    State(String),
    /// Serialising an event.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// An answer: status, headers and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimAnswer {
    /// HTTP status.
    pub status: u16,
    /// Headers to send (besides `Content-Type: application/json`).
    pub headers: Vec<(&'static str, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// A request, as the simulator reads it.
struct Req {
    method: String,
    path: String,
    form: Vec<(String, String)>,
}

impl Req {
    fn param(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A random token of `[0-9a-zA-Z]` (ids, keys).
#[must_use]
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut bytes = vec![0u8; len];
    // Only fails without an OS entropy source; zeros are fine for a test double.
    let _ = SystemRandom::new().fill(&mut bytes);
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

#[derive(Debug, Clone)]
struct Intent {
    charge: Charge,
    /// The amount of its refunds still `pending` (not yet in `amount_refunded`).
    pending: i64,
}

/// The status a new refund is answered with (Stripe answers a card refund `succeeded`, some
/// methods `pending` first, a few `requires_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefundOutcome {
    /// `succeeded` at once.
    #[default]
    Succeeded,
    /// `pending` until [`StripeSimulator::settle_refund`].
    Pending,
    /// `requires_action` until [`StripeSimulator::settle_refund`].
    RequiresAction,
}

/// A request's form parameters, and the status and body answered.
type Saved = (Vec<(String, String)>, u16, Vec<u8>);

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, CheckoutSession>,
    /// Session id → `payment_intent_data[metadata]`.
    intent_metadata: HashMap<String, BTreeMap<String, String>>,
    intents: HashMap<String, Intent>,
    /// Refund id → the refund as the API answers it.
    refunds: HashMap<String, Value>,
    /// How new refunds are answered.
    refund_outcome: RefundOutcome,
    /// (path, idempotency key) → the first request's parameters and answer.
    idempotency: HashMap<(String, String), Saved>,
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

/// Stripe's API, in memory.
pub struct StripeSimulator {
    secret_key: SecretString,
    gateway: StripeGateway,
    checkout_url_prefix: String,
    state: Mutex<State>,
}

impl std::fmt::Debug for StripeSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSimulator")
            .field("checkout_url_prefix", &self.checkout_url_prefix)
            .finish_non_exhaustive()
    }
}

fn answer(status: u16, value: &Value, replayed: bool) -> SimAnswer {
    let mut headers = vec![("Request-Id", format!("req_{}", random_token(14)))];
    if replayed {
        headers.push(("Idempotent-Replayed", "true".to_owned()));
    }
    SimAnswer { status, headers, body: value.to_string().into_bytes() }
}

impl StripeSimulator {
    /// Stripe for the API key `secret_key`, signing webhooks with `gateway`; a session's `url`
    /// is `checkout_url_prefix` followed by its id (Stripe's is
    /// `https://checkout.stripe.com/c/pay/`; a simulator points it at its own card form).
    #[must_use]
    pub fn new(secret_key: SecretString, gateway: StripeGateway, checkout_url_prefix: &str) -> Self {
        StripeSimulator {
            secret_key,
            gateway,
            checkout_url_prefix: checkout_url_prefix.to_owned(),
            state: Mutex::new(State::default()),
        }
    }

    /// The webhook signer.
    #[must_use]
    pub fn gateway(&self) -> &StripeGateway {
        &self.gateway
    }

    /// The API key it accepts.
    #[must_use]
    pub fn secret_key(&self) -> &SecretString {
        &self.secret_key
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking thread must not hide the state from the others.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Answers one API call. `header` looks a request header up by name
    /// (case-insensitively), `body` is the form-encoded body, `now` the current Unix time.
    pub fn handle<F>(&self, method: &str, path: &str, header: F, body: &[u8], now: i64) -> SimAnswer
    where
        F: Fn(&str) -> Option<String>,
    {
        let form: Vec<(String, String)> =
            url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let req = Req { method: method.to_owned(), path: path.to_owned(), form };
        if header("Authorization") != Some(format!("Bearer {}", self.secret_key.expose_secret())) {
            let (s, v) = error(401, "invalid_request_error", None, "Invalid API Key provided.", None);
            return answer(s, &v, false);
        }
        let key = header("Idempotency-Key");
        if let (Some(key), "POST") = (&key, req.method.as_str()) {
            let slot = (req.path.clone(), key.clone());
            if let Some((form, status, body)) = self.state().idempotency.get(&slot).cloned() {
                if form == req.form {
                    let mut a = answer(status, &Value::Null, true);
                    a.body = body;
                    return a;
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
                return answer(s, &v, false);
            }
            let (status, value) = self.route(&req, now);
            let a = answer(status, &value, false);
            // Stripe saves the outcome of a request that reached its API, including 4xx.
            self.state().idempotency.insert(slot, (req.form.clone(), status, a.body.clone()));
            return a;
        }
        let (status, value) = self.route(&req, now);
        answer(status, &value, false)
    }

    fn route(&self, req: &Req, now: i64) -> Answer {
        let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        match (req.method.as_str(), segments.as_slice()) {
            ("POST", ["v1", "checkout", "sessions"]) => self.create_session(req, now),
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
            ("GET", ["v1", "refunds", id]) => match self.state().refunds.get(*id) {
                Some(r) => (200, r.clone()),
                None => error(
                    404,
                    "invalid_request_error",
                    Some("resource_missing"),
                    &format!("No such refund: '{id}'"),
                    Some("id"),
                ),
            },
            _ => error(
                404,
                "invalid_request_error",
                None,
                &format!("Unrecognized request URL ({} {}).", req.method, req.path),
                None,
            ),
        }
    }

    fn create_session(&self, req: &Req, now: i64) -> Answer {
        let p = |name: &str| req.param(name);
        if p("mode") != Some("payment") {
            return missing("mode");
        }
        // line_items[0], line_items[1], ...: each priced inline, all in one currency.
        let mut currency: Option<&str> = None;
        let mut amount_total = Some(0_i64);
        let mut items = 0;
        while p(&format!("line_items[{items}][quantity]")).is_some()
            || p(&format!("line_items[{items}][price_data][unit_amount]")).is_some()
        {
            let item = |field: &str| format!("line_items[{items}]{field}");
            let Some(this_currency) = p(&item("[price_data][currency]")) else {
                return missing(&item("[price_data][currency]"));
            };
            if currency.is_some_and(|c| c != this_currency) {
                return error(
                    400,
                    "invalid_request_error",
                    None,
                    "All line items must use the same currency.",
                    Some(item("[price_data][currency]").as_str()),
                );
            }
            currency = Some(this_currency);
            if p(&item("[price_data][product_data][name]")).is_none_or(str::is_empty) {
                return missing(&item("[price_data][product_data][name]"));
            }
            let Some(unit_amount) =
                p(&item("[price_data][unit_amount]")).and_then(|v| v.parse::<i64>().ok()).filter(|v| *v >= 1)
            else {
                return invalid(&item("[price_data][unit_amount]"), "Invalid integer");
            };
            let Some(quantity) =
                p(&item("[quantity]")).and_then(|v| v.parse::<i64>().ok()).filter(|v| *v >= 1)
            else {
                return invalid(&item("[quantity]"), "Invalid integer");
            };
            amount_total = amount_total.and_then(|sum| sum.checked_add(unit_amount.checked_mul(quantity)?));
            items += 1;
        }
        let Some(currency) = currency else { return missing("line_items") };
        let Some(success_url) = p("success_url") else { return missing("success_url") };
        let _ = success_url;
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
            amount_total,
            currency: Some(currency.to_owned()),
            client_reference_id: p("client_reference_id").map(str::to_owned),
            metadata,
            payment_intent: None,
            payment_status: PaymentStatus::Unpaid,
            status: Some(SessionStatus::Open),
            url: Some(format!("{}{id}", self.checkout_url_prefix)),
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

    fn refund(&self, req: &Req) -> Answer {
        let Some(pi) = req.param("payment_intent") else { return missing("payment_intent") };
        let mut state = self.state();
        let outcome = state.refund_outcome;
        let Some(intent) = state.intents.get_mut(pi) else {
            return error(
                404,
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such payment_intent: '{pi}'"),
                Some("payment_intent"),
            );
        };
        let left = intent.charge.amount - intent.charge.amount_refunded - intent.pending;
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
        let status = match outcome {
            RefundOutcome::Succeeded => {
                intent.charge.amount_refunded += amount;
                intent.charge.refunded = intent.charge.amount_refunded == intent.charge.amount;
                "succeeded"
            }
            RefundOutcome::Pending => {
                intent.pending += amount;
                "pending"
            }
            RefundOutcome::RequiresAction => {
                intent.pending += amount;
                "requires_action"
            }
        };
        let metadata = prefixed(&req.form, "metadata[");
        let id = format!("re_{}", random_token(24));
        let refund = json!({
            "id": id,
            "object": "refund",
            "amount": amount,
            "charge": intent.charge.id,
            "currency": intent.charge.currency,
            "payment_intent": pi,
            "status": status,
            "metadata": metadata,
        });
        state.refunds.insert(id, refund.clone());
        (200, refund)
    }

    /// How the refunds made from now on are answered (`succeeded` unless set).
    pub fn answer_refunds_with(&self, outcome: RefundOutcome) {
        self.state().refund_outcome = outcome;
    }

    /// A `pending` (or `requires_action`) refund ends: `succeeded` (its amount joins the
    /// charge's `amount_refunded`, as `charge.refunded` then says) or `failed` (nothing
    /// refunded). Returns the refund's new status.
    ///
    /// # Errors
    /// [`SimulatorError::State`] for an unknown refund or one that has ended.
    pub fn settle_refund(&self, id: &str, succeeded: bool) -> Result<&'static str, SimulatorError> {
        let mut state = self.state();
        let refund = state.refunds.get(id).ok_or_else(|| SimulatorError::State(format!("no refund {id}")))?;
        if !matches!(refund["status"].as_str(), Some("pending" | "requires_action")) {
            return Err(SimulatorError::State(format!("refund {id} has ended")));
        }
        let amount = refund["amount"].as_i64().unwrap_or_default();
        let pi = refund["payment_intent"].as_str().unwrap_or_default().to_owned();
        let status = if succeeded { "succeeded" } else { "failed" };
        if let Some(intent) = state.intents.get_mut(&pi) {
            intent.pending -= amount;
            if succeeded {
                intent.charge.amount_refunded += amount;
                intent.charge.refunded = intent.charge.amount_refunded == intent.charge.amount;
            }
        }
        if let Some(refund) = state.refunds.get_mut(id) {
            refund["status"] = json!(status);
        }
        Ok(status)
    }

    /// A session as the API would answer it.
    #[must_use]
    pub fn session(&self, id: &str) -> Option<CheckoutSession> {
        self.state().sessions.get(id).cloned()
    }

    fn signed<T: serde::Serialize>(
        &self,
        event_type: &str,
        object: &T,
        now: i64,
    ) -> Result<(String, String), SimulatorError> {
        Ok(self.gateway.event(&format!("evt_{}", random_token(24)), event_type, object, now)?)
    }

    /// The buyer pays: the session becomes `complete` with a payment intent and a charge.
    /// With `paid` false it completes `unpaid` (a delayed method; see
    /// [`FakeStripe::async_payment_succeeded`]). Returns the signed
    /// `checkout.session.completed` webhook `(payload, Stripe-Signature)`.
    ///
    /// # Errors
    /// [`SimulatorError::State`] for an unknown session or one that is not open.
    pub fn complete_session(
        &self,
        id: &str,
        paid: bool,
        now: i64,
    ) -> Result<(String, String), SimulatorError> {
        let session = {
            let mut state = self.state();
            let metadata = state.intent_metadata.get(id).cloned().unwrap_or_default();
            let session = state
                .sessions
                .get_mut(id)
                .ok_or_else(|| SimulatorError::State(format!("no session {id}")))?;
            if session.status != Some(SessionStatus::Open) {
                return Err(SimulatorError::State(format!("session {id} is not open")));
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
            state.intents.insert(pi, Intent { charge, pending: 0 });
            session
        };
        self.signed(CHECKOUT_SESSION_COMPLETED, &session, now)
    }

    /// A delayed payment succeeds: the session becomes `paid`; returns the signed
    /// `checkout.session.async_payment_succeeded` webhook.
    ///
    /// # Errors
    /// [`SimulatorError::State`] for an unknown or not completed session.
    pub fn async_payment_succeeded(&self, id: &str, now: i64) -> Result<(String, String), SimulatorError> {
        let session = {
            let mut state = self.state();
            let session = state
                .sessions
                .get_mut(id)
                .ok_or_else(|| SimulatorError::State(format!("no session {id}")))?;
            if session.status != Some(SessionStatus::Complete) {
                return Err(SimulatorError::State(format!("session {id} is not complete")));
            }
            session.payment_status = PaymentStatus::Paid;
            session.clone()
        };
        self.signed(CHECKOUT_SESSION_ASYNC_PAYMENT_SUCCEEDED, &session, now)
    }

    /// The signed `checkout.session.expired` webhook of an expired session.
    ///
    /// # Errors
    /// [`SimulatorError::State`] for an unknown or not expired session.
    pub fn expired_event(&self, id: &str, now: i64) -> Result<(String, String), SimulatorError> {
        let session = self.session(id).ok_or_else(|| SimulatorError::State(format!("no session {id}")))?;
        if session.status != Some(SessionStatus::Expired) {
            return Err(SimulatorError::State(format!("session {id} is not expired")));
        }
        self.signed(CHECKOUT_SESSION_EXPIRED, &session, now)
    }

    /// The signed `charge.refunded` webhook of the charge of `payment_intent` (with the
    /// cumulative `amount_refunded`).
    ///
    /// # Errors
    /// [`SimulatorError::State`] for an unknown payment intent.
    pub fn charge_refunded_event(
        &self,
        payment_intent: &str,
        now: i64,
    ) -> Result<(String, String), SimulatorError> {
        let intent = self
            .state()
            .intents
            .get(payment_intent)
            .cloned()
            .ok_or_else(|| SimulatorError::State(format!("no payment intent {payment_intent}")))?;
        self.signed(CHARGE_REFUNDED, &intent.charge, now)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkout::{CreateSession, LineItem, encode_form};
    use crate::webhook::{WebhookSecret, construct_event};

    #[test]
    fn handle_creates_replays_and_completes_sessions() {
        let secret = WebhookSecret::parse("whsec_unit").expect("secret");
        let sim = StripeSimulator::new(
            SecretString::from("sk_test_unit".to_owned()),
            StripeGateway::new(secret.clone()),
            "http://127.0.0.1:8000/dev/stripe/pay/",
        );
        let now = 1_800_000_000;
        let form = encode_form(
            &CreateSession {
                out_trade_no: "CS1".into(),
                line_items: vec![
                    LineItem { name: "课程".into(), unit_amount: 500, quantity: 1 },
                    LineItem { name: "课程二".into(), unit_amount: 250, quantity: 2 },
                ],
                currency: "cny".into(),
                expires_at: now + 3600,
                success_url: "https://x.example/ok".into(),
                cancel_url: "https://x.example/no".into(),
            }
            .to_form(now)
            .expect("form"),
        );
        let headers = |name: &str| match name {
            "Authorization" => Some("Bearer sk_test_unit".to_owned()),
            "Idempotency-Key" => Some("k1".to_owned()),
            _ => None,
        };
        let a = sim.handle("POST", "/v1/checkout/sessions", headers, form.as_bytes(), now);
        assert_eq!(a.status, 200);
        let session: CheckoutSession = serde_json::from_slice(&a.body).expect("session");
        assert_eq!(session.amount_total, Some(1000), "the line items added up");
        assert_eq!(session.url, Some(format!("http://127.0.0.1:8000/dev/stripe/pay/{}", session.id)));
        let again = sim.handle("POST", "/v1/checkout/sessions", headers, form.as_bytes(), now);
        assert_eq!((again.status, &again.body), (200, &a.body));
        assert!(again.headers.contains(&("Idempotent-Replayed", "true".to_owned())));
        let other = sim.handle("POST", "/v1/checkout/sessions", headers, b"mode=payment", now);
        assert!(String::from_utf8_lossy(&other.body).contains("idempotency_error"));
        assert_eq!(
            sim.handle("GET", &format!("/v1/checkout/sessions/{}", session.id), |_| None, b"", now).status,
            401
        );

        let (payload, header) = sim.complete_session(&session.id, true, now).expect("pay");
        let event = construct_event(payload.as_bytes(), Some(&header), &secret, now).expect("webhook");
        assert_eq!(event.event_type, "checkout.session.completed");
        assert_eq!(sim.session(&session.id).map(|s| s.payment_status), Some(PaymentStatus::Paid));
    }
}
