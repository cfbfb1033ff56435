//! Reconciliation runs and their lines (`reconciliation_runs`, `reconciliation_lines`), and the
//! orders a statement of a day should list.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
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
    insert_lines(conn, stored.id, lines).await?;
    Ok(stored)
}

/// Why a run that has not finished (yet) is not complete: the run is stored when it starts
/// and keeps this until [`finish_run`]; a run interrupted half-way keeps it, so the daily
/// worker reconciles the day again.
pub const UNFINISHED: &str = "unfinished: the run did not complete";

/// Rows per INSERT statement: keeps SQLite under its bound-parameter limit.
const CHUNK: usize = 500;

/// Stores lines of run `run_id` (several rows per statement).
///
/// # Errors
/// Database errors.
pub async fn insert_lines(conn: &impl ConnectionTrait, run_id: i64, lines: &[NewLine]) -> Result<(), DbErr> {
    for chunk in lines.chunks(CHUNK) {
        let rows = chunk.iter().map(|line| reconciliation_line::ActiveModel {
            run_id: Set(run_id),
            outcome: Set(line.outcome.to_owned()),
            kind: Set(line.kind.clone()),
            trade_no: Set(line.trade_no.chars().take(64).collect()),
            out_trade_no: Set(line.out_trade_no.chars().take(64).collect()),
            amount_fen: Set(line.amount),
            note: Set(line.note.clone()),
            ..Default::default()
        });
        reconciliation_line::Entity::insert_many(rows).exec_without_returning(conn).await?;
    }
    Ok(())
}

/// What a finished run counted.
#[derive(Debug, Clone, Copy)]
pub struct RunCounts {
    /// Statement lines read.
    pub lines: i64,
    /// Lines that matched.
    pub matched: i64,
    /// Lines applied.
    pub applied: i64,
    /// Differences flagged.
    pub flagged: i64,
    /// Money in (payments) the statement lists.
    pub money_in: Money,
    /// Money out (refunds) the statement lists.
    pub money_out: Money,
}

/// Records what run `run_id` counted and that it finished: completed when `error` is `None`,
/// refused (or stopped half-way) with its reason otherwise.
///
/// # Errors
/// Database errors.
pub async fn finish_run(
    conn: &impl ConnectionTrait,
    run_id: i64,
    counts: RunCounts,
    error: Option<String>,
) -> Result<(), DbErr> {
    reconciliation_run::Entity::update_many()
        .col_expr(reconciliation_run::Column::FinishedAt, Expr::value(Utc::now()))
        .col_expr(reconciliation_run::Column::Lines, Expr::value(counts.lines))
        .col_expr(reconciliation_run::Column::Matched, Expr::value(counts.matched))
        .col_expr(reconciliation_run::Column::Applied, Expr::value(counts.applied))
        .col_expr(reconciliation_run::Column::Flagged, Expr::value(counts.flagged))
        .col_expr(reconciliation_run::Column::MoneyInFen, Expr::value(counts.money_in.fen()))
        .col_expr(reconciliation_run::Column::MoneyOutFen, Expr::value(counts.money_out.fen()))
        .col_expr(reconciliation_run::Column::Error, Expr::value(error))
        .filter(reconciliation_run::Column::Id.eq(run_id))
        .exec(conn)
        .await
        .map(|_| ())
}

/// The lines of run `run_id` with `outcome` and an id above `after`, at most `limit`, in order: what a run
/// applied and flagged, read back page by page.
///
/// # Errors
/// Database errors.
pub async fn lines_after(
    conn: &impl ConnectionTrait,
    run_id: i64,
    outcome: &str,
    after: i64,
    limit: u64,
) -> Result<Vec<reconciliation_line::Model>, DbErr> {
    reconciliation_line::Entity::find()
        .filter(reconciliation_line::Column::RunId.eq(run_id))
        .filter(reconciliation_line::Column::Outcome.eq(outcome))
        .filter(reconciliation_line::Column::Id.gt(after))
        .order_by_asc(reconciliation_line::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

const LISTED: &str = "reconciliation_listed";

/// Notes that the statement of run `run_id` lists payments for these order numbers (a number
/// noted twice is kept once).
///
/// # Errors
/// Database errors.
pub async fn mark_listed(
    conn: &impl ConnectionTrait,
    run_id: i64,
    out_trade_nos: &[String],
) -> Result<(), DbErr> {
    for chunk in out_trade_nos.chunks(CHUNK) {
        let mut insert = Query::insert();
        insert.into_table(Alias::new(LISTED)).columns([Alias::new("run_id"), Alias::new("out_trade_no")]);
        for no in chunk {
            insert.values_panic([Expr::val(run_id), Expr::val(no.chars().take(64).collect::<String>())]);
        }
        insert.on_conflict(
            OnConflict::columns([Alias::new("run_id"), Alias::new("out_trade_no")]).do_nothing().to_owned(),
        );
        conn.execute(&insert).await?;
    }
    Ok(())
}

/// Forgets what run `run_id` noted with [`mark_listed`] (when it finishes).
///
/// # Errors
/// Database errors.
pub async fn clear_listed(conn: &impl ConnectionTrait, run_id: i64) -> Result<(), DbErr> {
    let mut delete = Query::delete();
    delete.from_table(Alias::new(LISTED)).and_where(Expr::col(Alias::new("run_id")).eq(run_id));
    conn.execute(&delete).await.map(|_| ())
}

/// The newest `limit` runs, newest first (their lines: [`lines_after`]).
///
/// # Errors
/// Database errors.
pub async fn last_runs(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<reconciliation_run::Model>, DbErr> {
    reconciliation_run::Entity::find()
        .order_by_desc(reconciliation_run::Column::Id)
        .limit(limit)
        .all(conn)
        .await
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
/// `[from, until)` (what the provider's statement of that day should list) that run `run_id`
/// did not note as listed ([`mark_listed`]), by id above `after`, at most `limit`: one
/// anti-join, read page by page.
///
/// # Errors
/// Database errors.
pub async fn paid_not_listed(
    conn: &impl ConnectionTrait,
    run_id: i64,
    pay_type: i16,
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    after: i64,
    limit: u64,
) -> Result<Vec<order::Model>, DbErr> {
    let listed = Query::select()
        .expr(Expr::val(1))
        .from(Alias::new(LISTED))
        .and_where(Expr::col((Alias::new(LISTED), Alias::new("run_id"))).eq(run_id))
        .and_where(
            Expr::col((Alias::new(LISTED), Alias::new("out_trade_no")))
                .equals((order::Entity, order::Column::OutTradeNo)),
        )
        .to_owned();
    order::Entity::find()
        .filter(order::Column::PayType.eq(pay_type))
        .filter(order::Column::OrderStatus.is_in([
            OrderStatus::Paid,
            OrderStatus::PaidAfterCancel,
            OrderStatus::Refunded,
        ]))
        .filter(order::Column::PayTime.gte(from))
        .filter(order::Column::PayTime.lt(until))
        .filter(order::Column::Id.gt(after))
        .filter(Expr::exists(listed).not())
        .order_by_asc(order::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}
