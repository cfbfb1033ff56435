//! The error of every use case. The HTTP layer maps each variant to a status and a stable
//! code exactly once; this type says what went wrong, not how to render it.
use std::fmt;

use crate::i18n::{Text, msg};

/// What went wrong in a use case.
#[derive(thiserror::Error)]
pub enum AppError {
    /// A request field is invalid.
    #[error("{field}: {message}")]
    Validation {
        /// The field's wire name.
        field: &'static str,
        /// What is wrong with it.
        message: Text,
    },
    /// The request as a whole cannot be processed.
    #[error("{0}")]
    BadRequest(Text),
    /// The thing asked for does not exist (or is not the caller's).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No valid token.
    #[error("{0}")]
    Unauthorized(Text),
    /// Wrong username or password; says nothing about which.
    #[error("wrong username or password")]
    InvalidCredentials,
    /// The account is disabled.
    #[error("this account is disabled")]
    AccountDisabled,
    /// Authenticated but not allowed.
    #[error("not allowed")]
    Forbidden,
    /// A state-changing request of a console session without its CSRF token (or with
    /// another one).
    #[error("the CSRF token is missing or wrong: reload the page and try again")]
    CsrfRefused,
    /// A unique value is already taken.
    #[error("{0}")]
    Conflict(Text),
    /// Too many attempts; retry after the given number of seconds.
    #[error("too many requests, retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// Not a valid mobile number (contract code 102).
    #[error("not a valid mobile number")]
    InvalidMobile,
    /// The SMS code is wrong, used or expired.
    #[error("the verification code is wrong or has expired")]
    InvalidSmsCode,
    /// The email confirmation code is wrong, used or expired.
    #[error("the email code is wrong or has expired")]
    BadEmailCode,
    /// The SMS code could not be sent (contract code 101).
    #[error("the verification code could not be sent: {0}")]
    SmsNotSent(String),
    /// A dependency is down.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The database could not answer: unreachable, the connection was lost, or a timeout
    /// fired. The failed statement changed nothing; the client may retry shortly.
    #[error("the service is briefly unavailable, please retry in a moment")]
    DatabaseUnavailable(shop_db::fault::Fault, #[source] sea_orm::DbErr),
    /// A bug or an infrastructure failure; details go to the log only.
    #[error("internal error")]
    Unexpected(#[source] anyhow::Error),
}

impl fmt::Debug for AppError {
    /// Prints the whole `source()` chain, so a log line shows the cause of an
    /// `Unexpected` error (zero2prod's `error_chain_fmt`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{self}")?;
        let mut current = std::error::Error::source(self);
        while let Some(cause) = current {
            writeln!(f, "caused by: {cause}")?;
            current = cause.source();
        }
        Ok(())
    }
}

impl AppError {
    /// A validation error on one field.
    pub fn invalid(field: &'static str, message: Text) -> Self {
        AppError::Validation { field, message }
    }

    /// What the buyer or seller reads, in both languages. Details of 5xx errors (the
    /// dependency that failed, the cause) stay in `Display` and the log.
    pub fn message(&self) -> Text {
        match self {
            AppError::Validation { field, message } => message.prefixed(field),
            AppError::BadRequest(text) | AppError::Unauthorized(text) | AppError::Conflict(text) => {
                text.clone()
            }
            AppError::NotFound(what) => msg::not_found(what),
            AppError::InvalidCredentials => msg::BAD_CREDENTIALS,
            AppError::AccountDisabled => msg::ACCOUNT_DISABLED,
            AppError::Forbidden => msg::FORBIDDEN,
            AppError::RateLimited { retry_after_secs } => msg::rate_limited(*retry_after_secs),
            AppError::InvalidMobile => msg::BAD_MOBILE,
            AppError::InvalidSmsCode => msg::BAD_SMS_CODE,
            AppError::BadEmailCode => msg::BAD_EMAIL_CODE,
            AppError::CsrfRefused => msg::CSRF_REFUSED,
            AppError::SmsNotSent(_) => msg::SMS_NOT_SENT,
            AppError::Unavailable(_) => msg::UNAVAILABLE,
            AppError::DatabaseUnavailable(..) => msg::DATABASE_UNAVAILABLE,
            AppError::Unexpected(_) => msg::INTERNAL,
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        match shop_db::fault::fault(&err) {
            Some(fault) => AppError::DatabaseUnavailable(fault, err),
            None => AppError::Unexpected(err.into()),
        }
    }
}

impl AppError {
    /// Whether the error is a lost database connection, after which a use case that had
    /// written nothing may run again (the pool checks older connections first).
    pub fn is_lost_connection(&self) -> bool {
        matches!(self, AppError::DatabaseUnavailable(shop_db::fault::Fault::ConnectionLost, _))
    }
}

/// Runs `op`, and once more when it failed because its database connection was lost (a
/// Postgres restart, a terminated backend): for use cases that write nothing, or whose writes
/// are idempotent, so that running them twice is the same as once.
///
/// # Errors
/// The error of the last run.
pub async fn retry_if_connection_lost<T, F, Fut>(mut op: F) -> AppResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = AppResult<T>>,
{
    match op().await {
        Err(e) if e.is_lost_connection() => {
            tracing::warn!(error = %e, "database connection lost: retrying once on a checked connection");
            op().await
        }
        other => other,
    }
}

/// Result of a use case.
pub type AppResult<T> = Result<T, AppError>;
