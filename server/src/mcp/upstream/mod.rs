//! Hearth's own MCP client, for the shared servers: what one server is ([`Spec`]), how a
//! session with it is opened over streamable HTTP, legacy HTTP+SSE or a child's stdio
//! ([`connect`]), and the pool that keeps one live session per server and credential
//! ([`Pool`]).
//!
//! Every failure is reduced to a [`Failure`]: a state the API reports and one sentence for
//! admins, with every secret of the server's configuration blanked out of it.

mod link;
mod pool;
mod posting;
mod sse;
mod stdio;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use app::api::{Lifecycle, ServerState, SharedTransport};
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam, ProgressToken,
    ProtocolVersion,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, NotificationContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, RoleClient};

pub use pool::{Called, Pool, Tools};

use crate::cors_proxy::policy::{Caller, Policy, Refusal};
use crate::cors_proxy::Upstream;
pub use stdio::StderrTail;

/// A shared server as Hearth connects to it: the stored configuration with its secrets open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub target: Target,
    pub lifecycle: Lifecycle,
    /// Sent with every HTTP request (the credential already made into its header).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Deadline of every upstream call, and of opening a session.
    pub timeout: Duration,
    /// Every secret value of the configuration, blanked out of anything Hearth reports.
    pub secrets: Vec<String>,
    /// Whose headers are passed on, for a server given the caller's token or headers: a
    /// fingerprint of them, so that each caller gets a session of their own.
    pub scope: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Http {
        url: String,
    },
    Sse {
        url: String,
    },
    Stdio {
        command: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
    },
}

impl Spec {
    pub fn transport(&self) -> SharedTransport {
        match self.target {
            Target::Http { .. } => SharedTransport::Http,
            Target::Sse { .. } => SharedTransport::Sse,
            Target::Stdio { .. } => SharedTransport::Stdio,
        }
    }

    /// `text` with every secret of this server replaced.
    pub fn redact(&self, text: &str) -> String {
        redact(text, &self.secrets)
    }
}

/// `text` with each of `secrets` (of at least 4 characters: shorter ones would blank common
/// words) replaced by `[redacted]`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret.as_str(), "[redacted]")
        })
}

/// Why a server could not be used: the state to report, and what happened in one sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub state: ServerState,
    pub message: String,
}

impl Failure {
    /// Whether the server refused the credential it was given as not enough (HTTP 403), not
    /// as missing or wrong (HTTP 401).
    pub fn is_forbidden(&self) -> bool {
        self.state == ServerState::AuthRequired
            && (self.message.contains("Insufficient scope") || self.message.contains("HTTP 403"))
    }

    fn new(state: ServerState, message: impl Into<String>) -> Failure {
        Failure {
            state,
            message: message.into(),
        }
    }

    pub(crate) fn timed_out(what: impl std::fmt::Display, timeout: Duration) -> Failure {
        Failure::new(
            ServerState::Unreachable,
            format!(
                "the server did not answer {what} within {} s",
                timeout.as_secs()
            ),
        )
    }
}

/// The error and its causes in one line, secrets blanked, classified: a 401 or 403 is
/// `auth_required`, a connection that could not be made `unreachable`, anything else `error`.
pub(crate) fn classify(spec: &Spec, error: &(dyn std::error::Error + 'static)) -> Failure {
    let mut parts: Vec<String> = Vec::new();
    let mut unreachable = false;
    let mut source = Some(error);
    while let Some(current) = source {
        if let Some(e) = current.downcast_ref::<reqwest::Error>() {
            unreachable |= e.is_connect() || e.is_timeout();
        }
        if let Some(e) = current.downcast_ref::<std::io::Error>() {
            unreachable |= matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            );
        }
        let text = current.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = current.source();
    }
    let message = spec.redact(&tidy(&parts.join(": ")));
    // rmcp keeps the HTTP client's error as text only: a connection that could not be made
    // is known by reqwest's words.
    unreachable |= message.contains("error sending request")
        || message.contains("Connection refused")
        || message.contains("connection closed before message completed");
    // rmcp keeps a challenged 401/403 as its own error type, and an unchallenged one as
    // "HTTP 401 …" text.
    let auth = message.contains("Auth required")
        || message.contains("Insufficient scope")
        || message.contains("HTTP 401")
        || message.contains("HTTP 403");
    let state = if auth {
        ServerState::AuthRequired
    } else if unreachable {
        ServerState::Unreachable
    } else {
        ServerState::Error
    };
    Failure::new(state, message)
}

/// rmcp's words without the Rust type names it puts in them (`Transport [rmcp::…] error:`).
fn tidy(text: &str) -> String {
    let mut out = text.replace("Send message error ", "");
    while let Some(start) = out.find("Transport [") {
        let Some(len) = out[start..].find("] ") else {
            break;
        };
        out.replace_range(start..start + len + 2, "");
    }
    out.replace("error: Client error: ", "")
}

/// Where an upstream request's progress goes: the MCP client that asked Hearth, under the
/// token it chose.
#[derive(Clone)]
pub struct Downstream {
    pub to: ProgressTo,
    pub token: ProgressToken,
}

impl Downstream {
    /// Passes a server's progress on, under the client's token.
    pub async fn pass(&self, mut progress: ProgressNotificationParam) {
        progress.progress_token = self.token.clone();
        match &self.to {
            ProgressTo::Peer(peer) => {
                let _ = peer.notify_progress(progress).await;
            }
            ProgressTo::Stream(stream) => {
                let _ = stream.send(progress).await;
            }
        }
    }
}

#[derive(Clone)]
pub enum ProgressTo {
    /// A client in one of rmcp's sessions.
    Peer(rmcp::Peer<rmcp::RoleServer>),
    /// A call the gateway answers itself, whose answer streams what it is sent.
    Stream(tokio::sync::mpsc::Sender<ProgressNotificationParam>),
}

/// The client side of one session: tells the pool when the server's tool list changed, and
/// passes progress on to whoever asked for it.
#[derive(Clone, Default)]
pub struct Listener {
    tools_changed: Arc<AtomicBool>,
    progress: Arc<Mutex<HashMap<ProgressToken, Downstream>>>,
}

impl Listener {
    /// Whether the tool list changed since the last call (and forgets that it did).
    pub fn take_tools_changed(&self) -> bool {
        self.tools_changed.swap(false, Ordering::AcqRel)
    }

    /// Sends the progress of the upstream request that carries `token` to `downstream`,
    /// until [`Listener::unroute`].
    pub fn route(&self, token: ProgressToken, downstream: Downstream) {
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token, downstream);
    }

    fn note_tools_changed(&self) {
        self.tools_changed.store(true, Ordering::Release);
    }

    pub fn unroute(&self, token: &ProgressToken) {
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(token);
    }
}

impl ClientHandler for Listener {
    fn on_tool_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl std::future::Future<Output = ()> + Send + '_ {
        self.tools_changed.store(true, Ordering::Release);
        std::future::ready(())
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let downstream = self
            .progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&params.progress_token)
            .cloned();
        if let Some(downstream) = downstream {
            downstream.pass(params).await;
        }
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("hearth", env!("CARGO_PKG_VERSION")),
        )
    }
}

/// A live session with one server. Dropping it ends the session (and stops a child).
pub struct Session {
    pub service: RunningService<RoleClient, Listener>,
    pub listener: Listener,
    /// How calls are posted into the session directly, for a streamable HTTP server.
    pub observed: Option<posting::Observed>,
    /// A `stdio` child's last stderr lines.
    pub stderr: Option<StderrTail>,
}

impl Session {
    pub fn peer(&self) -> &rmcp::Peer<RoleClient> {
        self.service.peer()
    }

    /// Whether the session ended: closed by Hearth, or its transport gone (a child that
    /// exited, a stream that broke for good).
    pub fn is_closed(&self) -> bool {
        self.service.is_closed() || self.peer().is_transport_closed()
    }

    /// The server's name and version, as it gave them.
    pub fn server_info(&self) -> Option<String> {
        let info = self.service.peer_info()?;
        let server = info.server_info.as_ref()?;
        Some(format!("{} {}", server.name, server.version))
    }

    pub fn protocol_version(&self) -> Option<String> {
        let info = self.service.peer_info()?;
        Some(info.protocol_version.to_string())
    }

    /// Ends the session: a child is asked to stop, then killed.
    pub async fn close(self) {
        let _ = self.service.cancel().await;
    }
}

fn lifecycle_mode(lifecycle: Lifecycle) -> ClientLifecycleMode {
    match lifecycle {
        Lifecycle::Legacy => ClientLifecycleMode::Initialize,
        Lifecycle::Modern => ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
        Lifecycle::Auto => ClientLifecycleMode::Auto {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            legacy_version: Some(ProtocolVersion::V_2025_11_25),
        },
    }
}

/// Opens a session with `spec`'s server, under its deadline, reached through `upstream`
/// (whose clients and connections apply its address policy).
pub async fn connect(spec: &Spec, upstream: &Upstream) -> Result<Session, Failure> {
    let listener = Listener::default();
    let opening = async {
        preflight(spec, &upstream.policy()).await?;
        open(spec, upstream, listener.clone()).await
    };
    match tokio::time::timeout(spec.timeout, opening).await {
        Ok(result) => result,
        Err(_) => Err(Failure::timed_out("the handshake", spec.timeout)),
    }
}

/// An HTTP upstream's address checked against the policy before connecting, so that a
/// refusal is reported in words (the HTTP client's resolver checks every connection again,
/// whatever the name resolves to by then).
async fn preflight(spec: &Spec, policy: &Policy) -> Result<(), Failure> {
    let (Target::Http { url } | Target::Sse { url }) = &spec.target else {
        return Ok(());
    };
    let parsed = url::Url::parse(url)
        .map_err(|e| Failure::new(ServerState::Error, format!("the url is not a URL: {e}")))?;
    let refused = |r: Refusal| Failure::new(ServerState::Unreachable, r.to_string());
    policy
        .check_url(&parsed, Caller::Trusted)
        .map_err(refused)?;
    if let Some(url::Host::Domain(name)) = parsed.host() {
        let port = parsed.port_or_known_default().unwrap_or(80);
        // A name that does not resolve is left to the connection, which says so.
        if let Ok(addrs) = tokio::net::lookup_host((name, port)).await {
            for addr in addrs {
                policy
                    .check_addr(name, addr.ip(), Caller::Trusted)
                    .map_err(refused)?;
            }
        }
    }
    Ok(())
}

async fn open(spec: &Spec, upstream: &Upstream, listener: Listener) -> Result<Session, Failure> {
    let handler = listener.clone();
    let mut observed = None;
    let (service, stderr) = match &spec.target {
        Target::Http { url } => {
            let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                .custom_headers(spec.headers.iter().cloned().collect())
                .reinit_on_expired_session(true);
            let client = posting::Observed::new(upstream);
            observed = Some(client.clone());
            let transport = StreamableHttpClientTransport::with_client(client, config);
            let service = handler
                .serve_with_lifecycle(transport, lifecycle_mode(spec.lifecycle))
                .await
                .map_err(|e| classify(spec, &e))?;
            (service, None)
        }
        Target::Sse { url } => {
            let transport = sse::connect(&upstream.client(Caller::Trusted), url, &spec.headers)
                .await
                .map_err(|e| classify(spec, e.as_ref()))?;
            // The legacy transport predates the stateless revision.
            let service = handler
                .serve_with_lifecycle(transport, ClientLifecycleMode::Initialize)
                .await
                .map_err(|e| classify(spec, &e))?;
            (service, None)
        }
        Target::Stdio { command, args, env } => {
            let (transport, stderr) =
                stdio::spawn(command, args, env, &spec.secrets).map_err(|e| {
                    let mut failure = classify(spec, &e);
                    failure.state = ServerState::Unreachable;
                    failure.message = format!("cannot start {command:?}: {}", failure.message);
                    failure
                })?;
            let service = match handler
                .serve_with_lifecycle(transport, ClientLifecycleMode::Initialize)
                .await
            {
                Ok(service) => service,
                Err(e) => {
                    let mut failure = classify(spec, &e);
                    let tail = stderr.lines();
                    if let Some(last) = tail.last() {
                        failure.message = format!("{} (its last words: {last})", failure.message);
                    }
                    return Err(failure);
                }
            };
            (service, Some(stderr))
        }
    };
    Ok(Session {
        service,
        listener,
        observed,
        stderr,
    })
}
