//! API keys: shown once, stored hashed, owned, revocable, expiring.

use app::api::{ApiKeyList, CreatedApiKey, Me, Role};

use crate::harness::{error_body, TestApp};

/// The keys `request` (a `GET /v1/keys`) lists.
async fn keys_listed(request: reqwest::RequestBuilder) -> ApiKeyList {
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_key_is_shown_once_stored_only_as_a_hash_and_works_as_its_owner() {
    let app = TestApp::spawn(&[]).await;
    app.add_user("ana", Role::Member, "correct horse").await;
    let browser = app.browser();
    app.sign_in(&browser, "ana", "correct horse").await;

    let created = app.create_key(&browser, None).await;
    assert!(
        created.key.starts_with("hk-") && created.key.len() > 40,
        "{}",
        created.key
    );
    assert!(created.key.starts_with(&created.info.prefix));
    assert_eq!(created.info.user, "ana");

    let listed = browser
        .get(app.url("/v1/keys"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listed.contains(&created.info.prefix));
    assert!(
        !listed.contains(&created.key),
        "a listing never shows the key"
    );

    let me: Me = app
        .client()
        .get(app.url("/v1/me"))
        .bearer_auth(&created.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me.name, "ana");

    // Nothing the database stored holds the key itself.
    app.assert_not_stored(&created.key, "the key").await;
}

#[tokio::test]
async fn members_see_and_revoke_only_their_own_keys() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    app.add_user("ana", Role::Member, "password ana").await;
    app.add_user("bo", Role::Member, "password bo").await;
    app.add_user("vi", Role::Viewer, "password vi").await;
    let (ana, bo, vi) = (app.browser(), app.browser(), app.browser());
    app.sign_in(&ana, "ana", "password ana").await;
    app.sign_in(&bo, "bo", "password bo").await;
    app.sign_in(&vi, "vi", "password vi").await;

    let anas = app.create_key(&ana, None).await;
    let bos = app.create_key(&bo, None).await;

    let listed = keys_listed(ana.get(app.url("/v1/keys"))).await;
    assert_eq!(
        listed.data.iter().map(|k| k.id).collect::<Vec<_>>(),
        [anas.info.id]
    );

    // Another member's key does not exist as far as ana can tell.
    error_body(
        ana.delete(app.url(&format!("/v1/keys/{}", bos.info.id)))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    // Nor may ana make keys for someone else.
    let for_bo = ana
        .post(app.url("/v1/keys"))
        .json(&serde_json::json!({"name": "x", "user": "bo"}))
        .send()
        .await
        .unwrap();
    error_body(for_bo, 403).await;

    // A viewer sees every key but may revoke none but their own.
    let all = keys_listed(vi.get(app.url("/v1/keys"))).await;
    assert_eq!(all.data.len(), 2);
    error_body(
        vi.delete(app.url(&format!("/v1/keys/{}", bos.info.id)))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;

    assert_eq!(
        bo.delete(app.url(&format!("/v1/keys/{}", bos.info.id)))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    error_body(
        app.client()
            .get(app.url("/v1/me"))
            .bearer_auth(&bos.key)
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    // An admin reaches every key.
    let admin = app.client();
    let gone = admin
        .delete(app.url(&format!("/v1/keys/{}", anas.info.id)))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    app.stop().await;
}

#[tokio::test]
async fn bad_key_requests_get_clear_errors_and_change_nothing() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    app.add_user("ana", Role::Member, "password ana").await;
    let client = app.client();
    let post = |body: &'static str, content_type: &'static str| {
        client
            .post(app.url("/v1/keys"))
            .bearer_auth("master-secret-0123456789")
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    error_body(post("{not json", "application/json").await.unwrap(), 400).await;
    error_body(
        post(r#"{"name": "x", "user": "ana"}"#, "text/plain")
            .await
            .unwrap(),
        415,
    )
    .await;
    error_body(
        post(r#"{"name": "", "user": "ana"}"#, "application/json")
            .await
            .unwrap(),
        400,
    )
    .await;
    error_body(
        post(r#"{"name": "x", "user": "nobody"}"#, "application/json")
            .await
            .unwrap(),
        400,
    )
    .await;
    error_body(
        post(
            r#"{"name": "x", "user": "ana", "expires_in_days": 0}"#,
            "application/json",
        )
        .await
        .unwrap(),
        400,
    )
    .await;
    let no_owner = error_body(
        post(r#"{"name": "x"}"#, "application/json").await.unwrap(),
        400,
    )
    .await;
    assert!(no_owner["error"]["message"]
        .as_str()
        .unwrap()
        .contains("user"));
    error_body(
        client
            .delete(app.url("/v1/keys/not-a-number"))
            .bearer_auth("master-secret-0123456789")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    error_body(
        client
            .delete(app.url("/v1/keys/999"))
            .bearer_auth("master-secret-0123456789")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    error_body(
        client
            .put(app.url("/v1/keys"))
            .bearer_auth("master-secret-0123456789")
            .send()
            .await
            .unwrap(),
        405,
    )
    .await;

    let listed = keys_listed(
        client
            .get(app.url("/v1/keys"))
            .bearer_auth("master-secret-0123456789"),
    )
    .await;
    assert!(listed.data.is_empty(), "nothing was written: {listed:?}");
    app.stop().await;
}

#[tokio::test]
async fn an_expired_key_no_longer_authenticates() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    app.add_user("ana", Role::Member, "password ana").await;
    let response = app
        .client()
        .post(app.url("/v1/keys"))
        .bearer_auth("master-secret-0123456789")
        .json(&serde_json::json!({"name": "short", "user": "ana", "expires_in_days": 1}))
        .send()
        .await
        .unwrap();
    let created: CreatedApiKey = response.json().await.unwrap();
    assert!(created.info.expires_at.is_some());
    // Two seconds from now, as far as the key is concerned.
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    let expires_at = now() + 2;
    server::with_pool!(&app.db, pool => sqlx::query("UPDATE api_keys SET expires_at = $1 WHERE id = $2")
        .bind(expires_at)
        .bind(created.info.id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
    .unwrap();
    let me = || {
        app.client()
            .get(app.url("/v1/me"))
            .bearer_auth(&created.key)
            .send()
    };
    assert_eq!(me().await.unwrap().status(), 200);
    // Refused from the second it expires, although it was just used (and is remembered).
    loop {
        let status = me().await.unwrap().status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(now() <= expires_at, "still accepted after it expired");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(now() >= expires_at, "refused before it expired");
    app.stop().await;
}

const MASTER: &str = "master-secret-0123456789";

/// Creates a key through the API with `auth` (a bearer key) and returns the answer.
async fn create_with(app: &TestApp, auth: &str, body: serde_json::Value) -> reqwest::Response {
    app.client()
        .post(app.url("/v1/keys"))
        .bearer_auth(auth)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_key_narrowed_to_llms_runs_them_and_manages_nothing_whatever_its_role() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    app.add_user("ada", Role::Admin, "password ada").await;
    app.add_user("ana", Role::Member, "password ana").await;
    let llm = serde_json::json!({"name": "cheap", "provider": "openai-compatible", "base_url": "http://127.0.0.1:9", "model": "m",
        "grants": {"all_members": true}});
    let registered = app
        .client()
        .post(app.url("/v1/llms?skip_auth_check=true"))
        .bearer_auth(MASTER)
        .json(&llm)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let narrowed: CreatedApiKey = create_with(
        &app,
        MASTER,
        serde_json::json!({"name": "cheap only", "user": "ada", "llms": ["cheap"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let key = narrowed.key.as_str();

    // It may not mint a key, narrowed or not, for itself or anyone.
    for body in [
        serde_json::json!({"name": "wider"}),
        serde_json::json!({"name": "same", "llms": ["cheap"]}),
        serde_json::json!({"name": "for ana", "user": "ana", "llms": ["cheap"], "expires_in_days": 1}),
    ] {
        let refused = error_body(create_with(&app, key, body.clone()).await, 403).await;
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("narrowed"),
            "{body}: {refused}"
        );
    }
    // Nor manage keys, settings, LLMs, teams, or read the audit trail, although ada is an admin.
    let client = app.client();
    for request in [
        client.get(app.url("/v1/keys")),
        client.delete(app.url(&format!("/v1/keys/{}", narrowed.info.id))),
        client.get(app.url("/v1/settings/cors-proxy")),
        client
            .put(app.url("/v1/settings/cors-proxy"))
            .json(&serde_json::json!({"allow": ["10.0.0.0/8"]})),
        client.delete(app.url("/v1/llms/cheap")),
        client
            .post(app.url("/v1/teams"))
            .json(&serde_json::json!({"name": "t", "members": []})),
        client.get(app.url("/v1/audit")),
        client
            .post(app.url("/v1/me/mcp-servers"))
            .json(&serde_json::json!({"name": "x", "url": "http://127.0.0.1:1/mcp"})),
    ] {
        let response = request.bearer_auth(key).send().await.unwrap();
        let status = response.status().as_u16();
        assert!(
            status == 403 || status == 404,
            "a narrowed key got {status}"
        );
    }
    let keys = keys_listed(client.get(app.url("/v1/keys")).bearer_auth(MASTER)).await;
    assert_eq!(keys.data.len(), 1, "no key was created and none revoked");
    let settings: serde_json::Value = client
        .get(app.url("/v1/settings/cors-proxy"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["allow"], serde_json::json!([]));

    // ada's personal MCP servers are listed to it without their stored header values.
    let ada = app.browser();
    app.sign_in(&ada, "ada", "password ada").await;
    let server = serde_json::json!({"name": "s", "url": "http://127.0.0.1:1/mcp", "headers": [{"name": "Authorization", "value": "Bearer stored-secret"}]});
    assert_eq!(
        ada.post(app.url("/v1/me/mcp-servers"))
            .json(&server)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let seen = client
        .get(app.url("/v1/me/mcp-servers"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        seen.contains("Authorization") && !seen.contains("stored-secret"),
        "{seen}"
    );
    let own = ada
        .get(app.url("/v1/me/mcp-servers"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        own.contains("stored-secret"),
        "its user, signed in, still reads them"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_expiring_key_creates_only_keys_that_expire_no_later() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    app.add_user("ada", Role::Admin, "password ada").await;
    let expiring: CreatedApiKey = create_with(
        &app,
        MASTER,
        serde_json::json!({"name": "3 days", "user": "ada", "expires_in_days": 3}),
    )
    .await
    .json()
    .await
    .unwrap();
    let key = expiring.key.as_str();
    for body in [
        serde_json::json!({"name": "forever"}),
        serde_json::json!({"name": "longer", "user": "ada", "expires_in_days": 30}),
    ] {
        let refused = error_body(create_with(&app, key, body.clone()).await, 403).await;
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expire no later"),
            "{body}: {refused}"
        );
    }
    let shorter = create_with(
        &app,
        key,
        serde_json::json!({"name": "shorter", "expires_in_days": 1}),
    )
    .await;
    assert_eq!(shorter.status(), 201);
    let created: CreatedApiKey = shorter.json().await.unwrap();
    assert!(created.info.expires_at.unwrap() <= expiring.info.expires_at.unwrap());
    // The same ceiling holds for a browser signed in with that key.
    let browser = app.browser();
    app.sign_in_with_key(&browser, key).await;
    let through_session = browser
        .post(app.url("/v1/keys"))
        .json(&serde_json::json!({"name": "forever"}))
        .send()
        .await
        .unwrap();
    error_body(through_session, 403).await;
    app.stop().await;
}

#[tokio::test]
async fn a_key_in_use_has_its_use_noted_and_is_refused_at_once_when_revoked() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    app.add_user("ana", Role::Member, "password ana").await;
    let ana = app.browser();
    app.sign_in(&ana, "ana", "password ana").await;
    let created = app.create_key(&ana, None).await;
    let me = || {
        app.client()
            .get(app.url("/v1/me"))
            .bearer_auth(&created.key)
            .send()
    };
    // Used again and again: each request after the first may be answered from what Hearth
    // remembers of the key.
    for _ in 0..3 {
        assert_eq!(me().await.unwrap().status(), 200);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let listed = keys_listed(ana.get(app.url("/v1/keys"))).await;
        if listed.data[0].last_used_at.is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the key's use was never noted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let revoked = ana
        .delete(app.url(&format!("/v1/keys/{}", created.info.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    error_body(me().await.unwrap(), 401).await;
    app.stop().await;
}
