//! Money: integer fen (1/100 yuan) ⇄ Alipay's yuan strings with two decimals.
//!
//! No floating point anywhere. Formatting always writes exactly two decimals (`9990` →
//! `"99.90"`); parsing accepts `digits` or `digits.d` / `digits.dd` and nothing else (no sign, no
//! exponent, no spaces, at most two decimals, at most 100,000,000 yuan). The rule and its code
//! are `shop-yuan`'s, the same the shop applies to the amounts buyers send.

/// Smallest amount Alipay accepts for a trade: 0.01 yuan.
pub const MIN_TRADE_FEN: i64 = 1;
/// Largest amount Alipay accepts for a trade: 100 000 000.00 yuan.
pub const MAX_TRADE_FEN: i64 = shop_yuan::MAX_FEN;

/// An Alipay amount string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid amount {input:?}: {reason}")]
pub struct AmountError {
    /// The rejected text.
    pub input: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

/// Formats fen as yuan with exactly two decimals: `9990` → `"99.90"`, `1` → `"0.01"`,
/// `-5` → `"-0.05"`.
#[must_use]
pub fn format_yuan(fen: i64) -> String {
    shop_yuan::format_fen(fen)
}

/// Parses a yuan amount such as `"88.80"`, `"88.8"` or `"88"` into fen (`8880`).
///
/// # Errors
/// [`AmountError`] for empty input, a sign, more than two decimals, any non-digit, or more than
/// 100,000,000 yuan.
pub fn parse_yuan(s: &str) -> Result<i64, AmountError> {
    shop_yuan::parse_fen(s).map_err(|e| AmountError { input: s.to_owned(), reason: e.as_str() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_yuan(9990), "99.90");
        assert_eq!(format_yuan(1), "0.01");
        assert_eq!(format_yuan(0), "0.00");
        assert_eq!(format_yuan(100), "1.00");
        assert_eq!(format_yuan(MAX_TRADE_FEN), "100000000.00");
        assert_eq!(format_yuan(-5), "-0.05");
        assert_eq!(format_yuan(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn parses() {
        assert_eq!(parse_yuan("88.80"), Ok(8880));
        assert_eq!(parse_yuan("88.8"), Ok(8880));
        assert_eq!(parse_yuan("88"), Ok(8800));
        assert_eq!(parse_yuan("0.01"), Ok(1));
        assert_eq!(parse_yuan("0.00"), Ok(0));
        assert_eq!(parse_yuan("100000000.00"), Ok(MAX_TRADE_FEN));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "88.801",
            "-1.00",
            "+1.00",
            " 1.00",
            "1.00 ",
            "1,00",
            ".5",
            "1.",
            "1e2",
            "0x10",
            "1.0a",
            "１.00",
            "NaN",
            "1..0",
            "1.-1",
            "9999999999999999.00",
        ] {
            assert!(parse_yuan(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
