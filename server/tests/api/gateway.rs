//! The MCP gateway, `/mcp` and `/mcp/{server}`, driven by rmcp's own client the way any MCP
//! client would: a Hearth key as the bearer token, the shared servers' tools relayed.

use rmcp::model::CallToolRequestParams;
use rmcp::service::ServiceExt;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::mcp_peers;

const MASTER: &str = "master-key-for-tests";

async fn client(
    url: String,
    key: &str,
) -> Result<rmcp::service::RunningService<rmcp::RoleClient, ()>, rmcp::service::ClientInitializeError>
{
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(key);
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    ().serve(transport).await
}

async fn add(app: &TestApp, server: Value) {
    let response = app
        .client()
        .post(app.url("/v1/mcp/servers"))
        .bearer_auth(MASTER)
        .json(&server)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

async fn member_key(app: &TestApp, name: &str) -> String {
    app.add_user(name, app::api::Role::Member, "correct horse")
        .await;
    let browser = app.browser();
    app.sign_in(&browser, name, "correct horse").await;
    app.create_key(&browser, None).await.key
}

#[tokio::test]
async fn a_client_lists_and_calls_a_shared_servers_tools_through_hearth() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (url, seen) = mcp_peers::counting(Some(mcp_peers::Guard {
        header: "authorization",
        value: "Bearer upstream-cred".into(),
        challenge: true,
    }))
    .await;
    let ana = member_key(&app, "ana").await;
    let bob = member_key(&app, "bob").await;
    add(&app, json!({"name": "counting", "url": url, "lifecycle": "legacy", "auth": "bearer", "credential": "upstream-cred", "grants": {"users": ["ana"]}})).await;
    let everything = mcp_peers::everything_http();
    add(&app, json!({"name": "everything", "url": everything.url, "lifecycle": "legacy", "denied_tools": ["get-env"], "grants": {"users": ["ana"]}})).await;

    // One server, its own names.
    let one = client(app.url("/mcp/counting"), &ana)
        .await
        .expect("ana connects");
    let tools = one.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["echo", "whoami", "slow"]);
    let mut call = CallToolRequestParams::new("whoami");
    call.arguments = Some(serde_json::Map::new());
    let result = one.call_tool(call).await.unwrap();
    assert_eq!(
        result.content[0].as_text().unwrap().text,
        "Bearer upstream-cred",
        "the registry's credential, not the caller's"
    );
    for headers in seen.headers.lock().unwrap().iter() {
        for value in headers.values() {
            assert!(
                !value.to_str().unwrap_or_default().contains(&ana),
                "the caller's key went upstream"
            );
        }
    }

    // Every server at /mcp, prefixed; the deny list holds there too.
    let all = client(app.url("/mcp"), &ana).await.expect("ana connects");
    let names: Vec<String> = all
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(names.contains(&"counting__echo".to_owned()), "{names:?}");
    assert!(names.contains(&"everything__echo".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.ends_with("get-env")), "{names:?}");
    let mut call = CallToolRequestParams::new("everything__echo");
    call.arguments = Some(serde_json::from_value(json!({"message": "via hearth"})).unwrap());
    let result = all.call_tool(call).await.unwrap();
    assert_eq!(
        result.content[0].as_text().unwrap().text,
        "Echo: via hearth"
    );
    // A hidden tool cannot be called by guessing its name.
    let mut call = CallToolRequestParams::new("everything__get-env");
    call.arguments = Some(serde_json::Map::new());
    assert!(all.call_tool(call).await.is_err());

    // One server's prompts and resources, relayed as the server sends them.
    let relayed = client(app.url("/mcp/everything"), &ana)
        .await
        .expect("ana connects");
    let prompts = relayed.list_all_prompts().await.unwrap();
    assert!(
        prompts.iter().any(|p| p.name == "simple-prompt"),
        "{prompts:?}"
    );
    let prompt = relayed
        .get_prompt(rmcp::model::GetPromptRequestParams::new("simple-prompt"))
        .await
        .unwrap();
    assert!(!prompt.messages.is_empty());
    let resources = relayed.list_all_resources().await.unwrap();
    let first = resources
        .first()
        .expect("server-everything lists resources");
    let read = relayed
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            first.uri.clone(),
        ))
        .await
        .unwrap();
    assert!(!read.contents.is_empty());

    // bob has no grant: nothing listed, nothing callable, and /mcp/counting refuses him.
    let bobs = client(app.url("/mcp"), &bob).await.expect("bob connects");
    assert!(bobs.list_all_tools().await.unwrap().is_empty());
    let mut call = CallToolRequestParams::new("counting__echo");
    call.arguments = Some(serde_json::Map::new());
    assert!(bobs.call_tool(call).await.is_err());
    let bobs_one = client(app.url("/mcp/counting"), &bob)
        .await
        .expect("bob connects");
    assert!(bobs_one.list_all_tools().await.is_err());

    // No credentials: a 401, before any MCP.
    let response = app
        .client()
        .post(app.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // One audit event per call: who, with which key, which server and tool, and how it
    // ended; never the arguments.
    let events = crate::harness::audit_events(&app, MASTER, "mcp_tool_call", 4).await;
    let find = |target: &str| {
        events
            .iter()
            .find(|e| e["target"] == target)
            .unwrap_or_else(|| panic!("no {target} in {events:?}"))
    };
    let whoami = find("mcp_tool:counting/\"whoami\" ok");
    assert_eq!(whoami["principal"], "ana");
    assert!(whoami["key_hash_prefix"].is_string());
    assert!(whoami["duration_ms"].is_i64());
    find("mcp_tool:everything/\"echo\" ok");
    let refused: Vec<_> = events
        .iter()
        .filter(|e| e["target"].as_str().unwrap().ends_with(" refused"))
        .collect();
    assert!(
        refused.iter().any(|e| e["principal"] == "ana"),
        "{events:?}"
    );
    assert!(
        refused.iter().any(|e| e["principal"] == "bob"),
        "{events:?}"
    );
    assert!(!serde_json::to_string(&events)
        .unwrap()
        .contains("via hearth"));
    for session in [one, all, relayed, bobs, bobs_one] {
        let _ = session.cancel().await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_session_is_its_openers_alone_and_a_foreign_host_is_refused() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let ana = member_key(&app, "ana").await;
    let bob = member_key(&app, "bob").await;
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}});
    let post = |key: &str, body: &Value, session: Option<&str>| {
        let mut request = app
            .client()
            .post(app.url("/mcp"))
            .bearer_auth(key)
            .header("accept", "application/json, text/event-stream")
            .json(body);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send()
    };
    let response = post(&ana, &initialize, None).await.unwrap();
    assert_eq!(response.status(), 200);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let response = post(&bob, &list, Some(&session)).await.unwrap();
    assert_eq!(response.status(), 404, "bob cannot use ana's session");

    let response = app
        .client()
        .post(app.url("/mcp"))
        .bearer_auth(&ana)
        .header("host", "evil.example")
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    // A page on another site, even with a key: refused.
    let response = app
        .client()
        .post(app.url("/mcp"))
        .bearer_auth(&ana)
        .header("origin", "https://evil.example")
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    // Hearth's own page may.
    let response = app
        .client()
        .post(app.url("/mcp"))
        .bearer_auth(&ana)
        .header("origin", app.origin())
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.stop().await;
}

/// An MCP server that refuses everyone: `/mcp` with a 401 and a challenge, `/deny` with a
/// 403; its protected-resource metadata names its authorization server. Returns its origin.
async fn refusing() -> String {
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route(
            "/mcp",
            post(|| async {
                (
                    StatusCode::UNAUTHORIZED,
                    [("www-authenticate", "Bearer realm=\"upstream\"")],
                    "no entry",
                )
            }),
        )
        .route("/deny", post(|| async { StatusCode::FORBIDDEN }))
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(|| async {
                axum::Json(json!({"resource": "upstream", "authorization_servers": ["https://auth.example"]}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    origin
}

#[tokio::test]
async fn a_server_given_the_callers_token_is_probed_before_the_session_starts() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let ana = member_key(&app, "ana").await;
    let (counting, seen) = mcp_peers::counting(Some(mcp_peers::Guard {
        header: "authorization",
        value: "Bearer user-token".into(),
        challenge: true,
    }))
    .await;
    let refusing = refusing().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let grants = json!({"users": ["ana"]});
    for (name, url) in [
        ("fwd", counting.clone()),
        ("gated", format!("{refusing}/mcp")),
        ("denied", format!("{refusing}/deny")),
        ("down", format!("http://127.0.0.1:{closed}/mcp")),
    ] {
        add(&app, json!({"name": name, "url": url, "lifecycle": "legacy", "auth": "forward", "grants": grants})).await;
    }
    add(
        &app,
        json!({"name": "plain", "url": counting, "lifecycle": "legacy", "grants": grants}),
    )
    .await;

    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}});
    let open = |server: &str, headers: &[(&str, String)]| {
        let mut request = app
            .client()
            .post(app.url(&format!("/mcp/{server}")))
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send()
    };
    let metadata = |server: &str| {
        format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp/{server}\"",
            app.origin()
        )
    };

    // A wrong token: the upstream's 401 reaches the client as HTTP 401, pointing at Hearth.
    let response = open(
        "fwd",
        &[
            ("x-api-key", ana.clone()),
            ("authorization", "Bearer wrong".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        metadata("fwd").as_str()
    );
    // The Hearth key alone is Hearth's, never passed on: the server gets no token.
    let response = open("fwd", &[("authorization", format!("Bearer {ana}"))])
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // 403 stays 403; a server that cannot be reached lets the session open.
    let response = open(
        "denied",
        &[
            ("x-api-key", ana.clone()),
            ("authorization", "Bearer t".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 403);
    let response = open("down", &[("x-api-key", ana.clone())]).await.unwrap();
    assert_eq!(response.status(), 200, "fail open");
    assert!(response.headers().contains_key("mcp-session-id"));
    // A server with its own credential is not probed.
    let response = open("plain", &[("x-api-key", ana.clone())]).await.unwrap();
    assert_eq!(response.status(), 200);

    // The right token: the session opens and the server sees exactly that token.
    let mut headers = std::collections::HashMap::new();
    headers.insert(
        axum::http::HeaderName::from_static("x-api-key"),
        ana.parse().unwrap(),
    );
    let config = StreamableHttpClientTransportConfig::with_uri(app.url("/mcp/fwd"))
        .auth_header("user-token")
        .custom_headers(headers);
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    let session = ().serve(transport).await.expect("the session opens");
    let mut call = CallToolRequestParams::new("whoami");
    call.arguments = Some(serde_json::Map::new());
    let result = session.call_tool(call).await.unwrap();
    assert_eq!(
        result.content[0].as_text().unwrap().text,
        "Bearer user-token"
    );
    let _ = session.cancel().await;
    for headers in seen.headers.lock().unwrap().iter() {
        for value in headers.values() {
            assert!(
                !value.to_str().unwrap_or_default().contains(&ana),
                "the caller's Hearth key went upstream"
            );
        }
    }

    // The metadata the 401 points at: public, with the upstream's authorization server.
    let document: Value = app
        .client()
        .get(app.url("/.well-known/oauth-protected-resource/mcp/gated"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["resource"], app.url("/mcp/gated"));
    assert_eq!(
        document["authorization_servers"],
        json!(["https://auth.example"])
    );
    for other in ["plain", "unknown"] {
        let response = app
            .client()
            .get(app.url(&format!(
                "/.well-known/oauth-protected-resource/mcp/{other}"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{other}");
    }
    app.stop().await;
}

#[tokio::test]
async fn chat_approvals_of_a_shared_servers_tools_are_each_users_own() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let ana = member_key(&app, "ana").await;
    let bob = member_key(&app, "bob").await;
    let (url, _) = mcp_peers::counting(None).await;
    add(
        &app,
        json!({"name": "counting", "url": url, "grants": {"users": ["ana"]}}),
    )
    .await;
    let put = |key: &str, path: &str, body: Value| {
        app.client()
            .put(app.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let listed = |key: String| {
        let request = app
            .client()
            .get(app.url("/v1/mcp/approvals"))
            .bearer_auth(key);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };

    let response = put(
        &ana,
        "/v1/mcp/servers/counting/approvals/echo",
        json!({"approval": "always"}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let set: Value = response.json().await.unwrap();
    assert_eq!(
        set,
        json!({"server": "counting", "approvals": {"echo": "always"}})
    );
    assert_eq!(listed(ana.clone()).await["data"], json!([set]));
    // bob may not use the server: he can neither set nor see an approval of it.
    let response = put(
        &bob,
        "/v1/mcp/servers/counting/approvals/echo",
        json!({"approval": "always"}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        listed(bob.clone()).await["data"],
        json!([]),
        "bob may use no server"
    );
    // Bad input changes nothing.
    for (path, body) in [
        (
            "/v1/mcp/servers/counting/approvals/echo",
            json!({"approval": "sometimes"}),
        ),
        (
            "/v1/mcp/servers/counting/approvals/echo",
            json!({"approval": "never", "extra": 1}),
        ),
        (
            "/v1/mcp/servers/counting/approvals/a%0Ab",
            json!({"approval": "never"}),
        ),
        (
            "/v1/mcp/servers/nowhere/approvals/echo",
            json!({"approval": "never"}),
        ),
    ] {
        let response = put(&ana, path, body).await.unwrap();
        assert!(
            response.status().is_client_error(),
            "{path}: {}",
            response.status()
        );
    }
    assert_eq!(listed(ana.clone()).await["data"], json!([set]));
    // `ask` is the default and is not kept.
    let response = put(
        &ana,
        "/v1/mcp/servers/counting/approvals/echo",
        json!({"approval": "ask"}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(listed(ana.clone()).await["data"][0]["approvals"], json!({}));
    // A deleted server takes its approvals along: one registered later under the name
    // starts with none.
    put(
        &ana,
        "/v1/mcp/servers/counting/approvals/whoami",
        json!({"approval": "never"}),
    )
    .await
    .unwrap();
    let response = app
        .client()
        .delete(app.url("/v1/mcp/servers/counting"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    add(
        &app,
        json!({"name": "counting", "url": url, "grants": {"users": ["ana"]}}),
    )
    .await;
    assert_eq!(
        listed(ana.clone()).await["data"],
        json!([{"server": "counting", "approvals": {}}])
    );
    app.stop().await;
}
