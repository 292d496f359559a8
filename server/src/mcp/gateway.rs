//! The MCP gateway: the shared servers served to MCP clients, on rmcp's streamable HTTP
//! server (sessions for 2025-11-25, stateless requests for 2026-07-28).
//!
//! - `/mcp/{server}`: one server, its tools under their own names.
//! - `/mcp`: every server the caller may use, each tool as `<server>__<tool>` (the chat page's
//!   naming rules), and their prompts and resources merged the same way (see [`merged`]).
//!
//! In front of rmcp, [`guard`] authenticates the caller (a Hearth key as `Authorization:
//! Bearer` or `X-Api-Key`, or the session cookie) and hands the principal to the handler in
//! the request's extensions; a session opened by one principal is a 404 to any other. The
//! handler decides per request, at list time and again at call time, what the caller may use.
//! Upstream credentials come from the registry; the caller's are never passed on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use rmcp::model::RequestId;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    DiscoverResult, ErrorData, GetPromptRequestParams, GetPromptResponse, GetPromptResult,
    Implementation, InitializeRequestParams, InitializeResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ResultType,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler};
use tokio_util::sync::CancellationToken;

mod direct;
mod listing;
mod merged;

use listing::Listing;
pub use listing::Listings;

use super::registry::{self, ServerRow};
use super::upstream::{Called, Downstream, Failure, ProgressTo, Spec};
use crate::audit::Record;
use crate::auth::Principal;
use crate::error::Echo;
use crate::state::AppState;

const SESSION_HEADER: &str = "mcp-session-id";
/// The `_meta` entry of a list on `/mcp` (tools, prompts, resources) that tells how each
/// server's listing went: `{"<server>": {"outcome": "ok"}}`, or `{"outcome": "error",
/// "message": "…"}`.
const SERVERS_META: &str = "hearth/servers";

/// The `_meta` of a list on `/mcp`: the servers in `listed` went well, those in `failed` did
/// not, and why.
fn servers_meta<'a>(
    listed: impl Iterator<Item = &'a str>,
    failed: &[(Arc<ServerRow>, ErrorData)],
) -> rmcp::model::MetaObject {
    let mut outcomes = serde_json::Map::new();
    for name in listed {
        outcomes.insert(name.to_owned(), serde_json::json!({"outcome": "ok"}));
    }
    for (row, error) in failed {
        let outcome = serde_json::json!({"outcome": "error", "message": error.message});
        outcomes.insert(row.name.clone(), outcome);
    }
    let mut meta = serde_json::Map::new();
    meta.insert(SERVERS_META.to_owned(), outcomes.into());
    rmcp::model::MetaObject(meta)
}

/// A server that could not be reached (or given its credential), in words for the caller.
fn unanswered(name: &str, failure: &Failure) -> ErrorData {
    ErrorData::internal_error(
        format!(
            "the shared MCP server {name} did not answer ({})",
            failure.state.as_str()
        ),
        None,
    )
}

pub fn router(state: &AppState) -> Router<AppState> {
    let relay_state = state.clone();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(state.gateway_hosts.clone())
        .with_allowed_origins(state.gateway_origins.clone())
        // Sessions (and a client's open event stream) get the shutdown grace, as LLM streams
        // do, and end with them.
        .with_cancellation_token(state.streams_end.clone());
    let service = StreamableHttpService::new(
        move || {
            Ok(Relay {
                state: relay_state.clone(),
            })
        },
        state.gateway_sessions.rmcp.clone(),
        config,
    );
    // The guard answers every request of these paths, handing rmcp those it does not answer
    // itself; rmcp's service is shared, not cloned for each request.
    let rmcp: Rmcp = Arc::new(service);
    let answer = move |State(state): State<AppState>, request: Request| {
        let rmcp = rmcp.clone();
        async move { guard(state, request, &rmcp).await }
    };
    Router::new()
        .route("/mcp", axum::routing::any(answer.clone()))
        .route("/mcp/{server}", axum::routing::any(answer))
        .route(
            "/.well-known/oauth-protected-resource/mcp/{server}",
            axum::routing::get(resource_metadata),
        )
}

/// How long a server's own protected-resource metadata is kept.
const METADATA_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// The RFC 9728 protected-resource metadata of `/mcp/{server}`, for a server given the
/// caller's token (auth `forward`): where the probe's 401 points a client. Its authorization
/// servers are the server's own (from its metadata, fetched at most every 5 min), so the
/// client gets its token where the server expects it. Served to anyone, as a client that was
/// just refused has no credential; other servers, and unknown names, are a 404.
async fn resource_metadata(
    State(state): State<AppState>,
    axum::extract::Path(server): axum::extract::Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let not_found = || {
        crate::error::AppError::NotFound(format!(
            "no shared MCP server named {} is given its callers' tokens",
            Echo(&server)
        ))
        .into_response()
    };
    let Ok(Some(row)) = registry::fetch(&state, &server).await else {
        return not_found();
    };
    if !row.forwards_token() {
        return not_found();
    }
    let origin = origin_of(&state, &parts);
    let mut document = serde_json::json!({
        "resource": format!("{origin}/mcp/{server}"),
        "bearer_methods_supported": ["header"],
        "resource_name": row.shown_name(),
    });
    if let Some(url) = row.url() {
        if let Some(found) = state
            .gateway_metadata
            .authorization_servers(&state, url)
            .await
        {
            document["authorization_servers"] = found;
        }
    }
    let mut response = axum::Json(document).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// The upstream servers' authorization servers, by server URL, as their metadata said. One
/// fetch per server at a time: callers who ask while it runs wait for its answer, so a burst
/// of requests to the public route costs the server one fetch.
#[derive(Default)]
pub struct UpstreamMetadata(Mutex<HashMap<String, Fetched>>);

type Found = Option<serde_json::Value>;

struct Fetched {
    at: Instant,
    found: Arc<tokio::sync::OnceCell<Found>>,
}

impl UpstreamMetadata {
    async fn authorization_servers(&self, state: &AppState, url: &str) -> Found {
        let found = {
            let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            match cache.get(url) {
                Some(fetched) if fetched.at.elapsed() < METADATA_TTL => fetched.found.clone(),
                _ => {
                    if cache.len() >= 1000 {
                        cache.retain(|_, f| f.at.elapsed() < METADATA_TTL);
                    }
                    if cache.len() >= 1000 {
                        cache.clear();
                    }
                    let found = Arc::new(tokio::sync::OnceCell::new());
                    let fetched = Fetched {
                        at: Instant::now(),
                        found: found.clone(),
                    };
                    cache.insert(url.to_owned(), fetched);
                    found
                }
            }
        };
        found
            .get_or_init(|| fetch_authorization_servers(state.mcp_pool.http(), url))
            .await
            .clone()
    }
}

/// RFC 9728's well-known places for `url`'s metadata (with the path, then without), read
/// for `authorization_servers`; 5 s and 64 KiB at most each.
async fn fetch_authorization_servers(http: reqwest::Client, url: &str) -> Found {
    let url = url::Url::parse(url).ok()?;
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    let places = [
        format!("{origin}/.well-known/oauth-protected-resource{path}"),
        format!("{origin}/.well-known/oauth-protected-resource"),
    ];
    for place in places {
        let asked = http
            .get(&place)
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await;
        let Ok(answer) = asked else { continue };
        if !answer.status().is_success() {
            continue;
        }
        let Ok(bytes) = crate::llm::read_whole(answer, 64 << 10).await else {
            continue;
        };
        let Ok(document) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let servers = &document["authorization_servers"];
        if servers
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(serde_json::Value::is_string))
        {
            return Some(servers.clone());
        }
    }
    None
}

/// `/mcp`'s sessions: rmcp's, and for each who opened it (so that nobody else can use it)
/// and when rmcp last saw it (see [`direct`]); the calls the guard is running itself.
pub struct Sessions {
    rmcp: Arc<LocalSessionManager>,
    opened: Mutex<HashMap<String, Opened>>,
    running: Mutex<HashMap<(String, RequestId), CancellationToken>>,
}

struct Opened {
    owner: SessionOwner,
    /// When rmcp last had a request of the session, which keeps it alive there.
    seen: Instant,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            rmcp: Arc::new(LocalSessionManager::default()),
            opened: Mutex::default(),
            running: Mutex::default(),
        }
    }
}

/// How often rmcp must see a session the guard answers requests of, well within rmcp's idle
/// timeout (5 min), so that an active session does not expire there.
const SEEN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl Sessions {
    fn opened(&self) -> std::sync::MutexGuard<'_, HashMap<String, Opened>> {
        self.opened.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether session `id` was opened by someone other than `caller`.
    fn held_by_another(&self, id: &str, caller: &Principal) -> bool {
        self.opened().get(id).is_some_and(|o| !o.owner.is(caller))
    }

    /// Records a session rmcp just opened. Sessions rmcp has closed since (ended by their
    /// clients or idle) are forgotten now and then.
    async fn open(&self, id: String, owner: SessionOwner) {
        let held = {
            let mut opened = self.opened();
            opened.insert(
                id,
                Opened {
                    owner,
                    seen: Instant::now(),
                },
            );
            opened.len()
        };
        if held.is_power_of_two() && held >= 64 {
            let live = self.rmcp.sessions.read().await;
            self.opened().retain(|id, _| live.contains_key(id.as_str()));
        }
    }

    fn closed(&self, id: &str) {
        self.opened().remove(id);
    }

    /// rmcp has a request of session `id` now.
    fn seen(&self, id: &str) {
        if let Some(opened) = self.opened().get_mut(id) {
            opened.seen = Instant::now();
        }
    }

    /// Whether the guard may answer a request of session `id` itself: rmcp has the session
    /// and saw it lately.
    async fn answered_directly(&self, id: &str) -> bool {
        let lately = self
            .opened()
            .get(id)
            .is_some_and(|o| o.seen.elapsed() < SEEN_EVERY);
        lately && self.rmcp.sessions.read().await.contains_key(id)
    }

    fn running(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, RequestId), CancellationToken>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A call the guard runs, which the client may cancel until it has [`Sessions::ended`].
    fn started(&self, call: (String, RequestId), cancel: CancellationToken) {
        self.running().insert(call, cancel);
    }

    fn ended(&self, call: &(String, RequestId)) {
        self.running().remove(call);
    }

    fn cancel(&self, session: &str, id: RequestId) {
        if let Some(cancel) = self.running().get(&(session.to_owned(), id)) {
            cancel.cancel();
        }
    }
}

/// Who opened a session: the principal's owner and the key it came with (a session opened
/// with one key is not another key's, though both be the same user's).
#[derive(Debug)]
struct SessionOwner {
    owner: crate::auth::Owner,
    key: Option<String>,
}

impl SessionOwner {
    fn of(principal: &Principal) -> SessionOwner {
        SessionOwner {
            owner: principal.owner(),
            key: principal.key_hash_prefix.clone(),
        }
    }

    fn is(&self, principal: &Principal) -> bool {
        self.owner == principal.owner() && self.key == principal.key_hash_prefix
    }
}

/// rmcp's streamable HTTP service for `/mcp` and `/mcp/{server}`.
type Rmcp = Arc<StreamableHttpService<Relay, LocalSessionManager>>;

/// Authenticates the caller, probes a server that is given the caller's token before a
/// session with it starts, and keeps sessions to the principal that opened them.
///
/// A client that authenticates to Hearth with `X-Api-Key` may send an `Authorization` of its
/// own: that one is meant for the servers (auth `forward`), and is never read as a Hearth key.
async fn guard(state: AppState, request: Request, rmcp: &Rmcp) -> Response {
    let (mut parts, body) = request.into_parts();
    if parts.headers.contains_key("x-api-key") {
        if let Some(token) = parts.headers.remove(header::AUTHORIZATION) {
            parts.extensions.insert(CallerAuthorization(token));
        }
    }
    let principal =
        match <Principal as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            &mut parts, &state,
        )
        .await
        {
            Ok(principal) => principal,
            Err(e) => return e.into_response(),
        };
    let session = parts
        .headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(id) = &session {
        // Another principal's session is answered as one that does not exist.
        if state.gateway_sessions.held_by_another(id, &principal) {
            return (StatusCode::NOT_FOUND, "Session not found").into_response();
        }
    }
    parts.extensions.insert(principal.clone());
    let mut body = axum::body::Body::new(body);
    let posted = parts.method == axum::http::Method::POST;
    if let (Some(id), true) = (&session, posted) {
        let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return (StatusCode::PAYLOAD_TOO_LARGE, "the request is too large").into_response()
            }
        };
        match direct::read(&state, &parts, &bytes) {
            direct::Read::Plain(plain) if state.gateway_sessions.answered_directly(id).await => {
                let asker = Asker {
                    principal,
                    scope: scope_in(parts.uri.path()),
                    caller: forwarded_from(&parts),
                };
                return direct::answer(state.clone(), asker, plain, id).await;
            }
            direct::Read::Cancelled(request) => state.gateway_sessions.cancel(id, request),
            _ => {}
        }
        state.gateway_sessions.seen(id);
        body = axum::body::Body::from(bytes);
    }
    if session.is_none() && posted {
        if let Some(server) = parts.uri.path().strip_prefix("/mcp/") {
            let server = server.to_owned();
            // The body is read here once to see what it asks; rmcp gets it whole.
            let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
                Ok(bytes) => bytes,
                Err(_) => {
                    return (StatusCode::PAYLOAD_TOO_LARGE, "the request is too large")
                        .into_response()
                }
            };
            if opens_session(&bytes) {
                if let Some(refused) = probe(&state, &parts, &principal, &server).await {
                    return refused;
                }
            }
            body = axum::body::Body::from(bytes);
        }
    }
    let ended = parts.method == axum::http::Method::DELETE;
    // Boxed: rmcp's future is large, and requests answered directly never make it.
    let response = Box::pin(rmcp.handle(Request::from_parts(parts, body)))
        .await
        .map(axum::body::Body::new);
    match &session {
        Some(id) if ended && response.status().is_success() => state.gateway_sessions.closed(id),
        Some(_) => {}
        None => {
            if let Some(id) = response
                .headers()
                .get(SESSION_HEADER)
                .and_then(|v: &HeaderValue| v.to_str().ok())
            {
                let owner = SessionOwner::of(&principal);
                state.gateway_sessions.open(id.to_owned(), owner).await;
            }
        }
    }
    response
}

/// The largest request body `/mcp` takes (rmcp's own limit).
const MAX_BODY: usize = 4 << 20;

/// How long the probe waits for a server before letting the session open anyway.
const PROBE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether a request starts a session with the server: `initialize` (2025-11-25) or
/// `server/discover` (2026-07-28).
fn opens_session(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Method {
        method: Option<String>,
    }
    serde_json::from_slice::<Method>(body)
        .ok()
        .and_then(|m| m.method)
        .is_some_and(|m| m == "initialize" || m == "server/discover")
}

/// The pre-flight check of a server that is given the caller's token: its session for this
/// caller is opened (or found open) before the MCP session with the client starts, so that
/// a refusal of the caller's credential reaches the client as HTTP, which it can act on: 401
/// with a `WWW-Authenticate` pointing at Hearth's protected-resource metadata for the
/// server, or 403. A server that cannot be reached, or does not answer within
/// [`PROBE_DEADLINE`], lets the session open (its calls then say what is wrong).
async fn probe(
    state: &AppState,
    parts: &axum::http::request::Parts,
    principal: &Principal,
    server: &str,
) -> Option<Response> {
    let (rows, teams) = registry::visible(state, principal).await.ok()?;
    let row = rows
        .into_iter()
        .find(|r| r.name == server && r.usable_by(principal, &teams))?;
    if !row.forwards() {
        return None;
    }
    let spec = row.spec_for(state, &forwarded_from(parts)).ok()?;
    let failure = match tokio::time::timeout(PROBE_DEADLINE, state.mcp_pool.peer(&spec)).await {
        Ok(Err(failure)) if failure.state == app::api::ServerState::AuthRequired => failure,
        _ => return None,
    };
    if failure.is_forbidden() {
        let body = serde_json::json!({"error": {"message": format!(
            "the shared MCP server {server} refused your credential (403)")}});
        return Some((StatusCode::FORBIDDEN, axum::Json(body)).into_response());
    }
    let metadata = format!(
        "{}/.well-known/oauth-protected-resource/mcp/{server}",
        origin_of(state, parts)
    );
    let body = serde_json::json!({"error": {"message": format!(
        "the shared MCP server {server} needs your credential: send it as Authorization, with your Hearth key as X-Api-Key")}});
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("Bearer resource_metadata=\"{metadata}\"")) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    Some(response)
}

/// Hearth's own origin as this request reached it: its `Host` when that is one of Hearth's
/// addresses (HTTP/1.1 requires one; `localhost` without it).
fn origin_of(state: &AppState, parts: &axum::http::request::Parts) -> String {
    let scheme = match parts
        .headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|host| {
            let name = host
                .rsplit_once(':')
                .map_or(*host, |(name, _)| name)
                .trim_start_matches('[')
                .trim_end_matches(']');
            state.gateway_hosts.is_empty() || state.gateway_hosts.iter().any(|h| h == name)
        })
        .map(str::to_owned)
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{scheme}://{host}")
}

/// One server's part of the gateway, as the request's path names it: `/mcp/{server}`, or the
/// whole of `/mcp`.
enum Scope {
    One(String),
    All,
}

fn scope_of(ctx: &RequestContext<RoleServer>) -> Scope {
    ctx.extensions
        .get::<axum::http::request::Parts>()
        .map_or(Scope::All, |parts| scope_in(parts.uri.path()))
}

fn scope_in(path: &str) -> Scope {
    match path.strip_prefix("/mcp/") {
        Some(server) if !server.is_empty() => Scope::One(server.to_owned()),
        _ => Scope::All,
    }
}

/// The caller's headers that a server may be given (auth `forward`, `extra_headers`): the
/// token the client meant for the servers (its `Authorization`, when it authenticated to
/// Hearth with `X-Api-Key`) and its other headers. Hearth's own credentials (the key, the
/// cookie) are never among them.
type Caller = Vec<(HeaderName, HeaderValue)>;

/// The client's `Authorization`, when it is not its Hearth credential (see [`guard`]).
#[derive(Clone)]
struct CallerAuthorization(HeaderValue);

fn forwarded_from(parts: &axum::http::request::Parts) -> Caller {
    let mut caller: Caller = parts
        .headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !registry::CALLER_CREDENTIALS.contains(&name)
                && !matches!(name, "host" | "content-length")
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    if let Some(CallerAuthorization(token)) = parts.extensions.get() {
        caller.push((header::AUTHORIZATION, token.clone()));
    }
    caller
}

fn forwarded(ctx: &RequestContext<RoleServer>) -> Caller {
    ctx.extensions
        .get::<axum::http::request::Parts>()
        .map(forwarded_from)
        .unwrap_or_default()
}

fn principal_of(ctx: &RequestContext<RoleServer>) -> Result<Principal, ErrorData> {
    ctx.extensions
        .get::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<Principal>())
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("no caller", None))
}

/// Who asks, on which path, with which headers a server may be given: what answering a
/// request depends on.
struct Asker {
    principal: Principal,
    scope: Scope,
    caller: Caller,
}

impl Asker {
    fn of(ctx: &RequestContext<RoleServer>) -> Result<Asker, ErrorData> {
        Ok(Asker {
            principal: principal_of(ctx)?,
            scope: scope_of(ctx),
            caller: forwarded(ctx),
        })
    }
}

#[derive(Clone)]
struct Relay {
    state: AppState,
}

impl Relay {
    /// The servers in `scope` that `principal` may use, checked now.
    async fn usable(
        &self,
        principal: &Principal,
        scope: &Scope,
    ) -> Result<Vec<Arc<ServerRow>>, ErrorData> {
        let internal = |e: crate::error::AppError| ErrorData::internal_error(e.to_string(), None);
        let teams = registry::teams_for(&self.state, principal)
            .await
            .map_err(internal)?;
        let rows = self
            .state
            .mcp_registry
            .rows(&self.state)
            .await
            .map_err(internal)?;
        // The path's server first: the access check is the costlier test.
        let rows: Vec<Arc<ServerRow>> = rows
            .iter()
            .filter(|r| match scope {
                Scope::One(name) => r.name == *name,
                Scope::All => true,
            })
            .filter(|r| r.usable_by(principal, &teams))
            .cloned()
            .collect();
        if let (Scope::One(name), true) = (scope, rows.is_empty()) {
            return Err(ErrorData::invalid_request(
                format!("no shared MCP server named {} that you may use", Echo(name)),
                None,
            ));
        }
        Ok(rows)
    }

    /// How Hearth reaches `row` for this caller.
    fn spec_for(&self, row: &ServerRow, caller: &Caller) -> Result<Spec, ErrorData> {
        row.spec_for(&self.state, caller)
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }

    /// Every tool of the server `spec` reaches, as the pool holds them (listed once, then
    /// kept until they change).
    async fn listed(&self, row: &ServerRow, spec: &Spec) -> Result<Arc<Vec<Tool>>, ErrorData> {
        let found = self
            .state
            .mcp_pool
            .tools(spec, false)
            .await
            .map_err(|f| unanswered(&row.name, &f))?;
        Ok(found.tools)
    }
}

/// A relayed result marked complete (`resultType`, which 2026-07-28 requires) when the
/// server, speaking an older revision, did not say; rmcp takes it off again for clients of
/// an older revision.
trait Completed {
    fn completed(self) -> Self;
}

macro_rules! completed {
    ($($result:ty),*) => {$(
        impl Completed for $result {
            fn completed(mut self) -> Self {
                self.result_type.get_or_insert(ResultType::COMPLETE);
                self
            }
        }
    )*};
}

completed!(
    CallToolResult,
    GetPromptResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ReadResourceResult,
    CompleteResult
);

impl Completed for GetPromptResponse {
    fn completed(self) -> Self {
        match self {
            GetPromptResponse::Complete(result) => GetPromptResponse::Complete(result.completed()),
            other => other,
        }
    }
}

impl Completed for ReadResourceResponse {
    fn completed(self) -> Self {
        match self {
            ReadResourceResponse::Complete(result) => {
                ReadResourceResponse::Complete(result.completed())
            }
            other => other,
        }
    }
}

impl Completed for CallToolResponse {
    fn completed(self) -> Self {
        match self {
            CallToolResponse::Complete(result) => CallToolResponse::Complete(result.completed()),
            other => other,
        }
    }
}

/// How a request passed on to one server ended, as an MCP error for the caller: the
/// server's own error as it sent it, or what went wrong in words (no host, no credential).
fn outcome<T>(
    name: &str,
    answer: Result<Result<T, rmcp::ServiceError>, tokio::time::error::Elapsed>,
) -> Result<T, ErrorData> {
    match answer {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(rmcp::ServiceError::McpError(error))) => Err(error),
        Ok(Err(_)) => Err(ErrorData::internal_error(
            format!("the shared MCP server {name} failed"),
            None,
        )),
        Err(_) => Err(ErrorData::internal_error(
            format!("the shared MCP server {name} did not answer in time"),
            None,
        )),
    }
}

impl Relay {
    /// The one server of `/mcp/{server}` that `asker` may use now.
    async fn one(&self, asker: &Asker) -> Result<Arc<ServerRow>, ErrorData> {
        let rows = self.usable(&asker.principal, &asker.scope).await?;
        rows.into_iter()
            .next()
            .ok_or_else(|| ErrorData::invalid_request("no such server", None))
    }

    /// Asks `row`'s server, for `caller`, under that server's deadline (opening its session
    /// has a deadline of its own, as for a call): its answer, or why there is none.
    async fn ask<T, Asking>(
        &self,
        row: &ServerRow,
        caller: &Caller,
        ask: impl FnOnce(rmcp::Peer<rmcp::RoleClient>) -> Asking,
    ) -> Result<T, ErrorData>
    where
        Asking: std::future::Future<Output = Result<T, rmcp::ServiceError>>,
    {
        let spec = self.spec_for(row, caller)?;
        let peer = self
            .state
            .mcp_pool
            .peer(&spec)
            .await
            .map_err(|f| unanswered(&row.name, &f))?;
        outcome(
            &row.name,
            tokio::time::timeout(spec.timeout, ask(peer)).await,
        )
    }

    /// Passes one request on to `row`'s server for `asker` ([`Relay::ask`]), its result
    /// marked complete.
    async fn pass_on<T, Asking>(
        &self,
        row: &ServerRow,
        asker: &Asker,
        ask: impl FnOnce(rmcp::Peer<rmcp::RoleClient>) -> Asking,
    ) -> Result<T, ErrorData>
    where
        T: Completed,
        Asking: std::future::Future<Output = Result<T, rmcp::ServiceError>>,
    {
        let answer = self.ask(row, &asker.caller, ask).await;
        answer.map(Completed::completed)
    }

    /// Passes one request on to the server of `/mcp/{server}` (see [`Relay::pass_on`]).
    async fn pass_on_to_one<T, Asking>(
        &self,
        asker: &Asker,
        ask: impl FnOnce(rmcp::Peer<rmcp::RoleClient>) -> Asking,
    ) -> Result<T, ErrorData>
    where
        T: Completed,
        Asking: std::future::Future<Output = Result<T, rmcp::ServiceError>>,
    {
        let row = self.one(asker).await?;
        self.pass_on(&row, asker, ask).await
    }
}

/// The refusal of a request that only `/mcp/{server}` serves.
fn only_on_one(what: &str) -> ErrorData {
    ErrorData::invalid_params(format!("{what} are served at /mcp/{{server}}"), None)
}

/// What a server offers that Hearth relays at `/mcp/{server}`: tools, prompts, resources and
/// completions (without subscriptions or list-change notices, which a shared session cannot
/// route).
fn relayed_capabilities(upstream: &ServerCapabilities) -> ServerCapabilities {
    let mut relayed = ServerCapabilities::default();
    relayed.tools = upstream.tools.as_ref().map(|_| Default::default());
    relayed.prompts = upstream.prompts.as_ref().map(|_| Default::default());
    relayed.resources = upstream.resources.as_ref().map(|_| Default::default());
    relayed.completions = upstream.completions.clone();
    relayed
}

impl Relay {
    /// The capabilities this path advertises: on `/mcp/{server}`, what that server offers
    /// and Hearth relays (asked of the server, at most 5 s; all of it when the server does
    /// not answer, and its calls then say why); on `/mcp`, tools, prompts and resources,
    /// merged (not completions).
    async fn capabilities(&self, ctx: &RequestContext<RoleServer>) -> ServerCapabilities {
        let Ok(asker) = Asker::of(ctx) else {
            return self.get_info().capabilities;
        };
        if let Scope::All = asker.scope {
            return ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build();
        }
        let peer = async {
            let row = self.one(&asker).await.ok()?;
            let spec = self.spec_for(&row, &asker.caller).ok()?;
            self.state.mcp_pool.peer(&spec).await.ok()
        };
        let asked = tokio::time::timeout(std::time::Duration::from_secs(5), peer).await;
        match asked.ok().flatten().and_then(|peer| peer.peer_info()) {
            Some(info) => relayed_capabilities(&info.capabilities),
            None => self.get_info().capabilities,
        }
    }
}

impl Relay {
    /// The tools `asker` may use on this path: one server's under their own names, or every
    /// server's prefixed, with how each server's listing went.
    async fn list(&self, asker: &Asker) -> Result<ListToolsResult, ErrorData> {
        Ok(self.listing(asker).await?.result.clone())
    }

    /// What [`Relay::list`] answers, and what each name in it stands for: kept, and made
    /// again only from what changed (see [`listing`]).
    async fn listing(&self, asker: &Asker) -> Result<Arc<Listing>, ErrorData> {
        let rows = self.usable(&asker.principal, &asker.scope).await?;
        let every = matches!(asker.scope, Scope::All);
        let asked = futures_util::future::join_all(rows.into_iter().map(|row| async move {
            let listed = match self.spec_for(&row, &asker.caller) {
                Ok(spec) => self.listed(&row, &spec).await,
                Err(e) => Err(e),
            };
            (row, listed)
        }))
        .await;
        let mut from = Vec::with_capacity(asked.len());
        let mut failed = Vec::new();
        for (row, listed) in asked {
            match listed {
                Ok(tools) => from.push((row, tools)),
                Err(error) if every => failed.push((row, error)),
                // One server's path answers its failure.
                Err(error) => return Err(error),
            }
        }
        if failed.is_empty() {
            if let Some(kept) = self.state.gateway_listings.find(every, &from) {
                return Ok(kept);
            }
        }
        let mut pairs = Vec::new();
        let mut offered = Vec::new();
        for (row, tools) in &from {
            for tool in row.offer(tools) {
                pairs.push((row.name.clone(), tool.name.to_string()));
                offered.push((row.clone(), tool));
            }
        }
        let mut names = HashMap::with_capacity(offered.len());
        let mut tools = Vec::with_capacity(offered.len());
        if every {
            for (named, (row, mut tool)) in app::chat::tool_names::assign(&pairs)
                .into_iter()
                .zip(offered)
            {
                tool.name = named.name.clone().into();
                names.insert(named.name, (row, named.tool));
                tools.push(tool);
            }
        } else {
            for (row, tool) in offered {
                names.insert(tool.name.to_string(), (row, tool.name.to_string()));
                tools.push(tool);
            }
        }
        let mut result = ListToolsResult::with_all_items(tools);
        if every {
            // A server that fails is left out, and said so; the others are listed.
            result.meta = Some(servers_meta(
                from.iter().map(|(row, _)| row.name.as_str()),
                &failed,
            ));
        }
        let made = Arc::new(Listing::new(from, every, result, names));
        if failed.is_empty() {
            self.state.gateway_listings.keep(made.clone());
        }
        Ok(made)
    }

    /// Calls the tool `request` names, if `asker` may use it now; `downstream`, when the
    /// client asked for progress, gets it.
    async fn call(
        &self,
        asker: &Asker,
        request: CallToolRequestParams,
        downstream: Option<Downstream>,
        cancelled: CancellationToken,
    ) -> Result<Called, ErrorData> {
        let started = Instant::now();
        let Asker {
            principal,
            scope,
            caller,
        } = asker;
        // Which server and tool the name stands for, among those the caller may use now.
        let listing = match scope {
            Scope::One(_) => Some(self.listing(asker).await?),
            // A server that fails to list leaves the others' tools callable.
            Scope::All => self.listing(asker).await.ok(),
        };
        let target = listing
            .as_ref()
            .and_then(|l| l.names.get(request.name.as_ref()))
            .map(|(row, tool)| (row, tool.clone()));
        let audit = |server: &str, tool: &str, outcome: &str, status: u16| {
            let mut record = Record::action(
                super::shared::MCP_TOOL_CALL,
                principal,
                format!("mcp_tool:{server}/{} {outcome}", Echo(tool)),
                status,
            );
            record.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            self.state.audit.record(record);
        };
        let Some((row, tool)) = target else {
            audit("-", &request.name, "refused", 404);
            return Err(ErrorData::invalid_params(
                format!("no tool named {} that you may use", Echo(&request.name)),
                None,
            ));
        };
        let spec = self.spec_for(row, caller)?;
        let mut upstream = request;
        upstream.name = tool.clone().into();

        match self
            .state
            .mcp_pool
            .relay_call(&spec, upstream, downstream, cancelled)
            .await
        {
            Ok(Ok(called)) => {
                let outcome = if called.is_error() {
                    "tool_error"
                } else {
                    "ok"
                };
                audit(&row.name, &tool, outcome, 200);
                Ok(called)
            }
            Ok(Err(error)) => {
                audit(&row.name, &tool, "tool_error", 200);
                Err(error)
            }
            Err(failure) => {
                audit(&row.name, &tool, "upstream_error", 502);
                Ok(Called::Read(CallToolResponse::Complete(
                    CallToolResult::error(vec![rmcp::model::ContentBlock::text(format!(
                        "the shared MCP server {} failed ({})",
                        row.name,
                        failure.state.as_str()
                    ))]),
                )))
            }
        }
    }
}

impl ServerHandler for Relay {
    /// Everything Hearth can relay (rmcp refuses methods outside it); `initialize` and
    /// `server/discover` answer what the path really offers.
    fn get_info(&self) -> ServerConfig {
        let mut capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .build();
        capabilities.completions = Some(Default::default());
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("hearth", env!("CARGO_PKG_VERSION")))
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        ctx.peer.set_peer_info(request.clone());
        let mut info = self.negotiate_initialize(&request)?;
        info.capabilities = self.capabilities(&ctx).await;
        Ok(info)
    }

    async fn discover(&self, ctx: RequestContext<RoleServer>) -> Result<DiscoverResult, ErrorData> {
        let mut info = self.get_info();
        info.capabilities = self.capabilities(&ctx).await;
        Ok(DiscoverResult::from_server_info(
            self.supported_protocol_versions().into_owned(),
            info,
        ))
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let asker = Asker::of(&ctx)?;
        if let Scope::All = asker.scope {
            return Err(only_on_one("completions"));
        }
        self.pass_on_to_one(&asker, |peer| async move { peer.complete(request).await })
            .await
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let asker = Asker::of(&ctx)?;
        if let Scope::All = asker.scope {
            return self.merged_prompts(&asker).await;
        }
        self.pass_on_to_one(
            &asker,
            |peer| async move { peer.list_prompts(request).await },
        )
        .await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let asker = Asker::of(&ctx)?;
        if let Scope::All = asker.scope {
            return self.merged_prompt(&asker, request).await;
        }
        self.pass_on_to_one(
            &asker,
            |peer| async move { peer.get_prompt_once(request).await },
        )
        .await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let asker = Asker::of(&ctx)?;
        if let Scope::All = asker.scope {
            return self.merged_resources(&asker).await;
        }
        self.pass_on_to_one(
            &asker,
            |peer| async move { peer.list_resources(request).await },
        )
        .await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let asker = Asker::of(&ctx)?;
        if let Scope::All = asker.scope {
            return self.merged_templates(&asker).await;
        }
        self.pass_on_to_one(&asker, |peer| async move {
            peer.list_resource_templates(request).await
        })
        .await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let asker = Asker::of(&ctx)?;
        if let Scope::All = asker.scope {
            return self.merged_read(&asker, request).await;
        }
        self.pass_on_to_one(&asker, |peer| async move {
            peer.read_resource_once(request).await
        })
        .await
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.list(&Asker::of(&ctx)?).await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let downstream = ctx.meta.get_progress_token().map(|token| Downstream {
            to: ProgressTo::Peer(ctx.peer.clone()),
            token,
        });
        let asker = Asker::of(&ctx)?;
        let called = self
            .call(&asker, request, downstream, ctx.ct.clone())
            .await?;
        called.read().map(Completed::completed)
    }
}

/// The `Origin` values `/mcp` answers when a request carries one (clients outside a browser
/// send none): Hearth's own addresses, as for `Host`. Any port on a loopback name when the
/// port is not known (`--port 0`).
pub fn allowed_origins(config: &crate::config::Config) -> Vec<String> {
    let port = match config.addr.port() {
        0 => "*".to_owned(),
        port => port.to_string(),
    };
    allowed_hosts(config)
        .into_iter()
        .map(|host| match host.contains(':') {
            true => format!("http://[{host}]:{port}"),
            false => format!("http://{host}:{port}"),
        })
        .collect()
}

/// The `Host` values `/mcp` answers (rmcp checks them, against DNS rebinding): on a loopback
/// bind the loopback names; on a specific address, that address too. A bind on every
/// interface cannot know its names, and checks none.
pub fn allowed_hosts(config: &crate::config::Config) -> Vec<String> {
    let ip = config.addr.ip();
    if ip.is_unspecified() {
        return Vec::new();
    }
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if !ip.is_loopback() {
        hosts.push(ip.to_string());
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::{AuthMethod, Role};

    fn principal(user_id: Option<i64>, key: Option<&str>) -> Principal {
        Principal {
            name: "ana".into(),
            role: Role::Member,
            user_id,
            auth: if user_id.is_some() {
                AuthMethod::ApiKey
            } else {
                AuthMethod::MasterKey
            },
            key_id: None,
            channel: crate::auth::Channel::Header,
            llms: None,
            mcp_servers: None,
            key_expires_at: None,
            key_hash_prefix: key.map(str::to_owned),
        }
    }

    #[test]
    fn a_session_owner_is_the_principal_and_key_that_opened_it() {
        let callers = [
            principal(Some(1), Some("ab12")),
            principal(Some(1), Some("cd34")),
            principal(Some(1), None),
            principal(Some(11), Some("ab12")),
            principal(None, Some("ab12")),
            principal(None, None),
        ];
        for (i, opener) in callers.iter().enumerate() {
            let owner = SessionOwner::of(opener);
            for (j, caller) in callers.iter().enumerate() {
                assert_eq!(owner.is(caller), i == j, "{owner:?} asked by {j}");
            }
        }
    }
}
