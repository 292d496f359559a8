//! LLM resources and their auth probe, against fake providers that are real HTTP servers on
//! loopback and count the calls they get.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use app::api::{LlmList, Role, SavedLlm};

use crate::harness::{error_body, TestApp};

const GOOD: &str = "sk-good-5b2d";

/// Answers by key: `sk-good-*` 200, `sk-forbidden` 403, `sk-typo` 404, anything else 401.
async fn start_provider() -> (String, Arc<AtomicUsize>) {
    async fn answer(State(calls): State<Arc<AtomicUsize>>, headers: HeaderMap) -> StatusCode {
        calls.fetch_add(1, Ordering::SeqCst);
        let auth = headers
            .get("authorization")
            .or_else(|| headers.get("x-api-key"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let key = auth.strip_prefix("Bearer ").unwrap_or(auth);
        match key {
            k if k.starts_with("sk-good") => StatusCode::OK,
            "sk-forbidden" => StatusCode::FORBIDDEN,
            "sk-typo" => StatusCode::NOT_FOUND,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
    let calls = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/v1/models", get(answer))
        .route("/v1/messages", post(answer))
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), calls)
}

fn llm(name: &str, base: &str, key: &str) -> Value {
    json!({"name": name, "provider": "openai-compatible", "base_url": base, "model": "gpt-x", "api_key": key, "grants": {"all_members": true}})
}

#[tokio::test]
async fn a_rejected_key_is_a_422_and_nothing_is_saved_while_other_outcomes_save_with_a_warning() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let (base, calls) = start_provider().await;
    let client = app.client();
    let post = |body: Value, query: &str| {
        client
            .post(app.url(&format!("/v1/llms{query}")))
            .bearer_auth("master-secret-0123456789")
            .json(&body)
            .send()
    };

    for (key, status) in [("sk-bad", 401), ("sk-forbidden", 403)] {
        let response = post(llm("rejected", &base, key), "").await.unwrap();
        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], status);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("rejected this key ({status})")),
            "{body}"
        );
        assert!(!body.to_string().contains(key), "the key is never echoed");
    }
    let listed: LlmList = client
        .get(app.url("/v1/llms"))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed.data.is_empty(), "nothing written on `auth`");

    let ok: SavedLlm = post(llm("good", &base, GOOD), "")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(ok.warning.is_none() && ok.llm.has_api_key);
    let typo = post(llm("typo", &base, "sk-typo"), "").await.unwrap();
    assert_eq!(typo.status(), 201);
    let typo: SavedLlm = typo.json().await.unwrap();
    assert_eq!(typo.warning.unwrap().status, Some(404));
    let down: SavedLlm = post(llm("down", "http://127.0.0.1:9", GOOD), "")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(down
        .warning
        .unwrap()
        .message
        .contains("Could not reach the provider"));

    // Offline registration: no upstream call, and the flag is not stored.
    let before = calls.load(Ordering::SeqCst);
    let offline = post(llm("offline", &base, "sk-bad"), "?skip_auth_check=true")
        .await
        .unwrap();
    assert_eq!(offline.status(), 201);
    assert_eq!(calls.load(Ordering::SeqCst), before);
    let text = client
        .get(app.url("/v1/llms/offline"))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("skip"), "{text}");

    // Keys never appear in any answer, nor in the database.
    let all = client
        .get(app.url("/v1/llms"))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!all.contains(GOOD) && !all.contains("sk-typo"), "{all}");
    app.db.close().await;
    for file in ["hearth.db", "hearth.db-wal"] {
        if let Ok(bytes) = std::fs::read(app.dir.path().join(file)) {
            assert!(
                !bytes.windows(GOOD.len()).any(|w| w == GOOD.as_bytes()),
                "{file} holds a provider key"
            );
        }
    }
}

#[tokio::test]
async fn an_update_probes_only_when_the_key_or_the_url_changes() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let (base, calls) = start_provider().await;
    let client = app.client();
    let put = |body: Value| {
        client
            .put(app.url("/v1/llms/m"))
            .bearer_auth("master-secret-0123456789")
            .json(&body)
            .send()
    };
    let created = client
        .post(app.url("/v1/llms"))
        .bearer_auth("master-secret-0123456789")
        .json(&llm("m", &base, GOOD))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let mut same = llm("m", &base, GOOD);
    same.as_object_mut().unwrap().remove("api_key");
    same["description"] = json!("now with a description");
    same["tier"] = json!("cheap");
    assert_eq!(put(same.clone()).await.unwrap().status(), 200);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "a description or tier change makes no upstream call"
    );

    // A new key is checked, and a rejected one changes nothing.
    let rejected = put(llm("m", &base, "sk-bad")).await.unwrap();
    assert_eq!(rejected.status(), 422);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let kept: Value = client
        .get(app.url("/v1/llms/m"))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(kept["description"], "now with a description");

    // A new URL is checked with the stored key.
    let (other, other_calls) = start_provider().await;
    let mut moved = same.clone();
    moved["base_url"] = json!(other);
    assert_eq!(put(moved).await.unwrap().status(), 200);
    assert_eq!(other_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn members_cannot_edit_and_see_only_what_they_may_run_without_its_url() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let (base, _) = start_provider().await;
    app.add_user("ana", Role::Member, "password ana").await;
    let ana = app.browser();
    app.sign_in(&ana, "ana", "password ana").await;
    let admin = app.client();
    for (name, grants) in [
        ("open", json!({"all_members": true})),
        ("named", json!({"users": ["ana"]})),
        ("closed", json!({})),
    ] {
        let mut body = llm(name, &base, GOOD);
        body["grants"] = grants;
        assert_eq!(
            admin
                .post(app.url("/v1/llms"))
                .bearer_auth("master-secret-0123456789")
                .json(&body)
                .send()
                .await
                .unwrap()
                .status(),
            201
        );
    }
    let seen: LlmList = ana
        .get(app.url("/v1/llms"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen.data
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>(),
        ["named", "open"]
    );
    assert!(seen
        .data
        .iter()
        .all(|l| l.base_url.is_none() && l.grants.is_none()));
    error_body(
        ana.get(app.url("/v1/llms/closed")).send().await.unwrap(),
        404,
    )
    .await;
    error_body(
        ana.post(app.url("/v1/llms"))
            .json(&llm("mine", &base, GOOD))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    error_body(
        ana.delete(app.url("/v1/llms/open")).send().await.unwrap(),
        403,
    )
    .await;

    // Bad input is a clear 400 and writes nothing.
    for (body, says) in [
        (
            json!({"name": "a/b", "provider": "openai", "model": "m"}),
            "invalid LLM name",
        ),
        (
            json!({"name": "x", "provider": "gemini-cli", "model": "m"}),
            "provider",
        ),
        (
            json!({"name": "x", "provider": "openai-compatible", "model": "m"}),
            "base_url",
        ),
        (
            json!({"name": "x", "provider": "openai", "model": "m", "api_key_ref": "vault:x"}),
            "api_key_ref",
        ),
        (
            json!({"name": "x", "provider": "openai", "model": "m", "api_key_ref": "env:HEARTH_KEY_TEST_UNSET"}),
            "could not be resolved",
        ),
    ] {
        let response = admin
            .post(app.url("/v1/llms"))
            .bearer_auth("master-secret-0123456789")
            .json(&body)
            .send()
            .await
            .unwrap();
        let error = error_body(response, 400).await;
        assert!(
            error["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {error}"
        );
    }
    let all: LlmList = admin
        .get(app.url("/v1/llms"))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.data.len(), 3);
}

#[tokio::test]
async fn key_references_resolve_only_where_the_operator_allowed_and_say_nothing_of_the_server() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let keys = root.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("provider"), format!("{GOOD}\n")).unwrap();
    // The key-ref directory holds the data directory: its files stay out of reach anyway.
    let app = TestApp::spawn(&[
        "--api-key",
        "master-secret-0123456789",
        "--data-dir",
        data.to_str().unwrap(),
        "--key-ref-dir",
        root.path().to_str().unwrap(),
    ])
    .await;
    let (base, calls) = start_provider().await;
    let post = |name: &str, reference: String| {
        let body = json!({"name": name, "provider": "openai-compatible", "base_url": base, "model": "m", "api_key_ref": reference});
        app.client()
            .post(app.url("/v1/llms"))
            .bearer_auth("master-secret-0123456789")
            .json(&body)
            .send()
    };

    let secret_key = data.join("secret.key");
    assert!(secret_key.exists());
    for (reference, says) in [
        (format!("file:{}", secret_key.display()), "--key-ref-dir"),
        (
            format!("file:{}", data.join("hearth.db").display()),
            "--key-ref-dir",
        ),
        (format!("file:{}/../keys/provider", data.display()), "`..`"),
        ("env:HOME".to_owned(), "HEARTH_KEY_"),
        ("env:HEARTH_KEY_REF_DIR".to_owned(), "HEARTH_KEY_"),
    ] {
        let body = error_body(post("x", reference.clone()).await.unwrap(), 400).await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{reference}: {body}"
        );
    }
    // A file that is missing and one that cannot be read read alike: nothing is learnt.
    std::fs::create_dir(keys.join("a-directory")).unwrap();
    let mut messages = Vec::new();
    for reference in [
        format!("file:{}", keys.join("missing").display()),
        format!("file:{}", keys.join("a-directory").display()),
    ] {
        let body = error_body(post("x", reference).await.unwrap(), 400).await;
        messages.push(body["error"]["message"].as_str().unwrap().to_owned());
    }
    assert_eq!(messages[0], messages[1]);
    assert!(
        messages[0].starts_with("the key reference could not be resolved"),
        "{}",
        messages[0]
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no refused reference was sent to a provider"
    );

    // Inside the allowed directory, it resolves and is checked with the provider.
    let saved = post(
        "by-file",
        format!("file:{}", keys.join("provider").display()),
    )
    .await
    .unwrap();
    assert_eq!(saved.status(), 201, "{}", saved.text().await.unwrap());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_provider_redirect_is_reported_and_never_followed_with_the_key() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let (elsewhere, calls) = start_provider().await;
    let base = crate::harness::redirecting_to(elsewhere).await;

    for provider in ["openai-compatible", "anthropic"] {
        let body = json!({"name": format!("r-{provider}"), "provider": provider, "base_url": base, "model": "m", "api_key": GOOD,
            "grants": {"all_members": true}});
        let response = app
            .client()
            .post(app.url("/v1/llms"))
            .bearer_auth("master-secret-0123456789")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let saved: SavedLlm = response.json().await.unwrap();
        assert!(
            saved.warning.unwrap().message.contains("redirect"),
            "{provider}"
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the key never reached where the redirect pointed"
    );
    app.stop().await;
}
