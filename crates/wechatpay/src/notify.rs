//! Notifications (payment `TRANSACTION.SUCCESS`, refund `REFUND.*`): verify the signature over
//! the raw body, then parse the envelope, then decrypt and parse the resource.
//!
//! ```json
//! {"id":"EV-2018022511223320873","create_time":"2015-05-20T13:29:35+08:00",
//!  "resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"支付成功",
//!  "resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM",
//!              "ciphertext":"...","associated_data":"","nonce":"..."}}
//! ```
//!
//! The answer WeChat expects: 2xx (the shop answers 204) once the change is durable; on failure
//! a 4xx/5xx with `{"code":"FAIL","message":"..."}` ([`failure_body`]), and WeChat resends.
//! Business checks (`mchid`, `appid`, order number, amount) are the caller's.

use serde::{Deserialize, Serialize};

use crate::aead::{DecryptError, EncryptedResource, decrypt_resource};
use crate::keys::{ApiV3Key, WechatPayPublicKey};
use crate::model::{RefundNotice, Transaction};
use crate::verify::{SignatureHeaders, VerifyError, verify_signed};

/// `event_type` of a successful payment.
pub const EVENT_TRANSACTION_SUCCESS: &str = "TRANSACTION.SUCCESS";
/// `event_type` of a successful refund.
pub const EVENT_REFUND_SUCCESS: &str = "REFUND.SUCCESS";
/// `event_type` of an abnormal refund.
pub const EVENT_REFUND_ABNORMAL: &str = "REFUND.ABNORMAL";
/// `event_type` of a closed refund.
pub const EVENT_REFUND_CLOSED: &str = "REFUND.CLOSED";

/// `resource_type` of every notification.
pub const RESOURCE_TYPE: &str = "encrypt-resource";

/// The notification envelope (the JSON body, verified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationEnvelope {
    /// Notification id (the same for every resend).
    pub id: String,
    /// RFC 3339.
    #[serde(default)]
    pub create_time: String,
    /// `encrypt-resource`.
    #[serde(default)]
    pub resource_type: String,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`, ...
    pub event_type: String,
    /// Summary in words.
    #[serde(default)]
    pub summary: String,
    /// The encrypted resource.
    pub resource: EncryptedResource,
}

/// What a verified notification is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyEvent {
    /// A payment (`TRANSACTION.*`): the decrypted transaction.
    Transaction(Transaction),
    /// A refund (`REFUND.*`): the decrypted refund.
    Refund(RefundNotice),
    /// Another event type (acknowledge and ignore).
    Other,
}

/// A verified and decrypted notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNotification {
    /// The envelope.
    pub envelope: NotificationEnvelope,
    /// The decrypted resource, as JSON text (for the audit log).
    pub plaintext: String,
    /// The typed resource.
    pub event: NotifyEvent,
}

/// Why a notification was refused. Every variant means "answer with a failure, change nothing".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// Headers, serial, probe, timestamp or signature.
    #[error("notification signature: {0}")]
    Signature(#[from] VerifyError),
    /// The body or the decrypted resource is not the expected JSON.
    #[error("malformed notification: {0}")]
    Malformed(String),
    /// The resource could not be decrypted.
    #[error("notification resource: {0}")]
    Decrypt(#[from] DecryptError),
}

/// Verifies a notification (signature over the raw `body`), decrypts and parses its resource.
/// `now` is the current Unix time in seconds.
///
/// # Errors
/// [`NotifyError`]; nothing is parsed before the signature has verified.
pub fn verify_notification(
    headers: &SignatureHeaders,
    body: &[u8],
    public_key: &WechatPayPublicKey,
    api_v3_key: &ApiV3Key,
    now: i64,
) -> Result<VerifiedNotification, NotifyError> {
    verify_signed(headers, body, public_key, now)?;
    let envelope: NotificationEnvelope =
        serde_json::from_slice(body).map_err(|e| NotifyError::Malformed(format!("envelope: {e}")))?;
    if envelope.resource_type != RESOURCE_TYPE {
        return Err(NotifyError::Malformed(format!("resource_type is not {RESOURCE_TYPE}")));
    }
    let plaintext = decrypt_resource(api_v3_key, &envelope.resource)?;
    let event = if envelope.event_type.starts_with("TRANSACTION.") {
        NotifyEvent::Transaction(
            serde_json::from_str(&plaintext)
                .map_err(|e| NotifyError::Malformed(format!("transaction: {e}")))?,
        )
    } else if envelope.event_type.starts_with("REFUND.") {
        NotifyEvent::Refund(
            serde_json::from_str(&plaintext).map_err(|e| NotifyError::Malformed(format!("refund: {e}")))?,
        )
    } else {
        NotifyEvent::Other
    };
    Ok(VerifiedNotification { envelope, plaintext, event })
}

/// The failure answer body WeChat expects: `{"code":"FAIL","message":"..."}`.
#[must_use]
pub fn failure_body(message: &str) -> String {
    serde_json::json!({ "code": "FAIL", "message": message }).to_string()
}
