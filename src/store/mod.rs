//! Progress storage (sqlx): which steps each learner has passed, their answers and step starts,
//! and workshops with their learners — in a SQLite file by default, or in PostgreSQL
//! (`postgres://…`) so several replicas can share it.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The learner of a single-user (laptop) kubelab.
pub const LOCAL_LEARNER: &str = "local";

/// How long opening a PostgreSQL connection may take before `open` gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one kubelab can open (the password, if any, is masked).
    #[error("unsupported database URL {0:?} (use sqlite://PATH or postgres://USER:PASS@HOST/DB)")]
    UnsupportedUrl(String),
    /// The database could not be opened or migrated.
    #[error("cannot open the database: {0}")]
    Open(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

/// A handle on the progress database (cheap to clone).
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
}

/// The database behind a [`Store`]; every query is written once, in SQL both accept.
#[derive(Clone, Debug)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store has. The body is the same text
/// for both arms, so each query is written once and compiled for both drivers.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

mod objects;
mod progress;
mod workshops;

pub use objects::CreatedObject;
pub use progress::StepRecord;
pub use workshops::{CODE_LENGTH, JoinOutcome, LearnerRecord, NewWorkshop, Workshop};

// The SQL uses `$n` placeholders, which both PostgreSQL and SQLite (as named parameters)
// accept, and `INSERT … ON CONFLICT`, which both execute atomically per row. Times are kept as
// RFC 3339 text in whole seconds (Kubernetes timestamps have no fractions either).

/// The default database: `$XDG_DATA_HOME/kubelab/kubelab.db` (or `~/.local/share/...`).
pub fn default_database_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("kubelab").join("kubelab.db")
}

impl Store {
    /// Opens the database at `url` and applies migrations: `postgres://…` or `postgresql://…`
    /// for a PostgreSQL server, otherwise SQLite — `sqlite://PATH`, a bare path (created if
    /// needed) or `:memory:`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return open_postgres(url).await;
        }
        if url.contains("://") && !url.starts_with("sqlite:") {
            return Err(StoreError::UnsupportedUrl(redacted_url(url)));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        open_sqlite(path).await
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await);
    }
}

/// Opens (creating if needed) a SQLite database file, or an in-memory one for `:memory:`.
async fn open_sqlite(path: &str) -> Result<Store, StoreError> {
    let options = if path == ":memory:" {
        SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| StoreError::Open(e.to_string()))?
    } else {
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Open(format!("cannot create {}: {e}", dir.display())))?;
        }
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
    };
    // Every connection to `:memory:` is a separate database, so the pool keeps exactly one.
    let max = if path == ":memory:" { 1 } else { 8 };
    let pool = SqlitePoolOptions::new()
        .max_connections(max)
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Open(format!("{path}: {e}")))?;
    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .map_err(|e| StoreError::Open(format!("migrating {path}: {e}")))?;
    Ok(Store {
        backend: Backend::Sqlite(pool),
    })
}

/// Connects to a PostgreSQL server, applies migrations and returns a pooled store.
async fn open_postgres(url: &str) -> Result<Store, StoreError> {
    let shown = redacted_url(url);
    let options = PgConnectOptions::from_str(url).map_err(|e| {
        StoreError::Open(format!(
            "invalid PostgreSQL URL {shown}: {}",
            scrub(&e.to_string(), url)
        ))
    })?;
    let server = format!(
        "PostgreSQL at {}:{} (database {}, user {})",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username()),
        options.get_username()
    );
    // One direct connection first: the pool would retry a refused connection silently until
    // its timeout, while this fails at once with the driver's reason.
    let mut conn =
        tokio::time::timeout(CONNECT_TIMEOUT, sqlx::PgConnection::connect_with(&options))
            .await
            .map_err(|_| {
                StoreError::Open(format!(
                    "cannot connect to {server}: no answer within {}s",
                    CONNECT_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| {
                StoreError::Open(format!(
                    "cannot connect to {server}: {}",
                    scrub(&e.to_string(), url)
                ))
            })?;
    // sqlx holds an advisory lock while migrating, so replicas starting together are safe.
    sqlx::migrate!("./migrations")
        .run(&mut conn)
        .await
        .map_err(|e| {
            StoreError::Open(format!(
                "migrating {server}: {}",
                scrub(&e.to_string(), url)
            ))
        })?;
    // Closing is a courtesy to the server; the migrations are already committed.
    let _ = conn.close().await;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_lazy_with(options);
    Ok(Store {
        backend: Backend::Postgres(pool),
    })
}

/// `url` with the password (in the user info or a `password=` parameter) replaced by `***`,
/// for logs and error messages that name the database.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// `message` with every password found in `url` masked, in case a driver error quotes it.
fn scrub(message: &str, url: &str) -> String {
    let mut passwords = Vec::new();
    if let Some((_, rest)) = url.split_once("://") {
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
        {
            passwords.push(password);
        }
        if let Some((_, query)) = rest.split_once('?') {
            passwords.extend(query.split('&').filter_map(|pair| {
                pair.split_once('=')
                    .filter(|(key, _)| key.eq_ignore_ascii_case("password"))
                    .map(|(_, value)| value)
            }));
        }
    }
    passwords
        .into_iter()
        .filter(|p| !p.is_empty())
        .fold(message.to_owned(), |m, p| m.replace(p, "***"))
}

/// A time as stored: RFC 3339 in whole seconds, UTC.
pub(crate) fn time_text(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

/// A stored time (RFC 3339); `None` for text that is not one.
pub(crate) fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rejects_unknown_scheme() {
        assert!(matches!(
            Store::open("mysql://x").await,
            Err(StoreError::UnsupportedUrl(_))
        ));
    }

    #[tokio::test]
    async fn unsupported_url_does_not_show_the_password() {
        let err = Store::open("mysql://kubelab:hunter2@db.example/kubelab")
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("db.example"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn redact_masks_passwords() {
        assert_eq!(
            redacted_url("postgres://u:p%40ss@h:5432/db?sslmode=disable&password=x"),
            "postgres://u:***@h:5432/db?sslmode=disable&password=***"
        );
        assert_eq!(redacted_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(redacted_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            scrub(
                "failed for p%40ss and x",
                "postgres://u:p%40ss@h/db?password=x"
            ),
            "failed for *** and ***"
        );
    }
}
