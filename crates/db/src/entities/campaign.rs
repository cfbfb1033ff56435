//! `campaigns` table: update emails sent to every buyer of a course.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub course_id: i64,
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    pub new_version: Option<String>,
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub recipients: i32,
    pub created_time: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
