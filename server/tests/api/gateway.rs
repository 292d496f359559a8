//! The MCP gateway, `/mcp` and `/mcp/{server}`, driven by rmcp's own client the way any MCP
//! client would: a Hearth key as the bearer token, the shared servers' tools relayed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rmcp::model::CallToolRequestParams;
use rmcp::service::ServiceExt;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::mcp_peers;

const MASTER: &str = "master-key-for-tests";

type Connected<H> = Result<
    rmcp::service::RunningService<rmcp::RoleClient, H>,
    rmcp::service::ClientInitializeError,
>;

async fn client(url: String, key: &str) -> Connected<()> {
    client_with(url, key, ()).await
}

/// An MCP client at `url` with a Hearth key, whose notices `handler` takes.
async fn client_with<H: rmcp::ClientHandler>(url: String, key: &str, handler: H) -> Connected<H> {
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(key);
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    handler.serve(transport).await
}

/// A client that counts the progress notices it gets.
#[derive(Clone, Default)]
struct Progress(Arc<AtomicUsize>);

impl rmcp::ClientHandler for Progress {
    async fn on_progress(
        &self,
        _params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
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
    let ana = app.member_key("ana").await;
    let bob = app.member_key("bob").await;
    app.add_mcp_server(MASTER, &json!({"name": "counting", "url": url, "lifecycle": "legacy", "auth": "bearer", "credential": "upstream-cred", "grants": {"users": ["ana"]}})).await;
    let everything = mcp_peers::everything_http();
    app.add_mcp_server(MASTER, &json!({"name": "everything", "url": everything.url, "lifecycle": "legacy", "denied_tools": ["get-env"], "grants": {"users": ["ana"]}})).await;

    // One server, its own names.
    let one = client(app.url("/mcp/counting"), &ana)
        .await
        .expect("ana connects");
    let tools = one.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["echo", "whoami", "slow", "flood"]);
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

    // Every server at /mcp, prefixed; the deny list holds there too. A server that is down
    // is left out, and the answer says so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}/mcp", closed.local_addr().unwrap());
    drop(closed);
    app.add_mcp_server(
        MASTER,
        &json!({"name": "down", "url": down, "lifecycle": "legacy", "grants": {"users": ["ana"]}}),
    )
    .await;
    let all = client(app.url("/mcp"), &ana).await.expect("ana connects");
    let listed = all.list_tools(None).await.unwrap();
    let outcomes = &listed.meta.as_ref().expect("outcomes in _meta").0["hearth/servers"];
    assert_eq!(outcomes["counting"], json!({"outcome": "ok"}), "{outcomes}");
    assert_eq!(
        outcomes["everything"],
        json!({"outcome": "ok"}),
        "{outcomes}"
    );
    assert_eq!(outcomes["down"]["outcome"], "error", "{outcomes}");
    let names: Vec<String> = listed.tools.iter().map(|t| t.name.to_string()).collect();
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

    // Every server's prompts and resources at /mcp: prompts named as tools are, resources
    // under URIs that name their server; a server that is down is left out and said so.
    let prompts = all.list_prompts(None).await.unwrap();
    let outcomes = &prompts.meta.as_ref().expect("outcomes in _meta").0["hearth/servers"];
    assert_eq!(outcomes["down"]["outcome"], "error", "{outcomes}");
    let names: Vec<&str> = prompts.prompts.iter().map(|p| p.name.as_str()).collect();
    assert!(names.contains(&"everything__simple-prompt"), "{names:?}");
    let prompt = all
        .get_prompt(rmcp::model::GetPromptRequestParams::new(
            "everything__simple-prompt",
        ))
        .await
        .unwrap();
    assert!(!prompt.messages.is_empty());
    for unknown in [
        "everything__no-such-prompt",
        "simple-prompt",
        "counting__simple-prompt",
    ] {
        assert!(
            all.get_prompt(rmcp::model::GetPromptRequestParams::new(unknown))
                .await
                .is_err(),
            "{unknown}"
        );
    }
    // A prompt of a server that is down is said to be that server's failure.
    match all
        .get_prompt(rmcp::model::GetPromptRequestParams::new("down__any"))
        .await
    {
        Err(rmcp::ServiceError::McpError(error)) => {
            assert!(error.message.contains("server down"), "{error:?}")
        }
        other => panic!("{other:?}"),
    }
    let merged = all.list_all_resources().await.unwrap();
    let same = merged
        .iter()
        .find(|r| r.uri == format!("hearth://everything/{}", first.uri))
        .unwrap_or_else(|| panic!("{} merged, in {merged:?}", first.uri));
    assert!(same.name.starts_with("everything__"), "{same:?}");
    assert_eq!(
        same.title.as_deref(),
        Some(first.title.as_deref().unwrap_or(&first.name))
    );
    let read = all
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            same.uri.clone(),
        ))
        .await
        .unwrap();
    let rmcp::model::ResourceContents::TextResourceContents { uri, .. } = &read.contents[0] else {
        panic!("{read:?}")
    };
    assert_eq!(*uri, same.uri, "the contents name the merged URI");
    let templates = all.list_all_resource_templates().await.unwrap();
    assert!(
        !templates.is_empty()
            && templates
                .iter()
                .all(|t| t.uri_template.starts_with("hearth://everything/")),
        "{templates:?}"
    );
    for unknown in [
        first.uri.clone(),
        format!("hearth://nowhere/{}", first.uri),
        "hearth://everything/".to_owned(),
    ] {
        assert!(
            all.read_resource(rmcp::model::ReadResourceRequestParams::new(unknown.clone()))
                .await
                .is_err(),
            "{unknown}"
        );
    }
    let capabilities = &all.peer_info().unwrap().capabilities;
    assert!(capabilities.prompts.is_some() && capabilities.resources.is_some());
    assert!(
        capabilities.completions.is_none(),
        "completions are per server"
    );

    // A key of ana's narrowed to one server sees that server alone at /mcp, and reaches the
    // other by no name, URI or path.
    let browser = app.browser();
    app.sign_in(&browser, "ana", "correct horse").await;
    let response = browser
        .post(app.url("/v1/keys"))
        .json(&json!({"name": "counting only", "mcp_servers": ["counting"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let narrowed: Value = response.json().await.unwrap();
    let narrowed = narrowed["key"].as_str().unwrap();
    let counting_only = client(app.url("/mcp"), narrowed)
        .await
        .expect("the narrowed key connects");
    let tools = counting_only.list_all_tools().await.unwrap();
    assert!(
        !tools.is_empty() && tools.iter().all(|t| t.name.starts_with("counting__")),
        "{tools:?}"
    );
    let mut call = CallToolRequestParams::new("everything__echo");
    call.arguments = Some(serde_json::from_value(json!({"message": "x"})).unwrap());
    assert!(counting_only.call_tool(call).await.is_err());
    assert!(counting_only.list_all_prompts().await.unwrap().is_empty());
    assert!(counting_only.list_all_resources().await.unwrap().is_empty());
    assert!(counting_only
        .get_prompt(rmcp::model::GetPromptRequestParams::new(
            "everything__simple-prompt"
        ))
        .await
        .is_err());
    assert!(counting_only
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            same.uri.clone()
        ))
        .await
        .is_err());
    let elsewhere = client(app.url("/mcp/everything"), narrowed)
        .await
        .expect("the session opens");
    assert!(elsewhere.list_all_tools().await.is_err());

    // bob has no grant: nothing listed, nothing callable, and /mcp/counting refuses him.
    let bobs = client(app.url("/mcp"), &bob).await.expect("bob connects");
    assert!(bobs.list_all_tools().await.unwrap().is_empty());
    let mut call = CallToolRequestParams::new("counting__echo");
    call.arguments = Some(serde_json::Map::new());
    assert!(bobs.call_tool(call).await.is_err());
    assert!(bobs.list_all_prompts().await.unwrap().is_empty());
    assert!(bobs.list_all_resources().await.unwrap().is_empty());
    assert!(bobs
        .get_prompt(rmcp::model::GetPromptRequestParams::new(
            "everything__simple-prompt"
        ))
        .await
        .is_err());
    assert!(bobs
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            same.uri.clone()
        ))
        .await
        .is_err());
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
    for session in [one, all, relayed, counting_only, elsewhere, bobs, bobs_one] {
        let _ = session.cancel().await;
    }
    app.stop().await;
}

/// Hearth with the counting server shared as `counting`, granted to the member ana: Hearth,
/// ana's key, the server's URL and what it saw.
async fn counting_for_ana() -> (TestApp, String, String, Arc<mcp_peers::Seen>) {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let ana = app.member_key("ana").await;
    let (url, seen) = mcp_peers::counting(None).await;
    let counting = json!({"name": "counting", "url": url, "grants": {"users": ["ana"]}});
    app.add_mcp_server(MASTER, &counting).await;
    (app, ana, url, seen)
}

#[tokio::test]
async fn a_server_flooding_a_call_with_progress_neither_stalls_hearth_nor_outlives_the_call() {
    let (app, ana, _, _) = counting_for_ana().await;
    let progress = Progress::default();
    let session = client_with(app.url("/mcp/counting"), &ana, progress.clone())
        .await
        .expect("ana connects");
    let flood = session.call_tool(CallToolRequestParams::new("flood"));
    let healthy = async {
        let answer = app.client().get(app.url("/healthz")).send().await.unwrap();
        answer.status()
    };
    let (result, health) = tokio::join!(flood, healthy);
    assert_eq!(health, 200, "Hearth answers others during the flood");
    assert_eq!(
        result.unwrap().content[0].as_text().unwrap().text,
        "flooded"
    );
    // Every notice of the call reaches its caller, and none after its result.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let got = progress.0.load(Ordering::SeqCst);
    assert!(got > 0 && got <= mcp_peers::FLOOD, "{got} progress notices");
    let mut echo = CallToolRequestParams::new("echo");
    echo.arguments = Some(serde_json::from_value(json!({"text": "after"})).unwrap());
    let result = session.call_tool(echo).await.unwrap();
    assert_eq!(result.content[0].as_text().unwrap().text, "after");
    assert_eq!(
        progress.0.load(Ordering::SeqCst),
        got,
        "no progress after the call"
    );
    let _ = session.cancel().await;
    app.stop().await;
}

#[tokio::test]
async fn a_call_the_client_gives_up_is_cancelled_at_the_server() {
    let (app, ana, _, seen) = counting_for_ana().await;
    let session = client(app.url("/mcp/counting"), &ana)
        .await
        .expect("ana connects");
    let slow = session.call_tool(CallToolRequestParams::new("slow"));
    let gave_up = tokio::time::timeout(std::time::Duration::from_millis(500), slow).await;
    assert!(gave_up.is_err(), "the slow tool never answers");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.count("notifications/cancelled") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never heard the call was cancelled: {:?}",
            seen.methods.lock().unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The session goes on.
    let mut echo = CallToolRequestParams::new("echo");
    echo.arguments = Some(serde_json::from_value(json!({"text": "still here"})).unwrap());
    let result = session.call_tool(echo).await.unwrap();
    assert_eq!(result.content[0].as_text().unwrap().text, "still here");
    let _ = session.cancel().await;
    app.stop().await;
}

#[tokio::test]
async fn a_session_is_its_openers_alone_and_a_foreign_host_is_refused() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let ana = app.member_key("ana").await;
    let bob = app.member_key("bob").await;
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
    // Within her session too (where Hearth answers plain requests itself), a foreign `Host`
    // or a page on another site is refused, and a session that does not exist is a 404.
    let notified = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post(&ana, &notified, Some(&session)).await.unwrap();
    assert_eq!(
        post(&ana, &list, Some(&session)).await.unwrap().status(),
        200
    );
    for (name, value) in [("host", "evil.example"), ("origin", "https://evil.example")] {
        let response = app
            .client()
            .post(app.url("/mcp"))
            .bearer_auth(&ana)
            .header(name, value)
            .header("mcp-session-id", &session)
            .header("accept", "application/json, text/event-stream")
            .json(&list)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "{name}: {}",
            response.status()
        );
    }
    let response = post(&ana, &list, Some("no-such-session")).await.unwrap();
    assert_eq!(response.status(), 404);
    // A key decides, whatever session cookie comes with it: bob's key beside ana's cookie is
    // bob, a wrong key beside it is refused, and her cookie alone is not the key she opened
    // the session with.
    let browser = app.browser();
    app.sign_in(&browser, "ana", "correct horse").await;
    let in_session = |key: Option<&str>| {
        let mut request = browser
            .post(app.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .json(&list);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    assert_eq!(in_session(Some(&bob)).await.unwrap().status(), 404);
    let wrong = format!("{ana}0");
    assert_eq!(in_session(Some(&wrong)).await.unwrap().status(), 401);
    assert_eq!(in_session(None).await.unwrap().status(), 404);
    let response = in_session(Some(&ana)).await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "ana's key, with or without her cookie"
    );
    assert!(
        response.headers().get("set-cookie").is_none(),
        "a request that came with a key is answered without a session cookie"
    );

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
/// 403; its protected-resource metadata (slow to come: 300 ms) names its authorization
/// server. Returns its origin and how many times the metadata was asked for.
async fn refusing() -> (String, Arc<AtomicUsize>) {
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    let asked = Arc::new(AtomicUsize::new(0));
    let counted = asked.clone();
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
            get(move || async move {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                axum::Json(json!({"resource": "upstream", "authorization_servers": ["https://auth.example"]}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (origin, asked)
}

#[tokio::test]
async fn a_server_given_the_callers_token_is_probed_before_the_session_starts() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let ana = app.member_key("ana").await;
    let (counting, seen) = mcp_peers::counting(Some(mcp_peers::Guard {
        header: "authorization",
        value: "Bearer user-token".into(),
        challenge: true,
    }))
    .await;
    let (refusing, metadata_asked) = refusing().await;
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
        app.add_mcp_server(MASTER, &json!({"name": name, "url": url, "lifecycle": "legacy", "auth": "forward", "grants": grants})).await;
    }
    app.add_mcp_server(
        MASTER,
        &json!({"name": "plain", "url": counting, "lifecycle": "legacy", "grants": grants}),
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

    // The metadata the 401 points at: public, with the upstream's authorization server. A
    // burst of anonymous requests while the upstream is slow to answer costs it one fetch.
    let burst = (0..50).map(|_| {
        let request = app
            .client()
            .get(app.url("/.well-known/oauth-protected-resource/mcp/gated"));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    });
    for document in futures_util::future::join_all(burst).await {
        assert_eq!(document["resource"], app.url("/mcp/gated"));
        assert_eq!(
            document["authorization_servers"],
            json!(["https://auth.example"])
        );
    }
    assert_eq!(metadata_asked.load(Ordering::SeqCst), 1);
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
    let (app, ana, url, _) = counting_for_ana().await;
    let bob = app.member_key("bob").await;
    let counting = json!({"name": "counting", "url": url, "grants": {"users": ["ana"]}});
    const ECHO: &str = "/v1/mcp/servers/counting/approvals/echo";
    let put = |key: &str, path: &str, approval: Value| {
        let request = app.client().put(app.url(path)).bearer_auth(key);
        async move { request.json(&approval).send().await.unwrap() }
    };
    let listed = |key: &str| {
        let request = app
            .client()
            .get(app.url("/v1/mcp/approvals"))
            .bearer_auth(key);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };

    let response = put(&ana, ECHO, json!({"approval": "always"})).await;
    assert_eq!(response.status(), 200);
    let set: Value = response.json().await.unwrap();
    assert_eq!(
        set,
        json!({"server": "counting", "approvals": {"echo": "always"}})
    );
    assert_eq!(listed(&ana).await["data"], json!([set]));
    // bob may not use the server: he can neither set nor see an approval of it.
    let response = put(&bob, ECHO, json!({"approval": "always"})).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        listed(&bob).await["data"],
        json!([]),
        "bob may use no server"
    );
    // Bad input changes nothing.
    for (path, approval) in [
        (ECHO, json!({"approval": "sometimes"})),
        (ECHO, json!({"approval": "never", "extra": 1})),
        (
            "/v1/mcp/servers/counting/approvals/a%0Ab",
            json!({"approval": "never"}),
        ),
        (
            "/v1/mcp/servers/nowhere/approvals/echo",
            json!({"approval": "never"}),
        ),
    ] {
        let response = put(&ana, path, approval).await;
        assert!(
            response.status().is_client_error(),
            "{path}: {}",
            response.status()
        );
    }
    assert_eq!(listed(&ana).await["data"], json!([set]));

    // Nor does a caller who may not speak for ana: no credentials, a key of hers narrowed to
    // LLMs, or her own signed-in browser driven by a page on another site.
    let browser = app.browser();
    app.sign_in(&browser, "ana", "correct horse").await;
    let to_llms = browser
        .post(app.url("/v1/keys"))
        .json(&json!({"name": "llms only", "llms": []}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let never = json!({"approval": "never"});
    let anonymous = app.client().put(app.url(ECHO)).json(&never).send();
    assert_eq!(anonymous.await.unwrap().status(), 401);
    let anonymous = app.client().get(app.url("/v1/mcp/approvals")).send();
    assert_eq!(anonymous.await.unwrap().status(), 401);
    assert_eq!(put(&to_llms, ECHO, never.clone()).await.status(), 403);
    assert_eq!(
        listed(&to_llms).await["data"],
        json!([]),
        "a key for LLMs only"
    );
    let from_elsewhere = browser
        .put(app.url(ECHO))
        .header("origin", "https://elsewhere.example")
        .json(&never)
        .send();
    assert_eq!(from_elsewhere.await.unwrap().status(), 403);
    assert_eq!(listed(&ana).await["data"], json!([set]), "nothing written");

    // `ask` is the default and is not kept.
    let response = put(&ana, ECHO, json!({"approval": "ask"})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(listed(&ana).await["data"][0]["approvals"], json!({}));
    // A deleted server takes its approvals along: one registered later under the name
    // starts with none.
    let whoami = "/v1/mcp/servers/counting/approvals/whoami";
    assert_eq!(put(&ana, whoami, never).await.status(), 200);
    let response = app
        .client()
        .delete(app.url("/v1/mcp/servers/counting"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    app.add_mcp_server(MASTER, &counting).await;
    assert_eq!(
        listed(&ana).await["data"],
        json!([{"server": "counting", "approvals": {}}])
    );
    app.stop().await;
}

/// An MCP server whose sessions open but whose calls fail as `status` says, with a JSON-RPC
/// error in the body naming `said`.
async fn failing_calls(status: u16, said: &'static str) -> String {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let answer = move |axum::Json(message): axum::Json<Value>| async move {
        let Some(id) = message.get("id").cloned() else {
            return StatusCode::ACCEPTED.into_response();
        };
        let result = match message["method"].as_str().unwrap_or_default() {
            "initialize" => {
                json!({"protocolVersion": "2025-11-25", "capabilities": {"tools": {}}, "serverInfo": {"name": "failing", "version": "1"}})
            }
            "tools/list" => json!({"tools": [{"name": "work", "inputSchema": {"type": "object"}}]}),
            _ => {
                let error =
                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32001, "message": said}});
                return (StatusCode::from_u16(status).unwrap(), axum::Json(error)).into_response();
            }
        };
        let mut response =
            axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response();
        response
            .headers_mut()
            .insert("mcp-session-id", "failing-session".parse().unwrap());
        response
    };
    let app = axum::Router::new().route("/mcp", axum::routing::post(answer));
    format!("{}/mcp", crate::harness::serve_loopback(app).await)
}

#[tokio::test]
async fn a_call_an_upstream_session_refuses_is_reported_as_the_servers_failure() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let ana = app.member_key("ana").await;
    let grants = json!({"users": ["ana"]});
    for (name, status, said) in [
        ("revoked", 401, "token revoked upstream"),
        ("forbidden", 403, "not for you upstream"),
        ("erring", 500, "the tool broke upstream"),
    ] {
        let url = failing_calls(status, said).await;
        app.add_mcp_server(
            MASTER,
            &json!({"name": name, "url": url, "lifecycle": "legacy", "grants": grants}),
        )
        .await;
        let session = client(app.url(&format!("/mcp/{name}")), &ana)
            .await
            .expect("the session opens");
        let answer = session.call_tool(CallToolRequestParams::new("work")).await;
        match status {
            // The credential refused mid-session: the server's failure, said as Hearth's,
            // the upstream's own words not passed on as if the tool had answered.
            401 | 403 => {
                let result = answer.expect("a result that says the server failed");
                assert_eq!(result.is_error, Some(true), "{name}");
                let text = &result.content[0].as_text().unwrap().text;
                assert!(
                    text.contains(&format!("the shared MCP server {name} failed")),
                    "{text}"
                );
                assert!(text.contains("auth"), "{text}");
                assert!(!text.contains(said), "{text}");
            }
            // Any other failing status with a JSON-RPC error: that error is the answer.
            _ => {
                let error = answer.expect_err("the server's error");
                assert!(error.to_string().contains(said), "{error}");
            }
        }
        session.cancel().await.unwrap();
    }
    app.stop().await;
}

/// Peer ports of the `tools/call` requests a server answered, in order.
type Ports = Arc<std::sync::Mutex<Vec<u16>>>;

/// How a noting server answers a call.
#[derive(Clone)]
enum Calls {
    Answered,
    /// Answered, each answer ending its connection (`Connection: close`).
    Closing,
    /// Sent on with a 307 to this URL.
    RedirectedTo(String),
}

/// An MCP server with an `echo` tool on `listener` until `stop` fires (its connections then
/// closed), noting the peer port of each call in `ports`, answering calls as `calls` says.
async fn serve_noting(
    listener: tokio::net::TcpListener,
    ports: Ports,
    calls: Calls,
    stop: tokio_util::sync::CancellationToken,
) {
    use axum::extract::ConnectInfo;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let answer = move |ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
                       axum::Json(message): axum::Json<Value>| {
        let (ports, calls) = (ports.clone(), calls.clone());
        async move {
            let Some(id) = message.get("id").cloned() else {
                return StatusCode::ACCEPTED.into_response();
            };
            let result = match message["method"].as_str().unwrap_or_default() {
                "initialize" => {
                    json!({"protocolVersion": "2025-11-25", "capabilities": {"tools": {}}, "serverInfo": {"name": "noting", "version": "1"}})
                }
                "tools/list" => {
                    json!({"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]})
                }
                "tools/call" => {
                    ports.lock().unwrap().push(peer.port());
                    if let Calls::RedirectedTo(to) = calls {
                        let location = [("location", to)];
                        return (StatusCode::TEMPORARY_REDIRECT, location).into_response();
                    }
                    let text = message["params"]["arguments"]["text"].clone();
                    json!({"content": [{"type": "text", "text": text}]})
                }
                _ => json!({}),
            };
            let mut response =
                axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response();
            let headers = response.headers_mut();
            headers.insert("mcp-session-id", "noting-session".parse().unwrap());
            if let Calls::Closing = calls {
                headers.insert("connection", "close".parse().unwrap());
            }
            response
        }
    };
    let app = axum::Router::new().route("/mcp", axum::routing::post(answer));
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
        .unwrap();
}

/// `echo` called with `text` through `session`; what it answered.
async fn echoed(
    session: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    text: &str,
) -> String {
    let mut params = CallToolRequestParams::new("echo");
    params.arguments = Some(serde_json::from_value(json!({"text": text})).unwrap());
    let result = session
        .call_tool(params)
        .await
        .expect("the call is answered");
    result.content[0].as_text().unwrap().text.clone()
}

/// Server `name` at `url` registered for ana, and a session of hers through `/mcp/{name}`.
async fn registered(
    app: &TestApp,
    ana: &str,
    name: &str,
    url: String,
) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    let server =
        json!({"name": name, "url": url, "lifecycle": "legacy", "grants": {"users": ["ana"]}});
    app.add_mcp_server(MASTER, &server).await;
    let path = format!("/mcp/{name}");
    client(app.url(&path), ana)
        .await
        .expect("the session opens")
}

/// `count` calls of `echo`, one after the other, each answered with what it was given.
async fn in_turn(
    session: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    label: &str,
    count: usize,
) {
    for n in 0..count {
        let text = format!("{label} {n}");
        assert_eq!(echoed(session, &text).await, text);
    }
}

#[tokio::test]
async fn calls_to_a_plain_http_server_share_connections_that_may_close_under_them() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let ana = app.member_key("ana").await;
    let ports = Ports::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(serve_noting(
        listener,
        ports.clone(),
        Calls::Answered,
        stop.clone(),
    ));
    let session = registered(&app, &ana, "noting", format!("http://{address}/mcp")).await;

    // Calls in turn go over one connection; calls side by side are each answered.
    in_turn(&session, "turn", 5).await;
    let first: Vec<u16> = ports.lock().unwrap().clone();
    assert_eq!(first.len(), 5);
    assert!(
        first.iter().all(|p| *p == first[0]),
        "one connection: {first:?}"
    );
    let texts: Vec<String> = (0..8).map(|n| format!("side by side {n}")).collect();
    let answers =
        futures_util::future::join_all(texts.iter().map(|text| echoed(&session, text))).await;
    assert_eq!(answers, texts);

    // The server restarts at the same address, closing the connections Hearth keeps: the
    // next call is answered on a new one.
    stop.cancel();
    server.await.unwrap();
    ports.lock().unwrap().clear();
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(serve_noting(
        listener,
        ports.clone(),
        Calls::Answered,
        stop.clone(),
    ));
    assert_eq!(
        echoed(&session, "after the restart").await,
        "after the restart"
    );
    let after: Vec<u16> = ports.lock().unwrap().clone();
    assert_eq!(after.len(), 1);
    assert!(
        !first.contains(&after[0]),
        "a new connection: {first:?} {after:?}"
    );
    session.cancel().await.unwrap();

    // A server that closes every connection after its answer: each call has a new one.
    let closing = Ports::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(serve_noting(
        listener,
        closing.clone(),
        Calls::Closing,
        stop.clone(),
    ));
    let session = registered(&app, &ana, "closing", url).await;
    in_turn(&session, "closing", 3).await;
    let seen: Vec<u16> = closing.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(
        seen[0] != seen[1] && seen[1] != seen[2] && seen[0] != seen[2],
        "{seen:?}"
    );
    session.cancel().await.unwrap();
    stop.cancel();
    app.stop().await;
}

#[tokio::test]
async fn a_call_redirected_to_another_origin_is_not_followed() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let ana = app.member_key("ana").await;
    // Where the redirect points: anything that reaches it is noted.
    let reached = Ports::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere = format!("http://{}/mcp", listener.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(serve_noting(
        listener,
        reached.clone(),
        Calls::Answered,
        stop.clone(),
    ));
    let asked = Ports::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let calls = Calls::RedirectedTo(elsewhere);
    tokio::spawn(serve_noting(listener, asked.clone(), calls, stop.clone()));
    let session = registered(&app, &ana, "redirecting", url).await;

    let mut params = CallToolRequestParams::new("echo");
    params.arguments = Some(serde_json::from_value(json!({"text": "hi"})).unwrap());
    let result = session
        .call_tool(params)
        .await
        .expect("a result that says the server failed");
    assert_eq!(result.is_error, Some(true));
    let text = &result.content[0].as_text().unwrap().text;
    assert!(
        text.contains("the shared MCP server redirecting failed"),
        "{text}"
    );
    assert!(!asked.lock().unwrap().is_empty(), "the call was asked");
    assert!(
        reached.lock().unwrap().is_empty(),
        "nothing reached the other origin"
    );
    session.cancel().await.unwrap();
    stop.cancel();
    app.stop().await;
}

#[tokio::test]
async fn a_server_given_the_callers_token_keeps_a_bounded_number_of_sessions() {
    // As many callers as the pool keeps sessions for a server, and one more.
    const CALLERS: usize = 257;
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let ana = app.member_key("ana").await;
    let (counting, seen) = mcp_peers::counting(None).await;
    app.add_mcp_server(
        MASTER,
        &json!({"name": "fwd", "url": counting, "lifecycle": "legacy", "auth": "forward", "grants": {"users": ["ana"]}}),
    )
    .await;
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}});
    let open = |caller: usize| {
        app.client()
            .post(app.url("/mcp/fwd"))
            .header("x-api-key", &ana)
            .bearer_auth(format!("token-{caller}"))
            .header("accept", "application/json, text/event-stream")
            .json(&initialize)
            .send()
    };
    for caller in 0..CALLERS {
        let response = open(caller).await.unwrap();
        assert_eq!(response.status(), 200, "caller {caller}");
    }
    assert_eq!(seen.handshakes.load(Ordering::SeqCst), CALLERS);
    // The session used least lately (the first caller's) made room for the last.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.ended.load(Ordering::SeqCst) < 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen.ended.load(Ordering::SeqCst), 1);
    // A caller whose session is kept reuses it; the first caller gets a new one, and nothing
    // else is closed beyond the one that makes room for it.
    assert_eq!(open(CALLERS - 1).await.unwrap().status(), 200);
    assert_eq!(seen.handshakes.load(Ordering::SeqCst), CALLERS);
    assert_eq!(open(0).await.unwrap().status(), 200);
    assert_eq!(seen.handshakes.load(Ordering::SeqCst), CALLERS + 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.ended.load(Ordering::SeqCst) < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen.ended.load(Ordering::SeqCst), 2);
    app.stop().await;
}
