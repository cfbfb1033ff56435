//! Money as an integer number of fen (1 yuan = 100 fen).
//!
//! Amounts travel as yuan strings with at most two decimals (`"99.00"`, `"0.5"`) on the wire
//! and to Alipay; inside the system they are `i64` fen. The text rule and its parser live in
//! `shop-yuan`, shared with the Alipay protocol crate, so that there is one rule.
use std::fmt;

/// The largest amount we accept: Alipay's upper bound of 100,000,000 yuan.
pub const MAX_FEN: i64 = shop_yuan::MAX_FEN;

/// A non-negative amount of money in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

/// Why a yuan amount could not be parsed.
pub use shop_yuan::YuanError as MoneyError;

impl Money {
    /// A yuan amount as the published API spec states it (a JSON Schema pattern): digits,
    /// at most two decimals, at most [`MAX_FEN`] (100,000,000 yuan). The rule of `shop-yuan`
    /// ([`shop_yuan::PATTERN`]): [`Money::parse_yuan`] accepts exactly the strings it matches.
    pub const YUAN_PATTERN: &str = shop_yuan::PATTERN;

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

    /// Parses a yuan amount such as `"99"`, `"99.9"` or `"99.90"` exactly, by the one rule
    /// of `shop-yuan`.
    ///
    /// # Errors
    /// [`MoneyError`] for anything that is not digits with at most two decimals (no spaces,
    /// no sign, no `.5` or `5.`), or above 100,000,000 yuan.
    pub fn parse_yuan(text: &str) -> Result<Self, MoneyError> {
        shop_yuan::parse_fen(text).map(Money)
    }

    /// Sum of amounts; `None` on overflow past [`MAX_FEN`].
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).and_then(Money::from_fen)
    }
}

impl fmt::Display for Money {
    /// Yuan with exactly two decimals: `9990` fen is `99.90`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shop_yuan::format_fen(self.0))
    }
}

/// `Money` as a column of the entities of `shop-db`: stored as `BIGINT` fen. A stored value
/// that is not an amount (negative, above [`MAX_FEN`]) is an error when the row is read, never
/// a zero or clamped amount.
#[cfg(feature = "sea-orm")]
mod column {
    use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
    use sea_orm::{ColIdx, DbErr, QueryResult, TryGetError, TryGetable, Value};

    use super::Money;

    /// The error of reading a stored amount that is out of range.
    fn corrupt(fen: i64) -> DbErr {
        DbErr::Type(format!("a stored amount of {fen} fen is not an amount of money"))
    }

    impl From<Money> for Value {
        fn from(money: Money) -> Self {
            Value::BigInt(Some(money.0))
        }
    }

    impl TryGetable for Money {
        fn try_get_by<I: ColIdx>(res: &QueryResult, idx: I) -> Result<Self, TryGetError> {
            let fen = i64::try_get_by(res, idx)?;
            Money::from_fen(fen).ok_or_else(|| TryGetError::DbErr(corrupt(fen)))
        }
    }

    impl ValueType for Money {
        fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
            <i64 as ValueType>::try_from(v).ok().and_then(Money::from_fen).ok_or(ValueTypeErr)
        }

        fn type_name() -> String {
            "Money".to_owned()
        }

        fn array_type() -> ArrayType {
            ArrayType::BigInt
        }

        fn column_type() -> ColumnType {
            ColumnType::BigInteger
        }
    }

    impl Nullable for Money {
        fn null() -> Value {
            Value::BigInt(None)
        }
    }

    impl sea_orm::IntoActiveValue<Money> for Money {
        fn into_active_value(self) -> sea_orm::ActiveValue<Money> {
            sea_orm::ActiveValue::Set(self)
        }
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
        assert_eq!(Money::parse_yuan("0").map(Money::fen), Ok(0));
        assert_eq!(Money::parse_yuan("100000000").map(Money::fen), Ok(MAX_FEN));
    }

    #[test]
    fn rejects_what_is_not_money() {
        for bad in
            ["", ".", "abc", "1,00", " 1", "1 ", " 19.90", "1e3", "1e2", "0x10", "1.2.3", "+1", ".5", "7."]
        {
            assert_eq!(Money::parse_yuan(bad), Err(MoneyError::NotDecimal), "{bad:?}");
        }
        assert_eq!(Money::parse_yuan("-1"), Err(MoneyError::Negative));
        for bad in ["1.001", "19.900", "1.500", "1.230"] {
            assert_eq!(Money::parse_yuan(bad), Err(MoneyError::TooPrecise), "{bad:?}");
        }
        assert_eq!(Money::parse_yuan("100000000.01"), Err(MoneyError::TooLarge));
        assert_eq!(Money::parse_yuan("99999999999999999999"), Err(MoneyError::TooLarge));
    }

    #[test]
    fn the_published_pattern_is_money() {
        let pattern = regex::Regex::new(Money::YUAN_PATTERN).expect("pattern");
        for good in [
            "0",
            "0.5",
            "0.05",
            "99",
            "99.9",
            "99.90",
            "12345678.99",
            "100000000",
            "100000000.00",
            "000000001",
        ] {
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

    /// As a column: fen in, fen out; anything out of range is refused, never zero.
    #[cfg(feature = "sea-orm")]
    #[test]
    fn as_a_column_out_of_range_is_an_error() {
        use sea_orm::Value;
        use sea_orm::sea_query::ValueType;
        let money = Money::from_fen(9990).expect("money");
        assert_eq!(Value::from(money), Value::BigInt(Some(9990)));
        assert_eq!(<Money as ValueType>::try_from(Value::BigInt(Some(9990))).ok(), Some(money));
        for bad in [Value::BigInt(Some(-1)), Value::BigInt(Some(MAX_FEN + 1)), Value::BigInt(None)] {
            assert!(<Money as ValueType>::try_from(bad.clone()).is_err(), "{bad:?}");
        }
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
