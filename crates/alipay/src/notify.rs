//! Async notifies (`notify_url` POST) and synchronous returns (`return_url` GET): signature
//! verification with Alipay's public key, then typed parsing of the fields the shop needs.
//!
//! Verification (protocol §5/§6): form-decode the body once ([`crate::form::parse_urlencoded`]),
//! then verify `sign` over [`crate::sign::notify_sign_content`] (all received parameters except
//! `sign` and `sign_type`, empty values dropped, sorted, raw values). Tolerated variants, tried
//! only when the first attempt fails, each still requiring a valid Alipay signature:
//!
//! * `fund_bill_list` received HTML-escaped (`&quot;`) while Alipay signed the unescaped JSON
//!   (seen in the wild): retried with `&quot;` → `"` in that field;
//! * empty values kept (the Java SDK's `rsaCheckV1` keeps them);
//! * `sign_type` kept (the "V2" form some interfaces use).
//!
//! Repeated parameter names are rejected, and `sign_type`, if present, must be `RSA2`.
//! Business checks (is `app_id` ours, is `seller_id` ours, does `total_amount` equal the order
//! amount, does the order exist) are **not** done here: the caller must do them.

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::amount::{AmountError, parse_yuan};
use crate::form::{FormError, parse_urlencoded};
use crate::keys::AlipayPublicKey;
use crate::sign::{CanonicalOptions, canonical_content};
use crate::time::parse_beijing;

/// Alipay's `trade_status`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TradeStatus {
    /// `WAIT_BUYER_PAY`: created, not paid.
    WaitBuyerPay,
    /// `TRADE_CLOSED`: closed unpaid, or fully refunded after payment.
    TradeClosed,
    /// `TRADE_SUCCESS`: paid (still refundable).
    TradeSuccess,
    /// `TRADE_FINISHED`: paid, no longer refundable.
    TradeFinished,
    /// Any other value, kept verbatim.
    Other(String),
}

impl TradeStatus {
    /// Maps the wire value; unknown values become [`TradeStatus::Other`].
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s {
            "WAIT_BUYER_PAY" => TradeStatus::WaitBuyerPay,
            "TRADE_CLOSED" => TradeStatus::TradeClosed,
            "TRADE_SUCCESS" => TradeStatus::TradeSuccess,
            "TRADE_FINISHED" => TradeStatus::TradeFinished,
            other => TradeStatus::Other(other.to_owned()),
        }
    }

    /// The wire value.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            TradeStatus::WaitBuyerPay => "WAIT_BUYER_PAY",
            TradeStatus::TradeClosed => "TRADE_CLOSED",
            TradeStatus::TradeSuccess => "TRADE_SUCCESS",
            TradeStatus::TradeFinished => "TRADE_FINISHED",
            TradeStatus::Other(s) => s,
        }
    }

    /// `true` for `TRADE_SUCCESS` and `TRADE_FINISHED`, the only statuses meaning "paid".
    #[must_use]
    pub fn is_paid(&self) -> bool {
        matches!(self, TradeStatus::TradeSuccess | TradeStatus::TradeFinished)
    }
}

impl fmt::Display for TradeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A notify or return could not be verified or parsed. Answer Alipay with something other than
/// `success` (e.g. `fail`) and never act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The body is not valid form encoding.
    #[error("malformed form body: {0}")]
    Form(#[from] FormError),
    /// No (or an empty) `sign` parameter.
    #[error("missing sign parameter")]
    MissingSign,
    /// `sign_type` is present and is not `RSA2`.
    #[error("unsupported sign_type {0:?} (only RSA2)")]
    UnsupportedSignType(String),
    /// A parameter name occurs more than once.
    #[error("parameter {0:?} occurs more than once")]
    DuplicateParam(String),
    /// The signature does not verify with Alipay's public key.
    #[error("signature does not verify with the alipay public key")]
    BadSignature,
    /// A required field is missing or empty (after a valid signature).
    #[error("missing field {0}")]
    MissingField(&'static str),
    /// A field has an invalid value (after a valid signature).
    #[error("invalid field {field}: {reason}")]
    InvalidField {
        /// The field name.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

fn find<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Verifies only the signature of a decoded notify / return parameter set (with the tolerated
/// variants described in the module docs). On success returns the parameters that verified
/// (identical to the input, except `fund_bill_list` if it had to be HTML-unescaped).
///
/// # Errors
/// [`VerifyError::MissingSign`], [`VerifyError::UnsupportedSignType`],
/// [`VerifyError::DuplicateParam`] or [`VerifyError::BadSignature`].
pub fn verify_signature(
    params: &[(String, String)],
    key: &AlipayPublicKey,
) -> Result<Vec<(String, String)>, VerifyError> {
    let mut seen = HashSet::with_capacity(params.len());
    for (k, _) in params {
        if !seen.insert(k.as_str()) {
            return Err(VerifyError::DuplicateParam(k.clone()));
        }
    }
    let sign = find(params, "sign").filter(|s| !s.is_empty()).ok_or(VerifyError::MissingSign)?;
    let sign_type = find(params, "sign_type");
    if let Some(t) = sign_type
        && t != "RSA2"
    {
        return Err(VerifyError::UnsupportedSignType(t.to_owned()));
    }
    let has_empty = params.iter().any(|(k, v)| v.is_empty() && k != "sign" && k != "sign_type");
    let mut options = vec![CanonicalOptions::NOTIFY];
    if has_empty {
        options.push(CanonicalOptions { keep_sign_type: false, keep_empty: true });
    }
    if sign_type.is_some() {
        options.push(CanonicalOptions { keep_sign_type: true, keep_empty: false });
        if has_empty {
            options.push(CanonicalOptions { keep_sign_type: true, keep_empty: true });
        }
    }

    let mut candidates = vec![params.to_vec()];
    if find(params, "fund_bill_list").is_some_and(|v| v.contains("&quot;")) {
        candidates.push(
            params
                .iter()
                .map(|(k, v)| {
                    let v = if k == "fund_bill_list" { v.replace("&quot;", "\"") } else { v.clone() };
                    (k.clone(), v)
                })
                .collect(),
        );
    }
    for candidate in candidates {
        for opts in &options {
            if key.verify(&canonical_content(&candidate, *opts), sign).is_ok() {
                return Ok(candidate);
            }
        }
    }
    Err(VerifyError::BadSignature)
}

/// Field access on verified parameters.
struct Fields<'a>(&'a [(String, String)]);

impl Fields<'_> {
    fn opt(&self, name: &str) -> Option<String> {
        find(self.0, name).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    fn req(&self, name: &'static str) -> Result<String, VerifyError> {
        self.opt(name).ok_or(VerifyError::MissingField(name))
    }

    fn amount(&self, name: &'static str) -> Result<Option<i64>, VerifyError> {
        self.opt(name)
            .map(|v| {
                parse_yuan(&v).map_err(|e: AmountError| VerifyError::InvalidField {
                    field: name,
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    fn req_amount(&self, name: &'static str) -> Result<i64, VerifyError> {
        self.amount(name)?.ok_or(VerifyError::MissingField(name))
    }

    fn time(&self, name: &'static str) -> Result<Option<DateTime<Utc>>, VerifyError> {
        self.opt(name)
            .map(|v| {
                parse_beijing(&v)
                    .map_err(|e| VerifyError::InvalidField { field: name, reason: e.to_string() })
            })
            .transpose()
    }
}

/// A notify whose signature verified, with the fields the shop needs.
///
/// Amounts are in fen, times in UTC. `params` keeps every received parameter (minus `sign`)
/// for logging or fields not mapped here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNotify {
    /// `notify_id` (stable across resends of the same notification).
    pub notify_id: String,
    /// `notify_type`, e.g. `trade_status_sync`.
    pub notify_type: String,
    /// `notify_time`.
    pub notify_time: Option<DateTime<Utc>>,
    /// `app_id` — the caller must compare it with its own.
    pub app_id: String,
    /// `seller_id` (merchant PID) — the caller should compare it if configured.
    pub seller_id: Option<String>,
    /// `out_trade_no`, the merchant order number.
    pub out_trade_no: String,
    /// `trade_no`, Alipay's trade number.
    pub trade_no: String,
    /// `trade_status`.
    pub trade_status: TradeStatus,
    /// `total_amount` in fen — the caller must compare it with the order amount.
    pub total_amount_fen: i64,
    /// `gmt_create`.
    pub gmt_create: Option<DateTime<Utc>>,
    /// `gmt_payment`.
    pub gmt_payment: Option<DateTime<Utc>>,
    /// `gmt_refund` (refund notifies).
    pub gmt_refund: Option<DateTime<Utc>>,
    /// `gmt_close`.
    pub gmt_close: Option<DateTime<Utc>>,
    /// `refund_fee` in fen (cumulative refunded amount, refund notifies).
    pub refund_fee_fen: Option<i64>,
    /// `out_biz_no` (the refund request number, refund notifies).
    pub out_biz_no: Option<String>,
    /// `buyer_id`.
    pub buyer_id: Option<String>,
    /// `passback_params`, as decoded once (still URL-encoded if the merchant encoded it).
    pub passback_params: Option<String>,
    /// Every verified parameter except `sign`, in received order.
    pub params: Vec<(String, String)>,
}

fn strip_sign(params: Vec<(String, String)>) -> Vec<(String, String)> {
    params.into_iter().filter(|(k, _)| k != "sign").collect()
}

/// Verifies an async notify (parameters already form-decoded once) and parses its fields.
///
/// # Errors
/// A [`VerifyError`]; on any error the notify must not be acted on.
pub fn verify_notify(
    params: &[(String, String)],
    alipay_public_key: &AlipayPublicKey,
) -> Result<VerifiedNotify, VerifyError> {
    let verified = verify_signature(params, alipay_public_key)?;
    let f = Fields(&verified);
    let notify = VerifiedNotify {
        notify_id: f.req("notify_id")?,
        notify_type: f.req("notify_type")?,
        notify_time: f.time("notify_time")?,
        app_id: f.req("app_id")?,
        seller_id: f.opt("seller_id"),
        out_trade_no: f.req("out_trade_no")?,
        trade_no: f.req("trade_no")?,
        trade_status: TradeStatus::parse(&f.req("trade_status")?),
        total_amount_fen: f.req_amount("total_amount")?,
        gmt_create: f.time("gmt_create")?,
        gmt_payment: f.time("gmt_payment")?,
        gmt_refund: f.time("gmt_refund")?,
        gmt_close: f.time("gmt_close")?,
        refund_fee_fen: f.amount("refund_fee")?,
        out_biz_no: f.opt("out_biz_no"),
        buyer_id: f.opt("buyer_id"),
        passback_params: f.opt("passback_params"),
        params: Vec::new(),
    };
    Ok(VerifiedNotify { params: strip_sign(verified), ..notify })
}

/// Parses a raw `application/x-www-form-urlencoded` notify body (decoding once) and verifies it
/// with [`verify_notify`].
///
/// # Errors
/// [`VerifyError::Form`] for a malformed body, otherwise as [`verify_notify`].
pub fn verify_notify_body(
    body: impl AsRef<[u8]>,
    alipay_public_key: &AlipayPublicKey,
) -> Result<VerifiedNotify, VerifyError> {
    verify_notify(&parse_urlencoded(body)?, alipay_public_key)
}

/// A synchronous return (`return_url?...`) whose signature verified. Not proof of payment:
/// use it for the buyer's page only; rely on the notify or `alipay.trade.query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReturn {
    /// `app_id`.
    pub app_id: String,
    /// `seller_id`.
    pub seller_id: Option<String>,
    /// `out_trade_no`.
    pub out_trade_no: String,
    /// `trade_no`.
    pub trade_no: String,
    /// `total_amount` in fen.
    pub total_amount_fen: i64,
    /// `timestamp`.
    pub timestamp: Option<DateTime<Utc>>,
    /// Every verified parameter except `sign`, in received order.
    pub params: Vec<(String, String)>,
}

/// Verifies the query parameters of a synchronous return (already form-decoded once; use
/// [`crate::form::parse_urlencoded`] on the raw query string) and parses its fields.
///
/// # Errors
/// A [`VerifyError`].
pub fn verify_return(
    params: &[(String, String)],
    alipay_public_key: &AlipayPublicKey,
) -> Result<VerifiedReturn, VerifyError> {
    let verified = verify_signature(params, alipay_public_key)?;
    let f = Fields(&verified);
    let ret = VerifiedReturn {
        app_id: f.req("app_id")?,
        seller_id: f.opt("seller_id"),
        out_trade_no: f.req("out_trade_no")?,
        trade_no: f.req("trade_no")?,
        total_amount_fen: f.req_amount("total_amount")?,
        timestamp: f.time("timestamp")?,
        params: Vec::new(),
    };
    Ok(VerifiedReturn { params: strip_sign(verified), ..ret })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::AppPrivateKey;
    use crate::sign::notify_sign_content;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    fn signed(key: &AppPrivateKey, p: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut p = pairs(p);
        let sign = key.sign(&notify_sign_content(&p)).expect("sign");
        p.push(("sign".into(), sign));
        p.push(("sign_type".into(), "RSA2".into()));
        p
    }

    const BASE: &[(&str, &str)] = &[
        ("notify_id", "n1"),
        ("notify_type", "trade_status_sync"),
        ("app_id", "2021"),
        ("out_trade_no", "ORD_1"),
        ("trade_no", "T1"),
        ("trade_status", "TRADE_SUCCESS"),
        ("total_amount", "88.80"),
        ("gmt_payment", "2026-11-21 15:51:10"),
    ];

    #[test]
    fn verifies_and_parses() {
        let key = AppPrivateKey::generate().expect("key");
        let public = key.public_key().expect("pub");
        let n = verify_notify(&signed(&key, BASE), &public).expect("verify");
        assert_eq!(n.total_amount_fen, 8880);
        assert_eq!(n.trade_status, TradeStatus::TradeSuccess);
        assert!(n.trade_status.is_paid());
        assert_eq!(n.gmt_payment.map(|t| t.to_rfc3339()), Some("2026-11-21T07:51:10+00:00".into()));
        assert_eq!(n.refund_fee_fen, None);
        assert!(n.params.iter().all(|(k, _)| k != "sign"));
    }

    #[test]
    fn rejects_structural_problems() {
        let key = AppPrivateKey::generate().expect("key");
        let public = key.public_key().expect("pub");
        let mut p = signed(&key, BASE);
        p.push(("trade_status".into(), "TRADE_SUCCESS".into()));
        assert_eq!(verify_notify(&p, &public), Err(VerifyError::DuplicateParam("trade_status".into())));
        let p: Vec<_> = signed(&key, BASE).into_iter().filter(|(k, _)| k != "sign").collect();
        assert_eq!(verify_notify(&p, &public), Err(VerifyError::MissingSign));
        let p: Vec<_> = signed(&key, BASE)
            .into_iter()
            .map(|(k, v)| if k == "sign_type" { (k, "RSA".into()) } else { (k, v) })
            .collect();
        assert_eq!(verify_notify(&p, &public), Err(VerifyError::UnsupportedSignType("RSA".into())));
        let other = AppPrivateKey::generate().expect("key");
        assert_eq!(verify_notify(&signed(&other, BASE), &public), Err(VerifyError::BadSignature));
    }

    #[test]
    fn typed_field_errors_after_valid_signature() {
        let key = AppPrivateKey::generate().expect("key");
        let public = key.public_key().expect("pub");
        let mut p = BASE.to_vec();
        p[6] = ("total_amount", "88.801");
        assert!(matches!(
            verify_notify(&signed(&key, &p), &public),
            Err(VerifyError::InvalidField { field: "total_amount", .. })
        ));
        let p: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != "trade_no").collect();
        assert_eq!(verify_notify(&signed(&key, &p), &public), Err(VerifyError::MissingField("trade_no")));
    }

    #[test]
    fn empty_values_signed_by_java_style_signer_still_verify() {
        let key = AppPrivateKey::generate().expect("key");
        let public = key.public_key().expect("pub");
        let mut p = pairs(BASE);
        p.push(("body".into(), String::new()));
        let keep_empty = CanonicalOptions { keep_sign_type: false, keep_empty: true };
        let sign = key.sign(&canonical_content(&p, keep_empty)).expect("sign");
        p.push(("sign".into(), sign));
        verify_notify(&p, &public).expect("verify");
    }

    #[test]
    fn trade_status_mapping() {
        for s in ["WAIT_BUYER_PAY", "TRADE_CLOSED", "TRADE_SUCCESS", "TRADE_FINISHED", "X"] {
            assert_eq!(TradeStatus::parse(s).as_str(), s);
        }
        assert_eq!(TradeStatus::parse("X"), TradeStatus::Other("X".into()));
        assert!(!TradeStatus::TradeClosed.is_paid());
        assert!(TradeStatus::TradeFinished.is_paid());
    }
}
