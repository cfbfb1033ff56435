//! # shop-stripe
//!
//! Stripe Checkout for the course shop (card payments): webhook signature verification and
//! typed events, Checkout Session create / retrieve / expire, and refunds. HMAC-SHA256 and its
//! constant-time comparison are aws-lc-rs's.
//!
//! * [`webhook`]: `Stripe-Signature` verification over the raw payload (any `v1`, 300 s either
//!   way), then [`construct_event`].
//! * [`event`]: [`Event`], [`EventKind`], [`CheckoutSession`], [`Charge`], [`Refund`].
//! * [`checkout`]: [`CreateSession`] and its form encoding.
//! * [`client`]: the HTTP client (the only module doing I/O).
//! * `gateway` (cargo feature `gateway`): Stripe's side of webhooks, for the development
//!   simulator.
//! * `simulator` (cargo feature `gateway`): Stripe's API in memory (sessions, refunds,
//!   idempotency keys, signed webhooks), for the development simulator.
//! * `fake` (cargo feature `fake`, tests only): a fake Stripe API HTTP server around it.
//!
//! Business checks (amount, currency and order number of a session match the order) are the
//! caller's.
#![warn(missing_docs)]

pub mod checkout;
pub mod client;
pub mod event;
#[cfg(feature = "fake")]
pub mod fake;
#[cfg(feature = "gateway")]
pub mod gateway;
#[cfg(feature = "gateway")]
pub mod simulator;
pub mod webhook;

pub use checkout::{
    CreateSession, InvalidRequest, LineItem, MAX_EXPIRES_IN_SECS, MAX_LINE_ITEMS, MIN_EXPIRES_IN_SECS,
};
pub use client::{ClientConfig, PRODUCTION_API_BASE, StripeClient, StripeError};
pub use event::{Charge, CheckoutSession, Event, EventKind, PaymentStatus, Refund, SessionStatus};
pub use webhook::{
    DEFAULT_TOLERANCE_SECS, SIGNATURE_HEADER, WebhookError, WebhookSecret, WebhookSecretError,
    construct_event, verify_signature,
};
