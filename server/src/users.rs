//! Users: names, roles and argon2 password hashes. Rows stay here; what leaves the server is
//! an `app::api` view built elsewhere.

use app::api::Role;
use sqlx::FromRow;

use crate::db::{self, Db};
use crate::with_pool;

#[derive(Clone, Debug, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub password_hash: Option<String>,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub created_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("{0}")]
    InvalidName(String),
    #[error("a user named {0:?} already exists")]
    Exists(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Names that stand for principals other than users in the audit trail and the UI (`local`
/// is local mode; `admin` was the master key's name): no user may take them.
const RESERVED: &[&str] = &["local", "admin"];

/// Names are what appear in URLs, logs and key listings: keep them plain. They never hold a
/// `:`, which marks other kinds of principal (`master-key:…`).
pub fn validate_name(name: &str) -> Result<(), String> {
    validate_plain(name)?;
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(format!("{name:?} is reserved (it names local mode or the master key in the audit trail); choose another name"));
    }
    Ok(())
}

/// 1 to 64 letters, digits, `.`, `_` or `-` (user and team names alike).
pub fn validate_plain(name: &str) -> Result<(), String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if name.is_empty() || name.len() > 64 || !ok_chars {
        return Err(format!(
            "invalid user name {name:?}: use 1 to 64 letters, digits, `.`, `_` or `-`"
        ));
    }
    Ok(())
}

#[tracing::instrument(skip(db, password_hash), fields(role = %role))]
pub async fn create(
    db: &Db,
    name: &str,
    password_hash: Option<&str>,
    role: Role,
) -> Result<UserRow, CreateUserError> {
    validate_name(name).map_err(CreateUserError::InvalidName)?;
    let sql = "INSERT INTO users (name, password_hash, role, created_at) VALUES ($1, $2, $3, $4) \
               RETURNING id, name, password_hash, role, created_at";
    let result = with_pool!(db, pool => sqlx::query_as::<_, UserRow>(sql)
        .bind(name)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(db::now())
        .fetch_one(pool)
        .await);
    result.map_err(|e| {
        if db::is_unique_violation(&e) {
            CreateUserError::Exists(name.to_owned())
        } else {
            e.into()
        }
    })
}

pub async fn by_name(db: &Db, name: &str) -> sqlx::Result<Option<UserRow>> {
    let sql = "SELECT id, name, password_hash, role, created_at FROM users WHERE name = $1";
    with_pool!(db, pool => sqlx::query_as(sql).bind(name).fetch_optional(pool).await)
}

pub async fn by_id(db: &Db, id: i64) -> sqlx::Result<Option<UserRow>> {
    let sql = "SELECT id, name, password_hash, role, created_at FROM users WHERE id = $1";
    with_pool!(db, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)
}

/// Whether any user exists: with none (and no master key) a loopback server is in local mode.
pub async fn any_exist(db: &Db) -> sqlx::Result<bool> {
    let sql = "SELECT EXISTS (SELECT 1 FROM users)";
    with_pool!(db, pool => sqlx::query_scalar::<_, bool>(sql).fetch_one(pool).await)
}

#[cfg(test)]
mod tests {
    use super::validate_name;

    #[test]
    fn user_names_are_plain() {
        for good in ["ana", "a.b-c_d", "X9"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "has space",
            "slash/",
            "ünï",
            &"x".repeat(65),
            "local",
            "Admin",
            "master-key:abc",
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}

/// `GET /v1/users`: every user's name and role, for choosing names in grants, teams and keys.
pub fn router() -> axum::Router<crate::state::AppState> {
    axum::Router::new().route("/v1/users", axum::routing::get(list))
}

async fn list(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    principal: crate::auth::Principal,
) -> crate::error::Result<axum::Json<app::api::UserList>> {
    use crate::auth::{authorize, Action, Resource};
    authorize(&principal, Action::Read, Resource::Users)?;
    let sql = "SELECT id, name, password_hash, role, created_at FROM users ORDER BY name";
    let rows: Vec<UserRow> =
        with_pool!(&state.db, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
    let data = rows
        .into_iter()
        .map(|u| app::api::UserSummary {
            name: u.name,
            role: u.role,
        })
        .collect();
    Ok(axum::Json(app::api::UserList { data }))
}
