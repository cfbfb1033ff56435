//! Request extractors: the authenticated user and the client's address.
use std::future::{Ready, ready};

use actix_web::HttpMessage as _;
use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use shop_app::AppError;
use shop_app::accounts::{self, UserView};
use shop_app::console::{self, ConsoleSession};
use shop_app::i18n::{Lang, Text, msg};

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

/// The buyer of an order: the user of a valid token when an `Authorization` header is sent
/// (an invalid one is refused as by [`AuthUser`]), nobody without one (a guest checkout).
#[derive(Debug, Clone, Copy)]
pub struct UserOrGuest(pub Option<i64>);

impl FromRequest for UserOrGuest {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.headers().contains_key(header::AUTHORIZATION) {
            return ready(AuthUser::from_request(req, payload).into_inner().map(|u| UserOrGuest(Some(u.0))));
        }
        ready(Ok(UserOrGuest(None)))
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

/// The cookie of a console session (`/admin/`).
pub const SESSION_COOKIE: &str = "console_session";

/// The header a console page sends its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An administrator, checked on the server for every request: either a bearer token (a
/// script; no CSRF token needed, a browser never adds that header by itself) or a console
/// session cookie, whose requests other than GET/HEAD must carry the session's CSRF token in
/// `X-CSRF-Token`. The account must still be an active administrator.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The administrator.
    pub user: UserView,
    /// The console session, when the request came with its cookie.
    pub session: Option<ConsoleSession>,
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<State>>().cloned();
        let bearer =
            req.headers().contains_key(header::AUTHORIZATION).then(|| bearer_token(req).map(str::to_owned));
        let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let csrf = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Box::pin(async move {
            let state = state.ok_or_else(|| {
                AppError::Unexpected(anyhow::anyhow!("application state is not registered"))
            })?;
            match (bearer, cookie) {
                (Some(token), _) => {
                    let id = state.ctx.tokens().verify(&token?)?;
                    Ok(Admin {
                        user: accounts::require_admin(&state.ctx.accounts(), id).await?,
                        session: None,
                    })
                }
                (None, Some(cookie)) => {
                    let session = console::authenticate(&state.ctx, &cookie).await?;
                    if changes {
                        console::check_csrf(&session, csrf.as_deref())?;
                    }
                    Ok(Admin { user: session.user.clone(), session: Some(session) })
                }
                (None, None) => Err(AppError::Unauthorized(Text::fixed(
                    "仅限管理员：请发送令牌或登录控制台",
                    "administrators only: send a bearer token or log in to the console",
                ))
                .into()),
            }
        })
    }
}
