//! Alipay's side of the protocol (cargo feature `gateway`): what the gateway signs and
//! checks, for the development payment simulator of `shop-app`, which plays Alipay so that
//! the whole buy flow runs without an Alipay account. It is a product feature of the
//! development profile, so it is compiled into the release binary; the test-only helpers
//! built on it are in `fake` (feature `fake`), which release builds leave out.
//!
//! [`AlipayGateway`] holds an RSA key pair playing Alipay's. It signs notify / return
//! parameter sets exactly as Alipay does (over [`crate::sign::notify_sign_content`], then adds
//! `sign` and `sign_type=RSA2`), produces the form-encoded bodies Alipay would POST, signs
//! gateway JSON responses over the raw `<method>_response` text, and verifies requests signed
//! with the app key (what the real gateway does), so an HTTP gateway can be built on top of it.
//!
//! Give the application [`AlipayGateway::public_key`] as its "Alipay public key".

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::amount::format_yuan;
use crate::form::{encode_pairs, parse_urlencoded};
use crate::keys::{AlipayPublicKey, AppPrivateKey, KeyError, KeyRole, SignError};
use crate::notify::{TradeStatus, VerifyError};
use crate::request::response_node_name;
use crate::sign::{notify_sign_content, request_sign_content};
use crate::time::format_beijing;

/// Alipay's side of the protocol, holding the signing key that plays Alipay's.
#[derive(Debug, Clone)]
pub struct AlipayGateway {
    key: AppPrivateKey,
    public: AlipayPublicKey,
}

impl AlipayGateway {
    /// Alipay's side using the given private key (PEM or base64, PKCS#8 or PKCS#1).
    ///
    /// # Errors
    /// [`KeyError`] (labelled "alipay private key") if the key cannot be parsed.
    pub fn from_private_key(text: &str) -> Result<Self, KeyError> {
        Self::from_key(AppPrivateKey::parse_as(text, KeyRole::AlipayPrivateKey)?)
    }

    pub(crate) fn from_key(key: AppPrivateKey) -> Result<Self, KeyError> {
        let public = key.public_key()?;
        Ok(AlipayGateway { key, public })
    }

    /// The public key the application must use as "Alipay public key".
    #[must_use]
    pub fn public_key(&self) -> &AlipayPublicKey {
        &self.public
    }

    /// Signs a notify or return parameter set as Alipay does: any `sign` / `sign_type` in the
    /// input are dropped, the signature is computed over the notify canonical string, and
    /// `sign` and `sign_type=RSA2` are appended.
    ///
    /// # Errors
    /// [`SignError`].
    pub fn sign_notify(&self, params: &[(String, String)]) -> Result<Vec<(String, String)>, SignError> {
        let mut out: Vec<(String, String)> =
            params.iter().filter(|(k, _)| k != "sign" && k != "sign_type").cloned().collect();
        let sign = self.key.sign(&notify_sign_content(&out))?;
        out.push(("sign".into(), sign));
        out.push(("sign_type".into(), "RSA2".into()));
        Ok(out)
    }

    /// The `application/x-www-form-urlencoded` body Alipay would POST to `notify_url` for
    /// `params` (signed with [`AlipayGateway::sign_notify`]). Also usable as the query string of a
    /// `return_url` redirect.
    ///
    /// # Errors
    /// [`SignError`].
    pub fn notify_body(&self, params: &[(String, String)]) -> Result<String, SignError> {
        Ok(encode_pairs(&self.sign_notify(params)?))
    }

    /// A signed gateway response body `{"<method>_response":<node_json>,"sign":"..."}`;
    /// `node_json` is used byte for byte and is what gets signed.
    ///
    /// # Errors
    /// [`SignError`].
    pub fn signed_response(&self, method: &str, node_json: &str) -> Result<String, SignError> {
        let sign = self.key.sign(node_json)?;
        Ok(format!("{{\"{}\":{node_json},\"sign\":\"{sign}\"}}", response_node_name(method)))
    }

    /// An unsigned response body, as the gateway sends for app-level errors.
    #[must_use]
    pub fn unsigned_response(method: &str, node_json: &str) -> String {
        format!("{{\"{}\":{node_json}}}", response_node_name(method))
    }

    /// Verifies a gateway request as Alipay does: parameters from the query string and the
    /// form body together (each decoded once, no name repeated), `sign_type` must be `RSA2`,
    /// and `sign` must verify over the request canonical string with the app's public key.
    /// Returns all parameters except `sign`.
    ///
    /// # Errors
    /// [`VerifyError`] describing the problem.
    pub fn verify_request(
        query: &str,
        body: &[u8],
        app_public_key: &AlipayPublicKey,
    ) -> Result<Vec<(String, String)>, VerifyError> {
        let mut params = parse_urlencoded(query)?;
        params.extend(parse_urlencoded(body)?);
        let mut seen = HashSet::new();
        for (k, _) in &params {
            if !seen.insert(k.as_str()) {
                return Err(VerifyError::DuplicateParam(k.clone()));
            }
        }
        let find = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let sign = find("sign").filter(|s| !s.is_empty()).ok_or(VerifyError::MissingSign)?;
        match find("sign_type") {
            Some(t) if t == "RSA2" => {}
            other => return Err(VerifyError::UnsupportedSignType(other.unwrap_or_default())),
        }
        app_public_key
            .verify(&request_sign_content(&params), &sign)
            .map_err(|_| VerifyError::BadSignature)?;
        Ok(params.into_iter().filter(|(k, _)| k != "sign").collect())
    }
}

/// The fields of a realistic `trade_status_sync` notify for page pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentNotify {
    /// `app_id` (and `auth_app_id`).
    pub app_id: String,
    /// `seller_id` (merchant PID).
    pub seller_id: String,
    /// `out_trade_no`.
    pub out_trade_no: String,
    /// `trade_no`.
    pub trade_no: String,
    /// `notify_id`.
    pub notify_id: String,
    /// `trade_status`.
    pub trade_status: TradeStatus,
    /// `total_amount` in fen.
    pub total_fen: i64,
    /// `subject`.
    pub subject: String,
    /// `gmt_payment` / `notify_time`.
    pub paid_at: DateTime<Utc>,
}

impl PaymentNotify {
    /// The notify parameters (unsigned), in the order Alipay typically sends them.
    #[must_use]
    pub fn to_params(&self) -> Vec<(String, String)> {
        let amount = format_yuan(self.total_fen);
        let at = format_beijing(self.paid_at);
        let fund_bill = json!([{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}]).to_string();
        [
            ("gmt_create", at.as_str()),
            ("charset", "utf-8"),
            ("gmt_payment", at.as_str()),
            ("notify_time", at.as_str()),
            ("subject", self.subject.as_str()),
            ("buyer_id", "2088102177846880"),
            ("invoice_amount", amount.as_str()),
            ("version", "1.0"),
            ("notify_id", self.notify_id.as_str()),
            ("fund_bill_list", fund_bill.as_str()),
            ("notify_type", "trade_status_sync"),
            ("out_trade_no", self.out_trade_no.as_str()),
            ("total_amount", amount.as_str()),
            ("trade_status", self.trade_status.as_str()),
            ("trade_no", self.trade_no.as_str()),
            ("auth_app_id", self.app_id.as_str()),
            ("receipt_amount", amount.as_str()),
            ("point_amount", "0.00"),
            ("app_id", self.app_id.as_str()),
            ("buyer_pay_amount", amount.as_str()),
            ("seller_id", self.seller_id.as_str()),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }
}

/// The JSON of a successful `alipay_trade_query_response` node.
#[must_use]
pub fn query_success_json(
    out_trade_no: &str,
    trade_no: &str,
    trade_status: &TradeStatus,
    total_fen: i64,
    send_pay_date: Option<DateTime<Utc>>,
) -> String {
    let mut node = json!({
        "code": "10000",
        "msg": "Success",
        "buyer_logon_id": "abc***@example.com",
        "out_trade_no": out_trade_no,
        "trade_no": trade_no,
        "trade_status": trade_status.as_str(),
        "total_amount": format_yuan(total_fen),
    });
    if let (Some(at), Some(obj)) = (send_pay_date, node.as_object_mut()) {
        obj.insert("send_pay_date".into(), json!(format_beijing(at)));
    }
    node.to_string()
}

/// The JSON of an error response node (`code`, `msg`, `sub_code`, `sub_msg`), e.g.
/// `error_json("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在")`.
#[must_use]
pub fn error_json(code: &str, msg: &str, sub_code: &str, sub_msg: &str) -> String {
    json!({"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}).to_string()
}
