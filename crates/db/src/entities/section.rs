//! `sections` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sections")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub chapter_id: i64,
    pub name: String,
    pub section_type: i16,
    pub section_link: String,
    pub duration: String,
    pub pub_date: DateTimeUtc,
    pub free_trail: bool,
    pub orders: i32,
    pub is_show: bool,
    pub is_delete: bool,
    pub created_time: DateTimeUtc,
    pub updated_time: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
