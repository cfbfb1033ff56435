//! `orders` table.
use sea_orm::entity::prelude::*;
use shop_domain::Money;
use shop_domain::order::OrderStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subject: String,
    pub total_amount_fen: Money,
    #[sea_orm(unique)]
    pub out_trade_no: String,
    pub trade_no: Option<String>,
    pub order_status: OrderStatus,
    pub pay_type: i16,
    pub pay_time: Option<DateTimeUtc>,
    pub user_id: i64,
    pub expires_at: Option<DateTimeUtc>,
    pub refunded_fen: Money,
    #[sea_orm(column_type = "Text", nullable)]
    pub pay_url: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    pub last_query_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub orders: i32,
    pub is_show: bool,
    pub is_delete: bool,
    pub created_time: DateTimeUtc,
    pub updated_time: DateTimeUtc,
    /// Where the delivery goes for a buyer without a confirmed email (given at checkout).
    pub delivery_email: Option<String>,
    pub purchase_token_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
