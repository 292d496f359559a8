//! The database: one handle over the backends Hearth supports, chosen from the URL scheme.
//!
//! Callers never see a backend-specific pool: they call the query functions of the module
//! that owns the data (`users`, `keys`, …), which are written once in portable SQL (`$1`
//! placeholders, integer timestamps, booleans bound as `bool`) and run on whichever pool
//! [`Db`] holds, through [`with_pool!`]. Where the dialects differ, the query says so.
//!
//! The two backends keep their own migrations (`migrations/sqlite`, `migrations/postgres`),
//! numbered alike: migration N makes the same tables on both.

pub mod copy;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Connection;

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool. The body must be backend-agnostic.
#[macro_export]
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "unsupported database URL {0:?}: expected sqlite://PATH or postgres://USER@HOST/DATABASE"
    )]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot connect to PostgreSQL database {database:?} on {host}: {source}")]
    Postgres {
        host: String,
        database: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot create {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    /// Opens the database named by `url`, creating a SQLite file (and its directory) if needed.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(DbError::Connect)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let path = options.get_filename();
            if let Some(dir) = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty() && !d.exists())
            {
                crate::files::private_dir(dir).map_err(|source| DbError::Directory {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
            // Created here first, so that SQLite opens a file only its owner can read (its
            // journal files take the same mode).
            if path != std::path::Path::new(":memory:") && !path.as_os_str().is_empty() {
                crate::files::private_file(path).map_err(|source| DbError::Directory {
                    path: path.display().to_string(),
                    source,
                })?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .map_err(DbError::Connect)?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|_| DbError::UnsupportedUrl(redact_url(url)))?
                .application_name("hearth");
            let place = |source| DbError::Postgres {
                host: format!("{}:{}", options.get_host(), options.get_port()),
                database: options.get_database().unwrap_or("").to_owned(),
                source,
            };
            // One connection first: its error says what is wrong (nothing listening, no such
            // database, a refused password), where the pool's would only say it timed out.
            PgConnection::connect_with(&options)
                .await
                .map_err(place)?
                .close()
                .await
                .map_err(place)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(3))
                .connect_with(options.clone())
                .await
                .map_err(place)?;
            Ok(Db::Postgres(pool))
        } else {
            Err(DbError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// Applies every embedded migration not yet applied. Safe to run from several processes
    /// at once: SQLite serialises them with its write lock, and on PostgreSQL sqlx holds an
    /// advisory lock while it migrates.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Db::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// The backend's name, for messages and `/healthz`.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// One round trip to the database.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }

    /// Whether [`Db::close`] was called.
    pub fn is_closed(&self) -> bool {
        with_pool!(self, pool => pool.is_closed())
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// A URL with any password removed, fit for an error message.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://…{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Seconds since the Unix epoch: how every timestamp is stored.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Whether `e` says the database cannot be reached now (down, restarting, or every
/// connection busy past the wait), rather than that a query is wrong: the request may succeed
/// later, so it is a 503.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL's connection exceptions (class 08) and "shutting down / starting up"
        // (57P01–57P03).
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// Whether `e` is a unique-constraint violation (a name already taken).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_errors_lose_their_credentials() {
        assert_eq!(
            redact_url("postgres://u:pw@db:5432/h"),
            "postgres://…@db:5432/h"
        );
        assert_eq!(redact_url("mysql://db/h"), "mysql://db/h");
    }

    #[tokio::test]
    async fn a_new_sqlite_file_is_created_in_wal_mode_and_migrated_twice_safely() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/h.db", dir.path().display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        db.migrate().await.unwrap();
        let Db::Sqlite(pool) = &db else {
            unreachable!()
        };
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_refused_clearly() {
        let err = Db::connect("mysql://root:hunter2@db/h").await.unwrap_err();
        assert!(err.to_string().contains("sqlite://"));
        assert!(!err.to_string().contains("hunter2"));
    }
}
