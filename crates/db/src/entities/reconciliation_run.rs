//! `reconciliation_runs`: one row per reconciliation of a provider's statement of a day.
use sea_orm::entity::prelude::*;
use shop_domain::Money;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reconciliation_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub provider: String,
    /// `YYYY-MM-DD`, Beijing time.
    pub statement_date: String,
    pub started_at: DateTimeUtc,
    pub finished_at: DateTimeUtc,
    pub lines: i64,
    pub matched: i64,
    pub applied: i64,
    pub flagged: i64,
    pub money_in_fen: Money,
    pub money_out_fen: Money,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
