//! `make bench`: Hearth's own MCP client, through the release binary.
//!
//! - the first tool list of a shared server (cold: the session opened, handshake included)
//!   and the next ones (warm: from the pool), for server-everything over streamable HTTP and
//!   over stdio, as `GET /v1/mcp/tools` with a key narrowed to that one server;
//! - upstream requests per tool call, counted by a server of our own;
//! - Hearth's memory, and its children's, with 20 stdio servers (server-memory) running idle.
//!
//! Needs `end2end/node_modules` (`make e2e-deps`) for the MCP project's servers.

use std::io::Write;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "../tests/api/mcp_peers.rs"]
#[allow(dead_code)]
mod mcp_peers;
mod support;

use support::{mib, percentile, status_kib, Hearth, KEY};

const COLD_ROUNDS: usize = 10;
const WARM_ROUNDS: usize = 100;
const CALLS: usize = 100;
const STDIO_SERVERS: usize = 20;

async fn post(api: &reqwest::Client, url: String, body: &Value) -> Value {
    let response = api
        .post(url)
        .bearer_auth(KEY)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A key of user `bench`, narrowed to the shared server `name`.
async fn narrowed_key(api: &reqwest::Client, hearth: &Hearth, name: &str) -> String {
    let created = post(
        api,
        format!("{}/v1/keys", hearth.url),
        &json!({"name": name, "user": "bench", "mcp_servers": [name]}),
    )
    .await;
    created["key"].as_str().unwrap().to_owned()
}

/// Cold and warm `GET /v1/mcp/tools` for the one server `key` may use. A cold round saves the
/// server unchanged first, which closes its session.
async fn tool_lists(api: &reqwest::Client, hearth: &Hearth, server: &Value, key: &str) {
    let name = server["name"].as_str().unwrap();
    let list = || async {
        let started = Instant::now();
        let response = api
            .get(format!("{}/v1/mcp/tools", hearth.url))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let tools: Value = response.json().await.unwrap();
        assert!(
            tools["data"].as_array().is_some_and(|t| !t.is_empty()),
            "{tools}"
        );
        started.elapsed()
    };
    let mut cold = Vec::new();
    for _ in 0..COLD_ROUNDS {
        let response = api
            .put(format!("{}/v1/mcp/servers/{name}", hearth.url))
            .bearer_auth(KEY)
            .json(server)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        cold.push(list().await);
    }
    let mut warm = Vec::new();
    for _ in 0..WARM_ROUNDS {
        warm.push(list().await);
    }
    println!(
        "{name:>6}: first tools/list (cold, with the handshake) p50 {:?}, p99 {:?}; warm p50 {:?}, p99 {:?}",
        percentile(&mut cold, 0.5),
        percentile(&mut cold, 0.99),
        percentile(&mut warm, 0.5),
        percentile(&mut warm, 0.99),
    );
}

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                let after = &stat[stat.rfind(')').unwrap() + 2..];
                after.split_whitespace().nth(1) == Some(&pid.to_string())
            })
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let dir = support::data_dir();
    let mut add = std::process::Command::new(support::binary())
        .args(["user", "add", "bench", "--role", "member", "--data-dir"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"bench password\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let hearth = Hearth::start_with(&[], dir, |_| {}).await;
    let api = reqwest::Client::new();
    let servers = format!("{}/v1/mcp/servers", hearth.url);

    println!("== shared MCP servers: Hearth's own client");
    let everything = mcp_peers::everything_http();
    let http = json!({"name": "http", "url": everything.url, "lifecycle": "legacy", "grants": {"all_members": true}});
    let stdio = mcp_peers::everything_stdio("stdio");
    for server in [&http, &stdio] {
        post(&api, servers.clone(), server).await;
        let key = narrowed_key(&api, &hearth, server["name"].as_str().unwrap()).await;
        tool_lists(&api, &hearth, server, &key).await;
    }

    let (url, seen) = mcp_peers::counting(None).await;
    post(&api, servers.clone(), &json!({"name": "counting", "url": url, "lifecycle": "legacy", "grants": {"all_members": true}})).await;
    for i in 0..CALLS {
        let body =
            json!({"server": "counting", "name": "echo", "arguments": {"text": i.to_string()}});
        post(&api, format!("{}/v1/mcp/tools/call", hearth.url), &body).await;
    }
    let requests = seen.methods.lock().unwrap().len();
    println!(
        "upstream requests per tool call: {:.2} ({CALLS} calls: {} tools/call, {} handshake, {} tools/list, {requests} requests in all)",
        seen.count("tools/call") as f64 / CALLS as f64,
        seen.count("tools/call"),
        seen.handshakes.load(Ordering::SeqCst),
        seen.count("tools/list"),
    );

    let idle = hearth.rss_kib();
    let memory_dir = tempfile::tempdir().unwrap();
    for n in 0..STDIO_SERVERS {
        let mut server = mcp_peers::memory_stdio(
            &format!("memory-{n}"),
            &memory_dir.path().join(n.to_string()),
        );
        std::fs::create_dir_all(memory_dir.path().join(n.to_string())).unwrap();
        server["lifecycle"] = json!("legacy");
        post(&api, servers.clone(), &server).await;
    }
    let started = Instant::now();
    let health: Value = api
        .get(format!("{}/v1/mcp/servers/health?refresh=1", hearth.url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let up = health["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["state"] == "ok")
        .count();
    let starting = started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let children = children_of(hearth.pid());
    let children_kib: u64 = children.iter().map(|pid| status_kib(*pid, "VmRSS:")).sum();
    println!(
        "{STDIO_SERVERS} stdio servers: {up} of {} answering after {starting:?}; Hearth's RSS {} (before them {}), its {} children's {}",
        health["data"].as_array().unwrap().len(),
        mib(hearth.rss_kib()),
        mib(idle),
        children.len(),
        mib(children_kib),
    );
}
