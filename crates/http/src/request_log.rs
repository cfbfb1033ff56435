//! One log line per request, made cheap: request id, method, route pattern, status and
//! latency, formatted by hand into a reused buffer and handed to the non-blocking
//! [`LogWriter`](crate::log_writer::LogWriter). No span per request: the request id reaches
//! the other events logged while the request runs through a task-local value
//! ([`current_request_id`]), which [`crate::telemetry`] adds to them.
//!
//! What the line never holds: the path as sent, the query string, headers (`Authorization`,
//! cookies), the body, the client's address. The route is the pattern that matched (e.g.
//! `/api/v1/order/{out_trade_no}/`, `/d/{token}`), so no value a client sent is in it.
use std::cell::RefCell;
use std::fmt;
use std::io::Write as _;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use uuid::Uuid;

use crate::state::State;

/// The `tracing` target of the request line: `RUST_LOG`/`log.filter` directives for it turn
/// the line on or off (e.g. `info,shop_http::request_log=off`).
pub const TARGET: &str = "shop_http::request_log";

/// The route logged for a request no route matched.
pub const UNMATCHED: &str = "default";

/// A request's id: a UUID v7, sent back as `X-Request-Id` and written in its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(Uuid);

impl RequestId {
    /// A new id.
    pub fn generate() -> Self {
        RequestId(Uuid::now_v7())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

tokio::task_local! {
    static REQUEST_ID: RequestId;
}

/// Runs `f` as code of the request `id` ([`current_request_id`] answers `id`).
pub fn in_request<R>(id: RequestId, f: impl FnOnce() -> R) -> R {
    REQUEST_ID.sync_scope(id, f)
}

/// The id of the request whose handler is running on this task, if any.
pub fn current_request_id() -> Option<RequestId> {
    REQUEST_ID.try_with(|id| *id).ok()
}

/// The log line's format: `log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    /// One JSON object, as the other lines of the `json` format.
    Json,
    /// `key=value` pairs, as the other lines of the `pretty` format.
    Plain,
}

/// What one request line says.
#[derive(Debug, Clone, Copy)]
pub struct RequestLine<'a> {
    pub id: RequestId,
    pub method: &'a str,
    /// The matched route pattern, or [`UNMATCHED`].
    pub route: &'a str,
    pub status: u16,
    pub elapsed: Duration,
}

/// `fmt::Write` onto bytes, for the shared timestamp formatter.
struct Bytes<'a>(&'a mut Vec<u8>);

impl fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl RequestLine<'_> {
    /// Appends the line, with its newline, to `out`: the timestamp as the other log lines
    /// have it (`tracing_subscriber`'s `SystemTime`, UTC, microseconds).
    pub fn write(&self, format: LineFormat, out: &mut Vec<u8>) {
        let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let id = self.id.0.hyphenated().encode_lower(&mut id);
        let micros = self.elapsed.as_micros();
        let (ms, frac) = (micros / 1000, micros % 1000);
        match format {
            LineFormat::Json => {
                out.extend_from_slice(b"{\"timestamp\":\"");
                let _ = SystemTime.format_time(&mut Writer::new(&mut Bytes(&mut *out)));
                out.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"request\",\"request_id\":\"");
                out.extend_from_slice(id.as_bytes());
                out.extend_from_slice(b"\",\"http.method\":");
                json_string(self.method, out);
                out.extend_from_slice(b",\"http.route\":");
                json_string(self.route, out);
                let _ = writeln!(
                    out,
                    ",\"http.status\":{},\"elapsed_ms\":{ms}.{frac:03},\"target\":\"{TARGET}\"}}",
                    self.status
                );
            }
            LineFormat::Plain => {
                let _ = SystemTime.format_time(&mut Writer::new(&mut Bytes(&mut *out)));
                let _ = writeln!(
                    out,
                    "  INFO request request_id={id} http.method={} http.route={} http.status={} elapsed_ms={ms}.{frac:03}",
                    self.method, self.route, self.status
                );
            }
        }
    }
}

fn json_string(text: &str, out: &mut Vec<u8>) {
    // serde_json's escaper: the method and the route are ours, but escaped all the same.
    if serde_json::to_writer(&mut *out, text).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

thread_local! {
    /// The line being made, reused: no allocation per request.
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(256));
}

fn emit(line: &RequestLine<'_>) {
    let Some((writer, format)) = crate::telemetry::request_output() else { return };
    LINE.with_borrow_mut(|buf| {
        buf.clear();
        line.write(format, buf);
        writer.append(buf);
    });
}

/// The middleware: gives the request its id (task-local while its handler runs, echoed as
/// `X-Request-Id`), counts it as in progress while its handler runs
/// (`AppContext::requests`: the outbox worker gives way when requests queue), and writes its
/// line when the answer is ready.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = RequestId::generate();
    let _in_flight = req.app_data::<web::Data<State>>().map(|state| state.ctx.requests().enter());
    let started = Instant::now();
    let method = req.method().clone();
    let outcome = REQUEST_ID.scope(id, next.call(req)).await;
    if tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        let (route, status) = match &outcome {
            Ok(res) => (res.request().match_pattern(), res.status()),
            Err(e) => (None, e.as_response_error().status_code()),
        };
        emit(&RequestLine {
            id,
            method: method.as_str(),
            route: route.as_deref().unwrap_or(UNMATCHED),
            status: status.as_u16(),
            elapsed: started.elapsed(),
        });
    }
    let mut res = outcome?;
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    if let Ok(value) = header::HeaderValue::from_str(id.0.hyphenated().encode_lower(&mut text)) {
        res.headers_mut().insert(header::HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(format: LineFormat) -> String {
        let id = RequestId(Uuid::parse_str("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").expect("a UUID"));
        let mut out = Vec::new();
        RequestLine {
            id,
            method: "GET",
            route: "/api/v1/order/{out_trade_no}/",
            status: 200,
            elapsed: Duration::from_micros(1_042),
        }
        .write(format, &mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn the_json_line_has_the_request_id_route_status_and_latency() {
        let text = line(LineFormat::Json);
        assert!(text.ends_with("}\n") && text.matches('\n').count() == 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("one JSON object");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "request");
        assert_eq!(v["target"], TARGET);
        assert_eq!(v["request_id"], "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
        assert_eq!(v["http.method"], "GET");
        assert_eq!(v["http.route"], "/api/v1/order/{out_trade_no}/");
        assert_eq!(v["http.status"], 200);
        assert_eq!(v["elapsed_ms"].as_f64(), Some(1.042));
        let ts = v["timestamp"].as_str().expect("a timestamp");
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
        assert_eq!(v.as_object().expect("an object").len(), 9, "{text}");
    }

    #[test]
    fn the_plain_line_has_the_same_fields() {
        let text = line(LineFormat::Plain);
        let (ts, rest) = text.split_once("  ").expect("two spaces after the timestamp");
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
        assert_eq!(
            rest,
            "INFO request request_id=0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b http.method=GET \
             http.route=/api/v1/order/{out_trade_no}/ http.status=200 elapsed_ms=1.042\n"
        );
    }

    #[test]
    fn a_short_latency_keeps_its_leading_zeros() {
        let id = RequestId::generate();
        let mut out = Vec::new();
        let l = RequestLine { id, method: "GET", route: "/", status: 404, elapsed: Duration::from_micros(7) };
        l.write(LineFormat::Json, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(v["elapsed_ms"].as_f64(), Some(0.007));
        assert_eq!(v["request_id"], id.to_string());
    }
}
