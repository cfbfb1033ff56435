//! Gateway JSON responses (protocol §7): extraction of the raw `<method>_response` text,
//! signature verification over exactly that text, and mapping to typed outcomes. Pure (no I/O);
//! [`crate::client`] feeds it the HTTP body.
//!
//! A response looks like `{"alipay_trade_query_response":{...},"sign":"..."}` (key order may
//! vary; `error_response` replaces the method node for some gateway-level errors). The sign
//! covers the value of the node exactly as received, from its `{` to the matching `}`; the
//! extraction walks the top-level object tracking strings and escapes and never re-serializes.
//! If verification fails, it is retried with `\/` replaced by `/` (Alipay sometimes escapes
//! `/` in JSON after signing).
//!
//! Policy: a response carrying a `sign` must verify ([`GatewayError::BadSignature`] otherwise);
//! a success (`code` `10000`) without a `sign` is [`GatewayError::BadSignature`]; an error
//! without a `sign` (app-level errors such as an invalid `app_id`) is accepted as a
//! [`GatewayError::Business`] error with `signed: false`. Typed "not exist" / "status error"
//! outcomes are only derived from signed responses.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::amount::parse_yuan;
use crate::keys::{AlipayPublicKey, SignError};
use crate::notify::TradeStatus;
use crate::request::response_node_name;
use crate::time::parse_beijing;

/// A gateway call failed. See [`GatewayError::is_retryable`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// No complete answer within the configured timeout (retryable; for refunds retry with
    /// the same `out_request_no`).
    #[error("alipay gateway timed out")]
    Timeout,
    /// Connection or protocol failure before an answer (retryable).
    #[error("alipay gateway transport error: {0}")]
    Transport(String),
    /// A non-2xx HTTP status (5xx retryable).
    #[error("alipay gateway answered HTTP {status}")]
    HttpStatus {
        /// The status code.
        status: u16,
    },
    /// The body is not the expected JSON envelope or a field is invalid.
    #[error("malformed alipay gateway response: {0}")]
    MalformedResponse(String),
    /// A success response without a valid signature, or any response with a `sign` that does
    /// not verify. Never trust such a response.
    #[error("alipay gateway response signature is missing or invalid")]
    BadSignature,
    /// Alipay answered with an error code.
    #[error("alipay error {code} {msg}{}{}", sub_code.as_deref().map(|s| format!(" / {s}")).unwrap_or_default(), sub_msg.as_deref().map(|s| format!(": {s}")).unwrap_or_default())]
    Business {
        /// `code`, e.g. `40004`.
        code: String,
        /// `msg`.
        msg: String,
        /// `sub_code`, e.g. `ACQ.REFUND_AMT_NOT_EQUAL_TOTAL`.
        sub_code: Option<String>,
        /// `sub_msg` (for `isv.invalid-signature` it shows the gateway's string to sign).
        sub_msg: Option<String>,
        /// Whether the error response carried a valid signature.
        signed: bool,
    },
    /// The request could not be built (invalid argument or configuration).
    #[error("invalid alipay request: {0}")]
    InvalidRequest(String),
    /// Signing the request failed.
    #[error(transparent)]
    Sign(#[from] SignError),
}

impl GatewayError {
    /// Whether retrying the same call later may succeed: timeouts, transport errors, HTTP 5xx,
    /// `code` `20000` (service unavailable) and `sub_code` `ACQ.SYSTEM_ERROR`.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            GatewayError::Timeout | GatewayError::Transport(_) => true,
            GatewayError::HttpStatus { status } => *status >= 500,
            GatewayError::Business { code, sub_code, .. } => {
                code == "20000" || sub_code.as_deref() == Some("ACQ.SYSTEM_ERROR")
            }
            _ => false,
        }
    }
}

/// The signature-checked part of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedResponse {
    /// The node the content came from (`<method>_response` or `error_response`).
    pub node: String,
    /// The raw JSON text of the node, as received.
    pub content: String,
    /// Whether a `sign` was present and verified.
    pub signed: bool,
    /// `code`.
    pub code: String,
    /// `msg`.
    pub msg: String,
    /// `sub_code`.
    pub sub_code: Option<String>,
    /// `sub_msg`.
    pub sub_msg: Option<String>,
}

impl CheckedResponse {
    /// `code == "10000"`.
    #[must_use]
    pub fn is_success(&self) -> bool {
        self.code == "10000"
    }

    fn business_error(&self) -> GatewayError {
        GatewayError::Business {
            code: self.code.clone(),
            msg: self.msg.clone(),
            sub_code: self.sub_code.clone(),
            sub_msg: self.sub_msg.clone(),
            signed: self.signed,
        }
    }

    /// Deserializes the content into `T`.
    ///
    /// # Errors
    /// [`GatewayError::MalformedResponse`] if it does not match.
    pub fn parse<T: for<'de> Deserialize<'de>>(&self) -> Result<T, GatewayError> {
        serde_json::from_str(&self.content)
            .map_err(|e| GatewayError::MalformedResponse(format!("{}: {e}", self.node)))
    }
}

fn malformed(msg: impl Into<String>) -> GatewayError {
    GatewayError::MalformedResponse(msg.into())
}

/// A tiny scanner over the top-level JSON object: returns `(raw key, raw value)` for each
/// member, the raw value being the exact source text (objects and arrays matched by bracket,
/// strings and escapes tracked).
fn top_level_members(body: &str) -> Result<Vec<(&str, &str)>, GatewayError> {
    let b = body.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    };
    // Returns the index just past the closing quote of the string starting at `start`.
    let skip_string = |start: usize| -> Result<usize, GatewayError> {
        let mut j = start + 1;
        while j < b.len() {
            match b[j] {
                b'\\' => j += 2,
                b'"' => return Ok(j + 1),
                _ => j += 1,
            }
        }
        Err(malformed("unterminated string"))
    };
    let skip_value = |start: usize| -> Result<usize, GatewayError> {
        match b.get(start) {
            Some(b'"') => skip_string(start),
            Some(b'{' | b'[') => {
                let mut stack = Vec::new();
                let mut j = start;
                while j < b.len() {
                    match b[j] {
                        b'"' => {
                            j = skip_string(j)?;
                            continue;
                        }
                        open @ (b'{' | b'[') => stack.push(open),
                        close @ (b'}' | b']') => {
                            let expected = if close == b'}' { b'{' } else { b'[' };
                            if stack.pop() != Some(expected) {
                                return Err(malformed("mismatched brackets"));
                            }
                            if stack.is_empty() {
                                return Ok(j + 1);
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                Err(malformed("unterminated object or array"))
            }
            Some(_) => {
                let mut j = start;
                while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    j += 1;
                }
                if j == start { Err(malformed("missing value")) } else { Ok(j) }
            }
            None => Err(malformed("unexpected end of body")),
        }
    };

    skip_ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return Err(malformed("body is not a JSON object"));
    }
    i += 1;
    let mut members = Vec::new();
    skip_ws(&mut i);
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            skip_ws(&mut i);
            if b.get(i) != Some(&b'"') {
                return Err(malformed("expected a member name"));
            }
            let key_end = skip_string(i)?;
            let key = &body[i + 1..key_end - 1];
            i = key_end;
            skip_ws(&mut i);
            if b.get(i) != Some(&b':') {
                return Err(malformed("expected ':'"));
            }
            i += 1;
            skip_ws(&mut i);
            let value_end = skip_value(i)?;
            members.push((key, &body[i..value_end]));
            i = value_end;
            skip_ws(&mut i);
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return Err(malformed("expected ',' or '}'")),
            }
        }
    }
    skip_ws(&mut i);
    if i != b.len() {
        return Err(malformed("trailing data after the JSON object"));
    }
    Ok(members)
}

/// The raw parts of a response envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse<'a> {
    /// `<method>_response` or `error_response`.
    pub node: String,
    /// The raw JSON text of the node's value.
    pub content: &'a str,
    /// The `sign` value, if present and non-empty.
    pub sign: Option<String>,
}

/// Extracts the raw `<method>_response` (or `error_response`) text and the `sign` of a body.
///
/// # Errors
/// [`GatewayError::MalformedResponse`] if the envelope is not as expected (including repeated
/// top-level names).
pub fn extract_response<'a>(body: &'a str, method: &str) -> Result<RawResponse<'a>, GatewayError> {
    let members = top_level_members(body)?;
    for (idx, (k, _)) in members.iter().enumerate() {
        if members[..idx].iter().any(|(k2, _)| k2 == k) {
            return Err(malformed(format!("member {k:?} occurs twice")));
        }
    }
    let node_name = response_node_name(method);
    let (node, content) = members
        .iter()
        .find(|(k, _)| *k == node_name)
        .or_else(|| members.iter().find(|(k, _)| *k == "error_response"))
        .map(|(k, v)| ((*k).to_owned(), *v))
        .ok_or_else(|| malformed(format!("no {node_name} in the response")))?;
    if !content.starts_with('{') {
        return Err(malformed(format!("{node} is not an object")));
    }
    let sign = match members.iter().find(|(k, _)| *k == "sign") {
        None => None,
        Some((_, raw)) => {
            let s: String = serde_json::from_str(raw).map_err(|_| malformed("sign is not a string"))?;
            Some(s).filter(|s| !s.is_empty())
        }
    };
    Ok(RawResponse { node, content, sign })
}

#[derive(Deserialize)]
struct Common {
    code: String,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    sub_code: Option<String>,
    #[serde(default)]
    sub_msg: Option<String>,
}

/// Extracts and verifies a response body according to the policy in the module docs, and
/// reads its `code` / `msg` / `sub_code` / `sub_msg`. Does not turn error codes into errors.
///
/// # Errors
/// [`GatewayError::MalformedResponse`] or [`GatewayError::BadSignature`].
pub fn check_response(
    body: &str,
    method: &str,
    alipay_public_key: &AlipayPublicKey,
) -> Result<CheckedResponse, GatewayError> {
    let raw = extract_response(body, method)?;
    let signed = match &raw.sign {
        Some(sign) => {
            let ok = alipay_public_key.verify(raw.content, sign).is_ok()
                || (raw.content.contains("\\/")
                    && alipay_public_key.verify(&raw.content.replace("\\/", "/"), sign).is_ok());
            if !ok {
                return Err(GatewayError::BadSignature);
            }
            true
        }
        None => false,
    };
    let common: Common =
        serde_json::from_str(raw.content).map_err(|e| malformed(format!("{}: {e}", raw.node)))?;
    if !signed && common.code == "10000" {
        return Err(GatewayError::BadSignature);
    }
    Ok(CheckedResponse {
        node: raw.node,
        content: raw.content.to_owned(),
        signed,
        code: common.code,
        msg: common.msg,
        sub_code: common.sub_code.filter(|s| !s.is_empty()),
        sub_msg: common.sub_msg.filter(|s| !s.is_empty()),
    })
}

const TRADE_NOT_EXIST: &str = "ACQ.TRADE_NOT_EXIST";
const TRADE_STATUS_ERROR: &str = "ACQ.TRADE_STATUS_ERROR";

fn fen_field(name: &str, value: &str) -> Result<i64, GatewayError> {
    parse_yuan(value).map_err(|e| malformed(format!("{name}: {e}")))
}

fn time_field(name: &str, value: Option<String>) -> Result<Option<DateTime<Utc>>, GatewayError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| parse_beijing(&v).map_err(|e| malformed(format!("{name}: {e}"))))
        .transpose()
}

/// A trade as reported by `alipay.trade.query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeInfo {
    /// `trade_status`.
    pub trade_status: TradeStatus,
    /// `trade_no`.
    pub trade_no: String,
    /// `out_trade_no`.
    pub out_trade_no: String,
    /// `total_amount` in fen.
    pub total_amount_fen: i64,
    /// `send_pay_date` (payment time), if paid.
    pub send_pay_date: Option<DateTime<Utc>>,
    /// `buyer_logon_id` (masked).
    pub buyer_logon_id: Option<String>,
}

/// The outcome of `alipay.trade.query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryOutcome {
    /// Alipay knows the trade.
    Found(TradeInfo),
    /// `ACQ.TRADE_NOT_EXIST`: the buyer never opened the cashier; treat as "not paid".
    NotExist,
}

#[derive(Deserialize)]
struct QueryBody {
    trade_status: String,
    trade_no: String,
    out_trade_no: String,
    total_amount: String,
    #[serde(default)]
    send_pay_date: Option<String>,
    #[serde(default)]
    buyer_logon_id: Option<String>,
}

/// Maps an `alipay.trade.query` response body. `out_trade_no` is the order queried; a success
/// about another order is rejected as malformed.
///
/// # Errors
/// A [`GatewayError`].
pub fn parse_query_response(
    body: &str,
    out_trade_no: &str,
    alipay_public_key: &AlipayPublicKey,
) -> Result<QueryOutcome, GatewayError> {
    let r = check_response(body, "alipay.trade.query", alipay_public_key)?;
    if !r.is_success() {
        if r.signed && r.sub_code.as_deref() == Some(TRADE_NOT_EXIST) {
            return Ok(QueryOutcome::NotExist);
        }
        return Err(r.business_error());
    }
    let q: QueryBody = r.parse()?;
    if q.out_trade_no != out_trade_no {
        return Err(malformed(format!(
            "query answered for out_trade_no {:?}, asked {out_trade_no:?}",
            q.out_trade_no
        )));
    }
    Ok(QueryOutcome::Found(TradeInfo {
        trade_status: TradeStatus::parse(&q.trade_status),
        total_amount_fen: fen_field("total_amount", &q.total_amount)?,
        send_pay_date: time_field("send_pay_date", q.send_pay_date)?,
        trade_no: q.trade_no,
        out_trade_no: q.out_trade_no,
        buyer_logon_id: q.buyer_logon_id.filter(|s| !s.is_empty()),
    }))
}

/// The outcome of `alipay.trade.close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseOutcome {
    /// The waiting trade is now closed.
    Closed {
        /// `trade_no`, if returned.
        trade_no: Option<String>,
    },
    /// `ACQ.TRADE_NOT_EXIST`: the buyer never opened the cashier; nothing to close.
    NotExist,
    /// `ACQ.TRADE_STATUS_ERROR`: the trade is paid or already closed; query it.
    StatusError {
        /// Alipay's `sub_msg`.
        sub_msg: Option<String>,
    },
}

#[derive(Deserialize)]
struct CloseBody {
    #[serde(default)]
    trade_no: Option<String>,
}

/// Maps an `alipay.trade.close` response body.
///
/// # Errors
/// A [`GatewayError`].
pub fn parse_close_response(
    body: &str,
    alipay_public_key: &AlipayPublicKey,
) -> Result<CloseOutcome, GatewayError> {
    let r = check_response(body, "alipay.trade.close", alipay_public_key)?;
    if !r.is_success() {
        return match (r.signed, r.sub_code.as_deref()) {
            (true, Some(TRADE_NOT_EXIST)) => Ok(CloseOutcome::NotExist),
            (true, Some(TRADE_STATUS_ERROR)) => Ok(CloseOutcome::StatusError { sub_msg: r.sub_msg.clone() }),
            _ => Err(r.business_error()),
        };
    }
    let c: CloseBody = r.parse()?;
    Ok(CloseOutcome::Closed { trade_no: c.trade_no.filter(|s| !s.is_empty()) })
}

/// The outcome of a successful `alipay.trade.refund`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOutcome {
    /// `fund_change == "Y"`: money moved with this call (`N`: e.g. a repeated request).
    pub fund_change: bool,
    /// `refund_fee` in fen: the total refunded so far on the trade.
    pub refund_fee_fen: i64,
    /// `gmt_refund_pay`.
    pub gmt_refund_pay: Option<DateTime<Utc>>,
    /// `trade_no`.
    pub trade_no: Option<String>,
}

#[derive(Deserialize)]
struct RefundBody {
    fund_change: String,
    refund_fee: String,
    #[serde(default)]
    gmt_refund_pay: Option<String>,
    #[serde(default)]
    trade_no: Option<String>,
}

/// Maps an `alipay.trade.refund` response body.
///
/// # Errors
/// A [`GatewayError`]; business failures (e.g. `ACQ.REFUND_AMT_NOT_EQUAL_TOTAL`) are
/// [`GatewayError::Business`].
pub fn parse_refund_response(
    body: &str,
    alipay_public_key: &AlipayPublicKey,
) -> Result<RefundOutcome, GatewayError> {
    let r = check_response(body, "alipay.trade.refund", alipay_public_key)?;
    if !r.is_success() {
        return Err(r.business_error());
    }
    let b: RefundBody = r.parse()?;
    let fund_change = match b.fund_change.as_str() {
        "Y" => true,
        "N" => false,
        other => return Err(malformed(format!("fund_change {other:?}"))),
    };
    Ok(RefundOutcome {
        fund_change,
        refund_fee_fen: fen_field("refund_fee", &b.refund_fee)?,
        gmt_refund_pay: time_field("gmt_refund_pay", b.gmt_refund_pay)?,
        trade_no: b.trade_no.filter(|s| !s.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_handles_strings_escapes_and_order() {
        let body = r#" {"sign":"a\"b","x_response":{"s":"}{\"\\","a":[1,{"b":"]"}],"n":null} , "z":-1.5e3}"#;
        let m = top_level_members(body).expect("scan");
        assert_eq!(m.len(), 3);
        assert_eq!(m[0], ("sign", r#""a\"b""#));
        assert_eq!(m[1].1, r#"{"s":"}{\"\\","a":[1,{"b":"]"}],"n":null}"#);
        assert_eq!(m[2], ("z", "-1.5e3"));
    }

    #[test]
    fn scanner_rejects_broken_json() {
        for bad in [
            "",
            "[]",
            "{",
            r#"{"a":{"b":1}"#,
            r#"{"a":{"b":1]}"#,
            r#"{"a":"x}"#,
            r#"{"a":1}x"#,
            r#"{"a":}"#,
            r#"{a:1}"#,
        ] {
            assert!(top_level_members(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn extract_prefers_method_node_and_rejects_duplicates() {
        let body = r#"{"error_response":{"code":"1"},"alipay_trade_query_response":{"code":"2"},"sign":"s"}"#;
        let r = extract_response(body, "alipay.trade.query").expect("extract");
        assert_eq!(r.content, r#"{"code":"2"}"#);
        assert_eq!(r.sign.as_deref(), Some("s"));
        let body = r#"{"error_response":{"code":"40002"},"sign":""}"#;
        let r = extract_response(body, "alipay.trade.query").expect("extract");
        assert_eq!(r.node, "error_response");
        assert_eq!(r.sign, None);
        let dup =
            r#"{"alipay_trade_query_response":{"code":"1"},"alipay_trade_query_response":{"code":"2"}}"#;
        assert!(extract_response(dup, "alipay.trade.query").is_err());
    }

    #[test]
    fn retryable_classification() {
        let b = |code: &str, sub: Option<&str>| GatewayError::Business {
            code: code.into(),
            msg: String::new(),
            sub_code: sub.map(Into::into),
            sub_msg: None,
            signed: true,
        };
        assert!(GatewayError::Timeout.is_retryable());
        assert!(GatewayError::Transport("x".into()).is_retryable());
        assert!(GatewayError::HttpStatus { status: 502 }.is_retryable());
        assert!(!GatewayError::HttpStatus { status: 404 }.is_retryable());
        assert!(b("20000", None).is_retryable());
        assert!(b("40004", Some("ACQ.SYSTEM_ERROR")).is_retryable());
        assert!(!b("40004", Some("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")).is_retryable());
        assert!(!GatewayError::BadSignature.is_retryable());
    }
}
