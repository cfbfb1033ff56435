//! Checkout with only an email (issue 9, part 3): the guest buyer behind such orders, and the
//! private purchase page every order has.
//!
//! A guest's orders belong to a guest buyer, one per email address: a `users` row with role
//! `guest` that cannot sign in (inactive, no password, no mobile, no email; see
//! `shop_db::guests`), because course access, download links, the one-open-order holds and
//! idempotency keys are all keyed by a buyer. No account is made: nobody can log in as a
//! guest buyer, and an account that later confirms the address takes its purchases over
//! (`shop_db::guests::claim`, called by `buyers::confirm_email`); a guest order paid with an
//! address an account has already confirmed goes to that account the same way
//! ([`attach_paid`], called by the `order_paid` job).
//!
//! Every order's purchase page is `/p/<token>`: the token is 256 bits, the keyed hash
//! (HMAC-SHA256, a key derived from `auth.jwt_secret`) of the order number, so the same URL
//! is given again to a retry, in the order detail and in the purchase email without being
//! stored; the order keeps only the token's SHA-256 (`orders.purchase_token_hash`) to find it.
use base64::Engine as _;
use chrono::Utc;
use hmac::{Hmac, Mac};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use shop_db::entities::order;
use shop_db::{Conflict, WriteError, guests, orders};

use crate::auth::{KeyPurpose, derive_key};
use crate::config::Settings;
use crate::error::{AppError, AppResult};

/// The token of the purchase page of order `out_trade_no`: 43 characters of base64url.
#[must_use]
pub fn purchase_token(settings: &Settings, out_trade_no: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(keyed(&settings.auth.jwt_secret, &[out_trade_no]))
}

/// HMAC-SHA256 of `parts` (each followed by a NUL byte but the last) with the purchase page
/// key derived from `secret`.
fn keyed(secret: &SecretString, parts: &[&str]) -> [u8; 32] {
    let key = derive_key(KeyPurpose::PurchasePage, secret);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            mac.update(&[0]);
        }
        mac.update(part.as_bytes());
    }
    mac.finalize().into_bytes().into()
}

/// What an order stores of its purchase page token: its SHA-256 in hex.
#[must_use]
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` has the form of a purchase page token (checked before any lookup).
#[must_use]
pub fn well_formed_token(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The purchase page of a token, under the shop's public URL.
#[must_use]
pub fn purchase_url(public_url: &str, token: &str) -> String {
    format!("{}/p/{token}", public_url.trim_end_matches('/'))
}

/// The token of `order`'s purchase page; an order made before orders kept one, or whose
/// token changed with `auth.jwt_secret`, gets its hash now (so its page can be found).
///
/// # Errors
/// Database errors.
pub async fn token_of(
    conn: &impl ConnectionTrait,
    settings: &Settings,
    order: &order::Model,
) -> AppResult<String> {
    let token = purchase_token(settings, &order.out_trade_no);
    let hash = token_hash(&token);
    if order.purchase_token_hash.as_deref() != Some(hash.as_str()) {
        orders::set_purchase_token_hash(conn, order.id, &hash).await?;
    }
    Ok(token)
}

/// The key under which guest orders of `email` are counted by the rate limits: a keyed hash,
/// so the address itself is not stored there.
pub(crate) fn email_limit_key(settings: &Settings, email: &str) -> String {
    hex::encode(&keyed(&settings.auth.jwt_secret, &["guest-order-limit", email])[..16])
}

/// A fresh idempotency key for a buy page's form (128 random bits), so that a double click
/// or a resent form makes one order.
#[must_use]
pub fn new_form_key() -> String {
    format!("buy-{:032x}", rand::random::<u128>())
}

/// The guest buyer of `email` (already parsed), made on its first order.
///
/// # Errors
/// Database errors.
pub(crate) async fn buyer_of(db: &DatabaseConnection, email: &str) -> AppResult<i64> {
    for _ in 0..3 {
        if let Some(guest) = guests::by_email(db, email).await? {
            return Ok(guest.user_id);
        }
        let txn = shop_db::begin_write(db).await?;
        let username = format!("guest_{:016x}", rand::random::<u64>());
        match guests::insert(&txn, email, &username, Utc::now()).await {
            Ok(id) => {
                txn.commit().await?;
                tracing::info!(user.id = id, "guest buyer made");
                return Ok(id);
            }
            // A concurrent first order of the same address made it (or, rarely, the random
            // username was taken): read it again.
            Err(WriteError::Conflict(Conflict(_))) => continue,
            Err(WriteError::Db(e)) => return Err(e.into()),
        }
    }
    Err(AppError::Unexpected(anyhow::anyhow!("no guest buyer could be made")))
}

/// When `order` (just paid) belongs to a guest buyer whose address an account has already
/// confirmed, attaches the guest's purchases to that account ([`guests::claim`], the same
/// rule as a confirmation after the purchase) and returns the order as it now is. Orders
/// given without an address are never a guest's and cost no query. Call inside the
/// transaction of the `order_paid` job, before the order's links are issued.
///
/// # Errors
/// Database errors.
pub async fn attach_paid(conn: &impl ConnectionTrait, order: order::Model) -> AppResult<order::Model> {
    if order.delivery_email.is_none() {
        return Ok(order);
    }
    let Some((email, account)) = guests::confirmed_account_of(conn, order.user_id).await? else {
        return Ok(order);
    };
    let Some(claimed) = guests::claim(conn, &email, account, Utc::now()).await? else {
        return Ok(order);
    };
    tracing::info!(
        user.id = account,
        orders = claimed.orders,
        courses = claimed.courses,
        "a guest purchase attached to the account of its address"
    );
    Ok(orders::by_id(conn, order.id).await?.unwrap_or(order))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_keyed_and_per_order() {
        let secret = SecretString::from("test-only-jwt-secret-0123456789abcdef0123456789");
        let token = |no: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(keyed(&secret, &[no]));
        let a = token("CS1");
        assert!(well_formed_token(&a), "{a}");
        assert_eq!(a, token("CS1"));
        assert_ne!(a, token("CS2"));
        let other = SecretString::from("another-secret-0123456789abcdef0123456789abcdef");
        assert_ne!(keyed(&secret, &["CS1"]), keyed(&other, &["CS1"]));
        assert_eq!(token_hash(&a).len(), 64);
        assert!(!well_formed_token("short") && !well_formed_token(&format!("{}.", &a[..42])));
        assert_eq!(purchase_url("http://x/", &a), format!("http://x/p/{a}"));
        assert_ne!(
            keyed(&secret, &["guest-order-limit", "a@example.com"]),
            keyed(&secret, &["guest-order-limit", "b@example.com"])
        );
    }
}
