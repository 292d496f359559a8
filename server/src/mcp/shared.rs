//! Using the shared servers: `GET /v1/mcp/servers/health`, `POST /v1/mcp/servers/test`,
//! `GET /v1/mcp/tools` and `POST /v1/mcp/tools/call`.
//!
//! Health and tools are per server the caller may see (health) or use (tools), asked with a
//! bounded concurrency, each under its own deadline. A tool list passes through the server's
//! allow and deny lists and its overrides before anyone sees it; a call is refused for a tool
//! those lists hide, exactly as if it did not exist.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, StreamExt};
use serde::Deserialize;

use app::api::{
    ServerState, SharedMcpHealthList, SharedMcpServerHealth, SharedMcpServerInput,
    SharedMcpServerTest, SharedTool, SharedToolCall, SharedToolList,
};

use super::registry::{self, ServerRow};
use super::upstream::{connect, Failure, Spec};
use crate::audit::Record;
use crate::auth::{allowed, authorize, Action, Principal, Resource};
use crate::db;
use crate::error::{AppError, Echo, Result};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::with_pool;

/// Servers asked at once by one listing.
const CONCURRENCY: usize = 8;
/// How long a health check is reused; and how old it must be before `?refresh=1` asks the
/// server again (so that nobody can make Hearth hammer a server by asking in a loop).
const HEALTH_TTL: Duration = Duration::from_secs(15);
const REFRESH_FLOOR: Duration = Duration::from_secs(2);

pub const MCP_TOOL_CALL: &str = "mcp_tool_call";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/mcp/servers/health", get(health))
        .route("/v1/mcp/servers/test", post(test))
        .route("/v1/mcp/tools", get(tools))
        .route("/v1/mcp/tools/call", post(call))
        .route("/v1/mcp/approvals", get(approvals))
        .route(
            "/v1/mcp/servers/{name}/approvals/{tool}",
            axum::routing::put(set_approval),
        )
}

/// The caller's stored approvals of shared servers' tools, by server.
async fn stored_approvals(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<app::api::SharedApprovals>> {
    let sql = "SELECT server, approvals FROM mcp_server_approvals WHERE owner = $1 ORDER BY server";
    let rows: Vec<(String, String)> = with_pool!(&state.db, pool => sqlx::query_as(sql).bind(principal.owner_key()).fetch_all(pool).await)?;
    rows.into_iter()
        .map(|(server, approvals)| {
            Ok(app::api::SharedApprovals {
                server,
                approvals: serde_json::from_str(&approvals).map_err(AppError::internal)?,
            })
        })
        .collect()
}

/// `GET /v1/mcp/approvals`: every shared server the caller may use, with their approvals of
/// its tools in chat (none yet: an empty map). What chat needs to offer those servers.
async fn approvals(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<app::api::SharedApprovalsList>> {
    authorize(&principal, Action::Read, Resource::OwnMcpServers)?;
    let (rows, teams) = registry::visible(&state, &principal).await?;
    let mut stored = stored_approvals(&state, &principal).await?;
    let data = rows
        .iter()
        .filter(|r| r.usable_by(&principal, &teams))
        .map(|r| app::api::SharedApprovals {
            server: r.name.clone(),
            approvals: stored
                .iter_mut()
                .find(|a| a.server == r.name)
                .map(|a| std::mem::take(&mut a.approvals))
                .unwrap_or_default(),
        })
        .collect();
    Ok(Json(app::api::SharedApprovalsList { data }))
}

/// `PUT /v1/mcp/servers/{name}/approvals/{tool}`: whether one tool of a shared server the
/// caller may use runs in their chat without asking. `ask` is the default and is not stored.
#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn set_approval(
    State(state): State<AppState>,
    principal: Principal,
    Path((name, tool)): Path<(String, String)>,
    ApiJson(input): ApiJson<app::api::ApprovalInput>,
) -> Result<Json<app::api::SharedApprovals>> {
    authorize(&principal, Action::Write, Resource::OwnMcpServers)?;
    let (rows, teams) = registry::visible(&state, &principal).await?;
    if !rows
        .iter()
        .any(|r| r.name == name && r.usable_by(&principal, &teams))
    {
        return Err(AppError::NotFound(format!(
            "no shared MCP server named {} that you may use",
            Echo(&name)
        )));
    }
    if !app::api::valid_tool_name(&tool) {
        return Err(AppError::BadRequest(app::api::TOOL_NAME_RULE.into()));
    }
    let mut approvals = stored_approvals(&state, &principal)
        .await?
        .into_iter()
        .find(|a| a.server == name)
        .map(|a| a.approvals)
        .unwrap_or_default();
    match input.approval {
        app::api::ToolApproval::Ask => {
            approvals.remove(&tool);
        }
        other => {
            if !approvals.contains_key(&tool) && approvals.len() >= app::api::MAX_TOOLS {
                return Err(AppError::BadRequest(format!(
                    "at most {} tools per server have an approval",
                    app::api::MAX_TOOLS
                )));
            }
            approvals.insert(tool.clone(), other);
        }
    }
    let stored = serde_json::to_string(&approvals).map_err(AppError::internal)?;
    let sql = "INSERT INTO mcp_server_approvals (owner, server, approvals) VALUES ($1, $2, $3) \
               ON CONFLICT (owner, server) DO UPDATE SET approvals = excluded.approvals";
    with_pool!(&state.db, pool => sqlx::query(sql).bind(principal.owner_key()).bind(&name).bind(stored).execute(pool).await.map(|_| ()))?;
    tracing::info!(mcp_server = %name, tool = ?tool, approval = ?input.approval, "tool approval set");
    Ok(Json(app::api::SharedApprovals {
        server: name,
        approvals,
    }))
}

/// The last check of each server, reused for [`HEALTH_TTL`].
#[derive(Default)]
pub struct HealthCache(Mutex<HashMap<String, (Instant, SharedMcpServerHealth)>>);

impl HealthCache {
    /// The last check of `name`, if younger than `age`.
    fn get(&self, name: &str, age: Duration) -> Option<SharedMcpServerHealth> {
        let checks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        checks
            .get(name)
            .filter(|(at, _)| at.elapsed() < age)
            .map(|(_, h)| h.clone())
    }

    fn put(&self, check: SharedMcpServerHealth) {
        let mut checks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        checks.insert(check.name.clone(), (Instant::now(), check));
    }

    /// Drops what is known of `name` (it changed).
    pub fn forget(&self, name: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }
}

/// A server's tools as its users see them: allow and deny lists applied, overrides shown.
fn offered(row: &ServerRow, tools: &[rmcp::model::Tool]) -> Vec<SharedTool> {
    all_tools(&row.name, &row.offer(tools))
}

/// Every tool a server offers, before any list (what "Test connection" shows).
fn all_tools(name: &str, tools: &[rmcp::model::Tool]) -> Vec<SharedTool> {
    tools
        .iter()
        .map(|t| SharedTool {
            server: name.to_owned(),
            name: t.name.to_string(),
            title: t.title.clone(),
            description: t.description.as_ref().map(|d| d.to_string()),
            input_schema: serde_json::Value::Object((*t.input_schema).clone()),
        })
        .collect()
}

fn millis(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

/// Checks one server (through the pool: a warm server answers from it unless `refresh`).
async fn check(state: &AppState, row: &ServerRow, refresh: bool) -> SharedMcpServerHealth {
    let age = if refresh { REFRESH_FLOOR } else { HEALTH_TTL };
    if let Some(known) = state.mcp_health.get(&row.name, age) {
        return known;
    }
    let started = Instant::now();
    let result = match row.spec(state) {
        Ok(spec) => state.mcp_pool.tools(&spec, refresh).await,
        Err(e) => Err(Failure {
            state: ServerState::Error,
            message: e.to_string(),
        }),
    };
    let (server_state, tools, error) = match result {
        Ok(found) => (
            ServerState::Ok,
            Some(offered(row, &found.tools).len()),
            None,
        ),
        Err(failure) => (failure.state, None, Some(failure.message)),
    };
    let health = SharedMcpServerHealth {
        name: row.name.clone(),
        state: server_state,
        tools,
        latency_ms: millis(started.elapsed()),
        error,
        stderr: Vec::new(),
        checked_at: db::now(),
    };
    state.mcp_health.put(health.clone());
    health
}

#[derive(Debug, Default, Deserialize)]
struct HealthQuery {
    /// Ask every server again instead of reusing a recent check.
    #[serde(default)]
    refresh: Option<String>,
}

impl HealthQuery {
    fn refresh(&self) -> bool {
        matches!(self.refresh.as_deref(), Some("1" | "true" | "yes"))
    }
}

async fn health(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<HealthQuery>,
) -> Result<Json<SharedMcpHealthList>> {
    let (rows, _) = registry::visible(&state, &principal).await?;
    // Messages and stderr can name hosts, paths and the server's own words: admins only.
    let admin = allowed(&principal, Action::Write, Resource::McpRegistry);
    let refresh = query.refresh();
    let mut data: Vec<SharedMcpServerHealth> = stream::iter(rows)
        .map(|row| {
            let state = state.clone();
            async move { check(&state, &row, refresh).await }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    for h in &mut data {
        if admin {
            h.stderr = state.mcp_pool.stderr(&h.name).await;
        } else {
            h.error = None;
        }
    }
    Ok(Json(SharedMcpHealthList { data }))
}

/// `POST /v1/mcp/servers/test`: the form's "Test connection". Connects with the
/// configuration given (secrets it leaves out come from the stored server of that name,
/// when the address is the same), lists every tool, and stores nothing.
#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn test(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<SharedMcpServerInput>,
) -> Result<Json<SharedMcpServerTest>> {
    authorize(&principal, Action::Write, Resource::McpRegistry)?;
    let stored = match registry::fetch(&state, &input.name).await? {
        Some(row) => Some(row.open(&state)?),
        None => None,
    };
    // Stored secrets go only where they are already sent.
    let same_place = |s: &&SharedMcpServerInput| {
        s.transport == input.transport
            && s.url.as_deref().map(str::trim) == input.url.as_deref().map(str::trim)
            && s.command == input.command
    };
    let config = registry::checked(&state, &input, stored.as_ref().filter(same_place))?;
    let spec = registry::spec(&config)?;
    Ok(Json(try_server(&state, &spec).await))
}

/// Opens a session of its own with `spec` (not the pool's), lists every tool, and closes it.
pub(crate) async fn try_server(state: &AppState, spec: &Spec) -> SharedMcpServerTest {
    let started = Instant::now();
    let session = match connect(spec, &state.cors_proxy).await {
        Ok(session) => session,
        Err(failure) => {
            return SharedMcpServerTest {
                state: failure.state,
                latency_ms: millis(started.elapsed()),
                error: Some(failure.message),
                server_info: None,
                protocol_version: None,
                tools: Vec::new(),
                stderr: Vec::new(),
            }
        }
    };
    let listing = tokio::time::timeout(spec.timeout, session.peer().list_all_tools()).await;
    let (state_, error, tools) = match listing {
        Ok(Ok(tools)) => (ServerState::Ok, None, all_tools(&spec.name, &tools)),
        Ok(Err(e)) => {
            let failure = super::upstream::classify(spec, &e);
            (failure.state, Some(failure.message), Vec::new())
        }
        Err(_) => {
            let failure = Failure::timed_out("tools/list", spec.timeout);
            (failure.state, Some(failure.message), Vec::new())
        }
    };
    let result = SharedMcpServerTest {
        state: state_,
        latency_ms: millis(started.elapsed()),
        error,
        server_info: session.server_info(),
        protocol_version: session.protocol_version(),
        tools,
        stderr: session
            .stderr
            .as_ref()
            .map(|t| t.lines())
            .unwrap_or_default(),
    };
    session.close().await;
    result
}

/// Every tool `principal` may use, with the servers that did not answer.
async fn tools(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<SharedToolList>> {
    let (rows, teams) = registry::visible(&state, &principal).await?;
    let usable: Vec<Arc<ServerRow>> = rows
        .into_iter()
        .filter(|r| r.usable_by(&principal, &teams))
        .collect();
    let answers: Vec<(Arc<ServerRow>, std::result::Result<Vec<SharedTool>, ()>)> =
        stream::iter(usable)
            .map(|row| {
                let state = state.clone();
                async move {
                    let listed = match row.spec(&state) {
                        Ok(spec) => state
                            .mcp_pool
                            .tools(&spec, false)
                            .await
                            .map(|t| offered(&row, &t.tools))
                            .map_err(|_| ()),
                        Err(_) => Err(()),
                    };
                    (row, listed)
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
    let mut list = SharedToolList {
        data: Vec::new(),
        unavailable: Vec::new(),
    };
    for (row, listed) in answers {
        match listed {
            Ok(tools) => list.data.extend(tools),
            Err(()) => list.unavailable.push(row.name.clone()),
        }
    }
    Ok(Json(list))
}

/// `POST /v1/mcp/tools/call`: one tool of one shared server, as `/mcp` would run it. The
/// answer is the server's `CallToolResult` as it sent it (a tool's own error is a result
/// with `isError`, not an HTTP error).
#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn call(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<SharedToolCall>,
) -> Result<Json<serde_json::Value>> {
    let started = Instant::now();
    let (row, teams) = registry::visible_one(&state, &principal, &body.server).await?;
    // The outcome is in the target: `ok`, `tool_error` (the tool ran and reported an
    // error), `refused` or `upstream_error`.
    let audit = |outcome: &str, status: u16| {
        let mut record = Record::action(
            MCP_TOOL_CALL,
            &principal,
            format!("mcp_tool:{}/{} {outcome}", row.name, Echo(&body.name)),
            status,
        );
        record.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        state.audit.record(record);
    };
    if !row.usable_by(&principal, &teams) {
        audit("refused", 403);
        return Err(registry::not_found(&body.server));
    }
    let spec = row.spec(&state)?;
    let known = state
        .mcp_pool
        .tools(&spec, false)
        .await
        .map_err(|f| upstream_error(&row.name, &f))?;
    if !offered(&row, &known.tools)
        .iter()
        .any(|t| t.name == body.name)
    {
        audit("refused", 404);
        return Err(AppError::NotFound(format!(
            "the shared MCP server {} has no tool named {}",
            Echo(&row.name),
            Echo(&body.name)
        )));
    }
    match state.mcp_pool.call(&spec, &body.name, body.arguments).await {
        Ok(result) => {
            let is_error = result.is_error == Some(true);
            audit(if is_error { "tool_error" } else { "ok" }, 200);
            Ok(Json(
                serde_json::to_value(result).map_err(AppError::internal)?,
            ))
        }
        Err(failure) => {
            audit("upstream_error", 502);
            Err(upstream_error(&row.name, &failure))
        }
    }
}

/// A server that failed, in words for any caller: its state, not its message (which is for
/// admins, through the health check).
fn upstream_error(name: &str, failure: &Failure) -> AppError {
    match failure.state {
        ServerState::AuthRequired => AppError::BadGateway(format!(
            "the shared MCP server {name} refused Hearth's credentials; an admin must update them"
        )),
        ServerState::Unreachable => AppError::BadGateway(format!(
            "the shared MCP server {name} did not answer; try again later"
        )),
        _ => AppError::BadGateway(format!(
            "the shared MCP server {name} answered with an error"
        )),
    }
}
