//! A fake "Alipay" for tests (cargo feature `fake`, enabled by dev-dependencies only, so
//! release builds leave it out): [`FakeAlipay`] is [`AlipayGateway`] with the conveniences a
//! test needs, such as a freshly generated key pair.
//!
//! Use [`FakeAlipay::generate`] for a fresh RSA-2048 key at runtime, and give the application
//! [`FakeAlipay::public_key_base64`] as its "Alipay public key".
pub use crate::gateway::{AlipayGateway, PaymentNotify, error_json, query_success_json};
use crate::keys::{AppPrivateKey, KeyError};

/// Alipay's side of the protocol, as tests play it.
pub type FakeAlipay = AlipayGateway;

impl AlipayGateway {
    /// A fake Alipay with a freshly generated RSA-2048 key pair.
    ///
    /// # Errors
    /// [`KeyError`] if key generation fails.
    pub fn generate() -> Result<Self, KeyError> {
        Self::from_key(AppPrivateKey::generate()?)
    }

    /// The public key as one line of base64 SPKI (as Alipay's console shows it).
    #[must_use]
    pub fn public_key_base64(&self) -> String {
        self.public_key().to_spki_base64()
    }
}
