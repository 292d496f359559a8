//! `make bench`: the MCP gateway, through the release binary.
//!
//! - one `tools/call` through `/mcp/{server}` against the same upstream called directly, in
//!   interleaved rounds, both with rmcp's client on a session kept open: the added p50/p99,
//!   with the master key and with a member's key;
//! - the same call through a bare relay (axum in front, reqwest behind, no checks), once on a
//!   runtime thread of the bench's own process and once as a process of its own, as Hearth
//!   is (every hop then switches between processes): what any relay hop adds on this
//!   machine, beside Hearth's;
//! - upstream requests per call through Hearth (counted by the upstream);
//! - a warm `tools/list` on `/mcp` over 20 servers of 50 tools each (1,000 tools).
//!
//! The upstream is a streamable HTTP MCP server of our own (2025-11-25, JSON answers,
//! sessions), on a runtime thread of its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RunningService, ServiceExt};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::RoleClient;
use serde_json::{json, Value};

mod support;

use support::{percentile, Hearth, KEY};

const SERVERS: usize = 20;
const TOOLS: usize = 50;
const ROUNDS: usize = 20;
const CALLS_PER_ROUND: usize = 100;
const LISTS: usize = 300;
/// The bare relay's threads' name.
const RELAY: &str = "bare-relay";
/// Set to the upstream's URL, the bench runs as nothing but a bare relay to it, in a process
/// of its own, and prints its URL.
const RELAY_PROCESS: &str = "MCP_BENCH_RELAY_TO";

/// `tools/call` requests the upstream answered.
#[derive(Default)]
struct Counted {
    calls: AtomicUsize,
}

async fn upstream(
    State(counted): State<Arc<Counted>>,
    headers: HeaderMap,
    Json(message): Json<Value>,
) -> Response {
    let Some(id) = message.get("id").cloned() else {
        return StatusCode::ACCEPTED.into_response();
    };
    let method = message["method"].as_str().unwrap_or_default();
    let result = match method {
        "initialize" => {
            let mut response = Json(json!({"jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "bench", "version": "1.0.0"}
            }}))
            .into_response();
            response
                .headers_mut()
                .insert("mcp-session-id", "bench-session".parse().unwrap());
            return response;
        }
        _ if headers.get("mcp-session-id").is_none() => {
            return (StatusCode::BAD_REQUEST, "no session").into_response()
        }
        "tools/list" => json!({"tools": (0..TOOLS).map(|n| json!({
            "name": format!("tool_{n}"),
            "description": format!("Tool number {n}, which echoes what it is given."),
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}
        })).collect::<Vec<_>>()}),
        "tools/call" => {
            counted.calls.fetch_add(1, Ordering::Relaxed);
            json!({"content": [{"type": "text", "text": message["params"]["arguments"]["text"]}]})
        }
        "ping" => json!({}),
        _ => {
            return Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "no such method"}}))
                .into_response()
        }
    };
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

/// The bare relay's way to the upstream.
struct Relayed {
    http: reqwest::Client,
    url: String,
}

/// A bare relay: each POST passed on as it came (its MCP headers with it), the answer
/// passed back; nothing read, checked or logged.
async fn relay(
    State(to): State<Arc<Relayed>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    const PASSED: [&str; 4] = [
        "content-type",
        "accept",
        "mcp-session-id",
        "mcp-protocol-version",
    ];
    let mut request = to.http.post(&to.url).body(body);
    for name in PASSED {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut response = Response::builder().status(answer.status());
    for name in ["content-type", "mcp-session-id"] {
        if let Some(value) = answer.headers().get(name) {
            response = response.header(name, value);
        }
    }
    match answer.bytes().await {
        Ok(body) => response
            .body(axum::body::Body::from(body))
            .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response()),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn client(url: String, key: Option<&str>) -> RunningService<RoleClient, ()> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(key) = key {
        config = config.auth_header(key);
    }
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let transport = StreamableHttpClientTransport::with_client(http, config);
    ().serve(transport).await.expect("the session opens")
}

/// One `tools/call` of `tool_0` with `n`; what it answered.
async fn call(session: &RunningService<RoleClient, ()>, n: usize) -> (usize, String) {
    let mut params = CallToolRequestParams::new("tool_0");
    params.arguments = Some(serde_json::from_value(json!({"text": n.to_string()})).unwrap());
    let result = session.call_tool(params).await.unwrap();
    (n, result.content[0].as_text().unwrap().text.clone())
}

fn echoed((n, text): (usize, String)) {
    assert_eq!(text, n.to_string());
}

/// How long `once` took for each of `runs`, each answer then checked by `check` (untimed).
async fn timed<T, Done: std::future::Future<Output = T>>(
    runs: std::ops::Range<usize>,
    mut once: impl FnMut(usize) -> Done,
    check: impl Fn(T),
) -> Vec<Duration> {
    let mut times = Vec::with_capacity(runs.len());
    for n in runs {
        let started = Instant::now();
        let answer = once(n).await;
        times.push(started.elapsed());
        check(answer);
    }
    times
}

fn figures(samples: &mut [Duration]) -> (Duration, Duration) {
    (percentile(samples, 0.5), percentile(samples, 0.99))
}

fn relay_router(upstream_url: String) -> axum::Router {
    axum::Router::new()
        .route("/mcp", axum::routing::post(relay))
        .with_state(Arc::new(Relayed {
            http: reqwest::Client::builder()
                .tcp_nodelay(true)
                .build()
                .unwrap(),
            url: upstream_url,
        }))
}

/// Starts this bench again as a bare relay to `upstream_url` in a process of its own (the
/// runtime Hearth has: one worker per CPU); its URL and the process, which ends when the
/// bench does (its standard input closes).
fn relay_process(upstream_url: &str) -> (String, std::process::Child) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env(RELAY_PROCESS, upstream_url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the relay process starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (line.trim().to_owned() + "/mcp", child)
}

#[tokio::main]
async fn main() {
    if let Ok(upstream_url) = std::env::var(RELAY_PROCESS) {
        std::thread::spawn(|| {
            let _ = std::io::Read::read(&mut std::io::stdin(), &mut [0]);
            std::process::exit(0);
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("http://{}", listener.local_addr().unwrap());
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, relay_router(upstream_url))
            .await
            .unwrap();
        return;
    }
    let counted = Arc::new(Counted::default());
    let upstream_url = support::serve_on_own_thread(
        "upstream",
        axum::Router::new()
            .route("/mcp", axum::routing::post(upstream))
            .with_state(counted.clone()),
    ) + "/mcp";
    let relay_url =
        support::serve_on_own_thread(RELAY, relay_router(upstream_url.clone())) + "/mcp";
    let (own_relay_url, mut own_relay) = relay_process(&upstream_url);
    let hearth = Hearth::start(&[]).await;
    let api = reqwest::Client::new();
    for n in 0..SERVERS {
        let response = api
            .post(format!("{}/v1/mcp/servers", hearth.url))
            .bearer_auth(KEY)
            .json(&json!({"name": format!("s{n}"), "url": upstream_url, "lifecycle": "legacy", "grants": {"all_members": true}}))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }

    println!("== the MCP gateway: one tools/call, direct and through /mcp/{{server}}");
    let direct = client(upstream_url.clone(), None).await;
    let through = client(format!("{}/mcp/s0", hearth.url), Some(KEY)).await;
    let (member_key, _) = support::user_credentials(&hearth).await;
    let member = client(format!("{}/mcp/s0", hearth.url), Some(&member_key)).await;
    let relayed = client(relay_url, None).await;
    let own_relayed = client(own_relay_url, None).await;
    // Warm all five: sessions, connections, the pool's tool list.
    for n in 0..200 {
        echoed(call(&direct, n).await);
        echoed(call(&through, n).await);
        echoed(call(&member, n).await);
        echoed(call(&relayed, n).await);
        echoed(call(&own_relayed, n).await);
    }
    let before = counted.calls.load(Ordering::Relaxed);
    let (mut direct_times, mut hearth_times, mut member_times) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut relay_times, mut own_relay_times) = (Vec::new(), Vec::new());
    let (mut hearth_cpu, mut hearth_switches) = (Duration::ZERO, 0);
    let (mut relay_cpu, mut own_relay_cpu, mut own_relay_switches) =
        (Duration::ZERO, Duration::ZERO, 0);
    for _ in 0..ROUNDS {
        direct_times.extend(timed(0..CALLS_PER_ROUND, |n| call(&direct, n), echoed).await);
        let (cpu, switches) = (hearth.cpu(), hearth.switches());
        hearth_times.extend(timed(0..CALLS_PER_ROUND, |n| call(&through, n), echoed).await);
        hearth_cpu += hearth.cpu().saturating_sub(cpu);
        hearth_switches += hearth.switches().saturating_sub(switches);
        member_times.extend(timed(0..CALLS_PER_ROUND, |n| call(&member, n), echoed).await);
        let cpu = support::threads_cpu(RELAY);
        relay_times.extend(timed(0..CALLS_PER_ROUND, |n| call(&relayed, n), echoed).await);
        relay_cpu += support::threads_cpu(RELAY).saturating_sub(cpu);
        let (cpu, switches) = (
            support::cpu_time(own_relay.id()),
            support::context_switches(own_relay.id()),
        );
        own_relay_times.extend(timed(0..CALLS_PER_ROUND, |n| call(&own_relayed, n), echoed).await);
        own_relay_cpu += support::cpu_time(own_relay.id()).saturating_sub(cpu);
        own_relay_switches += support::context_switches(own_relay.id()).saturating_sub(switches);
    }
    let upstream_calls = counted.calls.load(Ordering::Relaxed) - before;
    let calls = ROUNDS * CALLS_PER_ROUND;
    let (d50, d99) = figures(&mut direct_times);
    let (h50, h99) = figures(&mut hearth_times);
    let (m50, m99) = figures(&mut member_times);
    let (r50, r99) = figures(&mut relay_times);
    let (o50, o99) = figures(&mut own_relay_times);
    println!(
        "direct: p50 {d50:?} p99 {d99:?}; through Hearth: p50 {h50:?} p99 {h99:?} ({calls} calls each, {ROUNDS} interleaved rounds)"
    );
    println!(
        "added: p50 {:?} (budget 150 µs), p99 {:?}",
        h50.saturating_sub(d50),
        h99.saturating_sub(d99)
    );
    println!(
        "with a member's key (granted the server through all members): added p50 {:?}, p99 {:?}",
        m50.saturating_sub(d50),
        m99.saturating_sub(d99)
    );
    println!(
        "a bare relay (axum and reqwest, no checks) adds: p50 {:?}, p99 {:?}: a relay hop's cost on this machine",
        r50.saturating_sub(d50),
        r99.saturating_sub(d99)
    );
    println!(
        "the bare relay as a process of its own, as Hearth is, adds: p50 {:?}, p99 {:?}",
        o50.saturating_sub(d50),
        o99.saturating_sub(d99)
    );
    println!(
        "Hearth per call: {:.0} µs of CPU time (user and system, all its threads), {:.1} context switches",
        hearth_cpu.as_secs_f64() * 1e6 / calls as f64,
        hearth_switches as f64 / calls as f64
    );
    println!(
        "the bare relay per call: {:.0} µs of CPU time (its threads)",
        relay_cpu.as_secs_f64() * 1e6 / calls as f64
    );
    println!(
        "the bare relay as a process of its own per call: {:.0} µs of CPU time (all its threads), {:.1} context switches",
        own_relay_cpu.as_secs_f64() * 1e6 / calls as f64,
        own_relay_switches as f64 / calls as f64
    );
    println!(
        "upstream requests per call through Hearth: {:.2} ({upstream_calls} tools/call for {} calls: direct, through Hearth with either key, through either relay)",
        (upstream_calls as f64 - 3.0 * calls as f64) / (2 * calls) as f64,
        5 * calls
    );

    println!("== warm tools/list on /mcp: {SERVERS} servers × {TOOLS} tools");
    // As any client sends it, over a session of its own; timed to the answer's last byte
    // (the client's own parsing is not Hearth's).
    let mcp = format!("{}/mcp", hearth.url);
    let post = |body: Value, session: Option<String>| {
        let mut request = api
            .post(&mcp)
            .bearer_auth(KEY)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-11-25");
        }
        request.send()
    };
    let opened = post(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}), None)
        .await
        .unwrap();
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    opened.bytes().await.unwrap();
    post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        Some(session.clone()),
    )
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap();
    let list = |n: usize| {
        let request = post(
            json!({"jsonrpc": "2.0", "id": n + 1, "method": "tools/list"}),
            Some(session.clone()),
        );
        async move { request.await.unwrap().bytes().await.unwrap() }
    };
    let all_tools = |answer: axum::body::Bytes| {
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(
            text.matches("\"inputSchema\"").count(),
            SERVERS * TOOLS,
            "{}",
            &text[..text.len().min(300)]
        );
    };
    all_tools(list(0).await);
    let mut times = timed(1..LISTS + 1, list, all_tools).await;
    let (p50, p99) = figures(&mut times);
    println!(
        "{} tools: p50 {p50:?}, p99 {p99:?} (budget p99 1 ms), {LISTS} lists",
        SERVERS * TOOLS
    );
    let all = client(mcp.clone(), Some(KEY)).await;
    let mut times = timed(
        0..LISTS / 3,
        |_| async { all.list_tools(None).await.unwrap().tools.len() },
        |listed| assert_eq!(listed, SERVERS * TOOLS),
    )
    .await;
    let (p50, p99) = figures(&mut times);
    println!("the same with rmcp's client, its parsing included: p50 {p50:?}, p99 {p99:?}");
    for session in [direct, through, member, relayed, own_relayed, all] {
        let _ = session.cancel().await;
    }
    let _ = own_relay.kill();
    let _ = own_relay.wait();
}
