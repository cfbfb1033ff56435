//! Webhook signatures: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=<hex>]`.
//!
//! `v1` is HMAC-SHA256 of `{t}.{payload}` (the raw body bytes) keyed with the **whole** endpoint
//! secret string `whsec_...` as bytes (not decoded). The event is accepted if any `v1` matches
//! (constant-time comparison by aws-lc-rs); `v0` and unknown schemes are ignored; `t` must be
//! within the tolerance (300 s) of now **in both directions**. Nothing is parsed before the
//! signature has verified.

use std::fmt;

use aws_lc_rs::hmac;
use secrecy::{ExposeSecret, SecretString};

use crate::event::Event;

/// The header name.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// Default tolerance in seconds (either direction).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// The webhook endpoint secret (`whsec_...`), used as given.
#[derive(Clone)]
pub struct WebhookSecret {
    text: SecretString,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([REDACTED])")
    }
}

/// The webhook secret is not `whsec_` followed by something (the message never contains it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stripe webhook secret: expected the endpoint's signing secret, starting with whsec_")]
pub struct WebhookSecretError;

impl WebhookSecret {
    /// Checks and wraps the endpoint signing secret.
    ///
    /// # Errors
    /// [`WebhookSecretError`] unless it is `whsec_` followed by printable ASCII.
    pub fn parse(text: &str) -> Result<Self, WebhookSecretError> {
        let ok = text.len() > "whsec_".len()
            && text.starts_with("whsec_")
            && text.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(WebhookSecretError);
        }
        Ok(WebhookSecret { text: SecretString::from(text.to_owned()) })
    }

    fn key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, self.text.expose_secret().as_bytes())
    }

    /// The secret text (for a simulator or a test SDK).
    #[must_use]
    pub fn expose(&self) -> &str {
        self.text.expose_secret()
    }
}

/// Why a webhook was refused. Each means "answer 400, change nothing".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No `Stripe-Signature` header.
    #[error("missing Stripe-Signature header")]
    MissingHeader,
    /// The header is not `t=...,v1=...` (no or repeated `t`, a `t` that is not an integer).
    #[error("malformed Stripe-Signature header")]
    MalformedHeader,
    /// No `v1` signature in the header.
    #[error("no v1 signature")]
    NoV1Signature,
    /// No `v1` matches.
    #[error("no matching v1 signature")]
    BadSignature,
    /// `t` is more than the tolerance away from now.
    #[error("timestamp outside the tolerance")]
    StaleTimestamp,
    /// The (verified) payload is not an event.
    #[error("malformed event: {0}")]
    Malformed(String),
}

/// The parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// `t`.
    pub timestamp: i64,
    /// Every `v1`, as sent.
    pub v1: Vec<String>,
}

impl SignatureHeader {
    /// Parses `t=...,v1=...`; unknown schemes (`v0`, ...) are skipped.
    ///
    /// # Errors
    /// [`WebhookError::MalformedHeader`] or [`WebhookError::NoV1Signature`].
    pub fn parse(header: &str) -> Result<Self, WebhookError> {
        let mut timestamp = None;
        let mut v1 = Vec::new();
        for item in header.split(',') {
            let Some((name, value)) = item.trim().split_once('=') else { continue };
            match name {
                "t" => {
                    let ok =
                        !value.is_empty() && value.len() <= 12 && value.bytes().all(|b| b.is_ascii_digit());
                    let t: i64 = if ok {
                        value.parse().map_err(|_| WebhookError::MalformedHeader)?
                    } else {
                        return Err(WebhookError::MalformedHeader);
                    };
                    if timestamp.replace(t).is_some() {
                        return Err(WebhookError::MalformedHeader);
                    }
                }
                "v1" => v1.push(value.to_owned()),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(WebhookError::MalformedHeader)?;
        if v1.is_empty() {
            return Err(WebhookError::NoV1Signature);
        }
        Ok(SignatureHeader { timestamp, v1 })
    }
}

/// The message signed: `{t}.{payload}`.
#[must_use]
pub fn signed_payload(timestamp: i64, payload: &[u8]) -> Vec<u8> {
    let mut m = format!("{timestamp}.").into_bytes();
    m.extend_from_slice(payload);
    m
}

/// The `v1` signature (lower-case hex) of `payload` at `timestamp`.
#[must_use]
pub fn compute_v1(secret: &WebhookSecret, timestamp: i64, payload: &[u8]) -> String {
    hex::encode(hmac::sign(&secret.key(), &signed_payload(timestamp, payload)).as_ref())
}

/// Verifies `Stripe-Signature` over the raw `payload`; returns the signed timestamp.
/// `now` is the current Unix time, `tolerance` in seconds (normally
/// [`DEFAULT_TOLERANCE_SECS`]), applied in both directions.
///
/// # Errors
/// [`WebhookError`].
pub fn verify_signature(
    payload: &[u8],
    header: Option<&str>,
    secret: &WebhookSecret,
    now: i64,
    tolerance: i64,
) -> Result<i64, WebhookError> {
    let header = SignatureHeader::parse(header.ok_or(WebhookError::MissingHeader)?)?;
    let key = secret.key();
    let message = signed_payload(header.timestamp, payload);
    let matched = header.v1.iter().any(|sig| {
        // Stripe sends 64 lower-case hex digits (and its libraries compare the text, so
        // upper case never matches); the comparison itself is constant-time.
        let lower_hex = sig.len() == 64 && sig.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        lower_hex && hex::decode(sig).is_ok_and(|tag| hmac::verify(&key, &message, &tag).is_ok())
    });
    if !matched {
        return Err(WebhookError::BadSignature);
    }
    if (now - header.timestamp).abs() > tolerance {
        return Err(WebhookError::StaleTimestamp);
    }
    Ok(header.timestamp)
}

/// Verifies the signature (default tolerance), then parses the event.
///
/// # Errors
/// [`WebhookError`].
pub fn construct_event(
    payload: &[u8],
    header: Option<&str>,
    secret: &WebhookSecret,
    now: i64,
) -> Result<Event, WebhookError> {
    verify_signature(payload, header, secret, now, DEFAULT_TOLERANCE_SECS)?;
    let event: Event = serde_json::from_slice(payload).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    if event.object != "event" {
        return Err(WebhookError::Malformed("object is not \"event\"".into()));
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_must_be_whsec() {
        assert!(WebhookSecret::parse("whsec_abc").is_ok());
        for bad in ["", "whsec_", "sk_test_abc", "whsec_a b"] {
            assert_eq!(WebhookSecret::parse(bad).err(), Some(WebhookSecretError), "{bad}");
        }
        assert_eq!(
            format!("{:?}", WebhookSecret::parse("whsec_abc").expect("s")),
            "WebhookSecret([REDACTED])"
        );
    }

    #[test]
    fn header_parsing() {
        assert_eq!(
            SignatureHeader::parse("t=12,v1=aa,v0=bb,v1=cc,x=1").expect("ok"),
            SignatureHeader { timestamp: 12, v1: vec!["aa".into(), "cc".into()] }
        );
        assert_eq!(SignatureHeader::parse("v1=aa"), Err(WebhookError::MalformedHeader));
        assert_eq!(SignatureHeader::parse("t=1,t=2,v1=aa"), Err(WebhookError::MalformedHeader));
        assert_eq!(SignatureHeader::parse("t=-1,v1=aa"), Err(WebhookError::MalformedHeader));
        assert_eq!(SignatureHeader::parse("t=1,v0=aa"), Err(WebhookError::NoV1Signature));
    }
}
