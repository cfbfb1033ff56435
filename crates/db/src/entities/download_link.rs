//! `download_links` table: private per-purchase links with a download limit.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "download_links")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub token: String,
    pub order_id: i64,
    pub user_id: i64,
    pub course_id: i64,
    pub material_name: String,
    pub issue_key: String,
    pub downloads_left: i32,
    pub max_downloads: i32,
    pub created_time: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_download_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
