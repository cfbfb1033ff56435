//! Accounts: password login by username, mobile or email; SMS codes; registration by
//! mobile; the current user; operator-created users.
use crate::i18n::msg;
use chrono::{Duration, Utc};
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use sha2::Sha256;
use shop_db::entities::user;
use shop_db::{Conflict, WriteError, sms, users};
use shop_domain::user::{Email, LoginIdentifier, Mobile, Password, Role, SmsCode, Username};
use subtle::ConstantTimeEq as _;

use crate::auth::{hash_password, verify_password};
use crate::context::Accounts;
use crate::error::{AppError, AppResult};
use crate::limits::Limit;

/// What a successful login returns to the front end.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The account's id.
    pub user_id: i64,
    /// The access token.
    pub token: String,
    /// The account's username.
    pub username: String,
    /// Avatar path under the media root, or an absolute URL.
    pub icon: String,
}

/// The public view of an account.
#[derive(Debug, Clone)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Email, if any.
    pub email: Option<String>,
    /// Mobile, if any.
    pub mobile: Option<String>,
    /// Avatar path or URL.
    pub icon: String,
    /// Role.
    pub role: Role,
    /// Creation time.
    pub created_time: chrono::DateTime<Utc>,
}

impl From<user::Model> for UserView {
    fn from(u: user::Model) -> Self {
        UserView {
            id: u.id,
            username: u.username,
            email: u.email,
            mobile: u.mobile,
            icon: u.icon,
            role: Role::from_stored(&u.role),
            created_time: u.created_time,
        }
    }
}

fn login_outcome(ctx: &Accounts<'_>, user: &user::Model) -> AppResult<LoginOutcome> {
    Ok(LoginOutcome {
        user_id: user.id,
        token: ctx.tokens.issue(user.id, &user.username)?,
        username: user.username.clone(),
        icon: icon_or_default(ctx, &user.icon),
    })
}

fn icon_or_default(ctx: &Accounts<'_>, icon: &str) -> String {
    if icon.is_empty() { ctx.settings.media.default_icon.clone() } else { icon.to_owned() }
}

/// Password login. `identifier` may be a username, a mobile number or an email.
///
/// # Errors
/// `RateLimited` past the per-address limit; `InvalidCredentials` for an unknown account or
/// a wrong password (same answer, same time); `AccountDisabled`.
pub async fn login(
    ctx: &Accounts<'_>,
    client: &str,
    identifier: &str,
    password: &str,
) -> AppResult<LoginOutcome> {
    crate::limits::check(ctx.db, ctx.settings, Limit::Login, client).await?;
    if LoginIdentifier::is_blank(identifier) {
        return Err(AppError::invalid("username", msg::REQUIRED));
    }
    if password.is_empty() {
        return Err(AppError::invalid("password", msg::REQUIRED));
    }
    if Password::too_long(password) {
        return Err(AppError::InvalidCredentials);
    }
    let found = match LoginIdentifier::classify(identifier) {
        LoginIdentifier::Mobile(m) => users::by_mobile(ctx.db, m.as_str()).await?,
        LoginIdentifier::Email(e) => users::by_email(ctx.db, e.as_str()).await?,
        LoginIdentifier::Username(u) => users::by_username(ctx.db, &u).await?,
    };
    let stored = found.as_ref().map(|u| u.password_hash.clone());
    if !verify_password(SecretString::from(password.to_owned()), stored).await? {
        return Err(AppError::InvalidCredentials);
    }
    let user = found.ok_or(AppError::InvalidCredentials)?;
    if !user.is_active {
        return Err(AppError::AccountDisabled);
    }
    login_outcome(ctx, &user)
}

/// Whether an account uses this mobile number.
///
/// # Errors
/// `InvalidMobile` for a malformed number.
pub async fn mobile_registered(ctx: &Accounts<'_>, mobile: &str) -> AppResult<bool> {
    let mobile = Mobile::parse(mobile).map_err(|_| AppError::InvalidMobile)?;
    Ok(users::by_mobile(ctx.db, mobile.as_str()).await?.is_some())
}

fn code_hash(ctx: &Accounts<'_>, mobile: &Mobile, code: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&ctx.sms_key).expect("HMAC takes any key length");
    mac.update(mobile.as_str().as_bytes());
    mac.update(b":");
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Sends a six-digit code to `mobile`, at most one per `resend_interval_seconds` and
/// `max_per_hour` per hour to one number, `max_per_address_per_hour` on behalf of one client
/// address (so one client cannot pump codes to many numbers), and `max_overall_per_hour`
/// for the whole shop. The code is stored as a keyed hash, never in clear.
///
/// # Errors
/// `InvalidMobile`; `RateLimited`; `SmsNotSent` when no sender is configured.
pub async fn send_sms_code(ctx: &Accounts<'_>, client: &str, mobile: &str) -> AppResult<()> {
    let mobile = Mobile::parse(mobile).map_err(|_| AppError::InvalidMobile)?;
    let cfg = &ctx.settings.sms;
    let now = Utc::now();
    let recent =
        sms::sent_since(ctx.db, mobile.as_str(), now - Duration::seconds(cfg.resend_interval_seconds))
            .await?;
    if recent > 0 {
        return Err(AppError::RateLimited { retry_after_secs: cfg.resend_interval_seconds.max(1) as u64 });
    }
    let hourly = sms::sent_since(ctx.db, mobile.as_str(), now - Duration::hours(1)).await?;
    if hourly >= cfg.max_per_hour {
        return Err(AppError::RateLimited { retry_after_secs: 3600 });
    }
    crate::limits::check(ctx.db, ctx.settings, Limit::SmsPerAddress, client).await?;
    crate::limits::check(ctx.db, ctx.settings, Limit::SmsOverall, client).await?;
    let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
    let expires = now + Duration::seconds(cfg.code_ttl_seconds);
    sms::insert(ctx.db, mobile.as_str(), code_hash(ctx, &mobile, &code), expires).await?;
    ctx.sms.send_code(&mobile, &code).await.map_err(AppError::SmsNotSent)
}

/// Checks and consumes a code: right code, unexpired, unused, attempts left.
async fn redeem_code(ctx: &Accounts<'_>, mobile: &Mobile, code: &str) -> AppResult<()> {
    let cfg = &ctx.settings.sms;
    let now = Utc::now();
    let Some(stored) = sms::latest_usable(ctx.db, mobile.as_str(), now, cfg.max_attempts).await? else {
        return Err(AppError::InvalidSmsCode);
    };
    let well_formed = SmsCode::is_well_formed(code);
    let expected = code_hash(ctx, mobile, code);
    // Compare hashes in constant time.
    let matches = well_formed && bool::from(expected.as_bytes().ct_eq(stored.code_hash.as_bytes()));
    if !matches {
        sms::add_attempt(ctx.db, stored.id).await?;
        return Err(AppError::InvalidSmsCode);
    }
    if !sms::consume(ctx.db, stored.id, now).await? {
        return Err(AppError::InvalidSmsCode);
    }
    Ok(())
}

/// Login with a mobile number and an SMS code.
///
/// # Errors
/// `RateLimited`, `InvalidMobile`, `InvalidSmsCode`, `NotFound` when no account has the
/// number, `AccountDisabled`.
pub async fn sms_login(
    ctx: &Accounts<'_>,
    client: &str,
    mobile: &str,
    code: &str,
) -> AppResult<LoginOutcome> {
    crate::limits::check(ctx.db, ctx.settings, Limit::Login, client).await?;
    let mobile = Mobile::parse(mobile).map_err(|_| AppError::InvalidMobile)?;
    redeem_code(ctx, &mobile, code).await?;
    let user = users::by_mobile(ctx.db, mobile.as_str()).await?.ok_or(AppError::NotFound("account"))?;
    if !user.is_active {
        return Err(AppError::AccountDisabled);
    }
    login_outcome(ctx, &user)
}

/// Registration with a mobile number, an SMS code and a password. The username is the
/// mobile number, as in the tutorial.
///
/// # Errors
/// `RateLimited`, `InvalidMobile`, `Validation` for the password, `InvalidSmsCode`,
/// `Conflict` when the number is taken.
pub async fn register_by_mobile(
    ctx: &Accounts<'_>,
    client: &str,
    mobile: &str,
    code: &str,
    password: &str,
) -> AppResult<UserView> {
    crate::limits::check(ctx.db, ctx.settings, Limit::Register, client).await?;
    let mobile = Mobile::parse(mobile).map_err(|_| AppError::InvalidMobile)?;
    let password =
        Password::parse(password).map_err(|e| AppError::invalid("password", msg::user_value(&e)))?;
    if users::by_mobile(ctx.db, mobile.as_str()).await?.is_some() {
        return Err(AppError::Conflict(msg::MOBILE_TAKEN));
    }
    redeem_code(ctx, &mobile, code).await?;
    let hash = hash_password(SecretString::from(password.expose().to_owned())).await?;
    let new = users::NewUser {
        username: mobile.as_str().to_owned(),
        email: None,
        mobile: Some(mobile.as_str().to_owned()),
        password_hash: hash,
        icon: String::new(),
        role: Role::User.as_str().to_owned(),
    };
    insert_user(ctx, new).await
}

async fn insert_user(ctx: &Accounts<'_>, new: users::NewUser) -> AppResult<UserView> {
    match users::insert(ctx.db, new).await {
        Ok(user) => Ok(user.into()),
        Err(WriteError::Conflict(Conflict(name))) => Err(AppError::Conflict(match name {
            "uq_users_username" => msg::USERNAME_TAKEN,
            "uq_users_email" => msg::EMAIL_TAKEN,
            _ => msg::MOBILE_TAKEN,
        })),
        Err(WriteError::Db(e)) => Err(e.into()),
    }
}

/// The logged-in user.
///
/// # Errors
/// `Unauthorized` when the account behind a valid token is gone or disabled.
pub async fn me(ctx: &Accounts<'_>, user_id: i64) -> AppResult<UserView> {
    let user = users::by_id(ctx.db, user_id).await?.ok_or(AppError::Unauthorized(msg::ACCOUNT_GONE))?;
    if !user.is_active {
        return Err(AppError::Unauthorized(msg::TOKEN_ACCOUNT_DISABLED));
    }
    let mut view = UserView::from(user);
    view.icon = icon_or_default(ctx, &view.icon);
    Ok(view)
}

/// Input of [`add_user`].
#[derive(Debug)]
pub struct AddUser {
    /// Username.
    pub username: String,
    /// Email, optional.
    pub email: Option<String>,
    /// Mobile, optional.
    pub mobile: Option<String>,
    /// Password in clear.
    pub password: SecretString,
    /// Make the account an admin.
    pub admin: bool,
}

/// Creates an account (operator command `user add`).
///
/// # Errors
/// `Validation` for a malformed value, `Conflict` for a taken one.
pub async fn add_user(ctx: &Accounts<'_>, input: AddUser) -> AppResult<UserView> {
    use secrecy::ExposeSecret;
    let username =
        Username::parse(&input.username).map_err(|e| AppError::invalid("username", msg::user_value(&e)))?;
    let email = input
        .email
        .as_deref()
        .map(Email::parse)
        .transpose()
        .map_err(|e| AppError::invalid("email", msg::user_value(&e)))?;
    let mobile = input
        .mobile
        .as_deref()
        .map(Mobile::parse)
        .transpose()
        .map_err(|e| AppError::invalid("mobile", msg::user_value(&e)))?;
    let password = Password::parse(input.password.expose_secret())
        .map_err(|e| AppError::invalid("password", msg::user_value(&e)))?;
    let hash = hash_password(SecretString::from(password.expose().to_owned())).await?;
    let new = users::NewUser {
        username: username.as_str().to_owned(),
        email: email.map(|e| e.as_str().to_owned()),
        mobile: mobile.map(|m| m.as_str().to_owned()),
        password_hash: hash,
        icon: String::new(),
        role: if input.admin { Role::Admin } else { Role::User }.as_str().to_owned(),
    };
    insert_user(ctx, new).await
}

/// Checks that the user is an administrator.
///
/// # Errors
/// `Unauthorized` for a missing or disabled account, `Forbidden` for a non-admin.
pub async fn require_admin(ctx: &Accounts<'_>, user_id: i64) -> AppResult<UserView> {
    let user = me(ctx, user_id).await?;
    if user.role != Role::Admin {
        return Err(AppError::Forbidden);
    }
    Ok(user)
}
