//! LLM resources and their auth probe, against fake providers that are real HTTP servers on
//! loopback and count the calls they get.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use app::api::{Llm, LlmCheck, LlmList, ProbeOutcome, ProviderModels, Role, SavedLlm};

use crate::harness::{error_body, TestApp};

const GOOD: &str = "sk-good-5b2d";

/// Answers by key: `sk-good-*` 200 (with a model list), `sk-forbidden` 403, `sk-typo` 404,
/// anything else 401.
async fn start_provider() -> (String, Arc<AtomicUsize>) {
    async fn answer(
        State(calls): State<Arc<AtomicUsize>>,
        headers: HeaderMap,
    ) -> (StatusCode, Json<Value>) {
        calls.fetch_add(1, Ordering::SeqCst);
        let auth = headers
            .get("authorization")
            .or_else(|| headers.get("x-api-key"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let key = auth.strip_prefix("Bearer ").unwrap_or(auth);
        let status = match key {
            k if k.starts_with("sk-good") => StatusCode::OK,
            "sk-forbidden" => StatusCode::FORBIDDEN,
            "sk-typo" => StatusCode::NOT_FOUND,
            _ => StatusCode::UNAUTHORIZED,
        };
        let models = json!({"object": "list", "data": [{"id": "gpt-b"}, {"id": "gpt-a"}]});
        (status, Json(models))
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
    app.assert_not_stored(GOOD, "a provider key").await;
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

/// A provider that lists one model to anyone and keeps the `Authorization` of every call.
async fn start_recording_provider() -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    async fn answer(
        State(seen): State<Arc<Mutex<Vec<Option<String>>>>>,
        headers: HeaderMap,
    ) -> Json<Value> {
        let auth = headers
            .get("authorization")
            .map(|v| v.to_str().unwrap_or("?").to_owned());
        seen.lock().unwrap().push(auth);
        Json(json!({"data": [{"id": "local-model"}]}))
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/v1/models", get(answer))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn a_check_is_kept_with_the_llm_and_rerun_on_demand_by_admins_only() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let (base, calls) = start_provider().await;
    app.add_user("ana", Role::Member, "password ana").await;
    app.add_user("vic", Role::Viewer, "password vic").await;
    let admin = app.client();
    let post = |body: Value, query: &'static str| {
        admin
            .post(app.url(&format!("/v1/llms{query}")))
            .bearer_auth("master-secret-0123456789")
            .json(&body)
            .send()
    };
    let get_llm = |name: &'static str| {
        let request = admin
            .get(app.url(&format!("/v1/llms/{name}")))
            .bearer_auth("master-secret-0123456789")
            .send();
        async move { request.await.unwrap().json::<Llm>().await.unwrap() }
    };
    assert_eq!(
        post(llm("good", &base, GOOD), "").await.unwrap().status(),
        201
    );
    let good = get_llm("good").await;
    let check = good.check.expect("a save with a key keeps its check");
    assert_eq!(check.outcome, ProbeOutcome::Ok);
    assert_eq!(check.status, Some(200));
    assert!(check.checked_at > 0);

    // Saved unchecked, then checked on demand: the key turns out rejected.
    assert_eq!(
        post(llm("wrong", &base, "sk-bad"), "?skip_auth_check=true")
            .await
            .unwrap()
            .status(),
        201
    );
    assert!(get_llm("wrong").await.check.is_none(), "not checked yet");
    let before = calls.load(Ordering::SeqCst);
    let checked = admin
        .post(app.url("/v1/llms/wrong/check"))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(checked.status(), 200);
    let text = checked.text().await.unwrap();
    assert!(!text.contains("sk-bad"), "the key is never echoed: {text}");
    let checked: LlmCheck = serde_json::from_str(&text).unwrap();
    assert_eq!(checked.outcome, ProbeOutcome::Auth);
    assert_eq!(checked.message, "The provider rejected this key (401).");
    assert_eq!(calls.load(Ordering::SeqCst), before + 1);
    assert_eq!(get_llm("wrong").await.check, Some(checked));

    // An LLM whose provider is down says so, and a model change forgets the old check.
    assert_eq!(
        post(llm("down", "http://127.0.0.1:9", GOOD), "")
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        get_llm("down").await.check.unwrap().outcome,
        ProbeOutcome::Unreachable
    );
    let mut renamed_model = llm("good", &base, GOOD);
    renamed_model.as_object_mut().unwrap().remove("api_key");
    renamed_model["model"] = json!("gpt-other");
    let response = admin
        .put(app.url("/v1/llms/good"))
        .bearer_auth("master-secret-0123456789")
        .json(&renamed_model)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(get_llm("good").await.check.is_none());

    // Members see no checks and run none; viewers read them but run none; unknown is 404.
    let ana = app.browser();
    app.sign_in(&ana, "ana", "password ana").await;
    let vic = app.browser();
    app.sign_in(&vic, "vic", "password vic").await;
    let seen: LlmList = ana
        .get(app.url("/v1/llms"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!seen.data.is_empty() && seen.data.iter().all(|l| l.check.is_none()));
    let seen: LlmList = vic
        .get(app.url("/v1/llms"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(seen.data.iter().any(|l| l.check.is_some()));
    let before = calls.load(Ordering::SeqCst);
    for who in [&ana, &vic] {
        let response = who
            .post(app.url("/v1/llms/wrong/check"))
            .send()
            .await
            .unwrap();
        error_body(response, 403).await;
    }
    let response = admin
        .post(app.url("/v1/llms/nope/check"))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap();
    error_body(response, 404).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "refused checks call nobody"
    );
}

#[tokio::test]
async fn a_provider_lists_its_models_and_a_stored_key_goes_only_to_its_own_url() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let (base, calls) = start_provider().await;
    let (elsewhere, seen) = start_recording_provider().await;
    app.add_user("ana", Role::Member, "password ana").await;
    let admin = app.client();
    let list = |body: Value| {
        admin
            .post(app.url("/v1/provider-models"))
            .bearer_auth("master-secret-0123456789")
            .json(&body)
            .send()
    };

    let found: ProviderModels =
        list(json!({"provider": "openai-compatible", "base_url": base, "api_key": GOOD}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(found.check.outcome, ProbeOutcome::Ok);
    assert_eq!(found.data, ["gpt-a", "gpt-b"]);

    let refused =
        list(json!({"provider": "openai-compatible", "base_url": base, "api_key": "sk-bad"}))
            .await
            .unwrap();
    assert_eq!(refused.status(), 200);
    let text = refused.text().await.unwrap();
    assert!(!text.contains("sk-bad"), "{text}");
    let refused: ProviderModels = serde_json::from_str(&text).unwrap();
    assert_eq!(refused.check.outcome, ProbeOutcome::Auth);
    assert!(refused.data.is_empty());

    let down: ProviderModels =
        list(json!({"provider": "openai-compatible", "base_url": "http://127.0.0.1:9"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(down.check.outcome, ProbeOutcome::Unreachable);

    // An edit lists with the stored key, at the LLM's own URL only.
    let created = admin
        .post(app.url("/v1/llms"))
        .bearer_auth("master-secret-0123456789")
        .json(&llm("stored", &base, GOOD))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let own: ProviderModels =
        list(json!({"provider": "openai-compatible", "base_url": base, "llm": "stored"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(own.check.outcome, ProbeOutcome::Ok, "{own:?}");
    let other: ProviderModels =
        list(json!({"provider": "openai-compatible", "base_url": elsewhere, "llm": "stored"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(other.data, ["local-model"]);
    assert_eq!(
        *seen.lock().unwrap(),
        [None],
        "the stored key never left for another URL"
    );

    // Members may not make Hearth call a URL; bad input is a 400 naming the field.
    let before = calls.load(Ordering::SeqCst);
    let ana = app.browser();
    app.sign_in(&ana, "ana", "password ana").await;
    let response = ana
        .post(app.url("/v1/provider-models"))
        .json(&json!({"provider": "openai-compatible", "base_url": base, "llm": "stored"}))
        .send()
        .await
        .unwrap();
    error_body(response, 403).await;
    for (body, param) in [
        (json!({"provider": "openai-compatible"}), "base_url"),
        (
            json!({"provider": "openai", "base_url": "file:///etc/passwd"}),
            "base_url",
        ),
        (
            json!({"provider": "openai", "base_url": "http://u:p@example.com"}),
            "base_url",
        ),
        (
            json!({"provider": "openai", "api_key_ref": "env:HOME"}),
            "api_key_ref",
        ),
    ] {
        let error = error_body(list(body.clone()).await.unwrap(), 400).await;
        assert_eq!(error["error"]["param"], param, "{body}: {error}");
    }
    error_body(
        list(json!({"provider": "openai", "url": "x"}))
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn provider_calls_refuse_a_narrowed_key_and_another_site_and_survive_a_hostile_provider() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let (base, calls) = start_provider().await;
    app.add_user("root", Role::Admin, "password root").await;
    let created = app
        .client()
        .post(app.url("/v1/llms"))
        .bearer_auth("master-secret-0123456789")
        .json(&llm("good", &base, GOOD))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // An admin's key narrowed to LLMs runs them and nothing else; an admin's session used
    // from a page on another site is refused before anything is called.
    let narrowed = app
        .client()
        .post(app.url("/v1/keys"))
        .bearer_auth("master-secret-0123456789")
        .json(&json!({"name": "narrow", "user": "root", "llms": ["good"]}))
        .send()
        .await
        .unwrap()
        .json::<app::api::CreatedApiKey>()
        .await
        .unwrap()
        .key;
    let root = app.browser();
    app.sign_in(&root, "root", "password root").await;
    let before = calls.load(Ordering::SeqCst);
    let models = json!({"provider": "openai-compatible", "base_url": base, "llm": "good"});
    for (path, body) in [
        ("/v1/llms/good/check", Value::Null),
        ("/v1/provider-models", models.clone()),
    ] {
        let by_key = app
            .client()
            .post(app.url(path))
            .bearer_auth(&narrowed)
            .json(&body)
            .send()
            .await
            .unwrap();
        error_body(by_key, 403).await;
        let from_elsewhere = root
            .post(app.url(path))
            .header("origin", "https://elsewhere.example")
            .json(&body)
            .send()
            .await
            .unwrap();
        error_body(from_elsewhere, 403).await;
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "nothing reached the provider"
    );

    // A provider answering too much, too many or not JSON: a list within bounds, or none.
    async fn models_answer(axum::extract::Path(kind): axum::extract::Path<String>) -> String {
        match kind.as_str() {
            // Over the 1 MiB read, in names that would each be kept.
            "big" => {
                let ids: Vec<String> = (0..100_000)
                    .map(|i| format!(r#"{{"id":"b{i:06}"}}"#))
                    .collect();
                format!(r#"{{"data":[{}]}}"#, ids.join(","))
            }
            "many" => {
                let ids: Vec<String> = (0..5000)
                    .map(|i| format!(r#"{{"id":"m{i:04}"}}"#))
                    .collect();
                format!(r#"{{"data":[{}]}}"#, ids.join(","))
            }
            _ => "<html>not a model list</html>".into(),
        }
    }
    let hostile = Router::new().route("/{kind}/v1/models", get(models_answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, hostile).await });
    for (kind, expected) in [("big", 0), ("junk", 0), ("many", 2000)] {
        let answer = root
            .post(app.url("/v1/provider-models"))
            .json(&json!({"provider": "openai-compatible", "base_url": format!("http://{addr}/{kind}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{kind}");
        let found: ProviderModels = answer.json().await.unwrap();
        assert_eq!(found.check.outcome, ProbeOutcome::Ok, "{kind}");
        assert_eq!(found.data.len(), expected, "{kind}");
    }
}
