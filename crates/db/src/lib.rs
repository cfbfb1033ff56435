//! Persistence of course-shop: sea-orm entities and the query functions over them.
//!
//! Functions take `&impl ConnectionTrait`, so a use case can run them inside its
//! transaction or on the pool. Unique-constraint violations come back as a typed
//! [`Conflict`] naming the constraint, so callers turn them into client errors without a
//! racy pre-check.
pub mod buyers;
pub mod catalog;
mod codes;
pub mod console;
pub mod delivery;
pub mod entities;
pub mod fault;
pub mod funnel;
pub mod guests;
pub mod limits;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod reconciliation;
mod rows;
pub mod sales;
pub mod sms;
pub mod users;

use std::time::Duration;

pub use sea_orm::{self, ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};

/// Which database a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL: the production database.
    Postgres,
    /// SQLite: the embedded default.
    Sqlite,
}

/// The backend a URL names, or `None` for an unsupported scheme.
pub fn backend_of(url: &str) -> Option<Backend> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Some(Backend::Sqlite)
    } else {
        None
    }
}

/// A pooled connection idle for this long is pinged before it is handed out (one round
/// trip), so a connection the server or a proxy dropped meanwhile is replaced instead of
/// failing a query. Busy connections are not pinged: sqlx's default, a ping on every
/// checkout, doubles the round trips of every query.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(5);

/// Pool settings for [`connect`].
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Largest number of open connections.
    pub max_connections: u32,
    /// How long to wait for a connection before failing.
    pub acquire_timeout: Duration,
    /// Postgres: longest a statement may run (`statement_timeout`); `None`: no limit.
    pub statement_timeout: Option<Duration>,
    /// Postgres: longest a statement waits for a lock (`lock_timeout`); `None`: no limit.
    pub lock_timeout: Option<Duration>,
    /// SQLite: longest a statement waits while another connection holds the write lock.
    pub busy_timeout: Duration,
}

impl PoolOptions {
    /// `max_connections` with the given acquire timeout and no statement or lock timeout
    /// (migrations, tools), SQLite waiting up to 10 s.
    pub fn new(max_connections: u32, acquire_timeout: Duration) -> Self {
        PoolOptions {
            max_connections,
            acquire_timeout,
            statement_timeout: None,
            lock_timeout: None,
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// Opens a pool. For SQLite the parent directory of the file is created, the file is
/// created when missing, WAL journaling and a busy timeout let several connections share
/// it, and foreign keys are enforced.
///
/// # Errors
/// The driver's error when the database cannot be reached.
pub async fn connect(url: &str, options: &PoolOptions) -> Result<DatabaseConnection, DbErr> {
    let mut opts = connect_options(url, options);
    let busy_timeout = options.busy_timeout;
    if backend_of(url) == Some(Backend::Sqlite) {
        if let Some(dir) = sqlite_parent_dir(url) {
            std::fs::create_dir_all(&dir).map_err(|e| {
                DbErr::Custom(format!("cannot create the SQLite directory {}: {e}", dir.display()))
            })?;
        }
        opts.map_sqlx_sqlite_opts(move |o| {
            o.create_if_missing(true)
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
        });
    }
    sea_orm::Database::connect(opts).await
}

/// The pool settings both [`connect`] and [`connect_lazy_postgres`] use.
fn connect_options(url: &str, options: &PoolOptions) -> sea_orm::ConnectOptions {
    let mut opts = sea_orm::ConnectOptions::new(url.to_owned());
    opts.max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_timeout(options.acquire_timeout)
        .test_before_acquire_if_idle_for(PING_AFTER_IDLE)
        .sqlx_logging(false);
    // Shortly after a lost connection, connections opened before it are checked before use.
    opts.map_sqlx_postgres_before_acquire(|conn, meta| {
        Box::pin(async move {
            if fault::needs_check(meta.age) {
                use sea_orm::sqlx::Connection as _;
                return Ok(conn.ping().await.is_ok());
            }
            Ok(true)
        })
    });
    let timeouts: Vec<(&'static str, String)> =
        [("statement_timeout", options.statement_timeout), ("lock_timeout", options.lock_timeout)]
            .into_iter()
            .filter_map(|(name, limit)| limit.map(|d| (name, format!("{}ms", d.as_millis().max(1)))))
            .collect();
    if !timeouts.is_empty() {
        opts.map_sqlx_postgres_opts(move |o| o.options(timeouts.clone()));
    }
    opts
}

/// A Postgres pool whose connections are opened on first use, by the task that needs one
/// (so on that task's runtime), with the settings of [`connect`]. No I/O here: a lazy pool's
/// connect future is ready at once.
///
/// # Errors
/// Not a Postgres URL, or one the driver cannot read (the error does not repeat it).
pub fn connect_lazy_postgres(url: &str, options: &PoolOptions) -> Result<DatabaseConnection, DbErr> {
    use futures_util::FutureExt as _;
    let unreadable = || DbErr::Custom("not a valid Postgres URL".into());
    if backend_of(url) != Some(Backend::Postgres) {
        return Err(unreadable());
    }
    let mut opts = connect_options(url, options);
    opts.connect_lazy(true);
    match sea_orm::Database::connect(opts).now_or_never() {
        Some(Ok(db)) => Ok(db),
        Some(Err(_)) => Err(unreadable()),
        None => Err(DbErr::Custom("a lazy Postgres pool tried to connect".into())),
    }
}

fn sqlite_parent_dir(url: &str) -> Option<std::path::PathBuf> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()).map(Into::into)
}

/// A unique constraint that an insert or update ran into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unique constraint {0} violated")]
pub struct Conflict(pub &'static str);

/// The error of a write that may hit a unique constraint.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A known unique constraint was violated.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// Anything else.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Maps a unique violation of one of `known` constraints to [`Conflict`]. Each entry is
/// `(constraint name, "table.column")`: Postgres reports the former, SQLite the latter.
pub fn classify(err: DbErr, known: &[(&'static str, &'static str)]) -> WriteError {
    if let Some(sea_orm::SqlErr::UniqueConstraintViolation(message)) = err.sql_err() {
        for (name, column) in known {
            if message.contains(name) || message.contains(column) {
                return WriteError::Conflict(Conflict(name));
            }
        }
    }
    WriteError::Db(err)
}

/// Begins a transaction that will write. On SQLite it starts `IMMEDIATE`, taking the write
/// lock up front: a deferred transaction that read first and writes later fails with
/// "database is locked" when another writer got in between, instead of waiting its turn.
/// Postgres ignores the option.
///
/// # Errors
/// The driver's error.
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing listens on port 1: a lazy pool is made without connecting.
    #[tokio::test]
    async fn a_lazy_postgres_pool_is_made_without_connecting() {
        let options = PoolOptions::new(2, Duration::from_secs(1));
        let db =
            connect_lazy_postgres("postgres://shop:secret@127.0.0.1:1/shop", &options).expect("lazy pool");
        assert_eq!(db.get_database_backend(), sea_orm::DbBackend::Postgres);
        assert!(db.ping().await.is_err(), "it connects when used");
        let err = connect_lazy_postgres("sqlite::memory:", &options).expect_err("not Postgres").to_string();
        assert!(!err.contains("sqlite"), "the URL is not repeated: {err}");
    }

    #[test]
    fn sqlite_directory_is_derived_from_the_url() {
        assert_eq!(sqlite_parent_dir("sqlite://./data/course-shop.db?mode=rwc"), Some("./data".into()));
        assert_eq!(sqlite_parent_dir("sqlite::memory:"), None);
        assert_eq!(sqlite_parent_dir("sqlite://shop.db"), None);
        assert_eq!(backend_of("postgresql://u@h/db"), Some(Backend::Postgres));
        assert_eq!(backend_of("mysql://h"), None);
    }
}
