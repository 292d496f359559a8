//! MCP servers for Hearth to connect to, on loopback: the MCP project's "everything" and
//! "memory" servers (installed by the end-to-end suite's npm packages, run with node), a
//! stateless server on the Python SDK, and a counting server of our own that demands a
//! credential, records what it receives, and can expire its sessions. The benchmarks use
//! them too (`benches/mcp_upstream.rs`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use serde_json::{json, Value};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn package(name: &str) -> PathBuf {
    let entry = repo()
        .join("end2end/node_modules/@modelcontextprotocol")
        .join(name)
        .join("dist/index.js");
    assert!(
        entry.exists(),
        "{} is missing: `make test` installs it (end2end's npm packages)",
        entry.display()
    );
    entry
}

/// The Python interpreter that has the `openai` and `mcp` SDKs: `make test` installs them in
/// `.tools/py`.
pub fn python() -> std::path::PathBuf {
    if let Some(python) = std::env::var_os("HEARTH_TEST_PYTHON") {
        return python.into();
    }
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/py/bin/python");
    assert!(
        python.exists(),
        "{} is missing: `make test` installs the openai and mcp SDKs there (or set HEARTH_TEST_PYTHON)",
        python.display()
    );
    python
}

/// `node`, as the test machine has it.
pub fn node() -> String {
    std::env::var("HEARTH_TEST_NODE").unwrap_or_else(|_| "node".to_owned())
}

/// The registry configuration of server-everything over stdio, named `name`.
pub fn everything_stdio(name: &str) -> Value {
    json!({
        "name": name,
        "transport": "stdio",
        "command": node(),
        "args": [package("server-everything").to_str().unwrap(), "stdio"],
        "grants": {"all_members": true},
    })
}

/// The registry configuration of server-memory over stdio, its file in `dir`.
pub fn memory_stdio(name: &str, dir: &std::path::Path) -> Value {
    json!({
        "name": name,
        "transport": "stdio",
        "command": node(),
        "args": [package("server-memory").to_str().unwrap()],
        "env": [{"name": "MEMORY_FILE_PATH", "value": dir.join("memory.jsonl").to_str().unwrap()}],
        "grants": {"all_members": true},
    })
}

/// A peer process, stopped when dropped.
pub struct Peer {
    pub url: String,
    child: Child,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `command` and waits (30 s at most) for a line of its stderr holding `ready`.
fn spawn_until(mut command: Command, ready: String, url: String) -> Peer {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the peer starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(&ready) {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .expect("the peer says it is ready");
    Peer { url, child }
}

/// server-everything over streamable HTTP.
pub fn everything_http() -> Peer {
    let port = free_port();
    let mut command = Command::new(node());
    command
        .arg(package("server-everything"))
        .arg("streamableHttp")
        .env("PORT", port.to_string());
    spawn_until(
        command,
        format!("listening on port {port}"),
        format!("http://127.0.0.1:{port}/mcp"),
    )
}

/// server-everything over the legacy HTTP+SSE transport.
pub fn everything_sse() -> Peer {
    let port = free_port();
    let mut command = Command::new(node());
    command
        .arg(package("server-everything"))
        .arg("sse")
        .env("PORT", port.to_string());
    spawn_until(
        command,
        format!("running on port {port}"),
        format!("http://127.0.0.1:{port}/sse"),
    )
}

/// The Python SDK's server in stateless mode (`tests/python/stateless_mcp.py`).
pub fn python_stateless() -> Peer {
    let port = free_port();
    let mut command = Command::new(python());
    command
        .arg(repo().join("server/tests/python/stateless_mcp.py"))
        .arg(port.to_string());
    spawn_until(
        command,
        format!("127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}/mcp"),
    )
}

/// What the counting server saw.
#[derive(Default)]
pub struct Seen {
    /// `initialize` requests.
    pub handshakes: AtomicUsize,
    /// Requests by method, in order.
    pub methods: Mutex<Vec<String>>,
    /// The headers of every request.
    pub headers: Mutex<Vec<HeaderMap>>,
    /// The next request with a session gets a 404, as if the session had expired.
    pub expire_next: AtomicBool,
    /// Sessions ended by their client (`DELETE`).
    pub ended: AtomicUsize,
    sessions: AtomicUsize,
}

impl Seen {
    pub fn count(&self, method: &str) -> usize {
        self.methods
            .lock()
            .unwrap()
            .iter()
            .filter(|m| *m == method)
            .count()
    }
}

/// How the counting server wants its credential.
#[derive(Clone)]
pub struct Guard {
    /// The header it must come in, lower-case.
    pub header: &'static str,
    /// Its exact value.
    pub value: String,
    /// Whether a refusal carries `WWW-Authenticate`.
    pub challenge: bool,
}

#[derive(Clone)]
struct Counting {
    seen: Arc<Seen>,
    guard: Option<Guard>,
}

/// A streamable HTTP MCP server (2025-11-25, JSON answers, sessions) with tools `echo`,
/// `whoami` (the credential header it got), `slow` (never answers) and `flood` (a hostile
/// server's answer: [`FLOOD`] progress notices of 1 KiB in one event stream, then its
/// result). Returns its URL.
pub async fn counting(guard: Option<Guard>) -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = axum::Router::new()
        .route(
            "/mcp",
            post(counting_post)
                .get(|| async { StatusCode::METHOD_NOT_ALLOWED })
                .delete(|State(server): State<Counting>| async move {
                    server.seen.ended.fetch_add(1, Ordering::SeqCst);
                    StatusCode::OK
                }),
        )
        .with_state(Counting {
            seen: seen.clone(),
            guard,
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

async fn counting_post(
    State(server): State<Counting>,
    headers: HeaderMap,
    Json(message): Json<Value>,
) -> Response {
    server.seen.headers.lock().unwrap().push(headers.clone());
    if let Some(guard) = &server.guard {
        let given = headers.get(guard.header).and_then(|v| v.to_str().ok());
        if given != Some(guard.value.as_str()) {
            let mut response = (StatusCode::UNAUTHORIZED, "no entry").into_response();
            if guard.challenge {
                response.headers_mut().insert(
                    "www-authenticate",
                    "Bearer realm=\"counting\"".parse().unwrap(),
                );
            }
            return response;
        }
    }
    let method = message["method"].as_str().unwrap_or_default().to_owned();
    let id = message.get("id").cloned();
    server.seen.methods.lock().unwrap().push(method.clone());
    let Some(id) = id else {
        return StatusCode::ACCEPTED.into_response();
    };
    if method == "initialize" {
        server.seen.handshakes.fetch_add(1, Ordering::SeqCst);
        let n = server.seen.sessions.fetch_add(1, Ordering::SeqCst);
        let result = json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {"listChanged": true}},
            "serverInfo": {"name": "counting", "version": "1.0.0"},
        });
        let mut response =
            Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response();
        response
            .headers_mut()
            .insert("mcp-session-id", format!("s-{n}").parse().unwrap());
        return response;
    }
    if headers.get("mcp-session-id").is_none() {
        return (StatusCode::BAD_REQUEST, "no session").into_response();
    }
    if server.seen.expire_next.swap(false, Ordering::SeqCst) {
        return (StatusCode::NOT_FOUND, "session expired").into_response();
    }
    let result = match method.as_str() {
        "ping" => json!({}),
        "tools/list" => json!({"tools": [
            {"name": "echo", "description": "Says it back", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
            {"name": "whoami", "description": "The credential it was called with", "inputSchema": {"type": "object"}},
            {"name": "slow", "description": "Never answers", "inputSchema": {"type": "object"}},
            {"name": "flood", "description": "Floods the caller with progress", "inputSchema": {"type": "object"}},
        ]}),
        "tools/call" => match message["params"]["name"].as_str() {
            Some("echo") => {
                json!({"content": [{"type": "text", "text": message["params"]["arguments"]["text"]}]})
            }
            Some("whoami") => {
                let header = server.guard.as_ref().map_or("authorization", |g| g.header);
                let got = headers
                    .get(header)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none");
                json!({"content": [{"type": "text", "text": got}]})
            }
            Some("slow") => {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                json!({})
            }
            Some("flood") => return flood(&message, id),
            _ => {
                return Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32602, "message": "no such tool"}}))
                    .into_response()
            }
        },
        _ => {
            return Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "method not found"}}))
                .into_response()
        }
    };
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

/// How many progress notices `flood` sends before its result.
pub const FLOOD: usize = 5_000;

fn flood(message: &Value, id: Value) -> Response {
    let token = message["params"]["_meta"]["progressToken"].clone();
    let padding = "x".repeat(1024);
    let mut body = String::new();
    for at in 0..FLOOD {
        let notice = json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": at, "total": FLOOD, "message": padding}});
        body.push_str(&format!("data: {notice}\n\n"));
    }
    let result = json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": "flooded"}]}});
    body.push_str(&format!("data: {result}\n\n"));
    ([("content-type", "text/event-stream")], body).into_response()
}
