//! One interface for every payment provider (Alipay, WeChat Pay, ...): create a payment,
//! verify a notification, query, close and refund a trade, read a statement. The use cases of
//! `payments` (ordering, the notify, polling, expiry, refunds, reconciliation, the jobs) talk
//! to a [`Provider`] only, and what a provider reports reaches the money rules
//! (`payments::apply`) as provider-neutral [`TradeFacts`], so those rules (paid once, late
//! money, overlap refunds) are written once and serve every provider unchanged.
//!
//! An order keeps its provider in `pay_type` (1 Alipay, 2 WeChat Pay, 3 Stripe); the jobs
//! that close and refund trades name it by their kind (`alipay_close`, `wechatpay_refund`...).
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use shop_domain::order::PayType;

/// A trade's state in the shop's terms: all the money rules need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeState {
    /// Not paid (yet): changes nothing.
    Waiting,
    /// The buyer paid: the money was received (also when the provider says it was refunded
    /// since, as WeChat Pay's `REFUND` does).
    Paid,
    /// The trade was closed: an unpaid order is cancelled; for a paid order it means a full
    /// refund (Alipay's `TRADE_CLOSED`).
    Closed,
}

/// What a provider reported about one trade, verified (a notification or a query answer).
#[derive(Debug, Clone)]
pub struct TradeFacts {
    /// Our order number.
    pub out_trade_no: String,
    /// The state.
    pub state: TradeState,
    /// The provider's own word for the state (`TRADE_SUCCESS`, `SUCCESS`), for the audit log.
    pub status_text: String,
    /// The provider's trade number (empty while unpaid).
    pub trade_no: String,
    /// The amount of the trade in fen.
    pub total_amount_fen: i64,
    /// When it was paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// The cumulative refunded amount, when the message carries one (Alipay's refund notifies).
    pub refund_fee_fen: Option<i64>,
}

impl TradeFacts {
    /// A payment without a refund in it (what the one-statement notify path decides).
    pub(crate) fn is_plain_payment(&self) -> bool {
        self.state == TradeState::Paid && self.refund_fee_fen.is_none()
    }
}

/// A refund's outcome reported by a provider, verified (WeChat Pay's `REFUND.*` notification).
#[derive(Debug, Clone)]
pub struct RefundFacts {
    /// Our order number.
    pub out_trade_no: String,
    /// Our refund request number.
    pub out_request_no: String,
    /// The amount of this refund in fen.
    pub refund_fen: i64,
    /// Whether the money went back (`false`: closed or abnormal; needs an operator).
    pub succeeded: bool,
    /// The provider's word for the outcome, for the audit log.
    pub status_text: String,
}

/// What a verified notification is about.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A trade's state (a payment, a close, a refund total).
    Trade(TradeFacts),
    /// A refund's outcome.
    Refund(RefundFacts),
    /// An event the shop does not act on: acknowledged, audited, ignored.
    Ignored {
        /// The event type.
        event: String,
    },
}

/// A notification that verified and is ours (merchant and app checked by the provider).
#[derive(Debug, Clone)]
pub struct VerifiedNotice {
    /// The provider's notification id (the same for every resend).
    pub notify_id: String,
    /// What it says.
    pub notice: Notice,
}

/// A notification that must be refused (answered with a failure, nothing changed), with what
/// could be read from it for the audit log (unverified: never acted on).
#[derive(Debug, Clone, Default)]
pub struct Rejected {
    /// Why.
    pub reason: String,
    /// The order number it names, if readable.
    pub out_trade_no: Option<String>,
    /// Its id, if readable.
    pub notify_id: Option<String>,
    /// Its state text, if readable.
    pub status_text: Option<String>,
    /// The message is authentic (its signature verified) but refused for what it says (not
    /// our order, another amount or currency, not our merchant): Stripe is answered 2xx for
    /// it (resending cannot change it), the other providers a failure as for any refusal.
    pub authentic: bool,
}

impl Rejected {
    /// Refused for `reason`, nothing readable.
    pub fn because(reason: impl Into<String>) -> Self {
        Rejected { reason: reason.into(), ..Rejected::default() }
    }
}

/// The request headers of a notification, looked up without regard to case.
#[derive(Debug, Clone, Default)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The value of `name`, if present (the first one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A payment to create at the provider when the order is made.
#[derive(Debug, Clone)]
pub struct NewPayment {
    /// Our order number.
    pub out_trade_no: String,
    /// What is bought.
    pub subject: String,
    /// The amount in fen.
    pub total_fen: i64,
    /// What is bought, one line per course at its price (adding up to `total_fen`).
    pub lines: Vec<PaymentLine>,
    /// When the buyer can no longer pay.
    pub expires_at: DateTime<Utc>,
    /// Now.
    pub now: DateTime<Utc>,
}

/// One line of a payment: a course and its price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentLine {
    /// The course's name.
    pub name: String,
    /// Its price in fen.
    pub amount_fen: i64,
}

/// How the buyer pays an order: the URL to open, and for QR payments the code to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayLinks {
    /// The page to open (the provider's cashier, or ours showing a QR code).
    pub pay_url: String,
    /// The QR code's content (WeChat Pay Native's `code_url`).
    pub code_url: Option<String>,
}

/// A trade at its provider, as the order knows it: our number and what `create` returned (the
/// order's stored payment reference, e.g. Stripe's Checkout Session), so query, close and
/// refund can use the provider's own reference where it has one.
#[derive(Debug, Clone, Copy)]
pub struct TradeRef<'a> {
    /// Our order number.
    pub out_trade_no: &'a str,
    /// What [`Provider::create`] returned for the order (`None` for an order that has none).
    pub stored: Option<&'a str>,
}

/// The [`TradeRef`] of a stored order.
pub(crate) fn trade_ref(order: &shop_db::entities::order::Model) -> TradeRef<'_> {
    TradeRef { out_trade_no: &order.out_trade_no, stored: order.pay_url.as_deref() }
}

/// The provider's answer to a query.
#[derive(Debug, Clone)]
pub enum QueryAnswer {
    /// The trade as the provider knows it.
    Found(TradeFacts),
    /// The provider knows no such trade (the buyer never opened the cashier): not paid.
    NotFound,
}

/// A refund to make.
#[derive(Debug, Clone)]
pub struct RefundCall<'a> {
    /// Our order number.
    pub out_trade_no: &'a str,
    /// What [`Provider::create`] returned for the order (see [`TradeRef`]).
    pub stored: Option<&'a str>,
    /// The refund's idempotency key at the provider.
    pub out_request_no: &'a str,
    /// The amount of this refund in fen.
    pub amount_fen: i64,
    /// The order's total in fen (WeChat Pay wants it).
    pub total_fen: i64,
    /// The reason shown to the buyer.
    pub reason: &'a str,
}

/// The provider's answer to a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundAnswer {
    /// The money went back. `refunded_total_fen` is the trade's cumulative refunded amount
    /// when the provider says it (Alipay); otherwise the shop adds up its own refunds.
    Done {
        /// Cumulative refunded amount, if the provider reports it.
        refunded_total_fen: Option<i64>,
    },
    /// Accepted and in progress (WeChat Pay's `PROCESSING`, Stripe's `pending` and
    /// `requires_action`): ask again later with the same number, or wait for the refund
    /// notification (WeChat Pay's `REFUND.SUCCESS`, Stripe's `charge.refunded`).
    Processing,
}

/// What a statement line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// Money in: a payment.
    Payment,
    /// Money out: a refund.
    Refund,
}

/// One line of a provider's statement (for reconciliation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// Payment or refund.
    pub kind: StatementKind,
    /// The order number the line names (ours, or not).
    pub out_trade_no: String,
    /// The provider's trade number.
    pub trade_no: String,
    /// Amount in fen, positive (for a refund, what went back).
    pub amount_fen: i64,
    /// A refund's request number (ours when course-shop made it, the console's otherwise).
    pub refund_no: Option<String>,
    /// When it happened.
    pub at: Option<DateTime<Utc>>,
}

/// A provider call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Worth retrying with the same numbers (timeout, transport, 5xx, 429).
    #[error("{0}")]
    Retryable(String),
    /// Will fail again (refused, unverifiable answer, bad request).
    #[error("{0}")]
    Permanent(String),
    /// The provider (or this shop's side of it) does not offer this yet.
    #[error("not supported yet: {0}")]
    NotSupported(&'static str),
}

/// A payment provider. Implementations: `payments::alipay::AlipayProvider`,
/// `payments::wechat::WechatPayProvider`, `payments::stripe::StripeProvider`.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// The pay type orders of this provider carry.
    fn pay_type(&self) -> PayType;

    /// A short name for logs and job kinds (`alipay`, `wechatpay`, `stripe`).
    fn name(&self) -> &'static str;

    /// Creates the payment at the provider (or signs the URL that does); returns what the
    /// order stores in `pay_url` and [`Provider::links`] turns into the buyer's links.
    async fn create(&self, payment: &NewPayment) -> Result<String, ProviderError>;

    /// The buyer's links of an order whose stored payment reference is `stored`.
    fn links(&self, out_trade_no: &str, stored: &str) -> PayLinks;

    /// Verifies a notification (its raw body and headers) before anything in it is used, and
    /// checks that it is for our merchant and app. Business checks that need the order (is it
    /// ours, does the amount match) are the caller's.
    fn verify_notification(&self, body: &[u8], headers: &Headers) -> Result<VerifiedNotice, Rejected>;

    /// Asks the provider about a trade; the answer is verified.
    async fn query(&self, trade: TradeRef<'_>) -> Result<QueryAnswer, ProviderError>;

    /// Closes an unpaid trade. A trade unknown to the provider, or already paid or closed
    /// (a notification or a query brings that money in), is not an error.
    async fn close(&self, trade: TradeRef<'_>) -> Result<(), ProviderError>;

    /// Refunds (part of) a trade; idempotent by `out_request_no`.
    async fn refund(&self, call: &RefundCall<'_>) -> Result<RefundAnswer, ProviderError>;

    /// The provider's statement (对账单) of a day (Beijing time), downloaded to a temporary
    /// file and verified whole (a statement that is malformed, in another encoding, truncated
    /// or whose hash differs is an error before any line of it is used). Alipay and WeChat Pay
    /// implement it.
    async fn statement(&self, _day: NaiveDate) -> Result<Box<dyn Statement>, ProviderError> {
        Err(ProviderError::NotSupported("statements"))
    }

    /// A statement file downloaded before (the same format as [`Provider::statement`]'s),
    /// verified whole (blocking file I/O).
    fn statement_file(&self, _path: &Path) -> Result<Box<dyn Statement>, ProviderError> {
        Err(ProviderError::NotSupported("statements"))
    }
}

/// A provider's statement, verified whole and on disk: it reads back line by line, never whole
/// into memory.
pub trait Statement: Send + Sync {
    /// Payment and refund lines in it (as the verifying pass counted them).
    fn lines(&self) -> u64;

    /// Reads the statement again from its start and hands every line to `on_line`, in order.
    /// Blocking (file I/O, decompression): run it on a blocking thread.
    ///
    /// # Errors
    /// An I/O error (the file was verified before, so nothing else).
    fn read(&self, on_line: &mut dyn FnMut(StatementLine)) -> Result<(), ProviderError>;
}

/// Text as the audit log can store it: at most `max` characters, a NUL (which Postgres
/// cannot store in text) replaced by U+FFFD.
pub(crate) fn storable(text: &str, max: usize) -> String {
    // Most text (a notification's whole body) is shorter than `max` bytes, so than `max`
    // characters, and has no NUL: it is stored as it is, copied at once.
    if text.len() <= max && !text.as_bytes().contains(&0) {
        return text.to_owned();
    }
    storable_by_char(text, max)
}

/// [`storable`], character by character (what its fast path must equal).
fn storable_by_char(text: &str, max: usize) -> String {
    text.chars().take(max).map(|c| if c == '\0' { '\u{FFFD}' } else { c }).collect()
}

#[cfg(test)]
mod storable_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn storable_text_is_the_same_copied_whole_or_character_by_character(
            text in "(?s)[a-z=&%\\x00é中\u{1F600}]{0,40}",
            max in 0usize..48,
        ) {
            prop_assert_eq!(storable(&text, max), storable_by_char(&text, max));
        }
    }

    #[test]
    fn a_nul_is_replaced_and_long_text_cut_at_max_characters() {
        assert_eq!(storable("a\0b", 10), "a\u{FFFD}b");
        assert_eq!(storable("中文课程", 2), "中文");
        assert_eq!(storable("trade_status=TRADE_SUCCESS", 64), "trade_status=TRADE_SUCCESS");
    }
}
