//! Order status and pay type of the seed's Order table.
use serde::{Deserialize, Serialize};

/// `order_status` of the seed: 0 unpaid, 1 paid, 2 cancelled, 3 cancelled by timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Created, waiting for the buyer to pay.
    Unpaid,
    /// Paid: the money is ours.
    Paid,
    /// Cancelled (by the buyer or an operator).
    Cancelled,
    /// Cancelled because it was not paid in time.
    Expired,
}

impl OrderStatus {
    /// The stored number.
    pub fn code(self) -> i16 {
        match self {
            OrderStatus::Unpaid => 0,
            OrderStatus::Paid => 1,
            OrderStatus::Cancelled => 2,
            OrderStatus::Expired => 3,
        }
    }

    /// Parses a stored number.
    pub fn from_code(code: i16) -> Option<Self> {
        match code {
            0 => Some(OrderStatus::Unpaid),
            1 => Some(OrderStatus::Paid),
            2 => Some(OrderStatus::Cancelled),
            3 => Some(OrderStatus::Expired),
            _ => None,
        }
    }

    /// Whether moving from `self` to `next` is allowed. Payment is monotonic: nothing
    /// leaves `Paid`, and only an unpaid order can be cancelled or expire.
    pub fn can_become(self, next: OrderStatus) -> bool {
        matches!(
            (self, next),
            (OrderStatus::Unpaid, OrderStatus::Paid)
                | (OrderStatus::Unpaid, OrderStatus::Cancelled)
                | (OrderStatus::Unpaid, OrderStatus::Expired)
        )
    }
}

/// `pay_type` of the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PayType {
    /// Alipay page pay: the one we support.
    Alipay,
    /// WeChat Pay: known to the schema, not supported.
    WechatPay,
}

impl PayType {
    /// The stored number.
    pub fn code(self) -> i16 {
        match self {
            PayType::Alipay => 1,
            PayType::WechatPay => 2,
        }
    }

    /// Parses a wire or stored number.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(PayType::Alipay),
            2 => Some(PayType::WechatPay),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [OrderStatus; 4] =
        [OrderStatus::Unpaid, OrderStatus::Paid, OrderStatus::Cancelled, OrderStatus::Expired];

    #[test]
    fn codes_round_trip() {
        for s in ALL {
            assert_eq!(OrderStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(OrderStatus::from_code(4), None);
        assert_eq!(PayType::from_code(1), Some(PayType::Alipay));
        assert_eq!(PayType::from_code(3), None);
    }

    proptest! {
        /// No sequence of allowed transitions ever leaves `Paid`.
        #[test]
        fn paid_is_final(steps in proptest::collection::vec(0usize..4, 0..20)) {
            let mut state = OrderStatus::Unpaid;
            let mut was_paid = false;
            for step in steps {
                let next = ALL[step];
                if state.can_become(next) {
                    state = next;
                }
                was_paid |= state == OrderStatus::Paid;
                prop_assert!(!was_paid || state == OrderStatus::Paid);
            }
        }
    }
}
