//! The keys of WeChat Pay API v3, in the formats the merchant platform hands out:
//!
//! | key | format | type |
//! | --- | --- | --- |
//! | merchant API private key (`apiclient_key.pem`) | PEM, PKCS#8 (`BEGIN PRIVATE KEY`) | [`MerchantPrivateKey`] |
//! | merchant API certificate serial number | 40 hex digits | a `String` (configuration) |
//! | WeChat Pay public key (`pub_key.pem`) and its id `PUB_KEY_ID_...` | PEM, SPKI (`BEGIN PUBLIC KEY`) | [`WechatPayPublicKey`] |
//! | APIv3 key | 32 characters | [`ApiV3Key`] |
//!
//! PEM parsing, signing and verification are `shop-rsa`'s (it also accepts PKCS#1 and bare
//! base64, which tolerates keys pasted without armour). Secrets are never printed.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use shop_rsa::{EXPECTED_PRIVATE, EXPECTED_PUBLIC, KeyErrorKind, RsaPrivateKey, RsaPublicKey};

/// Which key a [`KeyError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The merchant's API private key (signs requests).
    MerchantPrivateKey,
    /// The merchant's public key (a gateway verifies requests with it).
    MerchantPublicKey,
    /// The WeChat Pay public key (verifies answers and notifications).
    WechatPayPublicKey,
    /// A private key playing WeChat Pay (development simulator, fake gateway).
    WechatPayPrivateKey,
}

impl KeyRole {
    fn label(self) -> &'static str {
        match self {
            KeyRole::MerchantPrivateKey => "wechatpay merchant private key",
            KeyRole::MerchantPublicKey => "wechatpay merchant public key",
            KeyRole::WechatPayPublicKey => "wechatpay platform public key",
            KeyRole::WechatPayPrivateKey => "wechatpay platform private key",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            KeyRole::MerchantPrivateKey | KeyRole::WechatPayPrivateKey => EXPECTED_PRIVATE,
            KeyRole::MerchantPublicKey | KeyRole::WechatPayPublicKey => EXPECTED_PUBLIC,
        }
    }
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A key could not be parsed or generated. The message names the key, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// An RSA key.
    #[error("{role}: {}", kind.describe(role.expected()))]
    Rsa {
        /// Which key.
        role: KeyRole,
        /// What is wrong with it.
        kind: KeyErrorKind,
    },
    /// The WeChat Pay public key id is not `PUB_KEY_ID_` followed by letters and digits.
    #[error(
        "wechatpay platform public key id: expected PUB_KEY_ID_ followed by letters and digits, as shown with the key"
    )]
    PublicKeyId,
}

impl KeyError {
    pub(crate) fn new(role: KeyRole, kind: KeyErrorKind) -> Self {
        KeyError::Rsa { role, kind }
    }
}

/// The prefix of every WeChat Pay public key id.
pub const PUBLIC_KEY_ID_PREFIX: &str = "PUB_KEY_ID_";

/// The merchant's API private key: signs every request (`Authorization`).
#[derive(Clone)]
pub struct MerchantPrivateKey {
    key: RsaPrivateKey,
}

impl fmt::Debug for MerchantPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MerchantPrivateKey(RSA-{}, [REDACTED])", self.key.bits())
    }
}

impl MerchantPrivateKey {
    /// Parses `apiclient_key.pem` (PKCS#8 PEM; PKCS#1 and bare base64 are tolerated).
    ///
    /// # Errors
    /// A [`KeyError`] saying why.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        Self::parse_as(text, KeyRole::MerchantPrivateKey)
    }

    /// Like [`MerchantPrivateKey::parse`], naming another [`KeyRole`] in errors (a key playing
    /// WeChat Pay in the simulator).
    ///
    /// # Errors
    /// A [`KeyError`] saying why.
    pub fn parse_as(text: &str, role: KeyRole) -> Result<Self, KeyError> {
        Ok(MerchantPrivateKey { key: RsaPrivateKey::parse(text).map_err(|k| KeyError::new(role, k))? })
    }

    /// A fresh RSA-2048 key (simulator and tests).
    ///
    /// # Errors
    /// [`KeyErrorKind::Crypto`].
    pub fn generate() -> Result<Self, KeyError> {
        let key = RsaPrivateKey::generate().map_err(|k| KeyError::new(KeyRole::MerchantPrivateKey, k))?;
        Ok(MerchantPrivateKey { key })
    }

    /// The RSA key.
    #[must_use]
    pub fn rsa(&self) -> &RsaPrivateKey {
        &self.key
    }

    /// The key as PKCS#8 PEM, as the merchant platform hands it out.
    ///
    /// # Errors
    /// [`KeyErrorKind::Crypto`].
    pub fn to_pkcs8_pem(&self) -> Result<SecretString, KeyError> {
        self.key.to_pkcs8_pem().map_err(|k| KeyError::new(KeyRole::MerchantPrivateKey, k))
    }

    /// The matching public key.
    ///
    /// # Errors
    /// [`KeyErrorKind::Crypto`].
    pub fn public_key(&self) -> Result<RsaPublicKey, KeyError> {
        self.key.public_key().map_err(|k| KeyError::new(KeyRole::MerchantPublicKey, k))
    }
}

/// The WeChat Pay public key and its id (`PUB_KEY_ID_...`, sent as `Wechatpay-Serial`).
/// Answers and notifications must name this id in `Wechatpay-Serial` and verify with this key.
#[derive(Clone, Debug)]
pub struct WechatPayPublicKey {
    id: String,
    key: RsaPublicKey,
}

impl WechatPayPublicKey {
    /// Parses `pub_key.pem` (SPKI PEM; PKCS#1 and bare base64 tolerated) with its id.
    ///
    /// # Errors
    /// A [`KeyError`] saying why; the id must be `PUB_KEY_ID_` followed by letters and digits
    /// (surrounding whitespace is ignored).
    pub fn parse(id: &str, pem: &str) -> Result<Self, KeyError> {
        let key = RsaPublicKey::parse(pem).map_err(|k| KeyError::new(KeyRole::WechatPayPublicKey, k))?;
        Self::new(id, key)
    }

    /// From an already parsed key.
    ///
    /// # Errors
    /// [`KeyError::PublicKeyId`] for an id that is not `PUB_KEY_ID_` and letters and digits.
    pub fn new(id: &str, key: RsaPublicKey) -> Result<Self, KeyError> {
        let id = id.trim();
        let ok = id.strip_prefix(PUBLIC_KEY_ID_PREFIX).is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 64
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if !ok {
            return Err(KeyError::PublicKeyId);
        }
        Ok(WechatPayPublicKey { id: id.to_owned(), key })
    }

    /// The key id (`PUB_KEY_ID_...`).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The RSA key.
    #[must_use]
    pub fn rsa(&self) -> &RsaPublicKey {
        &self.key
    }
}

/// The APIv3 key: 32 ASCII characters, used **as given** (its 32 bytes are the AES-256 key;
/// it is not base64 or hex).
#[derive(Clone)]
pub struct ApiV3Key {
    text: SecretString,
}

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key([REDACTED])")
    }
}

/// The length of an APIv3 key in bytes.
pub const API_V3_KEY_LEN: usize = 32;

/// The APIv3 key is not 32 printable ASCII characters (the message never contains it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("wechatpay api v3 key: expected exactly 32 printable ASCII characters, got {len} bytes")]
pub struct ApiV3KeyError {
    /// Length of what was given, in bytes.
    pub len: usize,
}

impl ApiV3Key {
    /// Checks and wraps the key (surrounding whitespace is not trimmed: it would be a
    /// different key).
    ///
    /// # Errors
    /// [`ApiV3KeyError`] unless the key is exactly 32 printable ASCII characters.
    pub fn parse(text: &str) -> Result<Self, ApiV3KeyError> {
        if text.len() != API_V3_KEY_LEN || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiV3KeyError { len: text.len() });
        }
        Ok(ApiV3Key { text: SecretString::from(text.to_owned()) })
    }

    /// The 32 key bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.text.expose_secret().as_bytes()
    }

    /// The key text (for handing to a simulator or a test SDK).
    #[must_use]
    pub fn expose(&self) -> &str {
        self.text.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_v3_key_must_be_32_ascii_characters() {
        assert!(ApiV3Key::parse("0123456789abcdef0123456789ABCDEF").is_ok());
        for bad in
            ["", "short", "0123456789abcdef0123456789ABCDEF0", " 123456789abcdef0123456789ABCDEF", "密钥"]
        {
            let e = ApiV3Key::parse(bad).expect_err(bad);
            assert_eq!(e.len, bad.len());
            assert!(!e.to_string().contains(bad) || bad.is_empty(), "{e}");
        }
        assert_eq!(
            format!("{:?}", ApiV3Key::parse("0123456789abcdef0123456789ABCDEF").expect("k")),
            "ApiV3Key([REDACTED])"
        );
    }

    #[test]
    fn public_key_needs_an_id_and_errors_name_the_key() {
        let private = MerchantPrivateKey::generate().expect("generate");
        let pem = private.public_key().expect("public").to_spki_pem();
        assert_eq!(WechatPayPublicKey::parse(" PUB_KEY_ID_01 ", &pem).expect("parse").id(), "PUB_KEY_ID_01");
        for bad in ["", "PUB_KEY_ID_", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", "PUB_KEY_ID_01 02"] {
            assert_eq!(WechatPayPublicKey::parse(bad, &pem).err(), Some(KeyError::PublicKeyId), "{bad}");
        }
        let e = WechatPayPublicKey::parse("PUB_KEY_ID_01", "garbage!").expect_err("garbage");
        assert!(e.to_string().starts_with("wechatpay platform public key: "), "{e}");
        let e = MerchantPrivateKey::parse(&pem).expect_err("swapped");
        assert_eq!(e, KeyError::new(KeyRole::MerchantPrivateKey, KeyErrorKind::PublicKeyGiven));
    }
}
