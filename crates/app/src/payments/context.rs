//! What the payments use cases may use: the database, the settings, the catalog (prices) and
//! the payment side (providers, simulators, status cache). Narrower than `AppContext` (no
//! tokens, SMS, storage or mail); every public use case of `payments` takes anything that
//! gives one (`&AppContext`, `&Arc<AppContext>`, `&PaymentsContext`).
use std::sync::Arc;

use sea_orm::DatabaseConnection;

use super::gateway::Payments;
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::context::AppContext;

/// The payments use cases' context. Cheap to clone (every part is shared).
#[derive(Clone)]
pub struct PaymentsContext {
    /// The pool.
    pub db: DatabaseConnection,
    /// The settings.
    pub settings: Arc<Settings>,
    /// The in-memory catalog (courses and prices the buyer saw).
    pub catalog: Arc<Catalog>,
    /// The providers, simulators and status cache.
    pub payments: Arc<Payments>,
}

impl From<&AppContext> for PaymentsContext {
    fn from(ctx: &AppContext) -> Self {
        PaymentsContext {
            db: ctx.db.clone(),
            settings: Arc::clone(&ctx.settings),
            catalog: Arc::clone(&ctx.catalog),
            payments: Arc::clone(&ctx.payments),
        }
    }
}

impl From<&Arc<AppContext>> for PaymentsContext {
    fn from(ctx: &Arc<AppContext>) -> Self {
        PaymentsContext::from(ctx.as_ref())
    }
}

impl From<&PaymentsContext> for PaymentsContext {
    fn from(ctx: &PaymentsContext) -> Self {
        ctx.clone()
    }
}
