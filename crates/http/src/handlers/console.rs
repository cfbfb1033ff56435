//! The seller's console (`/admin/`): pages rendered on the server (askama templates in
//! `templates/console/`), with the console's own script and stylesheet served from the
//! binary. A page only shows; every change is a call of the admin API (`/api/v1/admin/`)
//! that the page's script sends with the session's CSRF token.
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use shop_app::AppError;
use shop_app::console::{self, ConsoleSession};

use crate::console_text::{LANG_COOKIE, Lang, Texts};
use crate::error::ApiError;
use crate::extract::SESSION_COOKIE;
use crate::html;
use crate::state::State;

/// What every console page shows around its content.
pub struct Chrome {
    /// The page's language.
    pub lang: Lang,
    /// The session's CSRF token (empty when logged out).
    pub csrf: String,
    /// The administrator's username (empty when logged out).
    pub user: String,
}

impl Chrome {
    fn of(lang: Lang, session: Option<&ConsoleSession>) -> Self {
        Chrome {
            lang,
            csrf: session.map(|s| s.csrf_token.clone()).unwrap_or_default(),
            user: session.map(|s| s.user.username.clone()).unwrap_or_default(),
        }
    }
}

/// The login page.
#[derive(Template)]
#[template(path = "console/login.html")]
pub struct LoginPage {
    /// Around the page.
    pub c: Chrome,
    /// Texts.
    pub t: &'static Texts,
}

/// The console's home page.
#[derive(Template)]
#[template(path = "console/home.html")]
pub struct HomePage {
    /// Around the page.
    pub c: Chrome,
    /// Texts.
    pub t: &'static Texts,
}

/// The session of a page request, or the answer that sends the browser to the login page.
pub(crate) async fn page_session(
    state: &State,
    req: &HttpRequest,
) -> Result<Result<ConsoleSession, HttpResponse>, ApiError> {
    let to_login = || HttpResponse::SeeOther().insert_header((header::LOCATION, "/admin/login/")).finish();
    let Some(cookie) = req.cookie(SESSION_COOKIE) else { return Ok(Err(to_login())) };
    match console::authenticate(&state.ctx, cookie.value()).await {
        Ok(session) => Ok(Ok(session)),
        Err(AppError::Unauthorized(_)) => Ok(Err(to_login())),
        Err(e) => Err(e.into()),
    }
}

/// A `200 OK` page; remembers a language chosen with `?lang=`.
pub(crate) fn render(req: &HttpRequest, template: &impl Template) -> Result<HttpResponse, ApiError> {
    let mut res = html::page(template)?;
    let chosen = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, v)| k == "lang" && (v == "zh" || v == "en"))
        .map(|(_, v)| v.into_owned());
    if let Some(lang) = chosen {
        let cookie = Cookie::build(LANG_COOKIE, lang)
            .path("/admin/")
            .same_site(SameSite::Strict)
            .max_age(time::Duration::days(365))
            .finish();
        res.add_cookie(&cookie).map_err(|e| AppError::Unexpected(anyhow::anyhow!("a cookie: {e}")))?;
    }
    res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `GET /admin/login/`: the login form (the console's home when already logged in).
pub async fn login_page(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if page_session(&state, &req).await?.is_ok() {
        return Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, "/admin/")).finish());
    }
    let lang = Lang::of(&req);
    render(&req, &LoginPage { c: Chrome::of(lang, None), t: lang.texts() })
}

/// `GET /admin/`: the console's home page.
pub async fn home(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let session = match page_session(&state, &req).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    let lang = Lang::of(&req);
    render(&req, &HomePage { c: Chrome::of(lang, Some(&session)), t: lang.texts() })
}

const CONSOLE_JS: &str = include_str!("../../static/console.js");
const CONSOLE_CSS: &str = include_str!("../../static/console.css");

/// `GET /admin/static/{file}`: the console's script and stylesheet, from the binary.
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (body, content_type) = match file.as_str() {
        "console.js" => (CONSOLE_JS, "text/javascript; charset=utf-8"),
        "console.css" => (CONSOLE_CSS, "text/css; charset=utf-8"),
        _ => return Err(AppError::NotFound("console file").into()),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body))
}
