//! Pages are rendered on the server with the caller known; unknown API paths stay JSON.

use app::api::Role;

use crate::harness::{error_body, TestApp};

#[tokio::test]
async fn a_visitor_who_is_not_signed_in_is_sent_to_the_sign_in_page() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let client = app.client();
    // The sign-in page is asked to come back to the page (not to the overview or itself).
    for (path, location) in [
        ("/", "/login"),
        ("/keys", "/login?next=%2Fkeys"),
        ("/chat?c=3", "/login?next=%2Fchat%3Fc%3D3"),
        ("/login/x", "/login"),
    ] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], location, "{path}");
    }
    let login = client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    let html = login.text().await.unwrap();
    for label in [
        "Username",
        "Password",
        "API key",
        "Sign in",
        r#"action="/auth/login""#,
    ] {
        assert!(html.contains(label), "the sign-in page lacks {label}");
    }
    assert!(
        html.contains(r#"name="hearth-session" content="null""#),
        "nobody is signed in"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_signed_in_user_gets_the_app_shell_rendered_with_their_name() {
    let app = TestApp::spawn(&[]).await;
    app.add_user("ana", Role::Member, "correct horse").await;
    let browser = app.browser();
    app.sign_in(&browser, "ana", "correct horse").await;

    let response = browser.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(
        html.contains("ana") && html.contains("Sign out") && html.contains("API keys"),
        "{html}"
    );
    assert!(
        !html.contains("Local mode"),
        "a signed-in user is not in local mode"
    );

    // Already signed in, the sign-in page goes on to where it was asked to: a page on Hearth.
    for (path, location) in [
        ("/login", "/"),
        ("/login?next=%2Fkeys", "/keys"),
        ("/login?next=%2F%2Fevil.example", "/"),
        ("/login?next=https%3A%2F%2Fevil.example", "/"),
    ] {
        let login = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            (
                login.status().as_u16(),
                login.headers()["location"].to_str().unwrap()
            ),
            (303, location),
            "{path}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn local_mode_is_said_on_the_page() {
    let app = TestApp::spawn(&[]).await;
    let html = app
        .client()
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Local mode"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn unknown_api_paths_answer_json_and_unknown_pages_say_so() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let client = app.client();
    error_body(
        client
            .get(app.url("/v1/nothing-here"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    error_body(
        client.post(app.url("/auth/nothing")).send().await.unwrap(),
        404,
    )
    .await;
    error_body(
        client.get(app.url("/pkg/missing.js")).send().await.unwrap(),
        404,
    )
    .await;
    error_body(client.delete(app.url("/keys")).send().await.unwrap(), 405).await;

    // Under /mcp/ is the MCP gateway: it asks who is calling before anything else.
    error_body(
        client
            .get(app.url("/mcp/unknown/deeper"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    error_body(
        client.get(app.url("/mcp/unknown")).send().await.unwrap(),
        401,
    )
    .await;
    // A page whose name merely starts like an API prefix is a page.
    let servers = client
        .get(app.url("/mcp-servers"))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(servers.status(), 200);
    assert!(servers.text().await.unwrap().contains("MCP servers"));

    let page = client
        .get(app.url("/no/such/page"))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("Page not found"));
    app.stop().await;
}

#[tokio::test]
async fn healthz_answers_without_credentials() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let response = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let health: app::api::Health = response.json().await.unwrap();
    assert_eq!(health.status, "ok");
    app.stop().await;
}

#[tokio::test]
async fn pages_allow_only_their_own_nonced_scripts_and_nothing_is_framed_or_sniffed() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let page = app.client().get(app.url("/login")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("object-src 'none'")
                && csp.contains("base-uri 'none'"),
            "{csp}"
        );
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("a nonce in the CSP")
            .to_owned();
        assert!(nonce.len() >= 16, "{nonce}");
        assert!(
            !csp.contains("'unsafe-inline'") && !csp.contains("'unsafe-eval'"),
            "{csp}"
        );
        assert_eq!(page.headers()["x-content-type-options"], "nosniff");
        assert_eq!(page.headers()["referrer-policy"], "same-origin");
        assert_eq!(page.headers()["x-frame-options"], "DENY");
        let html = page.text().await.unwrap();
        let scripts = html.matches("<script").count();
        assert!(scripts >= 1, "the page hydrates with a script");
        assert_eq!(
            html.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "every script carries the nonce: {html}"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a new nonce for every page");

    // API answers and assets are never documents to frame or sniff either.
    for path in ["/v1/me", "/healthz", "/v1/nothing-here"] {
        let response = app.client().get(app.url(path)).send().await.unwrap();
        let h = response.headers();
        assert_eq!(
            h["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
    }
    app.stop().await;
}
