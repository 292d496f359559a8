//! API keys: `hk-` + 256 random bits, shown once at creation and stored only as a SHA-256
//! hash. Routes: `GET/POST /v1/keys`, `DELETE /v1/keys/{id}`.
//!
//! Never stores, logs or lists a key itself; listings carry its display prefix only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use sqlx::FromRow;

use app::api::{ApiKey, ApiKeyList, CreateApiKey, CreatedApiKey, Role, KEY_CREATED, KEY_REVOKED};

use crate::audit::Record;

use crate::auth::{allowed, authorize, Action, Principal, Resource};
use crate::crypto::{hash_api_key, random_token};
use crate::db::{self, Db};
use crate::error::{AppError, Echo, Result};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::{users, with_pool};

pub const PREFIX: &str = "hk-";
/// How much of a key is kept for display: the prefix and a few characters.
const DISPLAY_LEN: usize = 10;
/// `last_used_at` is refreshed at most this often (seconds), to keep writes off the hot path.
const LAST_USED_GRANULARITY: i64 = 60;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/keys", get(list).post(create))
        .route("/v1/keys/{id}", delete(revoke))
}

#[derive(Debug, FromRow)]
struct KeyRow {
    id: i64,
    user_name: String,
    name: String,
    prefix: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    llms: Option<String>,
    mcp_servers: Option<String>,
}

/// A stored list of names, when the key is narrowed (an unreadable one reads as empty).
fn names(json: Option<&str>) -> Option<Vec<String>> {
    json.map(|json| serde_json::from_str(json).unwrap_or_default())
}

impl KeyRow {
    fn view(self) -> ApiKey {
        ApiKey {
            id: self.id,
            name: self.name,
            prefix: self.prefix,
            user: self.user_name,
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
            llms: names(self.llms.as_deref()),
            mcp_servers: names(self.mcp_servers.as_deref()),
        }
    }
}

const SELECT_KEYS: &str = "SELECT k.id, u.name AS user_name, k.name, k.prefix, k.created_at, \
                           k.expires_at, k.last_used_at, k.llms, k.mcp_servers FROM api_keys k JOIN users u ON u.id = k.user_id";

/// A key that may be used now, with what its holder acts as.
#[derive(Clone, Debug, FromRow)]
pub struct ActiveKey {
    pub key_id: i64,
    pub user_id: i64,
    pub user_name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub key_hash: String,
    pub expires_at: Option<i64>,
    llms: Option<String>,
    mcp_servers: Option<String>,
    last_used_at: Option<i64>,
}

impl ActiveKey {
    /// A key as the database would give it, unnarrowed and never used.
    #[cfg(test)]
    pub fn unnarrowed(
        key_id: i64,
        user_id: i64,
        key_hash: &str,
        expires_at: Option<i64>,
    ) -> ActiveKey {
        ActiveKey {
            key_id,
            user_id,
            user_name: "ana".into(),
            role: Role::Member,
            key_hash: key_hash.into(),
            expires_at,
            llms: None,
            mcp_servers: None,
            last_used_at: None,
        }
    }

    /// The shared MCP servers this key may use, when it is narrowed to some.
    pub fn mcp_servers(&self) -> Option<Vec<String>> {
        // As for LLMs: an unreadable list narrows the key to nothing.
        names(self.mcp_servers.as_deref())
    }

    /// The LLMs this key may run, when it is narrowed to some.
    pub fn llms(&self) -> Option<Vec<String>> {
        // An unreadable list narrows the key to nothing rather than widening it.
        names(self.llms.as_deref())
    }
}

const SELECT_ACTIVE: &str = "SELECT k.id AS key_id, k.user_id, u.name AS user_name, u.role, k.key_hash, k.expires_at, k.llms, k.mcp_servers, k.last_used_at \
                             FROM api_keys k JOIN users u ON u.id = k.user_id";

/// Finds the unexpired key `key` (kept from a recent request, or read), and notes its use (at
/// most once a minute, off the request path).
pub async fn find_active(state: &AppState, key: &str) -> sqlx::Result<Option<ActiveKey>> {
    let hash = hash_api_key(key);
    let now = db::now();
    let (found, note) = match state.known.key(&hash, now, LAST_USED_GRANULARITY) {
        Some((found, note)) => (found, note),
        None => {
            let era = state.known.era();
            let sql = format!(
                "{SELECT_ACTIVE} WHERE k.key_hash = $1 AND (k.expires_at IS NULL OR k.expires_at > $2)"
            );
            let found: Option<ActiveKey> = with_pool!(&state.db, pool => sqlx::query_as(&sql).bind(&hash).bind(now).fetch_optional(pool).await)?;
            let Some(found) = found else { return Ok(None) };
            let note = found
                .last_used_at
                .is_none_or(|t| now - t >= LAST_USED_GRANULARITY);
            let noted = if note {
                now
            } else {
                found.last_used_at.unwrap_or(now)
            };
            state.known.keep_key(era, &found, noted);
            (found, note)
        }
    };
    if note {
        let db = state.db.clone();
        let id = found.key_id;
        tokio::spawn(async move {
            let sql = "UPDATE api_keys SET last_used_at = $1 WHERE id = $2";
            if let Err(e) = with_pool!(&db, pool => sqlx::query(sql).bind(now).bind(id).execute(pool).await.map(|r| r.rows_affected()))
            {
                tracing::warn!(error = %e, "could not record an API key's last use");
            }
        });
    }
    Ok(Some(found))
}

pub async fn find_active_by_id(db: &Db, id: i64) -> sqlx::Result<Option<ActiveKey>> {
    let sql =
        format!("{SELECT_ACTIVE} WHERE k.id = $1 AND (k.expires_at IS NULL OR k.expires_at > $2)");
    with_pool!(db, pool => sqlx::query_as(&sql).bind(id).bind(db::now()).fetch_optional(pool).await)
}

/// When a key asked to last `days` expires: `None` for never.
pub fn expiry(days: Option<u32>) -> Result<Option<i64>> {
    match days {
        None => Ok(None),
        Some(days @ 1..=3650) => Ok(Some(db::now() + i64::from(days) * 86_400)),
        Some(_) => Err(AppError::BadRequest(
            "expires_in_days must be between 1 and 3650".into(),
        )),
    }
}

/// `names`, sorted and without repeats, when the key is narrowed to some.
fn normalized(names: Option<Vec<String>>) -> Option<Vec<String>> {
    names.map(|mut names| {
        names.sort();
        names.dedup();
        names
    })
}

/// Creates a key for `user`; the only place a key string is ever made.
#[tracing::instrument(skip_all, fields(user = %user.name))]
pub async fn create_for(
    db: &Db,
    user: &users::UserRow,
    name: &str,
    expires_at: Option<i64>,
    narrowed: Narrowing,
) -> Result<CreatedApiKey> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "a key's name must be 1 to 100 characters, none of them control characters".into(),
        ));
    }
    let llms = match normalized(narrowed.llms) {
        Some(names) => Some(known(db, names, &KNOWN_LLMS).await?),
        None => None,
    };
    let mcp_servers = match normalized(narrowed.mcp_servers) {
        Some(names) => Some(known(db, names, &KNOWN_SERVERS).await?),
        None => None,
    };
    let key = format!("{PREFIX}{}", random_token(32));
    let prefix: String = key.chars().take(DISPLAY_LEN).collect();
    let json = |names: &Option<Vec<String>>| {
        names
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(AppError::internal)
    };
    let sql = "INSERT INTO api_keys (user_id, name, key_hash, prefix, created_at, expires_at, llms, mcp_servers) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, created_at";
    let (id, created_at): (i64, i64) = with_pool!(db, pool => sqlx::query_as(sql)
        .bind(user.id)
        .bind(name)
        .bind(hash_api_key(&key))
        .bind(&prefix)
        .bind(db::now())
        .bind(expires_at)
        .bind(json(&llms)?)
        .bind(json(&mcp_servers)?)
        .fetch_one(pool)
        .await)?;
    tracing::info!(key_id = id, user = %user.name, "API key created");
    let info = ApiKey {
        id,
        name: name.to_owned(),
        prefix,
        user: user.name.clone(),
        created_at,
        expires_at,
        last_used_at: None,
        llms,
        mcp_servers,
    };
    Ok(CreatedApiKey { key, info })
}

/// What a new key is narrowed to: LLMs, shared MCP servers, both or neither.
#[derive(Debug, Default)]
pub struct Narrowing {
    pub llms: Option<Vec<String>>,
    pub mcp_servers: Option<Vec<String>>,
}

/// A kind of thing a key can be narrowed to: its table and its name in messages.
struct Kind {
    sql: &'static str,
    plural: &'static str,
    singular: &'static str,
}

const KNOWN_LLMS: Kind = Kind {
    sql: "SELECT name FROM llms",
    plural: "LLMs",
    singular: "LLM",
};

const KNOWN_SERVERS: Kind = Kind {
    sql: "SELECT name FROM mcp_servers",
    plural: "shared MCP servers",
    singular: "shared MCP server",
};

/// `names`, once each is checked to be registered.
async fn known(db: &Db, names: Vec<String>, kind: &Kind) -> Result<Vec<String>> {
    if names.len() > 100 {
        return Err(AppError::BadRequest(format!(
            "a key can be narrowed to at most 100 {}",
            kind.plural
        )));
    }
    let registered: Vec<String> =
        with_pool!(db, pool => sqlx::query_scalar(kind.sql).fetch_all(pool).await)?;
    match names.iter().find(|n| !registered.contains(n)) {
        Some(unknown) => Err(AppError::BadRequest(format!(
            "there is no {} named {} to narrow the key to",
            kind.singular,
            Echo(unknown)
        ))),
        None => Ok(names),
    }
}

async fn list(State(state): State<AppState>, principal: Principal) -> Result<Json<ApiKeyList>> {
    let rows: Vec<KeyRow> = if allowed(&principal, Action::Read, Resource::AllApiKeys) {
        let sql = format!("{SELECT_KEYS} ORDER BY k.id");
        with_pool!(&state.db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?
    } else {
        let owner = principal
            .user_id
            .ok_or_else(|| AppError::Forbidden("no user to list keys for".into()))?;
        authorize(&principal, Action::Read, Resource::ApiKey { owner })?;
        let sql = format!("{SELECT_KEYS} WHERE k.user_id = $1 ORDER BY k.id");
        with_pool!(&state.db, pool => sqlx::query_as(&sql).bind(owner).fetch_all(pool).await)?
    };
    Ok(Json(ApiKeyList {
        data: rows.into_iter().map(KeyRow::view).collect(),
    }))
}

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>)> {
    let owner = match (body.user.as_deref().map(str::trim).filter(|u| !u.is_empty()), principal.user_id) {
        (Some(name), _) => users::by_name(&state.db, name)
            .await?
            .ok_or_else(|| AppError::BadRequest(format!("there is no user named {}", Echo(name))))?,
        (None, Some(id)) => users::by_id(&state.db, id).await?.ok_or_else(|| AppError::NotFound("your user no longer exists".into()))?,
        (None, None) => {
            return Err(AppError::BadRequest(
                "name the user who will own the key (`user`): a master key or local mode has no user of its own; \
                 add one with `hearth user add NAME`"
                    .into(),
            ))
        }
    };
    let expires_at = expiry(body.expires_in_days)?;
    let llms = normalized(body.llms);
    let mcp_servers = normalized(body.mcp_servers);
    authorize(
        &principal,
        Action::Write,
        Resource::NewApiKey {
            owner: owner.id,
            llms: llms.as_deref(),
            expires_at,
        },
    )?;
    let narrowed = Narrowing { llms, mcp_servers };
    let created = create_for(&state.db, &owner, &body.name, expires_at, narrowed).await?;
    state.audit.record(Record::action(
        KEY_CREATED,
        &principal,
        format!("key:{} of {}", created.info.id, owner.name),
        201,
    ));
    Ok((StatusCode::CREATED, Json(created)))
}

async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let not_found = || AppError::NotFound(format!("no API key with id {}", Echo(&id)));
    let key_id: i64 = id.parse().map_err(|_| not_found())?;
    let sql = "SELECT user_id FROM api_keys WHERE id = $1";
    let owner: Option<i64> = with_pool!(&state.db, pool => sqlx::query_scalar(sql).bind(key_id).fetch_optional(pool).await)?;
    // A key the caller may not even see is answered as absent, not as forbidden.
    let owner = owner
        .filter(|&owner| allowed(&principal, Action::Read, Resource::ApiKey { owner }))
        .ok_or_else(not_found)?;
    authorize(&principal, Action::Write, Resource::ApiKey { owner })?;
    let sql = "DELETE FROM api_keys WHERE id = $1";
    with_pool!(&state.db, pool => sqlx::query(sql).bind(key_id).execute(pool).await.map(|r| r.rows_affected()))?;
    crate::auth::known::forget_everywhere(&state.known, &state.db).await;
    tracing::info!(key_id, by = %principal.name, "API key revoked");
    state.audit.record(Record::action(
        KEY_REVOKED,
        &principal,
        format!("key:{key_id}"),
        204,
    ));
    Ok(StatusCode::NO_CONTENT)
}
