//! `/cors-proxy` against loopback upstreams that record what they receive.

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use reqwest::header::ORIGIN;
use tokio::sync::Notify;

use crate::harness::{error_body, TestApp};

#[derive(Clone, Default)]
struct Upstream {
    seen: Arc<Mutex<Vec<HeaderMap>>>,
    release_stream: Arc<Notify>,
    /// Told when a client of `/sse` went away before the stream ended.
    stream_abandoned: Arc<Notify>,
}

impl Upstream {
    async fn start() -> (Upstream, String) {
        let upstream = Upstream::default();
        let app = Router::new()
            .route("/mcp", post(mcp).get(mcp).delete(mcp))
            .route("/sse", get(sse))
            .route("/redirect", get(redirect).post(redirect_307))
            .route("/page", get(page))
            // Only Hearth's own body limit may decide the oversized-body test.
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(upstream.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (upstream, base)
    }

    fn last(&self) -> HeaderMap {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the upstream was called")
    }
}

async fn mcp(State(up): State<Upstream>, headers: HeaderMap, body: String) -> Response {
    up.seen.lock().unwrap().push(headers);
    (
        [
            ("content-type", "application/json"),
            ("mcp-session-id", "session-123"),
            ("access-control-allow-origin", "*"),
            ("set-cookie", "upstream=1"),
        ],
        format!(r#"{{"echo":{}}}"#, serde_json::to_string(&body).unwrap()),
    )
        .into_response()
}

/// One event at once; the second only when the test says so.
async fn sse(State(up): State<Upstream>) -> Response {
    let stream = async_stream(up.release_stream.clone(), up.stream_abandoned.clone());
    (
        [("content-type", "text/event-stream")],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

fn async_stream(
    release: Arc<Notify>,
    abandoned: Arc<Notify>,
) -> impl futures_core::Stream<Item = Result<String, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(4);
    tokio::spawn(async move {
        let _ = tx.send(Ok("data: first\n\n".into())).await;
        tokio::select! {
            () = release.notified() => {
                let _ = tx.send(Ok("data: second\n\n".into())).await;
            }
            () = tx.closed() => abandoned.notify_one(),
        }
    });
    tokio_stream_from(rx)
}

fn tokio_stream_from<T>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_core::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[derive(serde::Deserialize)]
struct To {
    to: String,
}

async fn redirect(Query(to): Query<To>) -> Response {
    (StatusCode::FOUND, [("location", to.to)]).into_response()
}

async fn redirect_307(Query(to): Query<To>) -> Response {
    (StatusCode::TEMPORARY_REDIRECT, [("location", to.to)]).into_response()
}

/// A page that would run script on whatever origin serves it, with every header an upstream
/// could use to act on that origin.
async fn page(State(up): State<Upstream>, headers: HeaderMap) -> Response {
    up.seen.lock().unwrap().push(headers);
    (
        [
            ("content-type", "text/html; charset=utf-8"),
            ("refresh", "0; url=http://evil.example/"),
            ("clear-site-data", "\"cookies\""),
            ("link", "<http://evil.example/x.css>; rel=stylesheet"),
            ("content-security-policy", "script-src *"),
            ("content-security-policy-report-only", "default-src *"),
            ("location", "/v1/keys"),
            ("x-frame-options", "ALLOWALL"),
        ],
        "<script>fetch('/v1/me/mcp-servers')</script>",
    )
        .into_response()
}

const MASTER: &str = "master-secret-0123456789";

fn proxied(app: &TestApp, url: &str) -> String {
    app.url(&format!(
        "/cors-proxy?url={}",
        url::form_urlencoded::byte_serialize(url.as_bytes()).collect::<String>()
    ))
}

#[tokio::test]
async fn the_cors_proxy_needs_credentials() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let (_, base) = Upstream::start().await;
    let refused = app
        .client()
        .post(proxied(&app, &format!("{base}/mcp")))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(
        refused.headers().get("hearth-proxy-upstream").is_none(),
        "Hearth's own 401 is not marked as the upstream's"
    );
    error_body(refused, 401).await;
    app.stop().await;
}

#[tokio::test]
async fn the_cors_proxy_never_forwards_the_callers_credentials_but_unwraps_wrapped_headers() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let (upstream, base) = Upstream::start().await;
    let browser = app.browser();
    app.sign_in_with_key(&browser, "master-secret-0123456789")
        .await;
    let url = proxied(&app, &format!("{base}/mcp"));

    // By cookie (a browser on our page), by bearer, by X-Api-Key.
    let by_cookie = browser
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("x-proxy-header-authorization", "Bearer upstream-own-token")
        .header("x-llama-server-proxy-header-x-team", "blue")
        .header("x-proxy-header-host", "evil.example")
        .header("hearth-proxy-request", "1")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), 200);
    assert_eq!(by_cookie.headers()["mcp-session-id"], "session-123");
    assert!(
        by_cookie.headers().get("set-cookie").is_none(),
        "an upstream cookie is never set on Hearth's origin"
    );
    assert!(by_cookie
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert_eq!(
        by_cookie.headers()["hearth-proxy-upstream"],
        "1",
        "marked as the upstream's answer"
    );
    assert!(
        by_cookie.text().await.unwrap().contains("initialize"),
        "the body went through"
    );
    let seen = upstream.last();
    assert_eq!(seen["authorization"], "Bearer upstream-own-token");
    assert_eq!(seen.get_all("authorization").iter().count(), 1);
    assert_eq!(seen["x-team"], "blue");
    assert_eq!(seen["content-type"], "application/json");
    assert_eq!(seen["accept"], "application/json, text/event-stream");
    assert_ne!(seen["host"], "evil.example");
    assert!(
        seen.get("cookie").is_none()
            && seen.get("x-api-key").is_none()
            && seen.get("origin").is_none()
    );
    assert!(
        seen.get("hearth-proxy-request").is_none(),
        "the client's marker stays with Hearth"
    );

    let by_bearer = app
        .client()
        .post(&url)
        .bearer_auth("master-secret-0123456789")
        .header("mcp-session-id", "session-123")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(by_bearer.status(), 200);
    let seen = upstream.last();
    assert_eq!(
        seen["mcp-session-id"], "session-123",
        "the session id goes back upstream"
    );
    assert!(
        seen.get("authorization").is_none(),
        "Hearth's key stays with Hearth"
    );

    let by_x_api_key = app
        .client()
        .delete(&url)
        .header("x-api-key", "master-secret-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(by_x_api_key.status(), 200);
    let seen = upstream.last();
    assert!(seen.get("x-api-key").is_none() && seen.get("authorization").is_none());
    for value in seen.values() {
        assert!(
            !value
                .to_str()
                .unwrap_or("")
                .contains("master-secret-0123456789"),
            "the key leaked upstream: {seen:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn server_sent_events_arrive_one_by_one() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let (upstream, base) = Upstream::start().await;
    let mut response = app
        .client()
        .get(proxied(&app, &format!("{base}/sse")))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let first = response.chunk().await.unwrap().expect("a first event");
    assert_eq!(
        &first[..],
        b"data: first\n\n",
        "the first event arrives before the upstream has finished"
    );
    upstream.release_stream.notify_one();
    let second = response.chunk().await.unwrap().expect("a second event");
    assert_eq!(&second[..], b"data: second\n\n");
    assert!(response.chunk().await.unwrap().is_none());
    app.stop().await;
}

#[tokio::test]
async fn the_upstream_stream_is_cancelled_when_the_browser_goes_away() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let (upstream, base) = Upstream::start().await;
    let abandoned = upstream.stream_abandoned.notified();
    let mut response = app
        .client()
        .get(proxied(&app, &format!("{base}/sse")))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap();
    response.chunk().await.unwrap().expect("a first event");
    drop(response);
    tokio::time::timeout(std::time::Duration::from_secs(10), abandoned)
        .await
        .expect("the upstream saw its client go away");
    app.stop().await;
}

#[tokio::test]
async fn urls_that_are_never_proxied_are_refused_with_a_reason() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let (_, base) = Upstream::start().await;
    let client = app.client();
    for (url, reason) in [
        ("file:///etc/passwd".to_owned(), "http"),
        ("http://user:pw@127.0.0.1/".to_owned(), "credentials"),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "metadata",
        ),
        ("http://[fd00:ec2::254]/".to_owned(), "metadata"),
        ("http://metadata.google.internal/".to_owned(), "metadata"),
        ("http://169.254.10.10/".to_owned(), "link-local"),
        (
            format!("{base}/redirect?to=http://169.254.169.254/"),
            "metadata",
        ),
    ] {
        let response = client
            .get(proxied(&app, &url))
            .bearer_auth("master-secret-0123456789")
            .send()
            .await
            .unwrap();
        let body = error_body(response, 403).await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains(reason),
            "{url}: {body}"
        );
    }
    error_body(
        client
            .get(app.url("/cors-proxy?url=not%20a%20url"))
            .bearer_auth("master-secret-0123456789")
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    error_body(
        client
            .get(app.url("/cors-proxy"))
            .bearer_auth("master-secret-0123456789")
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn listening_beyond_loopback_closes_loopback_and_private_upstreams_unless_allowed() {
    let closed =
        TestApp::spawn(&["--host", "0.0.0.0", "--api-key", "master-secret-0123456789"]).await;
    let (_, base) = Upstream::start().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let client = closed.client();
    for url in [
        format!("{base}/mcp"),
        format!("http://localhost:{port}/mcp"),
        "http://10.1.2.3/".to_owned(),
    ] {
        let response = client
            .post(proxied(&closed, &url))
            .bearer_auth("master-secret-0123456789")
            .body("{}")
            .send()
            .await
            .unwrap();
        let body = error_body(response, 403).await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cors_proxy.allow"),
            "{url}: {body}"
        );
    }
    closed.stop().await;

    let open = TestApp::spawn(&[
        "--host",
        "0.0.0.0",
        "--api-key",
        "master-secret-0123456789",
        "--cors-proxy-allow",
        "127.0.0.1",
    ])
    .await;
    let client = open.client();
    let ok = client
        .post(proxied(&open, &format!("http://localhost:{port}/mcp")))
        .bearer_auth("master-secret-0123456789")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "allowed by the admin");
    // A redirect to a private address that is not allowed is refused on the way.
    let redirected = client
        .get(proxied(
            &open,
            &format!("{base}/redirect?to=http://10.1.2.3/"),
        ))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap();
    error_body(redirected, 403).await;
    open.stop().await;
}

#[tokio::test]
async fn a_cookie_authenticated_proxy_write_from_another_origin_is_refused() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let (upstream, base) = Upstream::start().await;
    let browser = app.browser();
    app.sign_in_with_key(&browser, "master-secret-0123456789")
        .await;
    let foreign = browser
        .post(proxied(&app, &format!("{base}/mcp")))
        .header(ORIGIN, "http://evil.example")
        .body("{}")
        .send()
        .await
        .unwrap();
    error_body(foreign, 403).await;
    assert!(
        upstream.seen.lock().unwrap().is_empty(),
        "nothing reached the upstream"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502_and_an_oversized_body_a_413() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let response = app
        .client()
        .get(proxied(
            &app,
            &format!("http://{unused}/mcp?token=very-secret"),
        ))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap();
    let body = error_body(response, 502).await;
    assert!(!body.to_string().contains("very-secret"), "{body}");
    // In words: the technical chain (`tcp connect error … os error 111`) is for the log.
    assert_eq!(
        body["error"]["message"],
        "could not reach the MCP server (nothing answers at that address and port)"
    );

    let (_, base) = Upstream::start().await;
    let huge = vec![b'x'; server::cors_proxy::BODY_LIMIT + 1024];
    let response = app
        .client()
        .post(proxied(&app, &format!("{base}/mcp")))
        .bearer_auth("master-secret-0123456789")
        .body(huge)
        .send()
        .await
        .unwrap();
    error_body(response, 413).await;
    app.stop().await;
}

#[tokio::test]
async fn an_admin_opens_a_private_upstream_at_run_time_and_the_setting_survives_a_restart() {
    let app = TestApp::spawn(&["--host", "0.0.0.0", "--api-key", "master-secret-0123456789"]).await;
    let (_, base) = Upstream::start().await;
    let client = app.client();
    let call = || {
        client
            .post(proxied(&app, &format!("{base}/mcp")))
            .bearer_auth("master-secret-0123456789")
            .body("{}")
            .send()
    };
    error_body(call().await.unwrap(), 403).await;

    // Members may neither read nor change it; a malformed entry changes nothing.
    app.add_user("ana", app::api::Role::Member, "password ana")
        .await;
    let ana = app.browser();
    app.sign_in(&ana, "ana", "password ana").await;
    error_body(
        ana.get(app.url("/v1/settings/cors-proxy"))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    let settings = app.url("/v1/settings/cors-proxy");
    error_body(
        ana.put(&settings)
            .json(&serde_json::json!({"allow": ["127.0.0.1"]}))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    let bad = client
        .put(&settings)
        .bearer_auth("master-secret-0123456789")
        .json(&serde_json::json!({"allow": ["not a host!"]}));
    let body = error_body(bad.send().await.unwrap(), 400).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a host"),
        "{body}"
    );
    error_body(call().await.unwrap(), 403).await;

    let put = client
        .put(&settings)
        .bearer_auth("master-secret-0123456789")
        .json(&serde_json::json!({"allow": [" 127.0.0.0/8 "]}));
    let saved: app::api::CorsProxySettings = put.send().await.unwrap().json().await.unwrap();
    assert_eq!(saved.allow, ["127.0.0.0/8"]);
    assert_eq!(
        call().await.unwrap().status(),
        200,
        "allowed from the next request on"
    );

    // The same data directory, served again: the setting is still in force.
    let keep = app.stop().await;
    let again = TestApp::spawn_in(
        keep,
        &["--host", "0.0.0.0", "--api-key", "master-secret-0123456789"],
    )
    .await;
    let response = again
        .client()
        .post(proxied(&again, &format!("{base}/mcp")))
        .bearer_auth("master-secret-0123456789")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    again.stop().await;
}

#[tokio::test]
async fn a_proxied_answer_is_mcp_data_or_a_download_never_a_page() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (_, base) = Upstream::start().await;
    let html = app
        .client()
        .get(proxied(&app, &format!("{base}/page")))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 200);
    let h = html.headers();
    assert_eq!(
        h["content-type"], "application/octet-stream",
        "HTML is never served as HTML"
    );
    assert_eq!(h["content-disposition"], "attachment");
    assert_eq!(h["content-security-policy"], "sandbox; default-src 'none'");
    assert_eq!(h["x-content-type-options"], "nosniff");
    for dropped in [
        "refresh",
        "clear-site-data",
        "link",
        "content-security-policy-report-only",
        "location",
    ] {
        assert!(
            h.get(dropped).is_none(),
            "the upstream's {dropped} header came through"
        );
    }
    assert_eq!(
        h["x-frame-options"], "DENY",
        "Hearth's own, not the upstream's"
    );

    let json = app
        .client()
        .post(proxied(&app, &format!("{base}/mcp")))
        .bearer_auth(MASTER)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json.headers()["content-type"],
        "application/json",
        "MCP's own types are kept"
    );
    assert_eq!(
        json.headers()["content-security-policy"],
        "sandbox; default-src 'none'"
    );
    assert!(json.headers().get("content-disposition").is_none());
    let sse = app
        .client()
        .get(proxied(&app, &format!("{base}/sse")))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.headers()["content-type"], "text/event-stream");
    drop(sse);
    app.stop().await;
}

#[tokio::test]
async fn navigations_and_cookie_requests_without_the_clients_header_are_refused() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (upstream, base) = Upstream::start().await;
    let browser = app.browser();
    app.sign_in_with_key(&browser, MASTER).await;
    let url = proxied(&app, &format!("{base}/page"));

    // A link followed, a frame, an embed: what a browser sends when it would show a page.
    for (name, value) in [
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-dest", "document"),
        ("sec-fetch-dest", "iframe"),
        ("sec-fetch-dest", "embed"),
    ] {
        let refused = browser
            .get(&url)
            .header("hearth-proxy-request", "1")
            .header(name, value)
            .send()
            .await
            .unwrap();
        let body = error_body(refused, 403).await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not pages"),
            "{name}: {body}"
        );
    }
    // The cookie alone is ambient authority: without the client's header, nothing happens.
    let body = error_body(browser.get(&url).send().await.unwrap(), 403).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("hearth-proxy-request"),
        "{body}"
    );
    error_body(
        browser
            .post(proxied(&app, &format!("{base}/mcp")))
            .body("{}")
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert!(
        upstream.seen.lock().unwrap().is_empty(),
        "nothing reached the upstream"
    );

    let fetched = browser
        .get(&url)
        .header("hearth-proxy-request", "1")
        .header("sec-fetch-mode", "cors")
        .send()
        .await
        .unwrap();
    assert_eq!(
        fetched.status(),
        200,
        "the browser's own MCP client gets through"
    );
    assert_eq!(upstream.seen.lock().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn loopback_and_private_upstreams_are_for_admins_and_the_allow_list_only() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (upstream, base) = Upstream::start().await;
    app.add_user("ana", app::api::Role::Member, "password ana")
        .await;
    app.add_user("ada", app::api::Role::Admin, "password ada")
        .await;
    let ana = app.browser();
    app.sign_in(&ana, "ana", "password ana").await;
    let ada = app.browser();
    app.sign_in(&ada, "ada", "password ada").await;
    let call = |client: &reqwest::Client, url: &str| {
        client
            .post(proxied(&app, url))
            .header("hearth-proxy-request", "1")
            .body("{}")
            .send()
    };
    let port = base.rsplit(':').next().unwrap().to_owned();

    // A member probes the host's own services: every answer is the same refusal, so ports
    // cannot be told apart, and nothing is reached.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    for url in [
        format!("{base}/mcp"),
        format!("http://localhost:{port}/mcp"),
        format!("http://{closed}/"),
        "http://10.1.2.3/".into(),
        "http://[::ffff:127.0.0.1]/".into(),
    ] {
        let body = error_body(call(&ana, &url).await.unwrap(), 403).await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cors_proxy.allow"),
            "{url}: {body}"
        );
    }
    assert!(upstream.seen.lock().unwrap().is_empty());

    // An admin on a loopback bind reaches them.
    assert_eq!(
        call(&ada, &format!("{base}/mcp")).await.unwrap().status(),
        200
    );
    assert_eq!(
        app.client()
            .post(proxied(&app, &format!("{base}/mcp")))
            .bearer_auth(MASTER)
            .body("{}")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The admin's allow list opens them to members.
    let put = app
        .client()
        .put(app.url("/v1/settings/cors-proxy"))
        .bearer_auth(MASTER)
        .json(&serde_json::json!({"allow": ["127.0.0.1"]}));
    assert_eq!(put.send().await.unwrap().status(), 200);
    assert_eq!(
        call(&ana, &format!("{base}/mcp")).await.unwrap().status(),
        200
    );
    app.stop().await;
}

/// Records the headers of every request, to see what a redirect carried where.
async fn recorder() -> (Arc<Mutex<Vec<HeaderMap>>>, String) {
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let keep = seen.clone();
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let keep = keep.clone();
        async move {
            keep.lock().unwrap().push(headers);
            ([("content-type", "application/json")], "{}")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (seen, base)
}

#[tokio::test]
async fn redirects_are_followed_within_the_named_origin_only_and_carry_no_referer() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (upstream, base) = Upstream::start().await;
    let (elsewhere, other) = recorder().await;
    let get = |url: String| {
        app.client()
            .get(proxied(&app, &url))
            .bearer_auth(MASTER)
            .header(
                "x-proxy-header-authorization",
                "Bearer for-the-first-origin",
            )
            .send()
    };
    let hop = |to: &str| {
        format!(
            "{base}/redirect?to={}",
            url::form_urlencoded::byte_serialize(to.as_bytes()).collect::<String>()
        )
    };

    // One hop and two hops (the second from a same-origin page) to another origin.
    for url in [
        hop(&format!("{other}/collect")),
        hop(&hop(&format!("{other}/collect"))),
    ] {
        let body = error_body(get(format!("{url}&token=in-the-query")).await.unwrap(), 502).await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("another origin"),
            "{body}"
        );
    }
    assert!(
        elsewhere.lock().unwrap().is_empty(),
        "nothing, credentials least of all, reached the other origin"
    );

    // Within the origin: followed, with the wrapped header, and without a Referer.
    let followed = get(format!(
        "{}&token=in-the-query",
        hop(&format!("{base}/mcp"))
    ))
    .await
    .unwrap();
    assert_eq!(followed.status(), 200);
    let seen = upstream.last();
    assert_eq!(seen["authorization"], "Bearer for-the-first-origin");
    assert!(
        seen.get("referer").is_none(),
        "the previous URL (and its token) is never sent on"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_redirect_is_never_passed_back_to_the_browser() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (upstream, base) = Upstream::start().await;
    let browser = app.browser();
    app.sign_in_with_key(&browser, MASTER).await;
    // A 307 on a POST would make the browser send the POST (and its cookie) to Hearth's own API.
    let response = browser
        .post(proxied(
            &app,
            &format!("{base}/redirect?to=/v1/conversations"),
        ))
        .header("hearth-proxy-request", "1")
        .body(r#"{"title":"planted"}"#)
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("location").is_none());
    let body = error_body(response, 502).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("redirect"),
        "{body}"
    );
    assert!(upstream.seen.lock().unwrap().is_empty());
    let list: serde_json::Value = browser
        .get(app.url("/v1/conversations"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        0,
        "nothing was created on Hearth"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_host_taken_off_the_allow_list_is_refused_at_once_even_over_a_pooled_connection() {
    let app = TestApp::spawn(&["--host", "0.0.0.0", "--api-key", MASTER]).await;
    let (_, base) = Upstream::start().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let settings = app.url("/v1/settings/cors-proxy");
    let allow = |entries: serde_json::Value| {
        app.client()
            .put(&settings)
            .bearer_auth(MASTER)
            .json(&serde_json::json!({"allow": entries}))
            .send()
    };
    let call = || {
        app.client()
            .post(proxied(&app, &format!("http://localhost:{port}/mcp")))
            .bearer_auth(MASTER)
            .body("{}")
            .send()
    };

    assert_eq!(
        allow(serde_json::json!(["localhost"]))
            .await
            .unwrap()
            .status(),
        200
    );
    for _ in 0..3 {
        assert_eq!(
            call().await.unwrap().status(),
            200,
            "allowed, and the connection pooled"
        );
    }
    assert_eq!(allow(serde_json::json!([])).await.unwrap().status(), 200);
    error_body(call().await.unwrap(), 403).await;
    app.stop().await;
}

#[tokio::test]
async fn a_delete_goes_upstream_without_a_body() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (upstream, base) = Upstream::start().await;
    let response = app
        .client()
        .delete(proxied(&app, &format!("{base}/mcp")))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = upstream.last();
    assert!(seen.get("transfer-encoding").is_none(), "{seen:?}");
    assert!(
        seen.get("content-length").is_none_or(|v| v == "0"),
        "{seen:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_request_with_two_host_headers_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn(&[]).await;
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "GET /v1/me HTTP/1.1\r\nHost: {}\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        app.addr
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("one Host header"), "{answer}");
    app.stop().await;
}

#[tokio::test]
async fn a_key_narrowed_to_llms_reaches_no_private_upstream_whatever_its_role() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (upstream, base) = Upstream::start().await;
    app.add_user("ada", app::api::Role::Admin, "password ada")
        .await;
    let llm = serde_json::json!({"name": "cheap", "provider": "openai-compatible", "base_url": "http://127.0.0.1:9", "model": "m"});
    let registered = app
        .client()
        .post(app.url("/v1/llms?skip_auth_check=true"))
        .bearer_auth(MASTER)
        .json(&llm)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let created = app
        .client()
        .post(app.url("/v1/keys"))
        .bearer_auth(MASTER)
        .json(&serde_json::json!({"name": "cheap only", "user": "ada", "llms": ["cheap"]}))
        .send()
        .await
        .unwrap();
    let key: app::api::CreatedApiKey = created.json().await.unwrap();
    let response = app
        .client()
        .post(proxied(&app, &format!("{base}/mcp")))
        .bearer_auth(&key.key)
        .body("{}")
        .send()
        .await
        .unwrap();
    let body = error_body(response, 403).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cors_proxy.allow"),
        "{body}"
    );
    assert!(upstream.seen.lock().unwrap().is_empty());
    app.stop().await;
}
