//! # shop-wechatpay
//!
//! WeChat Pay API v3 for the course shop: Native payment (a QR code on a PC web page), order
//! query, close, refund, refund query and notifications, with `WECHATPAY2-SHA256-RSA2048`
//! signatures (SHA256withRSA by aws-lc-rs through `shop-rsa`) and `AEAD_AES_256_GCM` resources.
//!
//! * [`keys`]: merchant private key (PKCS#8 PEM), WeChat Pay public key (SPKI PEM) with its id
//!   `PUB_KEY_ID_...`, APIv3key (32 characters).
//! * [`sign`]: request messages and the `Authorization` header.
//! * [`verify`]: verification of answers and notifications over the raw bytes (serial,
//!   signature probe, timestamp within 300 s, signature).
//! * [`aead`]: decryption of notification resources.
//! * [`model`]: typed requests and answers (amounts in fen), order-number rules.
//! * [`notify`]: notification verification, decryption and parsing.
//! * [`bill`]: the trade bill (交易账单): its answer, the SHA1 check, the backtick CSV.
//! * [`client`]: the HTTP client (the only module doing I/O).
//! * `gateway` (cargo feature `gateway`): WeChat Pay's side, for the development simulator.
//! * `simulator` (cargo feature `gateway`): WeChat Pay's merchant API in memory (orders,
//!   refunds, signed answers, notifications), for the development simulator.
//! * `fake` (cargo feature `fake`, tests only): a fake WeChat Pay HTTP server around it.
//!
//! Business checks (is `mchid`/`appid` ours, does the amount match the order) are the caller's.
#![warn(missing_docs)]

pub mod aead;
pub mod bill;
pub mod client;
#[cfg(feature = "fake")]
pub mod fake;
#[cfg(feature = "gateway")]
pub mod gateway;
pub mod keys;
pub mod model;
pub mod notify;
pub mod sign;
#[cfg(feature = "gateway")]
pub mod simulator;
pub mod verify;

pub use aead::{DecryptError, EncryptedResource, decrypt_resource};
pub use client::{
    ApiError, ClientConfig, PRODUCTION_BASE_URL, QueryOutcome, RefundQueryOutcome, TradeBillFile,
    WechatPayClient,
};
pub use keys::{ApiV3Key, ApiV3KeyError, KeyError, KeyRole, MerchantPrivateKey, WechatPayPublicKey};
pub use model::{
    InvalidRequest, NativeCreated, NativeOrder, Refund, RefundNotice, RefundRequest, RefundStatus,
    TradeState, Transaction, check_out_refund_no, check_out_trade_no,
};
pub use notify::{NotifyError, NotifyEvent, VerifiedNotification, failure_body, verify_notification};
pub use sign::{Authorization, SignError};
pub use verify::{SignatureHeaders, TIMESTAMP_TOLERANCE_SECS, VerifyError, verify_signed};
