//! `chapters` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chapters")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub course_id: i64,
    pub chapter: i32,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    pub pub_date: DateTimeUtc,
    pub orders: i32,
    pub is_show: bool,
    pub is_delete: bool,
    pub created_time: DateTimeUtc,
    pub updated_time: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
