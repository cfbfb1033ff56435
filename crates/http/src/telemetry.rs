//! Structured logs, set up once per process, and what they may say about a request's URL.
use std::borrow::Cow;

use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the global subscriber: `RUST_LOG` if set, else `filter`; JSON lines when
/// `format` is `json`. Safe to call more than once (later calls do nothing).
pub fn init(format: &str, filter: &str) {
    init_with(format, filter, false);
}

/// As [`init`], writing to standard error when `to_stderr` (the operator commands, whose
/// standard output is their result, e.g. `--json` documents).
pub fn init_with(format: &str, filter: &str, to_stderr: bool) {
    let env_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt().with_env_filter(env_filter).with_span_events(FmtSpan::NONE);
    let _ = match (format == "json", to_stderr) {
        (true, false) => builder.json().flatten_event(true).with_current_span(true).try_init(),
        (true, true) => {
            builder.json().flatten_event(true).with_current_span(true).with_writer(std::io::stderr).try_init()
        }
        (false, false) => builder
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init(),
        (false, true) => builder
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .try_init(),
    };
}

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// A query parameter whose name (decoded, in any case) contains one of these has its value
/// redacted: personal data (mobile numbers, email addresses, Alipay's `buyer_*`), secrets
/// (codes, tokens, passwords) and signatures (`sign`, `signature`).
const SENSITIVE_NAMES: [&str; 9] =
    ["mobile", "phone", "email", "buyer", "code", "token", "password", "secret", "sign"];

/// Paths whose rest is a secret: private download links (`/d/{token}`) and purchase pages
/// (`/p/{token}`).
const SECRET_PATH_PREFIXES: [&str; 2] = ["/d/", "/p/"];

fn sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SENSITIVE_NAMES.iter().any(|s| name.contains(s))
}

/// A request target (path and query) as it may be logged: the secret part of a download path
/// and the values of personal, secret or signed query parameters replaced with
/// [`REDACTED`]; the rest as sent. Every log line that shows a request's path or target
/// goes through this function.
pub fn redact_target(target: &str) -> Cow<'_, str> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let secret_path = SECRET_PATH_PREFIXES.iter().find(|p| path.len() > p.len() && path.starts_with(*p));
    let query_is_clean = query.is_none_or(|q| {
        q.split('&').all(|pair| {
            url::form_urlencoded::parse(pair.as_bytes()).next().is_none_or(|(name, _)| !sensitive(&name))
        })
    });
    if secret_path.is_none() && query_is_clean {
        return Cow::Borrowed(target);
    }
    let mut out = match secret_path {
        Some(prefix) => format!("{prefix}{REDACTED}"),
        None => path.to_owned(),
    };
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            let hide =
                url::form_urlencoded::parse(pair.as_bytes()).next().is_some_and(|(name, _)| sensitive(&name));
            match pair.split_once('=') {
                Some((name, _)) if hide => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(REDACTED);
                }
                _ if hide => out.push_str(REDACTED),
                _ => out.push_str(pair),
            }
        }
    }
    Cow::Owned(out)
}

/// tracing-actix-web's root span of a request, with the same fields as its default
/// (OpenTelemetry's names), except that `http.target` is [`redact_target`]ed: every event
/// logged while the request runs carries this span's fields.
pub struct RedactedRootSpan;

impl RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let target = request.uri().path_and_query().map_or("", |p| p.as_str());
        let user_agent = request.headers().get("User-Agent").and_then(|h| h.to_str().ok()).unwrap_or("");
        let route = request.match_pattern().unwrap_or_else(|| "default".to_owned());
        let request_id = request.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default();
        let connection = request.connection_info();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.flavor = ?request.version(),
            http.scheme = %connection.scheme(),
            http.host = %connection.host(),
            http.client_ip = %connection.realip_remote_addr().unwrap_or(""),
            http.user_agent = %user_agent,
            http.target = %redact_target(target),
            http.status_code = Empty,
            otel.name = %format!("{} {route}", request.method()),
            otel.kind = "server",
            otel.status_code = Empty,
            request_id = %request_id,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_secret_and_signed_values_are_redacted() {
        for (target, logged) in [
            (
                "/api/v1/user/user/send_sms/?mobile=13812345678",
                "/api/v1/user/user/send_sms/?mobile=[redacted]",
            ),
            ("/api/v1/user/user/mobile/?MOBILE=13812345678", "/api/v1/user/user/mobile/?MOBILE=[redacted]"),
            // The name as the server decodes it counts, however it is spelled on the wire.
            (
                "/api/v1/user/user/mobile/?mob%69le=13812345678",
                "/api/v1/user/user/mobile/?mob%69le=[redacted]",
            ),
            (
                "/pay/result/?out_trade_no=CS1&total_amount=1.00&buyer_logon_id=a%40b.com&sign=AbC%3D&sign_type=RSA2",
                "/pay/result/?out_trade_no=CS1&total_amount=1.00&buyer_logon_id=[redacted]&sign=[redacted]&sign_type=[redacted]",
            ),
            (
                "/x?email=a@b.com&code=123456&token=t&password=p&secret=s",
                "/x?email=[redacted]&code=[redacted]&token=[redacted]&password=[redacted]&secret=[redacted]",
            ),
            (
                "/media/private/c/1/v.mp4?expires=1700000600&signature=abcd",
                "/media/private/c/1/v.mp4?expires=1700000600&signature=[redacted]",
            ),
            ("/x?phone", "/x?[redacted]"),
            ("/d/SECRETTOKEN", "/d/[redacted]"),
            ("/d/SECRETTOKEN?mobile=1", "/d/[redacted]?mobile=[redacted]"),
            ("/p/SECRETTOKEN", "/p/[redacted]"),
        ] {
            assert_eq!(redact_target(target), logged, "{target}");
        }
    }

    #[test]
    fn other_targets_are_logged_as_sent() {
        for target in [
            "/api/v1/course/search/?search=python&page=2",
            "/api/v1/order/success/?out_trade_no=CS2026",
            "/api/v1/course/list/?ordering=-students&course_category=1",
            "/api/v1/order/CS2026/",
            "/d/",
            "/docs/",
            "/x?&=&a",
            "",
        ] {
            assert!(matches!(redact_target(target), Cow::Borrowed(t) if t == target), "{target}");
        }
    }
}
