//! No NUL character reaches the database from a request. Postgres cannot store one in text
//! (it fails the statement), and no field of this API has a use for it, so a request that
//! carries one is refused here, before any handler runs: a path with `%00` is a 404 (it
//! names nothing), a query string with `%00` or a JSON body with `\u0000` (or a raw NUL
//! byte) is a 400, each with the envelope. Alipay's form-encoded notify is not refused here:
//! it answers `fail` and keeps an audit copy with the character replaced
//! (`shop_app::payments`).
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpResponse, web};
use futures_util::StreamExt as _;
use shop_app::i18n::msg;

use crate::error::{ApiError, codes};
use crate::state::State;

/// Whether percent-encoded text (a path or a query string) encodes a NUL character.
fn encodes_nul(text: &str) -> bool {
    text.contains("%00")
}

/// Whether JSON text holds a NUL character: a raw NUL byte, or the escape `\u0000` (an
/// escaped backslash followed by `u0000` is not one).
fn json_has_nul(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0 => return true,
            b'\\' => {
                if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2..i + 6) == Some(b"0000".as_slice()) {
                    return true;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    false
}

/// A payment provider's notification (WeChat Pay's JSON notify): its handler verifies the
/// signature over the raw bytes and answers in the provider's format, so the body is not
/// refused here (the audit row escapes NUL characters).
fn is_provider_notify(req: &ServiceRequest) -> bool {
    let path = shop_app::payments::wechat::NOTIFY_PATH;
    req.path().trim_end_matches('/') == path.trim_end_matches('/')
}

fn is_json(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"))
}

fn refuse<B>(req: ServiceRequest, err: ApiError) -> ServiceResponse<EitherBody<B>> {
    // `ServiceResponse::new` keeps the error attached to the response (`into_response` would
    // drop it), so the answer is localised and counted like any other.
    let (req, _) = req.into_parts();
    ServiceResponse::new(req, HttpResponse::from_error(err)).map_into_right_body()
}

/// The middleware (see the module's documentation).
///
/// # Errors
/// Those of the inner service.
pub async fn refuse_nul<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if encodes_nul(req.path()) {
        return Ok(refuse(req, ApiError::no_route()));
    }
    let nul_text = msg::NUL_IN_REQUEST;
    if encodes_nul(req.query_string()) {
        return Ok(refuse(req, ApiError::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, nul_text.clone())));
    }
    if matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH)
        && is_json(&req)
        && !is_provider_notify(&req)
    {
        let limit = req
            .app_data::<web::Data<State>>()
            .map_or(64 * 1024, |s| s.ctx.settings().server.json_limit_bytes);
        let mut payload = req.take_payload();
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk?;
            if body.len() + chunk.len() > limit {
                let too_large =
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, codes::TOO_LARGE, msg::TOO_LARGE);
                return Ok(refuse(req, too_large));
            }
            body.extend_from_slice(&chunk);
        }
        if json_has_nul(&body) {
            return Ok(refuse(
                req,
                ApiError::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, nul_text.clone()),
            ));
        }
        req.set_payload(actix_web::dev::Payload::from(body.freeze()));
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_found_in_json_and_urls() {
        assert!(json_has_nul(br#"{"username":"a\u0000b"}"#));
        assert!(json_has_nul(b"{\"a\":\"\0\"}"));
        assert!(!json_has_nul(br#"{"username":"a\\u0000b"}"#), "an escaped backslash, then text");
        assert!(!json_has_nul(br#"{"username":"a\u0001b","x":"\\"}"#));
        assert!(!json_has_nul(br#"{"x":"\"}"#));
        assert!(encodes_nul("out_trade_no=%00") && encodes_nul("/api/v1/order/CS%00x/"));
        assert!(!encodes_nul("q=%2500"), "an encoded percent sign followed by 00");
    }
}
