//! The transactional outbox: rows written with the state change that causes them, claimed
//! by workers with a lease so that each job runs on one worker at a time, retried with
//! backoff, never deleted (done and failed rows stay for audit).
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{
    Alias, CaseStatement, CommonTableExpression, Expr, ExprTrait, LockBehavior, LockType, OnConflict, Order,
    Query, WithClause, WithQuery,
};
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, Iterable,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::entities::outbox;
use crate::rows::set_values;

/// Status of a pending job.
pub const PENDING: &str = "pending";
/// Status of a finished job.
pub const DONE: &str = "done";
/// Status of a job that gave up (see `last_error`).
pub const FAILED: &str = "failed";

/// A job to enqueue: its kind, payload and dedupe key (at most one job per key, ever).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// The kind, which names its handler.
    pub kind: &'static str,
    /// What the handler needs, as JSON.
    pub payload: String,
    /// The key no second job may have.
    pub dedupe_key: String,
}

/// Enqueues a job unless one with the same `dedupe_key` exists. Returns whether it was new.
pub async fn enqueue(conn: &impl ConnectionTrait, job: &NewJob) -> Result<bool, DbErr> {
    let (columns, values): (Vec<_>, Vec<_>) = set_values(&job_row(job, Utc::now())).into_iter().unzip();
    let mut insert = Query::insert();
    insert.into_table(outbox::Entity).columns(columns).values_panic(values.into_iter().map(Expr::val));
    insert.on_conflict(on_duplicate());
    Ok(conn.execute(&insert).await?.rows_affected() == 1)
}

/// The row of a new job: pending, due now.
pub(crate) fn job_row(job: &NewJob, now: DateTime<Utc>) -> outbox::ActiveModel {
    outbox::ActiveModel {
        id: NotSet,
        kind: Set(job.kind.to_owned()),
        payload: Set(job.payload.clone()),
        dedupe_key: Set(job.dedupe_key.clone()),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        created_time: Set(now),
        updated_time: Set(now),
    }
}

/// A job whose dedupe key exists already is not added.
pub(crate) fn on_duplicate() -> OnConflict {
    OnConflict::column(outbox::Column::DedupeKey).do_nothing().to_owned()
}

/// Due jobs. The status is written as a literal, not a parameter, so that the planner can
/// use the partial index `ix_outbox_pending` (`WHERE status = 'pending'`) even for a cached
/// generic plan; with a parameter it would walk every finished job too.
fn due(now: DateTime<Utc>) -> Condition {
    let col = |c: outbox::Column| Expr::col((outbox::Entity, c));
    let pending = col(outbox::Column::Status).eq(Expr::cust(format!("'{PENDING}'")));
    Condition::all().add(pending).add(col(outbox::Column::NextAttemptAt).lte(now)).add(
        Condition::any()
            .add(col(outbox::Column::LockedUntil).is_null())
            .add(col(outbox::Column::LockedUntil).lt(now)),
    )
}

/// Claims up to `limit` due jobs for `lease`, so that a job is claimed by one worker at a
/// time. On Postgres one statement selects the due jobs `FOR UPDATE SKIP LOCKED` (concurrent
/// workers take different rows, and a row locked meanwhile is re-checked) and leases them; on
/// SQLite an immediate transaction selects them and leases each with a conditional UPDATE.
pub async fn claim_due(
    db: &sea_orm::DatabaseConnection,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> Result<Vec<outbox::Model>, DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        let claim = db.get_database_backend().build(&claim_statement(now, lease, limit));
        let mut claimed = outbox::Entity::find().from_raw_sql(claim).all(db).await?;
        claimed.sort_by_key(|job| job.id);
        return Ok(claimed);
    }
    // SQLite has one writer: inside this (immediate) transaction nobody else changes the
    // candidates, so one UPDATE leases them all.
    let txn = crate::begin_write(db).await?;
    let select = outbox::Entity::find().filter(due(now)).order_by_asc(outbox::Column::Id).limit(limit);
    let candidates = select.all(&txn).await?;
    if candidates.is_empty() {
        txn.commit().await?;
        return Ok(candidates);
    }
    let mut lease_them = Query::update();
    lease_them
        .table(outbox::Entity)
        .values(leased(now, lease))
        .and_where(Expr::col((outbox::Entity, outbox::Column::Id)).is_in(candidates.iter().map(|j| j.id)))
        .cond_where(due(now));
    let leased_rows = txn.execute(&lease_them).await?.rows_affected();
    if leased_rows != candidates.len() as u64 {
        // Cannot happen with one writer; claim nothing rather than a job another has.
        txn.rollback().await?;
        return Ok(Vec::new());
    }
    txn.commit().await?;
    Ok(candidates
        .into_iter()
        .map(|job| outbox::Model { attempts: job.attempts + 1, locked_until: Some(now + lease), ..job })
        .collect())
}

/// What claiming a job writes: a lease until `now + lease`, one more attempt.
fn leased(now: DateTime<Utc>, lease: Duration) -> [(outbox::Column, Expr); 2] {
    [
        (outbox::Column::LockedUntil, Expr::val(now + lease)),
        (outbox::Column::Attempts, Expr::col((outbox::Entity, outbox::Column::Attempts)).add(1)),
    ]
}

/// The Postgres claim of [`claim_due`], from its pieces ([`due`], [`leased`]):
///
/// ```sql
/// WITH candidates AS MATERIALIZED (
///     SELECT id FROM outbox WHERE <due> ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED)
/// UPDATE outbox SET <leased> FROM candidates WHERE outbox.id = candidates.id RETURNING outbox.*
/// ```
///
/// The candidates are a MATERIALIZED CTE, so they are selected and locked exactly once;
/// written as `UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`, the
/// planner may run the subquery again for every row of an outer scan (seen: one claim running
/// for more than 30 s over 20,000 pending jobs). Concurrent workers take different rows, and
/// a row locked meanwhile is re-checked.
fn claim_statement(now: DateTime<Utc>, lease: Duration, limit: u64) -> WithQuery {
    let candidates = Alias::new("candidates");
    let mut select = Query::select();
    select
        .column(outbox::Column::Id)
        .from(outbox::Entity)
        .cond_where(due(now))
        .order_by(outbox::Column::Id, Order::Asc)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    let mut update = Query::update();
    update
        .table(outbox::Entity)
        .values(leased(now, lease))
        .from(candidates.clone())
        .and_where(
            Expr::col((outbox::Entity, outbox::Column::Id)).equals((candidates.clone(), outbox::Column::Id)),
        )
        .returning(Query::returning().columns(outbox::Column::iter().map(|c| (outbox::Entity, c))));
    let cte = CommonTableExpression::new().table_name(candidates).query(select).materialized(true).to_owned();
    update.with(WithClause::new().cte(cte).to_owned())
}

/// Marks a job done.
pub async fn complete(conn: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    complete_many(conn, &[id]).await
}

/// Marks jobs done, in one statement (in the caller's transaction, with the jobs' effects).
pub async fn complete_many(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(DONE))
        .col_expr(outbox::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(outbox::Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(outbox::Column::UpdatedTime, Expr::value(Utc::now()))
        .filter(outbox::Column::Id.is_in(ids.iter().copied()))
        .exec(conn)
        .await
        .map(|_| ())
}

/// Gives claimed jobs what is left of them to do, in one statement (in the caller's
/// transaction, with the effects of what was done): each `(id, payload)` replaces the job's
/// payload; the job stays pending and leased, so the caller may go on and complete it, and if
/// it does not, a later attempt runs the new payload only. Its kind and dedupe key stay.
pub async fn continue_as(conn: &impl ConnectionTrait, jobs: &[(i64, String)]) -> Result<(), DbErr> {
    let Some((first_id, first_payload)) = jobs.first() else { return Ok(()) };
    let id = || Expr::col((outbox::Entity, outbox::Column::Id));
    let payload = jobs[1..].iter().fold(
        CaseStatement::new().case(id().eq(*first_id), Expr::val(first_payload.as_str())),
        |case, (job, payload)| case.case(id().eq(*job), Expr::val(payload.as_str())),
    );
    let mut update = Query::update();
    update
        .table(outbox::Entity)
        .value(outbox::Column::Payload, payload)
        .value(outbox::Column::UpdatedTime, Expr::val(Utc::now()))
        .and_where(id().is_in(jobs.iter().map(|(job, _)| *job)));
    conn.execute(&update).await.map(|_| ())
}

/// Records a failed attempt: retried at `retry_at`, or given up (`None`).
pub async fn fail(
    conn: &impl ConnectionTrait,
    id: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let mut update = outbox::Entity::update_many()
        .col_expr(outbox::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(outbox::Column::LastError, Expr::value(error.chars().take(2000).collect::<String>()))
        .col_expr(outbox::Column::UpdatedTime, Expr::value(Utc::now()));
    update = match retry_at {
        Some(at) => update.col_expr(outbox::Column::NextAttemptAt, Expr::value(at)),
        None => update.col_expr(outbox::Column::Status, Expr::value(FAILED)),
    };
    update.filter(outbox::Column::Id.eq(id)).exec(conn).await.map(|_| ())
}

/// Jobs by kind and status (for tests and reports).
pub async fn list(conn: &impl ConnectionTrait, kind: Option<&str>) -> Result<Vec<outbox::Model>, DbErr> {
    let mut select = outbox::Entity::find().order_by_asc(outbox::Column::Id);
    if let Some(kind) = kind {
        select = select.filter(outbox::Column::Kind.eq(kind));
    }
    select.all(conn).await
}

/// The jobs with these dedupe keys, oldest first.
pub async fn by_keys(conn: &impl ConnectionTrait, keys: &[String]) -> Result<Vec<outbox::Model>, DbErr> {
    outbox::Entity::find()
        .filter(outbox::Column::DedupeKey.is_in(keys.iter().cloned()))
        .order_by_asc(outbox::Column::Id)
        .all(conn)
        .await
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::PostgresQueryBuilder;

    use super::*;

    #[test]
    fn the_postgres_claim_locks_each_candidate_once_and_uses_the_pending_index() {
        let sql = claim_statement(Utc::now(), Duration::seconds(60), 8).to_string(PostgresQueryBuilder);
        let words = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words.starts_with(r#"WITH "candidates" AS MATERIALIZED (SELECT "id" FROM "outbox""#),
            "{sql}"
        );
        assert!(sql.contains("FOR UPDATE SKIP LOCKED)"), "{sql}");
        assert!(sql.contains(r#""outbox"."status" = ('pending')"#), "a literal for the partial index: {sql}");
        assert!(sql.contains(r#"FROM "candidates" WHERE "outbox"."id" = "candidates"."id""#), "{sql}");
        assert!(sql.contains(r#"RETURNING "outbox"."id""#), "only the outbox's columns: {sql}");
    }
}
