//! Structured logs, set up once per process, written without making a worker wait.
use std::cell::RefCell;
use std::fmt;
use std::io::Write;
use std::sync::OnceLock;

use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{FmtSpan, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::{SubscriberInitExt as _, TryInitError};

use crate::log_writer::{self, LogWriter};
use crate::request_log::{self, LineFormat};

/// The server's log output and the request line's format, once [`init`] has run.
static OUTPUT: OnceLock<(LogWriter, LineFormat)> = OnceLock::new();

/// Whether the filter lets the request line through: decided once, when [`init`] installs
/// the subscriber (the filter does not change afterwards), instead of asking the subscriber
/// on every request.
static REQUEST_LINE_ON: OnceLock<bool> = OnceLock::new();

/// Installs the global subscriber of the server: `RUST_LOG` if set, else `filter`; JSON
/// lines when `format` is `json`; written to standard output by a thread of its own
/// ([`LogWriter`]: a worker never waits for the output; when it falls behind by more than
/// [`log_writer::DEFAULT_CAPACITY`] bytes, lines are dropped and counted). Safe to call more
/// than once (later calls do nothing). Call [`flush`] before the process ends.
pub fn init(format: &str, filter: &str) {
    init_with(format, filter, false);
}

/// As [`init`]; when `to_stderr`, writes to standard error, on the calling thread (the
/// operator commands, whose standard output is their result, e.g. `--json` documents).
pub fn init_with(format: &str, filter: &str, to_stderr: bool) {
    if to_stderr {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let _ = install(format, filter, std::io::stderr, ansi);
    } else {
        init_to(format, filter, Box::new(std::io::stdout()));
    }
}

/// As [`init`], writing to `sink` (the tests read what the server logs).
pub fn init_to(format: &str, filter: &str, sink: Box<dyn Write + Send>) {
    if OUTPUT.get().is_some() {
        return;
    }
    let line_format = if format == "json" { LineFormat::Json } else { LineFormat::Plain };
    let notice = match line_format {
        LineFormat::Json => dropped_notice_json as log_writer::DroppedNotice,
        LineFormat::Plain => dropped_notice_plain,
    };
    let writer = LogWriter::spawn(sink, log_writer::DEFAULT_CAPACITY, notice);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    if install(format, filter, writer.clone(), ansi).is_ok()
        && OUTPUT.set((writer.clone(), line_format)).is_ok()
    {
        let _ = REQUEST_LINE_ON.set(tracing::enabled!(target: request_log::TARGET, tracing::Level::INFO));
        return;
    }
    writer.stop();
}

/// Writes what the server logged and has not written yet (at exit; tests).
pub fn flush() {
    if let Some((writer, _)) = OUTPUT.get() {
        writer.flush();
    }
}

/// Where and how the request line is written, when [`init`] has run and its filter lets the
/// line through (`None` otherwise: no line is made).
pub(crate) fn request_output() -> Option<(&'static LogWriter, LineFormat)> {
    if REQUEST_LINE_ON.get() != Some(&true) {
        return None;
    }
    OUTPUT.get().map(|(writer, format)| (writer, *format))
}

/// Log lines dropped because the output did not keep up, since start.
pub fn dropped_lines() -> u64 {
    OUTPUT.get().map_or(0, |(writer, _)| writer.dropped())
}

const DROPPED: &str = "log lines dropped: the log output did not keep up";

fn dropped_notice_json(dropped: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    request_log::timestamp(std::time::SystemTime::now(), out);
    let _ = writeln!(
        out,
        "\",\"level\":\"WARN\",\"message\":\"{DROPPED}\",\"dropped\":{dropped},\"target\":\"shop_http::log_writer\"}}"
    );
}

fn dropped_notice_plain(dropped: u64, out: &mut Vec<u8>) {
    request_log::timestamp(std::time::SystemTime::now(), out);
    let _ = writeln!(out, "  WARN {DROPPED} dropped={dropped}");
}

fn install<W>(format: &str, filter: &str, writer: W, ansi: bool) -> Result<(), TryInitError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let env_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    subscriber(format, env_filter, writer, ansi).try_init()
}

/// The subscriber [`init`] installs.
fn subscriber<W>(format: &str, filter: EnvFilter, writer: W, ansi: bool) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_span_events(FmtSpan::NONE).with_writer(writer);
    if format == "json" {
        Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .map_event_format(|inner| WithRequestId { inner, json: true })
                .finish(),
        )
    } else {
        Box::new(
            builder
                .with_target(false)
                .with_ansi(ansi)
                .map_event_format(|inner| WithRequestId { inner, json: false })
                .finish(),
        )
    }
}

/// An event format that adds `request_id` to the events logged while a request's handler
/// runs ([`request_log::current_request_id`]): first in a JSON object, last on a plain line.
struct WithRequestId<F> {
    inner: F,
    json: bool,
}

thread_local! {
    static EVENT: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<S, N, F> FormatEvent<S, N> for WithRequestId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some(id) = request_log::current_request_id() else {
            return self.inner.format_event(ctx, writer, event);
        };
        EVENT.with_borrow_mut(|text| {
            text.clear();
            self.inner.format_event(ctx, Writer::new(&mut *text), event)?;
            let json_object = if self.json { text.strip_prefix('{') } else { None };
            match (json_object, text.strip_suffix('\n')) {
                (Some(rest), _) => write!(writer, "{{\"request_id\":\"{id}\",{rest}"),
                (None, Some(line)) => writeln!(writer, "{line} request_id={id}"),
                (None, None) => write!(writer, "{text} request_id={id}"),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::request_log::RequestId;

    /// Runs `f` under the subscriber of `format` and returns what it logged.
    fn logged(format: &str, f: impl FnOnce()) -> String {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&got);
        let writer = move || Capture(Arc::clone(&sink));
        tracing::subscriber::with_default(subscriber(format, EnvFilter::new("info"), writer, false), f);
        String::from_utf8(got.lock().expect("not poisoned").clone()).expect("UTF-8")
    }

    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn events_logged_while_a_request_runs_carry_its_request_id() {
        let id = RequestId::generate();
        let log = |format| {
            logged(format, || {
                tracing::info!(user.id = 7, "outside");
                request_log::in_request(id, || tracing::info!(user.id = 7, "inside"));
            })
        };
        let text = log("json");
        let lines: Vec<serde_json::Value> =
            text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!((&lines[0]["message"], lines[0].get("request_id")), (&"outside".into(), None));
        assert_eq!(lines[1]["message"], "inside");
        assert_eq!(lines[1]["request_id"], id.to_string());
        assert_eq!(lines[1]["user.id"], 7);

        let text = log("pretty");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with("outside user.id=7"), "{text}");
        assert!(lines[1].ends_with(&format!("inside user.id=7 request_id={id}")), "{text}");
    }
}
