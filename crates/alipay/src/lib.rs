//! # shop-alipay
//!
//! The Alipay open-platform protocol for the course shop, in "public key" mode with RSA2
//! signatures (RSASSA-PKCS1-v1_5 with SHA-256, done by aws-lc-rs):
//!
//! * [`keys`]: parse the app private key and Alipay's public key (PEM or bare base64, PKCS#8 /
//!   PKCS#1 / SPKI), sign and verify.
//! * [`sign`]: the canonical strings to sign (requests) and to verify (notifies, returns).
//! * [`form`]: `application/x-www-form-urlencoded` encoding and strict, decode-once parsing.
//! * [`amount`]: integer fen ⇄ Alipay's two-decimal yuan strings (no floats anywhere).
//! * [`time`]: Beijing-time (UTC+8) timestamps.
//! * [`request`] and [`pagepay`]: signed request parameters and the `alipay.trade.page.pay` URL.
//! * [`notify`]: verification and typed parsing of async notifies and synchronous returns.
//! * [`response`]: extraction and verification of signed gateway JSON responses (pure).
//! * [`bill`]: the trade statement (对账单): its download URL answer and the GBK CSV zip.
//! * [`client`]: the HTTP client for `alipay.trade.query` / `close` / `refund` and the
//!   statement download (the only module doing I/O).
//! * `gateway` (cargo feature `gateway`): Alipay's side of the protocol (signed notifies and
//!   responses, verification of app requests), for the development payment simulator.
//! * `fake` (cargo feature `fake`, for tests only): a fake "Alipay" built on `gateway`.
//!
//! Business checks (is `app_id` ours, does the amount match the order, ...) are the caller's job.
#![warn(missing_docs)]

pub mod amount;
pub mod bill;
pub mod client;
#[cfg(feature = "fake")]
pub mod fake;
pub mod form;
#[cfg(feature = "gateway")]
pub mod gateway;
pub mod keys;
pub mod notify;
pub mod pagepay;
pub mod request;
pub mod response;
pub mod sign;
pub mod time;

pub use amount::{AmountError, format_yuan, parse_yuan};
pub use client::{AlipayClient, ClientConfig, TradeBillFile};
pub use form::{FormError, encode_pairs, parse_urlencoded};
pub use keys::{AlipayPublicKey, AppPrivateKey, KeyError, SignError};
pub use notify::{
    TradeStatus, VerifiedNotify, VerifiedReturn, VerifyError, verify_notify, verify_notify_body,
    verify_return,
};
pub use pagepay::{PagePay, PagePayError};
pub use response::{CloseOutcome, GatewayError, QueryOutcome, RefundOutcome, TradeInfo};
pub use sign::{notify_sign_content, request_sign_content};
