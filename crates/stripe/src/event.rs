//! Events and the API objects the shop needs: Checkout Session, Charge, Refund. Amounts are
//! integers in the currency's smallest unit (fen for `cny`); currencies are lower-case ISO codes.
//! Unknown fields are ignored; states Stripe may add later become `Unknown`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::webhook::WebhookError;

/// `checkout.session.completed`.
pub const CHECKOUT_SESSION_COMPLETED: &str = "checkout.session.completed";
/// `checkout.session.async_payment_succeeded`.
pub const CHECKOUT_SESSION_ASYNC_PAYMENT_SUCCEEDED: &str = "checkout.session.async_payment_succeeded";
/// `checkout.session.async_payment_failed`.
pub const CHECKOUT_SESSION_ASYNC_PAYMENT_FAILED: &str = "checkout.session.async_payment_failed";
/// `checkout.session.expired`.
pub const CHECKOUT_SESSION_EXPIRED: &str = "checkout.session.expired";
/// `charge.refunded`.
pub const CHARGE_REFUNDED: &str = "charge.refunded";

/// The metadata key carrying our order number.
pub const OUT_TRADE_NO_KEY: &str = "out_trade_no";

/// `payment_status` of a Checkout Session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// The money is there: pay the order.
    Paid,
    /// Not (yet) paid; `checkout.session.completed` can carry this for delayed methods.
    Unpaid,
    /// Nothing to pay.
    NoPaymentRequired,
    /// A value this crate does not know.
    #[serde(other)]
    Unknown,
}

/// `status` of a Checkout Session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Can still be paid (and expired).
    Open,
    /// Completed.
    Complete,
    /// Expired.
    Expired,
    /// A value this crate does not know.
    #[serde(other)]
    Unknown,
}

/// A Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutSession {
    /// `cs_...`.
    pub id: String,
    /// `checkout.session`.
    #[serde(default)]
    pub object: String,
    /// Total in the smallest currency unit.
    #[serde(default)]
    pub amount_total: Option<i64>,
    /// Lower-case currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// Our order number.
    #[serde(default)]
    pub client_reference_id: Option<String>,
    /// Metadata (ours: `out_trade_no`).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// `pi_...`; null until the session completes.
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// Payment status.
    pub payment_status: PaymentStatus,
    /// Session status.
    #[serde(default)]
    pub status: Option<SessionStatus>,
    /// The page to send the buyer to (open sessions only).
    #[serde(default)]
    pub url: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: bool,
}

impl CheckoutSession {
    /// Our order number: `metadata[out_trade_no]`, which must agree with `client_reference_id`
    /// when both are present.
    #[must_use]
    pub fn out_trade_no(&self) -> Option<&str> {
        let meta = self.metadata.get(OUT_TRADE_NO_KEY).map(String::as_str);
        match (meta, self.client_reference_id.as_deref()) {
            (Some(m), Some(c)) if m != c => None,
            (Some(m), _) => Some(m),
            (None, c) => c,
        }
    }
}

/// A Charge (`charge.refunded`). Its metadata is the PaymentIntent's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// `ch_...`.
    pub id: String,
    /// Charged, smallest unit.
    pub amount: i64,
    /// Refunded so far, cumulative.
    pub amount_refunded: i64,
    /// Currency.
    pub currency: String,
    /// `pi_...`.
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// Metadata (from `payment_intent_data[metadata]`).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Wholly refunded.
    #[serde(default)]
    pub refunded: bool,
}

/// A Refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// `re_...`.
    pub id: String,
    /// Amount.
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// `pi_...`.
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// `pending`, `succeeded`, `failed`, `requires_action`, `canceled`.
    #[serde(default)]
    pub status: Option<String>,
    /// Metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// `data` of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventData {
    /// The object, as sent.
    pub object: serde_json::Value,
}

/// A webhook event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `evt_...` (the same for every retry).
    pub id: String,
    /// `event`.
    pub object: String,
    /// `checkout.session.completed`, ...
    #[serde(rename = "type")]
    pub event_type: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: i64,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: bool,
    /// The object.
    pub data: EventData,
}

/// What an event is about, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per webhook; boxing would buy nothing
pub enum EventKind {
    /// `checkout.session.completed`: pay only if `payment_status` is `paid`.
    CheckoutSessionCompleted(CheckoutSession),
    /// `checkout.session.async_payment_succeeded`: pay.
    CheckoutSessionAsyncPaymentSucceeded(CheckoutSession),
    /// `checkout.session.async_payment_failed`.
    CheckoutSessionAsyncPaymentFailed(CheckoutSession),
    /// `checkout.session.expired`: close the order.
    CheckoutSessionExpired(CheckoutSession),
    /// `charge.refunded`: `amount_refunded` is cumulative.
    ChargeRefunded(Charge),
    /// Anything else: acknowledge and ignore.
    Other,
}

impl Event {
    /// The typed object.
    ///
    /// # Errors
    /// [`WebhookError::Malformed`] if a known event's object is not what it should be.
    pub fn kind(&self) -> Result<EventKind, WebhookError> {
        fn session(v: &serde_json::Value) -> Result<CheckoutSession, WebhookError> {
            serde_json::from_value(v.clone())
                .map_err(|e| WebhookError::Malformed(format!("checkout session: {e}")))
        }
        let object = &self.data.object;
        Ok(match self.event_type.as_str() {
            CHECKOUT_SESSION_COMPLETED => EventKind::CheckoutSessionCompleted(session(object)?),
            CHECKOUT_SESSION_ASYNC_PAYMENT_SUCCEEDED => {
                EventKind::CheckoutSessionAsyncPaymentSucceeded(session(object)?)
            }
            CHECKOUT_SESSION_ASYNC_PAYMENT_FAILED => {
                EventKind::CheckoutSessionAsyncPaymentFailed(session(object)?)
            }
            CHECKOUT_SESSION_EXPIRED => EventKind::CheckoutSessionExpired(session(object)?),
            CHARGE_REFUNDED => EventKind::ChargeRefunded(
                serde_json::from_value(object.clone())
                    .map_err(|e| WebhookError::Malformed(format!("charge: {e}")))?,
            ),
            _ => EventKind::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(meta: Option<&str>, client_ref: Option<&str>) -> CheckoutSession {
        CheckoutSession {
            id: "cs_test_1".into(),
            object: "checkout.session".into(),
            amount_total: Some(100),
            currency: Some("cny".into()),
            client_reference_id: client_ref.map(str::to_owned),
            metadata: meta
                .map(|m| BTreeMap::from([(OUT_TRADE_NO_KEY.to_owned(), m.to_owned())]))
                .unwrap_or_default(),
            payment_intent: None,
            payment_status: PaymentStatus::Unpaid,
            status: Some(SessionStatus::Open),
            url: None,
            expires_at: None,
            created: None,
            livemode: false,
        }
    }

    #[test]
    fn out_trade_no_needs_metadata_and_reference_to_agree() {
        assert_eq!(session(Some("A"), Some("A")).out_trade_no(), Some("A"));
        assert_eq!(session(Some("A"), None).out_trade_no(), Some("A"));
        assert_eq!(session(None, Some("A")).out_trade_no(), Some("A"));
        assert_eq!(session(Some("A"), Some("B")).out_trade_no(), None);
        assert_eq!(session(None, None).out_trade_no(), None);
    }

    #[test]
    fn unknown_states_are_kept() {
        let s: PaymentStatus = serde_json::from_str("\"paid\"").expect("json");
        assert_eq!(s, PaymentStatus::Paid);
        let s: SessionStatus = serde_json::from_str("\"new\"").expect("json");
        assert_eq!(s, SessionStatus::Unknown);
    }
}
