//! `course-shop`: the server and the operator commands.
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use shop_app::accounts::{self, AddUser};
use shop_app::config::{Profile, Settings};
use shop_app::{AppContext, catalog, context};

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
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
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
            context::migrate(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::SeedDemo => {
            let db = context::connect(&settings).await?;
            context::migrate(&db).await?;
            let summary = context::seed_demo(&db, &settings).await?;
            println!("demo catalog imported: {summary:?}");
            Ok(())
        }
        Command::ImportCatalog { file } => {
            let json =
                std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let db = context::connect(&settings).await?;
            context::migrate(&db).await?;
            let summary =
                catalog::import_catalog_json(&db, &json).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("imported {}: {summary:?}", file.display());
            Ok(())
        }
        Command::User { command: UserCommand::Add { username, email, mobile, admin } } => {
            let password = read_password()?;
            let mut settings = settings;
            settings.catalog.seed_demo_when_empty = false;
            let ctx = AppContext::init(settings).await?;
            let user = accounts::add_user(&ctx, AddUser { username, email, mobile, password, admin })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created user {} (id {}, role {})", user.username, user.id, user.role.as_str());
            Ok(())
        }
        Command::Openapi => Ok(()),
    }
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
