//! Request signing: the `Authorization` header of every API v3 request.
//!
//! ```text
//! Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",signature="..",timestamp="..",serial_no=".."
//! ```
//!
//! The signature is SHA256withRSA (RSASSA-PKCS1-v1_5) with the merchant private key over
//! `METHOD\nPATH?QUERY\ntimestamp\nnonce\nbody\n`, where `PATH?QUERY` is the URL without scheme
//! and host exactly as sent, and `body` the exact bytes sent (empty for a GET).

use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::keys::MerchantPrivateKey;

/// The only signature scheme: `WECHATPAY2-SHA256-RSA2048`.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// Signing failed inside the crypto library (should not happen with a valid key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("WECHATPAY2-SHA256-RSA2048 signing failed")]
pub struct SignError;

/// The message a request signature covers: `METHOD\nPATH?QUERY\ntimestamp\nnonce\nbody\n`.
#[must_use]
pub fn request_message(
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut m = format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n").into_bytes();
    m.extend_from_slice(body);
    m.push(b'\n');
    m
}

/// The message an answer or notification signature covers: `timestamp\nnonce\nbody\n` (for a
/// GET answer without body or an empty 204 the body line is empty).
#[must_use]
pub fn answer_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!("{timestamp}\n{nonce}\n").into_bytes();
    m.extend_from_slice(body);
    m.push(b'\n');
    m
}

/// A random nonce of 32 characters from `[0-9A-Z]` (what the official SDKs send).
#[must_use]
pub fn new_nonce() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut bytes = [0u8; 32];
    // SystemRandom only fails if the OS has no entropy source, which aws-lc-rs treats as fatal.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        bytes = [0u8; 32];
    }
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

/// The fields of an `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Merchant id.
    pub mchid: String,
    /// The request nonce.
    pub nonce_str: String,
    /// Base64 signature.
    pub signature: String,
    /// Unix seconds, as sent.
    pub timestamp: String,
    /// Serial number of the merchant API certificate.
    pub serial_no: String,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("mchid", &self.mchid)
            .field("nonce_str", &self.nonce_str)
            .field("timestamp", &self.timestamp)
            .field("serial_no", &self.serial_no)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME} mchid=\"{}\",nonce_str=\"{}\",signature=\"{}\",timestamp=\"{}\",serial_no=\"{}\"",
            self.mchid, self.nonce_str, self.signature, self.timestamp, self.serial_no
        )
    }
}

/// An `Authorization` header that is not `WECHATPAY2-SHA256-RSA2048 k="v",...` with the five
/// fields exactly once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed Authorization header: {0}")]
pub struct AuthorizationError(pub String);

impl Authorization {
    /// Parses a header value (the gateway side).
    ///
    /// # Errors
    /// [`AuthorizationError`].
    pub fn parse(header: &str) -> Result<Self, AuthorizationError> {
        let err = |m: &str| AuthorizationError(m.to_owned());
        let rest = header
            .strip_prefix(SCHEME)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or_else(|| err("scheme is not WECHATPAY2-SHA256-RSA2048"))?;
        let mut fields: [Option<String>; 5] = Default::default();
        const NAMES: [&str; 5] = ["mchid", "nonce_str", "signature", "timestamp", "serial_no"];
        for part in rest.split(',') {
            let (name, value) = part.trim().split_once('=').ok_or_else(|| err("field without ="))?;
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| err("value not in double quotes"))?;
            let i = NAMES.iter().position(|n| *n == name).ok_or_else(|| err("unknown field"))?;
            if fields[i].replace(value.to_owned()).is_some() {
                return Err(err("repeated field"));
            }
        }
        let [Some(mchid), Some(nonce_str), Some(signature), Some(timestamp), Some(serial_no)] = fields else {
            return Err(err("missing field"));
        };
        Ok(Authorization { mchid, nonce_str, signature, timestamp, serial_no })
    }
}

/// Signs a request and returns the `Authorization` header value.
///
/// `path_and_query` is what goes on the request line (e.g.
/// `/v3/pay/transactions/out-trade-no/CS1?mchid=1900000109`), `body` the exact bytes sent.
///
/// # Errors
/// [`SignError`].
#[allow(clippy::too_many_arguments)]
pub fn authorization(
    mchid: &str,
    serial_no: &str,
    key: &MerchantPrivateKey,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp: i64,
    nonce: &str,
) -> Result<String, SignError> {
    let message = request_message(method, path_and_query, timestamp, nonce, body);
    let signature = key.rsa().sign_base64(&message).map_err(|_| SignError)?;
    Ok(Authorization {
        mchid: mchid.to_owned(),
        nonce_str: nonce.to_owned(),
        signature,
        timestamp: timestamp.to_string(),
        serial_no: serial_no.to_owned(),
    }
    .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_end_every_line_with_newline() {
        assert_eq!(request_message("GET", "/v3/x?a=1", 1, "N", b""), b"GET\n/v3/x?a=1\n1\nN\n\n");
        assert_eq!(answer_message("1", "N", b"{}"), b"1\nN\n{}\n");
        assert_eq!(answer_message("1", "N", b""), b"1\nN\n\n");
    }

    #[test]
    fn authorization_round_trips_and_refuses_malformed_headers() {
        let a = Authorization {
            mchid: "1900000109".into(),
            nonce_str: "N".into(),
            signature: "c2ln+/=".into(),
            timestamp: "1554208460".into(),
            serial_no: "ABC".into(),
        };
        assert_eq!(Authorization::parse(&a.to_string()), Ok(a.clone()));
        let text = a.to_string();
        for bad in [
            text.replacen("WECHATPAY2-SHA256-RSA2048", "WECHATPAY2-SM2-WITH-SM3", 1),
            text.replacen(",serial_no=\"ABC\"", "", 1),
            format!("{text},mchid=\"1\""),
            text.replacen("\"N\"", "N", 1),
            format!("{text},x=\"1\""),
        ] {
            assert!(Authorization::parse(&bad).is_err(), "{bad}");
        }
        assert!(!format!("{a:?}").contains("c2ln"));
    }

    #[test]
    fn nonces_are_32_uppercase_alphanumerics_and_differ() {
        let (a, b) = (new_nonce(), new_nonce());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }
}
