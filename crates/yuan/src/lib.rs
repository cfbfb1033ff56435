//! Amounts of money as text, in yuan, to and from integer fen (1 yuan = 100 fen): the one
//! rule for every amount the shop reads, from a buyer, the catalog, an operator or Alipay,
//! and for every amount it writes.
//!
//! The rule (docs/api.md): ASCII digits, optionally followed by `.` and one or two digits;
//! nothing else: no sign, no spaces, no exponent, no `.` without digits on both sides, no
//! third decimal (not even a zero), at most 100,000,000 yuan (Alipay's upper bound). So
//! `"19.9"`, `"19.90"`, `"0.01"` and `"1499"` are amounts; `"19.900"`, `" 19.90"`, `".5"`,
//! `"5."`, `"+1"`, `"1e2"` and `""` are not. Formatting always writes two decimals.
//!
//! A leaf of the workspace with no dependencies, so that the pure domain (`shop-domain`) and
//! the protocol crate (`shop-alipay`) can both use it without depending on each other.
use std::fmt;

/// The largest amount: Alipay's upper bound of 100,000,000 yuan, in fen.
pub const MAX_FEN: i64 = 100_000_000 * 100;

/// Why a text is not an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YuanError {
    /// Not digits with an optional `.` and decimals (spaces, signs, exponents, empty...).
    NotDecimal,
    /// More than two digits after the decimal point.
    TooPrecise,
    /// A negative amount.
    Negative,
    /// Above [`MAX_FEN`].
    TooLarge,
}

impl YuanError {
    /// The reason, as shown to whoever sent the amount.
    pub fn as_str(self) -> &'static str {
        match self {
            YuanError::NotDecimal => "not a decimal amount in yuan",
            YuanError::TooPrecise => "at most two decimals are allowed",
            YuanError::Negative => "amount must not be negative",
            YuanError::TooLarge => "amount is too large",
        }
    }
}

impl fmt::Display for YuanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for YuanError {}

/// Parses a yuan amount (`"99"`, `"99.9"`, `"99.90"`) into fen (`9900`, `9990`, `9990`),
/// exactly, without floating point.
///
/// # Errors
/// [`YuanError`] for anything outside the rule of this module.
pub fn parse_fen(text: &str) -> Result<i64, YuanError> {
    if text.starts_with('-') {
        return Err(YuanError::Negative);
    }
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int_part) || frac_part.is_some_and(|f| !digits(f)) {
        return Err(YuanError::NotDecimal);
    }
    let frac = frac_part.unwrap_or("");
    if frac.len() > 2 {
        return Err(YuanError::TooPrecise);
    }
    let int_trimmed = int_part.trim_start_matches('0');
    if int_trimmed.len() > 9 {
        return Err(YuanError::TooLarge);
    }
    let number = |s: &str| s.bytes().fold(0i64, |n, b| n * 10 + i64::from(b - b'0'));
    let cents = match frac.len() {
        0 => 0,
        1 => number(frac) * 10,
        _ => number(frac),
    };
    let fen = number(int_trimmed) * 100 + cents;
    if fen > MAX_FEN { Err(YuanError::TooLarge) } else { Ok(fen) }
}

/// Formats fen as yuan with exactly two decimals: `9990` → `"99.90"`, `1` → `"0.01"`,
/// `-5` → `"-0.05"`.
#[must_use]
pub fn format_fen(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_digits_with_at_most_two_decimals() {
        for (text, fen) in [
            ("19.9", 1990),
            ("19.90", 1990),
            ("0.01", 1),
            ("1499.00", 149_900),
            ("1499", 149_900),
            ("0", 0),
            ("0.00", 0),
            ("007.50", 750),
            ("100000000", MAX_FEN),
            ("100000000.00", MAX_FEN),
        ] {
            assert_eq!(parse_fen(text), Ok(fen), "{text:?}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for (text, why) in [
            ("19.900", YuanError::TooPrecise),
            ("1.500", YuanError::TooPrecise),
            ("1.001", YuanError::TooPrecise),
            (" 19.90", YuanError::NotDecimal),
            ("19.90 ", YuanError::NotDecimal),
            ("\t1", YuanError::NotDecimal),
            (".5", YuanError::NotDecimal),
            ("5.", YuanError::NotDecimal),
            (".", YuanError::NotDecimal),
            ("+1", YuanError::NotDecimal),
            ("1e2", YuanError::NotDecimal),
            ("0x10", YuanError::NotDecimal),
            ("1,00", YuanError::NotDecimal),
            ("1.2.3", YuanError::NotDecimal),
            ("1..0", YuanError::NotDecimal),
            ("1.-1", YuanError::NotDecimal),
            ("１.00", YuanError::NotDecimal),
            ("NaN", YuanError::NotDecimal),
            ("", YuanError::NotDecimal),
            ("-1", YuanError::Negative),
            ("-0.01", YuanError::Negative),
            ("100000000.01", YuanError::TooLarge),
            ("9999999999999999.00", YuanError::TooLarge),
            ("99999999999999999999999999", YuanError::TooLarge),
        ] {
            assert_eq!(parse_fen(text), Err(why), "{text:?}");
        }
    }

    #[test]
    fn formats_two_decimals() {
        assert_eq!(format_fen(9990), "99.90");
        assert_eq!(format_fen(1), "0.01");
        assert_eq!(format_fen(0), "0.00");
        assert_eq!(format_fen(MAX_FEN), "100000000.00");
        assert_eq!(format_fen(-5), "-0.05");
        assert_eq!(format_fen(i64::MIN), "-92233720368547758.08");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(fen in 0..=MAX_FEN) {
            prop_assert_eq!(parse_fen(&format_fen(fen)), Ok(fen));
        }

        #[test]
        fn a_third_decimal_or_surrounding_space_is_refused(fen in 0..=MAX_FEN, digit in 0u8..10) {
            let text = format_fen(fen);
            prop_assert_eq!(parse_fen(&format!("{text}{digit}")), Err(YuanError::TooPrecise));
            prop_assert_eq!(parse_fen(&format!(" {text}")), Err(YuanError::NotDecimal));
            prop_assert_eq!(parse_fen(&format!("{text} ")), Err(YuanError::NotDecimal));
        }

        #[test]
        fn any_text_parses_to_a_valid_amount_or_an_error(text in "\\PC{0,14}") {
            if let Ok(fen) = parse_fen(&text) {
                prop_assert!((0..=MAX_FEN).contains(&fen));
                prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
            }
        }
    }
}
