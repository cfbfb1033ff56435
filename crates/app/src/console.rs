//! The seller's console (`/admin/`): login sessions of administrators.
//!
//! A browser logs in with a password ([`login`], the same use case and the same rate limit
//! as the API's password login) and gets a random session token in a cookie; the database
//! keeps only the token's SHA-256, the account and a per-session CSRF token. Every request of
//! the session is checked again ([`authenticate`]): the session must be live and its account
//! still an active administrator. A request that changes something must echo the session's
//! CSRF token ([`check_csrf`]); scripts that send a bearer token have no session and need none.
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::accounts::{self, UserView};
use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::i18n::Text;

/// A live console session.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    /// The administrator.
    pub user: UserView,
    /// The token every state-changing request of this session must carry.
    pub csrf_token: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

/// A new session: the cookie's token (shown once, never stored) and the session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The secret of the cookie.
    pub token: String,
    /// The session.
    pub session: ConsoleSession,
}

fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The stored id of a session token.
fn session_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Logs an administrator in: the password login of the API (rate limited per client
/// address), then a new session.
///
/// # Errors
/// Those of [`accounts::login`]; `Forbidden` for an account that is not an administrator
/// (no session is made).
pub async fn login(
    ctx: &AppContext,
    client: &str,
    identifier: &str,
    password: &str,
) -> AppResult<NewSession> {
    let outcome = accounts::login(&ctx.accounts(), client, identifier, password).await?;
    let user = accounts::require_admin(&ctx.accounts(), outcome.user_id).await?;
    let token = random_hex();
    let csrf_token = random_hex();
    let expires_at = Utc::now() + Duration::hours(ctx.settings.auth.console_session_hours.max(1));
    shop_db::console::insert_session(&ctx.db, &session_id(&token), user.id, &csrf_token, expires_at).await?;
    Ok(NewSession { token, session: ConsoleSession { user, csrf_token, expires_at } })
}

/// The session of a cookie's token.
///
/// # Errors
/// `Unauthorized` for an unknown or expired session, or a disabled or deleted account;
/// `Forbidden` when the account is no longer an administrator.
pub async fn authenticate(ctx: &AppContext, token: &str) -> AppResult<ConsoleSession> {
    if token.is_empty() || token.len() > 128 {
        return Err(AppError::Unauthorized(Text::fixed(
            "控制台会话缺失或格式错误",
            "the console session is missing or malformed",
        )));
    }
    let row = shop_db::console::live_session(&ctx.db, &session_id(token), Utc::now()).await?.ok_or(
        AppError::Unauthorized(Text::fixed(
            "控制台会话已过期或已结束：请重新登录",
            "the console session has expired or was ended: log in again",
        )),
    )?;
    let user = accounts::require_admin(&ctx.accounts(), row.user_id).await?;
    Ok(ConsoleSession { user, csrf_token: row.csrf_token, expires_at: row.expires_at })
}

/// Checks the CSRF token a state-changing request presented, in constant time.
///
/// # Errors
/// `CsrfRefused` when it is missing or not the session's.
pub fn check_csrf(session: &ConsoleSession, presented: Option<&str>) -> AppResult<()> {
    let expected = session.csrf_token.as_bytes();
    let given = presented.unwrap_or_default().as_bytes();
    let same = bool::from(expected.ct_eq(given));
    if same && !expected.is_empty() { Ok(()) } else { Err(AppError::CsrfRefused) }
}

/// Ends the session of a cookie's token (logout); nothing happens for an unknown one.
///
/// # Errors
/// Database errors.
pub async fn logout(ctx: &AppContext, token: &str) -> AppResult<()> {
    shop_db::console::delete_session(&ctx.db, &session_id(token)).await?;
    Ok(())
}

/// Deletes expired sessions; how many.
///
/// # Errors
/// Database errors.
pub async fn purge(ctx: &AppContext) -> AppResult<u64> {
    Ok(shop_db::console::purge_expired(&ctx.db, Utc::now()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(csrf: &str) -> ConsoleSession {
        ConsoleSession {
            user: UserView {
                id: 1,
                username: "boss".into(),
                email: None,
                mobile: None,
                icon: String::new(),
                role: shop_domain::user::Role::Admin,
                created_time: Utc::now(),
            },
            csrf_token: csrf.into(),
            expires_at: Utc::now(),
        }
    }

    #[test]
    fn csrf_tokens_must_match_exactly() {
        let s = session("abc123");
        assert!(check_csrf(&s, Some("abc123")).is_ok());
        for bad in [None, Some(""), Some("abc12"), Some("abc1234"), Some("ABC123")] {
            assert!(matches!(check_csrf(&s, bad), Err(AppError::CsrfRefused)), "{bad:?}");
        }
        // A session without a token accepts nothing, not even an empty one.
        assert!(matches!(check_csrf(&session(""), Some("")), Err(AppError::CsrfRefused)));
    }

    #[test]
    fn only_the_hash_of_a_token_is_stored() {
        let token = random_hex();
        assert_eq!(token.len(), 64);
        assert_ne!(session_id(&token), token);
        assert_eq!(session_id(&token), session_id(&token));
        assert_ne!(random_hex(), token);
    }
}
