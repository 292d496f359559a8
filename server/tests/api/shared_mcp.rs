//! Shared MCP servers: the registry (`/v1/mcp/servers`), Hearth's own MCP client and its
//! pool, against real peers (the MCP project's servers over streamable HTTP, legacy SSE and
//! stdio, the Python SDK's stateless server) and a counting server of our own.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{audit_events, error_body, TestApp};
use crate::mcp_peers::{self, Guard};

const MASTER: &str = "master-key-for-tests";

async fn app() -> TestApp {
    TestApp::spawn(&["--api-key", MASTER]).await
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app.client().request(method, app.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

async fn add(app: &TestApp, server: &Value) -> Value {
    app.add_mcp_server(MASTER, server).await
}

async fn get_json(app: &TestApp, path: &str, key: &str) -> Value {
    let response = send(app, reqwest::Method::GET, path, Some(key), None).await;
    assert_eq!(
        response.status(),
        200,
        "{path}: {}",
        response.text().await.unwrap()
    );
    response.json().await.unwrap()
}

async fn call(
    app: &TestApp,
    key: &str,
    server: &str,
    tool: &str,
    arguments: Value,
) -> reqwest::Response {
    let body = json!({"server": server, "name": tool, "arguments": arguments});
    send(
        app,
        reqwest::Method::POST,
        "/v1/mcp/tools/call",
        Some(key),
        Some(&body),
    )
    .await
}

/// The health of `name`, asked afresh.
async fn health_of(app: &TestApp, key: &str, name: &str) -> Value {
    let list = get_json(app, "/v1/mcp/servers/health?refresh=1", key).await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no health for {name} in {list}"))
}

fn http(name: &str, url: &str) -> Value {
    json!({"name": name, "transport": "http", "url": url, "grants": {"all_members": true}})
}

#[tokio::test]
async fn real_peers_over_every_transport_list_their_tools_and_run_them() {
    let app = app().await;
    let everything = mcp_peers::everything_http();
    let sse = mcp_peers::everything_sse();
    let python = mcp_peers::python_stateless();
    let memory_dir = tempfile::tempdir().unwrap();
    add(&app, &http("everything", &everything.url)).await;
    add(&app, &json!({"name": "legacy", "transport": "sse", "url": sse.url, "grants": {"all_members": true}})).await;
    add(&app, &json!({"name": "python", "transport": "http", "url": python.url, "lifecycle": "modern", "grants": {"all_members": true}})).await;
    add(&app, &mcp_peers::everything_stdio("local")).await;
    add(&app, &mcp_peers::memory_stdio("memory", memory_dir.path())).await;

    let started = Instant::now();
    let tools = get_json(&app, "/v1/mcp/tools", MASTER).await;
    let cold = started.elapsed();
    assert_eq!(
        tools["unavailable"],
        json!(null),
        "every server answered: {tools}"
    );
    let names = |server: &str| -> Vec<String> {
        tools["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["server"] == server)
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    for server in ["everything", "legacy", "local"] {
        assert!(
            names(server).contains(&"echo".to_owned()),
            "{server}: {:?}",
            names(server)
        );
    }
    assert_eq!(names("python"), ["add", "shout"]);
    assert!(
        names("memory").contains(&"create_entities".to_owned()),
        "{:?}",
        names("memory")
    );
    let started = Instant::now();
    get_json(&app, "/v1/mcp/tools", MASTER).await;
    let warm = started.elapsed();
    eprintln!("tools/list over 5 servers: cold {cold:?}, warm {warm:?}");

    for server in ["everything", "legacy", "local"] {
        let response = call(&app, MASTER, server, "echo", json!({"message": "hi"})).await;
        assert_eq!(
            response.status(),
            200,
            "{server}: {}",
            response.text().await.unwrap()
        );
        let result: Value = response.json().await.unwrap();
        assert_eq!(result["content"][0]["text"], "Echo: hi", "{server}");
    }
    let result: Value = call(&app, MASTER, "python", "add", json!({"a": 2, "b": 40}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(result["content"][0]["text"], "42", "{result}");
    let result: Value = call(&app, MASTER, "memory", "create_entities", json!({"entities": [{"name": "hearth", "entityType": "project", "observations": ["one binary"]}]}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(result["isError"], json!(true), "{result}");
    let read: Value = call(&app, MASTER, "memory", "read_graph", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(read.to_string().contains("one binary"), "{read}");

    let health = get_json(&app, "/v1/mcp/servers/health", MASTER).await;
    for h in health["data"].as_array().unwrap() {
        assert_eq!(h["state"], "ok", "{h}");
        assert!(h["tools"].as_u64().unwrap() > 0, "{h}");
    }
    app.stop().await;
}

#[tokio::test]
async fn ten_calls_make_one_handshake_and_ten_requests_and_an_expired_session_is_opened_again_once()
{
    let app = app().await;
    let (url, seen) = mcp_peers::counting(None).await;
    add(&app, &json!({"name": "counting", "url": url, "lifecycle": "legacy", "grants": {"all_members": true}})).await;
    for i in 0..10 {
        let response = call(
            &app,
            MASTER,
            "counting",
            "echo",
            json!({"text": format!("n{i}")}),
        )
        .await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let result: Value = response.json().await.unwrap();
        assert_eq!(result["content"][0]["text"], format!("n{i}"));
    }
    assert_eq!(seen.handshakes.load(Ordering::SeqCst), 1);
    assert_eq!(seen.count("tools/call"), 10);
    // The tool list was asked once, to check the tool exists; the pool kept it.
    assert_eq!(seen.count("tools/list"), 1);

    seen.expire_next.store(true, Ordering::SeqCst);
    let response = call(&app, MASTER, "counting", "echo", json!({"text": "again"})).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(
        seen.handshakes.load(Ordering::SeqCst),
        2,
        "opened again, once"
    );
    assert_eq!(
        seen.count("tools/call"),
        12,
        "the expired call, and its one retry"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_call_past_its_deadline_is_cut_and_cancelled_upstream() {
    let app = app().await;
    let (url, seen) = mcp_peers::counting(None).await;
    add(&app, &json!({"name": "counting", "url": url, "lifecycle": "legacy", "timeout_secs": 1, "grants": {"all_members": true}})).await;
    let started = Instant::now();
    let response = call(&app, MASTER, "counting", "slow", json!({})).await;
    let body = error_body(response, 502).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cut at the deadline"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not answer"),
        "{body}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.count("notifications/cancelled") == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen.count("notifications/cancelled"),
        1,
        "the server is told"
    );
    app.stop().await;
}

#[tokio::test]
async fn each_auth_kind_reaches_the_server_as_configured_and_the_callers_key_never_does() {
    let app = app().await;
    let member_key = {
        app.add_user("mia", app::api::Role::Member, "correct horse")
            .await;
        let client = app.browser();
        app.sign_in(&client, "mia", "correct horse").await;
        app.create_key(&client, None).await.key
    };
    let cases = [
        (
            "bearer",
            json!({"auth": "bearer", "credential": "tok-1"}),
            "authorization",
            "Bearer tok-1",
        ),
        (
            "api-key",
            json!({"auth": "api_key", "credential": "tok-2", "api_key_header": "X-Upstream-Key"}),
            "x-upstream-key",
            "tok-2",
        ),
        (
            "basic",
            json!({"auth": "basic", "credential": "ann:pw"}),
            "authorization",
            "Basic YW5uOnB3",
        ),
        (
            "headers",
            json!({"auth": "headers", "env": [{"name": "TOKEN", "value": "tok-3"}], "headers": [{"name": "X-Token", "value": "t=${TOKEN}"}]}),
            "x-token",
            "t=tok-3",
        ),
    ];
    for (name, auth, header, value) in cases {
        let (url, seen) = mcp_peers::counting(Some(Guard {
            header,
            value: value.to_owned(),
            challenge: true,
        }))
        .await;
        let mut server = json!({"name": name, "url": url, "lifecycle": "legacy", "grants": {"all_members": true}});
        server
            .as_object_mut()
            .unwrap()
            .extend(auth.as_object().unwrap().clone());
        add(&app, &server).await;
        let response = call(&app, &member_key, name, "whoami", json!({})).await;
        assert_eq!(
            response.status(),
            200,
            "{name}: {}",
            response.text().await.unwrap()
        );
        let result: Value = response.json().await.unwrap();
        assert_eq!(result["content"][0]["text"], value, "{name}");
        for headers in seen.headers.lock().unwrap().iter() {
            for (h, v) in headers {
                let v = v.to_str().unwrap_or_default();
                assert!(
                    !v.contains(&member_key) && !v.contains(MASTER),
                    "{name}: the caller's key went upstream in {h}"
                );
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_refused_credential_is_auth_required_and_the_member_sees_no_reason() {
    let app = app().await;
    app.add_user("mia", app::api::Role::Member, "correct horse")
        .await;
    let member = app.browser();
    app.sign_in(&member, "mia", "correct horse").await;
    let member_key = app.create_key(&member, None).await.key;
    for (name, challenge) in [("challenged", true), ("plain", false)] {
        let (url, _) = mcp_peers::counting(Some(Guard {
            header: "authorization",
            value: "Bearer right".into(),
            challenge,
        }))
        .await;
        add(&app, &json!({"name": name, "url": url, "lifecycle": "legacy", "auth": "bearer", "credential": "wrong-credential", "grants": {"all_members": true}})).await;
        let health = health_of(&app, MASTER, name).await;
        assert_eq!(health["state"], "auth_required", "{health}");
        let error = health["error"].as_str().unwrap();
        assert!(!error.contains("wrong-credential"), "{error}");
        let health = health_of(&app, &member_key, name).await;
        assert_eq!(health["state"], "auth_required");
        assert_eq!(health["error"], json!(null), "the reason is for admins");
        let body = error_body(call(&app, &member_key, name, "echo", json!({})).await, 502).await;
        assert!(!body.to_string().contains("wrong-credential"));
    }
    app.stop().await;
}

#[tokio::test]
async fn test_connection_lists_every_tool_stores_nothing_and_reports_bad_servers_in_words() {
    let app = app().await;
    let everything = mcp_peers::everything_http();
    let path = "/v1/mcp/servers/test";
    let response = send(
        &app,
        reqwest::Method::POST,
        path,
        Some(MASTER),
        Some(&http("probe", &everything.url)),
    )
    .await;
    assert_eq!(response.status(), 200);
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["state"], "ok", "{result}");
    assert!(result["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "echo"));
    assert!(result["server_info"].is_string(), "{result}");
    let list = get_json(&app, "/v1/mcp/servers", MASTER).await;
    assert_eq!(list["data"], json!([]), "nothing stored");

    // Nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let result: Value = send(&app, reqwest::Method::POST, path, Some(MASTER), Some(&json!({"name": "gone", "url": format!("http://127.0.0.1:{closed}/mcp"), "lifecycle": "legacy"})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(result["state"], "unreachable", "{result}");

    // Garbage: a web page, not an MCP server.
    let page = axum::Router::new().fallback(|| async { axum::response::Html("<h1>hello</h1>") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let garbage = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, page).await });
    let result: Value = send(
        &app,
        reqwest::Method::POST,
        path,
        Some(MASTER),
        Some(&json!({"name": "garbage", "url": garbage, "lifecycle": "legacy"})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(result["state"], "error", "{result}");

    // Silence: accepts, never answers; cut at the server's timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/mcp", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let result: Value = send(
        &app,
        reqwest::Method::POST,
        path,
        Some(MASTER),
        Some(
            &json!({"name": "silent", "url": silent_url, "lifecycle": "legacy", "timeout_secs": 1}),
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(result["state"], "unreachable", "{result}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // A program that does not exist.
    let result: Value = send(
        &app,
        reqwest::Method::POST,
        path,
        Some(MASTER),
        Some(
            &json!({"name": "nothing", "transport": "stdio", "command": "/nonexistent/mcp-server"}),
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(result["state"], "unreachable", "{result}");
    assert_eq!(
        get_json(&app, "/v1/mcp/servers", MASTER).await["data"],
        json!([])
    );
    app.stop().await;
}

#[tokio::test]
async fn secrets_are_write_only_sealed_and_kept_when_left_out_of_an_update() {
    let app = app().await;
    let (url, _) = mcp_peers::counting(Some(Guard {
        header: "authorization",
        value: "Bearer cred-s3cret-1".into(),
        challenge: true,
    }))
    .await;
    let server = json!({
        "name": "files",
        "url": url,
        "lifecycle": "legacy",
        "auth": "bearer",
        "credential": "cred-s3cret-1",
        "env": [{"name": "ORG", "value": "env-s3cret-2"}],
        "headers": [{"name": "X-Org", "value": "${ORG}"}, {"name": "X-Static", "value": "hdr-s3cret-3"}],
        "grants": {"all_members": true},
    });
    let created = add(&app, &server).await;
    assert_eq!(created["has_credential"], true);
    assert_eq!(created["env"], json!([{"name": "ORG", "value": ""}]));
    assert_eq!(
        created["headers"][1],
        json!({"name": "X-Static", "value": ""})
    );
    let text = created.to_string();
    for secret in ["cred-s3cret-1", "env-s3cret-2", "hdr-s3cret-3"] {
        assert!(!text.contains(secret), "{secret} returned");
    }

    // An update that leaves the credential out and blanks the values keeps them all.
    let mut update = server.clone();
    update.as_object_mut().unwrap().remove("credential");
    update["env"] = json!([{"name": "ORG", "value": ""}]);
    update["headers"] =
        json!([{"name": "X-Org", "value": "${ORG}"}, {"name": "X-Static", "value": ""}]);
    update["description"] = json!("shared files");
    let response = send(
        &app,
        reqwest::Method::PUT,
        "/v1/mcp/servers/files",
        Some(MASTER),
        Some(&update),
    )
    .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let result: Value = call(&app, MASTER, "files", "whoami", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        result["content"][0]["text"], "Bearer cred-s3cret-1",
        "the credential was kept"
    );

    // Bad updates change nothing.
    let mut bad = update.clone();
    bad["credential"] = json!("");
    let body = error_body(
        send(
            &app,
            reqwest::Method::PUT,
            "/v1/mcp/servers/files",
            Some(MASTER),
            Some(&bad),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(body["error"]["param"], "credential", "{body}");
    let shown = get_json(&app, "/v1/mcp/servers/files", MASTER).await;
    assert_eq!(shown["has_credential"], true);
    assert_eq!(shown["description"], "shared files");

    for (kind, status) in [("mcp_server_created", 201), ("mcp_server_updated", 200)] {
        let events = audit_events(&app, MASTER, kind, 1).await;
        assert_eq!(events.len(), 1, "{kind}");
        assert_eq!(events[0]["target"], "mcp_server:files");
        assert_eq!(events[0]["status"], status);
        assert!(!events[0].to_string().contains("s3cret"));
    }
    let response = send(
        &app,
        reqwest::Method::DELETE,
        "/v1/mcp/servers/files",
        Some(MASTER),
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        audit_events(&app, MASTER, "mcp_server_deleted", 1)
            .await
            .len(),
        1
    );
    for secret in ["cred-s3cret-1", "env-s3cret-2", "hdr-s3cret-3"] {
        app.assert_not_stored(secret, secret).await;
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named_and_nothing_is_stored() {
    let app = app().await;
    add(&app, &http("taken", "http://127.0.0.1:9/mcp")).await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (http("taken", "http://127.0.0.1:9/mcp"), 409, ""),
        (http("Upper", "http://127.0.0.1:9/mcp"), 400, "name"),
        (http("a_b", "http://127.0.0.1:9/mcp"), 400, "name"),
        (http("health", "http://127.0.0.1:9/mcp"), 400, "name"),
        (
            json!({"name": "x", "url": "http://127.0.0.1:9/mcp", "surprise": 1}),
            400,
            "",
        ),
        (http("meta", "http://169.254.169.254/latest"), 400, "url"),
        (
            http("meta2", "http://metadata.google.internal/mcp"),
            400,
            "url",
        ),
        (http("file", "file:///etc/passwd"), 400, "url"),
        (http("creds", "http://user:pw@127.0.0.1:9/mcp"), 400, "url"),
        (json!({"name": "nourl", "transport": "http"}), 400, "url"),
        (
            json!({"name": "b", "url": "http://127.0.0.1:9/mcp", "auth": "bearer"}),
            400,
            "credential",
        ),
        (
            json!({"name": "b2", "url": "http://127.0.0.1:9/mcp", "auth": "basic", "credential": "no-colon"}),
            400,
            "credential",
        ),
        (
            json!({"name": "v", "url": "http://127.0.0.1:9/mcp", "headers": [{"name": "X-A", "value": "${NOPE}"}]}),
            400,
            "headers",
        ),
        (
            json!({"name": "h", "url": "http://127.0.0.1:9/mcp", "headers": [{"name": "Host", "value": "x"}]}),
            400,
            "headers",
        ),
        (
            json!({"name": "e", "url": "http://127.0.0.1:9/mcp", "extra_headers": ["Authorization"]}),
            400,
            "extra_headers",
        ),
        (
            json!({"name": "t", "url": "http://127.0.0.1:9/mcp", "timeout_secs": 0}),
            400,
            "timeout_secs",
        ),
        (json!({"name": "s", "transport": "stdio"}), 400, "command"),
        (
            json!({"name": "s2", "transport": "stdio", "command": "node", "auth": "bearer", "credential": "x"}),
            400,
            "auth",
        ),
        (
            json!({"name": "g", "url": "http://127.0.0.1:9/mcp", "grants": {"users": ["nobody-here"]}}),
            400,
            "grants",
        ),
    ];
    for (body, status, param) in cases {
        let response = send(
            &app,
            reqwest::Method::POST,
            "/v1/mcp/servers",
            Some(MASTER),
            Some(&body),
        )
        .await;
        let error = error_body(response, status).await;
        if !param.is_empty() {
            assert_eq!(error["error"]["param"], param, "{body}: {error}");
        }
    }
    let list = get_json(&app, "/v1/mcp/servers", MASTER).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "only the first was stored"
    );
    app.stop().await;
}

/// The processes whose parent is `pid`, that have not exited.
fn children_of(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid …": comm may hold spaces and parentheses.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let mut fields = after.split_whitespace();
        let state = fields.next().unwrap();
        let ppid: u32 = fields.next().unwrap().parse().unwrap();
        if ppid == pid && state != "Z" {
            found.push(child);
        }
    }
    found
}

/// Whether `pid` still runs (a zombie left for a reaper does not).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        !after.starts_with('Z')
    })
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn stdio_children_are_restarted_stopped_with_their_server_and_never_outlive_hearth() {
    use crate::startup::{hearth, start, terminate};
    let dir = tempfile::tempdir().unwrap();
    let everything = mcp_peers::everything_stdio("local");
    let args: Vec<String> = everything["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    // Added from the command line, with the API's checks: a bad one is refused the same way.
    let refused = hearth(dir.path())
        .args(["mcp", "add", "Bad_Name", "--command", "node"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("invalid server name"));
    let added = hearth(dir.path())
        .args([
            "mcp",
            "add",
            "local",
            "--command",
            &mcp_peers::node(),
            "--arg",
            &args[0],
            "--arg",
            &args[1],
            "--all-members",
        ])
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let listed = hearth(dir.path()).args(["mcp", "list"]).output().unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.starts_with("local\tstdio\t"), "{listed}");
    let tested = hearth(dir.path())
        .args(["mcp", "test", "local"])
        .output()
        .unwrap();
    assert!(
        tested.status.success(),
        "{}",
        String::from_utf8_lossy(&tested.stderr)
    );
    assert!(String::from_utf8_lossy(&tested.stdout)
        .lines()
        .any(|l| l == "echo"));

    let mut command = hearth(dir.path());
    command.args(["--api-key", MASTER]);
    let (mut child, base, _log) = start(command);
    let hearth_pid = child.id();
    let api = reqwest::Client::new();
    let health = |refresh: bool| {
        let api = api.clone();
        let url = format!(
            "{base}/v1/mcp/servers/health{}",
            if refresh { "?refresh=1" } else { "" }
        );
        async move {
            let list: Value = api
                .get(url)
                .bearer_auth(MASTER)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h["name"].as_str().unwrap().to_owned(),
                        h["state"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(health(true).await, [("local".to_owned(), "ok".to_owned())]);
    let first = children_of(hearth_pid);
    assert_eq!(first.len(), 1, "one child: {first:?}");

    // Killed from outside: started again by itself.
    std::process::Command::new("kill")
        .arg("-KILL")
        .arg(first[0].to_string())
        .status()
        .unwrap();
    wait_for("a new child", || {
        let now = children_of(hearth_pid);
        now.len() == 1 && now[0] != first[0]
    })
    .await;
    let second = children_of(hearth_pid)[0];
    assert_eq!(health(true).await, [("local".to_owned(), "ok".to_owned())]);

    // A second server's child stops when the server is deleted.
    let memory_dir = tempfile::tempdir().unwrap();
    let response = api
        .post(format!("{base}/v1/mcp/servers"))
        .bearer_auth(MASTER)
        .json(&mcp_peers::memory_stdio("memory", memory_dir.path()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(health(true).await.len(), 2);
    let both = children_of(hearth_pid);
    assert_eq!(both.len(), 2, "{both:?}");
    let memory_pid = *both.iter().find(|p| **p != second).unwrap();
    let response = api
        .delete(format!("{base}/v1/mcp/servers/memory"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    wait_for("the deleted server's child to stop", || {
        !running(memory_pid)
    })
    .await;

    // SIGTERM: Hearth stops its children before it exits.
    assert!(terminate(&mut child).success());
    for pid in [first[0], second, memory_pid] {
        assert!(!running(pid), "child {pid} outlived hearth");
    }
}

#[tokio::test]
async fn on_a_public_bind_loopback_upstreams_need_the_allow_list() {
    let (url, _) = mcp_peers::counting(None).await;
    let port = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let app = TestApp::spawn(&["--api-key", MASTER, "--host", "0.0.0.0"]).await;
    let body = error_body(
        send(
            &app,
            reqwest::Method::POST,
            "/v1/mcp/servers",
            Some(MASTER),
            Some(&http("local", &url)),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(body["error"]["param"], "url", "{body}");
    // A name is judged by the addresses it resolves to, when Hearth connects.
    let by_name = format!("http://localhost:{port}/mcp");
    let result: Value = send(
        &app,
        reqwest::Method::POST,
        "/v1/mcp/servers/test",
        Some(MASTER),
        Some(&json!({"name": "local", "url": by_name, "lifecycle": "legacy"})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_ne!(result["state"], "ok", "{result}");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("loopback or private"),
        "{result}"
    );
    app.stop().await;

    let app = TestApp::spawn(&[
        "--api-key",
        MASTER,
        "--host",
        "0.0.0.0",
        "--cors-proxy-allow",
        "127.0.0.1",
    ])
    .await;
    add(&app, &json!({"name": "local", "url": url, "lifecycle": "legacy", "grants": {"all_members": true}})).await;
    assert_eq!(health_of(&app, MASTER, "local").await["state"], "ok");
    app.stop().await;
}

/// A legacy SSE server that names its endpoint, then sends one event that never ends (lines of
/// 64 KiB without the blank line that would end it, 24 MiB in all) and holds the stream open.
/// Returns its stream's address and whether the stream was dropped by its reader.
async fn endless_event() -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    struct Dropped(Arc<AtomicBool>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let stream = move || {
        let dropped = Dropped(flag.clone());
        let line = axum::body::Bytes::from(format!("data: {}\n", "x".repeat(64 << 10)));
        let head = futures_util::stream::once(async {
            axum::body::Bytes::from("event: endpoint\ndata: /messages\n\n")
        });
        let body = futures_util::stream::iter(std::iter::repeat_n(line, 384));
        let held = futures_util::stream::once(async move {
            let _dropped = dropped;
            std::future::pending::<axum::body::Bytes>().await
        });
        let events = futures_util::StreamExt::map(
            futures_util::StreamExt::chain(futures_util::StreamExt::chain(head, body), held),
            Ok::<_, std::convert::Infallible>,
        );
        async move {
            (
                [("content-type", "text/event-stream")],
                axum::body::Body::from_stream(events),
            )
        }
    };
    let app = axum::Router::new()
        .route("/sse", axum::routing::get(stream))
        .route(
            "/messages",
            axum::routing::post(|| async { axum::http::StatusCode::ACCEPTED }),
        );
    let url = format!("{}/sse", crate::harness::serve_loopback(app).await);
    (url, dropped)
}

#[tokio::test]
async fn a_legacy_sse_event_that_never_ends_ends_the_session_at_16_mib() {
    let app = app().await;
    let (url, dropped) = endless_event().await;
    // A deadline far beyond the test's wait: only the event's size can end the session.
    add(&app, &json!({"name": "endless", "transport": "sse", "url": url, "timeout_secs": 120, "grants": {"all_members": true}})).await;
    let listing = tokio::spawn(
        reqwest::Client::new()
            .get(app.url("/v1/mcp/tools"))
            .bearer_auth(MASTER)
            .send(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dropped.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "Hearth still reads an event of over 16 MiB"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tools: Value = tokio::time::timeout(Duration::from_secs(20), listing)
        .await
        .expect("the listing answers once the session ends")
        .unwrap()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tools["unavailable"], json!(["endless"]), "{tools}");
    app.stop().await;
}
