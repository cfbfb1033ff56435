//! The commands of `course-shop`, one module per command or group of commands. Each module
//! declares its arguments, calls the use cases of `shop-app` and prints what they return;
//! the rules live in `shop-app`. Use-case errors are propagated with `?`, which keeps their
//! causes for the `course-shop: ...` line of `main`.
use clap::Subcommand;
use shop_app::AppContext;
use shop_app::config::Settings;

mod database;
mod media;
mod notify_buyers;
mod progress;
mod reconcile;
mod refund;
mod sales;
mod serve;
mod user;

#[derive(Debug, Subcommand)]
pub enum Command {
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
    ImportCatalog(database::ImportCatalog),
    /// Print the OpenAPI 3.1 document of the API.
    Openapi,
    /// Refund a paid order through Alipay (all that is left, or --amount yuan). The refund is
    /// recorded and sent at once; if Alipay cannot be reached the server's outbox worker
    /// retries it with the same request number, so it never refunds twice.
    Refund(refund::Refund),
    /// Upload course media to the configured storage (local directory or S3), with a progress
    /// bar: a section's video (--section ID) or a version of a downloadable material
    /// (--material NAME --version V; download links always serve the latest version).
    Media {
        #[command(subcommand)]
        command: media::MediaCommand,
    },
    /// Mail an update to every current owner of a course (the seed's "sending book updates
    /// should be one command"), with fresh download links when --new-version names an
    /// uploaded material version. Safe to rerun: a buyer gets each campaign once.
    NotifyBuyers(notify_buyers::NotifyBuyers),
    /// Sales: units and revenue per course and per day, orders created vs paid
    /// (conversion), refunds.
    Sales(sales::Sales),
    /// Reconcile against the providers' statements (对账单) of a day (--statement
    /// [YYYY-MM-DD], default yesterday, Beijing time): matched lines are counted, verified
    /// payments and console refunds applied, other differences flagged (exit status 1); the
    /// run is stored. Without --statement: ask the provider about every order still unpaid or
    /// in doubt and apply the verified answers. Prints what changed.
    Reconcile(reconcile::Reconcile),
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
}

/// Runs a command with its settings.
///
/// # Errors
/// The command's failure, with its causes.
pub async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve::run(settings).await,
        Command::Migrate => database::migrate(settings).await,
        Command::SeedDemo => database::seed_demo(settings).await,
        Command::ImportCatalog(args) => database::import_catalog(args, settings).await,
        Command::Openapi => {
            print!("{}", shop_http::spec_json());
            Ok(())
        }
        Command::Refund(args) => refund::run(args, settings).await,
        Command::Media { command } => media::run(command, settings).await,
        Command::NotifyBuyers(args) => notify_buyers::run(args, settings).await,
        Command::Sales(args) => sales::run(args, settings).await,
        Command::Reconcile(args) => reconcile::run(args, settings).await,
        Command::User { command } => user::run(command, settings).await,
    }
}

/// A context for an operator command: no demo seeding, no HTTP server.
async fn operator_context(mut settings: Settings) -> anyhow::Result<AppContext> {
    settings.catalog.seed_demo_when_empty = false;
    AppContext::init(settings).await
}
