//! One live upstream session per (server, credential), opened once and shared by every call.
//!
//! - Opening is single-flight: callers wait on the entry's lock while one of them connects.
//! - A call holds the lock only to take the session's peer, so calls run side by side, each
//!   one upstream request (rmcp re-opens an expired HTTP session by itself, once).
//! - The tool list is kept until the server says it changed (`list_changed`), the entry is
//!   re-opened, or [`TOOLS_TTL`] passes.
//! - HTTP sessions idle for [`IDLE`] are closed. A `stdio` child stays up, watched: if it
//!   exits it is started again, after a pause that doubles on each failure up to a minute.
//! - A registry edit ([`Pool::forget`]) and shutdown ([`Pool::shutdown`]) close sessions and
//!   stop children.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult,
    CancelledNotificationParam, ClientRequest, ErrorData, JsonObject, NumberOrString,
    ProgressToken, RequestId, RequestMetaObject, ServerResult, Tool,
};
use rmcp::service::PeerRequestOptions;
use tokio::sync::Mutex as AsyncMutex;
use tokio_util::sync::CancellationToken;

use crate::cors_proxy::policy::Caller;

use super::posting::{Answer, Observed, PlainResult, Posting};
use super::{connect, Downstream, Failure, Listener, Session, Spec, StderrTail, Target};

/// How long a tool list is trusted without the server saying it changed.
const TOOLS_TTL: Duration = Duration::from_secs(300);
/// HTTP sessions unused this long are closed.
const IDLE: Duration = Duration::from_secs(600);
/// How often idle sessions are looked for, and a `stdio` child checked.
const REAP_EVERY: Duration = Duration::from_secs(60);
const WATCH_EVERY: Duration = Duration::from_millis(500);
/// Sessions a server given its callers' tokens keeps at most, one per caller: past it, the
/// one used least lately (and not in use) is closed to make room, so that a caller sending
/// ever new tokens cannot open upstream sessions without bound. A caller whose session went
/// gets a new one when it comes back.
const MAX_CALLERS_PER_SERVER: usize = 256;
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// An upstream request still waited for: cancelled upstream if it is dropped unanswered.
struct Pending {
    peer: rmcp::Peer<rmcp::RoleClient>,
    id: Option<rmcp::model::RequestId>,
}

/// What a server answered a `tools/call` with.
pub enum Called {
    /// A tool's plain result, as the server wrote it (most calls end so).
    Plain(PlainResult),
    /// Any other result, in rmcp's types.
    Read(CallToolResponse),
}

impl Called {
    /// Whether the server said the tool failed.
    pub fn is_error(&self) -> bool {
        match self {
            Called::Plain(plain) => plain.is_error(),
            Called::Read(CallToolResponse::Complete(result)) => result.is_error == Some(true),
            Called::Read(_) => false,
        }
    }

    /// The answer in rmcp's types, for rmcp to answer with.
    pub fn read(self) -> Result<CallToolResponse, ErrorData> {
        match self {
            Called::Plain(plain) => plain.read().map(CallToolResponse::Complete).map_err(|e| {
                ErrorData::internal_error(format!("the server's result is not a tool's: {e}"), None)
            }),
            Called::Read(response) => Ok(response),
        }
    }
}

/// A server's answer to `tools/call`, as the call's outcome.
fn call_answer(
    result: ServerResult,
    what: &dyn std::fmt::Display,
) -> Result<Result<Called, ErrorData>, Failure> {
    let read = |response| Ok(Ok(Called::Read(response)));
    match result {
        ServerResult::CallToolResult(result) => read(CallToolResponse::Complete(result)),
        ServerResult::InputRequiredResult(result) => read(CallToolResponse::InputRequired(result)),
        ServerResult::CreateTaskResult(result) => read(CallToolResponse::Task(result)),
        _ => Err(Failure::new(
            app::api::ServerState::Error,
            format!("the server answered {what} with something else"),
        )),
    }
}

/// "tools/call <name>", for what a failing call says.
struct CallOf<'a>(&'a str);

impl std::fmt::Display for CallOf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tools/call {}", self.0)
    }
}

/// Forgets a call's progress route when dropped.
struct Unroute<'a>(&'a Listener, Option<&'a ProgressToken>);

impl Drop for Unroute<'_> {
    fn drop(&mut self) {
        if let Some(token) = self.1 {
            self.0.unroute(token);
        }
    }
}

/// A call posted straight into a session (see `posting`).
struct Posted<'a> {
    spec: &'a Spec,
    posting: &'a Posting,
    /// The session as rmcp holds it, which tells the server of a call cut short.
    peer: &'a rmcp::Peer<rmcp::RoleClient>,
    listener: &'a Listener,
}

impl Posted<'_> {
    /// How the call ended; `None` when the server no longer knows the session.
    async fn call(
        &self,
        posted: &AtomicU64,
        params: &mut CallToolRequestParams,
        downstream: Option<&Downstream>,
        cancelled: &CancellationToken,
    ) -> Option<Result<Result<Called, ErrorData>, Failure>> {
        let n = posted.fetch_add(1, Ordering::Relaxed);
        // Ids of Hearth's own, which rmcp's (numbers) never are.
        let id = RequestId::String(format!("hearth-{n}").into());
        let token =
            downstream.map(|_| ProgressToken(NumberOrString::String(format!("hearth-{n}").into())));
        // The params carry the call's progress token while they are written, and no `_meta`
        // after (rmcp, should the call go its way, stamps its own).
        params.meta = token.clone().map(RequestMetaObject::with_progress_token);
        let body = super::posting::request_body(&id, "tools/call", &*params);
        params.meta = None;
        // Written out only if the call fails.
        let what = &CallOf(&params.name);
        let body = match body {
            Ok(body) => body,
            Err(e) => {
                return Some(Err(Failure::new(
                    app::api::ServerState::Error,
                    format!("the call could not be written: {e}"),
                )))
            }
        };
        let mut pending = Pending {
            peer: self.peer.clone(),
            id: Some(id.clone()),
        };
        let progress = token.as_ref().zip(downstream);
        // The server may send the call's progress on the session's own stream, which rmcp
        // reads, as well as on the call's.
        if let Some((token, downstream)) = progress {
            self.listener.route(token.clone(), downstream.clone());
        }
        let _unroute = Unroute(self.listener, token.as_ref());
        // The call's future is made where it is awaited: bound to a name first, it would be
        // kept twice in this one's state.
        let answer = tokio::select! {
            answer = tokio::time::timeout(
                self.spec.timeout,
                super::posting::call(self.posting, body, &id, progress, self.listener),
            ) => answer,
            () = cancelled.cancelled() => {
                return Some(Err(Failure::new(
                    app::api::ServerState::Error,
                    "the client cancelled the call",
                )))
            }
        };
        let Ok(answer) = answer else {
            return Some(Err(Failure::timed_out(what, self.spec.timeout)));
        };
        pending.id = None;
        match answer {
            Ok(Answer::Expired) => None,
            Ok(Answer::Plain(plain)) => Some(Ok(Ok(Called::Plain(plain)))),
            Ok(Answer::Given(Ok(result))) => Some(call_answer(result, what)),
            Ok(Answer::Given(Err(error))) => Some(Ok(Err(error))),
            Err(e) => Some(Err(super::classify(self.spec, &*e))),
        }
    }
}

/// A call through rmcp's own session: for a server without a posting, or a session the
/// server no longer knows.
struct Through<'a> {
    spec: &'a Spec,
    entry: &'a Entry,
    peer: &'a rmcp::Peer<rmcp::RoleClient>,
    listener: &'a Listener,
}

impl Through<'_> {
    async fn call(
        &self,
        params: CallToolRequestParams,
        downstream: Option<Downstream>,
        cancelled: CancellationToken,
    ) -> Result<Result<Called, ErrorData>, Failure> {
        let Through {
            spec,
            entry,
            peer,
            listener,
        } = *self;
        let what = format!("tools/call {}", params.name);
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let handle = match peer
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await
        {
            Ok(handle) => handle,
            Err(e) => return Err(super::classify(spec, &e)),
        };
        let mut pending = Pending {
            peer: peer.clone(),
            id: Some(handle.id.clone()),
        };
        let token = handle.progress_token.clone();
        if let Some(downstream) = downstream {
            listener.route(token.clone(), downstream);
        }
        let answer = tokio::select! {
            answer = tokio::time::timeout(spec.timeout, handle.await_response()) => Some(answer),
            () = cancelled.cancelled() => None,
        };
        listener.unroute(&token);
        let answer = match answer {
            Some(Ok(answer)) => answer,
            Some(Err(_)) => return Err(Failure::timed_out(&what, spec.timeout)),
            None => {
                return Err(Failure::new(
                    app::api::ServerState::Error,
                    "the client cancelled the call",
                ))
            }
        };
        pending.id = None;
        match answer {
            Ok(result) => call_answer(result, &what),
            Err(rmcp::ServiceError::McpError(error)) => Ok(Err(error)),
            Err(e) => {
                let failure = super::classify(spec, &e);
                drop_if_closed(&mut *entry.slot.lock().await);
                Err(failure)
            }
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        let peer = self.peer.clone();
        tokio::spawn(async move {
            let _ = peer
                .notify_cancelled(CancelledNotificationParam::new(
                    Some(id),
                    Some("the call was cut short".into()),
                ))
                .await;
        });
    }
}

/// Whose credential a session carries: the server's own (`None`), or a caller's token
/// (its fingerprint) for servers that forward it.
type Key = (String, Option<String>);

#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    /// HTTP upstreams are reached through the CORS proxy's client for admins: the same
    /// address policy (metadata and link-local never; loopback and private ranges on a
    /// public bind only when allow-listed).
    http: crate::cors_proxy::Upstream,
    entries: Mutex<HashMap<Key, Arc<Entry>>>,
    /// Upstream sessions opened so far (for figures and tests).
    opened: AtomicU64,
    /// Calls posted straight into sessions so far (their request ids).
    posted: AtomicU64,
    reaper: std::sync::OnceLock<()>,
}

struct Entry {
    spec: Spec,
    slot: AsyncMutex<Slot>,
    last_used: Mutex<Instant>,
}

#[derive(Default)]
struct Slot {
    session: Option<Session>,
    tools: Option<(Arc<Vec<Tool>>, Instant)>,
    /// The last failure to open, kept for a `stdio` child's backoff.
    failures: u32,
    /// The last stderr lines of a `stdio` child, kept across restarts.
    stderr: Option<StderrTail>,
}

/// A server's tools, and how long the list took (zero when it came from the pool).
pub struct Tools {
    pub tools: Arc<Vec<Tool>>,
    pub latency: Duration,
}

impl Pool {
    pub fn new(http: crate::cors_proxy::Upstream) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                http,
                entries: Mutex::default(),
                opened: AtomicU64::new(0),
                posted: AtomicU64::new(0),
                reaper: std::sync::OnceLock::new(),
            }),
        }
    }

    fn entry(&self, spec: &Spec) -> Arc<Entry> {
        self.start_reaper();
        let key = (spec.name.clone(), spec.scope.clone());
        let mut entries = self
            .inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = entries.get(&key).filter(|e| e.spec == *spec) {
            *entry
                .last_used
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Instant::now();
            return entry.clone();
        }
        // New, or configured differently since: the old entry (if any) goes with its session.
        let entry = Arc::new(Entry {
            spec: spec.clone(),
            slot: AsyncMutex::new(Slot::default()),
            last_used: Mutex::new(Instant::now()),
        });
        if spec.scope.is_some() && !entries.contains_key(&key) {
            if let Some(room) = least_lately_used(&entries, &spec.name) {
                if let Some(old) = entries.remove(&room) {
                    tokio::spawn(close(old));
                }
            }
        }
        if let Some(old) = entries.insert(key, entry.clone()) {
            tokio::spawn(close(old));
        }
        if matches!(spec.target, Target::Stdio { .. }) {
            tokio::spawn(watch(Arc::downgrade(&entry), self.clone()));
        }
        entry
    }

    /// The HTTP client upstreams are reached with (the address policy applied).
    pub fn http(&self) -> reqwest::Client {
        self.inner.http.client(Caller::Trusted)
    }

    /// The configurations the pool holds sessions for.
    pub fn specs(&self) -> Vec<Spec> {
        let entries = self
            .inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        entries.values().map(|e| e.spec.clone()).collect()
    }

    /// Upstream sessions opened since start.
    pub fn opened(&self) -> u64 {
        self.inner.opened.load(Ordering::Relaxed)
    }

    /// The tools `spec`'s server offers: from the pool when known, else asked (opening a
    /// session first if there is none). `refresh` asks the server again.
    pub async fn tools(&self, spec: &Spec, refresh: bool) -> Result<Tools, Failure> {
        let entry = self.entry(spec);
        let started = Instant::now();
        let mut slot = entry.slot.lock().await;
        self.ensure_open(&entry, &mut slot).await?;
        let session = slot.session.as_ref().expect("just opened");
        let changed = session.listener.take_tools_changed();
        if let Some((tools, at)) = &slot.tools {
            if !refresh && !changed && at.elapsed() < TOOLS_TTL {
                return Ok(Tools {
                    tools: tools.clone(),
                    latency: Duration::ZERO,
                });
            }
        }
        let listing = tokio::time::timeout(spec.timeout, session.peer().list_all_tools()).await;
        let tools = match listing {
            Ok(Ok(tools)) => Arc::new(tools),
            Ok(Err(e)) => {
                let failure = super::classify(spec, &e);
                drop_if_closed(&mut slot);
                return Err(failure);
            }
            Err(_) => return Err(Failure::timed_out("tools/list", spec.timeout)),
        };
        slot.tools = Some((tools.clone(), Instant::now()));
        Ok(Tools {
            tools,
            latency: started.elapsed(),
        })
    }

    /// A handle on `spec`'s live session (opened first if there is none), for requests the
    /// pool passes on as they are (prompts, resources). Each is one upstream request.
    pub async fn peer(&self, spec: &Spec) -> Result<rmcp::Peer<rmcp::RoleClient>, Failure> {
        let entry = self.entry(spec);
        let mut slot = entry.slot.lock().await;
        self.ensure_open(&entry, &mut slot).await?;
        Ok(slot.session.as_ref().expect("just opened").peer().clone())
    }

    /// Calls tool `name` of `spec`'s server: one upstream request, under its deadline (a call
    /// cut by the deadline is cancelled upstream).
    pub async fn call(
        &self,
        spec: &Spec,
        name: &str,
        arguments: Option<JsonObject>,
    ) -> Result<CallToolResult, Failure> {
        let entry = self.entry(spec);
        let peer = {
            let mut slot = entry.slot.lock().await;
            self.ensure_open(&entry, &mut slot).await?;
            slot.session.as_ref().expect("just opened").peer().clone()
        };
        let mut params = CallToolRequestParams::new(name.to_owned());
        params.arguments = arguments;
        match tokio::time::timeout(spec.timeout, peer.call_tool(params)).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => {
                let failure = super::classify(spec, &e);
                drop_if_closed(&mut *entry.slot.lock().await);
                Err(failure)
            }
            Err(_) => Err(Failure::timed_out(CallOf(name), spec.timeout)),
        }
    }

    /// Relays one MCP client's `tools/call` to `spec`'s server as it was asked (MRTR
    /// replies and retries pass untouched): the upstream's progress goes to `downstream`, and
    /// the upstream request is cancelled when the deadline passes, `cancelled` fires (the
    /// client cancelled) or the caller stops waiting. The inner error is the server's own.
    pub async fn relay_call(
        &self,
        spec: &Spec,
        mut params: CallToolRequestParams,
        downstream: Option<Downstream>,
        cancelled: CancellationToken,
    ) -> Result<Result<Called, ErrorData>, Failure> {
        let entry = self.entry(spec);
        let (peer, listener, posting) = {
            let mut slot = entry.slot.lock().await;
            self.ensure_open(&entry, &mut slot).await?;
            let session = slot.session.as_ref().expect("just opened");
            let posting = session.observed.as_ref().and_then(Observed::posting);
            (session.peer().clone(), session.listener.clone(), posting)
        };
        // The client's own `_meta` (its protocol fields, its progress token) is not the
        // upstream session's; rmcp stamps that session's own.
        params.meta = None;
        if let Some(posting) = posting {
            let call = Posted {
                spec,
                posting: &posting,
                peer: &peer,
                listener: &listener,
            };
            let answered = call
                .call(
                    &self.inner.posted,
                    &mut params,
                    downstream.as_ref(),
                    &cancelled,
                )
                .await;
            // Else the server no longer knows the session: rmcp opens another.
            if let Some(answered) = answered {
                return answered;
            }
        }
        // The way through rmcp (a server without a posting, or a session it no longer
        // knows) is boxed, as opening is: most calls never take it.
        let through = Through {
            spec,
            entry: &entry,
            peer: &peer,
            listener: &listener,
        };
        Box::pin(through.call(params, downstream, cancelled)).await
    }

    /// The last stderr lines of `name`'s child, when it is a `stdio` server Hearth started.
    pub async fn stderr(&self, name: &str) -> Vec<String> {
        let entry = {
            let entries = self
                .inner
                .entries
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            entries.get(&(name.to_owned(), None)).cloned()
        };
        match entry {
            Some(entry) => entry
                .slot
                .lock()
                .await
                .stderr
                .as_ref()
                .map(StderrTail::lines)
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    async fn ensure_open(&self, entry: &Entry, slot: &mut Slot) -> Result<(), Failure> {
        drop_if_closed(slot);
        if slot.session.is_some() {
            return Ok(());
        }
        // Opening is rare and its future large: boxed, so that it is no part of the state
        // every call carries.
        Box::pin(self.open(entry, slot)).await
    }

    async fn open(&self, entry: &Entry, slot: &mut Slot) -> Result<(), Failure> {
        match connect(&entry.spec, &self.inner.http).await {
            Ok(session) => {
                self.inner.opened.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(server = %entry.spec.name, "upstream MCP session opened");
                slot.stderr = session.stderr.clone().or(slot.stderr.take());
                slot.session = Some(session);
                slot.tools = None;
                slot.failures = 0;
                Ok(())
            }
            Err(failure) => {
                slot.failures = slot.failures.saturating_add(1);
                Err(failure)
            }
        }
    }

    /// Closes the sessions of server `name` (it was edited or deleted) and stops its child.
    pub async fn forget(&self, name: &str) {
        let gone: Vec<Arc<Entry>> = {
            let mut entries = self
                .inner
                .entries
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let keys: Vec<Key> = entries.keys().filter(|k| k.0 == name).cloned().collect();
            keys.iter().filter_map(|k| entries.remove(k)).collect()
        };
        for entry in gone {
            close(entry).await;
        }
    }

    /// Closes every session and stops every child, waiting for them (at most 10 s).
    pub async fn shutdown(&self) {
        let all: Vec<Arc<Entry>> = {
            let mut entries = self
                .inner
                .entries
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            entries.drain().map(|(_, e)| e).collect()
        };
        if all.is_empty() {
            return;
        }
        let closing = futures_util::future::join_all(all.into_iter().map(close));
        if tokio::time::timeout(Duration::from_secs(10), closing)
            .await
            .is_err()
        {
            tracing::warn!("some MCP servers did not stop within 10 s");
        }
    }

    fn start_reaper(&self) {
        self.inner.reaper.get_or_init(|| {
            let pool = Arc::downgrade(&self.inner);
            tokio::spawn(reap(pool));
        });
    }
}

/// The caller's entry of server `name` to close before another caller's is added, when the
/// server has [`MAX_CALLERS_PER_SERVER`] already: the one used least lately among those no
/// call holds. None while there is room (or every one is in use: calls in flight are bounded
/// by the connections Hearth takes).
fn least_lately_used(entries: &HashMap<Key, Arc<Entry>>, name: &str) -> Option<Key> {
    let callers = || {
        entries
            .iter()
            .filter(|((server, scope), _)| server == name && scope.is_some())
    };
    if callers().count() < MAX_CALLERS_PER_SERVER {
        return None;
    }
    callers()
        .filter(|(_, entry)| Arc::strong_count(entry) == 1)
        .min_by_key(|(_, entry)| {
            *entry
                .last_used
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        })
        .map(|(key, _)| key.clone())
}

/// A session that ended (a child that exited, a transport that closed) is dropped, so the
/// next use opens a new one.
fn drop_if_closed(slot: &mut Slot) {
    if slot.session.as_ref().is_some_and(Session::is_closed) {
        slot.session = None;
        slot.tools = None;
    }
}

async fn close(entry: Arc<Entry>) {
    let session = entry.slot.lock().await.session.take();
    if let Some(session) = session {
        session.close().await;
    }
}

/// Closes HTTP sessions nobody used for [`IDLE`], until the pool is gone.
async fn reap(pool: Weak<Inner>) {
    loop {
        tokio::time::sleep(REAP_EVERY).await;
        let Some(inner) = pool.upgrade() else { return };
        let idle: Vec<Arc<Entry>> = {
            let mut entries = inner.entries.lock().unwrap_or_else(PoisonError::into_inner);
            let keys: Vec<Key> = entries
                .iter()
                .filter(|(_, e)| {
                    !matches!(e.spec.target, Target::Stdio { .. })
                        && e.last_used
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .elapsed()
                            > IDLE
                })
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| entries.remove(k)).collect()
        };
        for entry in idle {
            close(entry).await;
        }
    }
}

/// Keeps a `stdio` child up while its entry is in the pool: one that exits is started again,
/// after a pause that doubles with each failure in a row.
async fn watch(entry: Weak<Entry>, pool: Pool) {
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Some(entry) = entry.upgrade() else { return };
        let mut slot = entry.slot.lock().await;
        let exited = slot.session.as_ref().is_some_and(Session::is_closed);
        let never_up = slot.session.is_none() && slot.failures > 0;
        if !exited && !never_up {
            continue;
        }
        if exited {
            tracing::warn!(server = %entry.spec.name, "an MCP server's process exited; starting it again");
            drop_if_closed(&mut slot);
        }
        let pause = backoff(slot.failures);
        drop(slot);
        tokio::time::sleep(pause).await;
        let mut slot = entry.slot.lock().await;
        if slot.session.is_none() {
            if let Err(failure) = pool.ensure_open(&entry, &mut slot).await {
                tracing::warn!(server = %entry.spec.name, error = %failure.message, "an MCP server's process would not start");
            }
        }
    }
}

fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(6)).min(MAX_BACKOFF)
}
