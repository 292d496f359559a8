//! Personal MCP servers: `GET/POST /v1/me/mcp-servers`, `GET/PUT/DELETE
//! /v1/me/mcp-servers/{id}`, a tool's approval and the tools last seen. Each row belongs to one owner (see `Principal::owner_key`) and is
//! only ever read or written through that owner's routes: another owner's id is a 404.
//!
//! Header values are encrypted at rest and returned to their owner only. Never logs a header
//! value or a URL's query.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use sqlx::FromRow;

use app::api::{
    valid_tool_name, HeaderEntry, KnownTool, KnownToolsInput, McpServerInput, McpTransport,
    PersonalMcpServer, PersonalMcpServerList, MAX_TOOLS, MAX_TOOL_DESCRIPTION, TOOL_NAME_RULE,
};

use crate::auth::{allowed, authorize, Action, Principal, Resource};
use crate::crypto::SecretBox;
use crate::db;
use crate::error::{AppError, Echo, Result};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::with_pool;

const MAX_SERVERS: i64 = 100;
const MAX_HEADERS: usize = 32;
const MAX_HEADER_VALUE: usize = 8 * 1024;
/// Headers the browser sets itself, or that describe one hop: not the user's to configure.
pub(super) const RESERVED_HEADERS: &[&str] = &[
    "accept",
    "connection",
    "content-length",
    "content-type",
    "cookie",
    "host",
    "keep-alive",
    "mcp-protocol-version",
    "mcp-session-id",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/me/mcp-servers", get(list).post(create))
        .route(
            "/v1/me/mcp-servers/{id}",
            get(show).put(replace).delete(remove),
        )
        .route(
            "/v1/me/mcp-servers/{id}/approvals/{tool}",
            axum::routing::put(set_approval),
        )
        .route(
            "/v1/me/mcp-servers/{id}/known-tools",
            axum::routing::put(set_known_tools),
        )
}

#[derive(Debug, FromRow)]
struct ServerRow {
    id: i64,
    name: String,
    url: String,
    #[sqlx(try_from = "String")]
    transport: McpTransport,
    headers_sealed: String,
    use_proxy: bool,
    tools: String,
    approvals: String,
    known_tools: String,
    auto_connect: bool,
    created_at: i64,
    updated_at: i64,
}

impl ServerRow {
    /// The owner's view, with the headers decrypted; for a caller that may not read stored
    /// credentials (a key narrowed to LLMs), their names with empty values.
    fn view(self, secrets: &SecretBox, principal: &Principal) -> Result<PersonalMcpServer> {
        let headers = secrets
            .open(&self.headers_sealed)
            .map_err(AppError::internal)?;
        let mut headers: Vec<HeaderEntry> =
            serde_json::from_str(&headers).map_err(AppError::internal)?;
        if !allowed(principal, Action::Read, Resource::OwnMcpSecrets) {
            headers.iter_mut().for_each(|h| h.value.clear());
        }
        Ok(PersonalMcpServer {
            id: self.id,
            name: self.name,
            url: self.url,
            transport: self.transport,
            headers,
            use_proxy: self.use_proxy,
            tools: serde_json::from_str(&self.tools).map_err(AppError::internal)?,
            approvals: serde_json::from_str(&self.approvals).map_err(AppError::internal)?,
            known_tools: serde_json::from_str(&self.known_tools).map_err(AppError::internal)?,
            auto_connect: self.auto_connect,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const SELECT: &str =
    "SELECT id, name, url, transport, headers_sealed, use_proxy, tools, approvals, known_tools, \
                      auto_connect, created_at, updated_at FROM user_mcp_servers";

/// An input that has passed every check, ready to store.
struct Valid {
    name: String,
    url: String,
    transport: McpTransport,
    headers_sealed: String,
    use_proxy: bool,
    tools: String,
    auto_connect: bool,
}

fn validate(input: McpServerInput, secrets: &SecretBox) -> Result<Valid> {
    let bad = |m: String| Err(AppError::invalid("headers", m));
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            "a server's name must be 1 to 100 characters",
        ));
    }
    let bad_url = |m: String| Err(AppError::invalid("url", m));
    let url = match url::Url::parse(input.url.trim()) {
        Ok(url) => url,
        Err(e) => return bad_url(format!("the server URL is not a URL: {e}")),
    };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return bad_url("the server URL must be an http:// or https:// URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad_url(
            "put credentials in a header (such as Authorization), not in the URL".into(),
        );
    }
    if input.headers.len() > MAX_HEADERS {
        return bad(format!("at most {MAX_HEADERS} headers"));
    }
    let mut headers: Vec<HeaderEntry> = Vec::with_capacity(input.headers.len());
    for HeaderEntry { name, value } in input.headers {
        let name = name.trim().to_owned();
        let Ok(parsed) = HeaderName::from_bytes(name.as_bytes()) else {
            return bad(format!("{name:?} is not a valid header name"));
        };
        if RESERVED_HEADERS.contains(&parsed.as_str()) {
            return bad(format!(
                "the {name} header is set by the connection itself and cannot be configured"
            ));
        }
        if headers.iter().any(|h| h.name.eq_ignore_ascii_case(&name)) {
            return bad(format!("the {name} header is given twice"));
        }
        // The value is never echoed: it may be a credential.
        if value.len() > MAX_HEADER_VALUE || HeaderValue::from_str(&value).is_err() {
            return bad(format!("the value of the {name} header is too long or holds characters a header cannot carry"));
        }
        headers.push(HeaderEntry { name, value });
    }
    if input.tools.len() > MAX_TOOLS || input.tools.keys().any(|t| !valid_tool_name(t)) {
        return Err(AppError::invalid(
            "tools",
            format!("tool switches: at most {MAX_TOOLS} tools; {TOOL_NAME_RULE}"),
        ));
    }
    let tools: BTreeMap<String, bool> = input.tools;
    Ok(Valid {
        name,
        url: url.to_string(),
        transport: input.transport,
        headers_sealed: secrets.seal(&serde_json::to_string(&headers).map_err(AppError::internal)?),
        use_proxy: input.use_proxy,
        tools: serde_json::to_string(&tools).map_err(AppError::internal)?,
        auto_connect: input.auto_connect,
    })
}

fn name_taken(name: &str) -> AppError {
    AppError::Conflict(format!("you already have an MCP server named {name:?}"))
}

fn parse_id(id: &str) -> Result<i64> {
    id.parse().map_err(|_| not_found(id))
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("you have no MCP server with id {}", Echo(id)))
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<PersonalMcpServerList>> {
    authorize(&principal, Action::Read, Resource::OwnMcpServers)?;
    let sql = format!("{SELECT} WHERE owner = $1 ORDER BY name, id");
    let rows: Vec<ServerRow> = with_pool!(&state.db, pool => sqlx::query_as(&sql).bind(principal.owner_key()).fetch_all(pool).await)?;
    let data = rows
        .into_iter()
        .map(|r| r.view(&state.secrets, &principal))
        .collect::<Result<_>>()?;
    Ok(Json(PersonalMcpServerList { data }))
}

async fn fetch(state: &AppState, principal: &Principal, id: &str) -> Result<PersonalMcpServer> {
    let sql = format!("{SELECT} WHERE id = $1 AND owner = $2");
    let row: Option<ServerRow> = with_pool!(&state.db, pool => sqlx::query_as(&sql)
        .bind(parse_id(id)?)
        .bind(principal.owner_key())
        .fetch_optional(pool)
        .await)?;
    row.ok_or_else(|| not_found(id))?
        .view(&state.secrets, principal)
}

async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<PersonalMcpServer>> {
    authorize(&principal, Action::Read, Resource::OwnMcpServers)?;
    Ok(Json(fetch(&state, &principal, &id).await?))
}

#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<McpServerInput>,
) -> Result<(StatusCode, Json<PersonalMcpServer>)> {
    authorize(&principal, Action::Write, Resource::OwnMcpServers)?;
    let valid = validate(input, &state.secrets)?;
    let owner = principal.owner_key();
    let count_sql = "SELECT COUNT(*) FROM user_mcp_servers WHERE owner = $1";
    let count: i64 = with_pool!(&state.db, pool => sqlx::query_scalar(count_sql).bind(&owner).fetch_one(pool).await)?;
    if count >= MAX_SERVERS {
        return Err(AppError::Conflict(format!(
            "you already have {MAX_SERVERS} MCP servers; delete one first"
        )));
    }
    let now = db::now();
    let sql = "INSERT INTO user_mcp_servers \
               (owner, user_id, name, url, transport, headers_sealed, use_proxy, tools, auto_connect, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id";
    let inserted: std::result::Result<i64, sqlx::Error> = with_pool!(&state.db, pool => sqlx::query_scalar(sql)
        .bind(&owner)
        .bind(principal.user_id)
        .bind(&valid.name)
        .bind(&valid.url)
        .bind(valid.transport.as_str())
        .bind(&valid.headers_sealed)
        .bind(valid.use_proxy)
        .bind(&valid.tools)
        .bind(valid.auto_connect)
        .bind(now)
        .fetch_one(pool)
        .await);
    let id = match inserted {
        Ok(id) => id,
        Err(e) if db::is_unique_violation(&e) => return Err(name_taken(&valid.name)),
        Err(e) => return Err(e.into()),
    };
    tracing::info!(server_id = id, "personal MCP server added");
    Ok((
        StatusCode::CREATED,
        Json(fetch(&state, &principal, &id.to_string()).await?),
    ))
}

#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn replace(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<McpServerInput>,
) -> Result<Json<PersonalMcpServer>> {
    authorize(&principal, Action::Write, Resource::OwnMcpServers)?;
    let server_id = parse_id(&id)?;
    let valid = validate(input, &state.secrets)?;
    // Tools seen at another URL say nothing of this one.
    let sql =
        "UPDATE user_mcp_servers SET name = $1, transport = $3, headers_sealed = $4, use_proxy = $5, tools = $6, \
               auto_connect = $7, updated_at = $8, \
               known_tools = CASE WHEN url = $2 THEN known_tools ELSE '[]' END, url = $2 \
               WHERE id = $9 AND owner = $10";
    let updated = with_pool!(&state.db, pool => sqlx::query(sql)
        .bind(&valid.name)
        .bind(&valid.url)
        .bind(valid.transport.as_str())
        .bind(&valid.headers_sealed)
        .bind(valid.use_proxy)
        .bind(&valid.tools)
        .bind(valid.auto_connect)
        .bind(db::now())
        .bind(server_id)
        .bind(principal.owner_key())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()));
    match updated {
        Ok(0) => Err(not_found(&id)),
        Ok(_) => Ok(Json(fetch(&state, &principal, &id).await?)),
        Err(e) if db::is_unique_violation(&e) => Err(name_taken(&valid.name)),
        Err(e) => Err(e.into()),
    }
}

#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    authorize(&principal, Action::Write, Resource::OwnMcpServers)?;
    let sql = "DELETE FROM user_mcp_servers WHERE id = $1 AND owner = $2";
    let deleted = with_pool!(&state.db, pool => sqlx::query(sql)
        .bind(parse_id(&id)?)
        .bind(principal.owner_key())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    if deleted == 0 {
        return Err(not_found(&id));
    }
    tracing::info!(server_id = %id, "personal MCP server deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(headers: &[(&str, &str)]) -> McpServerInput {
        McpServerInput {
            name: " Everything ".into(),
            url: "http://127.0.0.1:3001/mcp".into(),
            transport: McpTransport::Auto,
            headers: headers
                .iter()
                .map(|(n, v)| HeaderEntry {
                    name: (*n).into(),
                    value: (*v).into(),
                })
                .collect(),
            use_proxy: true,
            tools: BTreeMap::new(),
            auto_connect: true,
        }
    }

    fn message(result: Result<Valid>) -> String {
        match result {
            Err(AppError::BadRequest(m) | AppError::Invalid { message: m, .. }) => m,
            Err(e) => panic!("expected a 400, got {e:?}"),
            Ok(_) => panic!("expected a refusal"),
        }
    }

    #[test]
    fn headers_are_sealed_and_names_trimmed() {
        let secrets = SecretBox::from_key([7; 32]);
        let valid = validate(input(&[("Authorization", "Bearer t0ken")]), &secrets).unwrap();
        assert_eq!(valid.name, "Everything");
        assert!(!valid.headers_sealed.contains("t0ken"));
        assert!(secrets
            .open(&valid.headers_sealed)
            .unwrap()
            .contains("t0ken"));
    }

    #[test]
    fn reserved_duplicate_and_malformed_headers_are_refused_without_echoing_values() {
        let secrets = SecretBox::from_key([7; 32]);
        assert!(message(validate(input(&[("Cookie", "a=b")]), &secrets)).contains("Cookie"));
        assert!(
            message(validate(input(&[("X-A", "1"), ("x-a", "2")]), &secrets)).contains("twice")
        );
        assert!(message(validate(input(&[("bad name", "1")]), &secrets))
            .contains("not a valid header name"));
        let m = message(validate(input(&[("X-Secret", "sec\nret")]), &secrets));
        assert!(!m.contains("sec"), "{m}");
    }

    #[test]
    fn urls_must_be_http_without_credentials() {
        let secrets = SecretBox::from_key([7; 32]);
        for url in [
            "ftp://h/mcp",
            "not a url",
            "http://user:pw@h/mcp",
            "file:///etc/passwd",
        ] {
            let mut i = input(&[]);
            i.url = url.into();
            let m = message(validate(i, &secrets));
            assert!(!m.contains("pw@"), "{m}");
        }
    }
}

/// Sets whether one tool runs in chat without asking. `ask` is the default and is not stored.
#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn set_approval(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, tool)): Path<(String, String)>,
    ApiJson(input): ApiJson<app::api::ApprovalInput>,
) -> Result<Json<PersonalMcpServer>> {
    authorize(&principal, Action::Write, Resource::OwnMcpServers)?;
    let mut server = fetch(&state, &principal, &id).await?;
    if !valid_tool_name(&tool) {
        return Err(AppError::BadRequest(TOOL_NAME_RULE.into()));
    }
    match input.approval {
        app::api::ToolApproval::Ask => {
            server.approvals.remove(&tool);
        }
        other => {
            if !server.approvals.contains_key(&tool) && server.approvals.len() >= MAX_TOOLS {
                return Err(AppError::BadRequest(format!(
                    "at most {MAX_TOOLS} tools per server have an approval"
                )));
            }
            server.approvals.insert(tool.clone(), other);
        }
    }
    let approvals = serde_json::to_string(&server.approvals).map_err(AppError::internal)?;
    let sql = "UPDATE user_mcp_servers SET approvals = $1 WHERE id = $2 AND owner = $3";
    with_pool!(&state.db, pool => sqlx::query(sql).bind(approvals).bind(server.id).bind(principal.owner_key()).execute(pool).await.map(|r| r.rows_affected()))?;
    tracing::info!(server = server.id, tool = ?tool, approval = ?input.approval, "tool approval set");
    Ok(Json(server))
}

/// Keeps the tools the server listed, as the browser found them on connecting: a whole
/// replacement, checked like tool switches.
#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn set_known_tools(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<KnownToolsInput>,
) -> Result<Json<PersonalMcpServer>> {
    authorize(&principal, Action::Write, Resource::OwnMcpServers)?;
    let mut server = fetch(&state, &principal, &id).await?;
    let tools = known_tools(input.tools)?;
    let json = serde_json::to_string(&tools).map_err(AppError::internal)?;
    let sql = "UPDATE user_mcp_servers SET known_tools = $1 WHERE id = $2 AND owner = $3";
    with_pool!(&state.db, pool => sqlx::query(sql).bind(json).bind(server.id).bind(principal.owner_key()).execute(pool).await.map(|r| r.rows_affected()))?;
    server.known_tools = tools;
    Ok(Json(server))
}

/// A tool list as kept: at most [`MAX_TOOLS`], each name valid and given once, each
/// description within [`MAX_TOOL_DESCRIPTION`] characters (an empty one is none).
fn known_tools(tools: Vec<KnownTool>) -> Result<Vec<KnownTool>> {
    let bad = |m: String| Err(AppError::invalid("tools", m));
    if tools.len() > MAX_TOOLS {
        return bad(format!("at most {MAX_TOOLS} tools"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut kept = Vec::with_capacity(tools.len());
    for KnownTool { name, description } in tools {
        if !valid_tool_name(&name) {
            return bad(TOOL_NAME_RULE.into());
        }
        if !seen.insert(name.clone()) {
            return bad(format!("the tool {} is listed twice", Echo(&name)));
        }
        let description = description.filter(|d| !d.trim().is_empty());
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_TOOL_DESCRIPTION)
        {
            return bad(format!(
                "the description of {} is longer than {MAX_TOOL_DESCRIPTION} characters",
                Echo(&name)
            ));
        }
        kept.push(KnownTool { name, description });
    }
    Ok(kept)
}
