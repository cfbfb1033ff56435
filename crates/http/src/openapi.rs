//! The OpenAPI 3.1 document, generated from the handlers' annotations. It is served at
//! `/openapi.json`, printed by `course-shop openapi`, and committed at
//! `openapi/openapi.json` (a test fails when the two differ).
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::handlers::{
    admin, admin_campaigns, admin_catalog, admin_orders, course, delivery, guest, health, home, order,
    stripe, user, wechat,
};

/// Registers the security schemes: the JWT of the API, the session cookie of the console.
struct JwtScheme;

impl Modify for JwtScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        http.description = Some(
            "The token of a login answer. Send `Authorization: jwt <token>` (the Luffy front end), \
             `JWT <token>` or `Bearer <token>`; Swagger UI sends Bearer."
                .into(),
        );
        components.add_security_scheme("jwt", SecurityScheme::Http(http));
        components.add_security_scheme(
            "console",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "console_session",
                "The session cookie of the seller's console (`POST /api/v1/admin/session/`). Every \
                 POST of a session must also send the session's CSRF token as `X-CSRF-Token` \
                 (403, code 1015, without it); a bearer token needs none.",
            ))),
        );
    }
}

/// Paths whose handlers never reach the database (they read the in-memory catalog, or
/// nothing): every other operation may answer 503 when the database is unavailable.
pub const WITHOUT_DATABASE: [&str; 4] =
    ["/healthz", "/api/v1/home/banner/", "/api/v1/course/category/", "/api/v1/course/chapter/"];

/// The answers every operation of a kind can give, stated once here instead of on each
/// handler: a JSON body can be malformed (400), too large (413) or not JSON (415); an
/// operation that uses the database answers 503 (code 1050, `Retry-After`) while it is
/// unavailable.
struct SharedResponses;

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
        )
        .build()
        .into()
}

fn add_response(op: &mut Operation, status: &str, description: &str) {
    op.responses.responses.entry(status.to_owned()).or_insert_with(|| error_response(description));
}

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            for op in [&mut item.get, &mut item.post, &mut item.patch].into_iter().flatten() {
                let json_body = matches!(&op.request_body,
                    Some(RefOr::T(body)) if body.content.contains_key("application/json"));
                if json_body {
                    add_response(
                        op,
                        "400",
                        "The body is malformed or a field is invalid (`errors` names it)",
                    );
                    add_response(op, "413", "The body is larger than `server.json_limit_bytes` (code 1002)");
                    add_response(op, "415", "The body is missing or not JSON (code 1005)");
                }
                if !WITHOUT_DATABASE.contains(&path.as_str()) && !op.responses.responses.contains_key("503") {
                    add_response(op, "503", "The database is unavailable (code 1050); see Retry-After");
                }
            }
        }
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "course-shop API",
        description = "JSON REST API of the course shop behind the Luffy City Vue front end: catalog, \
                       search, accounts. Action endpoints answer `{code, msg, ...}` with code 100 on \
                       success; errors use the right HTTP status with `{code, msg}` (see docs/api.md for \
                       the codes). Lists are DRF-style pages `{count, next, previous, results}`.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        home::banner,
        course::categories,
        course::list,
        course::detail,
        course::chapters,
        course::search,
        user::mul_login,
        user::mobile,
        user::send_sms,
        user::mobile_login,
        user::mobile_register,
        user::me,
        user::update_me,
        user::verify_email,
        order::pay,
        order::alipay,
        wechat::notify,
        stripe::webhook,
        order::notify,
        order::status,
        order::list,
        order::detail,
        delivery::mine,
        delivery::play,
        delivery::download,
        guest::purchase_page,
        admin::login,
        admin::session,
        admin::logout,
        admin::sales,
        admin_campaigns::send,
        admin_campaigns::history,
        admin_catalog::catalog,
        admin_catalog::save_category,
        admin_catalog::save_teacher,
        admin_catalog::save_course,
        admin_catalog::save_chapter,
        admin_catalog::save_section,
        admin_catalog::put_cover,
        admin_catalog::put_media,
        admin_catalog::save_banner,
        admin_catalog::banners,
        admin_catalog::put_banner_image,
        admin_catalog::put_teacher_image,
        admin_catalog::delete_catalog_row,
        admin_orders::search,
        admin_orders::detail,
        admin_orders::refund,
        health::healthz,
        health::readyz,
    ),
    modifiers(&JwtScheme, &SharedResponses),
    tags(
        (name = "home", description = "Home page"),
        (name = "course", description = "Catalog and search"),
        (name = "user", description = "Accounts and login"),
        (name = "order", description = "Orders and Alipay payment"),
        (name = "delivery", description = "Access, media and download links"),
        (name = "admin", description = "Administrators only"),
        (name = "health", description = "Liveness and readiness")
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON with a trailing newline (the committed form).
pub fn spec_json() -> String {
    let mut text = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}
