//! The secret key's check value, kept in the database: an instance that holds a different
//! key than the one the stored secrets were sealed with refuses to start, instead of failing
//! later on the first sealed value it reads.

use crate::crypto::SecretBox;
use crate::db::{self, Db};
use crate::with_pool;

const SETTING: &str = "secret_key.check";
const TEXT: &str = "hearth secret key check";

pub enum Mismatch {
    /// The key does not open what the database holds.
    Key,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for Mismatch {
    fn from(e: sqlx::Error) -> Mismatch {
        Mismatch::Db(e)
    }
}

/// Checks `secrets` against the stored check value, storing one first if there is none.
pub async fn verify(db: &Db, secrets: &SecretBox) -> Result<(), Mismatch> {
    if stored(db).await?.is_none() {
        // A database from before the check: a sealed value already there must open.
        if let Some(sample) = any_sealed(db).await? {
            secrets.open(&sample).map_err(|_| Mismatch::Key)?;
        }
        // Of instances starting at once, the first to write wins; each then checks below.
        let value = serde_json::Value::String(secrets.seal(TEXT)).to_string();
        let sql = "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (key) DO NOTHING";
        with_pool!(db, pool => sqlx::query(sql).bind(SETTING).bind(value).bind(db::now()).execute(pool).await.map(|r| r.rows_affected()))?;
    }
    match stored(db).await? {
        Some(sealed) if secrets.open(&sealed).is_ok_and(|t| t == TEXT) => Ok(()),
        _ => Err(Mismatch::Key),
    }
}

async fn stored(db: &Db) -> Result<Option<String>, sqlx::Error> {
    let sql = "SELECT value FROM settings WHERE key = $1";
    let value: Option<String> =
        with_pool!(db, pool => sqlx::query_scalar(sql).bind(SETTING).fetch_optional(pool).await)?;
    Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
}

/// One sealed value of those the database holds, if it holds any.
async fn any_sealed(db: &Db) -> Result<Option<String>, sqlx::Error> {
    let sql = "SELECT api_key_sealed FROM llms WHERE api_key_sealed IS NOT NULL \
               UNION ALL SELECT headers_sealed FROM user_mcp_servers LIMIT 1";
    with_pool!(db, pool => sqlx::query_scalar(sql).fetch_optional(pool).await)
}
