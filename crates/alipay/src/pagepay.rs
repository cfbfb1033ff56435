//! `alipay.trade.page.pay` (电脑网站支付): the signed GET URL the buyer's browser is redirected to.
//!
//! `biz_content` is `{"out_trade_no":..,"total_amount":"99.90","subject":..,
//! "product_code":"FAST_INSTANT_TRADE_PAY"[,"time_expire":..][,"passback_params":..]}` (raw UTF-8
//! JSON); the same bytes are signed and sent. The URL is `gateway?` followed by every parameter
//! including `sign`, each form-encoded ([`crate::form::encode_component`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::amount::{MAX_TRADE_FEN, MIN_TRADE_FEN, format_yuan};
use crate::form::encode_pairs;
use crate::keys::{AppPrivateKey, SignError};
use crate::request::signed_params;
use crate::time::format_beijing;

/// The gateway method of page pay.
pub const METHOD: &str = "alipay.trade.page.pay";
/// The product code of page pay.
pub const PRODUCT_CODE: &str = "FAST_INSTANT_TRADE_PAY";

/// A page-pay request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagePayError {
    /// `out_trade_no` must be 1..=64 characters of `A-Z a-z 0-9 _`.
    #[error("invalid out_trade_no {0:?}: 1 to 64 letters, digits or '_'")]
    InvalidOutTradeNo(String),
    /// The amount is outside 0.01 ..= 100 000 000.00 yuan.
    #[error("total amount {0} fen is outside 1 ..= 10000000000 fen")]
    AmountOutOfRange(i64),
    /// `subject` must be 1..=256 characters, without control characters.
    #[error("invalid subject: 1 to 256 characters, no control characters")]
    InvalidSubject,
    /// A URL (gateway, notify_url, return_url) is not an absolute http(s) URL.
    #[error("invalid {which}: {reason}")]
    InvalidUrl {
        /// Which URL.
        which: &'static str,
        /// Why.
        reason: String,
    },
    /// `time_expire` is not after the request timestamp.
    #[error("time_expire is not in the future")]
    ExpiryInPast,
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// A page-pay request. Build with [`PagePay::new`] and the optional setters, then
/// [`PagePay::build_url`] (or [`crate::AlipayClient::page_pay_url`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePay {
    out_trade_no: String,
    total_fen: i64,
    subject: String,
    time_expire: Option<DateTime<Utc>>,
    notify_url: Option<String>,
    return_url: Option<String>,
    passback_params: Option<String>,
}

#[derive(Serialize)]
struct BizContent<'a> {
    out_trade_no: &'a str,
    total_amount: String,
    subject: &'a str,
    product_code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_expire: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    passback_params: Option<&'a str>,
}

fn check_url(which: &'static str, value: &str) -> Result<(), PagePayError> {
    let bad = |reason: String| PagePayError::InvalidUrl { which, reason };
    let url = url::Url::parse(value).map_err(|e| bad(e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad("scheme must be http or https".into()));
    }
    Ok(())
}

impl PagePay {
    /// A page-pay request for order `out_trade_no`, `total_fen` fen (e.g. `9990` = 99.90 yuan)
    /// and the product `subject` shown to the buyer.
    pub fn new(out_trade_no: impl Into<String>, total_fen: i64, subject: impl Into<String>) -> Self {
        PagePay {
            out_trade_no: out_trade_no.into(),
            total_fen,
            subject: subject.into(),
            time_expire: None,
            notify_url: None,
            return_url: None,
            passback_params: None,
        }
    }

    /// Absolute payment deadline (`time_expire`, rendered in Beijing time).
    #[must_use]
    pub fn time_expire(mut self, at: DateTime<Utc>) -> Self {
        self.time_expire = Some(at);
        self
    }

    /// The async notification URL (`notify_url`); omitted when empty.
    #[must_use]
    pub fn notify_url(mut self, url: impl Into<String>) -> Self {
        self.notify_url = Some(url.into()).filter(|u: &String| !u.is_empty());
        self
    }

    /// The browser return URL (`return_url`); omitted when empty. It must not carry a query
    /// string: Alipay appends its signed parameters and extra ones would not be signed.
    #[must_use]
    pub fn return_url(mut self, url: impl Into<String>) -> Self {
        self.return_url = Some(url.into()).filter(|u: &String| !u.is_empty());
        self
    }

    /// `passback_params`, returned unchanged in the notify (URL-encode it yourself if it
    /// contains special characters, as Alipay's docs ask); omitted when empty.
    #[must_use]
    pub fn passback_params(mut self, value: impl Into<String>) -> Self {
        self.passback_params = Some(value.into()).filter(|u: &String| !u.is_empty());
        self
    }

    fn validate(&self) -> Result<(), PagePayError> {
        let n = &self.out_trade_no;
        if n.is_empty() || n.len() > 64 || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(PagePayError::InvalidOutTradeNo(n.clone()));
        }
        if !(MIN_TRADE_FEN..=MAX_TRADE_FEN).contains(&self.total_fen) {
            return Err(PagePayError::AmountOutOfRange(self.total_fen));
        }
        let chars = self.subject.chars().count();
        if chars == 0 || chars > 256 || self.subject.chars().any(char::is_control) {
            return Err(PagePayError::InvalidSubject);
        }
        if let Some(u) = &self.notify_url {
            check_url("notify_url", u)?;
        }
        if let Some(u) = &self.return_url {
            check_url("return_url", u)?;
            if u.contains('?') {
                // Alipay appends its own parameters; extra ones would break return verification.
                return Err(PagePayError::InvalidUrl {
                    which: "return_url",
                    reason: "must not carry a query string".into(),
                });
            }
        }
        Ok(())
    }

    /// The `biz_content` JSON text (validated).
    ///
    /// # Errors
    /// [`PagePayError`] if a field is invalid.
    pub fn biz_content(&self) -> Result<String, PagePayError> {
        self.validate()?;
        let biz = BizContent {
            out_trade_no: &self.out_trade_no,
            total_amount: format_yuan(self.total_fen),
            subject: &self.subject,
            product_code: PRODUCT_CODE,
            time_expire: self.time_expire.map(format_beijing),
            passback_params: self.passback_params.as_deref(),
        };
        // Serializing a struct of strings cannot fail.
        serde_json::to_string(&biz).map_err(|_| PagePayError::InvalidSubject)
    }

    /// All parameters of the request, including `sign`, unencoded (for a POST form or tests).
    ///
    /// # Errors
    /// [`PagePayError`] if a field is invalid or signing fails.
    pub fn signed_params(
        &self,
        app_id: &str,
        key: &AppPrivateKey,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, PagePayError> {
        let biz = self.biz_content()?;
        if let Some(expire) = self.time_expire
            && expire <= now
        {
            return Err(PagePayError::ExpiryInPast);
        }
        let extra = [
            ("notify_url", self.notify_url.as_deref().unwrap_or("")),
            ("return_url", self.return_url.as_deref().unwrap_or("")),
        ];
        Ok(signed_params(app_id, METHOD, &biz, &extra, key, now)?)
    }

    /// The full GET URL: `gateway_url?` + every parameter (including `sign`), form-encoded.
    /// `now` is the request `timestamp` (pass `Utc::now()`).
    ///
    /// # Errors
    /// [`PagePayError`] if a field or the gateway URL is invalid or signing fails.
    pub fn build_url(
        &self,
        gateway_url: &str,
        app_id: &str,
        key: &AppPrivateKey,
        now: DateTime<Utc>,
    ) -> Result<String, PagePayError> {
        check_url("gateway_url", gateway_url)?;
        let params = self.signed_params(app_id, key, now)?;
        let sep = if gateway_url.contains('?') { '&' } else { '?' };
        Ok(format!("{gateway_url}{sep}{}", encode_pairs(&params)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn biz_content_shape() {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 8, 20, 46).single().expect("t");
        let p = PagePay::new("ORD_1", 9990, "课程 \"A\"").time_expire(t);
        assert_eq!(
            p.biz_content().expect("biz"),
            r#"{"out_trade_no":"ORD_1","total_amount":"99.90","subject":"课程 \"A\"","product_code":"FAST_INSTANT_TRADE_PAY","time_expire":"2026-11-21 16:20:46"}"#
        );
    }

    #[test]
    fn validation() {
        assert!(matches!(
            PagePay::new("ORD-1", 1, "x").biz_content(),
            Err(PagePayError::InvalidOutTradeNo(_))
        ));
        assert!(matches!(
            PagePay::new("A".repeat(65), 1, "x").biz_content(),
            Err(PagePayError::InvalidOutTradeNo(_))
        ));
        assert!(PagePay::new("A".repeat(64), 1, "x").biz_content().is_ok());
        for fen in [0, -1, MAX_TRADE_FEN + 1] {
            assert_eq!(PagePay::new("A", fen, "x").biz_content(), Err(PagePayError::AmountOutOfRange(fen)));
        }
        assert_eq!(PagePay::new("A", 1, "").biz_content(), Err(PagePayError::InvalidSubject));
        assert_eq!(PagePay::new("A", 1, "a\nb").biz_content(), Err(PagePayError::InvalidSubject));
        assert!(matches!(
            PagePay::new("A", 1, "x").notify_url("ftp://x/").biz_content(),
            Err(PagePayError::InvalidUrl { which: "notify_url", .. })
        ));
        assert!(PagePay::new("A", 1, "x").notify_url("").biz_content().is_ok());
        assert!(matches!(
            PagePay::new("A", 1, "x").return_url("https://s/r?x=1").biz_content(),
            Err(PagePayError::InvalidUrl { which: "return_url", .. })
        ));
    }
}
