//! Use cases of course-shop: accounts, catalog and search, configuration. One transaction
//! per use case; no HTTP and no OpenAPI here (that is `shop-http`).
pub mod accounts;
pub mod auth;
pub mod buyers;
pub mod catalog;
pub mod config;
pub mod console;
pub mod context;
pub mod delivery;
pub mod error;
pub mod funnel;
pub mod guests;
pub mod i18n;
pub mod jobs;
pub mod limits;
pub mod mail;
pub mod payments;
pub mod sms;
pub mod storage;
#[cfg(test)]
mod test_support;
pub mod worker;

pub use context::AppContext;
pub use error::{AppError, AppResult};
