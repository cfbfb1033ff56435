//! The one mapping from errors to HTTP: status, stable `code`, and the `{code, msg}`
//! envelope (plus `errors` per field for validation). Also turns actix's own rejections
//! (bad JSON, bad query, unknown route, wrong method, body too large) into the envelope, and
//! answers a browser on the page routes with an error page instead
//! ([`html_for_browsers`]).
use std::collections::BTreeMap;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, ResponseError, error};
use askama::Template as _;
use serde::Serialize;
use shop_app::AppError;
use shop_app::delivery::DownloadRefusal;
use shop_app::i18n::{Lang, Text, msg};
use shop_app::storage::UrlError;
use utoipa::ToSchema;

use crate::extract::Language;
use crate::html::ErrorPage;

/// Stable machine-readable codes of the envelope. `100` is success; the others are listed in
/// `docs/api.md`.
pub mod codes {
    /// Success.
    pub const OK: i32 = 100;
    /// A negative answer or a failure the contract names 101 (not registered, not paid,
    /// SMS not sent).
    pub const NOT_YET: i32 = 101;
    /// Not a valid mobile number (contract code 102).
    pub const BAD_MOBILE: i32 = 102;
    /// A field failed validation.
    pub const VALIDATION: i32 = 1000;
    /// The request cannot be read (malformed JSON, query or path).
    pub const BAD_REQUEST: i32 = 1001;
    /// The body is too large.
    pub const TOO_LARGE: i32 = 1002;
    /// The method is not allowed on this path.
    pub const METHOD_NOT_ALLOWED: i32 = 1003;
    /// No such resource.
    pub const NOT_FOUND: i32 = 1004;
    /// Unsupported content type.
    pub const UNSUPPORTED_MEDIA_TYPE: i32 = 1005;
    /// Missing or invalid token.
    pub const UNAUTHORIZED: i32 = 1010;
    /// Wrong username or password.
    pub const BAD_CREDENTIALS: i32 = 1011;
    /// Not allowed (or account disabled).
    pub const FORBIDDEN: i32 = 1012;
    /// Wrong, used or expired SMS code.
    pub const BAD_SMS_CODE: i32 = 1013;
    /// Wrong, used or expired email confirmation code.
    pub const BAD_EMAIL_CODE: i32 = 1014;
    /// A console request that changes something came without its session's CSRF token.
    pub const CSRF_REFUSED: i32 = 1015;
    /// A unique value is taken.
    pub const CONFLICT: i32 = 1020;
    /// A download link has no downloads left.
    pub const DOWNLOADS_USED: i32 = 1040;
    /// A download link was revoked (the purchase was refunded).
    pub const LINK_REVOKED: i32 = 1041;
    /// A signed media URL has expired.
    pub const MEDIA_EXPIRED: i32 = 1042;
    /// A media URL's signature is missing, altered or not ours.
    pub const BAD_MEDIA_SIGNATURE: i32 = 1043;
    /// Too many requests.
    pub const RATE_LIMITED: i32 = 1029;
    /// A dependency is unavailable.
    pub const UNAVAILABLE: i32 = 1050;
    /// Internal error.
    pub const INTERNAL: i32 = 1099;
}

/// The error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable error code (see `docs/api.md`).
    #[schema(example = 1000)]
    pub code: i32,
    /// Human-readable message, in the language of `Accept-Language` (`zh` or `en`; the
    /// configured `api.default_language` otherwise).
    #[schema(example = "password: 密码长度须为 8 到 128 个字符")]
    pub msg: String,
    /// Messages per request field, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
}

/// An error on its way to becoming a response (boxed: handlers return it in every
/// `Result`, so it stays one pointer wide).
#[derive(Debug)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    code: i32,
    msg: Text,
    /// The field of a validation error and what is wrong with it.
    field: Option<(String, Text)>,
    retry_after: Option<u64>,
    source: Option<AppError>,
    /// Answered by the router (no route matches), not by one of our handlers.
    routing: bool,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.0.msg, self.0.code)
    }
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: i32, msg: Text) -> Self {
        ApiError(Box::new(Inner {
            status,
            code,
            msg,
            field: None,
            retry_after: None,
            source: None,
            routing: false,
        }))
    }

    /// A 400 for a field.
    pub fn field(field: &str, message: Text) -> Self {
        let mut err = ApiError::new(StatusCode::BAD_REQUEST, codes::VALIDATION, message.prefixed(field));
        err.0.field = Some((field.to_owned(), message));
        err
    }

    /// The 404 of a path no route matches. Not a business error: the compatibility switch
    /// leaves its status alone (a browser asking for `/favicon.ico` must see a 404).
    pub fn no_route() -> Self {
        let mut err = ApiError::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, msg::NO_ROUTE);
        err.0.routing = true;
        err
    }

    /// The envelope in `lang`.
    pub fn body(&self, lang: Lang) -> ErrorBody {
        ErrorBody {
            code: self.0.code,
            msg: self.0.msg.get(lang).to_owned(),
            errors: self
                .0
                .field
                .as_ref()
                .map(|(field, text)| BTreeMap::from([(field.clone(), vec![text.get(lang).to_owned()])])),
        }
    }

    /// The stable code.
    pub fn code(&self) -> i32 {
        self.0.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// Whether this is a client's (business) error, which the compatibility switch answers
    /// with HTTP 200.
    pub fn is_business(&self) -> bool {
        self.0.status.is_client_error() && !self.0.routing
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        let (status, code) = match &err {
            AppError::Validation { .. } => (StatusCode::BAD_REQUEST, codes::VALIDATION),
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, codes::BAD_REQUEST),
            AppError::InvalidMobile => (StatusCode::BAD_REQUEST, codes::BAD_MOBILE),
            AppError::InvalidSmsCode => (StatusCode::BAD_REQUEST, codes::BAD_SMS_CODE),
            AppError::BadEmailCode => (StatusCode::BAD_REQUEST, codes::BAD_EMAIL_CODE),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, codes::NOT_FOUND),
            AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED),
            AppError::InvalidCredentials => (StatusCode::UNAUTHORIZED, codes::BAD_CREDENTIALS),
            AppError::AccountDisabled | AppError::Forbidden => (StatusCode::FORBIDDEN, codes::FORBIDDEN),
            AppError::CsrfRefused => (StatusCode::FORBIDDEN, codes::CSRF_REFUSED),
            AppError::Conflict(_) => (StatusCode::CONFLICT, codes::CONFLICT),
            AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, codes::RATE_LIMITED),
            AppError::SmsNotSent(_) => (StatusCode::SERVICE_UNAVAILABLE, codes::NOT_YET),
            AppError::Unavailable(_) | AppError::DatabaseUnavailable(..) => {
                (StatusCode::SERVICE_UNAVAILABLE, codes::UNAVAILABLE)
            }
            AppError::Unexpected(_) => (StatusCode::INTERNAL_SERVER_ERROR, codes::INTERNAL),
        };
        let mut api = ApiError::new(status, code, err.message());
        if let AppError::Validation { field, message } = &err {
            api.0.field = Some(((*field).to_owned(), message.clone()));
        }
        match &err {
            AppError::RateLimited { retry_after_secs } => api.0.retry_after = Some(*retry_after_secs),
            AppError::DatabaseUnavailable(fault, _) => api.0.retry_after = Some(fault.retry_after_secs()),
            AppError::Unavailable(_) => api.0.retry_after = Some(5),
            _ => {}
        }
        api.0.source = Some(err);
        api
    }
}

impl From<DownloadRefusal> for ApiError {
    fn from(refusal: DownloadRefusal) -> Self {
        let (status, code, msg) = match refusal {
            DownloadRefusal::Unknown => (StatusCode::NOT_FOUND, codes::NOT_FOUND, msg::NO_SUCH_LINK),
            DownloadRefusal::NoFile => (StatusCode::NOT_FOUND, codes::NOT_FOUND, msg::FILE_NOT_READY),
            DownloadRefusal::Exhausted => (StatusCode::GONE, codes::DOWNLOADS_USED, msg::DOWNLOADS_USED),
            DownloadRefusal::Revoked => (StatusCode::GONE, codes::LINK_REVOKED, msg::LINK_REVOKED),
        };
        ApiError::new(status, code, msg)
    }
}

impl From<UrlError> for ApiError {
    fn from(err: UrlError) -> Self {
        match err {
            UrlError::Expired => {
                ApiError::new(StatusCode::FORBIDDEN, codes::MEDIA_EXPIRED, msg::MEDIA_EXPIRED)
            }
            UrlError::BadSignature => {
                ApiError::new(StatusCode::FORBIDDEN, codes::BAD_MEDIA_SIGNATURE, msg::MEDIA_BAD_SIGNATURE)
            }
            UrlError::NotLocal => AppError::NotFound("media").into(),
        }
    }
}

impl ApiError {
    /// A media URL without its `expires` or `signature`: refused like an altered one.
    pub fn unsigned_media() -> Self {
        ApiError::new(StatusCode::FORBIDDEN, codes::BAD_MEDIA_SIGNATURE, msg::MEDIA_UNSIGNED)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        if self.0.status.is_server_error() {
            // Log the cause once, here; the client gets the generic message only.
            tracing::error!(error.code = self.0.code, error.cause = ?self.0.source, "request failed");
        }
        let mut res = HttpResponse::build(self.0.status);
        if let Some(secs) = self.0.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.0.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        // The default language; [`localize`] writes it again in the request's language.
        res.json(self.body(Lang::default()))
    }
}

/// Chooses the language of every answer: puts the [`Lang`] negotiated from
/// `Accept-Language` (default `api.default_language`) into the request's extensions, for
/// handlers ([`Language`]), pages and [`jsonify`], and writes the envelope of an
/// [`ApiError`] in it (an error is rendered without the request, so in the default
/// language, first).
pub async fn localize(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, String>>, actix_web::Error> {
    let lang = Language::of(req.request());
    req.extensions_mut().insert(lang);
    let res = next.call(req).await?;
    let body = match res.response().error().and_then(|e| e.as_error::<ApiError>()) {
        Some(err) if res.response().extensions().get::<Verbatim>().is_none() => {
            serde_json::to_string(&err.body(lang)).ok()
        }
        _ => None,
    };
    let Some(body) = body else { return Ok(res.map_into_left_body()) };
    Ok(res.map_body(|_, _| EitherBody::right(body)))
}

/// Whether the request asks for a page: a browser's `Accept` names `text/html`.
fn wants_html(req: &ServiceRequest) -> bool {
    req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// The one place where an error is answered as HTML or JSON. It wraps the routes a browser
/// opens itself (download links, signed media, the payment result page, the cashier): when
/// the request's `Accept` names `text/html`, an [`ApiError`] is answered with the
/// [`ErrorPage`] (same status and headers, the envelope's message escaped); anyone else, and
/// every other route, gets the JSON envelope. The error stays attached to the response, so
/// the business-errors switch and the 5xx log treat it like any other.
pub async fn html_for_browsers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, String>>, actix_web::Error> {
    let html = wants_html(&req);
    let lang = Language::of(req.request());
    let res = next.call(req).await?;
    let page = match res.response().error().and_then(|e| e.as_error::<ApiError>()) {
        Some(err) if html => ErrorPage::new(lang, err.status(), err.0.msg.get(lang)).render().ok(),
        _ => None,
    };
    let Some(page) = page else { return Ok(res.map_into_left_body()) };
    let mut res = res;
    res.response_mut().extensions_mut().insert(Verbatim);
    res.headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/html; charset=utf-8"));
    Ok(res.map_body(|_, _json| EitherBody::right(page)))
}

/// Rejections of `web::Json`.
pub fn json_error(err: error::JsonPayloadError, _req: &HttpRequest) -> error::Error {
    use error::JsonPayloadError as E;
    let api = match &err {
        E::OverflowKnownLength { .. } | E::Overflow { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, codes::TOO_LARGE, msg::TOO_LARGE)
        }
        E::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::UNSUPPORTED_MEDIA_TYPE,
            msg::BODY_MUST_BE_JSON,
        ),
        E::Deserialize(e) if e.is_data() => {
            ApiError::new(StatusCode::BAD_REQUEST, codes::VALIDATION, msg::invalid_field(e))
        }
        E::Deserialize(e) => {
            ApiError::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, msg::malformed_json(e))
        }
        other => ApiError::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, msg::unreadable_body(other)),
    };
    api.into()
}

/// Rejections of `web::Query`.
pub fn query_error(err: error::QueryPayloadError, _req: &HttpRequest) -> error::Error {
    ApiError::new(StatusCode::BAD_REQUEST, codes::VALIDATION, msg::invalid_query(err)).into()
}

/// Rejections of `web::Path`: a path that does not parse names nothing that exists.
pub fn path_error(_err: error::PathError, _req: &HttpRequest) -> error::Error {
    ApiError::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, msg::NOT_FOUND).into()
}

/// Rejections of `web::Form`.
pub fn form_error(err: error::UrlencodedError, _req: &HttpRequest) -> error::Error {
    use error::UrlencodedError as E;
    match err {
        E::Overflow { .. } => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, codes::TOO_LARGE, msg::TOO_LARGE),
        E::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::UNSUPPORTED_MEDIA_TYPE,
            msg::BODY_MUST_BE_FORM,
        ),
        other => ApiError::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, msg::unreadable_form(other)),
    }
    .into()
}

/// Marks a response whose body was chosen on purpose (Alipay's bare `fail`, an error page),
/// so that [`jsonify`] leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub struct Verbatim;

/// Gives error responses that are not JSON yet (actix's own 404, 405, 413 ...) the envelope,
/// keeping their status and headers (`Allow` on a 405).
pub fn jsonify<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || res.response().extensions().get::<Verbatim>().is_some() {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, text) = match status {
        StatusCode::NOT_FOUND => (codes::NOT_FOUND, msg::NOT_FOUND),
        StatusCode::METHOD_NOT_ALLOWED => (codes::METHOD_NOT_ALLOWED, msg::METHOD_NOT_ALLOWED),
        StatusCode::PAYLOAD_TOO_LARGE => (codes::TOO_LARGE, msg::TOO_LARGE),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (codes::UNSUPPORTED_MEDIA_TYPE, msg::UNSUPPORTED_MEDIA_TYPE),
        s if s.is_server_error() => (codes::INTERNAL, msg::INTERNAL),
        s => (codes::BAD_REQUEST, msg::status_reason(s.canonical_reason().unwrap_or("bad request"))),
    };
    let lang = Language::of(res.request());
    let msg = text.get(lang).to_owned();
    let body = serde_json::to_string(&ErrorBody { code, msg, errors: None }).unwrap_or_default();
    let (req, mut response) = res.into_parts();
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    let response = response.set_body(body).map_into_boxed_body().map_into_right_body();
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, response)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_chinese(text: &str) -> bool {
        text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    /// Every error the mapping knows, with the code it must get: each has a message in both
    /// languages (the API tests check most of them through the server too).
    #[test]
    fn every_code_has_a_chinese_and_an_english_message() {
        let errors: Vec<(ApiError, i32)> = vec![
            (AppError::invalid("password", msg::REQUIRED).into(), codes::VALIDATION),
            (AppError::BadRequest(msg::CAMPAIGN_EMPTY).into(), codes::BAD_REQUEST),
            (AppError::InvalidMobile.into(), codes::BAD_MOBILE),
            (AppError::InvalidSmsCode.into(), codes::BAD_SMS_CODE),
            (AppError::BadEmailCode.into(), codes::BAD_EMAIL_CODE),
            (AppError::NotFound("order").into(), codes::NOT_FOUND),
            (AppError::Unauthorized(msg::TOKEN_EXPIRED).into(), codes::UNAUTHORIZED),
            (AppError::InvalidCredentials.into(), codes::BAD_CREDENTIALS),
            (AppError::AccountDisabled.into(), codes::FORBIDDEN),
            (AppError::Forbidden.into(), codes::FORBIDDEN),
            (AppError::Conflict(msg::already_own(Some(2))).into(), codes::CONFLICT),
            (AppError::RateLimited { retry_after_secs: 30 }.into(), codes::RATE_LIMITED),
            (AppError::SmsNotSent("gateway said no".into()).into(), codes::NOT_YET),
            (AppError::Unavailable("the database does not answer".into()).into(), codes::UNAVAILABLE),
            (AppError::Unexpected(anyhow::anyhow!("secret cause")).into(), codes::INTERNAL),
            (DownloadRefusal::Unknown.into(), codes::NOT_FOUND),
            (DownloadRefusal::NoFile.into(), codes::NOT_FOUND),
            (DownloadRefusal::Exhausted.into(), codes::DOWNLOADS_USED),
            (DownloadRefusal::Revoked.into(), codes::LINK_REVOKED),
            (UrlError::Expired.into(), codes::MEDIA_EXPIRED),
            (UrlError::BadSignature.into(), codes::BAD_MEDIA_SIGNATURE),
            (ApiError::unsigned_media(), codes::BAD_MEDIA_SIGNATURE),
            (ApiError::no_route(), codes::NOT_FOUND),
            (ApiError::field("page", msg::POSITIVE_INTEGER), codes::VALIDATION),
        ];
        for (err, code) in errors {
            let (zh, en) = (err.body(Lang::Zh), err.body(Lang::En));
            assert_eq!((zh.code, en.code), (code, code), "{err}");
            assert!(is_chinese(&zh.msg), "{err}: {}", zh.msg);
            assert!(!is_chinese(&en.msg) && !en.msg.is_empty(), "{err}: {}", en.msg);
            if let (Some(z), Some(e)) = (&zh.errors, &en.errors) {
                assert_ne!(z, e, "{err}: field messages in both languages");
            }
            assert!(!en.msg.contains("secret cause") && !en.msg.contains("gateway said no"), "{}", en.msg);
        }
    }

    #[test]
    fn only_routing_404s_escape_the_compatibility_switch() {
        assert!(!ApiError::no_route().is_business());
        assert!(ApiError::from(AppError::NotFound("course")).is_business());
        assert!(!ApiError::from(AppError::Unavailable("x".into())).is_business());
    }
}
