//! The security headers of every answer, in one place (one middleware, outermost, so that
//! errors, CORS preflights, files and Swagger UI get them too):
//!
//! * `X-Content-Type-Options: nosniff` on every answer: browsers take the declared type.
//! * `Referrer-Policy: no-referrer` on every answer: our URLs can carry secrets (the signed
//!   query of the payment result page, download tokens, signed media URLs) and nothing we
//!   serve needs the `Referer` of a request.
//! * On documents a browser renders (HTML pages: payment result, development cashier, download
//!   refusals, Swagger UI; and SVG images), [`CONTENT_SECURITY_POLICY`] and
//!   `X-Frame-Options: DENY` (for browsers without `frame-ancestors`): no framing, scripts
//!   only from this server, no plugins, no `<base>`.
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;

/// The policy of rendered documents. Swagger UI needs its own scripts and styles (no inline
/// script; React sets inline styles), `data:` images from its stylesheet, and fetches the
/// spec and "Try it out" calls from this origin; our own pages need inline styles only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Whether a content type is a document a browser renders and runs scripts in.
fn is_document(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("text/html") || essence.eq_ignore_ascii_case("image/svg+xml")
}

fn add(headers: &mut HeaderMap) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    let document = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(is_document);
    if document {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
}

/// Adds the headers to every answer, including errors that inner layers return as `Err`
/// (their response is made later, by the server).
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    match next.call(req).await {
        Ok(mut res) => {
            add(res.headers_mut());
            Ok(res)
        }
        Err(mut e) => {
            e.add_response_mapper(|mut res| {
                add(res.headers_mut());
                res
            });
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_html_and_svg() {
        for ct in ["text/html", "text/html; charset=utf-8", "TEXT/HTML;charset=UTF-8", "image/svg+xml"] {
            assert!(is_document(ct), "{ct}");
        }
        for ct in ["application/json", "text/plain", "image/png", "application/javascript", "text/htmlx"] {
            assert!(!is_document(ct), "{ct}");
        }
    }
}
