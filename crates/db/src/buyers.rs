//! What serves every buyer (issue 9): the codes that confirm a new email address of an
//! account (stored as keyed hashes, expiring, single-use, attempt-limited, like
//! [`crate::sms`]), profile changes, and the delivery address kept on an order.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Set,
};

use crate::entities::{email_code, order, user};
use crate::{WriteError, classify, codes, users};

/// Stores a newly sent email code.
pub async fn insert_email_code(
    conn: &impl ConnectionTrait,
    user_id: i64,
    email: &str,
    code_hash: String,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    email_code::ActiveModel {
        user_id: Set(user_id),
        email: Set(email.to_owned()),
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

/// How many email codes were sent for `user_id` since `since`.
pub async fn email_codes_since(
    conn: &impl ConnectionTrait,
    user_id: i64,
    since: DateTime<Utc>,
) -> Result<u64, DbErr> {
    email_code::Entity::find()
        .filter(email_code::Column::UserId.eq(user_id))
        .filter(email_code::Column::CreatedTime.gte(since))
        .count(conn)
        .await
}

/// The newest email code of `user_id` that is unused, unexpired and has attempts left.
pub async fn latest_usable_email_code(
    conn: &impl ConnectionTrait,
    user_id: i64,
    now: DateTime<Utc>,
    max_attempts: i32,
) -> Result<Option<email_code::Model>, DbErr> {
    codes::latest_usable::<email_code::Entity>(
        conn,
        email_code::Column::UserId.eq(user_id),
        now,
        max_attempts,
    )
    .await
}

/// Counts a wrong guess against an email code.
pub async fn add_email_code_attempt(conn: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    codes::add_attempt::<email_code::Entity>(conn, id).await
}

/// Marks an email code used; `false` when another request used it first.
pub async fn consume_email_code(
    conn: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    codes::consume::<email_code::Entity>(conn, id, now).await
}

/// Sets an account's username and/or (confirmed) email.
///
/// # Errors
/// [`WriteError::Conflict`] naming `uq_users_username` or `uq_users_email` when taken.
pub async fn update_profile(
    conn: &impl ConnectionTrait,
    user_id: i64,
    username: Option<String>,
    email: Option<String>,
) -> Result<(), WriteError> {
    let mut row = user::ActiveModel { id: sea_orm::Unchanged(user_id), ..Default::default() };
    if let Some(name) = username {
        row.username = Set(name);
    }
    if let Some(email) = email {
        row.email = Set(Some(email));
    }
    row.updated_time = Set(Utc::now());
    row.update(conn).await.map(|_| ()).map_err(|e| classify(e, users::UNIQUE))
}

/// Keeps `email` on the order `out_trade_no` of `user_id` as its delivery address.
pub async fn set_delivery_email(
    conn: &impl ConnectionTrait,
    user_id: i64,
    out_trade_no: &str,
    email: &str,
) -> Result<(), DbErr> {
    order::Entity::update_many()
        .col_expr(order::Column::DeliveryEmail, Expr::value(email))
        .filter(order::Column::OutTradeNo.eq(out_trade_no))
        .filter(order::Column::UserId.eq(user_id))
        .exec(conn)
        .await
        .map(|_| ())
}
