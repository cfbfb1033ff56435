//! Money as an integer number of fen (1 yuan = 100 fen).
//!
//! Amounts travel as yuan strings with at most two decimals (`"99.00"`, `"0.5"`) on the wire
//! and to Alipay; inside the system they are `i64` fen. Parsing is exact decimal text
//! processing, never floating point.
use std::fmt;

/// The largest amount we accept: Alipay's upper bound of 100,000,000 yuan.
pub const MAX_FEN: i64 = 100_000_000 * 100;

/// A non-negative amount of money in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

/// Why a yuan amount could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a plain decimal number.
    #[error("not a decimal amount in yuan")]
    NotDecimal,
    /// More than two digits after the decimal point.
    #[error("at most two decimals are allowed")]
    TooPrecise,
    /// Negative amounts are not money we take.
    #[error("amount must not be negative")]
    Negative,
    /// Above the maximum of 100,000,000 yuan.
    #[error("amount is too large")]
    TooLarge,
}

impl Money {
    /// A yuan amount as the published API spec states it (a JSON Schema pattern): digits,
    /// at most two decimals, at most [`MAX_FEN`] (100,000,000 yuan). [`Money::parse_yuan`]
    /// accepts every string it matches.
    pub const YUAN_PATTERN: &str = r"^(100000000(\.00?)?|[0-9]{1,8}(\.[0-9]{1,2})?)$";

    /// Zero fen.
    pub const ZERO: Money = Money(0);

    /// Builds an amount from fen; `None` when negative or above [`MAX_FEN`].
    pub fn from_fen(fen: i64) -> Option<Self> {
        (0..=MAX_FEN).contains(&fen).then_some(Money(fen))
    }

    /// The amount in fen.
    pub fn fen(self) -> i64 {
        self.0
    }

    /// Parses a yuan amount such as `"99"`, `"99.9"` or `"99.90"` exactly.
    ///
    /// # Errors
    /// [`MoneyError`] for anything that is not a non-negative decimal with at most two
    /// decimals and at most 100,000,000 yuan. Surrounding whitespace is not accepted.
    pub fn parse_yuan(text: &str) -> Result<Self, MoneyError> {
        if text.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let (int_part, frac_part) = match text.split_once('.') {
            Some((i, f)) => (i, f),
            None => (text, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() && frac_part.is_empty() || !digits(int_part) || !digits(frac_part) {
            return Err(MoneyError::NotDecimal);
        }
        let frac_trimmed = frac_part.trim_end_matches('0');
        if frac_trimmed.len() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        let int_trimmed = int_part.trim_start_matches('0');
        if int_trimmed.len() > 9 {
            return Err(MoneyError::TooLarge);
        }
        let yuan: i64 = if int_trimmed.is_empty() {
            0
        } else {
            int_trimmed.parse().map_err(|_| MoneyError::NotDecimal)?
        };
        let mut cents = 0i64;
        for (i, b) in frac_trimmed.bytes().enumerate() {
            let d = i64::from(b - b'0');
            cents += if i == 0 { d * 10 } else { d };
        }
        let fen = yuan * 100 + cents;
        Money::from_fen(fen).ok_or(MoneyError::TooLarge)
    }

    /// Sum of amounts; `None` on overflow past [`MAX_FEN`].
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).and_then(Money::from_fen)
    }
}

impl fmt::Display for Money {
    /// Yuan with exactly two decimals: `9990` fen is `99.90`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_usual_forms() {
        assert_eq!(Money::parse_yuan("99.00").map(Money::fen), Ok(9900));
        assert_eq!(Money::parse_yuan("99.9").map(Money::fen), Ok(9990));
        assert_eq!(Money::parse_yuan("99").map(Money::fen), Ok(9900));
        assert_eq!(Money::parse_yuan("0.01").map(Money::fen), Ok(1));
        assert_eq!(Money::parse_yuan(".5").map(Money::fen), Ok(50));
        assert_eq!(Money::parse_yuan("7.").map(Money::fen), Ok(700));
        assert_eq!(Money::parse_yuan("0").map(Money::fen), Ok(0));
        assert_eq!(Money::parse_yuan("1.230").map(Money::fen), Ok(123));
        assert_eq!(Money::parse_yuan("100000000").map(Money::fen), Ok(MAX_FEN));
    }

    #[test]
    fn rejects_what_is_not_money() {
        for bad in ["", ".", "abc", "1,00", " 1", "1 ", "1e3", "0x10", "1.2.3", "+1"] {
            assert_eq!(Money::parse_yuan(bad), Err(MoneyError::NotDecimal), "{bad:?}");
        }
        assert_eq!(Money::parse_yuan("-1"), Err(MoneyError::Negative));
        assert_eq!(Money::parse_yuan("1.001"), Err(MoneyError::TooPrecise));
        assert_eq!(Money::parse_yuan("100000000.01"), Err(MoneyError::TooLarge));
        assert_eq!(Money::parse_yuan("99999999999999999999"), Err(MoneyError::TooLarge));
    }

    #[test]
    fn the_published_pattern_is_money() {
        let pattern = regex::Regex::new(Money::YUAN_PATTERN).expect("pattern");
        for good in ["0", "0.5", "0.05", "99", "99.9", "99.90", "12345678.99", "100000000", "100000000.00"] {
            assert!(pattern.is_match(good), "{good:?}");
            assert!(Money::parse_yuan(good).is_ok(), "{good:?}");
        }
        for bad in ["", ".", "abc", "-1", "1.001", "100000000.01", "100000001", "1e3", " 1", "1 ", "+1"] {
            assert!(!pattern.is_match(bad), "{bad:?}");
            assert!(Money::parse_yuan(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Money::from_fen(9990).map(|m| m.to_string()).as_deref(), Some("99.90"));
        assert_eq!(Money::from_fen(5).map(|m| m.to_string()).as_deref(), Some("0.05"));
        assert_eq!(Money::ZERO.to_string(), "0.00");
        assert_eq!(Money::from_fen(-1), None);
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(fen in 0..=MAX_FEN) {
            let money = Money::from_fen(fen).expect("in range");
            prop_assert_eq!(Money::parse_yuan(&money.to_string()), Ok(money));
        }

        #[test]
        fn whatever_the_pattern_admits_parses(text in Money::YUAN_PATTERN.trim_start_matches('^').trim_end_matches('$')) {
            prop_assert!(Money::parse_yuan(&text).is_ok(), "{:?}", text);
        }
    }
}
