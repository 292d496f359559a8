//! Sign-in, sessions, credentials in headers, errors, origins, local mode.

use app::api::{AuthMethod, Me, Role};
use reqwest::header::{AUTHORIZATION, ORIGIN, WWW_AUTHENTICATE};

use crate::harness::{audit_events, error_body, session_cookie, TestApp};

#[tokio::test]
async fn a_password_sign_in_starts_a_session_that_later_requests_reuse() {
    let app = TestApp::spawn(&[]).await;
    app.add_user("ana", Role::Member, "correct horse").await;
    let browser = app.browser();

    let response = browser
        .post(app.url("/auth/login"))
        .json(&serde_json::json!({"username": "ana", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("hearth_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP gets no Secure flag: {cookie}"
    );
    let me: Me = response.json().await.unwrap();
    assert_eq!(
        (me.name.as_str(), me.role, me.auth),
        ("ana", Role::Member, AuthMethod::Password)
    );

    for _ in 0..2 {
        let me: Me = browser
            .get(app.url("/v1/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me.name, "ana");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_is_a_401_and_starts_no_session() {
    let app = TestApp::spawn(&[]).await;
    app.add_user("ana", Role::Member, "correct horse").await;
    let browser = app.browser();
    for (user, pass) in [("ana", "wrong horse"), ("nobody", "correct horse")] {
        let response = browser
            .post(app.url("/auth/login"))
            .json(&serde_json::json!({"username": user, "password": pass}))
            .send()
            .await
            .unwrap();
        assert!(response.headers().get("set-cookie").is_none());
        let body = error_body(response, 401).await;
        assert_eq!(body["error"]["type"], "authentication_error");
    }
    error_body(browser.get(app.url("/v1/me")).send().await.unwrap(), 401).await;
    app.stop().await;
}

#[tokio::test]
async fn signing_in_with_a_master_key_or_a_user_key_acts_as_their_owner() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let browser = app.browser();
    let response = browser
        .post(app.url("/auth/login"))
        .json(&serde_json::json!({"api_key": "master-secret-0123456789"}))
        .send()
        .await
        .unwrap();
    let me: Me = response.json().await.unwrap();
    assert_eq!((me.role, me.auth), (Role::Admin, AuthMethod::MasterKey));

    app.add_user("bo", Role::Viewer, "password bo").await;
    let key = app.create_key(&browser, Some("bo")).await;
    let other = app.browser();
    let response = other
        .post(app.url("/auth/login"))
        .json(&serde_json::json!({"api_key": key.key}))
        .send()
        .await
        .unwrap();
    let me: Me = response.json().await.unwrap();
    assert_eq!(
        (me.name.as_str(), me.role, me.auth),
        ("bo", Role::Viewer, AuthMethod::ApiKey)
    );

    // Revoking the key ends the session it started.
    let revoked = browser
        .delete(app.url(&format!("/v1/keys/{}", key.info.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    error_body(other.get(app.url("/v1/me")).send().await.unwrap(), 401).await;
    app.stop().await;
}

#[tokio::test]
async fn the_sign_in_form_works_without_javascript() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let browser = app.browser();
    let ok = browser
        .post(app.url("/auth/login"))
        .form(&[
            ("username", ""),
            ("password", ""),
            ("api_key", "master-secret-0123456789"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/");
    let me: Me = browser
        .get(app.url("/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me.auth, AuthMethod::MasterKey);

    let bad = app
        .browser()
        .post(app.url("/auth/login"))
        .form(&[("api_key", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 303);
    assert_eq!(bad.headers()["location"], "/login?error=invalid");

    // `next`: back to the page asked for, if it is a page on Hearth; kept across a failure.
    let to = |next: &str| app.url(&format!("/auth/login?next={next}"));
    let key = [("api_key", "master-secret-0123456789")];
    for (next, location) in [
        ("%2Fchat%3Fc%3D12", "/chat?c=12"),
        ("%2F%2Fevil.example%2F", "/"),
        ("https%3A%2F%2Fevil.example%2F", "/"),
        ("%2F%5Cevil.example", "/"),
        ("%2Fchat%0D%0ASet-Cookie%3A%20x%3D1", "/"),
        ("%2Fs%C3%BCd%20x", "/s%C3%BCd%20x"),
    ] {
        let answer = app
            .browser()
            .post(to(next))
            .form(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            (
                answer.status().as_u16(),
                answer.headers()["location"].to_str().unwrap()
            ),
            (303, location),
            "{next}"
        );
    }
    let bad = app
        .browser()
        .post(to("%2Fllms"))
        .form(&[("api_key", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad.headers()["location"],
        "/login?error=invalid&next=%2Fllms"
    );
    app.stop().await;
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = TestApp::spawn(&[]).await;
    app.add_user("ana", Role::Admin, "correct horse").await;
    let browser = app.browser();
    app.sign_in(&browser, "ana", "correct horse").await;
    assert_eq!(
        browser
            .post(app.url("/auth/logout"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    error_body(browser.get(app.url("/v1/me")).send().await.unwrap(), 401).await;
    app.stop().await;
}

#[tokio::test]
async fn a_session_cookie_replayed_after_sign_out_is_refused_at_once() {
    let app = TestApp::spawn(&[]).await;
    app.add_user("ana", Role::Member, "correct horse").await;
    let login = app
        .client()
        .post(app.url("/auth/login"))
        .json(&serde_json::json!({"username": "ana", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&login);
    let me = || {
        app.client()
            .get(app.url("/v1/me"))
            .header("cookie", &cookie)
            .send()
    };
    // Used again and again: the session may be answered from what Hearth remembers of it.
    for _ in 0..3 {
        assert_eq!(me().await.unwrap().status(), 200);
    }
    let out = app
        .client()
        .post(app.url("/auth/logout"))
        .header("cookie", &cookie)
        .header(ORIGIN, app.origin())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    error_body(me().await.unwrap(), 401).await;
    app.stop().await;
}

#[tokio::test]
async fn bearer_and_x_api_key_headers_authenticate_without_a_session() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let client = app.client();
    for (name, value) in [
        (AUTHORIZATION.as_str(), "Bearer master-secret-0123456789"),
        ("x-api-key", "master-secret-0123456789"),
    ] {
        let response = client
            .get(app.url("/v1/me"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert!(
            response.headers().get("set-cookie").is_none(),
            "a header key starts no session"
        );
        let me: Me = response.json().await.unwrap();
        assert_eq!(me.auth, AuthMethod::MasterKey);
    }
    // A header key needs no Origin even for writes: a browser cannot attach it cross-site.
    app.add_user("ana", Role::Member, "correct horse").await;
    let created = client
        .post(app.url("/v1/keys"))
        .bearer_auth("master-secret-0123456789")
        .json(&serde_json::json!({"name": "ci", "user": "ana"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    app.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_a_401_in_the_openai_shape_with_www_authenticate() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let client = app.client();

    let missing = client.get(app.url("/v1/me")).send().await.unwrap();
    assert_eq!(missing.headers()[WWW_AUTHENTICATE], "Bearer");
    let body = error_body(missing, 401).await;
    assert_eq!(body["error"]["type"], "authentication_error");

    for (name, value) in [
        ("authorization", "Bearer wrong"),
        ("x-api-key", "hk-wrong"),
        ("authorization", "Basic YTpi"),
    ] {
        let wrong = client
            .get(app.url("/v1/me"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.headers()[WWW_AUTHENTICATE], "Bearer");
        let body = error_body(wrong, 401).await;
        assert_eq!(body["error"]["message"], "Invalid API Key");
        assert_eq!(body["error"]["type"], "authentication_error");
    }
    app.stop().await;
}

#[tokio::test]
async fn cookie_authenticated_writes_from_a_foreign_or_missing_origin_are_refused() {
    let app = TestApp::spawn(&[]).await;
    app.add_user("ana", Role::Admin, "correct horse").await;
    let browser = app.browser();
    app.sign_in(&browser, "ana", "correct horse").await;

    let body = serde_json::json!({"name": "x"});
    let foreign = browser
        .post(app.url("/v1/keys"))
        .header(ORIGIN, "http://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    let err = error_body(foreign, 403).await;
    assert!(err["error"]["message"].as_str().unwrap().contains("Origin"));

    // The same cookie without any Origin header.
    let cookie_only = app.client();
    let cookie = {
        let probe = app.client();
        let r = probe
            .post(app.url("/auth/login"))
            .json(&serde_json::json!({"username": "ana", "password": "correct horse"}))
            .send()
            .await
            .unwrap();
        session_cookie(&r)
    };
    let no_origin = cookie_only
        .post(app.url("/v1/keys"))
        .header("cookie", &cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    error_body(no_origin, 403).await;
    let no_origin_logout = cookie_only
        .post(app.url("/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    error_body(no_origin_logout, 403).await;

    // Reads are fine from anywhere; the same write from our own origin works.
    let read = cookie_only
        .get(app.url("/v1/keys"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let ours = browser
        .post(app.url("/v1/keys"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ours.status(), 201);
    // A cross-site form cannot sign a visitor in either.
    let login_csrf = app
        .client()
        .post(app.url("/auth/login"))
        .header(ORIGIN, "http://evil.example")
        .json(&serde_json::json!({"username": "ana", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    error_body(login_csrf, 403).await;
    app.stop().await;
}

#[tokio::test]
async fn local_mode_makes_the_visitor_the_local_admin_until_a_user_exists() {
    let app = TestApp::spawn(&[]).await;
    let client = app.client();
    let me: Me = client
        .get(app.url("/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me.name.as_str(), me.role, me.auth),
        ("local", Role::Admin, AuthMethod::Local)
    );

    // Not through a foreign Host (DNS rebinding), and not a write from a foreign page.
    let rebound = client
        .get(app.url("/v1/me"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    error_body(rebound, 401).await;
    let csrf = client
        .post(app.url("/v1/keys"))
        .header(ORIGIN, "http://evil.example")
        .json(&serde_json::json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    error_body(csrf, 403).await;

    app.add_user("ana", Role::Admin, "correct horse").await;
    error_body(client.get(app.url("/v1/me")).send().await.unwrap(), 401).await;
    app.stop().await;
}

#[tokio::test]
async fn a_master_key_turns_local_mode_off() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    error_body(
        app.client().get(app.url("/v1/me")).send().await.unwrap(),
        401,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn instances_sharing_a_database_share_sessions() {
    let first = TestApp::spawn(&[]).await;
    first.add_user("ana", Role::Member, "correct horse").await;
    let shared_dir = first.config.data_dir.to_str().unwrap().to_owned();
    let second = TestApp::spawn(&["--data-dir", &shared_dir]).await;

    let login = first
        .client()
        .post(first.url("/auth/login"))
        .json(&serde_json::json!({"username": "ana", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&login);
    let me: Me = second
        .client()
        .get(second.url("/v1/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me.name, "ana");
    second.stop().await;
    first.stop().await;
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_the_request_came_over_https() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let response = app
        .client()
        .post(app.url("/auth/login"))
        .header("x-forwarded-proto", "https")
        .json(&serde_json::json!({"api_key": "master-secret-0123456789"}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    app.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_slow_down_per_name_even_the_right_password_and_are_audited() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    app.add_user("ana", Role::Member, "correct horse").await;
    app.add_user("bo", Role::Member, "password bo").await;
    let login = |name: &str, password: &str| {
        app.client()
            .post(app.url("/auth/login"))
            .json(&serde_json::json!({"username": name, "password": password}))
            .send()
    };
    // Five failures at once are let through (typos happen); the sixth spends the allowance.
    for _ in 0..6 {
        error_body(login("ana", "wrong horse").await.unwrap(), 401).await;
    }
    let throttled = login("ana", "wrong horse").await.unwrap();
    let wait: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=120).contains(&wait), "Retry-After: {wait}");
    let body = error_body(throttled, 429).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too many failed sign-ins"),
        "{body}"
    );
    // While the name is blocked, the right password is refused too: a lucky guess is worth nothing.
    error_body(login("ana", "correct horse").await.unwrap(), 429).await;
    // The sign-in form (no JavaScript) is told in words on the page.
    let form = app
        .client()
        .post(app.url("/auth/login"))
        .form(&[("username", "ana"), ("password", "correct horse")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 303);
    assert_eq!(form.headers()["location"], "/login?error=wait");
    // Another user from the same address is not locked out.
    assert_eq!(login("bo", "password bo").await.unwrap().status(), 200);
    // A password typed as the name is not kept.
    error_body(login("correct horse battery", "x").await.unwrap(), 401).await;

    let failed = audit_events(&app, "master-secret-0123456789", "sign_in_failed", 7).await;
    assert_eq!(failed.len(), 7, "{failed:?}");
    assert_eq!(failed.iter().filter(|e| e["principal"] == "ana").count(), 6);
    assert!(failed
        .iter()
        .all(|e| e["client"] == "127.0.0.1" && e["status"] == 401));
    assert!(failed.iter().any(|e| e["principal"] == "(not a user name)"));
    let text = serde_json::to_string(&failed).unwrap();
    assert!(
        !text.contains("wrong horse") && !text.contains("battery"),
        "{text}"
    );
    let signed_in = audit_events(&app, "master-secret-0123456789", "sign_in", 1).await;
    assert_eq!(signed_in[0]["principal"], "bo");
    app.stop().await;
}

#[tokio::test]
async fn guessing_a_master_key_is_slowed_down_while_hearths_own_keys_keep_working() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    app.add_user("bo", Role::Member, "password bo").await;
    let browser = app.browser();
    app.sign_in_with_key(&browser, "master-secret-0123456789")
        .await;
    let bos = app.create_key(&browser, Some("bo")).await;
    let me = |key: String| app.client().get(app.url("/v1/me")).bearer_auth(key).send();

    let mut refused = 0;
    for guess in 0..40 {
        match me(format!("master-guess-{guess:06}"))
            .await
            .unwrap()
            .status()
            .as_u16()
        {
            401 => refused += 1,
            429 => break,
            other => panic!("a wrong guess got {other}"),
        }
    }
    assert_eq!(
        refused, 21,
        "twenty guesses at once and the one that spends the allowance, then the address must wait"
    );
    error_body(me("master-secret-0123456789".into()).await.unwrap(), 429).await;
    let login = app
        .client()
        .post(app.url("/auth/login"))
        .json(&serde_json::json!({"api_key": "master-secret-0123456789"}));
    error_body(login.send().await.unwrap(), 429).await;
    // A generated key cannot be guessed, and still works from the same address.
    assert_eq!(me(bos.key.clone()).await.unwrap().status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn the_master_key_and_local_mode_are_marked_as_such_and_their_names_are_reserved() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let me: Me = app
        .client()
        .get(app.url("/v1/me"))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(me.name.starts_with("master-key:"), "{}", me.name);
    for reserved in ["admin", "local"] {
        let err = server::users::create(&app.db, reserved, None, Role::Member)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("reserved"), "{err}");
    }
    app.stop().await;
}

/// What `/v1/me` says a caller may do is what the routes do: each capability is checked
/// against the route it stands for, for every role and for a key narrowed to LLMs.
#[tokio::test]
async fn capabilities_in_me_match_what_the_routes_allow_and_users_are_listed_to_readers_only() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    app.add_user("root", app::api::Role::Admin, "password root")
        .await;
    app.add_user("vic", app::api::Role::Viewer, "password vic")
        .await;
    app.add_user("ana", app::api::Role::Member, "password ana")
        .await;
    let llm = serde_json::json!({"name": "cheap", "provider": "openai-compatible", "base_url": "http://127.0.0.1:9", "model": "m", "grants": {"all_members": true}});
    let created = app
        .client()
        .post(app.url("/v1/llms?skip_auth_check=true"))
        .bearer_auth("master-secret-0123456789")
        .json(&llm)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let root = app.browser();
    app.sign_in(&root, "root", "password root").await;
    let narrowed = app
        .client()
        .post(app.url("/v1/keys"))
        .bearer_auth("master-secret-0123456789")
        .json(&serde_json::json!({"name": "narrow", "user": "root", "llms": ["cheap"]}))
        .send()
        .await
        .unwrap()
        .json::<app::api::CreatedApiKey>()
        .await
        .unwrap()
        .key;
    let narrowed_session = app.browser();
    app.sign_in_with_key(&narrowed_session, &narrowed).await;
    let vic = app.browser();
    app.sign_in(&vic, "vic", "password vic").await;
    let ana = app.browser();
    app.sign_in(&ana, "ana", "password ana").await;
    app.create_key(&ana, None).await;

    for (who, client) in [
        ("admin", &root),
        ("viewer", &vic),
        ("member", &ana),
        ("narrowed key", &narrowed_session),
    ] {
        let me: app::api::Me = client
            .get(app.url("/v1/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let status = |path: &'static str| {
            let request = client.get(app.url(path)).send();
            async move { request.await.unwrap().status().as_u16() }
        };
        let can = &me.can;
        assert_eq!(can.read_audit, status("/v1/audit").await == 200, "{who}");
        assert_eq!(can.read_users, status("/v1/users").await == 200, "{who}");
        assert_eq!(
            can.read_llm_settings,
            client
                .get(app.url("/v1/llms/cheap"))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
                .get("grants")
                .is_some(),
            "{who}"
        );
        let check = client
            .post(app.url("/v1/llms/cheap/check"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(can.manage_llms, check == 200, "{who}: {check}");
        let team = client
            .post(app.url("/v1/teams"))
            .json(&serde_json::json!({"name": format!("t-{}", who.replace(' ', "-"))}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(can.manage_teams, team == 201, "{who}: {team}");
        let keys: serde_json::Value = client
            .get(app.url("/v1/keys"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let others = keys["data"]
            .as_array()
            .map(|k| k.iter().any(|k| k["user"] != me.name))
            .unwrap_or(false);
        assert_eq!(can.read_all_keys, others, "{who}: {keys}");
        let expected = match who {
            "admin" => (true, true, true),
            "viewer" => (false, true, true),
            _ => (false, false, false),
        };
        assert_eq!(
            (can.manage_all_keys, can.read_teams, can.read_users),
            expected,
            "{who}"
        );
    }

    // The list holds names and roles only.
    let text = root
        .get(app.url("/v1/users"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let users: app::api::UserList = serde_json::from_str(&text).unwrap();
    let names: Vec<_> = users.data.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["ana", "root", "vic"]);
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "{text}"
    );
}
