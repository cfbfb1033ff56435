//! Fixed-window attempt counters in the database (`rate_limits`), so that every replica of
//! the server counts against the same limit.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use crate::entities::rate_limit;

/// Counts one attempt of `bucket` in the window that starts at `window_start`, in one
/// statement; the attempts of that window so far, this one included.
pub async fn hit(
    conn: &impl ConnectionTrait,
    bucket: &str,
    window_start: DateTime<Utc>,
) -> Result<i32, DbErr> {
    let row = rate_limit::ActiveModel {
        bucket: Set(bucket.to_owned()),
        window_start: Set(window_start),
        hits: Set(1),
    };
    let counted = rate_limit::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([rate_limit::Column::Bucket, rate_limit::Column::WindowStart])
                .value(
                    rate_limit::Column::Hits,
                    Expr::col((rate_limit::Entity, rate_limit::Column::Hits)).add(1),
                )
                .to_owned(),
        )
        .exec_with_returning(conn)
        .await?;
    Ok(counted.hits)
}

/// Deletes the counters of windows that started before `before`; how many.
pub async fn purge_before(conn: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(rate_limit::Entity::delete_many()
        .filter(rate_limit::Column::WindowStart.lt(before))
        .exec(conn)
        .await?
        .rows_affected)
}
