//! Guest buyers: the buyer record behind a checkout with only an email (see the migration
//! `m20261130_000008_guests`), and attaching its purchases to the account that confirms the
//! address.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use crate::entities::{download_link, guest_buyer, order, order_hold, user, user_course};
use crate::{WriteError, classify};

/// The role of a guest buyer's `users` row (it cannot sign in: inactive, no password).
pub const GUEST_ROLE: &str = "guest";

/// An email address a concurrent checkout made a guest buyer for first.
pub const EMAIL_TAKEN: &str = "uq_guest_buyers_email";

const UNIQUE: &[(&str, &str)] =
    &[(EMAIL_TAKEN, "guest_buyers.email"), ("uq_users_username", "users.username")];

/// The guest buyer (its `users` id) of an email address, as a sub-query: the seller's order
/// search finds a guest's orders by the address.
pub(crate) fn with_email(email: &str) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(guest_buyer::Column::UserId)
        .from(guest_buyer::Entity)
        .and_where(Expr::col(guest_buyer::Column::Email).eq(email))
        .to_owned()
}

/// The unclaimed guest buyer of `email`, if any.
pub async fn by_email(conn: &impl ConnectionTrait, email: &str) -> Result<Option<guest_buyer::Model>, DbErr> {
    guest_buyer::Entity::find().filter(guest_buyer::Column::Email.eq(email)).one(conn).await
}

/// Makes the guest buyer of `email`: its `users` row (`username`, role [`GUEST_ROLE`],
/// inactive, no password, mobile or email) and its `guest_buyers` row. Call inside a
/// transaction. Returns the buyer's user id.
///
/// # Errors
/// [`WriteError::Conflict`] naming [`EMAIL_TAKEN`] when a guest buyer of `email` exists.
pub async fn insert(
    conn: &impl ConnectionTrait,
    email: &str,
    username: &str,
    now: DateTime<Utc>,
) -> Result<i64, WriteError> {
    let buyer = user::ActiveModel {
        username: Set(username.to_owned()),
        email: Set(None),
        mobile: Set(None),
        password_hash: Set(String::new()),
        icon: Set(String::new()),
        role: Set(GUEST_ROLE.to_owned()),
        is_active: Set(false),
        created_time: Set(now),
        updated_time: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|e| classify(e, UNIQUE))?;
    guest_buyer::Entity::insert(guest_buyer::ActiveModel {
        user_id: Set(buyer.id),
        email: Set(Some(email.to_owned())),
        claimed_by: Set(None),
        claimed_at: Set(None),
        created_time: Set(now),
    })
    .exec_without_returning(conn)
    .await
    .map_err(|e| classify(e, UNIQUE))?;
    Ok(buyer.id)
}

/// The account that has confirmed the address of the guest buyer `guest_user_id`, if any: an
/// active account (not a guest) whose email is that address. With it, the address's
/// owner is known when the guest's order is paid (see `shop_app::guests::attach_paid`).
pub async fn confirmed_account_of(
    conn: &impl ConnectionTrait,
    guest_user_id: i64,
) -> Result<Option<(String, i64)>, DbErr> {
    let Some(email) = guest_buyer::Entity::find_by_id(guest_user_id).one(conn).await?.and_then(|g| g.email)
    else {
        return Ok(None);
    };
    let account = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .filter(user::Column::IsActive.eq(true))
        .filter(user::Column::Role.ne(GUEST_ROLE))
        .one(conn)
        .await?;
    Ok(account.map(|a| (email, a.id)))
}

/// What [`claim`] moved to the account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Claimed {
    /// Orders now the account's.
    pub orders: u64,
    /// Courses the account got access to.
    pub courses: u64,
}

/// Attaches the purchases of the guest buyer of `email` to `account` once (call inside the
/// transaction that confirms the address): the guest's orders (their idempotency keys
/// dropped, they were the guest's), download links and course access become the account's
/// (access the account has already, active, through another order stays as it is), the
/// guest's holds on courses end, and the guest buyer is marked claimed with its address
/// cleared, so a later checkout with only that address starts a new guest buyer. `None`
/// when there is no unclaimed guest buyer of `email`.
///
/// # Errors
/// Database errors.
pub async fn claim(
    conn: &impl ConnectionTrait,
    email: &str,
    account: i64,
    now: DateTime<Utc>,
) -> Result<Option<Claimed>, DbErr> {
    let Some(guest) = by_email(conn, email).await? else { return Ok(None) };
    let taken = guest_buyer::Entity::update_many()
        .col_expr(guest_buyer::Column::Email, Expr::value(Option::<String>::None))
        .col_expr(guest_buyer::Column::ClaimedBy, Expr::value(account))
        .col_expr(guest_buyer::Column::ClaimedAt, Expr::value(now))
        .filter(guest_buyer::Column::UserId.eq(guest.user_id))
        .filter(guest_buyer::Column::Email.eq(email))
        .exec(conn)
        .await?;
    if taken.rows_affected != 1 {
        return Ok(None);
    }
    let from = guest.user_id;
    let mut courses = 0;
    let rows = user_course::Entity::find()
        .filter(user_course::Column::UserId.eq(from))
        .filter(user_course::Column::RevokedAt.is_null())
        .all(conn)
        .await?;
    for row in rows {
        let Some(order_id) = row.order_id else { continue };
        if row.expires_at.is_some_and(|at| at <= now) {
            continue;
        }
        if crate::delivery::grant(conn, account, row.course_id, order_id, row.expires_at, now).await? {
            user_course::Entity::delete_by_id(row.id).exec(conn).await?;
            courses += 1;
        }
    }
    download_link::Entity::update_many()
        .col_expr(download_link::Column::UserId, Expr::value(account))
        .filter(download_link::Column::UserId.eq(from))
        .exec(conn)
        .await?;
    order_hold::Entity::delete_many().filter(order_hold::Column::UserId.eq(from)).exec(conn).await?;
    let orders = order::Entity::update_many()
        .col_expr(order::Column::UserId, Expr::value(account))
        .col_expr(order::Column::IdempotencyKey, Expr::value(Option::<String>::None))
        .col_expr(order::Column::UpdatedTime, Expr::value(now))
        .filter(order::Column::UserId.eq(from))
        .exec(conn)
        .await?
        .rows_affected;
    Ok(Some(Claimed { orders, courses }))
}
