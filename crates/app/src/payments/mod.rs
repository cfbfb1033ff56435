//! Payments: orders, the notifies, status polling with active queries, expiry, refunds,
//! reconciliation, the jobs that close and refund trades, and the development simulators.
//! Every provider sits behind one interface ([`provider::Provider`]); its verified facts go
//! through one set of money rules (`apply`).
//!
//! Money rules (`security-and-ecosystem.md` A2, A3): an order changes state only on a
//! verified notify or a verified `trade.query` answer; every change is one conditional
//! UPDATE inside one transaction with its side effects (outbox rows); a paid order never
//! goes back; money that arrives for a cancelled order is refunded (or granted by policy),
//! never dropped.
mod alipay;
mod apply;
pub mod audit;
mod cashier;
mod context;
#[cfg(test)]
mod differential;
mod expiry;
pub mod gateway;
mod jobs;
mod keys;
mod notify;
mod notify_log;
mod ordering;
mod poll;
pub mod provider;
mod refunds;
pub mod simulator;
mod statement;
pub mod stripe;
pub mod wechat;

pub use cashier::{QrCashier, wechat_cashier};
pub use context::PaymentsContext;
pub use expiry::{ExpiryOutcome, expire_due_orders};
pub use gateway::{Endpoints, Payments};
pub use jobs::PaymentJobs;
pub use notify::{NotifyReply, handle_notify, handle_provider_notify};
pub use ordering::{
    MAX_COURSES, MIN_COURSES, OrderLine, OrderView, Purchase, PurchaseOutcome, create_guest_order,
    create_order, create_order_with_email, enabled_pay_types, order_detail, orders_of,
};
pub use poll::{PaymentState, payment_status};
pub use refunds::{
    ReconcileRow, RefundPreview, RefundRequested, preview_refund, reconcile, refundable, request_refund,
};
pub use statement::BATCH as STATEMENT_BATCH;
pub use statement::{
    APPLIED, DIFFERENCES_SHOWN, Difference, FLAGGED, ReconciliationRun, StatementReport, last_runs,
    reconcile_due_statements, reconcile_statement, reconcile_statement_file, run_differences,
    statement_providers, yesterday_in_beijing,
};
