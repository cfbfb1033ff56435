//! Typed requests and answers of the API v3 calls used by the shop, and the decrypted
//! notification resources. Amounts are integer fen (`amount.total`); the currency is `CNY`.
//!
//! Unknown fields are ignored; fields WeChat may omit are `Option`s. States WeChat may add
//! later are kept as `Other(..)` instead of failing.

use std::fmt;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The only currency of domestic Native payments.
pub const CURRENCY: &str = "CNY";

/// Largest order amount accepted here, in fen (one hundred million yuan).
pub const MAX_TOTAL_FEN: i64 = 10_000_000_000;

/// Longest `description` WeChat accepts, in bytes (127).
pub const MAX_DESCRIPTION_BYTES: usize = 127;

/// Why a request was refused before it was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid request: {0}")]
pub struct InvalidRequest(pub String);

fn allowed_no_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*')
}

/// `out_trade_no`: 6 to 32 characters of `[0-9A-Za-z_-|*]`.
///
/// # Errors
/// [`InvalidRequest`].
pub fn check_out_trade_no(no: &str) -> Result<(), InvalidRequest> {
    if !(6..=32).contains(&no.len()) || !no.bytes().all(allowed_no_char) {
        return Err(InvalidRequest("out_trade_no must be 6 to 32 characters of [0-9A-Za-z_-|*]".into()));
    }
    Ok(())
}

/// `out_refund_no`: 1 to 64 characters of `[0-9A-Za-z_-|*@]`.
///
/// # Errors
/// [`InvalidRequest`].
pub fn check_out_refund_no(no: &str) -> Result<(), InvalidRequest> {
    if !(1..=64).contains(&no.len()) || !no.bytes().all(|b| allowed_no_char(b) || b == b'@') {
        return Err(InvalidRequest("out_refund_no must be 1 to 64 characters of [0-9A-Za-z_-|*@]".into()));
    }
    Ok(())
}

fn check_total(name: &str, fen: i64) -> Result<(), InvalidRequest> {
    if !(1..=MAX_TOTAL_FEN).contains(&fen) {
        return Err(InvalidRequest(format!("{name} {fen} fen is out of range")));
    }
    Ok(())
}

fn check_notify_url(url: &str) -> Result<(), InvalidRequest> {
    let parsed = url::Url::parse(url).map_err(|e| InvalidRequest(format!("notify_url: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() || parsed.fragment().is_some()
    {
        return Err(InvalidRequest("notify_url must be an absolute http(s) URL without query".into()));
    }
    Ok(())
}

/// Beijing time (UTC+8), the offset WeChat writes.
#[must_use]
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// RFC 3339 in Beijing time with seconds, e.g. `2026-11-21T15:51:10+08:00` (the form of
/// `time_expire`).
#[must_use]
pub fn format_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&beijing()).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Parses an RFC 3339 time as WeChat sends it (`success_time`, `create_time`).
#[must_use]
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this crate does not know (kept as sent).
            Other(String),
        }

        impl $name {
            /// The wire text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(s) => s,
                }
            }

            /// From the wire text.
            #[must_use]
            pub fn from_text(text: &str) -> Self {
                match text {
                    $($text => $name::$variant,)*
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self::from_text(&String::deserialize(d)?))
            }
        }
    };
}

string_enum! {
    /// `trade_state` of a transaction.
    TradeState {
        /// Paid.
        Success = "SUCCESS",
        /// Paid, and (partly or wholly) refunded since: the money **was** received.
        Refund = "REFUND",
        /// Not paid (yet).
        NotPay = "NOTPAY",
        /// Closed without payment.
        Closed = "CLOSED",
        /// Revoked (payment-code payments).
        Revoked = "REVOKED",
        /// The payer is paying (entering a password).
        UserPaying = "USERPAYING",
        /// Payment failed.
        PayError = "PAYERROR",
    }
}

impl TradeState {
    /// `SUCCESS` or `REFUND`: the buyer paid.
    #[must_use]
    pub fn money_received(&self) -> bool {
        matches!(self, TradeState::Success | TradeState::Refund)
    }
}

string_enum! {
    /// `status` / `refund_status` of a refund.
    RefundStatus {
        /// Refunded.
        Success = "SUCCESS",
        /// Closed.
        Closed = "CLOSED",
        /// Being processed: ask again (refund query) or wait for the notification.
        Processing = "PROCESSING",
        /// Abnormal: the money could not be returned (e.g. closed card); needs manual handling.
        Abnormal = "ABNORMAL",
    }
}

/// `amount` of a request: total in fen and the currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAmount {
    /// Fen.
    pub total: i64,
    /// `CNY`.
    pub currency: String,
}

/// A Native order to create (`POST /v3/pay/transactions/native`); `appid` and `mchid` come
/// from the client configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeOrder {
    /// What is bought (at most 127 bytes).
    pub description: String,
    /// Our order number (6 to 32 characters of `[0-9A-Za-z_-|*]`).
    pub out_trade_no: String,
    /// When the buyer can no longer pay.
    pub time_expire: DateTime<Utc>,
    /// Where WeChat Pay sends the payment notification (no query string).
    pub notify_url: String,
    /// Amount in fen.
    pub total_fen: i64,
    /// Optional data returned in the query and the notification (at most 128 bytes).
    pub attach: Option<String>,
}

/// The JSON body of a Native create request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeCreateBody {
    /// App id.
    pub appid: String,
    /// Merchant id.
    pub mchid: String,
    /// Description.
    pub description: String,
    /// Our order number.
    pub out_trade_no: String,
    /// RFC 3339, `+08:00`.
    pub time_expire: String,
    /// Optional attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    /// Notification URL.
    pub notify_url: String,
    /// Amount.
    pub amount: OrderAmount,
}

impl NativeOrder {
    /// The request body, after checking every field.
    ///
    /// # Errors
    /// [`InvalidRequest`].
    pub fn to_body(&self, appid: &str, mchid: &str) -> Result<NativeCreateBody, InvalidRequest> {
        check_out_trade_no(&self.out_trade_no)?;
        check_total("amount.total", self.total_fen)?;
        check_notify_url(&self.notify_url)?;
        if self.description.is_empty() || self.description.len() > MAX_DESCRIPTION_BYTES {
            return Err(InvalidRequest("description must be 1 to 127 bytes".into()));
        }
        if self.attach.as_ref().is_some_and(|a| a.len() > 128) {
            return Err(InvalidRequest("attach must be at most 128 bytes".into()));
        }
        Ok(NativeCreateBody {
            appid: appid.to_owned(),
            mchid: mchid.to_owned(),
            description: self.description.clone(),
            out_trade_no: self.out_trade_no.clone(),
            time_expire: format_time(self.time_expire),
            attach: self.attach.clone(),
            notify_url: self.notify_url.clone(),
            amount: OrderAmount { total: self.total_fen, currency: CURRENCY.to_owned() },
        })
    }
}

/// The answer of a Native create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeCreated {
    /// `weixin://wxpay/bizpayurl?pr=...`: show it as a QR code.
    pub code_url: String,
}

/// `payer` of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Payer {
    /// The payer's openid under our appid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openid: Option<String>,
}

/// `amount` of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TransactionAmount {
    /// Order total in fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// What the payer paid in fen (total minus discounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<i64>,
    /// Currency of `total`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Currency of `payer_total`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
}

/// A transaction: the answer of the order query and the decrypted resource of the payment
/// notification (`TRANSACTION.SUCCESS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// App id.
    pub appid: String,
    /// Merchant id.
    pub mchid: String,
    /// Our order number.
    pub out_trade_no: String,
    /// WeChat's transaction id (present once paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// `NATIVE`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_type: Option<String>,
    /// State.
    pub trade_state: TradeState,
    /// State in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_state_desc: Option<String>,
    /// Bank type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_type: Option<String>,
    /// Our attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    /// When it was paid (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// Payer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    /// Amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<TransactionAmount>,
}

impl Transaction {
    /// `amount.total` in fen, if present.
    #[must_use]
    pub fn total_fen(&self) -> Option<i64> {
        self.amount.as_ref().and_then(|a| a.total)
    }

    /// `success_time` parsed.
    #[must_use]
    pub fn paid_at(&self) -> Option<DateTime<Utc>> {
        self.success_time.as_deref().and_then(parse_time)
    }
}

/// The body of a close request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseBody {
    /// Merchant id.
    pub mchid: String,
}

/// A refund to request (`POST /v3/refund/domestic/refunds`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The order.
    pub out_trade_no: String,
    /// Our refund number, the idempotency key: retry with the same value (1 to 64 characters).
    pub out_refund_no: String,
    /// Shown to the buyer (at most 80 characters).
    pub reason: Option<String>,
    /// Where the refund notification goes (defaults to the merchant platform setting).
    pub notify_url: Option<String>,
    /// Fen to refund.
    pub refund_fen: i64,
    /// The order total in fen.
    pub total_fen: i64,
}

/// `amount` of a refund request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequestAmount {
    /// Fen to refund.
    pub refund: i64,
    /// Order total in fen.
    pub total: i64,
    /// `CNY`.
    pub currency: String,
}

/// The JSON body of a refund request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundBody {
    /// The order.
    pub out_trade_no: String,
    /// Our refund number.
    pub out_refund_no: String,
    /// Reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Notification URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
    /// Amount.
    pub amount: RefundRequestAmount,
}

impl RefundRequest {
    /// The request body, after checking every field.
    ///
    /// # Errors
    /// [`InvalidRequest`].
    pub fn to_body(&self) -> Result<RefundBody, InvalidRequest> {
        check_out_trade_no(&self.out_trade_no)?;
        check_out_refund_no(&self.out_refund_no)?;
        check_total("amount.total", self.total_fen)?;
        check_total("amount.refund", self.refund_fen)?;
        if self.refund_fen > self.total_fen {
            return Err(InvalidRequest("amount.refund exceeds amount.total".into()));
        }
        if let Some(url) = &self.notify_url {
            check_notify_url(url)?;
        }
        if self.reason.as_ref().is_some_and(|r| r.chars().count() > 80) {
            return Err(InvalidRequest("reason must be at most 80 characters".into()));
        }
        Ok(RefundBody {
            out_trade_no: self.out_trade_no.clone(),
            out_refund_no: self.out_refund_no.clone(),
            reason: self.reason.clone().filter(|r| !r.is_empty()),
            notify_url: self.notify_url.clone(),
            amount: RefundRequestAmount {
                refund: self.refund_fen,
                total: self.total_fen,
                currency: CURRENCY.to_owned(),
            },
        })
    }
}

/// `amount` of a refund answer or refund notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RefundAmount {
    /// Order total in fen.
    pub total: i64,
    /// Refunded in fen.
    pub refund: i64,
    /// What the payer paid in fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<i64>,
    /// What goes back to the payer in fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_refund: Option<i64>,
    /// Currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// A refund: the answer of the refund request and of the refund query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// WeChat's refund id.
    pub refund_id: String,
    /// Our refund number.
    pub out_refund_no: String,
    /// WeChat's transaction id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// Our order number.
    pub out_trade_no: String,
    /// `ORIGINAL`, `BALANCE`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Where the money goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_received_account: Option<String>,
    /// When it succeeded (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// When it was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    /// Status: `PROCESSING` first, normally.
    pub status: RefundStatus,
    /// Amount.
    pub amount: RefundAmount,
}

/// The decrypted resource of a refund notification (`REFUND.SUCCESS`, `REFUND.ABNORMAL`,
/// `REFUND.CLOSED`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundNotice {
    /// Merchant id.
    pub mchid: String,
    /// Our order number.
    pub out_trade_no: String,
    /// WeChat's transaction id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// Our refund number.
    pub out_refund_no: String,
    /// WeChat's refund id.
    pub refund_id: String,
    /// Outcome.
    pub refund_status: RefundStatus,
    /// When it succeeded (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// Where the money went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_received_account: Option<String>,
    /// Amount.
    pub amount: RefundAmount,
}

/// The JSON body of an error answer: `{"code":"...","message":"..."}` (plus `detail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Error code, e.g. `ORDER_NOT_EXIST`, `PARAM_ERROR`, `SIGN_ERROR`.
    pub code: String,
    /// Message.
    #[serde(default)]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn time_expire_is_rfc3339_in_beijing_time() {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 7, 51, 10).single().expect("t");
        assert_eq!(format_time(t), "2026-11-21T15:51:10+08:00");
        assert_eq!(parse_time("2026-11-21T15:51:10+08:00"), Some(t));
    }

    #[test]
    fn order_numbers_follow_wechat_rules() {
        for ok in ["CS2026_ab-c|d*", "123456", &"a".repeat(32)] {
            check_out_trade_no(ok).expect(ok);
        }
        for bad in ["12345", &"a".repeat(33), "CS 123456", "CS订单123456", "CS/123456", "CS@123456"] {
            assert!(check_out_trade_no(bad).is_err(), "{bad}");
        }
        check_out_refund_no(&"r@".repeat(32)).expect("64");
        assert!(check_out_refund_no(&"r".repeat(65)).is_err());
        assert!(check_out_refund_no("").is_err());
    }

    #[test]
    fn states_keep_unknown_values() {
        let t: TradeState = serde_json::from_str("\"REFUND\"").expect("json");
        assert!(t.money_received());
        assert!(!TradeState::NotPay.money_received());
        let t: TradeState = serde_json::from_str("\"NEW_STATE\"").expect("json");
        assert_eq!(t, TradeState::Other("NEW_STATE".into()));
        assert_eq!(serde_json::to_string(&RefundStatus::Processing).expect("json"), "\"PROCESSING\"");
    }

    #[test]
    fn refund_request_checks_amounts() {
        let mut r = RefundRequest {
            out_trade_no: "CS20261121abc".into(),
            out_refund_no: "R1".into(),
            reason: None,
            notify_url: None,
            refund_fen: 100,
            total_fen: 99,
        };
        assert!(r.to_body().is_err());
        r.refund_fen = 99;
        let body = serde_json::to_string(&r.to_body().expect("body")).expect("json");
        assert_eq!(
            body,
            r#"{"out_trade_no":"CS20261121abc","out_refund_no":"R1","amount":{"refund":99,"total":99,"currency":"CNY"}}"#
        );
    }
}
