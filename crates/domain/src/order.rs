//! Order status and pay type of the seed's Order table, and an order's subject.
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// The subject of an order, shown at Alipay's cashier: without surrounding white space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

static SUBJECT: LazyLock<Regex> = LazyLock::new(|| Regex::new(Subject::PATTERN).expect("a valid pattern"));

impl Subject {
    /// Most characters of a subject as sent (the published API spec's `maxLength`).
    pub const MAX_CHARS: usize = 256;
    /// No control character, and something besides white space (a JSON Schema pattern of
    /// the published spec; `\s` is Unicode white space, as `str::trim` removes it).
    pub const PATTERN: &str = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$";

    /// Checks a subject as sent and trims it; `None` when it breaks [`Subject::PATTERN`] or
    /// has more than [`Subject::MAX_CHARS`] characters.
    pub fn parse(text: &str) -> Option<Self> {
        (text.chars().count() <= Self::MAX_CHARS && SUBJECT.is_match(text))
            .then(|| Subject(text.trim().to_owned()))
    }

    /// The trimmed text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `order_status`: the seed's 0 unpaid, 1 paid, 2 cancelled, 3 cancelled by timeout, and two
/// states the seed lacked: 4 paid after it was cancelled (the money is being returned, or
/// access was granted by policy) and 5 fully refunded. The discriminant is the stored code
/// (a `SMALLINT`); with the `sea-orm` feature this is the column's type in the entities, and
/// a code outside these is an error when the row is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum),
    sea_orm(rs_type = "i16", db_type = "SmallInteger")
)]
#[repr(i16)]
pub enum OrderStatus {
    /// Created, waiting for the buyer to pay.
    Unpaid = 0,
    /// Paid: the money is ours.
    Paid = 1,
    /// Cancelled (by the buyer or an operator).
    Cancelled = 2,
    /// Cancelled because it was not paid in time.
    Expired = 3,
    /// Money arrived for a cancelled or expired order; a refund is on its way.
    PaidAfterCancel = 4,
    /// Paid, then refunded in full.
    Refunded = 5,
}

impl OrderStatus {
    /// Every status.
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Unpaid,
        OrderStatus::Paid,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
        OrderStatus::PaidAfterCancel,
        OrderStatus::Refunded,
    ];

    /// The stored number (the discriminant).
    pub fn code(self) -> i16 {
        self as i16
    }

    /// Parses a stored number.
    pub fn from_code(code: i16) -> Option<Self> {
        OrderStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Whether moving from `self` to `next` is allowed. Payment is monotonic: money that
    /// arrived is never forgotten (a paid order never becomes unpaid, cancelled or expired),
    /// only an unpaid order can be cancelled or expire, late money on a cancelled order is
    /// recorded (and refunded, or granted by policy), and only received money is refunded.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Unpaid, Paid | Cancelled | Expired)
                | (Cancelled | Expired, PaidAfterCancel | Paid)
                | (Paid | PaidAfterCancel, Refunded)
        )
    }

    /// Every status that may become `next` (see [`OrderStatus::can_become`]): the `from` set
    /// of a conditional transition to `next`.
    pub fn sources(next: OrderStatus) -> Vec<OrderStatus> {
        OrderStatus::ALL.into_iter().filter(|s| s.can_become(next)).collect()
    }

    /// Whether the shop holds (or held) the buyer's money for this order.
    pub fn money_received(self) -> bool {
        matches!(self, OrderStatus::Paid | OrderStatus::PaidAfterCancel | OrderStatus::Refunded)
    }

    /// A short label for people.
    pub fn label(self) -> &'static str {
        match self {
            OrderStatus::Unpaid => "unpaid",
            OrderStatus::Paid => "paid",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            OrderStatus::PaidAfterCancel => "paid after cancel",
            OrderStatus::Refunded => "refunded",
        }
    }
}

/// `pay_type` of the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PayType {
    /// Alipay page pay.
    Alipay,
    /// WeChat Pay Native (a QR code).
    WechatPay,
    /// Stripe Checkout (cards).
    Stripe,
}

impl PayType {
    /// Every pay type.
    pub const ALL: [PayType; 3] = [PayType::Alipay, PayType::WechatPay, PayType::Stripe];

    /// The stored number.
    pub fn code(self) -> i16 {
        match self {
            PayType::Alipay => 1,
            PayType::WechatPay => 2,
            PayType::Stripe => 3,
        }
    }

    /// The provider's name, as buyers and operators read it.
    pub fn label(self) -> &'static str {
        match self {
            PayType::Alipay => "Alipay",
            PayType::WechatPay => "WeChat Pay",
            PayType::Stripe => "Stripe",
        }
    }

    /// Parses a wire or stored number.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(PayType::Alipay),
            2 => Some(PayType::WechatPay),
            3 => Some(PayType::Stripe),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sources_of_a_status_are_what_can_become_it() {
        use OrderStatus::*;
        assert_eq!(OrderStatus::sources(Cancelled), vec![Unpaid]);
        assert_eq!(OrderStatus::sources(PaidAfterCancel), vec![Cancelled, Expired]);
        assert_eq!(OrderStatus::sources(Refunded), vec![Paid, PaidAfterCancel]);
        assert!(OrderStatus::sources(Unpaid).is_empty(), "nothing goes back to unpaid");
    }

    use super::*;

    #[test]
    fn subjects() {
        assert_eq!(Subject::parse(" Python 全栈 ").map(|s| s.0), Some("Python 全栈".into()));
        assert!(Subject::parse(&"课".repeat(Subject::MAX_CHARS)).is_some());
        for bad in ["", "   ", "\u{3000}", "a\nb", "a\u{7f}", "ab\n", &"课".repeat(Subject::MAX_CHARS + 1)] {
            assert_eq!(Subject::parse(bad), None, "{bad:?}");
        }
    }
    use proptest::prelude::*;

    const ALL: [OrderStatus; 6] = OrderStatus::ALL;

    #[test]
    fn codes_round_trip() {
        for s in ALL {
            assert_eq!(OrderStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(OrderStatus::from_code(6), None);
        assert_eq!(PayType::from_code(1), Some(PayType::Alipay));
        assert_eq!(PayType::from_code(3), Some(PayType::Stripe));
        assert_eq!(PayType::from_code(4), None);
        for t in PayType::ALL {
            assert_eq!(PayType::from_code(i64::from(t.code())), Some(t));
        }
    }

    /// The stored codes are the discriminants, as the active enum of the entities reads and
    /// writes them; any other stored code is an error, not a status.
    #[cfg(feature = "sea-orm")]
    #[test]
    fn the_active_enum_stores_the_codes() {
        use sea_orm::ActiveEnum;
        for s in ALL {
            assert_eq!(s.to_value(), s.code());
            assert_eq!(OrderStatus::try_from_value(&s.code()).ok(), Some(s));
        }
        assert!(OrderStatus::try_from_value(&6).is_err());
        assert!(OrderStatus::try_from_value(&-1).is_err());
    }

    proptest! {
        /// No sequence of allowed transitions forgets money: once received, the order stays
        /// in a money-received state.
        #[test]
        fn received_money_is_never_forgotten(steps in proptest::collection::vec(0usize..6, 0..30)) {
            let mut state = OrderStatus::Unpaid;
            let mut received = false;
            for step in steps {
                let next = ALL[step];
                if state.can_become(next) {
                    state = next;
                }
                received |= state.money_received();
                prop_assert!(!received || state.money_received(), "{state:?}");
            }
        }
    }

    #[test]
    fn the_transitions_of_the_payment_rules() {
        use OrderStatus::*;
        assert!(Unpaid.can_become(Paid));
        assert!(Expired.can_become(PaidAfterCancel));
        assert!(PaidAfterCancel.can_become(Refunded));
        assert!(!Paid.can_become(Unpaid));
        assert!(!Paid.can_become(Cancelled));
        assert!(!Refunded.can_become(Paid));
        assert!(!Cancelled.can_become(Unpaid));
    }
}
