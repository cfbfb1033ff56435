//! Database failures that are not the request's fault: the database is unreachable, the
//! connection in use died, or a timeout fired. Callers answer them with "retry shortly"
//! (HTTP 503) instead of an internal error, and a request that wrote nothing may be retried
//! once (see [`note_connection_lost`] for how the retry gets a sound connection).
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sea_orm::{DbErr, RuntimeErr};

/// How a database failure looks to a caller that may retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The connection in use was lost (the server restarted, the backend was terminated, the
    /// network dropped it). A statement that failed this way took effect or not as a whole;
    /// a request that had written nothing may be retried on another connection.
    ConnectionLost,
    /// No connection could be had in time: the database is down, refuses connections, or
    /// every connection of the pool is busy.
    Unreachable,
    /// A statement, lock or busy timeout fired (or a deadlock was broken): the statement was
    /// rolled back.
    Timeout,
}

impl Fault {
    /// Seconds a client should wait before retrying (`Retry-After`).
    pub fn retry_after_secs(self) -> u64 {
        match self {
            Fault::ConnectionLost => 1,
            Fault::Timeout => 2,
            Fault::Unreachable => 5,
        }
    }
}

/// SQLSTATEs of Postgres that mean the connection is gone: class 08 (connection exception),
/// administrator shutdown, crash shutdown.
fn lost_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02")
}

/// SQLSTATEs of Postgres that mean "not now": cannot connect now, too many connections.
fn unreachable_sqlstate(code: &str) -> bool {
    matches!(code, "57P03" | "53300")
}

/// SQLSTATEs of Postgres for a timeout or a broken deadlock (query canceled by
/// `statement_timeout`, `lock_timeout`, deadlock, serialization failure), and SQLite's
/// primary result codes BUSY (5) and LOCKED (6) with their extended codes.
fn timeout_code(code: &str) -> bool {
    // A Postgres SQLSTATE has five characters; SQLite's result codes have at most four digits.
    if code.len() == 5 {
        return matches!(code, "57014" | "55P03" | "40P01" | "40001");
    }
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

/// The fault of `err`, or `None` when it is another kind of error (a bug, a constraint, bad
/// data). A lost connection is also noted (see [`note_connection_lost`]).
pub fn fault(err: &DbErr) -> Option<Fault> {
    let found = match err {
        DbErr::ConnectionAcquire(_) => Some(Fault::Unreachable),
        // Opening a connection (or beginning a transaction) failed: whatever the database
        // said (it refuses connections, it is starting up), it is not reachable now.
        DbErr::Conn(RuntimeErr::SqlxError(e)) => {
            sqlx_fault(e).or(matches!(**e, sea_orm::sqlx::Error::Database(_)).then_some(Fault::Unreachable))
        }
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_fault(e),
        _ => None,
    };
    if found == Some(Fault::ConnectionLost) {
        note_connection_lost();
    }
    found
}

fn sqlx_fault(err: &sea_orm::sqlx::Error) -> Option<Fault> {
    use sea_orm::sqlx::Error as E;
    match err {
        E::Io(_) | E::Tls(_) | E::Protocol(_) | E::WorkerCrashed | E::BeginFailed => {
            Some(Fault::ConnectionLost)
        }
        E::PoolTimedOut | E::PoolClosed => Some(Fault::Unreachable),
        E::Database(db) => {
            let code = db.code()?;
            if lost_sqlstate(&code) {
                Some(Fault::ConnectionLost)
            } else if unreachable_sqlstate(&code) {
                Some(Fault::Unreachable)
            } else if timeout_code(&code) {
                Some(Fault::Timeout)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// When a connection was last seen lost, in milliseconds since the epoch (0: never).
static LOST_AT_MS: AtomicU64 = AtomicU64::new(0);

/// How long after a lost connection older pooled connections are checked before use.
pub const CHECK_AFTER_LOSS: Duration = Duration::from_secs(10);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Records that a connection was just found lost. A lost connection is rarely alone (the
/// server restarted, or every backend was terminated), and a pooled connection that was
/// used in the last seconds is handed out without a check: for [`CHECK_AFTER_LOSS`] the
/// pools ping every connection opened before the loss before handing it out (see
/// [`needs_check`]), so that a retry runs on a sound connection.
pub fn note_connection_lost() {
    LOST_AT_MS.store(now_ms(), Ordering::Relaxed);
}

/// Whether a pooled connection of age `age` must be pinged before use: it was opened before a
/// loss noted less than [`CHECK_AFTER_LOSS`] ago.
pub fn needs_check(age: Duration) -> bool {
    let lost = LOST_AT_MS.load(Ordering::Relaxed);
    if lost == 0 {
        return false;
    }
    let since = Duration::from_millis(now_ms().saturating_sub(lost));
    since < CHECK_AFTER_LOSS && age > since
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        assert!(lost_sqlstate("57P01") && lost_sqlstate("08006") && !lost_sqlstate("23505"));
        assert!(unreachable_sqlstate("57P03") && unreachable_sqlstate("53300"));
        assert!(timeout_code("57014") && timeout_code("55P03") && timeout_code("40P01"));
        assert!(timeout_code("5") && timeout_code("517") && timeout_code("6") && !timeout_code("19"));
        assert!(!timeout_code("2067"), "SQLite's unique violation is not a timeout");
        assert!(!timeout_code("22021"), "Postgres' invalid byte sequence is not SQLite's BUSY");
        assert_eq!(fault(&DbErr::Custom("x".into())), None);
        assert_eq!(
            fault(&DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout)),
            Some(Fault::Unreachable)
        );
    }

    #[test]
    fn connections_older_than_a_loss_are_checked_for_a_while() {
        note_connection_lost();
        assert!(needs_check(Duration::from_secs(60)), "opened before the loss");
        assert!(!needs_check(Duration::ZERO), "opened after it");
    }
}
