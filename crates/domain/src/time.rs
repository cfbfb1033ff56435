//! The shop's clock zone: Beijing time (UTC+8), in which the shop's days begin and end and
//! in which buyers read times (the sales report's days, the times in emails).
//!
//! One home for this rule, used by `shop-app` (reports, emails) and below. The Alipay crate
//! keeps its own `shop_alipay::time::BEIJING` on purpose: that one is part of Alipay's wire
//! format (every Alipay timestamp is Beijing time by Alipay's specification), the protocol
//! crate is a leaf that depends on nothing of the shop, and another payment provider brings
//! its own wire zone. The shop's zone is a business decision that does not follow any
//! provider, so it is defined here; only code speaking Alipay's protocol (the crate itself,
//! the development simulator that plays Alipay) uses the Alipay one.
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// Beijing time, UTC+8 (China has no daylight saving time), the shop's zone.
pub const BEIJING: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("+08:00 is a valid offset"), // evaluated at compile time
};

/// The instant in the shop's zone.
#[must_use]
pub fn in_beijing(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&BEIJING)
}

/// The shop's day (Beijing time) an instant falls on.
#[must_use]
pub fn beijing_day(at: DateTime<Utc>) -> NaiveDate {
    in_beijing(at).date_naive()
}

/// The first instant of a shop's day (Beijing time), in UTC.
#[must_use]
pub fn beijing_day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
        - chrono::Duration::seconds(i64::from(BEIJING.local_minus_utc()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn a_day_starts_at_sixteen_utc_the_day_before() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 21).expect("day");
        assert_eq!(beijing_day_start(day).to_rfc3339(), "2026-11-20T16:00:00+00:00");
        assert_eq!(beijing_day(beijing_day_start(day)), day);
    }

    #[test]
    fn the_day_turns_at_sixteen_utc() {
        let at = |h| Utc.with_ymd_and_hms(2026, 12, 31, h, 0, 0).single().expect("time");
        assert_eq!(beijing_day(at(15)), NaiveDate::from_ymd_opt(2026, 12, 31).expect("day"));
        assert_eq!(beijing_day(at(16)), NaiveDate::from_ymd_opt(2027, 1, 1).expect("day"));
        assert_eq!(in_beijing(at(16)).to_rfc3339(), "2027-01-01T00:00:00+08:00");
    }
}
