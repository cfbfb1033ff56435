//! What handlers share: the use-case context and the link builder.
use std::sync::Arc;

use shop_app::AppContext;

use crate::links::Links;

/// Shared by every handler through `web::Data<State>`.
pub struct State {
    /// Use cases' context.
    pub ctx: Arc<AppContext>,
    /// Absolute URL builder.
    pub links: Links,
}
