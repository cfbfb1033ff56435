//! Request extractors: the authenticated user and the client's address.
use std::future::{Ready, ready};

use actix_web::HttpMessage as _;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use shop_app::AppError;
use shop_app::i18n::{Lang, msg};

use crate::error::ApiError;
use crate::state::State;

/// The user id of a valid `Authorization: jwt|JWT|Bearer <token>` header.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub i64);

fn bearer_token(req: &HttpRequest) -> Result<&str, AppError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(AppError::Unauthorized(msg::AUTH_MISSING))?
        .to_str()
        .map_err(|_| AppError::Unauthorized(msg::AUTH_MALFORMED))?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AppError::Unauthorized(msg::AUTH_MALFORMED))?;
    if !(scheme.eq_ignore_ascii_case("jwt") || scheme.eq_ignore_ascii_case("bearer")) {
        return Err(AppError::Unauthorized(msg::AUTH_SCHEME));
    }
    Ok(token.trim())
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = (|| {
            let state = req.app_data::<web::Data<State>>().ok_or_else(|| {
                AppError::Unexpected(anyhow::anyhow!("application state is not registered"))
            })?;
            let token = bearer_token(req)?;
            state.ctx.tokens().verify(token).map(AuthUser)
        })();
        ready(result.map_err(ApiError::from))
    }
}

/// The client's address: the peer, or with `server.trusted_proxy_hops = N` the N-th
/// `X-Forwarded-For` entry from the right (the first one our proxies did not add).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl FromRequest for ClientAddr {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let hops =
            req.app_data::<web::Data<State>>().map_or(0, |s| s.ctx.settings().server.trusted_proxy_hops);
        let peer = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into());
        let forwarded = (hops > 0)
            .then(|| req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()))
            .flatten()
            .and_then(|list| {
                let entries: Vec<&str> = list.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
                entries.len().checked_sub(hops).and_then(|i| entries.get(i)).map(|e| (*e).to_owned())
            });
        ready(Ok(ClientAddr(forwarded.unwrap_or(peer))))
    }
}

/// The user of a valid token, or nobody: public endpoints that show more to a logged-in
/// user (whether a course is owned) treat a missing or invalid token as anonymous.
#[derive(Debug, Clone, Copy)]
pub struct MaybeUser(pub Option<i64>);

impl FromRequest for MaybeUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = req.app_data::<web::Data<State>>().and_then(|state| {
            let token = bearer_token(req).ok()?;
            state.ctx.tokens().verify(token).ok()
        });
        ready(Ok(MaybeUser(user)))
    }
}

/// The language of the answer (see [`crate::error::localize`]): what handlers write `msg` and
/// pages in.
#[derive(Debug, Clone, Copy)]
pub struct Language(pub Lang);

impl Language {
    /// The language of `req`: the one [`crate::error::localize`] negotiated, else negotiated
    /// here with the configured default.
    pub fn of(req: &HttpRequest) -> Lang {
        if let Some(lang) = req.extensions().get::<Lang>() {
            return *lang;
        }
        let default =
            req.app_data::<web::Data<State>>().map_or(Lang::Zh, |s| s.ctx.settings().api.default_language);
        Lang::negotiate(req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()), default)
    }
}

impl FromRequest for Language {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Language(Language::of(req))))
    }
}
