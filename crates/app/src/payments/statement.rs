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
use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use shop_db::entities::{order, reconciliation_line, refund};
use shop_db::{orders, payments, reconciliation};
use shop_domain::Money;
use shop_domain::order::{OrderStatus, PayType};
use shop_domain::time::{beijing_day, beijing_day_start, in_beijing};

use super::apply::{Applied, record_refund_total};
use super::context::PaymentsContext;
use super::poll::query_and_apply;
use super::provider::{Statement, StatementKind, StatementLine};
use crate::error::{AppError, AppResult};

pub use shop_db::reconciliation::{APPLIED, FLAGGED};

/// The providers that have statements, in the order they are reconciled.
const WITH_STATEMENTS: [PayType; 2] = [PayType::Alipay, PayType::WechatPay];

/// Statement lines compared per batch: one query reads the batch's orders, one its refunds,
/// and its differences are stored together. In memory at any time: one batch, at most one
/// more the reader has handed over ahead of it, and counts.
pub const BATCH: usize = 1000;

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

/// What a reconciliation of one statement found: counts only (the differences are stored
/// with the run as they are found; [`run_differences`] reads them back).
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
    pub applied: u64,
    /// Differences flagged (nothing applied).
    pub flagged: u64,
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

/// What a run has found so far: counts, and the current batch's differences and listed
/// order numbers until they are stored ([`Findings::store`]).
#[derive(Default)]
struct Findings {
    lines: u64,
    matched: u64,
    applied: u64,
    flagged: u64,
    money_in: i64,
    money_out: i64,
    /// Differences of the current batch, not stored yet.
    differences: Vec<reconciliation::NewLine>,
    /// Our order numbers the current batch lists as payments, not stored yet.
    listed: Vec<String>,
}

impl Findings {
    fn difference(
        outcome: &'static str,
        kind: &str,
        line: &StatementLine,
        note: String,
    ) -> reconciliation::NewLine {
        reconciliation::NewLine {
            outcome,
            kind: kind.to_owned(),
            trade_no: line.trade_no.clone(),
            out_trade_no: line.out_trade_no.clone(),
            amount: money(line.amount_fen),
            note,
        }
    }

    fn flag(&mut self, kind: &str, line: &StatementLine, note: String) {
        self.flagged += 1;
        self.differences.push(Self::difference(reconciliation::FLAGGED, kind, line, note));
    }

    fn apply(&mut self, kind: &str, line: &StatementLine, note: String) {
        self.applied += 1;
        self.differences.push(Self::difference(reconciliation::APPLIED, kind, line, note));
    }

    fn not_listed(&mut self, order: &order::Model) {
        self.flagged += 1;
        self.differences.push(reconciliation::NewLine {
            outcome: reconciliation::FLAGGED,
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

    /// Stores the current batch's differences and listed order numbers with run `run_id`.
    async fn store(&mut self, ctx: &PaymentsContext, run_id: i64) -> AppResult<()> {
        reconciliation::insert_lines(&ctx.db, run_id, &self.differences).await?;
        reconciliation::mark_listed(&ctx.db, run_id, &self.listed).await?;
        self.differences.clear();
        self.listed.clear();
        Ok(())
    }

    fn counts(&self) -> reconciliation::RunCounts {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        reconciliation::RunCounts {
            lines: count(self.lines),
            matched: count(self.matched),
            applied: count(self.applied),
            flagged: count(self.flagged),
            money_in: money(self.money_in),
            money_out: money(self.money_out),
        }
    }
}

/// Reconciles `pay_type`'s statement of `day` (Beijing time), downloaded from the provider,
/// and stores the run.
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
    reconcile(&ctx.into(), pay_type, day, None).await
}

/// Reconciles `pay_type`'s statement of `day` from a file downloaded before (the provider's
/// format; a WeChat Pay bill without its announced hash, which only the download has), and
/// stores the run. Verifying the file is blocking I/O.
///
/// # Errors
/// As [`reconcile_statement`].
pub async fn reconcile_statement_file(
    ctx: impl Into<PaymentsContext>,
    pay_type: PayType,
    day: NaiveDate,
    path: &Path,
) -> AppResult<StatementReport> {
    reconcile(&ctx.into(), pay_type, day, Some(path)).await
}

async fn reconcile(
    ctx: &PaymentsContext,
    pay_type: PayType,
    day: NaiveDate,
    file: Option<&Path>,
) -> AppResult<StatementReport> {
    let started_at = Utc::now();
    let provider = ctx
        .payments
        .provider(pay_type)
        .ok_or_else(|| AppError::BadRequest(crate::i18n::msg::no_statement(pay_type.label())))?;
    let name = provider.name().to_owned();
    let statement_date = day.format("%Y-%m-%d").to_string();
    // The first pass: the whole file is verified, nothing of it kept.
    let verified = match file {
        None => provider.statement(day).await,
        Some(path) => provider.statement_file(path),
    };
    let new_run = |lines: u64, error: String| reconciliation::NewRun {
        provider: name.clone(),
        statement_date: statement_date.clone(),
        started_at,
        lines: i64::try_from(lines).unwrap_or(i64::MAX),
        matched: 0,
        money_in: Money::ZERO,
        money_out: Money::ZERO,
        error: Some(error),
    };
    let statement = match verified {
        Ok(statement) => statement,
        Err(e) => {
            let why = format!("{} statement of {statement_date}: {e}", pay_type.label());
            reconciliation::insert_run(&ctx.db, new_run(0, why.clone()), &[]).await?;
            return Err(AppError::Unavailable(why));
        }
    };
    // The second pass: the run is stored first (unfinished), its differences as they are found.
    let run = reconciliation::insert_run(
        &ctx.db,
        new_run(statement.lines(), reconciliation::UNFINISHED.to_owned()),
        &[],
    )
    .await?;
    let mut found = Findings::default();
    let compared = compare(ctx, pay_type, day, run.id, statement, &mut found).await;
    let error = compared.as_ref().err().map(|e| {
        format!(
            "{} statement of {statement_date}: stopped after {} line(s): {e}",
            pay_type.label(),
            found.lines
        )
    });
    reconciliation::clear_listed(&ctx.db, run.id).await?;
    reconciliation::finish_run(&ctx.db, run.id, found.counts(), error.clone()).await?;
    if let Some(why) = error {
        return Err(match compared {
            Err(AppError::Unavailable(_)) => AppError::Unavailable(why),
            Err(other) => other,
            Ok(()) => AppError::Unavailable(why),
        });
    }
    if found.flagged > 0 {
        tracing::warn!(provider = %name, day = %day, flagged = found.flagged, "the statement differs from our records");
    }
    Ok(StatementReport {
        run_id: run.id,
        provider: name,
        date: day,
        lines: found.lines,
        matched: found.matched,
        applied: found.applied,
        flagged: found.flagged,
        money_in: money(found.money_in),
        money_out: money(found.money_out),
    })
}

/// Reads the verified statement again on a blocking thread, compares it batch by batch, then
/// flags the day's paid orders it did not list.
async fn compare(
    ctx: &PaymentsContext,
    pay_type: PayType,
    day: NaiveDate,
    run_id: i64,
    statement: Box<dyn Statement>,
    found: &mut Findings,
) -> AppResult<()> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<StatementLine>(BATCH);
    let reader = tokio::task::spawn_blocking(move || {
        // A send fails only when the comparison stopped: the rest is read and dropped.
        statement.read(&mut |line| {
            let _ = tx.blocking_send(line);
        })
    });
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        batch.clear();
        while batch.len() < BATCH {
            let room = BATCH - batch.len();
            if rx.recv_many(&mut batch, room).await == 0 {
                break;
            }
        }
        if batch.is_empty() {
            break;
        }
        compare_batch(ctx, pay_type, &batch, found).await?;
        found.store(ctx, run_id).await?;
    }
    reader
        .await
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("statement reader: {e}")))?
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    let mut after = 0;
    loop {
        let page = reconciliation::paid_not_listed(
            &ctx.db,
            run_id,
            pay_type.code(),
            day_bounds(day),
            after,
            BATCH as u64,
        )
        .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for order in &page {
            found.not_listed(order);
        }
        found.store(ctx, run_id).await?;
    }
    Ok(())
}

/// The key of a refund line: its request number; a line without one is keyed by trade and
/// time.
fn request_no(line: &StatementLine) -> String {
    line.refund_no
        .clone()
        .unwrap_or_else(|| format!("{}@{}", line.trade_no, line.at.map_or(0, |t| t.timestamp())))
        .chars()
        .take(64)
        .collect()
}

/// Compares one batch: its orders and our refunds are read with one query each.
async fn compare_batch(
    ctx: &PaymentsContext,
    pay_type: PayType,
    batch: &[StatementLine],
    found: &mut Findings,
) -> AppResult<()> {
    let mut numbers: Vec<String> = batch.iter().map(|l| l.out_trade_no.clone()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let orders: HashMap<String, order::Model> = orders::by_out_trade_nos(&ctx.db, &numbers)
        .await?
        .into_iter()
        .map(|o| (o.out_trade_no.clone(), o))
        .collect();
    let refund_nos: Vec<String> =
        batch.iter().filter(|l| l.kind == StatementKind::Refund).map(request_no).collect();
    let ours: HashMap<String, refund::Model> = payments::refunds_by_request_nos(&ctx.db, &refund_nos)
        .await?
        .into_iter()
        .map(|r| (r.out_request_no.clone(), r))
        .collect();
    for line in batch {
        found.lines += 1;
        let order = orders.get(&line.out_trade_no);
        match line.kind {
            StatementKind::Payment => {
                found.money_in = found.money_in.saturating_add(line.amount_fen);
                payment_line(ctx, pay_type, line, order, found).await?;
            }
            StatementKind::Refund => {
                found.money_out = found.money_out.saturating_add(line.amount_fen);
                let request_no = request_no(line);
                refund_line(ctx, pay_type, line, order, &request_no, ours.get(&request_no), found).await?;
            }
        }
    }
    Ok(())
}

/// The order a line names, when it is ours and of this provider; flags it otherwise.
fn our_order<'a>(
    pay_type: PayType,
    line: &StatementLine,
    order: Option<&'a order::Model>,
    found: &mut Findings,
) -> Option<&'a order::Model> {
    let Some(order) = order else {
        found.flag("unknown_trade", line, "不是本店的订单 / not an order of this shop".into());
        return None;
    };
    if order.pay_type != pay_type.code() {
        found.flag("unknown_trade", line, "该订单属于另一支付渠道 / the order is of another provider".into());
        return None;
    }
    Some(order)
}

/// Whether the money of an order is ours already (the payment line matches).
fn received(order: &order::Model) -> bool {
    order.order_status.money_received() || order.order_status == OrderStatus::Refunded
}

/// A payment line; `order` as the batch read it.
async fn payment_line(
    ctx: &PaymentsContext,
    pay_type: PayType,
    line: &StatementLine,
    order: Option<&order::Model>,
    found: &mut Findings,
) -> AppResult<()> {
    let Some(order) = our_order(pay_type, line, order, found) else { return Ok(()) };
    found.listed.push(order.out_trade_no.clone());
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
    if received(order) {
        found.matched += 1;
        return Ok(());
    }
    // Read again: a line earlier in the batch may have applied it.
    let order = orders::by_id(&ctx.db, order.id).await?.ok_or(AppError::NotFound("order"))?;
    if received(&order) {
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

/// A refund line that names a refund we have: matched when it is this order's and amount.
fn our_refund(
    line: &StatementLine,
    order: &order::Model,
    request_no: &str,
    ours: &refund::Model,
    found: &mut Findings,
) {
    if ours.order_id == order.id && ours.amount_fen.fen() == line.amount_fen {
        found.matched += 1;
    } else {
        found.flag(
            "amount_differs",
            line,
            format!("退款金额不符 / our refund {request_no} is {}", ours.amount_fen),
        );
    }
}

/// A refund line; `order` and `ours` (our refund under its request number) as the batch read
/// them.
async fn refund_line(
    ctx: &PaymentsContext,
    pay_type: PayType,
    line: &StatementLine,
    order: Option<&order::Model>,
    request_no: &str,
    ours: Option<&refund::Model>,
    found: &mut Findings,
) -> AppResult<()> {
    let Some(order) = our_order(pay_type, line, order, found) else { return Ok(()) };
    if let Some(ours) = ours {
        our_refund(line, order, request_no, ours, found);
        return Ok(());
    }
    let txn = shop_db::begin_write(&ctx.db).await?;
    // Read again in the transaction: a line earlier in the batch may have recorded it.
    if let Some(ours) = payments::refund_by_request_no(&txn, request_no).await? {
        our_refund(line, order, request_no, &ours, found);
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
        request_no,
        amount,
        "商户后台退款（对账单） / refunded in the provider's console (statement)",
    )
    .await?;
    let total = current.refunded_fen.fen() + line.amount_fen;
    payments::set_refund_status(&txn, request_no, payments::refund_status::SUCCEEDED, Some(total), None)
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

/// The differences run `run_id` stored with `outcome` (`applied`, `flagged`), in the order
/// they were found, read page by page and handed to `each`.
///
/// # Errors
/// Database errors.
pub async fn run_differences(
    ctx: impl Into<PaymentsContext>,
    run_id: i64,
    outcome: &str,
    mut each: impl FnMut(Difference),
) -> AppResult<()> {
    let ctx: PaymentsContext = ctx.into();
    let mut after = 0;
    loop {
        let page = reconciliation::lines_after(&ctx.db, run_id, outcome, after, BATCH as u64).await?;
        let Some(last) = page.last() else { return Ok(()) };
        after = last.id;
        for l in page {
            each(Difference::from(l));
        }
    }
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
    /// Lines it applied.
    pub applied_count: i64,
    /// Differences it flagged.
    pub flagged_count: i64,
    /// The first [`DIFFERENCES_SHOWN`] of what it applied.
    pub applied: Vec<Difference>,
    /// The first [`DIFFERENCES_SHOWN`] of what it flagged.
    pub flagged: Vec<Difference>,
}

/// How many differences of each outcome (applied, flagged) a run shows in the sales report
/// and the console; the others are counted (`applied_count`, `flagged_count`) and printed by
/// `course-shop reconcile`, so that a statement full of strangers' trades does not make the
/// report huge.
pub const DIFFERENCES_SHOWN: u64 = 50;

/// The newest `limit` stored runs, newest first, with the first [`DIFFERENCES_SHOWN`]
/// differences of each outcome.
///
/// # Errors
/// Database errors.
pub async fn last_runs(ctx: impl Into<PaymentsContext>, limit: u64) -> AppResult<Vec<ReconciliationRun>> {
    let ctx: PaymentsContext = ctx.into();
    let mut runs = Vec::new();
    for run in reconciliation::last_runs(&ctx.db, limit).await? {
        let shown = |outcome| reconciliation::lines_after(&ctx.db, run.id, outcome, 0, DIFFERENCES_SHOWN);
        let applied = shown(reconciliation::APPLIED).await?;
        let flagged = shown(reconciliation::FLAGGED).await?;
        runs.push(ReconciliationRun {
            provider: run.provider,
            date: run.statement_date,
            finished_at: run.finished_at,
            lines: run.lines,
            matched: run.matched,
            money_in: run.money_in_fen,
            money_out: run.money_out_fen,
            error: run.error,
            applied_count: run.applied,
            flagged_count: run.flagged,
            applied: applied.into_iter().map(Difference::from).collect(),
            flagged: flagged.into_iter().map(Difference::from).collect(),
        });
    }
    Ok(runs)
}

impl ReconciliationRun {
    /// How many of the run's differences `applied` and `flagged` leave out.
    pub fn differences_omitted(&self) -> i64 {
        let shown = i64::try_from(self.applied.len() + self.flagged.len()).unwrap_or(i64::MAX);
        (self.applied_count + self.flagged_count - shown).max(0)
    }
}

impl From<reconciliation_line::Model> for Difference {
    fn from(l: reconciliation_line::Model) -> Self {
        Difference {
            kind: l.kind,
            trade_no: l.trade_no,
            out_trade_no: l.out_trade_no,
            amount: l.amount_fen,
            note: l.note,
        }
    }
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
                tracing::info!(provider = %report.provider, day = %day, lines = report.lines, matched = report.matched, applied = report.applied, flagged = report.flagged, "daily reconciliation done");
            }
            Err(AppError::Unavailable(why)) => {
                tracing::warn!(%why, "daily reconciliation: statement not reconciled")
            }
            Err(e) => return Err(e),
        }
    }
    Ok(runs)
}
