//! Reconciliation runs and their lines (`reconciliation_runs`, `reconciliation_lines`), and the
//! orders a statement of a day should list.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use shop_domain::Money;
use shop_domain::order::OrderStatus;

use crate::entities::{order, reconciliation_line, reconciliation_run};

/// A run to store.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// `alipay`, `wechatpay`.
    pub provider: String,
    /// `YYYY-MM-DD`.
    pub statement_date: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Statement lines read.
    pub lines: i64,
    /// Lines that matched.
    pub matched: i64,
    /// Money in (payments) the statement lists.
    pub money_in: Money,
    /// Money out (refunds) the statement lists.
    pub money_out: Money,
    /// Why the statement was refused, if it was.
    pub error: Option<String>,
}

/// A line to store with its run.
#[derive(Debug, Clone)]
pub struct NewLine {
    /// `applied` or `flagged`.
    pub outcome: &'static str,
    /// What it is.
    pub kind: String,
    /// The provider's trade number.
    pub trade_no: String,
    /// Our order number (or the one the statement names).
    pub out_trade_no: String,
    /// Amount.
    pub amount: Money,
    /// What was done or seen.
    pub note: String,
}

/// Outcome of a line that was applied.
pub const APPLIED: &str = "applied";
/// Outcome of a line that was flagged.
pub const FLAGGED: &str = "flagged";

/// Stores a run and its lines (in the caller's transaction); returns the run.
///
/// # Errors
/// Database errors.
pub async fn insert_run(
    conn: &impl ConnectionTrait,
    run: NewRun,
    lines: &[NewLine],
) -> Result<reconciliation_run::Model, DbErr> {
    let count = |outcome: &str| {
        i64::try_from(lines.iter().filter(|l| l.outcome == outcome).count()).unwrap_or(i64::MAX)
    };
    let stored = reconciliation_run::ActiveModel {
        provider: Set(run.provider),
        statement_date: Set(run.statement_date),
        started_at: Set(run.started_at),
        finished_at: Set(Utc::now()),
        lines: Set(run.lines),
        matched: Set(run.matched),
        applied: Set(count(APPLIED)),
        flagged: Set(count(FLAGGED)),
        money_in_fen: Set(run.money_in),
        money_out_fen: Set(run.money_out),
        error: Set(run.error),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    for line in lines {
        reconciliation_line::ActiveModel {
            run_id: Set(stored.id),
            outcome: Set(line.outcome.to_owned()),
            kind: Set(line.kind.clone()),
            trade_no: Set(line.trade_no.chars().take(64).collect()),
            out_trade_no: Set(line.out_trade_no.chars().take(64).collect()),
            amount_fen: Set(line.amount),
            note: Set(line.note.clone()),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(stored)
}

/// The newest `limit` runs, newest first, with their lines.
///
/// # Errors
/// Database errors.
pub async fn last_runs(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<(reconciliation_run::Model, Vec<reconciliation_line::Model>)>, DbErr> {
    let runs = reconciliation_run::Entity::find()
        .order_by_desc(reconciliation_run::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    let lines = reconciliation_line::Entity::find()
        .filter(reconciliation_line::Column::RunId.is_in(runs.iter().map(|r| r.id)))
        .order_by_asc(reconciliation_line::Column::Id)
        .all(conn)
        .await?;
    Ok(runs
        .into_iter()
        .map(|run| {
            let of_run = lines.iter().filter(|l| l.run_id == run.id).cloned().collect();
            (run, of_run)
        })
        .collect())
}

/// Whether a run of `provider`'s statement of `statement_date` completed (was not refused).
///
/// # Errors
/// Database errors.
pub async fn has_completed_run(
    conn: &impl ConnectionTrait,
    provider: &str,
    statement_date: &str,
) -> Result<bool, DbErr> {
    Ok(reconciliation_run::Entity::find()
        .filter(reconciliation_run::Column::Provider.eq(provider))
        .filter(reconciliation_run::Column::StatementDate.eq(statement_date))
        .filter(reconciliation_run::Column::Error.is_null())
        .one(conn)
        .await?
        .is_some())
}

/// The orders of `pay_type` whose money we hold as received with a payment time in
/// `[from, until)`: what the provider's statement of that day should list.
///
/// # Errors
/// Database errors.
pub async fn paid_between(
    conn: &impl ConnectionTrait,
    pay_type: i16,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<order::Model>, DbErr> {
    order::Entity::find()
        .filter(order::Column::PayType.eq(pay_type))
        .filter(order::Column::OrderStatus.is_in([
            OrderStatus::Paid,
            OrderStatus::PaidAfterCancel,
            OrderStatus::Refunded,
        ]))
        .filter(order::Column::PayTime.gte(from))
        .filter(order::Column::PayTime.lt(until))
        .order_by_asc(order::Column::Id)
        .all(conn)
        .await
}
