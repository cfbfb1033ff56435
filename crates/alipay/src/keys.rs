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
//! [`Debug`] implementation of [`AppPrivateKey`] is redacted. Parsing, signing and verification
//! live in the `shop-rsa` crate (shared with `shop-wechatpay`); this module names the keys.

use std::fmt;

use secrecy::SecretString;
use shop_rsa::{EXPECTED_PRIVATE, EXPECTED_PUBLIC, RsaPrivateKey, RsaPublicKey};
pub use shop_rsa::{KeyErrorKind, MIN_RSA_BITS};

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
            KeyRole::AppPrivateKey | KeyRole::AlipayPrivateKey => EXPECTED_PRIVATE,
            KeyRole::AlipayPublicKey | KeyRole::AppPublicKey => EXPECTED_PUBLIC,
        }
    }
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
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
        write!(f, "{}: {}", self.role, self.kind.describe(self.role.expected()))
    }
}

impl std::error::Error for KeyError {}

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
// App private key

/// An RSA private key that signs with RSA2: normally the merchant's app private key.
///
/// Cheap to clone (shared internally). Its [`Debug`] output never contains key material.
#[derive(Clone)]
pub struct AppPrivateKey {
    key: RsaPrivateKey,
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
        let key = RsaPrivateKey::parse(text).map_err(|kind| KeyError::new(role, kind))?;
        Ok(AppPrivateKey { key })
    }

    /// Generates a fresh RSA-2048 key pair (for the development simulator and tests).
    ///
    /// # Errors
    /// [`KeyErrorKind::Crypto`] if the crypto library fails.
    pub fn generate() -> Result<Self, KeyError> {
        let key = RsaPrivateKey::generate().map_err(|kind| KeyError::new(KeyRole::AppPrivateKey, kind))?;
        Ok(AppPrivateKey { key })
    }

    /// Size of the RSA modulus in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.key.bits()
    }

    /// Signs `content` (its UTF-8 bytes) with RSASSA-PKCS1-v1_5 / SHA-256 and returns the
    /// signature in standard base64 (with `+ / =`, no line breaks), as Alipay expects in `sign`.
    ///
    /// # Errors
    /// [`SignError`] if the crypto library fails.
    pub fn sign(&self, content: &str) -> Result<String, SignError> {
        self.key.sign_base64(content.as_bytes()).map_err(|_| SignError)
    }

    /// The matching public key, as a verifier.
    ///
    /// # Errors
    /// [`KeyErrorKind::Crypto`] if the crypto library fails to re-encode the key.
    pub fn public_key(&self) -> Result<AlipayPublicKey, KeyError> {
        let key = self.key.public_key().map_err(|kind| KeyError::new(KeyRole::AppPublicKey, kind))?;
        Ok(AlipayPublicKey { key })
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
        self.key.to_pkcs8_base64().map_err(|kind| KeyError::new(KeyRole::AppPrivateKey, kind))
    }
}

// ---------------------------------------------------------------------------------------------
// Alipay public key

/// An RSA public key that verifies RSA2 signatures: normally Alipay's public key.
///
/// Cheap to clone. Parsed once; verification does not re-parse.
#[derive(Clone)]
pub struct AlipayPublicKey {
    key: RsaPublicKey,
}

impl fmt::Debug for AlipayPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AlipayPublicKey(RSA-{})", self.bits())
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
        Self::parse_as(text, KeyRole::AlipayPublicKey)
    }

    /// Like [`AlipayPublicKey::parse`], with another [`KeyRole`] in error messages (e.g. a fake
    /// gateway parsing the app's public key).
    ///
    /// # Errors
    /// A [`KeyError`] saying why.
    pub fn parse_as(text: &str, role: KeyRole) -> Result<Self, KeyError> {
        let key = RsaPublicKey::parse(text).map_err(|kind| KeyError::new(role, kind))?;
        Ok(AlipayPublicKey { key })
    }

    /// Size of the RSA modulus in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.key.bits()
    }

    /// The key as one line of base64 SPKI DER.
    #[must_use]
    pub fn to_spki_base64(&self) -> String {
        self.key.to_spki_base64()
    }

    /// Verifies a base64 RSA2 signature (`sign`) over the UTF-8 bytes of `content`.
    ///
    /// # Errors
    /// [`BadSignature`] if `sign` is not base64 or does not verify.
    pub fn verify(&self, content: &str, sign: &str) -> Result<(), BadSignature> {
        self.key.verify_base64(content.as_bytes(), sign).map_err(|_| BadSignature)
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
