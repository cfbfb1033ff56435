//! Delivery: course access, materials, private download links, campaigns.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Order, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, Iterable,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::entities::{campaign, download_link, material, order, user_course};

/// The access rows of `user_courses` active at `now` (not revoked, not expired), with the
/// columns qualified by the table, so the condition also reads the existing row in an
/// upsert's `ON CONFLICT ... DO UPDATE ... WHERE`.
pub fn active_at(now: impl Into<Expr>) -> Condition {
    let col = |c: user_course::Column| Expr::col((user_course::Entity, c));
    Condition::all().add(col(user_course::Column::RevokedAt).is_null()).add(
        Condition::any()
            .add(col(user_course::Column::ExpiresAt).is_null())
            .add(col(user_course::Column::ExpiresAt).gt(now)),
    )
}

/// Grants (or renews) a user's access to a course for an order, until `expires_at` (`None`:
/// forever), unless the user has active access to it through another order: then nothing
/// is written and `false` is returned (the order paid for a course its buyer owns already).
///
/// The upsert's condition is evaluated on the newest version of an existing row, so of two
/// orders for the same course paid at the same time exactly one gets `true`.
pub async fn grant(
    conn: &impl ConnectionTrait,
    user_id: i64,
    course_id: i64,
    order_id: i64,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let row =
        grant_row(Expr::val(user_id), Expr::val(course_id), Expr::val(order_id), Expr::val(expires_at), now);
    let mut insert = Query::insert();
    insert
        .into_table(user_course::Entity)
        .columns(row.iter().map(|(c, _)| *c))
        .values_panic(row.into_iter().map(|(_, v)| v))
        .on_conflict(grant_on_conflict(now));
    Ok(conn.execute(&insert).await?.rows_affected() > 0)
}

/// The access row a grant writes: the buyer, the course and the order (values, or columns
/// of a statement that inserts many), from `now` until `expires_at`, not revoked.
pub(crate) fn grant_row(
    user_id: Expr,
    course_id: Expr,
    order_id: Expr,
    expires_at: Expr,
    now: impl Into<Expr>,
) -> Vec<(user_course::Column, Expr)> {
    vec![
        (user_course::Column::UserId, user_id),
        (user_course::Column::CourseId, course_id),
        (user_course::Column::OrderId, order_id),
        (user_course::Column::GrantedAt, now.into()),
        (user_course::Column::ExpiresAt, expires_at),
        (user_course::Column::RevokedAt, Expr::val(Option::<DateTime<Utc>>::None)),
    ]
}

/// What a grant does to an existing access row of the buyer and course: it replaces it only
/// when that access is no longer active at `now`, or came from the same order (a repeat).
pub(crate) fn grant_on_conflict(now: impl Into<Expr>) -> OnConflict {
    let replaceable = Condition::any().add(active_at(now).not()).add(
        Expr::col((user_course::Entity, user_course::Column::OrderId))
            .equals((Alias::new("excluded"), user_course::Column::OrderId)),
    );
    OnConflict::columns([user_course::Column::UserId, user_course::Column::CourseId])
        .update_columns([
            user_course::Column::OrderId,
            user_course::Column::GrantedAt,
            user_course::Column::ExpiresAt,
            user_course::Column::RevokedAt,
        ])
        .action_and_where(replaceable.into())
        .to_owned()
}

/// When access bought at `paid_at` for a course of `period_days` ends: `period_days` days of
/// 86,400 s later (as `chrono::Duration::days` counts them), or never for 0.
/// [`access_until_sql`] is the same rule inside a statement.
pub fn access_until(paid_at: DateTime<Utc>, period_days: i32) -> Option<DateTime<Utc>> {
    (period_days > 0).then(|| paid_at + chrono::Duration::days(i64::from(period_days)))
}

/// [`access_until`] as a Postgres expression over a time and a period column (a test
/// compares them: `payments::differential` in shop-app).
pub(crate) fn access_until_sql(paid_at: Expr, period_days: Expr) -> Expr {
    Expr::case(
        period_days.clone().gt(0),
        paid_at.add(Expr::cust_with_exprs("make_interval(secs => $1::float8 * 86400)", [period_days])),
    )
    .into()
}

/// Revokes the access an order granted (a refund).
pub async fn revoke_order_access(
    conn: &impl ConnectionTrait,
    order_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let r = user_course::Entity::update_many()
        .col_expr(user_course::Column::RevokedAt, Expr::value(now))
        .filter(user_course::Column::OrderId.eq(order_id))
        .filter(user_course::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(r.rows_affected)
}

/// Of `course_ids` (all when `None`), those the user may use now.
pub async fn active_course_ids(
    conn: &impl ConnectionTrait,
    user_id: i64,
    course_ids: Option<&[i64]>,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    conn.query_all(&active_courses(user_id, course_ids, now))
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<i64>(0))
        .collect()
}

/// The query of [`active_course_ids`] (also the ownership check inside
/// `orders::create_in_one_statement`).
pub(crate) fn active_courses(
    user_id: i64,
    course_ids: Option<&[i64]>,
    now: DateTime<Utc>,
) -> sea_orm::sea_query::SelectStatement {
    let mut q = Query::select();
    q.column((user_course::Entity, user_course::Column::CourseId))
        .from(user_course::Entity)
        .and_where(Expr::col((user_course::Entity, user_course::Column::UserId)).eq(user_id))
        .and_where(active_at(now).into());
    if let Some(ids) = course_ids {
        q.and_where(
            Expr::col((user_course::Entity, user_course::Column::CourseId)).is_in(ids.iter().copied()),
        );
    }
    q
}

/// Every access row of a user (active, expired or revoked), newest first, with the order
/// number of the order behind each (`None` for a grant without an order, or an order that
/// is gone), in one query.
pub async fn access_with_order_numbers(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Vec<(user_course::Model, Option<String>)>, DbErr> {
    let mut query = Query::select();
    for c in user_course::Column::iter() {
        query.column((user_course::Entity, c));
    }
    query
        .expr_as(Expr::col((order::Entity, order::Column::OutTradeNo)), Alias::new("order_out_trade_no"))
        .from(user_course::Entity)
        .left_join(
            order::Entity,
            Expr::col((order::Entity, order::Column::Id))
                .equals((user_course::Entity, user_course::Column::OrderId)),
        )
        .and_where(Expr::col((user_course::Entity, user_course::Column::UserId)).eq(user_id))
        .order_by((user_course::Entity, user_course::Column::GrantedAt), Order::Desc)
        .order_by((user_course::Entity, user_course::Column::Id), Order::Desc);
    conn.query_all(&query)
        .await?
        .iter()
        .map(|row| {
            Ok((user_course::Model::from_query_result(row, "")?, row.try_get("", "order_out_trade_no")?))
        })
        .collect()
}

/// Current owners of a course: `(user_id, order_id)`.
pub async fn owners_of(
    conn: &impl ConnectionTrait,
    course_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, Option<i64>)>, DbErr> {
    user_course::Entity::find()
        .select_only()
        .column(user_course::Column::UserId)
        .column(user_course::Column::OrderId)
        .filter(user_course::Column::CourseId.eq(course_id))
        .filter(active_at(now))
        .order_by_asc(user_course::Column::UserId)
        .into_tuple()
        .all(conn)
        .await
}

/// Records a new material version.
pub async fn insert_material(
    conn: &impl ConnectionTrait,
    row: material::ActiveModel,
) -> Result<material::Model, DbErr> {
    row.insert(conn).await
}

/// The latest version of a named material of a course.
pub async fn latest_material(
    conn: &impl ConnectionTrait,
    course_id: i64,
    name: &str,
) -> Result<Option<material::Model>, DbErr> {
    material::Entity::find()
        .filter(material::Column::CourseId.eq(course_id))
        .filter(material::Column::Name.eq(name))
        .order_by_desc(material::Column::CreatedTime)
        .order_by_desc(material::Column::Id)
        .one(conn)
        .await
}

/// The latest version of each of the named materials `(course_id, name)`, in one query;
/// materials without a version are left out.
pub async fn latest_materials(
    conn: &impl ConnectionTrait,
    wanted: &[(i64, &str)],
) -> Result<HashMap<(i64, String), material::Model>, DbErr> {
    let mut latest = HashMap::new();
    if wanted.is_empty() {
        return Ok(latest);
    }
    let any = wanted.iter().fold(Condition::any(), |any, (course_id, name)| {
        any.add(material::Column::CourseId.eq(*course_id).and(material::Column::Name.eq(*name)))
    });
    // Newest first, as in [`latest_material`]: the first row of each material is its latest.
    let rows = material::Entity::find()
        .filter(any)
        .order_by_desc(material::Column::CreatedTime)
        .order_by_desc(material::Column::Id)
        .all(conn)
        .await?;
    for row in rows {
        latest.entry((row.course_id, row.name.clone())).or_insert(row);
    }
    Ok(latest)
}

/// A specific version of a named material.
pub async fn material_version(
    conn: &impl ConnectionTrait,
    course_id: i64,
    name: &str,
    version: &str,
) -> Result<Option<material::Model>, DbErr> {
    material::Entity::find()
        .filter(material::Column::CourseId.eq(course_id))
        .filter(material::Column::Name.eq(name))
        .filter(material::Column::Version.eq(version))
        .one(conn)
        .await
}

/// The distinct material names of a course, sorted.
pub async fn material_names(conn: &impl ConnectionTrait, course_id: i64) -> Result<Vec<String>, DbErr> {
    Ok(material_names_of(conn, &[course_id]).await?.remove(&course_id).unwrap_or_default())
}

/// The distinct material names of each of these courses, sorted, in one query (courses
/// without materials are left out).
pub async fn material_names_of(
    conn: &impl ConnectionTrait,
    course_ids: &[i64],
) -> Result<HashMap<i64, Vec<String>>, DbErr> {
    let mut names: HashMap<i64, Vec<String>> = HashMap::new();
    if course_ids.is_empty() {
        return Ok(names);
    }
    let rows: Vec<(i64, String)> = material::Entity::find()
        .select_only()
        .column(material::Column::CourseId)
        .column(material::Column::Name)
        .filter(material::Column::CourseId.is_in(course_ids.iter().copied()))
        .distinct()
        .into_tuple()
        .all(conn)
        .await?;
    for (course_id, name) in rows {
        names.entry(course_id).or_default().push(name);
    }
    for list in names.values_mut() {
        list.sort();
    }
    Ok(names)
}

/// What a new link is for.
#[derive(Debug, Clone)]
pub struct NewLink<'a> {
    /// Unguessable token (the link's secret).
    pub token: &'a str,
    /// The purchase.
    pub order_id: i64,
    /// The buyer.
    pub user_id: i64,
    /// The course.
    pub course_id: i64,
    /// The material.
    pub material_name: &'a str,
    /// Why it was issued: `purchase` or `campaign:<id>`; one link per order, material and key.
    pub issue_key: &'a str,
    /// Downloads allowed.
    pub max_downloads: i32,
}

/// Issues a link unless one exists for the same order, course, material and issue key;
/// returns the link (the existing one on a repeat).
pub async fn issue_link(
    conn: &impl ConnectionTrait,
    new: NewLink<'_>,
) -> Result<download_link::Model, DbErr> {
    let row = download_link::ActiveModel {
        token: Set(new.token.to_owned()),
        order_id: Set(new.order_id),
        user_id: Set(new.user_id),
        course_id: Set(new.course_id),
        material_name: Set(new.material_name.to_owned()),
        issue_key: Set(new.issue_key.to_owned()),
        downloads_left: Set(new.max_downloads),
        max_downloads: Set(new.max_downloads),
        created_time: Set(Utc::now()),
        revoked_at: Set(None),
        last_download_at: Set(None),
        ..Default::default()
    };
    download_link::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                download_link::Column::OrderId,
                download_link::Column::CourseId,
                download_link::Column::MaterialName,
                download_link::Column::IssueKey,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    download_link::Entity::find()
        .filter(download_link::Column::OrderId.eq(new.order_id))
        .filter(download_link::Column::CourseId.eq(new.course_id))
        .filter(download_link::Column::MaterialName.eq(new.material_name))
        .filter(download_link::Column::IssueKey.eq(new.issue_key))
        .one(conn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("download link just issued".into()))
}

/// A link by its token.
pub async fn link_by_token(
    conn: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<download_link::Model>, DbErr> {
    download_link::Entity::find().filter(download_link::Column::Token.eq(token)).one(conn).await
}

/// Takes one download from a link, atomically: `true` when one was left (and is now used),
/// `false` when none is left or the link is revoked. Concurrent requests cannot take more
/// than the link has.
pub async fn take_download(
    conn: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = download_link::Entity::update_many()
        .col_expr(
            download_link::Column::DownloadsLeft,
            Expr::col(download_link::Column::DownloadsLeft).sub(1),
        )
        .col_expr(download_link::Column::LastDownloadAt, Expr::value(now))
        .filter(download_link::Column::Token.eq(token))
        .filter(download_link::Column::DownloadsLeft.gt(0))
        .filter(download_link::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Revokes every link of an order (a refund).
pub async fn revoke_order_links(
    conn: &impl ConnectionTrait,
    order_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let r = download_link::Entity::update_many()
        .col_expr(download_link::Column::RevokedAt, Expr::value(now))
        .filter(download_link::Column::OrderId.eq(order_id))
        .filter(download_link::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(r.rows_affected)
}

/// Links of an order issued for `issue_key`.
pub async fn links_of_order(
    conn: &impl ConnectionTrait,
    order_id: i64,
    issue_key: Option<&str>,
) -> Result<Vec<download_link::Model>, DbErr> {
    let mut q = download_link::Entity::find().filter(download_link::Column::OrderId.eq(order_id));
    if let Some(key) = issue_key {
        q = q.filter(download_link::Column::IssueKey.eq(key));
    }
    q.order_by_asc(download_link::Column::Id).all(conn).await
}

/// The links of several orders issued for `issue_key`, in one query, oldest first.
pub async fn links_of_orders(
    conn: &impl ConnectionTrait,
    order_ids: &[i64],
    issue_key: &str,
) -> Result<Vec<download_link::Model>, DbErr> {
    if order_ids.is_empty() {
        return Ok(Vec::new());
    }
    download_link::Entity::find()
        .filter(download_link::Column::OrderId.is_in(order_ids.iter().copied()))
        .filter(download_link::Column::IssueKey.eq(issue_key))
        .order_by_asc(download_link::Column::Id)
        .all(conn)
        .await
}

/// Every link of a user, newest first.
pub async fn links_of_user(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Vec<download_link::Model>, DbErr> {
    download_link::Entity::find()
        .filter(download_link::Column::UserId.eq(user_id))
        .order_by_desc(download_link::Column::Id)
        .all(conn)
        .await
}

/// Inserts a campaign unless one with the same key exists; `(campaign, created)`.
pub async fn campaign_once(
    conn: &impl ConnectionTrait,
    row: campaign::ActiveModel,
    dedupe_key: &str,
) -> Result<(campaign::Model, bool), DbErr> {
    if let Some(existing) =
        campaign::Entity::find().filter(campaign::Column::DedupeKey.eq(dedupe_key)).one(conn).await?
    {
        return Ok((existing, false));
    }
    Ok((row.insert(conn).await?, true))
}

/// A campaign by id.
pub async fn campaign(conn: &impl ConnectionTrait, id: i64) -> Result<Option<campaign::Model>, DbErr> {
    campaign::Entity::find_by_id(id).one(conn).await
}

/// Every version of every material of a course, by name then newest first.
pub async fn materials_of(
    conn: &impl ConnectionTrait,
    course_id: i64,
) -> Result<Vec<material::Model>, DbErr> {
    material::Entity::find()
        .filter(material::Column::CourseId.eq(course_id))
        .order_by_asc(material::Column::Name)
        .order_by_desc(material::Column::Id)
        .all(conn)
        .await
}

/// The latest campaigns, newest first.
pub async fn campaigns(conn: &impl ConnectionTrait, limit: u64) -> Result<Vec<campaign::Model>, DbErr> {
    campaign::Entity::find().order_by_desc(campaign::Column::Id).limit(limit).all(conn).await
}
