//! RSA keys: the merchant's **app private key** (signs requests) and **Alipay's public key**
//! (verifies notifies, returns and gateway responses), plus RSA2 signing and verification.
//!
//! Accepted inputs (surrounding whitespace, newlines inside the base64, and literal `\n`
//! sequences as found in environment variables are all tolerated):
//!
//! | key | PEM | bare base64 (as Alipay's key tool hands it out) |
//! | --- | --- | --- |
//! | app private key | `BEGIN PRIVATE KEY` (PKCS#8), `BEGIN RSA PRIVATE KEY` (PKCS#1) | PKCS#8 DER, then PKCS#1 DER |
//! | Alipay public key | `BEGIN PUBLIC KEY` (SPKI), `BEGIN RSA PUBLIC KEY` (PKCS#1) | SPKI DER, then PKCS#1 DER |
//!
//! Keys must be RSA with at least 2048 bits. Private key material is never printed: the
//! [`Debug`] implementation of [`AppPrivateKey`] is redacted.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKey as RsaPublicKey};
use aws_lc_rs::signature::{
    KeyPair, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use secrecy::SecretString;

/// Minimum accepted RSA modulus size in bits (Alipay uses RSA-2048).
pub const MIN_RSA_BITS: usize = 2048;

/// Base64 decoder: standard alphabet, padding optional.
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Which key a [`KeyError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The merchant's app private key (signs requests).
    AppPrivateKey,
    /// Alipay's public key (verifies Alipay's signatures).
    AlipayPublicKey,
    /// A private key playing Alipay (fake gateway / development simulator).
    AlipayPrivateKey,
    /// The app's public key (used by a fake gateway to verify requests).
    AppPublicKey,
}

impl KeyRole {
    fn label(self) -> &'static str {
        match self {
            KeyRole::AppPrivateKey => "app private key",
            KeyRole::AlipayPublicKey => "alipay public key",
            KeyRole::AlipayPrivateKey => "alipay private key",
            KeyRole::AppPublicKey => "app public key",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            KeyRole::AppPrivateKey | KeyRole::AlipayPrivateKey => {
                "an RSA private key (PKCS#8 or PKCS#1, PEM or base64)"
            }
            KeyRole::AlipayPublicKey | KeyRole::AppPublicKey => {
                "an RSA public key (SPKI or PKCS#1, PEM or base64)"
            }
        }
    }
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

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

/// A key could not be parsed, generated or exported. The message names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// Which key.
    pub role: KeyRole,
    /// What is wrong with it.
    pub kind: KeyErrorKind,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.role, describe(self.role, &self.kind))
    }
}

impl std::error::Error for KeyError {}

fn describe(role: KeyRole, kind: &KeyErrorKind) -> String {
    match kind {
        KeyErrorKind::Empty => format!("empty; expected {}", role.expected()),
        KeyErrorKind::NotBase64 => "not valid base64".to_owned(),
        KeyErrorKind::MalformedPem => "malformed PEM (BEGIN/END lines do not match)".to_owned(),
        KeyErrorKind::UnsupportedPemLabel(label) => {
            format!("unsupported PEM label \"{label}\"; expected {}", role.expected())
        }
        KeyErrorKind::Encrypted => {
            "encrypted private keys are not supported; provide it unencrypted".to_owned()
        }
        KeyErrorKind::Certificate => format!(
            "this is an X.509 certificate (certificate mode is not supported); expected {}",
            role.expected()
        ),
        KeyErrorKind::PublicKeyGiven => {
            format!("this is a public key, but a private key is needed here; expected {}", role.expected())
        }
        KeyErrorKind::PrivateKeyGiven => {
            format!("this is a private key, never configure a private key here; expected {}", role.expected())
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

impl KeyError {
    fn new(role: KeyRole, kind: KeyErrorKind) -> Self {
        KeyError { role, kind }
    }
}

/// RSA signing failed inside the crypto library (should not happen with a valid key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("RSA2 signing failed")]
pub struct SignError;

/// A signature did not verify (bad base64, wrong length, or wrong signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("RSA2 signature verification failed")]
pub struct BadSignature;

// ---------------------------------------------------------------------------------------------
// Input normalisation: PEM or bare base64 → (label, DER)

enum Decoded {
    Pem { label: String, der: Vec<u8> },
    Bare(Vec<u8>),
}

fn decode_text(text: &str, role: KeyRole) -> Result<Decoded, KeyError> {
    // Environment variables often carry PEM with literal "\n"; base64 never contains '\'.
    let text = text.replace("\\r", "").replace("\\n", "\n");
    let text = text.trim();
    if text.is_empty() {
        return Err(KeyError::new(role, KeyErrorKind::Empty));
    }
    if let Some(begin) = text.find("-----BEGIN ") {
        let after_begin = &text[begin + "-----BEGIN ".len()..];
        let label_end = after_begin.find("-----").ok_or(KeyError::new(role, KeyErrorKind::MalformedPem))?;
        let label = after_begin[..label_end].trim().to_owned();
        let body_and_rest = &after_begin[label_end + "-----".len()..];
        let end_marker = format!("-----END {label}-----");
        let body_end =
            body_and_rest.find(&end_marker).ok_or(KeyError::new(role, KeyErrorKind::MalformedPem))?;
        let body = &body_and_rest[..body_end];
        if label.contains("ENCRYPTED") || body.contains("ENCRYPTED") {
            return Err(KeyError::new(role, KeyErrorKind::Encrypted));
        }
        if body.contains(':') {
            // RFC 1421 headers (Proc-Type, DEK-Info) only appear in encrypted legacy PEM.
            return Err(KeyError::new(role, KeyErrorKind::MalformedPem));
        }
        let der = decode_base64(body, role)?;
        Ok(Decoded::Pem { label, der })
    } else {
        Ok(Decoded::Bare(decode_base64(text, role)?))
    }
}

fn decode_base64(text: &str, role: KeyRole) -> Result<Vec<u8>, KeyError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(KeyError::new(role, KeyErrorKind::Empty));
    }
    LENIENT_B64.decode(compact.as_bytes()).map_err(|_| KeyError::new(role, KeyErrorKind::NotBase64))
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

fn public_from_der(der: &[u8]) -> Result<RsaPublicKey, String> {
    // aws-lc-rs tries PKCS#1 RSAPublicKey and then SPKI (RFC 5280) with an RSA algorithm OID.
    RsaPublicKey::from_der(der).map_err(|e| explain(&e))
}

fn parse_private(text: &str, role: KeyRole) -> Result<RsaKeyPair, KeyError> {
    let err = |kind| KeyError::new(role, kind);
    let pair =
        match decode_text(text, role)? {
            Decoded::Pem { label, der } => match label.as_str() {
                "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der)
                    .map_err(|e| err(KeyErrorKind::NotRsaPrivateKey(explain(&e))))?,
                "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der)
                    .map_err(|e| err(KeyErrorKind::NotRsaPrivateKey(explain(&e))))?,
                "PUBLIC KEY" | "RSA PUBLIC KEY" => return Err(err(KeyErrorKind::PublicKeyGiven)),
                "CERTIFICATE" => return Err(err(KeyErrorKind::Certificate)),
                _ => return Err(err(KeyErrorKind::UnsupportedPemLabel(label))),
            },
            Decoded::Bare(der) => match private_from_der(&der) {
                Ok(k) => k,
                Err(detail) => {
                    if public_from_der(&der).is_ok() {
                        return Err(err(KeyErrorKind::PublicKeyGiven));
                    }
                    return Err(err(KeyErrorKind::NotRsaPrivateKey(detail)));
                }
            },
        };
    let bits = pair.public_modulus_len() * 8;
    if bits < MIN_RSA_BITS {
        return Err(err(KeyErrorKind::TooSmall { bits }));
    }
    Ok(pair)
}

fn parse_public(text: &str, role: KeyRole) -> Result<AlipayPublicKey, KeyError> {
    let err = |kind| KeyError::new(role, kind);
    let public = match decode_text(text, role)? {
        Decoded::Pem { label, der } => match label.as_str() {
            "PUBLIC KEY" | "RSA PUBLIC KEY" => {
                public_from_der(&der).map_err(|d| err(KeyErrorKind::NotRsaPublicKey(d)))?
            }
            "PRIVATE KEY" | "RSA PRIVATE KEY" => {
                return Err(err(KeyErrorKind::PrivateKeyGiven));
            }
            "CERTIFICATE" => return Err(err(KeyErrorKind::Certificate)),
            _ => return Err(err(KeyErrorKind::UnsupportedPemLabel(label))),
        },
        Decoded::Bare(der) => match public_from_der(&der) {
            Ok(k) => k,
            Err(detail) => {
                if private_from_der(&der).is_ok() {
                    return Err(err(KeyErrorKind::PrivateKeyGiven));
                }
                return Err(err(KeyErrorKind::NotRsaPublicKey(detail)));
            }
        },
    };
    AlipayPublicKey::from_rsa_public_key(&public, role)
}

// ---------------------------------------------------------------------------------------------
// App private key

/// An RSA private key that signs with RSA2: normally the merchant's app private key.
///
/// Cheap to clone (shared internally). Its [`Debug`] output never contains key material.
#[derive(Clone)]
pub struct AppPrivateKey {
    pair: Arc<RsaKeyPair>,
}

impl fmt::Debug for AppPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppPrivateKey(RSA-{}, [REDACTED])", self.bits())
    }
}

impl AppPrivateKey {
    /// Parses the app private key from PEM (`PRIVATE KEY` / `RSA PRIVATE KEY`) or bare base64
    /// (PKCS#8 DER, then PKCS#1 DER).
    ///
    /// # Errors
    /// A [`KeyError`] saying why, e.g. "app private key: not valid base64".
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        Self::parse_as(text, KeyRole::AppPrivateKey)
    }

    /// Like [`AppPrivateKey::parse`], with another [`KeyRole`] in error messages (for a key
    /// that plays Alipay in tests or in the development simulator).
    ///
    /// # Errors
    /// A [`KeyError`] saying why.
    pub fn parse_as(text: &str, role: KeyRole) -> Result<Self, KeyError> {
        Ok(AppPrivateKey { pair: Arc::new(parse_private(text, role)?) })
    }

    /// Generates a fresh RSA-2048 key pair (for the development simulator and tests).
    ///
    /// # Errors
    /// [`KeyErrorKind::Crypto`] if the crypto library fails.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| KeyError::new(KeyRole::AppPrivateKey, KeyErrorKind::Crypto))?;
        Ok(AppPrivateKey { pair: Arc::new(pair) })
    }

    /// Size of the RSA modulus in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.pair.public_modulus_len() * 8
    }

    /// Signs `content` (its UTF-8 bytes) with RSASSA-PKCS1-v1_5 / SHA-256 and returns the
    /// signature in standard base64 (with `+ / =`, no line breaks), as Alipay expects in `sign`.
    ///
    /// # Errors
    /// [`SignError`] if the crypto library fails.
    pub fn sign(&self, content: &str) -> Result<String, SignError> {
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), content.as_bytes(), &mut signature)
            .map_err(|_| SignError)?;
        Ok(STANDARD.encode(signature))
    }

    /// The matching public key, as a verifier.
    ///
    /// # Errors
    /// [`KeyErrorKind::Crypto`] if the crypto library fails to re-encode the key.
    pub fn public_key(&self) -> Result<AlipayPublicKey, KeyError> {
        AlipayPublicKey::from_rsa_public_key(self.pair.public_key(), KeyRole::AppPublicKey)
    }

    /// The matching public key as one line of base64 SPKI DER (the form Alipay's key tool
    /// shows and [`AlipayPublicKey::parse`] accepts).
    ///
    /// # Errors
    /// [`KeyErrorKind::Crypto`] if the crypto library fails.
    pub fn public_key_base64(&self) -> Result<String, KeyError> {
        Ok(self.public_key()?.to_spki_base64())
    }

    /// Exports the private key as one line of base64 PKCS#8 DER, wrapped in a [`SecretString`].
    ///
    /// # Errors
    /// [`KeyErrorKind::Crypto`] if the crypto library fails.
    pub fn to_pkcs8_base64(&self) -> Result<SecretString, KeyError> {
        let der =
            self.pair.as_der().map_err(|_| KeyError::new(KeyRole::AppPrivateKey, KeyErrorKind::Crypto))?;
        Ok(SecretString::from(STANDARD.encode(der.as_ref())))
    }
}

// ---------------------------------------------------------------------------------------------
// Alipay public key

/// An RSA public key that verifies RSA2 signatures: normally Alipay's public key.
///
/// Cheap to clone. Parsed once; verification does not re-parse.
#[derive(Clone)]
pub struct AlipayPublicKey {
    parsed: Arc<ParsedPublicKey>,
    spki_der: Arc<[u8]>,
    bits: usize,
}

impl fmt::Debug for AlipayPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AlipayPublicKey(RSA-{})", self.bits)
    }
}

impl AlipayPublicKey {
    /// Parses Alipay's public key from PEM (`PUBLIC KEY` / `RSA PUBLIC KEY`) or bare base64
    /// (SPKI DER, then PKCS#1 DER).
    ///
    /// # Errors
    /// A [`KeyError`] saying why, e.g.
    /// "alipay public key: not an RSA public key (SPKI or PKCS#1): ...".
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        parse_public(text, KeyRole::AlipayPublicKey)
    }

    /// Like [`AlipayPublicKey::parse`], with another [`KeyRole`] in error messages (e.g. a fake
    /// gateway parsing the app's public key).
    ///
    /// # Errors
    /// A [`KeyError`] saying why.
    pub fn parse_as(text: &str, role: KeyRole) -> Result<Self, KeyError> {
        parse_public(text, role)
    }

    fn from_rsa_public_key(public: &RsaPublicKey, role: KeyRole) -> Result<Self, KeyError> {
        let bits = public.modulus_len() * 8;
        if bits < MIN_RSA_BITS {
            return Err(KeyError::new(role, KeyErrorKind::TooSmall { bits }));
        }
        let spki = public.as_der().map_err(|_| KeyError::new(role, KeyErrorKind::Crypto))?;
        let spki_der: Arc<[u8]> = Arc::from(spki.as_ref());
        let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &*spki_der)
            .map_err(|e| KeyError::new(role, KeyErrorKind::NotRsaPublicKey(explain(&e))))?;
        Ok(AlipayPublicKey { parsed: Arc::new(parsed), spki_der, bits })
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

    /// Verifies a base64 RSA2 signature (`sign`) over the UTF-8 bytes of `content`.
    ///
    /// # Errors
    /// [`BadSignature`] if `sign` is not base64 or does not verify.
    pub fn verify(&self, content: &str, sign: &str) -> Result<(), BadSignature> {
        let signature = LENIENT_B64.decode(sign.as_bytes()).map_err(|_| BadSignature)?;
        self.parsed.verify_sig(content.as_bytes(), &signature).map_err(|_| BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let key = AppPrivateKey::generate().expect("generate");
        let dbg = format!("{key:?}");
        assert_eq!(dbg, "AppPrivateKey(RSA-2048, [REDACTED])");
    }

    #[test]
    fn generated_key_round_trips_through_exports() {
        use secrecy::ExposeSecret;
        let key = AppPrivateKey::generate().expect("generate");
        let public = AlipayPublicKey::parse(&key.public_key_base64().expect("b64")).expect("pub");
        let sig = key.sign("a=1&b=2").expect("sign");
        public.verify("a=1&b=2", &sig).expect("verify");
        assert!(public.verify("a=1&b=3", &sig).is_err());
        let again = AppPrivateKey::parse(key.to_pkcs8_base64().expect("pkcs8").expose_secret()).expect("p");
        assert_eq!(again.sign("x").expect("sign"), key.sign("x").expect("sign"));
    }

    #[test]
    fn literal_backslash_n_in_env_var_pem_is_tolerated() {
        let key = AppPrivateKey::generate().expect("generate");
        let b64 = key.public_key_base64().expect("b64");
        let pem = format!("-----BEGIN PUBLIC KEY-----\\n{b64}\\n-----END PUBLIC KEY-----\\n");
        AlipayPublicKey::parse(&pem).expect("parse");
    }
}
