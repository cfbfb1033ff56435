//! Stripe Checkout (card payments) behind the [`Provider`] interface: a Checkout Session made
//! when our order is (its `url` is the order's `pay_url`), the signed webhook, the session
//! retrieved (query), expired (close), and refunds on its PaymentIntent. The protocol is
//! `shop-stripe`'s; this module only translates, and checks what the protocol leaves to the
//! merchant (the currency of a session or charge is ours).
//!
//! The order keeps the session as its payment reference (`pay_url` holds `<session id>
//! <session url>`), so query, close and refund name the session Stripe made, not our number.
//! The order's `trade_no` is the PaymentIntent (`pi_...`) once paid.
//!
//! With `stripe.mode = "simulator"` (development and tests) Stripe's API is played in memory
//! ([`StripeSim`], served by the HTTP layer at `/v1/...` on this server, so the production
//! client talks to it over HTTP) and the session's page is our card form, whose button makes
//! the simulator post a correctly signed webhook through the shop's normal verification.
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use shop_domain::order::PayType;
use shop_stripe::gateway::StripeGateway;
use shop_stripe::simulator::{SimAnswer, StripeSimulator, random_token};
use shop_stripe::{
    CheckoutSession, ClientConfig, CreateSession, EventKind, LineItem, MAX_EXPIRES_IN_SECS,
    MIN_EXPIRES_IN_SECS, PaymentStatus, SIGNATURE_HEADER, SessionStatus, StripeClient, StripeError,
    WebhookSecret, construct_event,
};

use super::provider::{
    Headers, NewPayment, Notice, PayLinks, Provider, ProviderError, QueryAnswer, RefundAnswer, RefundCall,
    Rejected, TradeFacts, TradeRef, TradeState, VerifiedNotice, storable,
};
use crate::config::{AlipayMode, Settings, StripeSettings};
use crate::error::{AppError, AppResult};
use crate::i18n::msg;

/// Where Stripe posts webhook events (no login).
pub const WEBHOOK_PATH: &str = "/api/v1/order/stripe/webhook/";
/// The simulator's card form: the page of a session (`<path><session id>`).
pub const CARD_FORM_PATH: &str = "/dev/stripe/checkout/";
/// The order number placeholder of `stripe.success_url` and `stripe.cancel_url`.
const OUT_TRADE_NO_PLACEHOLDER: &str = "{OUT_TRADE_NO}";

impl From<StripeError> for ProviderError {
    fn from(e: StripeError) -> Self {
        if e.is_retryable() {
            ProviderError::Retryable(e.to_string())
        } else {
            ProviderError::Permanent(e.to_string())
        }
    }
}

/// The payment reference an order keeps of its Checkout Session: `<id> <url>` (a session id
/// has no space; Stripe's URL none either). One home for writing and reading it.
fn stored_reference(session: &CheckoutSession) -> Result<String, ProviderError> {
    let url = session
        .url
        .as_deref()
        .ok_or_else(|| ProviderError::Permanent(format!("session {} has no url", session.id)))?;
    Ok(format!("{} {url}", session.id))
}

/// The session id of a stored reference.
fn session_id(stored: Option<&str>) -> Option<&str> {
    let id = stored?.split(' ').next()?;
    id.starts_with("cs_").then_some(id)
}

/// The session's page of a stored reference.
fn session_url(stored: &str) -> &str {
    stored.split_once(' ').map_or(stored, |(_, url)| url)
}

/// The client and the URLs, known once the server's public URL is.
struct Endpoints {
    client: StripeClient,
    webhook_url: String,
    result_url: String,
}

/// Stripe Checkout.
pub struct StripeProvider {
    settings: StripeSettings,
    secret_key: SecretString,
    webhook_secret: WebhookSecret,
    timeout: Duration,
    endpoints: ArcSwap<Endpoints>,
}

impl StripeProvider {
    /// Stripe of `settings`, or `None` when it is not enabled; with the simulator in simulator
    /// mode (its API key and webhook secret made up for this process unless configured).
    ///
    /// # Errors
    /// A message naming the malformed setting.
    pub(super) fn new(
        settings: &Settings,
        public_url: &str,
    ) -> anyhow::Result<Option<(Self, Option<Arc<StripeSim>>)>> {
        let st = &settings.stripe;
        if !st.enabled() {
            return Ok(None);
        }
        let simulated = st.mode == AlipayMode::Simulator;
        let secret_key = match st.secret_key.expose_secret() {
            "" if simulated => SecretString::from(format!("sk_test_{}", random_token(24))),
            "" => anyhow::bail!("stripe.secret_key is not set"),
            key => SecretString::from(key.to_owned()),
        };
        let webhook_text = match st.webhook_secret.expose_secret() {
            "" if simulated => format!("whsec_{}", random_token(32)),
            "" => anyhow::bail!("stripe.webhook_secret is not set"),
            text => text.to_owned(),
        };
        let webhook_secret = WebhookSecret::parse(&webhook_text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let simulator = simulated.then(|| {
            Arc::new(StripeSim {
                sim: ArcSwap::from_pointee(StripeSim::simulator(&secret_key, &webhook_secret, public_url)),
                http: reqwest::Client::new(),
            })
        });
        let timeout = Duration::from_secs(settings.alipay.http_timeout_seconds.max(1));
        let endpoints = ArcSwap::from_pointee(Self::endpoints(st, &secret_key, timeout, public_url)?);
        let provider =
            StripeProvider { settings: st.clone(), secret_key, webhook_secret, timeout, endpoints };
        Ok(Some((provider, simulator)))
    }

    fn endpoints(
        st: &StripeSettings,
        secret_key: &SecretString,
        timeout: Duration,
        public_url: &str,
    ) -> anyhow::Result<Endpoints> {
        let api_base = match st.mode {
            // The simulator answers at /v1/... on this server.
            AlipayMode::Simulator => public_url.to_owned(),
            AlipayMode::Gateway => st.api_base.clone(),
        };
        let client = StripeClient::new(ClientConfig {
            secret_key: secret_key.clone(),
            api_base,
            stripe_version: None,
            timeout,
        })
        .map_err(|e| anyhow::anyhow!("stripe client: {e}"))?;
        Ok(Endpoints {
            client,
            webhook_url: format!("{public_url}{WEBHOOK_PATH}"),
            result_url: format!("{public_url}/pay/result/?out_trade_no={OUT_TRADE_NO_PLACEHOLDER}"),
        })
    }

    /// Re-targets the client and URLs once the server knows its public URL.
    pub(super) fn set_public_url(&self, public_url: &str) -> anyhow::Result<()> {
        let endpoints = Self::endpoints(&self.settings, &self.secret_key, self.timeout, public_url)?;
        self.endpoints.store(Arc::new(endpoints));
        Ok(())
    }

    /// Where Stripe posts webhook events (this server's endpoint).
    pub fn webhook_url(&self) -> String {
        self.endpoints.load().webhook_url.clone()
    }

    /// `stripe.success_url` / `cancel_url` (or our result page) for order `no`.
    fn return_url(&self, configured: &str, no: &str) -> String {
        let endpoints = self.endpoints.load();
        let url = if configured.is_empty() { endpoints.result_url.as_str() } else { configured };
        url.replace(OUT_TRADE_NO_PLACEHOLDER, no)
    }

    /// The shop's facts of a session; refused when it is not in our currency or names no order.
    fn session_facts(
        &self,
        s: &CheckoutSession,
        paid: bool,
        status_text: &str,
    ) -> Result<TradeFacts, String> {
        let out_trade_no = s
            .out_trade_no()
            .ok_or("the session names no order (metadata[out_trade_no] and client_reference_id missing or differing)")?;
        let currency = s.currency.as_deref().unwrap_or("");
        if currency != self.settings.currency {
            return Err(format!("currency {currency:?} is not {:?}", self.settings.currency));
        }
        let total = s.amount_total.ok_or("the session has no amount_total")?;
        let state = if paid {
            TradeState::Paid
        } else if s.status == Some(SessionStatus::Expired) {
            TradeState::Closed
        } else {
            TradeState::Waiting
        };
        Ok(TradeFacts {
            out_trade_no: out_trade_no.to_owned(),
            state,
            status_text: status_text.to_owned(),
            trade_no: s.payment_intent.clone().unwrap_or_default(),
            total_amount_fen: total,
            paid_at: paid.then(Utc::now),
            refund_fee_fen: None,
        })
    }

    /// The session of a stored reference, retrieved.
    async fn retrieve(&self, stored: Option<&str>) -> Result<Option<CheckoutSession>, ProviderError> {
        let Some(id) = session_id(stored) else { return Ok(None) };
        match self.endpoints.load().client.retrieve_checkout_session(id).await {
            Ok(session) => Ok(Some(session)),
            Err(e) if e.code() == Some("resource_missing") => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait::async_trait]
impl Provider for StripeProvider {
    fn pay_type(&self) -> PayType {
        PayType::Stripe
    }

    fn name(&self) -> &'static str {
        "stripe"
    }

    /// `POST /v1/checkout/sessions` (one line item per course of the order, at its price in
    /// the smallest unit, quantity 1, adding up to the order's total; our number as
    /// `client_reference_id` and in the session's and PaymentIntent's metadata; `expires_at`
    /// the order's deadline, kept within Stripe's 31 minutes to 24 hours), idempotent by the
    /// order number. Stores `<session id> <url>`.
    async fn create(&self, p: &NewPayment) -> Result<String, ProviderError> {
        let now = p.now.timestamp();
        let expires_at = p.expires_at.timestamp().clamp(now + MIN_EXPIRES_IN_SECS, now + MAX_EXPIRES_IN_SECS);
        let line_items = p
            .lines
            .iter()
            .map(|l| LineItem { name: l.name.clone(), unit_amount: l.amount_fen, quantity: 1 })
            .collect();
        let session = CreateSession {
            out_trade_no: p.out_trade_no.clone(),
            line_items,
            currency: self.settings.currency.clone(),
            expires_at,
            success_url: self.return_url(&self.settings.success_url, &p.out_trade_no),
            cancel_url: self.return_url(&self.settings.cancel_url, &p.out_trade_no),
        };
        if session.amount_total() != Some(p.total_fen) {
            return Err(ProviderError::Permanent(format!(
                "order {}: its lines do not add up to its total",
                p.out_trade_no
            )));
        }
        let key = format!("checkout-{}", p.out_trade_no);
        let client = self.endpoints.load().client.clone();
        let created = client.create_checkout_session(&session, &key, now).await?;
        if created.amount_total != Some(p.total_fen)
            || created.out_trade_no() != Some(p.out_trade_no.as_str())
        {
            return Err(ProviderError::Permanent(format!(
                "session {} does not carry the order's amount and number",
                created.id
            )));
        }
        stored_reference(&created)
    }

    fn links(&self, _out_trade_no: &str, stored: &str) -> PayLinks {
        PayLinks { pay_url: session_url(stored).to_owned(), code_url: None }
    }

    /// `Stripe-Signature` over the raw body (any `v1` with the endpoint secret, 300 s either
    /// way) before anything is parsed; then the event: a paid `checkout.session.completed`
    /// and `checkout.session.async_payment_succeeded` pay, `checkout.session.expired` closes,
    /// `charge.refunded` carries the cumulative refunded amount; our currency is checked.
    /// Other events are acknowledged and ignored.
    fn verify_notification(&self, body: &[u8], headers: &Headers) -> Result<VerifiedNotice, Rejected> {
        let event = construct_event(
            body,
            headers.get(SIGNATURE_HEADER),
            &self.webhook_secret,
            Utc::now().timestamp(),
        )
        .map_err(|e| Rejected::because(format!("verification failed: {e}")))?;
        let notify_id = event.id.clone();
        let kind = event.kind().map_err(|e| Rejected {
            reason: format!("verification failed: {e}"),
            notify_id: Some(storable(&notify_id, 64)),
            status_text: Some(storable(&event.event_type, 32)),
            ..Rejected::default()
        })?;
        let refuse = |out_trade_no: Option<&str>, status: &str, reason: String| Rejected {
            reason,
            out_trade_no: out_trade_no.map(|n| storable(n, 64)),
            notify_id: Some(storable(&notify_id, 64)),
            status_text: Some(storable(status, 32)),
            authentic: true,
        };
        let session = |s: &CheckoutSession, paid: bool, status: &str| {
            self.session_facts(s, paid, status)
                .map(Notice::Trade)
                .map_err(|why| refuse(s.out_trade_no(), status, why))
        };
        let notice = match kind {
            EventKind::CheckoutSessionCompleted(s) => {
                let paid = s.payment_status == PaymentStatus::Paid;
                session(&s, paid, if paid { "completed:paid" } else { "completed:unpaid" })?
            }
            EventKind::CheckoutSessionAsyncPaymentSucceeded(s) => {
                session(&s, true, "async_payment_succeeded")?
            }
            EventKind::CheckoutSessionAsyncPaymentFailed(s) => session(&s, false, "async_payment_failed")?,
            EventKind::CheckoutSessionExpired(s) => {
                // Only an open (unpaid) session expires; a paid one is never read as a close
                // (which for a paid order would mean a refund).
                let mut s = s;
                s.status = Some(SessionStatus::Expired);
                let paid = s.payment_status == PaymentStatus::Paid;
                session(&s, paid, "expired")?
            }
            EventKind::ChargeRefunded(charge) => {
                let status = "charge.refunded";
                let no = charge.metadata.get(shop_stripe::event::OUT_TRADE_NO_KEY).map(String::as_str);
                let Some(no) = no else {
                    return Err(refuse(
                        None,
                        status,
                        "the charge names no order (metadata[out_trade_no])".into(),
                    ));
                };
                if charge.currency != self.settings.currency {
                    let why = format!("currency {:?} is not {:?}", charge.currency, self.settings.currency);
                    return Err(refuse(Some(no), status, why));
                }
                Notice::Trade(TradeFacts {
                    out_trade_no: no.to_owned(),
                    state: TradeState::Paid,
                    status_text: status.to_owned(),
                    trade_no: charge.payment_intent.clone().unwrap_or_default(),
                    total_amount_fen: charge.amount,
                    paid_at: None,
                    refund_fee_fen: Some(charge.amount_refunded),
                })
            }
            EventKind::Other => Notice::Ignored { event: event.event_type.clone() },
        };
        Ok(VerifiedNotice { notify_id, notice })
    }

    /// `GET /v1/checkout/sessions/{id}` of the order's session: complete and paid is paid,
    /// expired is closed, anything else waiting. No session (or an unknown one): not found.
    async fn query(&self, trade: TradeRef<'_>) -> Result<QueryAnswer, ProviderError> {
        let Some(s) = self.retrieve(trade.stored).await? else { return Ok(QueryAnswer::NotFound) };
        let paid = s.status == Some(SessionStatus::Complete) && s.payment_status == PaymentStatus::Paid;
        let status = match s.status {
            Some(SessionStatus::Complete) => "complete",
            Some(SessionStatus::Expired) => "expired",
            Some(SessionStatus::Open) => "open",
            _ => "unknown",
        };
        let facts = self.session_facts(&s, paid, status).map_err(ProviderError::Permanent)?;
        if facts.out_trade_no != trade.out_trade_no {
            return Err(ProviderError::Permanent(format!(
                "session {} belongs to order {}, not {}",
                s.id, facts.out_trade_no, trade.out_trade_no
            )));
        }
        Ok(QueryAnswer::Found(facts))
    }

    /// Expires the order's session, after retrieving it: only an open session can be expired;
    /// one that completed or expired already (the query brings money in) is not an error.
    async fn close(&self, trade: TradeRef<'_>) -> Result<(), ProviderError> {
        let Some(s) = self.retrieve(trade.stored).await? else { return Ok(()) };
        if s.status != Some(SessionStatus::Open) {
            tracing::warn!(order.out_trade_no = %trade.out_trade_no, stripe.session = %s.id, stripe.status = ?s.status, "close: the session is not open");
            return Ok(());
        }
        self.endpoints.load().client.expire_checkout_session(&s.id).await?;
        Ok(())
    }

    /// `POST /v1/refunds` on the session's PaymentIntent, idempotent by our request number.
    /// A replay answers the first answer again, so a refund that is not `succeeded` is then
    /// retrieved (`GET /v1/refunds/{id}`) for its current status: `succeeded` is done;
    /// `pending` and `requires_action` are in progress (asked again later, or settled by
    /// `charge.refunded`), as WeChat Pay's `PROCESSING`; `failed` and `canceled` are refused
    /// (the refund is marked failed, the order keeps its money).
    async fn refund(&self, call: &RefundCall<'_>) -> Result<RefundAnswer, ProviderError> {
        let session = self.retrieve(call.stored).await?.ok_or_else(|| {
            ProviderError::Permanent(format!("order {} has no Checkout Session", call.out_trade_no))
        })?;
        let intent = session.payment_intent.as_deref().ok_or_else(|| {
            ProviderError::Permanent(format!("session {} has no payment to refund", session.id))
        })?;
        let client = self.endpoints.load().client.clone();
        let mut refund =
            client.create_refund(intent, call.amount_fen, call.out_trade_no, call.out_request_no).await?;
        if refund.status.as_deref() != Some("succeeded") {
            refund = client.retrieve_refund(&refund.id).await?;
        }
        match refund.status.as_deref() {
            Some("succeeded") => Ok(RefundAnswer::Done { refunded_total_fen: None }),
            Some(status @ ("failed" | "canceled")) => {
                Err(ProviderError::Permanent(format!("refund {}: {status}", call.out_request_no)))
            }
            // pending, requires_action, or a state Stripe adds later: not done yet.
            _ => Ok(RefundAnswer::Processing),
        }
    }
}

/// The development simulator of Stripe: its API in memory (served at `/v1/...`) and the buyer
/// who fills the card form and pays.
pub struct StripeSim {
    /// Replaced (empty) when the server learns its public URL at start-up, so that sessions'
    /// `url`s name the card form where it is served.
    sim: ArcSwap<StripeSimulator>,
    http: reqwest::Client,
}

/// The webhook Stripe sends after an API call.
enum FollowUp {
    /// `charge.refunded` of this PaymentIntent.
    Refunded(String),
    /// `checkout.session.expired` of this session.
    Expired(String),
}

/// What the card form shows of a session.
#[derive(Debug, Clone)]
pub struct CardForm {
    /// The session.
    pub session_id: String,
    /// Our order number.
    pub out_trade_no: String,
    /// Amount in the smallest unit.
    pub amount: i64,
    /// Lower-case currency.
    pub currency: String,
    /// Whether it can still be paid.
    pub open: bool,
    /// When it expires.
    pub expires_at: Option<DateTime<Utc>>,
}

impl StripeSim {
    fn simulator(
        secret_key: &SecretString,
        webhook_secret: &WebhookSecret,
        public_url: &str,
    ) -> StripeSimulator {
        StripeSimulator::new(
            secret_key.clone(),
            StripeGateway::new(webhook_secret.clone()),
            &format!("{public_url}{CARD_FORM_PATH}"),
        )
    }

    /// Starts over at the server's public URL (at start-up, before any session exists).
    pub(super) fn set_public_url(&self, public_url: &str) {
        let current = self.sim.load();
        let secret = current.gateway().secret().clone();
        self.sim.store(Arc::new(Self::simulator(current.secret_key(), &secret, public_url)));
    }

    /// Answers an API call as Stripe would. A refund or an expiry is followed a moment later
    /// by its signed webhook (`charge.refunded`, `checkout.session.expired`) to `webhook_url`,
    /// as Stripe sends them.
    pub fn handle(
        self: &Arc<Self>,
        method: &str,
        path: &str,
        header: impl Fn(&str) -> Option<String>,
        body: &[u8],
        webhook_url: String,
    ) -> SimAnswer {
        let answer = self.sim.load().handle(method, path, header, body, Utc::now().timestamp());
        if method != "POST" || answer.status != 200 {
            return answer;
        }
        let field = |name: &str| {
            serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v.get(name).and_then(|n| n.as_str()).map(str::to_owned))
        };
        let follow_up = if path == "/v1/refunds" {
            field("payment_intent").map(FollowUp::Refunded)
        } else if path.ends_with("/expire") {
            field("id").map(FollowUp::Expired)
        } else {
            None
        };
        if let Some(event) = follow_up {
            let this = Arc::clone(self);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let now = Utc::now().timestamp();
                let sim = this.sim.load();
                let event = match &event {
                    FollowUp::Refunded(pi) => sim.charge_refunded_event(pi, now),
                    FollowUp::Expired(id) => sim.expired_event(id, now),
                };
                if let Ok((payload, signature)) = event
                    && let Err(e) = this.send(&webhook_url, payload, &signature).await
                {
                    tracing::warn!(error = %e, "simulator: the webhook was not delivered");
                }
            });
        }
        answer
    }

    /// What the card form of session `id` shows, if the session exists.
    pub fn card_form(&self, id: &str) -> Option<CardForm> {
        let s = self.sim.load().session(id)?;
        Some(CardForm {
            out_trade_no: s.out_trade_no()?.to_owned(),
            session_id: s.id.clone(),
            amount: s.amount_total.unwrap_or_default(),
            currency: s.currency.clone().unwrap_or_default(),
            open: s.status == Some(SessionStatus::Open),
            expires_at: s.expires_at.and_then(|t| DateTime::from_timestamp(t, 0)),
        })
    }

    /// The buyer pays session `id` by card: the session completes (paid) at the simulator,
    /// which posts its signed `checkout.session.completed` to `webhook_url` over HTTP (through
    /// the shop's normal verification). Returns the order number.
    ///
    /// # Errors
    /// `BadRequest` for an unknown session or one that is not open; `Unavailable` when the
    /// shop does not answer 2xx.
    pub async fn pay(&self, id: &str, webhook_url: &str) -> AppResult<String> {
        let sim = self.sim.load();
        let (payload, signature) = sim
            .complete_session(id, true, Utc::now().timestamp())
            .map_err(|e| AppError::BadRequest(msg::simulator_refused(e)))?;
        let no = sim.session(id).and_then(|s| s.out_trade_no().map(str::to_owned)).unwrap_or_default();
        self.send(webhook_url, payload, &signature).await?;
        Ok(no)
    }

    async fn send(&self, webhook_url: &str, payload: String, signature: &str) -> AppResult<()> {
        let answer = self
            .http
            .post(webhook_url)
            .header("content-type", "application/json; charset=utf-8")
            .header(SIGNATURE_HEADER, signature)
            .timeout(Duration::from_secs(15))
            .body(payload)
            .send()
            .await
            .map_err(|e| AppError::Unavailable(format!("the webhook could not be delivered: {e}")))?;
        if !answer.status().is_success() {
            return Err(AppError::Unavailable(format!(
                "the shop answered {} to the webhook",
                answer.status().as_u16()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_reference_names_the_session_and_its_page() {
        let stored = "cs_test_a1 https://checkout.stripe.com/c/pay/cs_test_a1#fid";
        assert_eq!(session_id(Some(stored)), Some("cs_test_a1"));
        assert_eq!(session_url(stored), "https://checkout.stripe.com/c/pay/cs_test_a1#fid");
        assert_eq!(session_id(Some("https://openapi.alipay.com/gateway.do?x=1")), None);
        assert_eq!(session_id(None), None);
    }
}
