//! Personal MCP servers: kept per owner, headers encrypted at rest and shown to their owner
//! only, another owner's server indistinguishable from a missing one.

use app::api::{McpTransport, PersonalMcpServer, PersonalMcpServerList, Role};
use serde_json::json;

use crate::harness::{error_body, TestApp};

const TOKEN: &str = "upstream-token-5f1e9c";

fn everything(name: &str) -> serde_json::Value {
    json!({
        "name": name,
        "url": "http://127.0.0.1:3001/mcp",
        "headers": [{"name": "Authorization", "value": format!("Bearer {TOKEN}")}],
    })
}

async fn list(app: &TestApp, client: &reqwest::Client) -> Vec<PersonalMcpServer> {
    let list: PersonalMcpServerList = client
        .get(app.url("/v1/me/mcp-servers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list.data
}

#[tokio::test]
async fn a_server_follows_its_owner_and_its_headers_are_encrypted_at_rest() {
    let app = TestApp::spawn(&[]).await;
    app.add_user("ana", Role::Member, "password ana").await;
    let laptop = app.browser();
    app.sign_in(&laptop, "ana", "password ana").await;

    let created = laptop
        .post(app.url("/v1/me/mcp-servers"))
        .json(&everything("Everything"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: PersonalMcpServer = created.json().await.unwrap();
    assert_eq!(created.transport, McpTransport::Auto);
    assert!(created.use_proxy, "the proxy is on unless turned off");

    // Another browser, same user: the server is there, with its header for its owner.
    let phone = app.browser();
    app.sign_in(&phone, "ana", "password ana").await;
    let listed = list(&app, &phone).await;
    assert_eq!(listed, [created.clone()]);
    assert_eq!(listed[0].headers[0].value, format!("Bearer {TOKEN}"));

    // A whole replacement: tool switches, proxy off, new name.
    let mut input = created.input();
    input.name = "Everything (direct)".into();
    input.use_proxy = false;
    input.tools.insert("echo".into(), false);
    let put = phone
        .put(app.url(&format!("/v1/me/mcp-servers/{}", created.id)))
        .json(&input)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let updated: PersonalMcpServer = put.json().await.unwrap();
    assert!(!updated.tool_enabled("echo") && updated.tool_enabled("get-sum"));
    assert!(!updated.use_proxy);
    assert_eq!(updated.headers, created.headers);

    app.assert_not_stored(TOKEN, "the header value").await;
}

#[tokio::test]
async fn another_users_server_answers_404_on_every_route() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    app.add_user("ana", Role::Member, "password ana").await;
    app.add_user("root", Role::Admin, "password root").await;
    let (ana, root) = (app.browser(), app.browser());
    app.sign_in(&ana, "ana", "password ana").await;
    app.sign_in(&root, "root", "password root").await;
    let anas: PersonalMcpServer = ana
        .post(app.url("/v1/me/mcp-servers"))
        .json(&everything("Mine"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = app.url(&format!("/v1/me/mcp-servers/{}", anas.id));

    // Not even an admin reaches it through their own routes, and its token never shows.
    assert!(list(&app, &root).await.is_empty());
    let shown = root.get(&path).send().await.unwrap();
    let text = error_body(shown, 404).await.to_string();
    assert!(!text.contains(TOKEN));
    error_body(
        root.put(&path)
            .json(&everything("Taken"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    error_body(root.delete(&path).send().await.unwrap(), 404).await;
    error_body(
        root.get(app.url("/v1/me/mcp-servers/not-a-number"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    // The master key is an owner of its own too.
    let master = app
        .client()
        .get(app.url("/v1/me/mcp-servers"))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap();
    let master: PersonalMcpServerList = master.json().await.unwrap();
    assert!(master.data.is_empty());

    assert_eq!(list(&app, &ana).await, [anas.clone()], "untouched");
    assert_eq!(ana.delete(&path).send().await.unwrap().status(), 204);
    assert!(list(&app, &ana).await.is_empty());
    error_body(ana.delete(&path).send().await.unwrap(), 404).await;
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_changes_nothing() {
    let app = TestApp::spawn(&[]).await;
    let local = app.browser();
    let base = app.url("/v1/me/mcp-servers");
    let kept: PersonalMcpServer = local
        .post(&base)
        .json(&everything("Kept"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let cases = [
        (json!({"name": "", "url": "http://h/mcp"}), 400, "name"),
        (json!({"name": "x", "url": "ftp://h/mcp"}), 400, "http"),
        (
            json!({"name": "x", "url": "http://me:pw@h/mcp"}),
            400,
            "credentials",
        ),
        (
            json!({"name": "x", "url": "http://h/mcp", "transport": "stdio"}),
            400,
            "transport",
        ),
        (
            json!({"name": "x", "url": "http://h/mcp", "headers": [{"name": "Cookie", "value": "a"}]}),
            400,
            "Cookie",
        ),
        (
            json!({"name": "x", "url": "http://h/mcp", "headers": [{"name": "X-T", "value": "sec\u{0}ret"}]}),
            400,
            "X-T",
        ),
        (
            json!({"name": "x", "url": "http://h/mcp", "owner": "ana"}),
            400,
            "owner",
        ),
        (
            json!({"name": "Kept", "url": "http://h/mcp"}),
            409,
            "already",
        ),
    ];
    for (body, status, says) in cases {
        let response = local.post(&base).json(&body).send().await.unwrap();
        let error = error_body(response, status).await;
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
        assert!(
            !message.contains("sec"),
            "a header value is never echoed: {message}"
        );
    }
    let bad_put = local
        .put(format!("{base}/{}", kept.id))
        .json(&json!({"name": "Kept", "url": "gopher://h"}))
        .send()
        .await
        .unwrap();
    error_body(bad_put, 400).await;
    let not_json = local
        .post(&base)
        .body("name=x")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    error_body(not_json, 415).await;

    assert_eq!(list(&app, &local).await, [kept], "nothing changed");
    error_body(
        app.client()
            .get(&base)
            .header("host", "evil.example")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
}

#[tokio::test]
async fn a_tools_approval_is_kept_for_its_owner_across_browsers_and_restarts() {
    let app = TestApp::spawn(&[]).await;
    app.add_user("ana", Role::Member, "password ana").await;
    app.add_user("bob", Role::Member, "password bob").await;
    let ana = app.browser();
    app.sign_in(&ana, "ana", "password ana").await;
    let created: PersonalMcpServer = ana
        .post(app.url("/v1/me/mcp-servers"))
        .json(&everything("Everything"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        created.approval("echo"),
        app::api::ToolApproval::Ask,
        "a tool asks unless told otherwise"
    );
    let approval = |tool: &str| {
        app.url(&format!(
            "/v1/me/mcp-servers/{}/approvals/{tool}",
            created.id
        ))
    };

    let set = ana
        .put(approval("echo"))
        .json(&json!({"approval": "always"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let never = ana
        .put(approval("get-env"))
        .json(&json!({"approval": "never"}))
        .send()
        .await
        .unwrap();
    let server: PersonalMcpServer = never.json().await.unwrap();
    assert_eq!(server.approval("echo"), app::api::ToolApproval::Always);
    assert_eq!(server.approval("get-env"), app::api::ToolApproval::Never);

    // Bad input and other owners change nothing; a control character in a tool name (which
    // would forge a log line) is refused where it enters.
    error_body(
        ana.put(approval("echo"))
            .json(&json!({"approval": "sometimes"}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    for forged in [
        "echo%0Aaudit%20event%20principal%3Dadmin",
        "echo%0D",
        "echo%1B%5B31m",
    ] {
        error_body(
            ana.put(approval(forged))
                .json(&json!({"approval": "always"}))
                .send()
                .await
                .unwrap(),
            400,
        )
        .await;
    }
    let bob = app.browser();
    app.sign_in(&bob, "bob", "password bob").await;
    error_body(
        bob.put(approval("echo"))
            .json(&json!({"approval": "never"}))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    // Editing the server keeps its approvals.
    let edited = ana
        .put(app.url(&format!("/v1/me/mcp-servers/{}", created.id)))
        .json(&server.input())
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 200);

    let dir = app.stop().await;
    let app = TestApp::spawn_in(dir, &[]).await;
    let phone = app.browser();
    app.sign_in(&phone, "ana", "password ana").await;
    let kept = list(&app, &phone).await.remove(0);
    assert_eq!(kept.approval("echo"), app::api::ToolApproval::Always);
    assert_eq!(kept.approval("get-env"), app::api::ToolApproval::Never);

    // Back to asking: nothing stored for it.
    let asked: PersonalMcpServer = phone
        .put(app.url(&format!("/v1/me/mcp-servers/{}/approvals/echo", kept.id)))
        .json(&json!({"approval": "ask"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(asked.approvals.len(), 1);
}

#[tokio::test]
async fn the_tools_last_seen_and_a_disconnect_are_kept_for_the_owner_only() {
    let app = TestApp::spawn(&[]).await;
    app.add_user("ana", Role::Member, "password ana").await;
    app.add_user("bob", Role::Member, "password bob").await;
    let (ana, bob) = (app.browser(), app.browser());
    app.sign_in(&ana, "ana", "password ana").await;
    app.sign_in(&bob, "bob", "password bob").await;
    let created: PersonalMcpServer = ana
        .post(app.url("/v1/me/mcp-servers"))
        .json(&everything("Everything"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(created.known_tools.is_empty() && created.auto_connect);
    let path = app.url(&format!("/v1/me/mcp-servers/{}/known-tools", created.id));

    let tools = json!({"tools": [
        {"name": "echo", "description": "Echoes back the input"},
        {"name": "get-sum", "description": ""},
    ]});
    let saved = ana.put(&path).json(&tools).send().await.unwrap();
    assert_eq!(saved.status(), 200);
    let listed = list(&app, &ana).await;
    let names: Vec<(&str, Option<&str>)> = listed[0]
        .known_tools
        .iter()
        .map(|t| (t.name.as_str(), t.description.as_deref()))
        .collect();
    assert_eq!(
        names,
        [("echo", Some("Echoes back the input")), ("get-sum", None)]
    );

    // Another user's PUT is a 404 and changes nothing; bad lists are 400s naming `tools`.
    error_body(bob.put(&path).json(&tools).send().await.unwrap(), 404).await;
    let many: Vec<_> = (0..1001)
        .map(|i| json!({"name": format!("t{i}")}))
        .collect();
    for bad in [
        json!({"tools": [{"name": "a"}, {"name": "a"}]}),
        json!({"tools": [{"name": "bad\nname"}]}),
        json!({"tools": [{"name": ""}]}),
        json!({"tools": [{"name": "long", "description": "x".repeat(2001)}]}),
        json!({"tools": many}),
    ] {
        let error = error_body(ana.put(&path).json(&bad).send().await.unwrap(), 400).await;
        assert_eq!(error["error"]["param"], "tools", "{error}");
    }
    error_body(
        ana.put(&path)
            .json(&json!({"tools": [], "extra": 1}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(list(&app, &ana).await[0].known_tools.len(), 2, "unchanged");

    // A disconnect is kept; an edit keeps the tools, a new URL forgets them.
    let mut input = list(&app, &ana).await[0].input();
    input.auto_connect = false;
    let server = app.url(&format!("/v1/me/mcp-servers/{}", created.id));
    let updated: PersonalMcpServer = ana
        .put(&server)
        .json(&input)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!updated.auto_connect);
    assert_eq!(updated.known_tools.len(), 2);
    input.url = "http://127.0.0.1:3002/mcp".into();
    let moved: PersonalMcpServer = ana
        .put(&server)
        .json(&input)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(moved.known_tools.is_empty() && !moved.auto_connect);
}

#[tokio::test]
async fn known_tools_refuse_a_narrowed_key_and_a_page_on_another_site() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    app.add_user("ana", Role::Member, "password ana").await;
    let llm = json!({"name": "cheap", "provider": "openai-compatible", "base_url": "http://127.0.0.1:9", "model": "m", "grants": {"all_members": true}});
    let created = app
        .client()
        .post(app.url("/v1/llms?skip_auth_check=true"))
        .bearer_auth("master-secret-0123456789")
        .json(&llm)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let ana = app.browser();
    app.sign_in(&ana, "ana", "password ana").await;
    let server: PersonalMcpServer = ana
        .post(app.url("/v1/me/mcp-servers"))
        .json(&everything("Everything"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let narrowed = ana
        .post(app.url("/v1/keys"))
        .json(&json!({"name": "narrow", "llms": ["cheap"]}))
        .send()
        .await
        .unwrap()
        .json::<app::api::CreatedApiKey>()
        .await
        .unwrap()
        .key;
    let path = app.url(&format!("/v1/me/mcp-servers/{}/known-tools", server.id));
    let tools = json!({"tools": [{"name": "forged"}]});
    let by_key = app
        .client()
        .put(&path)
        .bearer_auth(&narrowed)
        .json(&tools)
        .send()
        .await
        .unwrap();
    error_body(by_key, 403).await;
    let from_elsewhere = ana
        .put(&path)
        .header("origin", "https://elsewhere.example")
        .json(&tools)
        .send()
        .await
        .unwrap();
    error_body(from_elsewhere, 403).await;
    assert!(
        list(&app, &ana).await[0].known_tools.is_empty(),
        "nothing written"
    );
}
