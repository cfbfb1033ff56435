//! Applying what a provider says about a trade (a verified notification or a verified query
//! answer, as provider-neutral [`TradeFacts`]) to an order. One function, used by the
//! notifies, status polling, the expiry worker and reconciliation of every provider, so that
//! every path follows the same rules.
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use shop_db::entities::order;
use shop_db::{orders, payments};
use shop_domain::Money;
use shop_domain::order::{OrderStatus, PayType};

pub(crate) use super::provider::TradeFacts as Observed;
use super::provider::TradeState;
use crate::config::LatePayment;
use crate::error::{AppError, AppResult};
use crate::jobs::{self, Job, OrderRef};

/// What applying it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// The order became paid now.
    Paid,
    /// The order became paid now, but some of its courses were owned already through
    /// another order: those are refunded (enqueued).
    PaidOverlapRefunded,
    /// Money for a cancelled order: recorded, refund enqueued.
    PaidAfterCancel,
    /// An unpaid order was closed.
    Closed,
    /// A refund was recorded.
    Refunded,
    /// Nothing to change (duplicate, late repeat, waiting).
    NoChange,
    /// A conditional transition found the order in another state than it was read in (a
    /// concurrent change): decide again on a fresh read. Never returned by [`apply`].
    Lost,
}

impl Applied {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Applied::Paid => "order marked paid",
            Applied::PaidOverlapRefunded => {
                "order marked paid; courses already owned through another order: refund enqueued"
            }
            Applied::PaidAfterCancel => "payment for a cancelled order: recorded, refund enqueued",
            Applied::Closed => "unpaid order closed",
            Applied::Refunded => "refund recorded",
            Applied::NoChange | Applied::Lost => "no change",
        }
    }
}

/// The refund request number used for money that arrived after cancellation.
pub(crate) fn late_refund_request_no(out_trade_no: &str) -> String {
    format!("{out_trade_no}L")
}

/// The refund request number used for the courses of an order that its buyer owned already
/// through another order (paid twice).
pub(crate) fn overlap_refund_request_no(out_trade_no: &str) -> String {
    format!("{out_trade_no}D")
}

/// Applies `observed` to `order` inside the caller's transaction. The caller has verified
/// the message and checked that `total_amount_fen` matches the order.
///
/// The decision is made on `order` as read (before or inside the transaction); every change
/// is a conditional UPDATE, and when one finds the order changed meanwhile (say, expired
/// between the read and the payment), the order is read again and the decision made anew,
/// so money is never answered `success` without being recorded.
pub(crate) async fn apply(
    txn: &impl ConnectionTrait,
    order: &order::Model,
    observed: &Observed,
    late_payment: LatePayment,
) -> AppResult<Applied> {
    let mut current = order.clone();
    for _ in 0..4 {
        match apply_once(txn, &current, observed, late_payment).await? {
            Applied::Lost => {
                current = orders::by_id(txn, order.id).await?.ok_or(AppError::NotFound("order"))?;
            }
            done => return Ok(done),
        }
    }
    Err(AppError::Unavailable(format!("order {} keeps changing; try again", order.out_trade_no)))
}

async fn apply_once(
    txn: &impl ConnectionTrait,
    order: &order::Model,
    observed: &Observed,
    late_payment: LatePayment,
) -> AppResult<Applied> {
    let status = order.order_status;
    if observed.total_amount_fen != order.total_amount_fen.fen() {
        // Callers check this first and say why; this guard keeps the rule in one place too.
        return Err(AppError::Unexpected(anyhow::anyhow!(
            "order {}: the provider reports {} fen, the order is {} fen",
            order.out_trade_no,
            observed.total_amount_fen,
            order.total_amount_fen
        )));
    }
    let now = Utc::now();
    match observed.state {
        TradeState::Paid => {
            if let Some(refunded) = observed.refund_fee_fen.filter(|fee| *fee > 0) {
                // A partial-refund notify keeps TRADE_SUCCESS and carries the refunded total.
                if status.money_received() && refunded > order.refunded_fen.fen() {
                    record_refund_total(txn, order, refunded).await?;
                    return Ok(Applied::Refunded);
                }
                if status.money_received() {
                    return Ok(Applied::NoChange);
                }
            }
            let paid_at = observed.paid_at.unwrap_or(now);
            match status {
                OrderStatus::Unpaid => {
                    become_paid(txn, order, &[OrderStatus::Unpaid], observed, paid_at).await
                }
                OrderStatus::Cancelled | OrderStatus::Expired => {
                    // Late money: from the closed states, as `can_become` allows it.
                    let from = OrderStatus::sources(OrderStatus::PaidAfterCancel);
                    match late_payment {
                        LatePayment::Grant => become_paid(txn, order, &from, observed, paid_at).await,
                        LatePayment::Refund => {
                            if !orders::record_payment(
                                txn,
                                order.id,
                                &from,
                                OrderStatus::PaidAfterCancel,
                                &observed.trade_no,
                                paid_at,
                            )
                            .await?
                            {
                                return Ok(Applied::Lost);
                            }
                            let refund = AutomaticRefund {
                                out_request_no: late_refund_request_no(&order.out_trade_no),
                                amount_fen: order.total_amount_fen,
                                why: "payment received after the order was cancelled",
                                reason: "订单已取消，款项原路退回 / order was cancelled",
                            };
                            refund.enqueue(txn, order).await?;
                            Ok(Applied::PaidAfterCancel)
                        }
                    }
                }
                OrderStatus::Paid | OrderStatus::PaidAfterCancel | OrderStatus::Refunded => {
                    Ok(Applied::NoChange)
                }
            }
        }
        TradeState::Closed => match status {
            OrderStatus::Unpaid => {
                let closed = orders::close_unpaid(txn, order.id, OrderStatus::Cancelled).await?;
                Ok(if closed { Applied::Closed } else { Applied::Lost })
            }
            // TRADE_CLOSED after payment means a full refund.
            OrderStatus::Paid | OrderStatus::PaidAfterCancel => {
                let total = order.total_amount_fen.fen();
                let refunded = observed.refund_fee_fen.unwrap_or(total).max(total);
                record_refund_total(txn, order, refunded).await?;
                Ok(Applied::Refunded)
            }
            OrderStatus::Cancelled | OrderStatus::Expired | OrderStatus::Refunded => Ok(Applied::NoChange),
        },
        TradeState::Waiting => Ok(Applied::NoChange),
    }
}

/// The job a payment enqueues (also written by the one-statement notify of `shop-db`).
pub(crate) fn paid_job(out_trade_no: &str) -> Job {
    Job::OrderPaid { order: OrderRef::Number { out_trade_no: out_trade_no.to_owned() } }
}

/// Moves the order from one of `from` to paid; if this call won the transition, the buyer
/// gets the courses now (same transaction) and the side effects (learners count, download
/// links, the email) are enqueued.
async fn become_paid(
    txn: &impl ConnectionTrait,
    order: &order::Model,
    from: &[OrderStatus],
    observed: &Observed,
    paid_at: DateTime<Utc>,
) -> AppResult<Applied> {
    if !orders::record_payment(txn, order.id, from, OrderStatus::Paid, &observed.trade_no, paid_at).await? {
        return Ok(Applied::Lost);
    }
    let owned_elsewhere = crate::delivery::grant_order(txn, order, paid_at).await?;
    jobs::enqueue(txn, &paid_job(&order.out_trade_no)).await?;
    if owned_elsewhere.is_empty() {
        return Ok(Applied::Paid);
    }
    // Nothing paid twice is kept: the lines of courses the buyer owns through another order
    // are refunded (all of it when every course was owned), with one idempotent request.
    let amount_fen = orders::details(txn, order.id)
        .await?
        .iter()
        .filter(|l| owned_elsewhere.contains(&l.course_id))
        .try_fold(Money::ZERO, |sum, l| sum.checked_add(l.real_price_fen))
        .ok_or_else(|| {
            AppError::Unexpected(anyhow::anyhow!("order {}: its lines add up past the maximum", order.id))
        })?;
    let refund = AutomaticRefund {
        out_request_no: overlap_refund_request_no(&order.out_trade_no),
        amount_fen,
        why: "courses already owned through another order",
        reason: "课程已购买，重复付款原路退回 / course already owned: duplicate payment refunded",
    };
    refund.enqueue(txn, order).await?;
    tracing::warn!(order.out_trade_no = %order.out_trade_no, refund.amount_fen = amount_fen.fen(), courses = ?owned_elsewhere, "order paid for courses its buyer already owns: refund enqueued");
    Ok(Applied::PaidOverlapRefunded)
}

/// A refund the shop makes by itself (money it must not keep): recorded and its provider's
/// call enqueued in the caller's transaction, idempotent by `out_request_no`.
struct AutomaticRefund {
    out_request_no: String,
    amount_fen: Money,
    /// Why, for the refund's record.
    why: &'static str,
    /// The reason the provider shows the buyer.
    reason: &'static str,
}

impl AutomaticRefund {
    async fn enqueue(self, txn: &impl ConnectionTrait, order: &order::Model) -> AppResult<()> {
        payments::insert_refund(txn, order.id, &self.out_request_no, self.amount_fen, self.why).await?;
        let job = Job::refund(
            pay_type_of(order)?,
            order.out_trade_no.clone(),
            self.out_request_no,
            self.amount_fen.fen(),
            self.reason.into(),
        );
        jobs::enqueue(txn, &job).await?;
        Ok(())
    }
}

/// The provider of an order (its `pay_type`).
pub(crate) fn pay_type_of(order: &order::Model) -> AppResult<PayType> {
    PayType::from_code(i64::from(order.pay_type)).ok_or_else(|| {
        AppError::Unexpected(anyhow::anyhow!("order {} has pay_type {}", order.out_trade_no, order.pay_type))
    })
}

/// Records the provider's cumulative refunded amount on the order and settles pending refunds it
/// covers.
pub(crate) async fn record_refund_total(
    txn: &impl ConnectionTrait,
    order: &order::Model,
    refunded_total: i64,
) -> AppResult<()> {
    crate::delivery::settle_refund(txn, order.id, refunded_total).await?;
    let mut covered = 0;
    for r in payments::refunds_of(txn, order.id).await? {
        covered += r.amount_fen.fen();
        if r.status == payments::refund_status::PENDING && covered <= refunded_total {
            payments::set_refund_status(
                txn,
                &r.out_request_no,
                payments::refund_status::SUCCEEDED,
                Some(refunded_total),
                None,
            )
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use sea_orm::Database;
    use shop_db::orders::{NewLine, NewOrder};
    use shop_db::{orders, outbox as jobs};
    use shop_domain::order::OrderStatus;

    use super::*;

    /// A payment decided on a stale read ("unpaid") for an order that expired meanwhile must
    /// end as paid-after-cancel with a refund enqueued, never as a silent "no change".
    #[tokio::test]
    async fn a_lost_transition_is_decided_again_on_a_fresh_read() -> anyhow::Result<()> {
        let db = Database::connect("sqlite::memory:").await?;
        let json = r#"{"teachers":[{"id":1,"name":"T"}],"courses":[{"id":1,"name":"C","teacher_id":1,"price":"9.90","period":30}]}"#;
        let user = crate::test_support::seed(&db, json).await;
        let new = NewOrder {
            out_trade_no: "CSTEST1".into(),
            subject: "s".into(),
            total_amount_fen: Money::from_fen(990).expect("money"),
            pay_type: 1,
            user_id: user.id,
            expires_at: Utc::now(),
            pay_url: "https://example.invalid".into(),
            idempotency_key: None,
            request_hash: "h".into(),
            purchase_token_hash: None,
        };
        let order = orders::insert(
            &db,
            new,
            &[NewLine { course_id: 1, price_fen: Money::from_fen(990).expect("money") }],
            Utc::now(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let stale = order.clone();
        assert!(
            orders::close_unpaid(&db, order.id, OrderStatus::Expired).await?,
            "the order expires meanwhile"
        );

        let observed = Observed {
            out_trade_no: "CSTEST1".into(),
            state: TradeState::Paid,
            status_text: "TRADE_SUCCESS".into(),
            trade_no: "2026T1".into(),
            total_amount_fen: 990,
            paid_at: Some(Utc::now()),
            refund_fee_fen: None,
        };
        let applied = apply(&db, &stale, &observed, LatePayment::Refund).await?;
        assert_eq!(applied, Applied::PaidAfterCancel);
        let row = orders::by_id(&db, order.id).await?.ok_or_else(|| anyhow::anyhow!("order"))?;
        assert_eq!(row.order_status, OrderStatus::PaidAfterCancel);
        assert_eq!(jobs::list(&db, Some("alipay_refund")).await?.len(), 1);

        // The same payment applied again from the same stale read changes nothing more.
        let again = apply(&db, &stale, &observed, LatePayment::Refund).await?;
        assert_eq!(again, Applied::NoChange, "money already recorded");
        assert_eq!(jobs::list(&db, Some("alipay_refund")).await?.len(), 1, "one refund");
        Ok(())
    }
}
