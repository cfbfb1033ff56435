//! WeChat Pay's side of the protocol (cargo feature `gateway`), for the development simulator
//! and the fake: signs answers and notifications with a WeChat Pay private key, encrypts
//! notification resources with the APIv3 key, and verifies merchants' `Authorization` headers.

use serde::Serialize;

use crate::aead::{DecryptError, encrypt_resource};
use crate::keys::{ApiV3Key, KeyError, KeyRole, MerchantPrivateKey, WechatPayPublicKey};
use crate::model::{RefundNotice, Transaction, format_time};
use crate::notify::{EVENT_TRANSACTION_SUCCESS, NotificationEnvelope, RESOURCE_TYPE};
use crate::sign::{Authorization, SCHEME, SignError, answer_message, new_nonce, request_message};
use crate::verify::{SignatureHeaders, TIMESTAMP_TOLERANCE_SECS};

/// Why a merchant request was refused (the gateway answers 401 `SIGN_ERROR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No or malformed `Authorization`.
    #[error("{0}")]
    Authorization(String),
    /// `mchid` is not the configured merchant.
    #[error("unknown mchid")]
    WrongMerchant,
    /// `serial_no` is not the configured merchant certificate serial.
    #[error("unknown serial_no")]
    WrongSerial,
    /// Timestamp not an integer or more than 300 s away.
    #[error("stale or malformed timestamp")]
    StaleTimestamp,
    /// The signature does not verify with the merchant's public key.
    #[error("bad signature")]
    BadSignature,
}

/// WeChat Pay's side.
#[derive(Clone, Debug)]
pub struct WechatPayGateway {
    private_key: MerchantPrivateKey,
    public_key: WechatPayPublicKey,
    api_v3_key: ApiV3Key,
    mch_id: String,
    merchant_serial_no: String,
    merchant_public_key: shop_rsa::RsaPublicKey,
}

impl WechatPayGateway {
    /// WeChat Pay's side for one merchant.
    ///
    /// * `private_key`: the key playing WeChat Pay's (its public half is what the merchant
    ///   configures as "WeChat Pay public key"), `public_key_id` its id (`PUB_KEY_ID_...`);
    /// * `api_v3_key`: the merchant's APIv3 key;
    /// * `mch_id`, `merchant_serial_no`, `merchant_public_key`: to verify the merchant's requests.
    ///
    /// # Errors
    /// [`KeyError`].
    pub fn new(
        private_key: MerchantPrivateKey,
        public_key_id: &str,
        api_v3_key: ApiV3Key,
        mch_id: &str,
        merchant_serial_no: &str,
        merchant_public_key: shop_rsa::RsaPublicKey,
    ) -> Result<Self, KeyError> {
        let public =
            private_key.rsa().public_key().map_err(|k| KeyError::new(KeyRole::WechatPayPublicKey, k))?;
        Ok(WechatPayGateway {
            public_key: WechatPayPublicKey::new(public_key_id, public)?,
            private_key,
            api_v3_key,
            mch_id: mch_id.to_owned(),
            merchant_serial_no: merchant_serial_no.to_owned(),
            merchant_public_key,
        })
    }

    /// The public key (and id) the merchant configures.
    #[must_use]
    pub fn public_key(&self) -> &WechatPayPublicKey {
        &self.public_key
    }

    /// The merchant id this gateway serves.
    #[must_use]
    pub fn mch_id(&self) -> &str {
        &self.mch_id
    }

    /// The APIv3 key.
    #[must_use]
    pub fn api_v3_key(&self) -> &ApiV3Key {
        &self.api_v3_key
    }

    /// Signs an answer or notification body with the given timestamp and nonce: the five
    /// `Wechatpay-*` headers.
    ///
    /// # Errors
    /// [`SignError`].
    pub fn sign_with(&self, body: &[u8], timestamp: i64, nonce: &str) -> Result<SignatureHeaders, SignError> {
        let timestamp = timestamp.to_string();
        let signature = self
            .private_key
            .rsa()
            .sign_base64(&answer_message(&timestamp, nonce, body))
            .map_err(|_| SignError)?;
        Ok(SignatureHeaders {
            serial: self.public_key.id().to_owned(),
            signature,
            timestamp,
            nonce: nonce.to_owned(),
            signature_type: Some(SCHEME.to_owned()),
        })
    }

    /// Signs a body now with a fresh nonce.
    ///
    /// # Errors
    /// [`SignError`].
    pub fn sign(&self, body: &[u8], now: i64) -> Result<SignatureHeaders, SignError> {
        self.sign_with(body, now, &new_nonce())
    }

    /// A notification body around an encrypted `plaintext` (field order as WeChat sends it).
    ///
    /// # Errors
    /// [`DecryptError`] for a nonce that is not 12 bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn notification_body(
        &self,
        id: &str,
        create_time: &str,
        event_type: &str,
        summary: &str,
        original_type: &str,
        plaintext: &str,
        nonce: &str,
        associated_data: &str,
    ) -> Result<String, DecryptError> {
        let resource = encrypt_resource(&self.api_v3_key, plaintext, nonce, associated_data, original_type)?;
        let envelope = NotificationEnvelope {
            id: id.to_owned(),
            create_time: create_time.to_owned(),
            resource_type: RESOURCE_TYPE.to_owned(),
            event_type: event_type.to_owned(),
            summary: summary.to_owned(),
            resource,
        };
        serde_json::to_string(&envelope).map_err(|_| DecryptError::Failed)
    }

    fn notify<T: Serialize>(
        &self,
        event_type: &str,
        summary: &str,
        original_type: &str,
        resource: &T,
        now: i64,
    ) -> Result<(SignatureHeaders, String), SignError> {
        let plaintext = serde_json::to_string(resource).map_err(|_| SignError)?;
        let nonce12: String = new_nonce().chars().take(12).collect();
        let create_time = chrono::DateTime::from_timestamp(now, 0).map(format_time).unwrap_or_default();
        let id = format!("EV-{}", new_nonce());
        let body = self
            .notification_body(
                &id,
                &create_time,
                event_type,
                summary,
                original_type,
                &plaintext,
                &nonce12,
                original_type,
            )
            .map_err(|_| SignError)?;
        Ok((self.sign(body.as_bytes(), now)?, body))
    }

    /// A signed `TRANSACTION.SUCCESS` notification for `transaction`: `(headers, body)`.
    ///
    /// # Errors
    /// [`SignError`].
    pub fn payment_notification(
        &self,
        transaction: &Transaction,
        now: i64,
    ) -> Result<(SignatureHeaders, String), SignError> {
        self.notify(EVENT_TRANSACTION_SUCCESS, "支付成功", "transaction", transaction, now)
    }

    /// A signed `REFUND.<status>` notification for `refund`: `(headers, body)`.
    ///
    /// # Errors
    /// [`SignError`].
    pub fn refund_notification(
        &self,
        refund: &RefundNotice,
        now: i64,
    ) -> Result<(SignatureHeaders, String), SignError> {
        let event = format!("REFUND.{}", refund.refund_status);
        self.notify(&event, "退款状态变更", "refund", refund, now)
    }

    /// Verifies a merchant request: `Authorization` with the configured merchant id, serial
    /// and public key over `METHOD\nPATH?QUERY\ntimestamp\nnonce\nbody\n`.
    ///
    /// # Errors
    /// [`RequestError`].
    pub fn verify_request(
        &self,
        method: &str,
        path_and_query: &str,
        authorization: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Authorization, RequestError> {
        let auth = Authorization::parse(
            authorization.ok_or(RequestError::Authorization("no Authorization".into()))?,
        )
        .map_err(|e| RequestError::Authorization(e.to_string()))?;
        if auth.mchid != self.mch_id {
            return Err(RequestError::WrongMerchant);
        }
        if auth.serial_no != self.merchant_serial_no {
            return Err(RequestError::WrongSerial);
        }
        let ts: i64 = auth.timestamp.parse().map_err(|_| RequestError::StaleTimestamp)?;
        if (now - ts).abs() > TIMESTAMP_TOLERANCE_SECS {
            return Err(RequestError::StaleTimestamp);
        }
        let message = request_message(method, path_and_query, ts, &auth.nonce_str, body);
        if auth.timestamp != ts.to_string() {
            return Err(RequestError::StaleTimestamp);
        }
        self.merchant_public_key
            .verify_base64(&message, &auth.signature)
            .map_err(|_| RequestError::BadSignature)?;
        Ok(auth)
    }
}
