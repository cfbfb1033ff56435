//! What the one-time codes share, SMS codes ([`crate::sms`]) and the codes that confirm an
//! email address ([`crate::buyers`]): which stored code can still be redeemed (unused,
//! unexpired, attempts left; the newest), a wrong guess counted against it, and its single
//! use. Written once here for both tables.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::{email_code, sms_code};

/// A table of one-time codes: the columns the rules below read and write.
pub(crate) trait CodeTable: EntityTrait {
    const ID: Self::Column;
    const USED_AT: Self::Column;
    const EXPIRES_AT: Self::Column;
    const ATTEMPTS: Self::Column;
    const CREATED_TIME: Self::Column;
}

impl CodeTable for sms_code::Entity {
    const ID: sms_code::Column = sms_code::Column::Id;
    const USED_AT: sms_code::Column = sms_code::Column::UsedAt;
    const EXPIRES_AT: sms_code::Column = sms_code::Column::ExpiresAt;
    const ATTEMPTS: sms_code::Column = sms_code::Column::Attempts;
    const CREATED_TIME: sms_code::Column = sms_code::Column::CreatedTime;
}

impl CodeTable for email_code::Entity {
    const ID: email_code::Column = email_code::Column::Id;
    const USED_AT: email_code::Column = email_code::Column::UsedAt;
    const EXPIRES_AT: email_code::Column = email_code::Column::ExpiresAt;
    const ATTEMPTS: email_code::Column = email_code::Column::Attempts;
    const CREATED_TIME: email_code::Column = email_code::Column::CreatedTime;
}

/// The newest code of `owner` (the mobile number's, the account's) that is unused, unexpired
/// at `now` and has fewer than `max_attempts` wrong guesses.
pub(crate) async fn latest_usable<E: CodeTable>(
    conn: &impl ConnectionTrait,
    owner: impl IntoCondition,
    now: DateTime<Utc>,
    max_attempts: i32,
) -> Result<Option<E::Model>, DbErr> {
    E::find()
        .filter(owner)
        .filter(E::USED_AT.is_null())
        .filter(E::EXPIRES_AT.gt(now))
        .filter(E::ATTEMPTS.lt(max_attempts))
        .order_by_desc(E::CREATED_TIME)
        .order_by_desc(E::ID)
        .one(conn)
        .await
}

/// Counts a wrong guess against the code `id`.
pub(crate) async fn add_attempt<E: CodeTable>(conn: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    E::update_many()
        .col_expr(E::ATTEMPTS, Expr::col(E::ATTEMPTS).add(1))
        .filter(E::ID.eq(id))
        .exec(conn)
        .await
        .map(|_| ())
}

/// Marks the code `id` used at `now`. `false` when another request used it first, so a code
/// is redeemed once even under concurrent requests.
pub(crate) async fn consume<E: CodeTable>(
    conn: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = E::update_many()
        .col_expr(E::USED_AT, Expr::value(now))
        .filter(E::ID.eq(id))
        .filter(E::USED_AT.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}
