//! `order_details` table.
use sea_orm::entity::prelude::*;
use shop_domain::Money;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_details")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub course_id: i64,
    pub price_fen: Money,
    pub real_price_fen: Money,
    pub orders: i32,
    pub is_show: bool,
    pub is_delete: bool,
    pub created_time: DateTimeUtc,
    pub updated_time: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
