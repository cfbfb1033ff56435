//! Amounts of money as text, in yuan, to and from integer fen (1 yuan = 100 fen): the one
//! rule for every amount the shop reads, from a buyer, the catalog, an operator or Alipay,
//! and for every amount it writes.
//!
//! The rule (docs/api.md): ASCII digits, optionally followed by `.` and one or two digits;
//! nothing else: no sign, no spaces, no exponent, no `.` without digits on both sides, no
//! third decimal (not even a zero), at most 100,000,000 yuan (Alipay's upper bound). So
//! `"19.9"`, `"19.90"`, `"0.01"`, `"1499"` and `"007.50"` are amounts; `"19.900"`, `" 19.90"`,
//! `".5"`, `"5."`, `"+1"`, `"1e2"` and `""` are not. Formatting always writes two decimals.
//! [`PATTERN`] states the same rule as a regular expression (for published API schemas);
//! [`parse_fen`] accepts exactly the strings it matches (a property test checks both ways).
//!
//! A leaf of the workspace with no dependencies, so that the pure domain (`shop-domain`) and
//! the protocol crate (`shop-alipay`) can both use it without depending on each other.
use std::fmt;

/// The largest amount: Alipay's upper bound of 100,000,000 yuan, in fen.
pub const MAX_FEN: i64 = 100_000_000 * 100;

/// The rule of this module as a regular expression (JSON Schema / ECMA-262 and the `regex`
/// crate read it alike): leading zeros, then either 100,000,000 with zero decimals or up to
/// eight digits with up to two decimals. [`parse_fen`] accepts a text iff it matches.
pub const PATTERN: &str = r"^0*(100000000(\.00?)?|[0-9]{1,8}(\.[0-9]{1,2})?)$";

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
/// exactly, without floating point. Accepts exactly the texts [`PATTERN`] matches.
///
/// # Errors
/// [`YuanError`] for anything outside the rule of this module.
pub fn parse_fen(text: &str) -> Result<i64, YuanError> {
    if text.starts_with('-') {
        return Err(YuanError::Negative);
    }
    // Digits, then optionally `.` and digits: the shape of every branch of the pattern.
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
    let number = |s: &str| s.bytes().fold(0i64, |n, b| n * 10 + i64::from(b - b'0'));
    let cents = match frac.len() {
        0 => 0,
        1 => number(frac) * 10,
        _ => number(frac),
    };
    // `0*`, then `[0-9]{1,8}` with any decimals, or `100000000` with zero decimals.
    let int = int_part.trim_start_matches('0');
    match int.len() {
        0..=8 => Ok(number(int) * 100 + cents),
        9 if int == "100000000" && cents == 0 => Ok(MAX_FEN),
        _ => Err(YuanError::TooLarge),
    }
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
            ("000000001", 100),
            ("0100000000.0", MAX_FEN),
            ("00000000099999999.99", MAX_FEN - 1),
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
            ("0100000000.5", YuanError::TooLarge),
            ("100000001", YuanError::TooLarge),
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

        /// The parser and the published pattern are one rule: a text parses iff it matches,
        /// for texts near the rule (digits, dots, signs, spaces, long runs of zeros) and for
        /// texts the pattern generates.
        #[test]
        fn a_text_parses_iff_it_matches_the_pattern(
            text in prop_oneof![
                "[0-9.+ -]{0,14}",
                "0{0,12}[0-9]{0,10}(\\.[0-9]{0,3})?",
                "0{0,12}10{8}(\\.[0-9]{0,3})?",
                PATTERN.trim_start_matches('^').trim_end_matches('$'),
            ]
        ) {
            let pattern = regex::Regex::new(PATTERN).expect("a valid pattern");
            prop_assert_eq!(parse_fen(&text).is_ok(), pattern.is_match(&text), "{:?}", text);
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
