//! Sessions of the seller's console (`console_sessions`).
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use crate::entities::console_session;

/// Stores a session: `id` is the SHA-256 (hex) of the cookie's token.
pub async fn insert_session(
    conn: &impl ConnectionTrait,
    id: &str,
    user_id: i64,
    csrf_token: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    console_session::ActiveModel {
        id: Set(id.to_owned()),
        user_id: Set(user_id),
        csrf_token: Set(csrf_token.to_owned()),
        created_time: Set(Utc::now()),
        expires_at: Set(expires_at),
    }
    .insert(conn)
    .await
    .map(|_| ())
}

/// The session with this id that has not expired at `now`.
pub async fn live_session(
    conn: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<console_session::Model>, DbErr> {
    console_session::Entity::find_by_id(id.to_owned())
        .filter(console_session::Column::ExpiresAt.gt(now))
        .one(conn)
        .await
}

/// Deletes a session (logout); whether it existed.
pub async fn delete_session(conn: &impl ConnectionTrait, id: &str) -> Result<bool, DbErr> {
    Ok(console_session::Entity::delete_by_id(id.to_owned()).exec(conn).await?.rows_affected > 0)
}

/// Deletes the sessions that expired before `now`; how many.
pub async fn purge_expired(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(console_session::Entity::delete_many()
        .filter(console_session::Column::ExpiresAt.lte(now))
        .exec(conn)
        .await?
        .rows_affected)
}
