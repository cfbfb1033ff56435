//! Liveness and readiness.
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::state::State;

/// Health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    #[schema(example = "ok")]
    pub status: String,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".into() })
}

/// The process can serve: the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses((status = 200, body = Health), (status = 503, description = "The database does not answer", body = ErrorBody))
)]
pub async fn readyz(state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    state.ctx.ping_database().await?;
    Ok(HttpResponse::Ok().json(Health { status: "ready".into() }))
}
