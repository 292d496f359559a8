//! The shared MCP servers' registry: `GET/POST /v1/mcp/servers`,
//! `GET/PUT/DELETE /v1/mcp/servers/{name}`.
//!
//! Admins write; admins and viewers read the configuration with every secret blanked
//! ([`full_view`]); members see only the servers granted to them (and public ones), as a
//! summary without URL, headers, env, command or args ([`summary_view`]); a key narrowed to
//! servers sees only those. The credential, header values and env values are sealed at rest
//! and never returned.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use sha2::{Digest, Sha256};
use sqlx::FromRow;

use app::api::{
    valid_tool_name, AuthKind, EnvEntry, Grants, HeaderEntry, SharedMcpServer,
    SharedMcpServerEntry, SharedMcpServerInput, SharedMcpServerList, SharedMcpServerSummary,
    SharedTransport, ToolOverride, MAX_TOOLS, TOOL_NAME_RULE,
};

use super::upstream::{Spec, Target};
use crate::audit::Record;
use crate::auth::{allowed, authorize, Action, Principal, Resource};
use crate::cors_proxy::policy::Caller;
use crate::db;
use crate::error::{AppError, Echo, Result};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::with_pool;

pub const MCP_SERVER_CREATED: &str = "mcp_server_created";
pub const MCP_SERVER_UPDATED: &str = "mcp_server_updated";
pub const MCP_SERVER_DELETED: &str = "mcp_server_deleted";

const DEFAULT_TIMEOUT_SECS: u64 = 30;
const MAX_TIMEOUT_SECS: u64 = 600;
const MAX_LIST: usize = 64;
const MAX_VALUE: usize = 8 * 1024;
/// Path segments under `/v1/mcp/servers/` that are routes, not servers.
const RESERVED_NAMES: &[&str] = &["test", "health"];
/// The caller's own credentials for Hearth: never passed on by name (`forward` passes the
/// caller's token on, deliberately).
pub(super) const CALLER_CREDENTIALS: &[&str] = &[
    "authorization",
    "cookie",
    "x-api-key",
    "proxy-authorization",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/mcp/servers", get(list).post(create))
        .route(
            "/v1/mcp/servers/{name}",
            get(show).put(replace).delete(remove),
        )
}

#[derive(Debug, FromRow)]
pub(crate) struct ServerRow {
    pub(crate) name: String,
    alias: Option<String>,
    description: Option<String>,
    transport: String,
    url: Option<String>,
    lifecycle: String,
    command: Option<String>,
    args: String,
    env_sealed: String,
    auth: String,
    credential_sealed: Option<String>,
    api_key_header: Option<String>,
    headers_sealed: String,
    extra_headers: String,
    allowed_tools: String,
    denied_tools: String,
    tool_overrides: String,
    timeout_secs: i64,
    grants: String,
    is_public: bool,
    created_at: i64,
    updated_at: i64,
    /// How Hearth connects to it, before any caller's headers: made once per row read.
    #[sqlx(skip)]
    base_spec: OnceLock<Spec>,
    /// `grants` read, once per row read: every request to the gateway checks them, for
    /// every server.
    #[sqlx(skip)]
    read_grants: OnceLock<Grants>,
}

const SELECT: &str = "SELECT name, alias, description, transport, url, lifecycle, command, args, env_sealed, auth, \
                      credential_sealed, api_key_header, headers_sealed, extra_headers, allowed_tools, denied_tools, \
                      tool_overrides, timeout_secs, grants, is_public, created_at, updated_at FROM mcp_servers";

/// A stored enum or JSON column; a value Hearth did not write is an internal error.
fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(AppError::internal)
}

fn parse_enum<T: serde::de::DeserializeOwned>(value: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).map_err(AppError::internal)
}

fn enum_str<T: serde::Serialize>(value: &T) -> Result<String> {
    match serde_json::to_value(value).map_err(AppError::internal)? {
        serde_json::Value::String(s) => Ok(s),
        _ => Err(AppError::internal("an enum that is not a string")),
    }
}

impl ServerRow {
    pub(crate) fn grants(&self) -> Grants {
        self.read_grants().clone()
    }

    fn read_grants(&self) -> &Grants {
        self.read_grants
            .get_or_init(|| serde_json::from_str(&self.grants).unwrap_or_default())
    }

    /// Whether `principal` may use this server (editing the registry never implies it).
    pub(crate) fn usable_by(&self, principal: &Principal, teams: &[String]) -> bool {
        allowed(
            principal,
            Action::Run,
            Resource::SharedMcpServer {
                name: &self.name,
                grants: self.read_grants(),
                teams,
            },
        )
    }

    /// Whether `principal` sees this server at all: registry readers see every one; others
    /// the ones they may use, and public ones (unless they hold a narrowed key).
    fn visible_to(&self, principal: &Principal, teams: &[String]) -> bool {
        allowed(principal, Action::Read, Resource::McpRegistry)
            || self.usable_by(principal, teams)
            || self.is_public && allowed(principal, Action::Read, Resource::PublicMcpServers)
    }

    pub(crate) fn allowed_tools(&self) -> Vec<String> {
        serde_json::from_str(&self.allowed_tools).unwrap_or_default()
    }

    pub(crate) fn denied_tools(&self) -> Vec<String> {
        serde_json::from_str(&self.denied_tools).unwrap_or_default()
    }

    pub(crate) fn tool_overrides(&self) -> BTreeMap<String, ToolOverride> {
        serde_json::from_str(&self.tool_overrides).unwrap_or_default()
    }

    /// The tools of this server that are offered: its allow and deny lists applied, its
    /// overrides shown. What every view of its tools starts from (`/v1/mcp/tools`, `/mcp`).
    pub(crate) fn offer(&self, tools: &[rmcp::model::Tool]) -> Vec<rmcp::model::Tool> {
        let allowed = self.allowed_tools();
        let denied = self.denied_tools();
        let overrides = self.tool_overrides();
        tools
            .iter()
            .filter(|t| permitted(&allowed, &denied, &t.name))
            .map(|t| {
                let mut tool = t.clone();
                if let Some(o) = overrides.get(t.name.as_ref()) {
                    if let Some(title) = &o.display_name {
                        tool.title = Some(title.clone());
                    }
                    if let Some(description) = &o.description {
                        tool.description = Some(description.clone().into());
                    }
                }
                tool
            })
            .collect()
    }

    /// The whole configuration, secrets open: what a connection and an update start from.
    pub(crate) fn open(&self, state: &AppState) -> Result<SharedMcpServerInput> {
        let open = |sealed: &str| state.secrets.open(sealed).map_err(AppError::internal);
        Ok(SharedMcpServerInput {
            name: self.name.clone(),
            alias: self.alias.clone(),
            description: self.description.clone(),
            transport: parse_enum(&self.transport)?,
            url: self.url.clone(),
            lifecycle: parse_enum(&self.lifecycle)?,
            command: self.command.clone(),
            args: parse(&self.args)?,
            env: parse(&open(&self.env_sealed)?)?,
            auth: parse_enum(&self.auth)?,
            credential: self.credential_sealed.as_deref().map(open).transpose()?,
            api_key_header: self.api_key_header.clone(),
            headers: parse(&open(&self.headers_sealed)?)?,
            extra_headers: parse(&self.extra_headers)?,
            allowed_tools: self.allowed_tools(),
            denied_tools: self.denied_tools(),
            tool_overrides: self.tool_overrides(),
            timeout_secs: Some(self.timeout_secs as u64),
            grants: self.grants(),
            is_public: self.is_public,
        })
    }

    /// How Hearth connects to it.
    pub(crate) fn spec(&self, state: &AppState) -> Result<Spec> {
        if let Some(spec) = self.base_spec.get() {
            return Ok(spec.clone());
        }
        let made = spec(&self.open(state)?)?;
        Ok(self.base_spec.get_or_init(|| made).clone())
    }

    /// Whether the server is given the caller's token (auth `forward`).
    pub(crate) fn forwards_token(&self) -> bool {
        self.auth == "forward"
    }

    pub(crate) fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// What the server is called where people see it: its alias, or its name.
    pub(crate) fn shown_name(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }

    /// Whether the server is given headers of the caller's (auth `forward`, or
    /// `extra_headers`), so that each caller has a session of their own.
    pub(crate) fn forwards(&self) -> bool {
        self.auth == "forward" || self.extra_headers != "[]"
    }

    /// How Hearth connects to it for a caller who sent `caller` (headers that may be passed
    /// on: a token for auth `forward` as `authorization`, and the `extra_headers` named): the
    /// server's own configuration plus exactly those of the caller's headers it names.
    pub(crate) fn spec_for(
        &self,
        state: &AppState,
        caller: &[(HeaderName, HeaderValue)],
    ) -> Result<Spec> {
        let mut spec = self.spec(state)?;
        if !self.forwards() {
            return Ok(spec);
        }
        let extra_headers: Vec<String> = parse(&self.extra_headers)?;
        let passed = caller.iter().filter(|(name, _)| {
            (self.forwards_token() && name == header::AUTHORIZATION)
                || extra_headers
                    .iter()
                    .any(|e| name.as_str().eq_ignore_ascii_case(e))
        });
        let mut fingerprint = Sha256::new();
        let mut any = false;
        for (name, value) in passed {
            any = true;
            fingerprint.update(name.as_str().as_bytes());
            fingerprint.update(b"\0");
            fingerprint.update(value.as_bytes());
            fingerprint.update(b"\0");
            if let Ok(text) = value.to_str() {
                spec.secrets.push(text.to_owned());
                if let Some(token) = text.strip_prefix("Bearer ") {
                    spec.secrets.push(token.to_owned());
                }
            }
            let mut value = value.clone();
            value.set_sensitive(true);
            spec.headers.push((name.clone(), value));
        }
        if any {
            spec.scope = Some(hex::encode(&fingerprint.finalize()[..16]));
        }
        Ok(spec)
    }
}

/// The admin's and viewer's view: the configuration with every secret value blank.
fn full_view(row: &ServerRow, state: &AppState) -> Result<SharedMcpServer> {
    let config = row.open(state)?;
    Ok(SharedMcpServer {
        name: config.name,
        alias: config.alias,
        description: config.description,
        transport: config.transport,
        url: config.url,
        lifecycle: config.lifecycle,
        command: config.command,
        args: config.args,
        env: config
            .env
            .into_iter()
            .map(|e| EnvEntry {
                name: e.name,
                value: String::new(),
            })
            .collect(),
        auth: config.auth,
        has_credential: config.credential.is_some(),
        api_key_header: config.api_key_header,
        headers: config
            .headers
            .into_iter()
            .map(|h| HeaderEntry {
                name: h.name,
                value: String::new(),
            })
            .collect(),
        extra_headers: config.extra_headers,
        allowed_tools: config.allowed_tools,
        denied_tools: config.denied_tools,
        tool_overrides: config.tool_overrides,
        timeout_secs: config.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
        grants: config.grants,
        is_public: config.is_public,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A member's (or a narrowed key's) view: what the server is, nothing of how it is reached.
fn summary_view(row: &ServerRow, usable: bool) -> Result<SharedMcpServerSummary> {
    Ok(SharedMcpServerSummary {
        name: row.name.clone(),
        alias: row.alias.clone(),
        description: row.description.clone(),
        transport: parse_enum(&row.transport)?,
        usable,
    })
}

/// The view `principal` gets of `row`, which they may see.
fn view_for(
    row: &ServerRow,
    state: &AppState,
    principal: &Principal,
    teams: &[String],
) -> Result<SharedMcpServerEntry> {
    if allowed(principal, Action::Read, Resource::McpRegistry) {
        Ok(SharedMcpServerEntry::Full(full_view(row, state)?))
    } else {
        Ok(SharedMcpServerEntry::Summary(summary_view(
            row,
            row.usable_by(principal, teams),
        )?))
    }
}

pub(crate) async fn fetch(state: &AppState, name: &str) -> Result<Option<ServerRow>> {
    let sql = format!("{SELECT} WHERE name = $1");
    Ok(with_pool!(&state.db, pool => sqlx::query_as(&sql).bind(name).fetch_optional(pool).await)?)
}

pub(crate) async fn fetch_all(state: &AppState) -> Result<Vec<ServerRow>> {
    let sql = format!("{SELECT} ORDER BY name");
    Ok(with_pool!(&state.db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?)
}

pub(crate) fn not_found(name: &str) -> AppError {
    AppError::NotFound(format!("no shared MCP server named {}", Echo(name)))
}

/// Whether a tool called `name` passes a server's allow and deny lists.
fn permitted(allowed: &[String], denied: &[String], name: &str) -> bool {
    (allowed.is_empty() || allowed.iter().any(|a| a == name)) && !denied.iter().any(|d| d == name)
}

/// The teams `principal` belongs to, when anything but registry access depends on them.
pub(crate) async fn teams_for(state: &AppState, principal: &Principal) -> Result<Vec<String>> {
    crate::teams::of(state, principal).await
}

/// The servers `principal` sees, each with whether they may use it.
pub(crate) async fn visible(
    state: &AppState,
    principal: &Principal,
) -> Result<(Vec<Arc<ServerRow>>, Vec<String>)> {
    let teams = teams_for(state, principal).await?;
    let rows = state
        .mcp_registry
        .rows(state)
        .await?
        .iter()
        .filter(|r| r.visible_to(principal, &teams))
        .cloned()
        .collect();
    Ok((rows, teams))
}

/// How long the registry is read from memory before it is read again, whatever was heard.
const FRESH: Duration = Duration::from_secs(5);

/// The shared servers, kept in memory for a few seconds so that a request to the gateway
/// (a list, a call) does not read them from the database. A write forgets them at once on
/// this instance and, on PostgreSQL, on every other one (see `changes`); [`FRESH`] bounds
/// how long an instance goes on with a change it did not hear of (a `hearth mcp` command
/// beside a running server, or SQLite, which announces nothing).
#[derive(Default)]
pub struct Snapshot(RwLock<Option<(Instant, Arc<[Arc<ServerRow>]>)>>);

impl Snapshot {
    /// Every shared server, by name.
    pub(crate) async fn rows(&self, state: &AppState) -> Result<Arc<[Arc<ServerRow>]>> {
        if let Some((at, rows)) = &*self.0.read().unwrap_or_else(PoisonError::into_inner) {
            if at.elapsed() < FRESH {
                return Ok(rows.clone());
            }
        }
        let rows: Arc<[Arc<ServerRow>]> =
            fetch_all(state).await?.into_iter().map(Arc::new).collect();
        *self.0.write().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), rows.clone()));
        Ok(rows)
    }

    pub fn forget(&self) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// One server `principal` may see, or a 404 that says no more than that it does not exist.
pub(crate) async fn visible_one(
    state: &AppState,
    principal: &Principal,
    name: &str,
) -> Result<(ServerRow, Vec<String>)> {
    let teams = teams_for(state, principal).await?;
    match fetch(state, name).await? {
        Some(row) if row.visible_to(principal, &teams) => Ok((row, teams)),
        _ => Err(not_found(name)),
    }
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<SharedMcpServerList>> {
    let (rows, teams) = visible(&state, &principal).await?;
    let data = rows
        .iter()
        .map(|row| view_for(row, &state, &principal, &teams))
        .collect::<Result<_>>()?;
    Ok(Json(SharedMcpServerList { data }))
}

async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<Json<SharedMcpServerEntry>> {
    let (row, teams) = visible_one(&state, &principal, &name).await?;
    Ok(Json(view_for(&row, &state, &principal, &teams)?))
}

/// Server names appear in tool prefixes (`{server}_{tool}`) and in addresses.
fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        return Err(AppError::invalid(
            "name",
            format!(
                "invalid server name {}: use 1 to 64 lower-case letters, digits or `-`, starting with a letter or digit",
                Echo(name)
            ),
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(AppError::invalid(
            "name",
            format!("{name:?} is a route of the API and cannot name a server"),
        ));
    }
    Ok(())
}

fn optional_text(value: Option<&str>, field: &'static str, max: usize) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() <= max && !v.chars().any(char::is_control) => {
            Ok(Some(v.to_owned()))
        }
        Some(_) => Err(AppError::invalid(
            field,
            format!("{field} must be at most {max} characters, without control characters"),
        )),
    }
}

/// An HTTP upstream's URL: http(s), with a host, no credentials, and an address the policy
/// does not refuse outright (names are checked again on every connection, resolved).
fn checked_url(state: &AppState, url: Option<&str>) -> Result<String> {
    let bad = |m: String| AppError::invalid("url", m);
    let url = url
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| bad("an http or sse server needs its url".into()))?;
    let parsed = url::Url::parse(url).map_err(|e| bad(format!("the url is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(bad("the url must be an http:// or https:// URL".into()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "put credentials in the server's auth or headers, not in the url".into(),
        ));
    }
    state
        .cors_proxy
        .policy()
        .check_url(&parsed, Caller::Trusted)
        .map_err(|refusal| bad(refusal.to_string()))?;
    Ok(parsed.to_string())
}

fn checked_header_name(name: &str, field: &'static str) -> Result<String> {
    let name = name.trim();
    let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        AppError::invalid(field, format!("{} is not a valid header name", Echo(name)))
    })?;
    // The personal servers' list, and the legacy SSE stream's resumption header.
    if super::personal::RESERVED_HEADERS.contains(&parsed.as_str()) || parsed == "last-event-id" {
        return Err(AppError::invalid(
            field,
            format!("the {name} header is set by the connection itself and cannot be configured"),
        ));
    }
    Ok(name.to_owned())
}

/// The list entries (`headers`, `env`) given, each with an empty value replaced by the
/// stored value of that name (when there is one): values are write-only, so a form that
/// shows names only sends them back blank.
fn merged(given: &[(String, String)], stored: &[(String, String)]) -> Vec<(String, String)> {
    given
        .iter()
        .map(|(name, value)| {
            let value = match (value.is_empty(), stored.iter().find(|(n, _)| n == name)) {
                (true, Some((_, kept))) => kept.clone(),
                _ => value.clone(),
            };
            (name.clone(), value)
        })
        .collect()
}

fn pairs_of_env(entries: &[EnvEntry]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect()
}

fn pairs_of_headers(entries: &[HeaderEntry]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect()
}

fn checked_env(input: &[EnvEntry], stored: &[EnvEntry]) -> Result<Vec<EnvEntry>> {
    let bad = |m: String| Err(AppError::invalid("env", m));
    if input.len() > MAX_LIST {
        return bad(format!("at most {MAX_LIST} env variables"));
    }
    let mut env: Vec<EnvEntry> = Vec::new();
    for (name, value) in merged(&pairs_of_env(input), &pairs_of_env(stored)) {
        let name = name.trim().to_owned();
        let ok = !name.is_empty()
            && name.len() <= 128
            && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return bad(format!(
                "{} is not a variable name: use letters, digits and `_`, not starting with a digit",
                Echo(&name)
            ));
        }
        if env.iter().any(|e| e.name == name) {
            return bad(format!("the variable {name} is given twice"));
        }
        // The value is never echoed: it may be a secret.
        if value.len() > MAX_VALUE || value.contains('\0') {
            return bad(format!(
                "the value of {name} is longer than 8 KiB or holds a NUL"
            ));
        }
        env.push(EnvEntry { name, value });
    }
    Ok(env)
}

/// `${NAME}` in `value` replaced by the server's variable of that name; an unknown name is
/// an error (which names it, never the value).
fn expand(value: &str, env: &[EnvEntry]) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "a `${` has no closing `}`".to_owned())?;
        let name = &after[..end];
        let var = env
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| format!("${{{name}}} names no variable of the server's env"))?;
        out.push_str(&var.value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn checked_headers(
    input: &[HeaderEntry],
    stored: &[HeaderEntry],
    env: &[EnvEntry],
) -> Result<Vec<HeaderEntry>> {
    let bad = |m: String| Err(AppError::invalid("headers", m));
    if input.len() > MAX_LIST {
        return bad(format!("at most {MAX_LIST} headers"));
    }
    let mut headers: Vec<HeaderEntry> = Vec::new();
    for (name, value) in merged(&pairs_of_headers(input), &pairs_of_headers(stored)) {
        let name = checked_header_name(&name, "headers")?;
        if headers.iter().any(|h| h.name.eq_ignore_ascii_case(&name)) {
            return bad(format!("the {name} header is given twice"));
        }
        let expanded = match expand(&value, env) {
            Ok(v) => v,
            Err(why) => return bad(format!("the {name} header: {why}")),
        };
        if value.len() > MAX_VALUE || HeaderValue::from_str(&expanded).is_err() {
            return bad(format!(
                "the value of the {name} header is too long or holds characters a header cannot carry"
            ));
        }
        headers.push(HeaderEntry { name, value });
    }
    Ok(headers)
}

fn checked_names(
    names: &[String],
    field: &'static str,
    check: impl Fn(&str) -> Result<String>,
    max: usize,
) -> Result<Vec<String>> {
    if names.len() > max {
        return Err(AppError::invalid(field, format!("at most {max} entries")));
    }
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let name = check(name)?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

fn checked_tool(field: &'static str) -> impl Fn(&str) -> Result<String> {
    move |name: &str| {
        if valid_tool_name(name) {
            Ok(name.to_owned())
        } else {
            Err(AppError::invalid(field, TOOL_NAME_RULE))
        }
    }
}

fn checked_overrides(
    overrides: &BTreeMap<String, ToolOverride>,
) -> Result<BTreeMap<String, ToolOverride>> {
    if overrides.len() > MAX_TOOLS {
        return Err(AppError::invalid(
            "tool_overrides",
            format!("at most {MAX_TOOLS} tools"),
        ));
    }
    overrides
        .iter()
        .map(|(name, o)| {
            checked_tool("tool_overrides")(name)?;
            Ok((
                name.clone(),
                ToolOverride {
                    display_name: optional_text(o.display_name.as_deref(), "tool_overrides", 128)?,
                    description: optional_text(o.description.as_deref(), "tool_overrides", 2000)?,
                },
            ))
        })
        .collect()
}

/// An input checked and completed: secrets left out of it (an omitted credential, a blank
/// header or env value) are taken from `stored`, the server as it is now. What create,
/// update and "Test connection" all go through.
pub(crate) fn checked(
    state: &AppState,
    input: &SharedMcpServerInput,
    stored: Option<&SharedMcpServerInput>,
) -> Result<SharedMcpServerInput> {
    validate_name(&input.name)?;
    let empty = SharedMcpServerInput::default();
    let kept = stored.unwrap_or(&empty);
    let stdio = input.transport == SharedTransport::Stdio;
    let (url, command, args) = if stdio {
        if input.url.as_deref().is_some_and(|u| !u.trim().is_empty()) {
            return Err(AppError::invalid(
                "url",
                "a stdio server has a command, not a url",
            ));
        }
        let command = optional_text(input.command.as_deref(), "command", 4096)?
            .ok_or_else(|| AppError::invalid("command", "a stdio server needs its command"))?;
        if input.args.len() > MAX_LIST
            || input
                .args
                .iter()
                .any(|a| a.len() > MAX_VALUE || a.contains('\0'))
        {
            return Err(AppError::invalid(
                "args",
                format!("at most {MAX_LIST} arguments, each at most 8 KiB and without NUL"),
            ));
        }
        (None, Some(command), input.args.clone())
    } else {
        if input
            .command
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty())
            || !input.args.is_empty()
        {
            return Err(AppError::invalid(
                "command",
                "command and args are for stdio servers only",
            ));
        }
        (
            Some(checked_url(state, input.url.as_deref())?),
            None,
            Vec::new(),
        )
    };
    let env = checked_env(&input.env, &kept.env)?;
    let headers = checked_headers(&input.headers, &kept.headers, &env)?;
    let credential = match input.credential.as_deref() {
        Some("") => None,
        Some(given) => Some(given.trim().to_owned()),
        None => kept.credential.clone(),
    };
    let needs_credential = matches!(
        input.auth,
        AuthKind::Bearer | AuthKind::ApiKey | AuthKind::Basic
    );
    match (&credential, needs_credential) {
        (None, true) => {
            return Err(AppError::invalid(
                "credential",
                format!("auth {} needs a credential", enum_str(&input.auth)?),
            ))
        }
        (Some(_), false) if input.credential.as_deref().is_some_and(|c| !c.is_empty()) => {
            return Err(AppError::invalid(
                "credential",
                format!("auth {} takes no credential", enum_str(&input.auth)?),
            ))
        }
        _ => {}
    }
    let credential = credential.filter(|_| needs_credential);
    if let Some(credential) = &credential {
        if credential.len() > MAX_VALUE || credential.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "credential",
                "the credential is longer than 8 KiB or holds control characters",
            ));
        }
        if input.auth == AuthKind::Basic && !credential.contains(':') {
            return Err(AppError::invalid(
                "credential",
                "a basic credential is user:password",
            ));
        }
    }
    if stdio && !matches!(input.auth, AuthKind::None) {
        return Err(AppError::invalid(
            "auth",
            "a stdio server takes no HTTP auth: give it its credentials in env",
        ));
    }
    if stdio && !headers.is_empty() {
        return Err(AppError::invalid(
            "headers",
            "a stdio server takes no headers: use env",
        ));
    }
    let api_key_header = match (input.auth, input.api_key_header.as_deref().map(str::trim)) {
        (AuthKind::ApiKey, None | Some("")) => None,
        (AuthKind::ApiKey, Some(name)) => Some(checked_header_name(name, "api_key_header")?),
        (_, None | Some("")) => None,
        (_, Some(_)) => {
            return Err(AppError::invalid(
                "api_key_header",
                "api_key_header goes with auth api_key only",
            ))
        }
    };
    let auth_header = match input.auth {
        AuthKind::Bearer | AuthKind::Basic | AuthKind::Forward => Some("authorization".to_owned()),
        AuthKind::ApiKey => Some(
            api_key_header
                .as_deref()
                .unwrap_or("x-api-key")
                .to_ascii_lowercase(),
        ),
        AuthKind::None | AuthKind::Headers => None,
    };
    if let Some(auth_header) = &auth_header {
        if headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(auth_header))
        {
            return Err(AppError::invalid(
                "headers",
                format!("the {auth_header} header comes from auth: give the credential there, not in headers"),
            ));
        }
    }
    let extra_headers = checked_names(
        &input.extra_headers,
        "extra_headers",
        |name| {
            let name = checked_header_name(name, "extra_headers")?;
            if CALLER_CREDENTIALS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(AppError::invalid(
                    "extra_headers",
                    format!("{name} carries the caller's credential for Hearth: use auth forward to pass the caller's token on"),
                ));
            }
            Ok(name)
        },
        MAX_LIST,
    )?;
    if stdio && (!extra_headers.is_empty() || input.auth == AuthKind::Forward) {
        return Err(AppError::invalid(
            "extra_headers",
            "a stdio server cannot be passed the caller's headers",
        ));
    }
    let timeout_secs = input.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if !(1..=MAX_TIMEOUT_SECS).contains(&timeout_secs) {
        return Err(AppError::invalid(
            "timeout_secs",
            format!("timeout_secs must be between 1 and {MAX_TIMEOUT_SECS}"),
        ));
    }
    Ok(SharedMcpServerInput {
        name: input.name.clone(),
        alias: optional_text(input.alias.as_deref(), "alias", 100)?,
        description: optional_text(input.description.as_deref(), "description", 1000)?,
        transport: input.transport,
        url,
        lifecycle: input.lifecycle,
        command,
        args,
        env,
        auth: input.auth,
        credential,
        api_key_header,
        headers,
        extra_headers,
        allowed_tools: checked_names(
            &input.allowed_tools,
            "allowed_tools",
            checked_tool("allowed_tools"),
            MAX_TOOLS,
        )?,
        denied_tools: checked_names(
            &input.denied_tools,
            "denied_tools",
            checked_tool("denied_tools"),
            MAX_TOOLS,
        )?,
        tool_overrides: checked_overrides(&input.tool_overrides)?,
        timeout_secs: Some(timeout_secs),
        grants: input.grants.clone(),
        is_public: input.is_public,
    })
}

/// How Hearth connects to a checked configuration: the credential made into its header,
/// `${NAME}` expanded, every secret listed for redaction.
pub(crate) fn spec(config: &SharedMcpServerInput) -> Result<Spec> {
    let mut secrets: Vec<String> = config.env.iter().map(|e| e.value.clone()).collect();
    let mut headers = Vec::new();
    for h in &config.headers {
        let value =
            expand(&h.value, &config.env).map_err(|why| AppError::invalid("headers", why))?;
        secrets.push(value.clone());
        headers.push((h.name.as_str(), value));
    }
    let auth = config.credential.as_ref().map(|credential| {
        secrets.push(credential.clone());
        match config.auth {
            AuthKind::Bearer => ("authorization", format!("Bearer {credential}")),
            AuthKind::Basic => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(credential);
                secrets.push(encoded.clone());
                ("authorization", format!("Basic {encoded}"))
            }
            _ => (
                config.api_key_header.as_deref().unwrap_or("x-api-key"),
                credential.clone(),
            ),
        }
    });
    let headers = headers
        .into_iter()
        .chain(auth)
        .map(|(name, value)| {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(AppError::internal)?;
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                AppError::invalid(
                    "headers",
                    format!("the {name} header cannot carry its value"),
                )
            })?;
            value.set_sensitive(true);
            Ok((name, value))
        })
        .collect::<Result<Vec<_>>>()?;
    let target = match config.transport {
        SharedTransport::Http => Target::Http {
            url: config.url.clone().unwrap_or_default(),
        },
        SharedTransport::Sse => Target::Sse {
            url: config.url.clone().unwrap_or_default(),
        },
        SharedTransport::Stdio => Target::Stdio {
            command: config.command.clone().unwrap_or_default(),
            args: config.args.clone(),
            env: pairs_of_env(&config.env),
        },
    };
    Ok(Spec {
        name: config.name.clone(),
        target,
        lifecycle: config.lifecycle,
        headers,
        timeout: std::time::Duration::from_secs(
            config.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
        ),
        secrets,
        scope: None,
    })
}

/// The stored form of a checked configuration: secrets sealed, lists as JSON.
struct Columns {
    transport: String,
    lifecycle: String,
    auth: String,
    args: String,
    env_sealed: String,
    credential_sealed: Option<String>,
    headers_sealed: String,
    extra_headers: String,
    allowed_tools: String,
    denied_tools: String,
    tool_overrides: String,
    grants: String,
}

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(AppError::internal)
}

fn columns(state: &AppState, config: &SharedMcpServerInput) -> Result<Columns> {
    Ok(Columns {
        transport: enum_str(&config.transport)?,
        lifecycle: enum_str(&config.lifecycle)?,
        auth: enum_str(&config.auth)?,
        args: json(&config.args)?,
        env_sealed: state.secrets.seal(&json(&config.env)?),
        credential_sealed: config.credential.as_deref().map(|c| state.secrets.seal(c)),
        headers_sealed: state.secrets.seal(&json(&config.headers)?),
        extra_headers: json(&config.extra_headers)?,
        allowed_tools: json(&config.allowed_tools)?,
        denied_tools: json(&config.denied_tools)?,
        tool_overrides: json(&config.tool_overrides)?,
        grants: json(&config.grants)?,
    })
}

fn name_taken(name: &str) -> AppError {
    AppError::Conflict(format!("a shared MCP server named {name:?} already exists"))
}

/// Grants must name users and teams that exist.
async fn check_grants(state: &AppState, config: &SharedMcpServerInput) -> Result<()> {
    crate::teams::check_grantees(&state.db, &config.grants).await
}

#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<SharedMcpServerInput>,
) -> Result<(StatusCode, Json<SharedMcpServer>)> {
    authorize(&principal, Action::Write, Resource::McpRegistry)?;
    let row = register(&state, &input).await?;
    state.audit.record(Record::action(
        MCP_SERVER_CREATED,
        &principal,
        format!("mcp_server:{}", row.name),
        201,
    ));
    Ok((StatusCode::CREATED, Json(full_view(&row, &state)?)))
}

/// Checks and stores a new shared server (the API and `hearth mcp add` alike).
pub(crate) async fn register(state: &AppState, input: &SharedMcpServerInput) -> Result<ServerRow> {
    let config = checked(state, input, None)?;
    check_grants(state, &config).await?;
    if fetch(state, &config.name).await?.is_some() {
        return Err(name_taken(&config.name));
    }
    let c = columns(state, &config)?;
    let now = db::now();
    let sql = "INSERT INTO mcp_servers (name, alias, description, transport, url, lifecycle, command, args, env_sealed, \
               auth, credential_sealed, api_key_header, headers_sealed, extra_headers, allowed_tools, denied_tools, \
               tool_overrides, timeout_secs, grants, is_public, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21)";
    let inserted = with_pool!(&state.db, pool => sqlx::query(sql)
        .bind(&config.name)
        .bind(&config.alias)
        .bind(&config.description)
        .bind(&c.transport)
        .bind(&config.url)
        .bind(&c.lifecycle)
        .bind(&config.command)
        .bind(&c.args)
        .bind(&c.env_sealed)
        .bind(&c.auth)
        .bind(&c.credential_sealed)
        .bind(&config.api_key_header)
        .bind(&c.headers_sealed)
        .bind(&c.extra_headers)
        .bind(&c.allowed_tools)
        .bind(&c.denied_tools)
        .bind(&c.tool_overrides)
        .bind(config.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS) as i64)
        .bind(&c.grants)
        .bind(config.is_public)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()));
    match inserted {
        Ok(_) => {}
        Err(e) if db::is_unique_violation(&e) => return Err(name_taken(&config.name)),
        Err(e) => return Err(e.into()),
    }
    changed(state, &config.name).await;
    tracing::info!(mcp_server = %config.name, "shared MCP server registered");
    fetch(state, &config.name)
        .await?
        .ok_or_else(|| not_found(&config.name))
}

#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn replace(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    ApiJson(input): ApiJson<SharedMcpServerInput>,
) -> Result<Json<SharedMcpServer>> {
    authorize(&principal, Action::Write, Resource::McpRegistry)?;
    let stored = fetch(&state, &name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    if input.name != name {
        return Err(AppError::invalid(
            "name",
            "a server's name cannot be changed (tool names and keys depend on it); delete it and add it again",
        ));
    }
    let config = checked(&state, &input, Some(&stored.open(&state)?))?;
    check_grants(&state, &config).await?;
    let c = columns(&state, &config)?;
    let sql = "UPDATE mcp_servers SET alias = $1, description = $2, transport = $3, url = $4, lifecycle = $5, \
               command = $6, args = $7, env_sealed = $8, auth = $9, credential_sealed = $10, api_key_header = $11, \
               headers_sealed = $12, extra_headers = $13, allowed_tools = $14, denied_tools = $15, tool_overrides = $16, \
               timeout_secs = $17, grants = $18, is_public = $19, updated_at = $20 WHERE name = $21";
    let updated = with_pool!(&state.db, pool => sqlx::query(sql)
        .bind(&config.alias)
        .bind(&config.description)
        .bind(&c.transport)
        .bind(&config.url)
        .bind(&c.lifecycle)
        .bind(&config.command)
        .bind(&c.args)
        .bind(&c.env_sealed)
        .bind(&c.auth)
        .bind(&c.credential_sealed)
        .bind(&config.api_key_header)
        .bind(&c.headers_sealed)
        .bind(&c.extra_headers)
        .bind(&c.allowed_tools)
        .bind(&c.denied_tools)
        .bind(&c.tool_overrides)
        .bind(config.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS) as i64)
        .bind(&c.grants)
        .bind(config.is_public)
        .bind(db::now())
        .bind(&name)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    if updated == 0 {
        return Err(not_found(&name));
    }
    changed(&state, &name).await;
    tracing::info!(mcp_server = %name, "shared MCP server updated");
    state.audit.record(Record::action(
        MCP_SERVER_UPDATED,
        &principal,
        format!("mcp_server:{name}"),
        200,
    ));
    let row = fetch(&state, &name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(Json(full_view(&row, &state)?))
}

#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    authorize(&principal, Action::Write, Resource::McpRegistry)?;
    unregister(&state, &name).await?;
    state.audit.record(Record::action(
        MCP_SERVER_DELETED,
        &principal,
        format!("mcp_server:{name}"),
        204,
    ));
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the shared server `name` and stops what Hearth had open with it (the API and
/// `hearth mcp remove` alike).
pub(crate) async fn unregister(state: &AppState, name: &str) -> Result<()> {
    // Users' approvals go first, so that a server registered later under the name starts
    // with none.
    let sql = "DELETE FROM mcp_server_approvals WHERE server = $1";
    with_pool!(&state.db, pool => sqlx::query(sql).bind(name).execute(pool).await.map(|_| ()))?;
    let sql = "DELETE FROM mcp_servers WHERE name = $1";
    let deleted = with_pool!(&state.db, pool => sqlx::query(sql).bind(name).execute(pool).await.map(|r| r.rows_affected()))?;
    if deleted == 0 {
        return Err(not_found(name));
    }
    changed(state, name).await;
    tracing::info!(mcp_server = %name, "shared MCP server deleted");
    Ok(())
}

/// The backstop for changes this instance did not hear of (a `hearth mcp remove` next to a
/// running server, or a missed notification): sessions whose server is gone or configured
/// differently now are closed.
pub(crate) async fn reconcile(state: &AppState) {
    let held = state.mcp_pool.specs();
    if held.is_empty() {
        return;
    }
    let rows = match fetch_all(state).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the shared MCP servers to check the open sessions");
            return;
        }
    };
    for spec in held {
        let current = rows
            .iter()
            .find(|r| r.name == spec.name)
            .and_then(|r| r.spec(state).ok());
        if current.as_ref() != Some(&spec) {
            state.mcp_pool.forget(&spec.name).await;
            state.mcp_health.forget(&spec.name);
        }
    }
}

/// Closes what this instance and the others hold of server `name`, once a change is written.
async fn changed(state: &AppState, name: &str) {
    state.mcp_registry.forget();
    state.mcp_pool.forget(name).await;
    state.mcp_health.forget(name);
    crate::changes::announce(
        &state.db,
        crate::changes::Change::McpServer(name.to_owned()),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<EnvEntry> {
        pairs
            .iter()
            .map(|(n, v)| EnvEntry {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect()
    }

    #[test]
    fn variables_expand_in_header_values_and_an_unknown_one_is_named_without_the_value() {
        let vars = env(&[("TOKEN", "s3cret"), ("ORG", "acme")]);
        assert_eq!(
            expand("Bearer ${TOKEN} for ${ORG}", &vars).unwrap(),
            "Bearer s3cret for acme"
        );
        assert_eq!(expand("plain", &vars).unwrap(), "plain");
        let err = expand("${MISSING}", &vars).unwrap_err();
        assert!(err.contains("MISSING") && !err.contains("s3cret"), "{err}");
        assert!(expand("${TOKEN", &vars).is_err());
    }

    #[test]
    fn a_blank_value_keeps_the_stored_one_of_that_name() {
        let stored = vec![("A".to_owned(), "old".to_owned())];
        let given = vec![
            ("A".to_owned(), String::new()),
            ("B".to_owned(), String::new()),
        ];
        assert_eq!(
            merged(&given, &stored),
            vec![
                ("A".to_owned(), "old".to_owned()),
                ("B".to_owned(), String::new())
            ]
        );
    }

    #[test]
    fn names_are_lower_case_letters_digits_and_dashes_and_not_routes() {
        for good in ["files", "a", "git-hub-2", "0day"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Files",
            "a_b",
            "-a",
            "a.b",
            "test",
            "health",
            &"a".repeat(65),
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
