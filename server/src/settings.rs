//! Server-wide settings that admins change at run time, kept as JSON values in the `settings`
//! table. Each setting's owner module defines its value type and its route.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::db::{self, Db};
use crate::error::{AppError, Result};
use crate::with_pool;

/// The stored value of `key`, if it was ever set.
pub async fn get<T: DeserializeOwned>(db: &Db, key: &str) -> Result<Option<T>> {
    let sql = "SELECT value FROM settings WHERE key = $1";
    let value: Option<String> =
        with_pool!(db, pool => sqlx::query_scalar(sql).bind(key).fetch_optional(pool).await)?;
    value
        .map(|v| serde_json::from_str(&v).map_err(AppError::internal))
        .transpose()
}

pub async fn put<T: Serialize>(db: &Db, key: &str, value: &T) -> Result<()> {
    let json = serde_json::to_string(value).map_err(AppError::internal)?;
    let sql = "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
               ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    with_pool!(db, pool => sqlx::query(sql).bind(key).bind(json).bind(db::now()).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}
