//! Attempt limits: logins and registrations per client address and minute, SMS codes per
//! client address and hour and for the whole shop per hour, orders without an account per
//! client address and per email address and hour. Counted in the database
//! (`shop_db::limits`), so N replicas behind a load balancer allow each limit once, not N
//! times. A fixed window: the count starts again at each window's start.
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use crate::config::Settings;
use crate::error::{AppError, AppResult};

/// What is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Logins (password or SMS code) per client address and minute.
    Login,
    /// Registrations per client address and minute.
    Register,
    /// SMS codes sent on behalf of one client address, per hour (SMS pumping).
    SmsPerAddress,
    /// SMS codes sent by the whole shop per hour.
    SmsOverall,
    /// Email confirmation codes sent on behalf of one client address, per hour (the SMS
    /// codes' per-address limit, `sms.max_per_address_per_hour`).
    EmailPerAddress,
    /// Orders without an account per client address and hour
    /// (`delivery.guest_orders_per_address_per_hour`).
    GuestOrderPerAddress,
    /// Orders without an account per email address and hour
    /// (`delivery.guest_orders_per_email_per_hour`; the key is a keyed hash of the address,
    /// never the address).
    GuestOrderPerEmail,
}

impl Limit {
    fn name(self) -> &'static str {
        match self {
            Limit::Login => "login",
            Limit::Register => "register",
            Limit::SmsPerAddress => "sms-address",
            Limit::SmsOverall => "sms-all",
            Limit::EmailPerAddress => "email-address",
            Limit::GuestOrderPerAddress => "guest-order-address",
            Limit::GuestOrderPerEmail => "guest-order-email",
        }
    }

    /// The most attempts per window, and the window's length in seconds.
    fn quota(self, s: &Settings) -> (u32, i64) {
        match self {
            Limit::Login => (s.auth.login_attempts_per_minute, 60),
            Limit::Register => (s.auth.register_attempts_per_minute, 60),
            Limit::SmsPerAddress => (s.sms.max_per_address_per_hour, 3600),
            Limit::SmsOverall => (s.sms.max_overall_per_hour, 3600),
            Limit::EmailPerAddress => (s.sms.max_per_address_per_hour, 3600),
            Limit::GuestOrderPerAddress => (s.delivery.guest_orders_per_address_per_hour, 3600),
            Limit::GuestOrderPerEmail => (s.delivery.guest_orders_per_email_per_hour, 3600),
        }
    }
}

/// The start of the window of `length` seconds that holds `now`.
fn window_start(now: DateTime<Utc>, length: i64) -> DateTime<Utc> {
    let t = now.timestamp();
    DateTime::from_timestamp(t - t.rem_euclid(length.max(1)), 0).unwrap_or(now)
}

/// Counts one attempt of `key` (a client address; ignored for overall limits) against
/// `limit`.
///
/// # Errors
/// `RateLimited` with the seconds until the window ends, past the limit; database errors.
pub async fn check(db: &DatabaseConnection, settings: &Settings, limit: Limit, key: &str) -> AppResult<()> {
    let (max, length) = limit.quota(settings);
    let now = Utc::now();
    let start = window_start(now, length);
    let bucket = match limit {
        Limit::SmsOverall => limit.name().to_owned(),
        _ => format!("{}:{}", limit.name(), key.chars().take(100).collect::<String>()),
    };
    let hits = shop_db::limits::hit(db, &bucket, start).await?;
    if i64::from(hits) > i64::from(max) {
        let left = (start.timestamp() + length - now.timestamp()).max(1);
        return Err(AppError::RateLimited { retry_after_secs: u64::try_from(left).unwrap_or(1) });
    }
    Ok(())
}

/// Deletes counters of windows that ended more than a day ago.
///
/// # Errors
/// Database errors.
pub async fn purge(db: &DatabaseConnection) -> AppResult<u64> {
    Ok(shop_db::limits::purge_before(db, Utc::now() - chrono::Duration::days(1)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_start_on_their_boundary() {
        let t = DateTime::from_timestamp(3_600 * 10 + 125, 0).expect("time");
        assert_eq!(window_start(t, 60).timestamp(), 3_600 * 10 + 120);
        assert_eq!(window_start(t, 3600).timestamp(), 3_600 * 10);
    }
}
