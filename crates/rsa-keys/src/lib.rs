//! # shop-rsa
//!
//! RSA keys for the payment protocol crates (`shop-alipay`, `shop-wechatpay`): one home for
//! loading keys and for RSASSA-PKCS1-v1_5 with SHA-256 ("RSA2", "SHA256withRSA",
//! `WECHATPAY2-SHA256-RSA2048`). Everything is done by **aws-lc-rs** (constant time; the RustCrypto
//! `rsa` crate is deliberately not used, RUSTSEC-2023-0071).
//!
//! Accepted inputs (surrounding whitespace, newlines inside the base64, and literal `\n`
//! sequences as found in environment variables are all tolerated):
//!
//! | key | PEM | bare base64 |
//! | --- | --- | --- |
//! | private key | `BEGIN PRIVATE KEY` (PKCS#8), `BEGIN RSA PRIVATE KEY` (PKCS#1) | PKCS#8 DER, then PKCS#1 DER |
//! | public key | `BEGIN PUBLIC KEY` (SPKI), `BEGIN RSA PUBLIC KEY` (PKCS#1) | SPKI DER, then PKCS#1 DER |
//!
//! Keys must be RSA with at least [`MIN_RSA_BITS`] bits. Encrypted keys and certificates are
//! refused with a reason. Private key material is never printed: the [`Debug`] implementation
//! of [`RsaPrivateKey`] is redacted, exports are [`SecretString`]s.
//!
//! Errors are a bare [`KeyErrorKind`]; each protocol crate wraps it with the name of the key
//! (which setting) and uses [`KeyErrorKind::describe`] for the words.
#![warn(missing_docs)]

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKey as AwsRsaPublicKey};
use aws_lc_rs::signature::{
    KeyPair, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use secrecy::SecretString;

/// Minimum accepted RSA modulus size in bits (Alipay and WeChat Pay use RSA-2048).
pub const MIN_RSA_BITS: usize = 2048;

/// What a private key setting expects, for error messages.
pub const EXPECTED_PRIVATE: &str = "an RSA private key (PKCS#8 or PKCS#1, PEM or base64)";
/// What a public key setting expects, for error messages.
pub const EXPECTED_PUBLIC: &str = "an RSA public key (SPKI or PKCS#1, PEM or base64)";

/// Base64 decoder: standard alphabet, padding optional.
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a key could not be parsed or generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyErrorKind {
    /// The text is empty.
    Empty,
    /// The text (or the PEM body) is not valid base64.
    NotBase64,
    /// A `-----BEGIN` line without a matching `-----END` line, or other broken armour.
    MalformedPem,
    /// A PEM label this crate does not handle.
    UnsupportedPemLabel(String),
    /// An encrypted private key.
    Encrypted,
    /// An X.509 certificate (certificate mode is not supported).
    Certificate,
    /// A public key was given where a private key is expected.
    PublicKeyGiven,
    /// A private key was given where a public key is expected.
    PrivateKeyGiven,
    /// The DER is not an RSA private key in PKCS#8 or PKCS#1 form.
    NotRsaPrivateKey(String),
    /// The DER is not an RSA public key in SPKI or PKCS#1 form.
    NotRsaPublicKey(String),
    /// The RSA modulus is smaller than [`MIN_RSA_BITS`].
    TooSmall {
        /// Size of the modulus in bits.
        bits: usize,
    },
    /// Key generation or export failed in the crypto library.
    Crypto,
}

impl KeyErrorKind {
    /// The reason in words; `expected` says what the setting wants (e.g. [`EXPECTED_PRIVATE`]).
    #[must_use]
    pub fn describe(&self, expected: &str) -> String {
        match self {
            KeyErrorKind::Empty => format!("empty; expected {expected}"),
            KeyErrorKind::NotBase64 => "not valid base64".to_owned(),
            KeyErrorKind::MalformedPem => "malformed PEM (BEGIN/END lines do not match)".to_owned(),
            KeyErrorKind::UnsupportedPemLabel(label) => {
                format!("unsupported PEM label \"{label}\"; expected {expected}")
            }
            KeyErrorKind::Encrypted => {
                "encrypted private keys are not supported; provide it unencrypted".to_owned()
            }
            KeyErrorKind::Certificate => format!(
                "this is an X.509 certificate (certificate mode is not supported); expected {expected}"
            ),
            KeyErrorKind::PublicKeyGiven => {
                format!("this is a public key, but a private key is needed here; expected {expected}")
            }
            KeyErrorKind::PrivateKeyGiven => {
                format!("this is a private key, never configure a private key here; expected {expected}")
            }
            KeyErrorKind::NotRsaPrivateKey(detail) => {
                format!("not an RSA private key (PKCS#8 or PKCS#1): {detail}")
            }
            KeyErrorKind::NotRsaPublicKey(detail) => {
                format!("not an RSA public key (SPKI or PKCS#1): {detail}")
            }
            KeyErrorKind::TooSmall { bits } => {
                format!("RSA key of {bits} bits is too small; at least {MIN_RSA_BITS} bits required")
            }
            KeyErrorKind::Crypto => "the crypto library failed".to_owned(),
        }
    }
}

/// RSA signing failed inside the crypto library (should not happen with a valid key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("RSA signing failed")]
pub struct SignError;

/// A signature did not verify (bad base64, wrong length, or wrong signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("RSA signature verification failed")]
pub struct BadSignature;

// ---------------------------------------------------------------------------------------------
// Input normalisation: PEM or bare base64 → (label, DER)

enum Decoded {
    Pem { label: String, der: Vec<u8> },
    Bare(Vec<u8>),
}

fn decode_text(text: &str) -> Result<Decoded, KeyErrorKind> {
    // Environment variables often carry PEM with literal "\n"; base64 never contains '\'.
    let text = text.replace("\\r", "").replace("\\n", "\n");
    let text = text.trim();
    if text.is_empty() {
        return Err(KeyErrorKind::Empty);
    }
    if let Some(begin) = text.find("-----BEGIN ") {
        let after_begin = &text[begin + "-----BEGIN ".len()..];
        let label_end = after_begin.find("-----").ok_or(KeyErrorKind::MalformedPem)?;
        let label = after_begin[..label_end].trim().to_owned();
        let body_and_rest = &after_begin[label_end + "-----".len()..];
        let end_marker = format!("-----END {label}-----");
        let body_end = body_and_rest.find(&end_marker).ok_or(KeyErrorKind::MalformedPem)?;
        let body = &body_and_rest[..body_end];
        if label.contains("ENCRYPTED") || body.contains("ENCRYPTED") {
            return Err(KeyErrorKind::Encrypted);
        }
        if body.contains(':') {
            // RFC 1421 headers (Proc-Type, DEK-Info) only appear in encrypted legacy PEM.
            return Err(KeyErrorKind::MalformedPem);
        }
        let der = decode_base64(body)?;
        Ok(Decoded::Pem { label, der })
    } else {
        Ok(Decoded::Bare(decode_base64(text)?))
    }
}

fn decode_base64(text: &str) -> Result<Vec<u8>, KeyErrorKind> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(KeyErrorKind::Empty);
    }
    LENIENT_B64.decode(compact.as_bytes()).map_err(|_| KeyErrorKind::NotBase64)
}

/// Turns aws-lc-rs's terse rejection reasons into words.
fn explain(rejected: &KeyRejected) -> String {
    match rejected.to_string().as_str() {
        "InvalidEncoding" | "UnexpectedError" => "invalid DER structure".to_owned(),
        "WrongAlgorithm" => "the key is not an RSA key".to_owned(),
        "TooSmall" => format!("the RSA key is too small (at least {MIN_RSA_BITS} bits)"),
        "TooLarge" => "the RSA key is too large".to_owned(),
        "InconsistentComponents" => "inconsistent RSA key components".to_owned(),
        other => other.to_owned(),
    }
}

fn private_from_der(der: &[u8]) -> Result<RsaKeyPair, String> {
    match RsaKeyPair::from_pkcs8(der) {
        Ok(k) => Ok(k),
        Err(e8) => RsaKeyPair::from_der(der).map_err(|e1| {
            // A well-formed PKCS#8 container that was refused (wrong algorithm, too small)
            // is the more useful explanation; otherwise report the PKCS#1 attempt.
            if e8.to_string() == "InvalidEncoding" { explain(&e1) } else { explain(&e8) }
        }),
    }
}

fn public_from_der(der: &[u8]) -> Result<AwsRsaPublicKey, String> {
    // aws-lc-rs tries PKCS#1 RSAPublicKey and then SPKI (RFC 5280) with an RSA algorithm OID.
    AwsRsaPublicKey::from_der(der).map_err(|e| explain(&e))
}

fn parse_private(text: &str) -> Result<RsaKeyPair, KeyErrorKind> {
    let pair = match decode_text(text)? {
        Decoded::Pem { label, der } => match label.as_str() {
            "PRIVATE KEY" => {
                RsaKeyPair::from_pkcs8(&der).map_err(|e| KeyErrorKind::NotRsaPrivateKey(explain(&e)))?
            }
            "RSA PRIVATE KEY" => {
                RsaKeyPair::from_der(&der).map_err(|e| KeyErrorKind::NotRsaPrivateKey(explain(&e)))?
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" => return Err(KeyErrorKind::PublicKeyGiven),
            "CERTIFICATE" => return Err(KeyErrorKind::Certificate),
            _ => return Err(KeyErrorKind::UnsupportedPemLabel(label)),
        },
        Decoded::Bare(der) => match private_from_der(&der) {
            Ok(k) => k,
            Err(detail) => {
                if public_from_der(&der).is_ok() {
                    return Err(KeyErrorKind::PublicKeyGiven);
                }
                return Err(KeyErrorKind::NotRsaPrivateKey(detail));
            }
        },
    };
    let bits = pair.public_modulus_len() * 8;
    if bits < MIN_RSA_BITS {
        return Err(KeyErrorKind::TooSmall { bits });
    }
    Ok(pair)
}

fn parse_public(text: &str) -> Result<RsaPublicKey, KeyErrorKind> {
    let public = match decode_text(text)? {
        Decoded::Pem { label, der } => match label.as_str() {
            "PUBLIC KEY" | "RSA PUBLIC KEY" => {
                public_from_der(&der).map_err(KeyErrorKind::NotRsaPublicKey)?
            }
            "PRIVATE KEY" | "RSA PRIVATE KEY" => return Err(KeyErrorKind::PrivateKeyGiven),
            "CERTIFICATE" => return Err(KeyErrorKind::Certificate),
            _ => return Err(KeyErrorKind::UnsupportedPemLabel(label)),
        },
        Decoded::Bare(der) => match public_from_der(&der) {
            Ok(k) => k,
            Err(detail) => {
                if private_from_der(&der).is_ok() {
                    return Err(KeyErrorKind::PrivateKeyGiven);
                }
                return Err(KeyErrorKind::NotRsaPublicKey(detail));
            }
        },
    };
    RsaPublicKey::from_aws(&public)
}

/// Wraps base64 text at 64 columns between PEM armour lines (with a final newline).
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

// ---------------------------------------------------------------------------------------------
// Private key

/// An RSA private key that signs with RSASSA-PKCS1-v1_5 / SHA-256.
///
/// Cheap to clone (shared internally). Its [`Debug`] output never contains key material.
#[derive(Clone)]
pub struct RsaPrivateKey {
    pair: Arc<RsaKeyPair>,
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPrivateKey(RSA-{}, [REDACTED])", self.bits())
    }
}

impl RsaPrivateKey {
    /// Parses a private key from PEM (`PRIVATE KEY` / `RSA PRIVATE KEY`) or bare base64
    /// (PKCS#8 DER, then PKCS#1 DER).
    ///
    /// # Errors
    /// A [`KeyErrorKind`] saying why.
    pub fn parse(text: &str) -> Result<Self, KeyErrorKind> {
        Ok(RsaPrivateKey { pair: Arc::new(parse_private(text)?) })
    }

    /// Generates a fresh RSA-2048 key pair (for development simulators and tests).
    ///
    /// # Errors
    /// [`KeyErrorKind::Crypto`] if the crypto library fails.
    pub fn generate() -> Result<Self, KeyErrorKind> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyErrorKind::Crypto)?;
        Ok(RsaPrivateKey { pair: Arc::new(pair) })
    }

    /// Size of the RSA modulus in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.pair.public_modulus_len() * 8
    }

    /// Signs `message` with RSASSA-PKCS1-v1_5 / SHA-256 (deterministic).
    ///
    /// # Errors
    /// [`SignError`] if the crypto library fails.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
            .map_err(|_| SignError)?;
        Ok(signature)
    }

    /// Like [`RsaPrivateKey::sign`], the signature in standard base64 (with `+ / =`, one line).
    ///
    /// # Errors
    /// [`SignError`] if the crypto library fails.
    pub fn sign_base64(&self, message: &[u8]) -> Result<String, SignError> {
        Ok(STANDARD.encode(self.sign(message)?))
    }

    /// The matching public key, as a verifier.
    ///
    /// # Errors
    /// [`KeyErrorKind::Crypto`] if the crypto library fails to re-encode the key.
    pub fn public_key(&self) -> Result<RsaPublicKey, KeyErrorKind> {
        RsaPublicKey::from_aws(self.pair.public_key())
    }

    /// Exports the private key as one line of base64 PKCS#8 DER.
    ///
    /// # Errors
    /// [`KeyErrorKind::Crypto`] if the crypto library fails.
    pub fn to_pkcs8_base64(&self) -> Result<SecretString, KeyErrorKind> {
        let der = self.pair.as_der().map_err(|_| KeyErrorKind::Crypto)?;
        Ok(SecretString::from(STANDARD.encode(der.as_ref())))
    }

    /// Exports the private key as PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    ///
    /// # Errors
    /// [`KeyErrorKind::Crypto`] if the crypto library fails.
    pub fn to_pkcs8_pem(&self) -> Result<SecretString, KeyErrorKind> {
        let der = self.pair.as_der().map_err(|_| KeyErrorKind::Crypto)?;
        Ok(SecretString::from(pem("PRIVATE KEY", der.as_ref())))
    }
}

// ---------------------------------------------------------------------------------------------
// Public key

/// An RSA public key that verifies RSASSA-PKCS1-v1_5 / SHA-256 signatures.
///
/// Cheap to clone. Parsed once; verification does not re-parse.
#[derive(Clone)]
pub struct RsaPublicKey {
    parsed: Arc<ParsedPublicKey>,
    spki_der: Arc<[u8]>,
    bits: usize,
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPublicKey(RSA-{})", self.bits)
    }
}

impl RsaPublicKey {
    /// Parses a public key from PEM (`PUBLIC KEY` / `RSA PUBLIC KEY`) or bare base64 (SPKI DER,
    /// then PKCS#1 DER).
    ///
    /// # Errors
    /// A [`KeyErrorKind`] saying why.
    pub fn parse(text: &str) -> Result<Self, KeyErrorKind> {
        parse_public(text)
    }

    fn from_aws(public: &AwsRsaPublicKey) -> Result<Self, KeyErrorKind> {
        let bits = public.modulus_len() * 8;
        if bits < MIN_RSA_BITS {
            return Err(KeyErrorKind::TooSmall { bits });
        }
        let spki = public.as_der().map_err(|_| KeyErrorKind::Crypto)?;
        let spki_der: Arc<[u8]> = Arc::from(spki.as_ref());
        let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &*spki_der)
            .map_err(|e| KeyErrorKind::NotRsaPublicKey(explain(&e)))?;
        Ok(RsaPublicKey { parsed: Arc::new(parsed), spki_der, bits })
    }

    /// Size of the RSA modulus in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The key as one line of base64 SPKI DER.
    #[must_use]
    pub fn to_spki_base64(&self) -> String {
        STANDARD.encode(&self.spki_der)
    }

    /// The key as SPKI PEM (`BEGIN PUBLIC KEY`).
    #[must_use]
    pub fn to_spki_pem(&self) -> String {
        pem("PUBLIC KEY", &self.spki_der)
    }

    /// Verifies a raw RSASSA-PKCS1-v1_5 / SHA-256 `signature` over `message`.
    ///
    /// # Errors
    /// [`BadSignature`] if it does not verify.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), BadSignature> {
        self.parsed.verify_sig(message, signature).map_err(|_| BadSignature)
    }

    /// Verifies a base64 (standard alphabet, padding optional) signature over `message`.
    ///
    /// # Errors
    /// [`BadSignature`] if `signature` is not base64 or does not verify.
    pub fn verify_base64(&self, message: &[u8], signature: &str) -> Result<(), BadSignature> {
        let signature = LENIENT_B64.decode(signature.as_bytes()).map_err(|_| BadSignature)?;
        self.verify(message, &signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn debug_is_redacted() {
        let key = RsaPrivateKey::generate().expect("generate");
        assert_eq!(format!("{key:?}"), "RsaPrivateKey(RSA-2048, [REDACTED])");
    }

    #[test]
    fn generated_key_round_trips_through_pem_and_base64_exports() {
        let key = RsaPrivateKey::generate().expect("generate");
        let public = key.public_key().expect("public");
        let sig = key.sign_base64(b"a=1&b=2").expect("sign");
        for text in [public.to_spki_pem(), public.to_spki_base64()] {
            let parsed = RsaPublicKey::parse(&text).expect("parse public");
            parsed.verify_base64(b"a=1&b=2", &sig).expect("verify");
            assert_eq!(parsed.verify_base64(b"a=1&b=3", &sig), Err(BadSignature));
        }
        for text in [key.to_pkcs8_pem().expect("pem"), key.to_pkcs8_base64().expect("b64")] {
            let again = RsaPrivateKey::parse(text.expose_secret()).expect("parse private");
            assert_eq!(again.sign_base64(b"x").expect("sign"), key.sign_base64(b"x").expect("sign"));
        }
        let pem = key.to_pkcs8_pem().expect("pem");
        assert!(pem.expose_secret().starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem.expose_secret().lines().all(|l| l.len() <= 64));
    }

    #[test]
    fn swapped_keys_and_garbage_are_named() {
        let key = RsaPrivateKey::generate().expect("generate");
        let public_pem = key.public_key().expect("public").to_spki_pem();
        assert_eq!(RsaPrivateKey::parse(&public_pem).err(), Some(KeyErrorKind::PublicKeyGiven));
        let private_pem = key.to_pkcs8_pem().expect("pem");
        assert_eq!(
            RsaPublicKey::parse(private_pem.expose_secret()).err(),
            Some(KeyErrorKind::PrivateKeyGiven)
        );
        assert_eq!(RsaPublicKey::parse("  ").err(), Some(KeyErrorKind::Empty));
        assert_eq!(RsaPublicKey::parse("not base64!").err(), Some(KeyErrorKind::NotBase64));
        assert_eq!(
            KeyErrorKind::Empty.describe(EXPECTED_PUBLIC),
            "empty; expected an RSA public key (SPKI or PKCS#1, PEM or base64)"
        );
    }
}
