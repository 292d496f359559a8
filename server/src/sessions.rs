//! Browser sessions, stored in the database so every instance sharing it sees them.
//! The cookie is HttpOnly and SameSite=Strict, and Secure when the request came over HTTPS.
//!
//! A session read is kept a few seconds with the callers `auth::known` keeps: a signed-in
//! page's requests do not each read it again. Every write of a session (a sign-in, a
//! sign-out) drops what is kept, here and on the other instances.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use crate::auth::known::Known;
use crate::db::Db;

pub const COOKIE_NAME: &str = "hearth_session";
const IDLE_DAYS: i64 = 7;

/// The sessions' table on the backend in use (made by the migrations, not by the store),
/// and the sessions lately read.
#[derive(Clone, Debug)]
pub struct Store {
    table: Table,
    db: Db,
    known: Arc<Known>,
}

#[derive(Clone, Debug)]
enum Table {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store {
    pub fn new(db: &Db, known: Arc<Known>) -> Store {
        let table = match db {
            Db::Sqlite(pool) => Table::Sqlite(SqliteStore::new(pool.clone())),
            // The store's own names: `tower_sessions.session`.
            Db::Postgres(pool) => Table::Postgres(PostgresStore::new(pool.clone())),
        };
        Store {
            table,
            db: db.clone(),
            known,
        }
    }

    /// After a session was written: what was read before is not used again, here or on the
    /// other instances.
    async fn written(&self) {
        crate::auth::known::forget_everywhere(&self.known, &self.db).await;
    }
}

#[async_trait::async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let created = match &self.table {
            Table::Sqlite(s) => s.create(record).await,
            Table::Postgres(s) => s.create(record).await,
        };
        self.written().await;
        created
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let saved = match &self.table {
            Table::Sqlite(s) => s.save(record).await,
            Table::Postgres(s) => s.save(record).await,
        };
        self.written().await;
        saved
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.known.session(id) {
            return Ok(Some(record));
        }
        let era = self.known.era();
        let loaded = match &self.table {
            Table::Sqlite(s) => s.load(id).await,
            Table::Postgres(s) => s.load(id).await,
        }?;
        if let Some(record) = &loaded {
            self.known.keep_session(era, record);
        }
        Ok(loaded)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let deleted = match &self.table {
            Table::Sqlite(s) => s.delete(id).await,
            Table::Postgres(s) => s.delete(id).await,
        };
        self.written().await;
        deleted
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for Store {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match &self.table {
            Table::Sqlite(s) => s.delete_expired().await,
            Table::Postgres(s) => s.delete_expired().await,
        }
    }
}

/// A session store's failure as the error a request gets: its database being away is a 503
/// (the store says so only in words, so every backend failure is taken for that), anything
/// else a 500.
pub fn store_error(e: tower_sessions::session::Error) -> crate::error::AppError {
    use tower_sessions::session::Error;
    match e {
        Error::Store(session_store::Error::Backend(why)) => {
            tracing::warn!(error = %why, "the session store cannot reach the database");
            crate::error::AppError::DatabaseUnavailable
        }
        other => crate::error::AppError::internal(other),
    }
}

/// The session layer over `db`, and a task that removes expired sessions every hour.
pub fn layer(db: &Db, known: Arc<Known>) -> SessionManagerLayer<Store> {
    let store = Store::new(db, known);
    let cleaner = store.clone();
    tokio::spawn(async move {
        if let Err(e) = cleaner
            .continuously_delete_expired(tokio::time::Duration::from_secs(3600))
            .await
        {
            tracing::warn!(error = %e, "expired-session cleanup stopped");
        }
    });
    SessionManagerLayer::new(store)
        .with_name(COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(IDLE_DAYS)))
}

/// Marks the session cookie `Secure` when the client reached us over HTTPS (directly or
/// through a proxy that says so), so it never travels back over plain HTTP.
pub async fn secure_over_https(request: Request, next: Next) -> Response {
    let https = request.uri().scheme_str() == Some("https")
        || request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .next()
                    .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
            });
    let mut response = next.run(request).await;
    if https {
        let cookies: Vec<HeaderValue> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .cloned()
            .collect();
        response.headers_mut().remove(header::SET_COOKIE);
        for value in cookies {
            let secured = match value.to_str() {
                Ok(v) if v.starts_with(COOKIE_NAME) && !v.contains("; Secure") => {
                    HeaderValue::from_str(&format!("{v}; Secure")).unwrap_or(value)
                }
                _ => value,
            };
            response.headers_mut().append(header::SET_COOKIE, secured);
        }
    }
    response
}
