//! Course media: uploading videos and materials (`media put`), and short-lived signed URLs
//! for playing a section.
use crate::i18n::msg;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use shop_db::catalog::Changed;
use shop_db::delivery;
use shop_db::entities::{chapter, material, section};

use crate::context::Delivery;
use crate::error::{AppError, AppResult};
use crate::storage::Storage;

/// Where an upload goes.
#[derive(Debug, Clone)]
pub enum MediaTarget {
    /// The video (or document) of a section.
    Section(i64),
    /// A version of a downloadable material.
    Material {
        /// Its name, e.g. `slides`.
        name: String,
        /// The version, e.g. `2`.
        version: String,
    },
}

/// What an upload stored.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// The object key.
    pub key: String,
    /// Bytes stored.
    pub size: u64,
}

fn file_name(path: &Path) -> AppResult<String> {
    let name =
        path.file_name().and_then(|n| n.to_str()).ok_or_else(|| AppError::BadRequest(msg::FILE_NO_NAME))?;
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect();
    Ok(clean.trim_start_matches('.').to_owned())
        .and_then(|n| if n.is_empty() { Err(AppError::BadRequest(msg::FILE_NAME_UNUSABLE)) } else { Ok(n) })
}

fn segment(text: &str, what: &str) -> AppResult<String> {
    let ok = !text.is_empty()
        && text.len() <= 32
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok && text != "." && text != ".." {
        Ok(text.to_owned())
    } else {
        Err(AppError::BadRequest(msg::bad_segment(what)))
    }
}

/// Uploads a file for a course (with progress), then records it: a section's media key is
/// replaced, or a new material version is added (the latest version is what links serve).
///
/// # Errors
/// `NotFound` for an unknown course or section (or a section of another course);
/// `BadRequest` for bad names or a version that exists; storage and database errors.
pub async fn put(
    ctx: &Delivery<'_>,
    course_id: i64,
    file: &Path,
    target: MediaTarget,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> AppResult<Uploaded> {
    if shop_db::orders::courses(ctx.db, &[course_id]).await?.is_empty() {
        return Err(AppError::NotFound("course"));
    }
    let name = file_name(file)?;
    let (key, record): (String, Box<dyn FnOnce(u64) -> RecordStep + Send>) = match &target {
        MediaTarget::Section(id) => {
            let sec =
                section::Entity::find_by_id(*id).one(ctx.db).await?.ok_or(AppError::NotFound("section"))?;
            let ch = chapter::Entity::find_by_id(sec.chapter_id)
                .one(ctx.db)
                .await?
                .ok_or(AppError::NotFound("section"))?;
            if ch.course_id != course_id {
                return Err(AppError::BadRequest(msg::section_of_other_course(*id, ch.course_id, course_id)));
            }
            let key = format!("courses/{course_id}/sections/{id}/{name}");
            let id = *id;
            (key.clone(), Box::new(move |_| RecordStep::Section { id, key }))
        }
        MediaTarget::Material { name: mname, version } => {
            let mname = segment(mname, "the material name")?;
            let version = segment(version, "the version")?;
            if delivery::material_version(ctx.db, course_id, &mname, &version).await?.is_some() {
                return Err(AppError::BadRequest(msg::version_exists(&mname, &version)));
            }
            let key = format!("courses/{course_id}/materials/{mname}/{version}/{name}");
            let content_type = Storage::content_type(&key);
            let (k, n) = (key.clone(), name.clone());
            (
                key,
                Box::new(move |size| RecordStep::Material {
                    name: mname,
                    version,
                    key: k,
                    filename: n,
                    size,
                    content_type,
                }),
            )
        }
    };
    Storage::validate_key(&key).map_err(|e| AppError::BadRequest(msg::bad_key(e)))?;
    let size = ctx.storage.put_file(&key, file, progress).await.map_err(AppError::Unexpected)?;
    let txn = shop_db::begin_write(ctx.db).await?;
    match record(size) {
        RecordStep::Section { id, key } => {
            section::Entity::update_many()
                .col_expr(section::Column::SectionLink, Expr::value(key))
                .col_expr(section::Column::UpdatedTime, Expr::value(Utc::now()))
                .filter(section::Column::Id.eq(id))
                .exec(&txn)
                .await?;
            shop_db::catalog::bump_revision(&txn, Changed::Courses(&[course_id])).await?;
        }
        RecordStep::Material { name, version, key, filename, size, content_type } => {
            delivery::insert_material(
                &txn,
                material::ActiveModel {
                    course_id: Set(course_id),
                    name: Set(name),
                    version: Set(version),
                    object_key: Set(key),
                    filename: Set(filename),
                    size_bytes: Set(i64::try_from(size).unwrap_or(i64::MAX)),
                    content_type: Set(content_type),
                    created_time: Set(Utc::now()),
                    ..Default::default()
                },
            )
            .await?;
        }
    }
    txn.commit().await?;
    Ok(Uploaded { key, size })
}

enum RecordStep {
    Section { id: i64, key: String },
    Material { name: String, version: String, key: String, filename: String, size: u64, content_type: String },
}

/// A signed, short-lived URL to play a section.
#[derive(Debug, Clone)]
pub struct PlayUrl {
    /// The URL.
    pub url: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A play URL for a section: for its course's owner, or for anyone on a free-trial
/// section.
///
/// # Errors
/// `NotFound` for an unknown section or one without media; `Forbidden` for a non-owner.
pub async fn play_url(ctx: &Delivery<'_>, user_id: i64, section_id: i64) -> AppResult<PlayUrl> {
    let sec = section::Entity::find_by_id(section_id)
        .one(ctx.db)
        .await?
        .filter(|s| s.is_show && !s.is_delete)
        .ok_or(AppError::NotFound("section"))?;
    let ch = chapter::Entity::find_by_id(sec.chapter_id)
        .one(ctx.db)
        .await?
        .ok_or(AppError::NotFound("section"))?;
    if !sec.free_trail {
        let owned = super::access::owned_course_ids(ctx.db, user_id, Some(&[ch.course_id])).await?;
        if !owned.contains(&ch.course_id) {
            return Err(AppError::Forbidden);
        }
    }
    if sec.section_link.is_empty() || Storage::validate_key(&sec.section_link).is_err() {
        return Err(AppError::NotFound("media of this section"));
    }
    if ctx.storage.head(&sec.section_link).await.map_err(AppError::Unexpected)?.is_none() {
        return Err(AppError::NotFound("media of this section"));
    }
    let ttl = Duration::from_secs(ctx.settings.storage.url_ttl_seconds);
    let now = Utc::now();
    let url = ctx
        .storage
        .signed_url(&sec.section_link, ttl, &ctx.public_url, now)
        .await
        .map_err(AppError::Unexpected)?;
    Ok(PlayUrl {
        url,
        expires_at: now + chrono::Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(900)),
    })
}
