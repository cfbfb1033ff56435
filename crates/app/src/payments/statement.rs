//! Reconciliation against a provider's statement (对账单) of a day: every line of the
//! statement is compared with our orders, payments and refunds, and the day's payments we
//! recorded with the statement.
//!
//! | the statement says | we have | outcome |
//! |---|---|---|
//! | a payment | the order paid (or paid after cancel, or refunded since), same amount | matched |
//! | a payment | the order unpaid, cancelled or expired, same amount | the provider's query is asked; a confirmed payment is applied by the normal rules (`apply`: paid, or paid after cancel with a refund enqueued): **applied** `payment`; otherwise flagged `not_confirmed` |
//! | a payment or refund | another amount than the order's | flagged `amount_differs`, nothing applied |
//! | a payment or refund | no such order (or an order of another provider) | flagged `unknown_trade` |
//! | a refund | a refund of ours with its request number | matched |
//! | a refund | none (made in the merchant console) | recorded from the line, no query: **applied** `refund`; all of the order refunded makes it refunded (5) and revokes access, as `course-shop refund` does; more than is left: flagged `refund_exceeds` |
//! | nothing | an order paid that day through this provider | flagged `not_listed` |
//!
//! Each run is stored with what it applied and flagged (`reconciliation_runs`, `_lines`).
//! The rules it applies are idempotent (conditional transitions; a console refund is recorded
//! under its request number once), so a second run of the same day applies nothing again: its
//! payments and refunds are then matched.
use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use shop_db::{orders, payments, reconciliation};
use shop_domain::Money;
use shop_domain::order::{OrderStatus, PayType};
use shop_domain::time::{beijing_day, beijing_day_start, in_beijing};

use super::apply::{Applied, record_refund_total};
use super::context::PaymentsContext;
use super::poll::query_and_apply;
use super::provider::{StatementKind, StatementLine};
use crate::error::{AppError, AppResult};

/// The providers that have statements, in the order they are reconciled.
const WITH_STATEMENTS: [PayType; 2] = [PayType::Alipay, PayType::WechatPay];

/// One difference: applied or flagged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// `payment`, `refund` (applied); `unknown_trade`, `amount_differs`, `not_confirmed`,
    /// `refund_exceeds`, `not_listed` (flagged).
    pub kind: String,
    /// The provider's trade number.
    pub trade_no: String,
    /// The order number.
    pub out_trade_no: String,
    /// The amount of the line (of the order, for `not_listed`).
    pub amount: Money,
    /// What was done or seen (Chinese / English).
    pub note: String,
}

/// What a reconciliation of one statement found.
#[derive(Debug, Clone)]
pub struct StatementReport {
    /// The stored run.
    pub run_id: i64,
    /// `alipay`, `wechatpay`.
    pub provider: String,
    /// The statement's day (Beijing time).
    pub date: NaiveDate,
    /// Lines of the statement.
    pub lines: u64,
    /// Lines that matched.
    pub matched: u64,
    /// Lines applied.
    pub applied: Vec<Difference>,
    /// Differences flagged (nothing applied).
    pub flagged: Vec<Difference>,
    /// Payments the statement lists.
    pub money_in: Money,
    /// Refunds the statement lists.
    pub money_out: Money,
}

/// The providers that are enabled and have statements (`alipay`, `wechatpay`).
pub fn statement_providers(ctx: impl Into<PaymentsContext>) -> Vec<PayType> {
    let ctx: PaymentsContext = ctx.into();
    WITH_STATEMENTS.into_iter().filter(|t| ctx.payments.provider(*t).is_some()).collect()
}

/// The day before `now`'s day, Beijing time: the default statement day.
#[must_use]
pub fn yesterday_in_beijing(now: DateTime<Utc>) -> NaiveDate {
    let today = beijing_day(now);
    today.pred_opt().unwrap_or(today)
}

/// The instants `[from, until)` of a Beijing day.
fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let from = beijing_day_start(day);
    (from, from + Duration::days(1))
}

fn money(fen: i64) -> Money {
    Money::from_fen(fen.clamp(0, shop_domain::money::MAX_FEN)).unwrap_or(Money::ZERO)
}

struct Findings {
    matched: u64,
    applied: Vec<Difference>,
    flagged: Vec<Difference>,
}

impl Findings {
    fn flag(&mut self, kind: &str, line: &StatementLine, note: String) {
        self.flagged.push(Difference {
            kind: kind.to_owned(),
            trade_no: line.trade_no.clone(),
            out_trade_no: line.out_trade_no.clone(),
            amount: money(line.amount_fen),
            note,
        });
    }

    fn apply(&mut self, kind: &str, line: &StatementLine, note: String) {
        self.applied.push(Difference {
            kind: kind.to_owned(),
            trade_no: line.trade_no.clone(),
            out_trade_no: line.out_trade_no.clone(),
            amount: money(line.amount_fen),
            note,
        });
    }
}

/// Reconciles `pay_type`'s statement of `day` (Beijing time) and stores the run.
///
/// # Errors
/// `BadRequest` when the provider is not enabled or has no statements; `Unavailable` when the
/// statement cannot be had or is refused (malformed, wrong encoding, truncated, a hash that
/// differs): then nothing is applied, and the refused run is stored with its reason.
pub async fn reconcile_statement(
    ctx: impl Into<PaymentsContext>,
    pay_type: PayType,
    day: NaiveDate,
) -> AppResult<StatementReport> {
    let ctx: PaymentsContext = ctx.into();
    let ctx = &ctx;
    let started_at = Utc::now();
    let provider = ctx
        .payments
        .provider(pay_type)
        .ok_or_else(|| AppError::BadRequest(crate::i18n::msg::no_statement(pay_type.label())))?;
    let name = provider.name().to_owned();
    let statement_date = day.format("%Y-%m-%d").to_string();
    let lines = match provider.statement(day).await {
        Ok(lines) => lines,
        Err(e) => {
            let why = format!("{} statement of {statement_date}: {e}", pay_type.label());
            let run = reconciliation::NewRun {
                provider: name,
                statement_date,
                started_at,
                lines: 0,
                matched: 0,
                money_in: Money::ZERO,
                money_out: Money::ZERO,
                error: Some(why.clone()),
            };
            reconciliation::insert_run(&ctx.db, run, &[]).await?;
            return Err(AppError::Unavailable(why));
        }
    };
    let mut found = Findings { matched: 0, applied: Vec::new(), flagged: Vec::new() };
    let mut listed = HashSet::new();
    let (mut money_in, mut money_out) = (0i64, 0i64);
    for line in &lines {
        match line.kind {
            StatementKind::Payment => {
                money_in = money_in.saturating_add(line.amount_fen);
                listed.insert(line.out_trade_no.clone());
                payment_line(ctx, pay_type, line, &mut found).await?;
            }
            StatementKind::Refund => {
                money_out = money_out.saturating_add(line.amount_fen);
                refund_line(ctx, pay_type, line, &mut found).await?;
            }
        }
    }
    let (from, until) = day_bounds(day);
    for order in reconciliation::paid_between(&ctx.db, pay_type.code(), from, until).await? {
        if !listed.contains(&order.out_trade_no) {
            found.flagged.push(Difference {
                kind: "not_listed".into(),
                trade_no: order.trade_no.clone().unwrap_or_default(),
                out_trade_no: order.out_trade_no.clone(),
                amount: order.total_amount_fen,
                note: format!(
                    "已记为支付，但对账单中没有 / recorded as paid ({}), not in the statement",
                    order.order_status.label()
                ),
            });
        }
    }
    let stored: Vec<reconciliation::NewLine> = found
        .applied
        .iter()
        .map(|d| (reconciliation::APPLIED, d))
        .chain(found.flagged.iter().map(|d| (reconciliation::FLAGGED, d)))
        .map(|(outcome, d)| reconciliation::NewLine {
            outcome,
            kind: d.kind.clone(),
            trade_no: d.trade_no.clone(),
            out_trade_no: d.out_trade_no.clone(),
            amount: d.amount,
            note: d.note.clone(),
        })
        .collect();
    let run = reconciliation::NewRun {
        provider: name.clone(),
        statement_date,
        started_at,
        lines: i64::try_from(lines.len()).unwrap_or(i64::MAX),
        matched: i64::try_from(found.matched).unwrap_or(i64::MAX),
        money_in: money(money_in),
        money_out: money(money_out),
        error: None,
    };
    let txn = shop_db::begin_write(&ctx.db).await?;
    let run = reconciliation::insert_run(&txn, run, &stored).await?;
    txn.commit().await?;
    if !found.flagged.is_empty() {
        tracing::warn!(provider = %name, day = %day, flagged = found.flagged.len(), "the statement differs from our records");
    }
    Ok(StatementReport {
        run_id: run.id,
        provider: name,
        date: day,
        lines: lines.len() as u64,
        matched: found.matched,
        applied: found.applied,
        flagged: found.flagged,
        money_in: money(money_in),
        money_out: money(money_out),
    })
}

async fn payment_line(
    ctx: &PaymentsContext,
    pay_type: PayType,
    line: &StatementLine,
    found: &mut Findings,
) -> AppResult<()> {
    let Some(order) = orders::by_out_trade_no(&ctx.db, &line.out_trade_no).await? else {
        found.flag("unknown_trade", line, "不是本店的订单 / not an order of this shop".into());
        return Ok(());
    };
    if order.pay_type != pay_type.code() {
        found.flag("unknown_trade", line, "该订单属于另一支付渠道 / the order is of another provider".into());
        return Ok(());
    }
    if line.amount_fen != order.total_amount_fen.fen() {
        found.flag(
            "amount_differs",
            line,
            format!(
                "金额不符，未处理 / amount differs: the order is {}, nothing applied",
                order.total_amount_fen
            ),
        );
        return Ok(());
    }
    if order.order_status.money_received() || order.order_status == OrderStatus::Refunded {
        found.matched += 1;
        return Ok(());
    }
    match query_and_apply(ctx, &order, true).await? {
        Some(applied) if applied != Applied::NoChange => {
            let after =
                orders::by_id(&ctx.db, order.id).await?.map_or(order.order_status, |o| o.order_status);
            found.apply(
                "payment",
                line,
                format!(
                    "经查询确认并入账 / confirmed by the query: {} ({})",
                    applied.describe(),
                    after.label()
                ),
            );
        }
        _ => found.flag(
            "not_confirmed",
            line,
            format!(
                "查询未确认该支付，未处理 / the provider's query does not confirm it; the order stays {}",
                order.order_status.label()
            ),
        ),
    }
    Ok(())
}

async fn refund_line(
    ctx: &PaymentsContext,
    pay_type: PayType,
    line: &StatementLine,
    found: &mut Findings,
) -> AppResult<()> {
    let Some(order) = orders::by_out_trade_no(&ctx.db, &line.out_trade_no).await? else {
        found.flag("unknown_trade", line, "不是本店的订单 / not an order of this shop".into());
        return Ok(());
    };
    if order.pay_type != pay_type.code() {
        found.flag("unknown_trade", line, "该订单属于另一支付渠道 / the order is of another provider".into());
        return Ok(());
    }
    // The refund's key: its request number; a line without one is keyed by trade and time.
    let request_no: String = line
        .refund_no
        .clone()
        .unwrap_or_else(|| format!("{}@{}", line.trade_no, line.at.map_or(0, |t| t.timestamp())))
        .chars()
        .take(64)
        .collect();
    let txn = shop_db::begin_write(&ctx.db).await?;
    if let Some(ours) = payments::refund_by_request_no(&txn, &request_no).await? {
        if ours.order_id == order.id && ours.amount_fen.fen() == line.amount_fen {
            found.matched += 1;
        } else {
            found.flag(
                "amount_differs",
                line,
                format!("退款金额不符 / our refund {request_no} is {}", ours.amount_fen),
            );
        }
        return Ok(());
    }
    let current = orders::by_id(&txn, order.id).await?.ok_or(AppError::NotFound("order"))?;
    let left = current.total_amount_fen.fen() - current.refunded_fen.fen();
    if !current.order_status.money_received() || line.amount_fen > left || line.amount_fen < 1 {
        found.flag(
            "refund_exceeds",
            line,
            format!(
                "退款超出可退金额，未处理 / more than is left to refund ({} left, order {})",
                money(left),
                current.order_status.label()
            ),
        );
        return Ok(());
    }
    let amount = money(line.amount_fen);
    payments::insert_refund(
        &txn,
        order.id,
        &request_no,
        amount,
        "商户后台退款（对账单） / refunded in the provider's console (statement)",
    )
    .await?;
    let total = current.refunded_fen.fen() + line.amount_fen;
    payments::set_refund_status(&txn, &request_no, payments::refund_status::SUCCEEDED, Some(total), None)
        .await?;
    record_refund_total(&txn, &current, total).await?;
    let after = orders::by_id(&txn, order.id).await?.map_or(current.order_status, |o| o.order_status);
    txn.commit().await?;
    let note = if after == OrderStatus::Refunded {
        "商户后台全额退款：订单已退款，课程权限已收回 / refunded in full in the console: order refunded (5), access revoked"
            .to_owned()
    } else {
        format!(
            "商户后台部分退款已记录 / partial refund made in the console recorded (order {})",
            after.label()
        )
    };
    found.apply("refund", line, note);
    Ok(())
}

/// A stored reconciliation run.
#[derive(Debug, Clone)]
pub struct ReconciliationRun {
    /// `alipay`, `wechatpay`.
    pub provider: String,
    /// The statement's day, `YYYY-MM-DD` (Beijing time).
    pub date: String,
    /// When it ran.
    pub finished_at: DateTime<Utc>,
    /// Statement lines.
    pub lines: i64,
    /// Lines that matched.
    pub matched: i64,
    /// Payments the statement lists.
    pub money_in: Money,
    /// Refunds the statement lists.
    pub money_out: Money,
    /// Why the statement was refused (nothing applied), if it was.
    pub error: Option<String>,
    /// What it applied.
    pub applied: Vec<Difference>,
    /// What it flagged.
    pub flagged: Vec<Difference>,
}

/// The newest `limit` stored runs, newest first, with what they applied and flagged.
///
/// # Errors
/// Database errors.
pub async fn last_runs(ctx: impl Into<PaymentsContext>, limit: u64) -> AppResult<Vec<ReconciliationRun>> {
    let ctx: PaymentsContext = ctx.into();
    let runs = reconciliation::last_runs(&ctx.db, limit).await?;
    Ok(runs
        .into_iter()
        .map(|(run, lines)| {
            let (mut applied, mut flagged) = (Vec::new(), Vec::new());
            for l in lines {
                let d = Difference {
                    kind: l.kind,
                    trade_no: l.trade_no,
                    out_trade_no: l.out_trade_no,
                    amount: l.amount_fen,
                    note: l.note,
                };
                if l.outcome == reconciliation::APPLIED { applied.push(d) } else { flagged.push(d) }
            }
            ReconciliationRun {
                provider: run.provider,
                date: run.statement_date,
                finished_at: run.finished_at,
                lines: run.lines,
                matched: run.matched,
                money_in: run.money_in_fen,
                money_out: run.money_out_fen,
                error: run.error,
                applied,
                flagged,
            }
        })
        .collect())
}

/// The worker's daily pass: from `reconciliation.hour` (Beijing time) on, reconciles the
/// previous day's statement of every enabled provider that has no completed run of it yet.
/// Returns the runs made.
///
/// # Errors
/// Database errors (a statement that cannot be had yet is logged and tried on a later pass).
pub async fn reconcile_due_statements(
    ctx: impl Into<PaymentsContext>,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let ctx: PaymentsContext = ctx.into();
    let settings = &ctx.settings.reconciliation;
    if !settings.daily || in_beijing(now).hour() < settings.hour {
        return Ok(0);
    }
    let day = yesterday_in_beijing(now);
    let statement_date = day.format("%Y-%m-%d").to_string();
    let mut runs = 0;
    for pay_type in statement_providers(&ctx) {
        let Some(provider) = ctx.payments.provider(pay_type) else { continue };
        if reconciliation::has_completed_run(&ctx.db, provider.name(), &statement_date).await? {
            continue;
        }
        runs += 1;
        match reconcile_statement(&ctx, pay_type, day).await {
            Ok(report) => {
                tracing::info!(provider = %report.provider, day = %day, lines = report.lines, matched = report.matched, applied = report.applied.len(), flagged = report.flagged.len(), "daily reconciliation done");
            }
            Err(AppError::Unavailable(why)) => {
                tracing::warn!(%why, "daily reconciliation: statement not reconciled")
            }
            Err(e) => return Err(e),
        }
    }
    Ok(runs)
}
