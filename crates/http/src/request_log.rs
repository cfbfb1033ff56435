//! One log line per request, made cheap: request id, method, route pattern, status and
//! latency, formatted by hand into a reused buffer and handed to the non-blocking
//! [`LogWriter`](crate::log_writer::LogWriter). No span per request: the request id reaches
//! the other events logged while the request runs through a task-local value
//! ([`current_request_id`]), which [`crate::telemetry`] adds to them.
//!
//! What the line never holds: the path as sent, the query string, headers (`Authorization`,
//! cookies), the body, the client's address. The route is the pattern that matched (e.g.
//! `/api/v1/order/{out_trade_no}/`, `/d/{token}`), so no value a client sent is in it.
use std::cell::{Cell, RefCell};
use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web;
use rand::RngCore as _;
use uuid::Uuid;

use crate::log_writer::LogWriter;
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
    /// A new id: the current time in milliseconds and 74 random bits from this thread's
    /// generator (a CSPRNG seeded by the system once; `Uuid::now_v7` would ask the kernel for
    /// them on every request and serialise every thread on one counter).
    pub fn generate() -> Self {
        Self::generate_at(SystemTime::now())
    }

    /// As [`RequestId::generate`], with the time `now` the caller has already read.
    pub fn generate_at(now: SystemTime) -> Self {
        let millis = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let mut random = [0u8; 10];
        rand::thread_rng().fill_bytes(&mut random);
        RequestId(uuid::Builder::from_unix_timestamp_millis(millis as u64, &random).into_uuid())
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
    /// When the request arrived (wall clock); the line is timestamped `started + elapsed`,
    /// the time its answer was ready.
    pub started: SystemTime,
    pub elapsed: Duration,
}

impl RequestLine<'_> {
    /// Appends the line, with its newline, to `out`, timestamped when the answer was ready, as
    /// the other log lines are (`tracing_subscriber`'s `SystemTime`: UTC, microseconds, `Z`).
    pub fn write(&self, format: LineFormat, out: &mut Vec<u8>) {
        let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let id = self.id.0.hyphenated().encode_lower(&mut id).as_bytes();
        self.write_with_id(id, Escaping::Check, format, out);
    }

    /// As [`RequestLine::write`], with the id already in its text form (`X-Request-Id`'s)
    /// and the method and route known to need no JSON escaping when `escaping` says so.
    fn write_with_id(&self, id: &[u8], escaping: Escaping, format: LineFormat, out: &mut Vec<u8>) {
        let now = self.started + self.elapsed;
        match format {
            LineFormat::Json => {
                out.extend_from_slice(b"{\"timestamp\":\"");
                timestamp(now, out);
                out.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"request\",\"request_id\":\"");
                out.extend_from_slice(id);
                out.extend_from_slice(b"\",\"http.method\":");
                json_string(self.method, escaping == Escaping::Check, out);
                out.extend_from_slice(b",\"http.route\":");
                json_string(self.route, escaping == Escaping::Check, out);
                out.extend_from_slice(b",\"http.status\":");
                status_digits(self.status, out);
                out.extend_from_slice(b",\"elapsed_ms\":");
                milliseconds(self.elapsed, out);
                out.extend_from_slice(b",\"target\":\"");
                out.extend_from_slice(TARGET.as_bytes());
                out.extend_from_slice(b"\"}\n");
            }
            LineFormat::Plain => {
                timestamp(now, out);
                out.extend_from_slice(b"  INFO request request_id=");
                out.extend_from_slice(id);
                out.extend_from_slice(b" http.method=");
                out.extend_from_slice(self.method.as_bytes());
                out.extend_from_slice(b" http.route=");
                out.extend_from_slice(self.route.as_bytes());
                out.extend_from_slice(b" http.status=");
                status_digits(self.status, out);
                out.extend_from_slice(b" elapsed_ms=");
                milliseconds(self.elapsed, out);
                out.push(b'\n');
            }
        }
    }
}

/// Whether the method and the route of a line may need JSON escaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escaping {
    /// Look (any `&str`).
    Check,
    /// Known not to: an `http::Method` (a token: no quote, backslash or control character)
    /// and a route the route table checked when it took it in ([`with_route`]).
    Checked,
}

/// `elapsed` in milliseconds with three decimals (`0.042`).
fn milliseconds(elapsed: Duration, out: &mut Vec<u8>) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    digits(micros / 1000, 1, out);
    out.push(b'.');
    let fraction = (micros % 1000) as usize;
    out.push(b'0' + (fraction / 100) as u8);
    pair(fraction % 100, out);
}

/// `n` (below 100) as two digits.
fn two_digits(n: usize) -> &'static [u8] {
    &PAIRS[n * 2..n * 2 + 2]
}

/// Appends `n` (below 100) as two digits.
fn pair(n: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(two_digits(n));
}

/// An HTTP status (three digits from 100 to 999; others as they are).
fn status_digits(status: u16, out: &mut Vec<u8>) {
    if (100..1000).contains(&status) {
        out.push(b'0' + (status / 100) as u8);
        pair(usize::from(status % 100), out);
    } else {
        digits(u64::from(status), 1, out);
    }
}

/// `n` (below 1,000,000) as six digits.
fn six_digits(n: u32, out: &mut Vec<u8>) {
    let n = n as usize % 1_000_000;
    pair(n / 10_000, out);
    pair(n / 100 % 100, out);
    pair(n % 100, out);
}

/// "00" to "99": two digits at a time.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// `n` in decimal, with leading zeros up to `width` digits (at most 20).
fn digits(mut n: u64, width: usize, out: &mut Vec<u8>) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    while n >= 100 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(two_digits((n % 100) as usize));
        n /= 100;
    }
    if n >= 10 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(two_digits(n as usize));
    } else if n > 0 || i == buf.len() {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    // The leading zeros are already in `buf`.
    let start = i.min(buf.len().saturating_sub(width));
    out.extend_from_slice(&buf[start..]);
}

thread_local! {
    /// The whole second last formatted on this thread and its `YYYY-MM-DDTHH:MM:SS.`.
    static SECOND: Cell<(u64, [u8; 20])> = const { Cell::new((u64::MAX, [0; 20])) };
}

/// `now` as `tracing_subscriber`'s `SystemTime` timer writes it (`2026-11-30T21:50:12.123456Z`),
/// the date and time of day formatted once per second per thread.
pub(crate) fn timestamp(now: SystemTime, out: &mut Vec<u8>) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let second = since.as_secs();
    let (cached, mut prefix) = SECOND.get();
    if cached != second {
        let at = i64::try_from(second)
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .unwrap_or_default();
        let text = at.format("%Y-%m-%dT%H:%M:%S.").to_string();
        if text.len() == prefix.len() {
            prefix.copy_from_slice(text.as_bytes());
            SECOND.set((second, prefix));
        } else {
            // Outside years 0–9999: not worth a cache.
            out.extend_from_slice(text.as_bytes());
            six_digits(since.subsec_micros(), out);
            out.push(b'Z');
            return;
        }
    }
    out.extend_from_slice(&prefix);
    six_digits(since.subsec_micros(), out);
    out.push(b'Z');
}

/// Whether `text` holds a byte JSON escapes in a string: `"`, `\` or a control character.
/// Eight bytes at a time (the method and the route are short, and looked at on every request).
fn needs_json_escape(text: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `word` below `n` (n <= 0x80): its high bit in the result; exact for "any".
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH;
    let mut chunks = text.chunks_exact(8);
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        if below(word, 0x20)
            | below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1)
            != 0
        {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20)
}

/// `text` as a JSON string; `check`: whether to look for what needs escaping (the method and
/// the route are ours and need none; serde_json's escaper when they would).
fn json_string(text: &str, check: bool, out: &mut Vec<u8>) {
    if !check || !needs_json_escape(text.as_bytes()) {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, text).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// Slots of the per-thread table of routes ([`with_route`]).
const ROUTE_SLOTS: usize = 64;
/// Longest path the table keeps.
const ROUTE_PATH_MAX: usize = 128;

/// A path, its route pattern (`None`: no route matched) and whether the pattern needs no JSON
/// escaping.
type RouteEntry = (Box<str>, Option<(Box<str>, bool)>);

thread_local! {
    /// The routes of recent paths, a direct-mapped table ([`with_route`]).
    static ROUTES: RefCell<Vec<Option<RouteEntry>>> = RefCell::new(vec![None; ROUTE_SLOTS]);
}

/// The slot of `path` in [`ROUTES`]: from its length and its last eight bytes (the static
/// routes' paths differ there).
fn route_slot(path: &str) -> usize {
    let bytes = path.as_bytes();
    let tail = &bytes[bytes.len().saturating_sub(8)..];
    let mut word = [0u8; 8];
    word[..tail.len()].copy_from_slice(tail);
    let mixed = (u64::from_le_bytes(word) ^ bytes.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 58) as usize % ROUTE_SLOTS
}

/// Calls `f` with the route pattern of `path`, as `lookup` finds it (actix-web's
/// `match_pattern`, which walks the route table and builds a `String`), remembered per thread:
/// a table of [`ROUTE_SLOTS`] paths, each in the slot [`route_slot`] picks, a newer path
/// replacing an older one in its slot. A path's pattern depends only on the routes, which are
/// fixed when the server starts, so an entry never goes stale. Paths longer than
/// [`ROUTE_PATH_MAX`] bytes are looked up every time and not kept.
/// `f` also learns whether the pattern needs no JSON escaping (checked once, when the table
/// takes it in).
fn with_route<R>(
    path: &str,
    lookup: impl FnOnce() -> Option<String>,
    f: impl FnOnce(Option<&str>, Escaping) -> R,
) -> R {
    if path.len() > ROUTE_PATH_MAX {
        return f(lookup().as_deref(), Escaping::Check);
    }
    let slot = route_slot(path);
    ROUTES.with_borrow_mut(|routes| {
        let entry = &mut routes[slot];
        if entry.as_ref().is_none_or(|(known, _)| **known != *path) {
            let route = lookup().map(|route| {
                let plain = !needs_json_escape(route.as_bytes());
                (route.into_boxed_str(), plain)
            });
            *entry = Some((path.into(), route));
        }
        match entry.as_ref().and_then(|(_, route)| route.as_ref()) {
            Some((route, true)) => f(Some(route), Escaping::Checked),
            Some((route, false)) => f(Some(route), Escaping::Check),
            None => f(None, Escaping::Checked),
        }
    })
}

thread_local! {
    /// The line being made, reused: no allocation per request.
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(256));
}

fn emit((writer, format): (&LogWriter, LineFormat), line: &RequestLine<'_>, id: &str, escaping: Escaping) {
    LINE.with_borrow_mut(|buf| {
        buf.clear();
        line.write_with_id(id.as_bytes(), escaping, format, buf);
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
    // One wall-clock read for the id and the line's timestamp, one monotonic pair for the
    // latency.
    let started_at = SystemTime::now();
    let id = RequestId::generate_at(started_at);
    let _in_flight = req.app_data::<web::Data<State>>().map(|state| state.ctx.requests().enter());
    let started = Instant::now();
    let method = req.method().clone();
    let outcome = REQUEST_ID.scope(id, next.call(req)).await;
    // The id's text, for the line and the header.
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id_text: &str = id.0.hyphenated().encode_lower(&mut text);
    if let Some(output) = crate::telemetry::request_output() {
        let (req, status) = match &outcome {
            Ok(res) => (Some(res.request()), res.status()),
            Err(e) => (None, e.as_response_error().status_code()),
        };
        // The method is an `http::Method`: a token, nothing to escape.
        let write = |route: Option<&str>, escaping: Escaping| {
            let line = RequestLine {
                id,
                method: method.as_str(),
                route: route.unwrap_or(UNMATCHED),
                status: status.as_u16(),
                started: started_at,
                elapsed: started.elapsed(),
            };
            emit(output, &line, id_text, escaping);
        };
        match req {
            Some(req) => with_route(req.path(), || req.match_pattern(), write),
            None => write(None, Escaping::Checked),
        }
    }
    let mut res = outcome?;
    if let Ok(value) = header::HeaderValue::from_str(id_text) {
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
            started: SystemTime::now(),
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

    /// The cached per-second prefix writes what chrono writes for the same instant, across
    /// second, day and year boundaries and on instants out of order.
    #[test]
    fn the_timestamp_is_rfc3339_in_utc_with_microseconds() {
        let at = |secs: u64, micros: u32| UNIX_EPOCH + Duration::new(secs, micros * 1000 + 999);
        let instants = [
            at(1_796_083_199, 999_999),
            at(1_796_083_200, 0),
            at(1_796_083_200, 42),
            at(1_796_083_199, 1),
            at(1_798_761_599, 500_000),
            at(1_798_761_600, 7),
            at(0, 0),
        ];
        for now in instants {
            let mut out = Vec::new();
            timestamp(now, &mut out);
            let expected = chrono::DateTime::<chrono::Utc>::from(now)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            assert_eq!(String::from_utf8(out).expect("UTF-8"), expected);
        }
    }

    #[test]
    fn request_ids_are_version_7_with_the_time_and_differ() {
        let before = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_millis();
        let ids: Vec<RequestId> = (0..1000).map(|_| RequestId::generate()).collect();
        let after = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_millis();
        let mut seen = std::collections::HashSet::new();
        for id in &ids {
            assert_eq!(id.0.get_version_num(), 7);
            assert_eq!(id.0.get_variant(), uuid::Variant::RFC4122);
            let (secs, nanos) = id.0.get_timestamp().expect("a v7 timestamp").to_unix();
            let millis = u128::from(secs) * 1000 + u128::from(nanos / 1_000_000);
            assert!((before..=after).contains(&millis), "{millis} outside {before}..={after}");
            assert!(seen.insert(id.0), "a repeated id");
        }
    }

    /// The remembered routes are what the lookup answers for every path, whatever the order,
    /// the repeats and the paths sharing a slot; a known path is not looked up again.
    #[test]
    fn a_remembered_route_is_the_lookup_of_its_own_path() {
        let pattern_of = |path: &str| (!path.contains("404")).then(|| format!("pattern of {path}"));
        let mut paths: Vec<String> = (0..300).map(|i| format!("/api/v1/course/list/{i}/")).collect();
        paths.extend((0..20).map(|i| format!("/api/v1/{i}/404")));
        paths.push(format!("/d/{}", "x".repeat(ROUTE_PATH_MAX)));
        let mut state = 7u64;
        let mut lookups = 0;
        let mut hits = 0;
        for _ in 0..5000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            // Mostly a few hot paths, sometimes any.
            let i = if state >> 63 == 0 {
                (state >> 33) as usize % 8
            } else {
                (state >> 33) as usize % paths.len()
            };
            let path = &paths[i];
            let mut looked_up = false;
            let got = with_route(
                path,
                || {
                    looked_up = true;
                    pattern_of(path)
                },
                |route, _| route.map(str::to_owned),
            );
            assert_eq!(got, pattern_of(path), "{path}");
            if looked_up {
                lookups += 1;
            } else {
                hits += 1;
            }
        }
        assert!(hits > lookups, "the table answers the hot paths: {hits} hits, {lookups} lookups");
        let long = &paths[paths.len() - 1];
        let mut looked_up = 0;
        for _ in 0..2 {
            with_route(
                long,
                || {
                    looked_up += 1;
                    pattern_of(long)
                },
                |_, _| (),
            );
        }
        assert_eq!(looked_up, 2, "a long path is not kept");
    }

    /// The eight-bytes-at-a-time check says what a byte-by-byte look says, for every byte
    /// value at every position of strings of every length up to 40.
    #[test]
    fn the_escape_check_finds_every_byte_json_escapes() {
        let escaped = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
        for len in 0..40 {
            for at in 0..len.max(1) {
                for b in 0..=255u8 {
                    let mut text = vec![b'a'; len];
                    if len > 0 {
                        text[at] = b;
                    }
                    let expected = text.iter().any(|&b| escaped(b));
                    assert_eq!(needs_json_escape(&text), expected, "byte {b:#04x} at {at} of {len}");
                }
            }
        }
        assert!(!needs_json_escape("/api/v1/order/{out_trade_no}/".as_bytes()));
        assert!(!needs_json_escape("/课程/列表/{id}".as_bytes()));
    }

    /// A route the table found to need escaping is escaped in the line; one that needs none is
    /// written as it is; either way the line is one JSON object with that route.
    #[test]
    fn routes_from_the_table_are_escaped_when_they_need_it() {
        for (path, pattern) in [("/plain/1", "/plain/{id}"), ("/odd/1", "/odd/\"{id}\\")] {
            for _ in 0..2 {
                let text = with_route(
                    path,
                    || Some(pattern.to_owned()),
                    |route, escaping| {
                        let line = RequestLine {
                            id: RequestId::generate(),
                            method: "GET",
                            route: route.unwrap_or(UNMATCHED),
                            status: 200,
                            started: SystemTime::now(),
                            elapsed: Duration::from_micros(5),
                        };
                        assert_eq!(escaping == Escaping::Checked, !pattern.contains('"'), "{pattern}");
                        let mut out = Vec::new();
                        line.write_with_id(b"id", escaping, LineFormat::Json, &mut out);
                        out
                    },
                );
                let v: serde_json::Value = serde_json::from_slice(&text).expect("one JSON object");
                assert_eq!(v["http.route"], pattern);
            }
        }
    }

    /// The line writes the method unchecked: an `http::Method` is a token, never a quote, a
    /// backslash or a control character.
    #[test]
    fn a_method_is_a_token_with_nothing_to_escape() {
        for bad in [&b"GE\"T"[..], b"GE\\T", b"GE\nT", b"GE\x01T", b"GE T"] {
            assert!(actix_web::http::Method::from_bytes(bad).is_err(), "{bad:?}");
        }
        let odd = actix_web::http::Method::from_bytes(b"PURGE").expect("an extension method");
        assert!(!needs_json_escape(odd.as_str().as_bytes()));
    }

    #[test]
    fn fixed_width_numbers_are_what_the_formatter_writes() {
        for n in (0..1_000_000).step_by(7).chain([999_999, 1, 10, 100]) {
            let mut out = Vec::new();
            six_digits(n, &mut out);
            assert_eq!(String::from_utf8(out).expect("digits"), format!("{n:06}"));
        }
        for status in [0u16, 7, 99, 100, 101, 200, 204, 404, 599, 999, 1000, u16::MAX] {
            let mut out = Vec::new();
            status_digits(status, &mut out);
            assert_eq!(String::from_utf8(out).expect("digits"), status.to_string());
        }
        for micros in [0u64, 7, 42, 999, 1_000, 1_042, 123_456_789] {
            let mut out = Vec::new();
            milliseconds(Duration::from_micros(micros), &mut out);
            assert_eq!(
                String::from_utf8(out).expect("digits"),
                format!("{}.{:03}", micros / 1000, micros % 1000)
            );
        }
    }

    #[test]
    fn numbers_keep_their_leading_zeros_up_to_the_width() {
        for (n, width, text) in [
            (0, 1, "0"),
            (7, 3, "007"),
            (200, 1, "200"),
            (123_456, 6, "123456"),
            (u64::MAX, 1, "18446744073709551615"),
            (10, 1, "10"),
            (99, 2, "99"),
            (100, 1, "100"),
            (5, 6, "000005"),
            (42, 6, "000042"),
            (999_999, 6, "999999"),
            (1_000, 3, "1000"),
            (0, 3, "000"),
        ] {
            let mut out = Vec::new();
            digits(n, width, &mut out);
            assert_eq!(out, text.as_bytes());
        }
        // What the standard formatter writes, for every width and a sweep of numbers.
        let mut n = 0u64;
        while n < u64::MAX / 3 {
            for width in 1..=20 {
                let mut out = Vec::new();
                digits(n, width, &mut out);
                assert_eq!(String::from_utf8(out).expect("digits"), format!("{n:0width$}"));
            }
            n = n * 3 + 1;
        }
        for n in 0..100_000 {
            let mut out = Vec::new();
            digits(n, 6, &mut out);
            assert_eq!(String::from_utf8(out).expect("digits"), format!("{n:06}"));
        }
    }

    #[test]
    fn a_short_latency_keeps_its_leading_zeros() {
        let id = RequestId::generate();
        let mut out = Vec::new();
        let l = RequestLine {
            id,
            method: "GET",
            route: "/",
            status: 404,
            started: SystemTime::now(),
            elapsed: Duration::from_micros(7),
        };
        l.write(LineFormat::Json, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(v["elapsed_ms"].as_f64(), Some(0.007));
        assert_eq!(v["request_id"], id.to_string());
    }
}
