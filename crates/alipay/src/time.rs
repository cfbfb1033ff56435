//! Beijing time (UTC+8), the zone of every Alipay timestamp.
//!
//! This is Alipay's wire format, not the shop's clock: the shop's own zone (report days,
//! times in emails) is `shop_domain::time`, which this leaf crate does not depend on.
//!
//! Uses a fixed `+08:00` offset ([`chrono::FixedOffset`]), so results do not depend on the
//! server's time zone or on a time-zone database. Format: `yyyy-MM-dd HH:mm:ss`.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

/// The Alipay wire format, `yyyy-MM-dd HH:mm:ss`.
pub const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A timestamp from Alipay could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Alipay time {input:?}: expected yyyy-MM-dd HH:mm:ss[.SSS] (Beijing time)")]
pub struct TimeError {
    /// The rejected text.
    pub input: String,
}

/// The fixed UTC+8 offset of Beijing time (China has no daylight saving time).
pub const BEIJING: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("+08:00 is a valid offset"), // evaluated at compile time
};

/// The fixed UTC+8 offset of Beijing time; same as [`BEIJING`].
#[must_use]
pub fn beijing() -> FixedOffset {
    BEIJING
}

/// Formats an instant as Beijing time, `yyyy-MM-dd HH:mm:ss` (e.g. `2026-11-21 07:50:46Z` →
/// `"2026-11-21 15:50:46"`). Sub-second precision is dropped.
#[must_use]
pub fn format_beijing(t: DateTime<Utc>) -> String {
    t.with_timezone(&beijing()).format(FORMAT).to_string()
}

/// Parses an Alipay time such as `gmt_payment` (`yyyy-MM-dd HH:mm:ss`, optionally followed by
/// a fraction such as `.123`), interpreted as Beijing time, into UTC.
///
/// # Errors
/// [`TimeError`] if the text does not match the format exactly.
pub fn parse_beijing(s: &str) -> Result<DateTime<Utc>, TimeError> {
    let err = || TimeError { input: s.to_owned() };
    // Fixed-width prefix check so that e.g. "2026-1-2 3:4:5" is rejected.
    let b = s.as_bytes();
    let shape_ok = b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18].iter().all(|&i| b[i].is_ascii_digit());
    if !shape_ok {
        return Err(err());
    }
    let rest = &s[19..];
    if !rest.is_empty() {
        let digits = rest.strip_prefix('.').ok_or_else(err)?;
        if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").map_err(|_| err())?;
    beijing().from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc)).ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_beijing_time() {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 7, 50, 46).single().expect("t");
        assert_eq!(format_beijing(t), "2026-11-21 15:50:46");
        let t = Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).single().expect("t");
        assert_eq!(format_beijing(t), "2027-01-01 00:00:00");
    }

    #[test]
    fn parses_with_and_without_millis() {
        let t = parse_beijing("2026-11-21 15:51:10").expect("parse");
        assert_eq!(t.to_rfc3339(), "2026-11-21T07:51:10+00:00");
        let t = parse_beijing("2026-11-22 10:00:00.123").expect("parse");
        assert_eq!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "2026-11-22T02:00:00.123Z");
        assert_eq!(format_beijing(t), "2026-11-22 10:00:00");
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            "",
            "2026-11-21",
            "2026-11-21T15:51:10",
            "2026-11-21 15:51:10Z",
            "2026-11-21 15:51:10.",
            "2026-11-21 15:51:10 ",
            " 2026-11-21 15:51:10",
            "2026-1-21 15:51:10",
            "2026-13-21 15:51:10",
            "2026-11-21 25:51:10",
            "2026-11-21 15:51:10+08:00",
        ] {
            assert!(parse_beijing(bad).is_err(), "{bad:?}");
        }
    }
}
