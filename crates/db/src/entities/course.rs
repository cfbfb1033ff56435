//! `courses` table.
use sea_orm::entity::prelude::*;
use shop_domain::Money;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "courses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub course_type: i16,
    pub course_category_id: Option<i64>,
    pub teacher_id: i64,
    pub course_img: String,
    #[sea_orm(column_type = "Text")]
    pub brief: String,
    pub level: i16,
    pub status: i16,
    pub price_fen: Money,
    pub period: i32,
    pub attachment_path: String,
    pub students: i32,
    pub pub_sections: i32,
    pub sections: i32,
    pub orders: i32,
    pub is_show: bool,
    pub is_delete: bool,
    pub created_time: DateTimeUtc,
    pub updated_time: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
