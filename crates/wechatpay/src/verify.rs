//! Verification of what WeChat Pay sends: API answers and notifications.
//!
//! Both carry `Wechatpay-Serial`, `Wechatpay-Signature`, `Wechatpay-Timestamp`,
//! `Wechatpay-Nonce` and `Wechatpay-Signature-Type`; the signature (SHA256withRSA with the
//! WeChat Pay public key) covers `timestamp\nnonce\nbody\n` over the **raw bytes received**
//! (never re-serialised JSON; an empty body gives an empty body line).
//!
//! Checks, in this order, each with its own [`VerifyError`]:
//! 1. the four headers are present (`Wechatpay-Signature-Type`, when present, must be
//!    `WECHATPAY2-SHA256-RSA2048`);
//! 2. `Wechatpay-Serial` is the configured WeChat Pay public key id;
//! 3. the signature is not a signature probe (`WECHATPAY/SIGNTEST/...`, which WeChat sends to
//!    check that merchants really verify: it must be answered with a failure);
//! 4. the timestamp is an integer within [`TIMESTAMP_TOLERANCE_SECS`] of now, either way;
//! 5. the signature verifies.

use crate::keys::WechatPayPublicKey;
use crate::sign::{SCHEME, answer_message};

/// How far `Wechatpay-Timestamp` may be from now, in seconds, in either direction.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// Signatures starting with this are WeChat's signature probes.
pub const SIGNATURE_PROBE_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// Header names (as WeChat spells them; HTTP header names are case-insensitive).
pub mod header {
    /// Id of the key that signed (`PUB_KEY_ID_...`).
    pub const SERIAL: &str = "Wechatpay-Serial";
    /// Base64 signature.
    pub const SIGNATURE: &str = "Wechatpay-Signature";
    /// Unix seconds.
    pub const TIMESTAMP: &str = "Wechatpay-Timestamp";
    /// Nonce.
    pub const NONCE: &str = "Wechatpay-Nonce";
    /// `WECHATPAY2-SHA256-RSA2048`.
    pub const SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";
    /// WeChat's request id, useful in logs.
    pub const REQUEST_ID: &str = "Request-ID";
}

/// Why an answer or notification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A signature header is missing or empty.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// `Wechatpay-Signature-Type` is not `WECHATPAY2-SHA256-RSA2048`.
    #[error("unsupported signature type")]
    UnsupportedSignatureType,
    /// `Wechatpay-Serial` is not the configured WeChat Pay public key id.
    #[error("unknown Wechatpay-Serial")]
    UnknownSerial,
    /// A signature probe (`WECHATPAY/SIGNTEST/...`).
    #[error("signature probe")]
    SignatureProbe,
    /// `Wechatpay-Timestamp` is not an integer.
    #[error("malformed Wechatpay-Timestamp")]
    MalformedTimestamp,
    /// `Wechatpay-Timestamp` is more than [`TIMESTAMP_TOLERANCE_SECS`] from now.
    #[error("Wechatpay-Timestamp outside the tolerance")]
    StaleTimestamp,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
}

/// The signature headers of an answer or notification, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// `Wechatpay-Serial`.
    pub serial: String,
    /// `Wechatpay-Signature`.
    pub signature: String,
    /// `Wechatpay-Timestamp`.
    pub timestamp: String,
    /// `Wechatpay-Nonce`.
    pub nonce: String,
    /// `Wechatpay-Signature-Type`, if sent.
    pub signature_type: Option<String>,
}

impl SignatureHeaders {
    /// Collects the headers through `get` (a case-insensitive lookup by name, e.g. over
    /// actix's or reqwest's header map).
    ///
    /// # Errors
    /// [`VerifyError::MissingHeader`] for a missing or empty one.
    pub fn from_lookup<F>(get: F) -> Result<Self, VerifyError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let need = |name: &'static str| {
            get(name).filter(|v| !v.trim().is_empty()).ok_or(VerifyError::MissingHeader(name))
        };
        Ok(SignatureHeaders {
            serial: need(header::SERIAL)?,
            signature: need(header::SIGNATURE)?,
            timestamp: need(header::TIMESTAMP)?,
            nonce: need(header::NONCE)?,
            signature_type: get(header::SIGNATURE_TYPE),
        })
    }

    /// The headers as `(name, value)` pairs, in WeChat's spelling.
    #[must_use]
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            (header::SERIAL, self.serial.clone()),
            (header::SIGNATURE, self.signature.clone()),
            (header::TIMESTAMP, self.timestamp.clone()),
            (header::NONCE, self.nonce.clone()),
        ];
        if let Some(t) = &self.signature_type {
            pairs.push((header::SIGNATURE_TYPE, t.clone()));
        }
        pairs
    }
}

/// Verifies `body` (the raw bytes received) against `headers` with `key`; `now` is the current
/// Unix time in seconds.
///
/// # Errors
/// The first failed check (see the module documentation).
pub fn verify_signed(
    headers: &SignatureHeaders,
    body: &[u8],
    key: &WechatPayPublicKey,
    now: i64,
) -> Result<(), VerifyError> {
    if headers.signature_type.as_deref().is_some_and(|t| t.trim() != SCHEME) {
        return Err(VerifyError::UnsupportedSignatureType);
    }
    if headers.serial.trim() != key.id() {
        return Err(VerifyError::UnknownSerial);
    }
    if headers.signature.trim_start().starts_with(SIGNATURE_PROBE_PREFIX) {
        return Err(VerifyError::SignatureProbe);
    }
    let timestamp = headers.timestamp.as_str();
    if timestamp.is_empty() || timestamp.len() > 12 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::MalformedTimestamp);
    }
    let ts: i64 = timestamp.parse().map_err(|_| VerifyError::MalformedTimestamp)?;
    if (now - ts).abs() > TIMESTAMP_TOLERANCE_SECS {
        return Err(VerifyError::StaleTimestamp);
    }
    // The message uses the timestamp and nonce exactly as received.
    let message = answer_message(timestamp, &headers.nonce, body);
    key.rsa().verify_base64(&message, headers.signature.trim()).map_err(|_| VerifyError::BadSignature)
}
