//! One-time SMS codes: stored as keyed hashes, expiring, single-use, attempt-limited.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Set,
};

use crate::codes;
use crate::entities::sms_code;

/// Stores a newly sent code.
pub async fn insert(
    conn: &impl ConnectionTrait,
    mobile: &str,
    code_hash: String,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    sms_code::ActiveModel {
        mobile: Set(mobile.to_owned()),
        code_hash: Set(code_hash),
        expires_at: Set(expires_at),
        used_at: Set(None),
        attempts: Set(0),
        created_time: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map(|_| ())
}

/// How many codes were sent to `mobile` since `since`.
pub async fn sent_since(
    conn: &impl ConnectionTrait,
    mobile: &str,
    since: DateTime<Utc>,
) -> Result<u64, DbErr> {
    sms_code::Entity::find()
        .filter(sms_code::Column::Mobile.eq(mobile))
        .filter(sms_code::Column::CreatedTime.gte(since))
        .count(conn)
        .await
}

/// The newest code of `mobile` that is unused, unexpired and has attempts left.
pub async fn latest_usable(
    conn: &impl ConnectionTrait,
    mobile: &str,
    now: DateTime<Utc>,
    max_attempts: i32,
) -> Result<Option<sms_code::Model>, DbErr> {
    codes::latest_usable::<sms_code::Entity>(conn, sms_code::Column::Mobile.eq(mobile), now, max_attempts)
        .await
}

/// Counts a wrong guess against a code.
pub async fn add_attempt(conn: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    codes::add_attempt::<sms_code::Entity>(conn, id).await
}

/// Marks a code used. Returns `false` when another request used it first, so a code can be
/// redeemed once even under concurrent requests.
pub async fn consume(conn: &impl ConnectionTrait, id: i64, now: DateTime<Utc>) -> Result<bool, DbErr> {
    codes::consume::<sms_code::Entity>(conn, id, now).await
}
