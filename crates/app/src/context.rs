//! Everything a use case needs, built once at start-up and shared by every request.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;

use crate::auth::{KeyPurpose, TokenService, derive_key};
use crate::catalog::{self, Catalog};
use crate::config::Settings;
use crate::mail::Mailer;
use crate::payments::gateway::Payments;
use crate::sms::SmsGateway;
use crate::storage::Storage;
use arc_swap::ArcSwap;

/// Shared state of a server process (or of one CLI command): the composition root. Cheap to
/// clone: every part is shared, and [`AppContext::with_db`] gives a copy that talks to the
/// database through another pool.
///
/// A use case does not take the whole context: it takes its feature's view of what it may use
/// ([`AppContext::accounts`], [`AppContext::delivery`]; the payment side's state through
/// [`AppContext::payments`]), and the edges (HTTP, CLI) read the few parts they serve
/// directly through accessors.
#[derive(Clone)]
pub struct AppContext {
    pub(crate) db: DatabaseConnection,
    pub(crate) settings: Arc<Settings>,
    tokens: TokenService,
    pub(crate) catalog: Arc<Catalog>,
    /// Key of the SMS code hashes, derived from the JWT secret.
    sms_key: [u8; 32],
    sms: Arc<dyn SmsGateway>,
    pub(crate) payments: Arc<Payments>,
    storage: Storage,
    mailer: Arc<dyn Mailer>,
    /// The absolute base URL of links (set again once the server has bound its port).
    public_url: Arc<ArcSwap<String>>,
    /// HTTP requests in progress in this process.
    requests: Arc<InFlight>,
    /// Course views this process has counted today (`crate::funnel`).
    pub(crate) seen_views: Arc<SeenToday>,
}

/// The course views a process has counted today, so that a visitor's repeated requests of a
/// course page cost no write (the table's primary key keeps the count right across
/// processes). Bounded: cleared when full, and when the day changes.
#[derive(Default)]
pub(crate) struct SeenToday(std::sync::Mutex<Option<SeenOn>>);

/// A day and the (course, visitor) pairs seen on it.
type SeenOn = (String, std::collections::HashSet<(i64, String)>);

const SEEN_LIMIT: usize = 200_000;

impl SeenToday {
    /// Notes that this process counts the view of `course_id` by `who` on `day`; false when it
    /// was noted already (one check and note, so of two concurrent requests one counts).
    pub(crate) fn claim(&self, day: &str, course_id: i64, who: &str) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = match seen.as_ref() {
            Some((d, set)) => d != day || set.len() >= SEEN_LIMIT,
            None => true,
        };
        if fresh {
            *seen = Some((day.to_owned(), std::collections::HashSet::new()));
        }
        seen.as_mut().is_some_and(|(_, set)| set.insert((course_id, who.to_owned())))
    }

    /// Takes back a [`SeenToday::claim`] whose view was not written.
    pub(crate) fn forget(&self, day: &str, course_id: i64, who: &str) {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((d, set)) = seen.as_mut()
            && d == day
        {
            set.remove(&(course_id, who.to_owned()));
        }
    }
}

impl AppContext {
    /// What the account use cases may use.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts {
            db: &self.db,
            settings: &self.settings,
            tokens: &self.tokens,
            sms: self.sms.as_ref(),
            sms_key: self.sms_key,
            mailer: self.mailer.as_ref(),
        }
    }

    /// What delivery's use cases may use.
    pub fn delivery(&self) -> Delivery<'_> {
        Delivery {
            db: &self.db,
            settings: &self.settings,
            catalog: &self.catalog,
            storage: &self.storage,
            mailer: self.mailer.as_ref(),
            public_url: self.public_url.load_full(),
        }
    }

    /// The pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The settings.
    pub fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }

    /// The in-memory catalog.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Access tokens (the HTTP layer verifies them).
    pub fn tokens(&self) -> &TokenService {
        &self.tokens
    }

    /// Private media (the HTTP layer serves local files).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The payment side's shared state (the development simulator's pages).
    pub fn payments(&self) -> &Payments {
        &self.payments
    }

    /// HTTP requests in progress in this process (the HTTP layer counts them; background
    /// work gives way to them).
    pub fn requests(&self) -> &Arc<InFlight> {
        &self.requests
    }
}

/// What the account use cases may use (see [`AppContext::accounts`]).
pub struct Accounts<'a> {
    /// The pool.
    pub db: &'a DatabaseConnection,
    /// The settings (`auth`, `sms`, `media`).
    pub settings: &'a Settings,
    /// Access tokens.
    pub tokens: &'a TokenService,
    /// Delivers SMS codes.
    pub sms: &'a dyn SmsGateway,
    /// Key of the SMS and email code hashes.
    pub sms_key: [u8; 32],
    /// Outgoing email (email confirmation codes).
    pub mailer: &'a dyn Mailer,
}

/// What delivery's use cases may use (see [`AppContext::delivery`]).
pub struct Delivery<'a> {
    /// The pool.
    pub db: &'a DatabaseConnection,
    /// The settings (`delivery`, `email`, `storage`).
    pub settings: &'a Settings,
    /// The in-memory catalog (course names).
    pub catalog: &'a Catalog,
    /// Private media.
    pub storage: &'a Storage,
    /// Outgoing email.
    pub mailer: &'a dyn Mailer,
    /// The absolute base URL of links.
    pub public_url: std::sync::Arc<String>,
}

/// A count of the HTTP requests in progress (the HTTP layer enters one per request), which
/// background work reads to give way to requests.
#[derive(Debug, Default)]
pub struct InFlight(AtomicUsize);

impl InFlight {
    /// Counts a request until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(Arc::clone(self))
    }

    /// Requests in progress now.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// One request in progress; see [`InFlight::enter`].
#[derive(Debug)]
pub struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The pool settings of `settings` for a pool of up to `max_connections`: the acquire,
/// statement, lock and busy timeouts of `[database]` (0 turns one off).
pub fn pool_options(settings: &Settings, max_connections: u32) -> shop_db::PoolOptions {
    let d = &settings.database;
    let ms = |v: u64| (v > 0).then(|| Duration::from_millis(v));
    shop_db::PoolOptions {
        max_connections,
        acquire_timeout: Duration::from_secs(d.acquire_timeout_seconds),
        statement_timeout: ms(d.statement_timeout_ms),
        lock_timeout: ms(d.lock_timeout_ms),
        busy_timeout: Duration::from_millis(d.busy_timeout_ms),
    }
}

fn backend_name(url: &str) -> &'static str {
    shop_db::backend_of(url).map_or("database", |b| match b {
        shop_db::Backend::Postgres => "Postgres",
        shop_db::Backend::Sqlite => "SQLite",
    })
}

/// Opens the database of `settings`.
///
/// # Errors
/// When the database cannot be reached.
pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let url = settings.database.url.expose_secret();
    let options = pool_options(settings, settings.database.max_connections);
    // The URL may carry a password: name only the backend in the error.
    shop_db::connect(url, &options)
        .await
        .with_context(|| format!("cannot open the {} database (database.url)", backend_name(url)))
}

/// A pool for one HTTP worker thread, on Postgres (`None` on SQLite, whose writers share
/// one file and are better served by one pool): its connections are opened lazily, by the
/// worker's own requests, so their sockets belong to the worker's runtime and a query's
/// answer wakes the worker directly instead of going through another thread. Holds up to
/// `database.max_connections / workers` connections (at least 1). Call it on the worker's
/// thread.
///
/// # Errors
/// An unreadable database URL.
pub fn request_pool(settings: &Settings, workers: usize) -> anyhow::Result<Option<DatabaseConnection>> {
    let url = settings.database.url.expose_secret();
    if shop_db::backend_of(url) != Some(shop_db::Backend::Postgres) {
        return Ok(None);
    }
    let per_worker = settings.database.max_connections / u32::try_from(workers.max(1)).unwrap_or(u32::MAX);
    let options = pool_options(settings, per_worker.max(1));
    // The URL may carry a password: never in the error.
    shop_db::connect_lazy_postgres(url, &options).map(Some).context("cannot read database.url")
}

/// Applies pending migrations. On Postgres they run on a connection of their own, without the
/// statement and lock timeouts of request pools (building an index on a large table may take
/// longer); SQLite applies them on `db`.
///
/// # Errors
/// Migration failures.
pub async fn migrate(settings: &Settings, db: &DatabaseConnection) -> anyhow::Result<()> {
    let url = settings.database.url.expose_secret();
    if shop_db::backend_of(url) == Some(shop_db::Backend::Postgres) {
        let options =
            shop_db::PoolOptions::new(1, Duration::from_secs(settings.database.acquire_timeout_seconds));
        let own = shop_db::connect(url, &options)
            .await
            .with_context(|| format!("cannot open the {} database (database.url)", backend_name(url)))?;
        let applied = Migrator::up(&own, None).await.context("applying migrations");
        own.close().await.ok();
        return applied;
    }
    Migrator::up(db, None).await.context("applying migrations")
}

/// Imports the demo catalog and draws its pictures.
///
/// # Errors
/// Database or file-system failures.
pub async fn seed_demo(
    db: &DatabaseConnection,
    settings: &Settings,
) -> anyhow::Result<catalog::ImportSummary> {
    let summary = catalog::import_catalog_json(db, catalog::DEMO_CATALOG_JSON)
        .await
        .map_err(|e| anyhow::anyhow!("importing the demo catalog: {e}"))?;
    catalog::write_demo_media(&settings.media.root, catalog::DEMO_CATALOG_JSON, &settings.media.default_icon)
        .context("writing the demo pictures")?;
    Ok(summary)
}

impl AppContext {
    /// Connects, migrates (when `database.migrate_on_start`), seeds the demo catalog into an
    /// empty database (when `catalog.seed_demo_when_empty`), and loads the catalog.
    ///
    /// # Errors
    /// Any of those steps failing.
    pub async fn init(settings: Settings) -> anyhow::Result<Self> {
        let sms = crate::sms::from_settings(settings.sms.sender);
        Self::init_with(settings, sms).await
    }

    /// [`AppContext::init`] with a given SMS gateway.
    ///
    /// # Errors
    /// As [`AppContext::init`].
    pub async fn init_with(settings: Settings, sms: Arc<dyn SmsGateway>) -> anyhow::Result<Self> {
        let db = connect(&settings).await?;
        if settings.database.migrate_on_start {
            migrate(&settings, &db).await?;
        }
        if settings.catalog.seed_demo_when_empty && shop_db::catalog::course_count(&db).await? == 0 {
            let summary = seed_demo(&db, &settings).await?;
            tracing::info!(courses = summary.courses, "empty database: demo catalog seeded");
        }
        let catalog = Catalog::load(&db).await.map_err(|e| anyhow::anyhow!("loading the catalog: {e:?}"))?;
        let public_url = settings.public_url(settings.server.port);
        let payments = Payments::new(&settings, &public_url)?;
        let storage = Storage::from_settings(&settings.storage, media_key(&settings))?;
        let mailer = crate::mail::from_settings(&settings.email)?;
        let mut ctx = Self::assemble(db, settings, catalog, sms, payments, storage, mailer);
        ctx.public_url = Arc::new(ArcSwap::from_pointee(public_url));
        Ok(ctx)
    }

    /// Builds the context around an open database and a loaded catalog.
    pub fn assemble(
        db: DatabaseConnection,
        settings: Settings,
        catalog: Catalog,
        sms: Arc<dyn SmsGateway>,
        payments: Payments,
        storage: Storage,
        mailer: Arc<dyn Mailer>,
    ) -> Self {
        let public_url = Arc::new(ArcSwap::from_pointee(settings.public_url(settings.server.port)));
        let sms_key = derive_key(KeyPurpose::SmsCode, &settings.auth.jwt_secret);
        AppContext {
            tokens: TokenService::new(&settings.auth),
            catalog: Arc::new(catalog),
            settings: Arc::new(settings),
            db,
            sms_key,
            sms,
            payments: Arc::new(payments),
            storage,
            mailer,
            public_url,
            requests: Arc::new(InFlight::default()),
            seen_views: Arc::new(SeenToday::default()),
        }
    }
}

/// The key of locally signed media URLs, derived from the JWT secret (a separate purpose).
fn media_key(settings: &Settings) -> [u8; 32] {
    derive_key(KeyPurpose::MediaUrl, &settings.auth.jwt_secret)
}

impl AppContext {
    /// The same context with another pool (everything else shared): each HTTP worker of a
    /// Postgres server gets its own, see [`request_pool`].
    #[must_use]
    pub fn with_db(&self, db: DatabaseConnection) -> Self {
        AppContext { db, ..self.clone() }
    }

    /// The absolute base URL of links (`http://127.0.0.1:8000`).
    pub fn public_url(&self) -> String {
        self.public_url.load().as_ref().clone()
    }

    /// Sets the public base URL once the server knows its port, and re-targets the
    /// payment endpoints.
    ///
    /// # Errors
    /// As [`Payments::set_public_url`].
    pub fn set_public_url(&self, url: &str) -> anyhow::Result<()> {
        self.payments.set_public_url(&self.settings, url)?;
        self.public_url.store(Arc::new(url.to_owned()));
        Ok(())
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    pub async fn ping_database(&self) -> crate::AppResult<()> {
        self.db.ping().await.map_err(|_| crate::AppError::Unavailable("the database does not answer".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::SeenToday;

    #[test]
    fn a_view_is_claimed_once_a_day_and_can_be_given_back() {
        let seen = SeenToday::default();
        assert!(seen.claim("2026-12-01", 7, "a"), "the first request claims");
        assert!(!seen.claim("2026-12-01", 7, "a"), "a later one of the same visitor does not");
        assert!(seen.claim("2026-12-01", 8, "a") && seen.claim("2026-12-01", 7, "b"), "others do");
        seen.forget("2026-12-01", 7, "a");
        assert!(seen.claim("2026-12-01", 7, "a"), "given back: the next request claims");
        assert!(seen.claim("2026-12-02", 7, "a"), "a new day starts over");
        assert!(seen.claim("2026-12-02", 8, "a") && !seen.claim("2026-12-02", 7, "a"));
    }
}
