//! The actix-web adapter of course-shop: routes of the Luffy front end's contract, the
//! error envelope, extractors, OpenAPI and Swagger UI, server start-up.
pub mod charts;
pub mod console_text;
pub mod dto;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod html;
pub mod links;
pub mod log_writer;
mod nul;
pub mod openapi;
pub mod request_log;
pub mod schemas;
pub mod security_headers;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use openapi::{ApiDoc, spec_json};
pub use startup::Application;
