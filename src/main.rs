//! `course-shop`: the server and the operator commands. This file parses the command line
//! and the settings and hands the command to [`cli::run`]; each command lives in its own
//! module under `cli/` and calls the use cases of `shop-app`.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use shop_app::config::{Profile, Settings};

mod cli;

/// The allocator of every thread: mimalloc, which returns memory freed on other threads than
/// the one that allocated it, where glibc's malloc keeps it in per-thread arenas (a server at
/// 100,000 courses under search load and catalog changes: docs/search.md, "Memory over
/// reloads").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Backend of an online course shop: catalog, accounts, Alipay page payment, delivery.
///
/// With no subcommand it serves. Settings come from config/*.toml and COURSE_SHOP__* variables;
/// see the README.
#[derive(Debug, Parser)]
#[command(name = "course-shop", version, about, long_about)]
struct Cli {
    /// Configuration profile: development (default), test or production.
    /// Also COURSE_SHOP_PROFILE.
    #[arg(long, global = true, value_parser = parse_profile)]
    profile: Option<Profile>,
    /// Directory of the configuration files (default ./config; the files are also built in).
    #[arg(long, global = true, env = "COURSE_SHOP_CONFIG_DIR")]
    config_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<cli::Command>,
}

fn parse_profile(text: &str) -> Result<Profile, String> {
    Profile::parse(text)
        .ok_or_else(|| format!("unknown profile {text:?}: use development, test or production"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(cli::Command::Serve);
    if matches!(command, cli::Command::Openapi) {
        print!("{}", shop_http::spec_json());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load(cli.profile, cli.config_dir.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("course-shop: {e}");
            return ExitCode::from(2);
        }
    };
    // The server logs to standard output; an operator command to standard error, so that its
    // output (a table, a `--json` document) is only its result.
    let to_stderr = !matches!(command, cli::Command::Serve);
    shop_http::telemetry::init_with(&settings.log.format, &settings.log.filter, to_stderr);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("course-shop: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(cli::run(command, settings));
    // The server's log lines still in the buffer of its writer thread.
    shop_http::telemetry::flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole chain of causes, e.g. "internal error: cannot open x: ...".
            eprintln!("course-shop: {e:#}");
            ExitCode::FAILURE
        }
    }
}
