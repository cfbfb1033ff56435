//! Every buyer is served (issue 9): a buyer who signed up by SMS sets and confirms an email
//! address (`PATCH user/user/me/`, `POST user/user/email/verify/`), gives one at checkout
//! instead, and the one rule of where a buyer's emails go ([`delivery_address`]).
//!
//! An email address is confirmed with a six-digit code sent to it: stored as a keyed hash
//! with the address it confirms, valid `sms.code_ttl_seconds`, single use, at most
//! `sms.max_attempts` guesses, and sent as often as SMS codes are (one per
//! `sms.resend_interval_seconds` and `sms.max_per_hour` per account, and
//! `sms.max_per_address_per_hour` per client address through [`crate::limits`]). The account's
//! `email` changes only when the code is confirmed.
use chrono::{Duration, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use shop_db::entities::{order, user};
use shop_db::{Conflict, WriteError, buyers, users};
use shop_domain::user::{Email, SmsCode, Username};
use subtle::ConstantTimeEq as _;

use crate::accounts::UserView;
use crate::context::Accounts;
use crate::error::{AppError, AppResult};
use crate::i18n::{Lang, msg};
use crate::limits::Limit;
use crate::mail;

/// The profile fields a buyer may change with `PATCH user/user/me/`.
pub const EDITABLE_FIELDS: [&str; 2] = ["email", "username"];
/// Fields of the profile that only other routes (or an operator) change.
pub const PROTECTED_FIELDS: [&str; 7] =
    ["id", "mobile", "password", "role", "icon", "is_active", "created_time"];

/// What `PATCH user/user/me/` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChange {
    /// A new username.
    pub username: Option<String>,
    /// A new email address, to confirm.
    pub email: Option<String>,
}

impl ProfileChange {
    /// Reads a JSON object: the editable fields as strings; any other field refused. An empty
    /// object changes nothing.
    ///
    /// # Errors
    /// `Validation` naming the first refused field (protected, unknown, or not a string).
    pub fn from_json(fields: &Map<String, Value>) -> AppResult<Self> {
        let mut change = ProfileChange::default();
        let mut names: Vec<&String> = fields.keys().collect();
        names.sort();
        for name in names {
            let value = &fields[name];
            let slot = match name.as_str() {
                "email" => &mut change.email,
                "username" => &mut change.username,
                other => {
                    let field = PROTECTED_FIELDS.iter().find(|p| **p == other).copied();
                    return Err(match field {
                        Some(field) => AppError::invalid(field, msg::FIELD_PROTECTED),
                        None => AppError::invalid("body", msg::unknown_field(other)),
                    });
                }
            };
            let field = if name == "email" { "email" } else { "username" };
            *slot =
                Some(value.as_str().ok_or_else(|| AppError::invalid(field, msg::MUST_BE_TEXT))?.to_owned());
        }
        Ok(change)
    }
}

/// What a profile change did.
#[derive(Debug, Clone)]
pub struct ProfileOutcome {
    /// The account now.
    pub user: UserView,
    /// A confirmation code was sent to this new address (the account's email is unchanged
    /// until it is confirmed).
    pub email_pending: Option<String>,
}

fn email_code_hash(ctx: &Accounts<'_>, user_id: i64, email: &str, code: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&ctx.sms_key).expect("HMAC takes any key length");
    mac.update(format!("email:{user_id}:{email}:{code}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn active_user(ctx: &Accounts<'_>, user_id: i64) -> AppResult<user::Model> {
    let user = users::by_id(ctx.db, user_id).await?.ok_or(AppError::Unauthorized(msg::ACCOUNT_GONE))?;
    if !user.is_active {
        return Err(AppError::Unauthorized(msg::TOKEN_ACCOUNT_DISABLED));
    }
    Ok(user)
}

fn profile_conflict(e: WriteError) -> AppError {
    match e {
        WriteError::Conflict(Conflict("uq_users_username")) => AppError::Conflict(msg::USERNAME_TAKEN),
        WriteError::Conflict(Conflict("uq_users_email")) => AppError::Conflict(msg::EMAIL_TAKEN),
        WriteError::Conflict(c) => AppError::Unexpected(c.into()),
        WriteError::Db(e) => e.into(),
    }
}

/// Changes the profile: a new username at once; a new email address gets a confirmation
/// code (in `lang`) and becomes the account's once confirmed ([`confirm_email`]).
///
/// # Errors
/// `Validation` of the values; `Conflict` for a username or email another account has;
/// `RateLimited` for codes asked too often; `Unavailable` when the code email cannot be sent.
pub async fn update_profile(
    ctx: &Accounts<'_>,
    client: &str,
    user_id: i64,
    change: ProfileChange,
    lang: Lang,
) -> AppResult<ProfileOutcome> {
    let user = active_user(ctx, user_id).await?;
    let username = change
        .username
        .as_deref()
        .map(|u| Username::parse(u).map_err(|e| AppError::invalid("username", msg::user_value(&e))))
        .transpose()?
        .map(|u| u.as_str().to_owned())
        .filter(|u| *u != user.username);
    let email = change
        .email
        .as_deref()
        .map(|e| Email::parse(e).map_err(|e| AppError::invalid("email", msg::user_value(&e))))
        .transpose()?
        .map(|e| e.as_str().to_owned())
        .filter(|e| user.email.as_deref() != Some(e.as_str()));
    if let Some(email) = &email
        && users::by_email(ctx.db, email).await?.is_some_and(|other| other.id != user_id)
    {
        return Err(AppError::Conflict(msg::EMAIL_TAKEN));
    }
    if let Some(name) = username {
        buyers::update_profile(ctx.db, user_id, Some(name), None).await.map_err(profile_conflict)?;
    }
    if let Some(email) = &email {
        send_email_code(ctx, client, user_id, email, lang).await?;
    }
    let user = active_user(ctx, user_id).await?;
    Ok(ProfileOutcome { user: user.into(), email_pending: email })
}

async fn send_email_code(
    ctx: &Accounts<'_>,
    client: &str,
    user_id: i64,
    email: &str,
    lang: Lang,
) -> AppResult<()> {
    let cfg = &ctx.settings.sms;
    let now = Utc::now();
    let recent =
        buyers::email_codes_since(ctx.db, user_id, now - Duration::seconds(cfg.resend_interval_seconds))
            .await?;
    if recent > 0 {
        return Err(AppError::RateLimited { retry_after_secs: cfg.resend_interval_seconds.max(1) as u64 });
    }
    if buyers::email_codes_since(ctx.db, user_id, now - Duration::hours(1)).await? >= cfg.max_per_hour {
        return Err(AppError::RateLimited { retry_after_secs: 3600 });
    }
    crate::limits::check(ctx.db, ctx.settings, Limit::EmailPerAddress, client).await?;
    let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
    let expires = now + Duration::seconds(cfg.code_ttl_seconds);
    buyers::insert_email_code(ctx.db, user_id, email, email_code_hash(ctx, user_id, email, &code), expires)
        .await?;
    let minutes = (cfg.code_ttl_seconds / 60).max(1);
    let (subject, text, html) = mail::templates::email_code(lang, &code, minutes);
    ctx.mailer
        .send(&mail::Email { to: email.to_owned(), subject, text, html })
        .await
        .map_err(|e| AppError::Unavailable(format!("the email code could not be sent: {e}")))?;
    tracing::info!(user.id = user_id, "email confirmation code sent");
    Ok(())
}

/// Confirms the newest pending email address of the account with its code: the address
/// becomes the account's email, and what was bought with only that address (as a guest) is
/// attached to the account once (`shop_db::guests::claim`): its orders, course access and
/// download links.
///
/// # Errors
/// `InvalidEmailCode` for a wrong, used or expired code; `Conflict` when another account
/// confirmed the address meanwhile.
pub async fn confirm_email(ctx: &Accounts<'_>, user_id: i64, code: &str) -> AppResult<UserView> {
    active_user(ctx, user_id).await?;
    let now = Utc::now();
    let Some(stored) =
        buyers::latest_usable_email_code(ctx.db, user_id, now, ctx.settings.sms.max_attempts).await?
    else {
        return Err(AppError::BadEmailCode);
    };
    let expected = email_code_hash(ctx, user_id, &stored.email, code);
    // Compare hashes in constant time.
    let matches =
        SmsCode::is_well_formed(code) && bool::from(expected.as_bytes().ct_eq(stored.code_hash.as_bytes()));
    if !matches {
        buyers::add_email_code_attempt(ctx.db, stored.id).await?;
        return Err(AppError::BadEmailCode);
    }
    let txn = shop_db::begin_write(ctx.db).await?;
    if !buyers::consume_email_code(&txn, stored.id, now).await? {
        return Err(AppError::BadEmailCode);
    }
    buyers::update_profile(&txn, user_id, None, Some(stored.email.clone()))
        .await
        .map_err(profile_conflict)?;
    // Purchases made with only this address (checkout as a guest) become the account's, once.
    let claimed = shop_db::guests::claim(&txn, &stored.email, user_id, now).await?;
    txn.commit().await?;
    tracing::info!(user.id = user_id, "email address confirmed");
    if let Some(c) = claimed {
        tracing::info!(user.id = user_id, orders = c.orders, courses = c.courses, "guest purchases attached");
    }
    Ok(active_user(ctx, user_id).await?.into())
}

/// Where a buyer's emails about an order go: the account's (confirmed) email, else the
/// address given with the order; `None` when neither exists.
pub fn delivery_address(user: &user::Model, order: Option<&order::Model>) -> Option<String> {
    let usable = |e: &Option<String>| e.clone().filter(|e| !e.trim().is_empty());
    usable(&user.email).or_else(|| order.and_then(|o| usable(&o.delivery_email)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn only_editable_fields_are_read() {
        let change = ProfileChange::from_json(&object(serde_json::json!({"email": "a@example.com"})));
        assert_eq!(change.expect("ok").email.as_deref(), Some("a@example.com"));
        for (body, field) in [
            (serde_json::json!({"email": "a@example.com", "role": "admin"}), "role"),
            (serde_json::json!({"mobile": "13800000000"}), "mobile"),
            (serde_json::json!({"is_active": false}), "is_active"),
            (serde_json::json!({"nickname": "x"}), "body"),
            (serde_json::json!({"email": 5}), "email"),
            (serde_json::json!({"email": null}), "email"),
        ] {
            let err = ProfileChange::from_json(&object(body.clone())).expect_err("refused");
            assert!(matches!(err, AppError::Validation { field: f, .. } if f == field), "{body}: {err:?}");
        }
    }

    #[test]
    fn the_confirmed_email_wins_over_the_orders() {
        let now = Utc::now();
        let user = user::Model {
            id: 1,
            username: "u".into(),
            email: None,
            mobile: Some("13800000000".into()),
            password_hash: String::new(),
            icon: String::new(),
            role: "user".into(),
            is_active: true,
            created_time: now,
            updated_time: now,
        };
        assert_eq!(delivery_address(&user, None), None);
        let with_email = user::Model { email: Some("me@example.com".into()), ..user.clone() };
        assert_eq!(delivery_address(&with_email, None).as_deref(), Some("me@example.com"));
        let blank = user::Model { email: Some(" ".into()), ..user };
        assert_eq!(delivery_address(&blank, None), None);
    }
}
