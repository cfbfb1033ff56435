//! `course-shop`: the server and the operator commands.
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use shop_app::accounts::{self, AddUser};
use shop_app::config::{Profile, Settings};
use shop_app::{AppContext, catalog, context, delivery, payments};

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
    command: Option<Command>,
}

fn parse_profile(text: &str) -> Result<Profile, String> {
    Profile::parse(text)
        .ok_or_else(|| format!("unknown profile {text:?}: use development, test or production"))
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (the default): migrates, seeds the demo catalog into an empty
    /// development database, then serves the API, /docs/ and /media/.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Import the built-in demo catalog (safe to run again: rows are upserted by id) and
    /// draw its pictures under the media root.
    SeedDemo,
    /// Import a catalog file (format: docs/catalog-format.md), keeping the given ids; safe
    /// to run twice. The whole file is imported in one transaction or not at all.
    ImportCatalog {
        /// The JSON file.
        file: PathBuf,
    },
    /// Print the OpenAPI 3.1 document of the API.
    Openapi,
    /// Refund a paid order through Alipay (all that is left, or --amount yuan). The refund is
    /// recorded and sent at once; if Alipay cannot be reached the server's outbox worker
    /// retries it with the same request number, so it never refunds twice.
    Refund {
        /// The order number (out_trade_no).
        out_trade_no: String,
        /// Amount in yuan, e.g. 19.90 (default: everything not yet refunded).
        #[arg(long)]
        amount: Option<String>,
        /// Reason shown to the buyer.
        #[arg(long, default_value = "refund requested by the shop")]
        reason: String,
    },
    /// Upload course media to the configured storage (local directory or S3), with a progress
    /// bar: a section's video (--section ID) or a version of a downloadable material
    /// (--material NAME --version V; download links always serve the latest version).
    Media {
        #[command(subcommand)]
        command: MediaCommand,
    },
    /// Mail an update to every current owner of a course (the seed's "sending book updates
    /// should be one command"), with fresh download links when --new-version names an
    /// uploaded material version. Safe to rerun: a buyer gets each campaign once.
    NotifyBuyers {
        /// Course id.
        course: i64,
        /// Email subject.
        #[arg(long)]
        subject: String,
        /// A plain-text file with the message.
        #[arg(long)]
        message_file: PathBuf,
        /// The material version this update announces (fresh links are issued for it).
        #[arg(long)]
        new_version: Option<String>,
        /// Only show who would get it.
        #[arg(long)]
        dry_run: bool,
    },
    /// Sales: units and revenue per course and per day, orders created vs paid
    /// (conversion), refunds.
    Sales {
        /// Orders created today (UTC).
        #[arg(long, group = "period")]
        today: bool,
        /// Orders created in the last 7 days.
        #[arg(long, group = "period")]
        week: bool,
        /// Every order (the default).
        #[arg(long, group = "period")]
        all: bool,
        /// Orders created since this date (YYYY-MM-DD, UTC).
        #[arg(long, group = "period")]
        since: Option<String>,
    },
    /// Ask Alipay about every order still unpaid or in doubt and apply the verified answers
    /// (payments found are recorded, overdue unpaid orders expired). Prints what changed.
    Reconcile {
        /// Only orders created since this date (YYYY-MM-DD, UTC); default: 30 days ago.
        #[arg(long)]
        since: Option<String>,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
enum MediaCommand {
    /// Upload FILE for COURSE.
    Put {
        /// Course id.
        course: i64,
        /// The file.
        file: PathBuf,
        /// The section whose video (or document) this is.
        #[arg(long, conflicts_with_all = ["material", "version"])]
        section: Option<i64>,
        /// The name of a downloadable material (e.g. slides, ebook, code).
        #[arg(long, requires = "version")]
        material: Option<String>,
        /// The material's version (e.g. 1, 2, 2026-11).
        #[arg(long, requires = "material")]
        version: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account. The password is read from standard input (without echo on a
    /// terminal; the first line when piped).
    Add {
        /// Username: 3 to 32 letters, digits, '_', '-', '.'.
        username: String,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// Mobile number.
        #[arg(long)]
        mobile: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::Openapi)) {
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
    shop_http::telemetry::init(&settings.log.format, &settings.log.filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("course-shop: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("course-shop: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let db = context::connect(&settings).await?;
            context::migrate(&settings, &db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::SeedDemo => {
            let db = context::connect(&settings).await?;
            context::migrate(&settings, &db).await?;
            let summary = context::seed_demo(&db, &settings).await?;
            println!("demo catalog imported: {summary:?}");
            Ok(())
        }
        Command::ImportCatalog { file } => {
            let json =
                std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let db = context::connect(&settings).await?;
            context::migrate(&settings, &db).await?;
            let summary =
                catalog::import_catalog_json(&db, &json).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("imported {}: {summary:?}", file.display());
            Ok(())
        }
        Command::User { command: UserCommand::Add { username, email, mobile, admin } } => {
            let password = read_password()?;
            let ctx = operator_context(settings).await?;
            let user = accounts::add_user(&ctx, AddUser { username, email, mobile, password, admin })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created user {} (id {}, role {})", user.username, user.id, user.role.as_str());
            Ok(())
        }
        Command::Refund { out_trade_no, amount, reason } => {
            let amount = amount
                .map(|a| {
                    shop_domain::Money::parse_yuan(a.trim())
                        .map_err(|e| anyhow::anyhow!("--amount {a:?}: {e}"))
                })
                .transpose()?;
            let ctx = operator_context(settings).await?;
            let requested = payments::request_refund(&ctx, &out_trade_no, amount, &reason)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "refund {} of {} yuan recorded; asking Alipay...",
                requested.out_request_no, requested.amount
            );
            let pass = shop_app::worker::run_once(&ctx).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let refund = shop_db::payments::refund_by_request_no(&ctx.db, &requested.out_request_no).await?;
            match refund {
                Some(r) if r.status == shop_db::payments::refund_status::SUCCEEDED => {
                    println!(
                        "refunded: Alipay confirmed {} (total refunded on the trade: {} fen)",
                        r.out_request_no,
                        r.refund_fee_fen.unwrap_or(0)
                    );
                }
                Some(r) if r.status == shop_db::payments::refund_status::FAILED => {
                    anyhow::bail!("Alipay refused the refund: {}", r.last_error.unwrap_or_default());
                }
                _ => println!("not confirmed yet ({pass:?}); the server's outbox worker will retry it"),
            }
            Ok(())
        }
        Command::Reconcile { since } => {
            let since = match since {
                Some(d) => chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map_err(|e| anyhow::anyhow!("--since {d:?}: {e} (use YYYY-MM-DD)"))?
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc())
                    .ok_or_else(|| anyhow::anyhow!("--since {d:?}: not a date"))?,
                None => chrono::Utc::now() - chrono::Duration::days(30),
            };
            let ctx = operator_context(settings).await?;
            let rows = payments::reconcile(&ctx, since).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("{:<44} {:<18} {:<18} note", "out_trade_no", "before", "after");
            let mut changed = 0;
            for r in &rows {
                changed += usize::from(r.before != r.after);
                println!(
                    "{:<44} {:<18} {:<18} {}",
                    r.out_trade_no,
                    r.before.label(),
                    r.after.label(),
                    r.note
                );
            }
            println!("{} order(s) examined, {changed} changed", rows.len());
            Ok(())
        }
        Command::Media { command: MediaCommand::Put { course, file, section, material, version } } => {
            let target = match (section, material, version) {
                (Some(id), None, None) => delivery::MediaTarget::Section(id),
                (None, Some(name), Some(version)) => delivery::MediaTarget::Material { name, version },
                _ => anyhow::bail!("say where the file goes: --section ID, or --material NAME --version V"),
            };
            let ctx = operator_context(settings).await?;
            let bar = progress_bar("uploading");
            let progress = |sent: u64, total: u64| {
                bar.set_length(total);
                bar.set_position(sent);
            };
            let uploaded = delivery::put_media(&ctx, course, &file, target, &progress)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            bar.finish_and_clear();
            println!("stored {} ({} bytes)", uploaded.key, uploaded.size);
            Ok(())
        }
        Command::NotifyBuyers { course, subject, message_file, new_version, dry_run } => {
            let message = std::fs::read_to_string(&message_file)
                .with_context(|| format!("reading {}", message_file.display()))?;
            let ctx = operator_context(settings).await?;
            let bar = progress_bar("queueing");
            let progress = |done: u64, total: u64| {
                bar.set_length(total);
                bar.set_position(done);
            };
            let request =
                delivery::CampaignRequest { course_id: course, subject, message, new_version, dry_run };
            let report = delivery::notify_buyers(&ctx, request, &progress)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            bar.finish_and_clear();
            if dry_run {
                println!(
                    "dry run: {} current owner(s), {} with an email address; nothing sent",
                    report.owners, report.with_email
                );
                return Ok(());
            }
            println!(
                "campaign {}{}: {} owner(s), {} with an email address, {} email(s) newly queued",
                report.campaign_id.unwrap_or_default(),
                if report.rerun { " (rerun: buyers who already got it are skipped)" } else { "" },
                report.owners,
                report.with_email,
                report.queued
            );
            send_queued(&ctx).await
        }
        Command::Sales { today, week, all: _, since } => {
            let period = if today {
                "today"
            } else if week {
                "week"
            } else {
                "all"
            };
            let since =
                shop_http::handlers::admin::report_start(Some(period), since.as_deref(), chrono::Utc::now())
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            let ctx = operator_context(settings).await?;
            let r = delivery::sales_report(&ctx, since).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            print_sales(&r);
            Ok(())
        }
        Command::Openapi => Ok(()),
    }
}

fn progress_bar(what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {percent}% ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    if what != "uploading" {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
    }
    bar.set_message(what.to_owned());
    // Only on a terminal; piped output gets the summary lines alone.
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// Sends what the outbox holds now, with a progress bar, until nothing is due; what cannot
/// be sent yet (SMTP down) stays queued for the server's outbox worker.
async fn send_queued(ctx: &AppContext) -> anyhow::Result<()> {
    let bar = progress_bar("sending");
    let mut sent = 0u64;
    for _ in 0..1000 {
        let pass = shop_app::worker::run_once(ctx).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        sent += pass.done as u64;
        bar.set_length(sent + pass.retried as u64);
        bar.set_position(sent);
        if pass.done + pass.retried + pass.failed == 0 {
            break;
        }
        if pass.done == 0 && pass.retried > 0 {
            bar.finish_and_clear();
            println!(
                "{sent} sent; {} could not be sent now and stay queued: the server's outbox worker retries them",
                pass.retried
            );
            return Ok(());
        }
    }
    bar.finish_and_clear();
    println!("{sent} job(s) done");
    Ok(())
}

fn print_sales(r: &delivery::SalesReport) {
    match r.since {
        Some(at) => println!("Orders created since {}", at.format("%Y-%m-%d %H:%M UTC")),
        None => println!("All orders"),
    }
    println!(
        "created {}  paid {}  conversion {:.1}%  revenue ¥{}  refunded ¥{}  net ¥{}",
        r.created,
        r.paid,
        r.conversion_percent(),
        r.revenue,
        r.refunded,
        r.net()
    );
    println!();
    println!("{:<6} {:<40} {:>6} {:>12}", "course", "name", "units", "revenue");
    for c in &r.courses {
        let name: String = c.name.chars().take(38).collect();
        println!("{:<6} {:<40} {:>6} {:>12}", c.course_id, name, c.units, c.revenue.to_string());
    }
    println!();
    println!(
        "{:<12} {:>8} {:>6} {:>11} {:>12} {:>10}",
        "day (UTC+8)", "created", "paid", "conversion", "revenue", "refunded"
    );
    for d in &r.days {
        let conv = if d.created == 0 { 0.0 } else { d.paid as f64 * 100.0 / d.created as f64 };
        println!(
            "{:<12} {:>8} {:>6} {:>10.1}% {:>12} {:>10}",
            d.day.map(|x| x.to_string()).unwrap_or_default(),
            d.created,
            d.paid,
            conv,
            d.revenue.to_string(),
            d.refunded.to_string()
        );
    }
}

/// A context for an operator command: no demo seeding, no HTTP server.
async fn operator_context(mut settings: Settings) -> anyhow::Result<AppContext> {
    settings.catalog.seed_demo_when_empty = false;
    AppContext::init(settings).await
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let ctx = Arc::new(AppContext::init(settings).await?);
    let profile = ctx.settings.profile;
    let app = shop_http::Application::build_with_context(Arc::clone(&ctx))?;
    let base = app.public_url().to_owned();
    tracing::info!(profile = %profile, port = app.port(), "course-shop is listening");
    println!("course-shop ({profile} profile) is serving:");
    println!("  API         {base}/api/v1/   (e.g. {base}/api/v1/course/list/)");
    if ctx.settings.docs.enabled {
        println!("  Swagger UI  {base}/docs/");
        println!("  OpenAPI     {base}/openapi.json");
    }
    println!("  media       {base}/media/");
    println!("  health      {base}/healthz  {base}/readyz");
    app.run_until_stopped().await.context("server error")
}

fn read_password() -> anyhow::Result<secrecy::SecretString> {
    use std::io::IsTerminal as _;
    let text = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        first
    } else {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        input.lines().next().unwrap_or_default().to_owned()
    };
    Ok(secrecy::SecretString::from(text))
}
