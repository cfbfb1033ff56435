//! `reconciliation_lines`: what a reconciliation run applied or flagged.
use sea_orm::entity::prelude::*;
use shop_domain::Money;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reconciliation_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub run_id: i64,
    /// `applied` or `flagged`.
    pub outcome: String,
    pub kind: String,
    pub trade_no: String,
    pub out_trade_no: String,
    pub amount_fen: Money,
    #[sea_orm(column_type = "Text")]
    pub note: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
