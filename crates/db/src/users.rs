//! Accounts.
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use crate::entities::user;
use crate::{WriteError, classify};

/// The unique constraints of `users`, by name and by `table.column`.
pub const UNIQUE: &[(&str, &str)] = &[
    ("uq_users_username", "users.username"),
    ("uq_users_email", "users.email"),
    ("uq_users_mobile", "users.mobile"),
];

/// What a new account is made of.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Unique username.
    pub username: String,
    /// Unique email, if any.
    pub email: Option<String>,
    /// Unique mobile number, if any.
    pub mobile: Option<String>,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Avatar path under the media root (or an absolute URL).
    pub icon: String,
    /// `user` or `admin`.
    pub role: String,
}

/// Inserts an account.
///
/// # Errors
/// [`WriteError::Conflict`] naming `uq_users_username`, `uq_users_email` or
/// `uq_users_mobile` when taken.
pub async fn insert(conn: &impl ConnectionTrait, new: NewUser) -> Result<user::Model, WriteError> {
    let now = Utc::now();
    user::ActiveModel {
        username: Set(new.username),
        email: Set(new.email),
        mobile: Set(new.mobile),
        password_hash: Set(new.password_hash),
        icon: Set(new.icon),
        role: Set(new.role),
        is_active: Set(true),
        created_time: Set(now),
        updated_time: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|e| classify(e, UNIQUE))
}

/// An account by id.
pub async fn by_id(conn: &impl ConnectionTrait, id: i64) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(id).one(conn).await
}

/// The accounts with these ids (those that exist), in one query.
pub async fn by_ids(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<user::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    user::Entity::find().filter(user::Column::Id.is_in(ids.iter().copied())).all(conn).await
}

/// An account by exact username.
pub async fn by_username(conn: &impl ConnectionTrait, username: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find().filter(user::Column::Username.eq(username)).one(conn).await
}

/// An account by mobile number.
pub async fn by_mobile(conn: &impl ConnectionTrait, mobile: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find().filter(user::Column::Mobile.eq(mobile)).one(conn).await
}

/// An account by (lower-cased) email.
pub async fn by_email(conn: &impl ConnectionTrait, email: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find().filter(user::Column::Email.eq(email)).one(conn).await
}

/// The ids of the accounts whose username, email or mobile is exactly `text` (the seller's
/// buyer search).
pub async fn matching(conn: &impl ConnectionTrait, text: &str) -> Result<Vec<i64>, DbErr> {
    use sea_orm::{Condition, QuerySelect};
    user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(
            Condition::any()
                .add(user::Column::Username.eq(text))
                .add(user::Column::Email.eq(text.to_lowercase()))
                .add(user::Column::Mobile.eq(text))
                .add(user::Column::Id.in_subquery(crate::guests::with_email(&text.to_lowercase()))),
        )
        .into_tuple()
        .all(conn)
        .await
}

/// Usernames of these accounts.
pub async fn usernames(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<(i64, String)>, DbErr> {
    use sea_orm::QuerySelect;
    user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Username)
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(conn)
        .await
}
