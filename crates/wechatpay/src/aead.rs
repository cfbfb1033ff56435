//! `AEAD_AES_256_GCM`: the encrypted `resource` of a notification.
//!
//! * key: the 32 ASCII bytes of the APIv3 key, as given (not decoded);
//! * nonce: the bytes of the 12-character `nonce` string;
//! * associated data: the `associated_data` string as received (may be empty);
//! * `ciphertext`: standard base64 of the ciphertext followed by the 16-byte tag.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::keys::ApiV3Key;

/// The only algorithm: `AEAD_AES_256_GCM`.
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";

/// The `resource` object of a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedResource {
    /// The type of the plaintext object (`transaction`, `refund`).
    #[serde(default)]
    pub original_type: String,
    /// `AEAD_AES_256_GCM`.
    pub algorithm: String,
    /// Base64 of ciphertext || tag.
    pub ciphertext: String,
    /// Associated data (WeChat sends e.g. `transaction` or `refund`; may be empty).
    #[serde(default)]
    pub associated_data: String,
    /// The 12-character nonce.
    pub nonce: String,
}

/// Why a resource could not be decrypted. Deliberately coarse: a wrong key, a tampered
/// ciphertext, nonce or associated data all give [`DecryptError::Failed`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// `algorithm` is not `AEAD_AES_256_GCM`.
    #[error("unsupported resource algorithm")]
    UnsupportedAlgorithm,
    /// The nonce is not 12 bytes.
    #[error("resource nonce is not 12 bytes")]
    BadNonce,
    /// `ciphertext` is not base64 or shorter than the tag.
    #[error("resource ciphertext is not base64 of ciphertext and tag")]
    BadCiphertext,
    /// Authentication failed.
    #[error("resource decryption failed")]
    Failed,
    /// The plaintext is not UTF-8.
    #[error("resource plaintext is not UTF-8")]
    NotUtf8,
}

fn key(api_v3_key: &ApiV3Key) -> Result<LessSafeKey, DecryptError> {
    // ApiV3Key guarantees 32 bytes, so this cannot fail.
    let unbound = UnboundKey::new(&AES_256_GCM, api_v3_key.bytes()).map_err(|_| DecryptError::Failed)?;
    Ok(LessSafeKey::new(unbound))
}

fn nonce(text: &str) -> Result<Nonce, DecryptError> {
    let bytes: [u8; NONCE_LEN] = text.as_bytes().try_into().map_err(|_| DecryptError::BadNonce)?;
    Ok(Nonce::assume_unique_for_key(bytes))
}

/// Decrypts a notification resource to its JSON text.
///
/// # Errors
/// [`DecryptError`].
pub fn decrypt_resource(api_v3_key: &ApiV3Key, resource: &EncryptedResource) -> Result<String, DecryptError> {
    if resource.algorithm != ALGORITHM {
        return Err(DecryptError::UnsupportedAlgorithm);
    }
    let nonce = nonce(&resource.nonce)?;
    let mut data =
        STANDARD.decode(resource.ciphertext.as_bytes()).map_err(|_| DecryptError::BadCiphertext)?;
    if data.len() < AES_256_GCM.tag_len() {
        return Err(DecryptError::BadCiphertext);
    }
    let plain = key(api_v3_key)?
        .open_in_place(nonce, Aad::from(resource.associated_data.as_bytes()), &mut data)
        .map_err(|_| DecryptError::Failed)?;
    String::from_utf8(plain.to_vec()).map_err(|_| DecryptError::NotUtf8)
}

/// Encrypts `plaintext` as WeChat Pay does (the gateway side: simulator and tests). `nonce`
/// must be 12 bytes and never reused with the same key.
///
/// # Errors
/// [`DecryptError::BadNonce`], or [`DecryptError::Failed`] if the crypto library fails.
#[cfg(feature = "gateway")]
pub fn encrypt_resource(
    api_v3_key: &ApiV3Key,
    plaintext: &str,
    nonce_text: &str,
    associated_data: &str,
    original_type: &str,
) -> Result<EncryptedResource, DecryptError> {
    let nonce = nonce(nonce_text)?;
    let mut data = plaintext.as_bytes().to_vec();
    key(api_v3_key)?
        .seal_in_place_append_tag(nonce, Aad::from(associated_data.as_bytes()), &mut data)
        .map_err(|_| DecryptError::Failed)?;
    Ok(EncryptedResource {
        algorithm: ALGORITHM.to_owned(),
        ciphertext: STANDARD.encode(&data),
        associated_data: associated_data.to_owned(),
        original_type: original_type.to_owned(),
        nonce: nonce_text.to_owned(),
    })
}
