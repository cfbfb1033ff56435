//! The OpenAPI 3.1 document, generated from the handlers' annotations. It is served at
//! `/openapi.json`, printed by `course-shop openapi`, and committed at
//! `openapi/openapi.json` (a test fails when the two differ).
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::handlers::{admin, course, delivery, health, home, order, user};

/// Registers the JWT security scheme.
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
        order::pay,
        order::alipay,
        order::notify,
        order::status,
        order::list,
        order::detail,
        delivery::mine,
        delivery::play,
        delivery::download,
        admin::sales,
        health::healthz,
        health::readyz,
    ),
    modifiers(&JwtScheme),
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
