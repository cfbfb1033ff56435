//! The seller's view of orders (the console's order search and order page): who bought
//! what, what Alipay told us (the notify audit trail), the outbox jobs the order caused, and
//! its refunds.
use chrono::{DateTime, NaiveDate, Utc};
use shop_db::entities::{order, outbox, payment_notify, refund};
use shop_db::orders::OrderFilter;
use shop_db::{orders, outbox as outbox_db, payments, users};
use shop_domain::Money;
use shop_domain::order::{OrderStatus, PayType};
use shop_domain::time::beijing_day_start;

use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::i18n::Text;

/// What the seller searches orders by; empty fields filter nothing.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    /// The order number, exactly.
    pub out_trade_no: Option<String>,
    /// A buyer's mobile, email or username, exactly.
    pub buyer: Option<String>,
    /// The status.
    pub status: Option<OrderStatus>,
    /// The payment provider.
    pub provider: Option<PayType>,
    /// Created on or after this day (Beijing time).
    pub from: Option<NaiveDate>,
    /// Created on or before this day (Beijing time).
    pub to: Option<NaiveDate>,
    /// Page, from 1.
    pub page: u64,
    /// Orders per page.
    pub page_size: u64,
}

impl OrderQuery {
    /// Reads the text fields of a search form: empty ones filter nothing.
    ///
    /// # Errors
    /// `Validation` naming the field that is not a status, provider, date or page.
    pub fn parse(
        out_trade_no: Option<&str>,
        buyer: Option<&str>,
        status: Option<&str>,
        provider: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        page: Option<u64>,
    ) -> AppResult<Self> {
        let given = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let day = |field: &'static str, v: Option<String>| {
            v.map(|d| {
                NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
                    AppError::invalid(
                        field,
                        Text::new(format!("{d:?} 不是 YYYY-MM-DD 格式"), format!("{d:?} is not YYYY-MM-DD")),
                    )
                })
            })
            .transpose()
        };
        let status = given(status)
            .map(|s| {
                OrderStatus::ALL.into_iter().find(|x| x.code().to_string() == s || x.label() == s).ok_or_else(
                    || {
                        AppError::invalid(
                            "status",
                            Text::new(format!("{s:?} 不是订单状态"), format!("{s:?} is not an order status")),
                        )
                    },
                )
            })
            .transpose()?;
        let provider = given(provider)
            .map(|p| match p.as_str() {
                "1" | "alipay" => Ok(PayType::Alipay),
                "2" | "wechat" => Ok(PayType::WechatPay),
                "3" | "stripe" => Ok(PayType::Stripe),
                other => Err(AppError::invalid(
                    "provider",
                    Text::new(
                        format!("{other:?} 不是 alipay、wechat 或 stripe"),
                        format!("{other:?} is not alipay, wechat or stripe"),
                    ),
                )),
            })
            .transpose()?;
        let page = page.unwrap_or(1);
        if page == 0 {
            return Err(AppError::invalid("page", Text::fixed("页码从 1 开始", "pages start at 1")));
        }
        Ok(OrderQuery {
            out_trade_no: given(out_trade_no),
            buyer: given(buyer),
            status,
            provider,
            from: day("from", given(from))?,
            to: day("to", given(to))?,
            page,
            page_size: 20,
        })
    }
}

/// An order as the seller sees it in a list.
#[derive(Debug, Clone)]
pub struct OrderRow {
    /// Order number.
    pub out_trade_no: String,
    /// Alipay's trade number.
    pub trade_no: Option<String>,
    /// Subject.
    pub subject: String,
    /// Total.
    pub total: Money,
    /// Refunded so far.
    pub refunded: Money,
    /// Status.
    pub status: OrderStatus,
    /// Provider.
    pub provider: Option<PayType>,
    /// The buyer's id.
    pub buyer_id: i64,
    /// The buyer's username.
    pub buyer: String,
    /// Created.
    pub created_time: DateTime<Utc>,
    /// Paid.
    pub pay_time: Option<DateTime<Utc>>,
}

/// A page of the search.
#[derive(Debug, Clone)]
pub struct OrderSearch {
    /// Orders matching.
    pub count: u64,
    /// This page's orders, newest first.
    pub orders: Vec<OrderRow>,
}

/// One line of an order.
#[derive(Debug, Clone)]
pub struct OrderLine {
    /// Course id.
    pub course_id: i64,
    /// Course name (empty when the course is gone from the catalog).
    pub name: String,
    /// List price.
    pub price: Money,
    /// Price paid.
    pub real_price: Money,
}

/// An order's page.
#[derive(Debug, Clone)]
pub struct OrderAudit {
    /// The order.
    pub order: OrderRow,
    /// Its lines.
    pub lines: Vec<OrderLine>,
    /// The notifications received for it, oldest first (the audit trail).
    pub notifies: Vec<payment_notify::Model>,
    /// The outbox jobs it caused.
    pub jobs: Vec<outbox::Model>,
    /// Its refunds.
    pub refunds: Vec<refund::Model>,
    /// What is left to refund.
    pub refundable: Money,
}

async fn rows(ctx: &AppContext, orders: Vec<order::Model>) -> AppResult<Vec<OrderRow>> {
    let mut ids: Vec<i64> = orders.iter().map(|o| o.user_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let names: std::collections::HashMap<i64, String> =
        users::usernames(&ctx.db, &ids).await?.into_iter().collect();
    orders
        .into_iter()
        .map(|o| {
            Ok(OrderRow {
                total: o.total_amount_fen,
                refunded: o.refunded_fen,
                status: o.order_status,
                provider: PayType::from_code(i64::from(o.pay_type)),
                buyer: names.get(&o.user_id).cloned().unwrap_or_default(),
                buyer_id: o.user_id,
                out_trade_no: o.out_trade_no,
                trade_no: o.trade_no,
                subject: o.subject,
                created_time: o.created_time,
                pay_time: o.pay_time,
            })
        })
        .collect()
}

/// Orders matching the query, newest first, one page.
///
/// # Errors
/// Database errors.
pub async fn search_orders(ctx: &AppContext, q: &OrderQuery) -> AppResult<OrderSearch> {
    let user_ids = match &q.buyer {
        Some(text) => Some(users::matching(&ctx.db, text).await?),
        None => None,
    };
    if user_ids.as_ref().is_some_and(Vec::is_empty) {
        return Ok(OrderSearch { count: 0, orders: Vec::new() });
    }
    let filter = OrderFilter {
        out_trade_no: q.out_trade_no.clone(),
        user_ids,
        status: q.status.map(OrderStatus::code),
        pay_type: q.provider.map(PayType::code),
        from: q.from.map(beijing_day_start),
        until: q.to.and_then(|d| d.succ_opt()).map(beijing_day_start),
    };
    let size = q.page_size.clamp(1, 100);
    let (found, count) = orders::search(&ctx.db, &filter, (q.page.max(1) - 1) * size, size).await?;
    Ok(OrderSearch { count, orders: rows(ctx, found).await? })
}

/// An order with its lines, notifications, jobs and refunds.
///
/// # Errors
/// `NotFound`; database errors.
pub async fn order_audit(ctx: &AppContext, out_trade_no: &str) -> AppResult<OrderAudit> {
    let order = orders::by_out_trade_no(&ctx.db, out_trade_no).await?.ok_or(AppError::NotFound("order"))?;
    let details = orders::details(&ctx.db, order.id).await?;
    let notifies = payments::notifies(&ctx.db, Some(out_trade_no)).await?;
    let refunds = payments::refunds_of(&ctx.db, order.id).await?;
    let request_nos: Vec<String> = refunds.iter().map(|r| r.out_request_no.clone()).collect();
    let jobs =
        outbox_db::by_keys(&ctx.db, &crate::jobs::order_job_keys(order.id, out_trade_no, &request_nos))
            .await?;
    let refundable = super::refundable(&order, &refunds)?;
    let snapshot = ctx.catalog.snapshot();
    let lines = details
        .into_iter()
        .map(|d| {
            Ok(OrderLine {
                course_id: d.course_id,
                name: snapshot.course(d.course_id).map(|c| c.name.clone()).unwrap_or_default(),
                price: d.price_fen,
                real_price: d.real_price_fen,
            })
        })
        .collect::<AppResult<_>>()?;
    let order = rows(ctx, vec![order]).await?.pop().ok_or(AppError::NotFound("order"))?;
    Ok(OrderAudit { order, lines, notifies, jobs, refunds, refundable })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_fields_are_read_or_named() {
        let q = OrderQuery::parse(
            Some(" CS1 "),
            Some(""),
            Some("paid"),
            Some("alipay"),
            Some("2026-11-01"),
            None,
            None,
        )
        .expect("valid");
        assert_eq!(q.out_trade_no.as_deref(), Some("CS1"));
        assert_eq!(
            (q.buyer, q.status, q.provider, q.page),
            (None, Some(OrderStatus::Paid), Some(PayType::Alipay), 1)
        );
        assert_eq!(
            OrderQuery::parse(None, None, Some("5"), None, None, None, None).expect("code").status,
            Some(OrderStatus::Refunded)
        );
        for (field, q) in [
            ("status", OrderQuery::parse(None, None, Some("lost"), None, None, None, None)),
            ("provider", OrderQuery::parse(None, None, None, Some("cash"), None, None, None)),
            ("from", OrderQuery::parse(None, None, None, None, Some("yesterday"), None, None)),
            ("to", OrderQuery::parse(None, None, None, None, None, Some("2026-13-01"), None)),
            ("page", OrderQuery::parse(None, None, None, None, None, None, Some(0))),
        ] {
            assert!(matches!(q, Err(AppError::Validation { field: f, .. }) if f == field), "{field}");
        }
    }
}
