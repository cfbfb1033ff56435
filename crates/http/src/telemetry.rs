//! Structured logs, set up once per process.
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the global subscriber: `RUST_LOG` if set, else `filter`; JSON lines when
/// `format` is `json`. Safe to call more than once (later calls do nothing).
pub fn init(format: &str, filter: &str) {
    let env_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt().with_env_filter(env_filter).with_span_events(FmtSpan::NONE);
    let _ = if format == "json" {
        builder.json().flatten_event(true).with_current_span(true).try_init()
    } else {
        builder.with_target(false).with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())).try_init()
    };
}
