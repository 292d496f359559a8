//! Who sees and uses which shared MCP server: every route of the registry and of its tools,
//! for an admin, a viewer, a member with a grant, a member without one, a key narrowed to
//! one server and a caller with no credentials, asserting both the status and that no
//! secret — and, outside the admin's and viewer's views, no URL, header, env, command or
//! argument — appears in any answer.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::mcp_peers::{self, Guard};

const MASTER: &str = "master-key-for-tests";
const PASSWORD: &str = "correct horse";

/// Never in any answer: the credential, header values and env values.
const SECRETS: &[&str] = &[
    "cred-SECRET-a",
    "hdr-SECRET-c",
    "env-SECRET-d",
    "env-SECRET-f",
];
/// Only in the admin's and viewer's views: where a server is and how it starts.
const CONFIG: &[&str] = &[
    "CONFIG-url",
    "X-Config-Static",
    "CONFIG-arg",
    "server-everything",
    "127.0.0.1",
    "ORG_NAME",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Admin,
    Viewer,
    Granted,
    NotGranted,
    Narrowed,
    Nobody,
}

const EVERYONE: [Who; 6] = [
    Who::Admin,
    Who::Viewer,
    Who::Granted,
    Who::NotGranted,
    Who::Narrowed,
    Who::Nobody,
];

struct Callers {
    admin: String,
    viewer: String,
    granted: String,
    not_granted: String,
    narrowed: String,
}

impl Callers {
    fn key(&self, who: Who) -> Option<&str> {
        match who {
            Who::Admin => Some(&self.admin),
            Who::Viewer => Some(&self.viewer),
            Who::Granted => Some(&self.granted),
            Who::NotGranted => Some(&self.not_granted),
            Who::Narrowed => Some(&self.narrowed),
            Who::Nobody => None,
        }
    }
}

async fn key_for(
    app: &TestApp,
    name: &str,
    role: app::api::Role,
    narrowed: Option<Value>,
) -> String {
    app.add_user(name, role, PASSWORD).await;
    let client = app.browser();
    app.sign_in(&client, name, PASSWORD).await;
    let mut body = json!({"name": "matrix"});
    if let Some(servers) = narrowed {
        body["mcp_servers"] = servers;
    }
    let response = client
        .post(app.url("/v1/keys"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let created: Value = response.json().await.unwrap();
    created["key"].as_str().unwrap().to_owned()
}

fn files(url: &str) -> Value {
    json!({
        "name": "files",
        "url": format!("{url}?tok=CONFIG-url"),
        "lifecycle": "legacy",
        "auth": "bearer",
        "credential": "cred-SECRET-a",
        "env": [{"name": "ORG_NAME", "value": "env-SECRET-d"}],
        "headers": [{"name": "X-Config-Static", "value": "hdr-SECRET-c"}, {"name": "X-Org", "value": "${ORG_NAME}"}],
        "grants": {"users": ["mia"]},
    })
}

#[tokio::test]
async fn every_route_answers_each_caller_with_the_right_status_and_nothing_it_must_not_see() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (url, _) = mcp_peers::counting(Some(Guard {
        header: "authorization",
        value: "Bearer cred-SECRET-a".into(),
        challenge: true,
    }))
    .await;
    let admin = key_for(&app, "ada", app::api::Role::Admin, None).await;
    let viewer = key_for(&app, "vic", app::api::Role::Viewer, None).await;
    let granted = key_for(&app, "mia", app::api::Role::Member, None).await;
    let not_granted = key_for(&app, "ned", app::api::Role::Member, None).await;
    let mut wiki = mcp_peers::everything_stdio("wiki");
    wiki["args"]
        .as_array_mut()
        .unwrap()
        .push(json!("CONFIG-arg"));
    wiki["env"] = json!([{"name": "WIKI_TOKEN", "value": "env-SECRET-f"}]);
    wiki["grants"] = json!({"users": ["mia"]});
    for server in [files(&url), wiki] {
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
    let callers = Callers {
        admin,
        viewer,
        granted,
        not_granted,
        narrowed: {
            // mia's second key, narrowed to one of her two servers.
            let client = app.browser();
            app.sign_in(&client, "mia", PASSWORD).await;
            let response = client
                .post(app.url("/v1/keys"))
                .json(&json!({"name": "files only", "mcp_servers": ["files"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            let created: Value = response.json().await.unwrap();
            assert_eq!(created["mcp_servers"], json!(["files"]));
            created["key"].as_str().unwrap().to_owned()
        },
    };

    use Who::*;
    let update = {
        let mut f = files(&url);
        f.as_object_mut().unwrap().remove("credential");
        f["headers"] = json!([{"name": "X-Config-Static", "value": ""}, {"name": "X-Org", "value": "${ORG_NAME}"}]);
        f["env"] = json!([{"name": "ORG_NAME", "value": ""}]);
        f
    };
    let echo = |server: &str| json!({"server": server, "name": "echo", "arguments": {"text": "hi", "message": "hi"}});
    // (method, path, body, the status each caller gets, in EVERYONE's order)
    let routes: Vec<(Method, String, Option<Value>, [u16; 6])> = vec![
        (
            Method::GET,
            "/v1/mcp/servers".into(),
            None,
            [200, 200, 200, 200, 200, 401],
        ),
        (
            Method::GET,
            "/v1/mcp/servers/files".into(),
            None,
            [200, 200, 200, 404, 200, 401],
        ),
        (
            Method::GET,
            "/v1/mcp/servers/wiki".into(),
            None,
            [200, 200, 200, 404, 404, 401],
        ),
        (
            Method::PUT,
            "/v1/mcp/servers/files".into(),
            Some(update.clone()),
            [200, 403, 403, 403, 403, 401],
        ),
        (
            Method::POST,
            "/v1/mcp/servers/test".into(),
            Some(update.clone()),
            [200, 403, 403, 403, 403, 401],
        ),
        (
            Method::GET,
            "/v1/mcp/servers/health?refresh=1".into(),
            None,
            [200, 200, 200, 200, 200, 401],
        ),
        (
            Method::GET,
            "/v1/mcp/tools".into(),
            None,
            [200, 200, 200, 200, 200, 401],
        ),
        (
            Method::POST,
            "/v1/mcp/tools/call".into(),
            Some(echo("files")),
            [404, 404, 200, 404, 200, 401],
        ),
        (
            Method::POST,
            "/v1/mcp/tools/call".into(),
            Some(echo("wiki")),
            [404, 404, 200, 404, 404, 401],
        ),
        (
            Method::DELETE,
            "/v1/mcp/servers/wiki".into(),
            None,
            [204, 403, 403, 403, 403, 401],
        ),
    ];
    // The admin's delete goes last, so everyone is asked while both servers exist.
    let mut order: Vec<(usize, Who)> = Vec::new();
    for (r, _) in routes.iter().enumerate() {
        for who in EVERYONE {
            if !(routes[r].0 == Method::DELETE && who == Admin) {
                order.push((r, who));
            }
        }
    }
    order.push((routes.len() - 1, Admin));
    for (r, who) in order {
        let (method, path, body, statuses) = &routes[r];
        let expected = statuses[EVERYONE.iter().position(|w| *w == who).unwrap()];
        let mut request = app.client().request(method.clone(), app.url(path));
        if let Some(key) = callers.key(who) {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, expected, "{method} {path} as {who:?}: {text}");
        for secret in SECRETS {
            assert!(
                !text.contains(secret),
                "{method} {path} as {who:?} shows {secret}: {text}"
            );
        }
        if !matches!(who, Admin | Viewer) {
            for config in CONFIG {
                assert!(
                    !text.contains(config),
                    "{method} {path} as {who:?} shows {config}: {text}"
                );
            }
        }
        if *method == Method::GET && path == "/v1/mcp/servers" && status == 200 {
            let list: Value = serde_json::from_str(&text).unwrap();
            let names: Vec<&str> = list["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap())
                .collect();
            let seen: &[&str] = match who {
                Admin | Viewer | Granted => &["files", "wiki"],
                NotGranted => &[],
                Narrowed => &["files"],
                Nobody => unreachable!(),
            };
            assert_eq!(names, seen, "{who:?}");
        }
        if path == "/v1/mcp/tools" && status == 200 {
            let list: Value = serde_json::from_str(&text).unwrap();
            let mut servers: Vec<&str> = list["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["server"].as_str().unwrap())
                .collect();
            servers.dedup();
            let usable: &[&str] = match who {
                Granted => &["files", "wiki"],
                Narrowed => &["files"],
                // Editing or reading the registry never implies using what is in it.
                _ => &[],
            };
            assert_eq!(servers, usable, "{who:?}: {text}");
        }
        if path.starts_with("/v1/mcp/servers/health") && status == 200 && !matches!(who, Admin) {
            let list: Value = serde_json::from_str(&text).unwrap();
            for h in list["data"].as_array().unwrap() {
                assert_eq!(h.get("error"), None, "{who:?}");
                assert_eq!(h.get("stderr"), None, "{who:?}");
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_key_narrowed_to_servers_runs_no_llm_and_one_narrowed_to_llms_uses_no_server() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (url, _) = mcp_peers::counting(None).await;
    let response = app
        .client()
        .post(app.url("/v1/mcp/servers"))
        .bearer_auth(MASTER)
        .json(&json!({"name": "files", "url": url, "lifecycle": "legacy", "grants": {"all_members": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let to_servers = key_for(&app, "mia", app::api::Role::Member, Some(json!(["files"]))).await;
    let client = app.browser();
    app.sign_in(&client, "mia", PASSWORD).await;
    // Unknown names are refused, naming the name.
    let response = client
        .post(app.url("/v1/keys"))
        .json(&json!({"name": "bad", "mcp_servers": ["nope"]}))
        .send()
        .await
        .unwrap();
    let body = crate::harness::error_body(response, 400).await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("nope"),
        "{body}"
    );

    let call = |key: String| {
        let app = &app;
        async move {
            app.client()
                .post(app.url("/v1/mcp/tools/call"))
                .bearer_auth(key)
                .json(&json!({"server": "files", "name": "echo", "arguments": {"text": "x"}}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(call(to_servers.clone()).await, 200);
    // It may not create keys or read the registry.
    let response = app
        .client()
        .post(app.url("/v1/keys"))
        .bearer_auth(&to_servers)
        .json(&json!({"name": "wider"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // A key narrowed to LLMs (none registered: the list is empty) uses no shared server.
    let response = client
        .post(app.url("/v1/keys"))
        .json(&json!({"name": "llms only", "llms": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let to_llms: Value = response.json().await.unwrap();
    assert_eq!(call(to_llms["key"].as_str().unwrap().to_owned()).await, 404);

    // `hearth key create --mcp` narrows the same way.
    let output = crate::startup::hearth(&app.config.data_dir)
        .args(["key", "create", "--user", "mia", "--mcp", "files"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cli_key = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(call(cli_key.clone()).await, 200);
    let keys: Value = app
        .client()
        .get(app.url("/v1/keys"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let narrowed = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["mcp_servers"] == json!(["files"]))
        .count();
    assert_eq!(narrowed, 2, "{keys}");
    app.stop().await;
}
