//! Starts Hearth the way `main` does, on an ephemeral loopback port with its own data dir,
//! and its own database: a SQLite file in that directory, or with `TEST_BACKEND=postgres` a
//! database of its own on the suite's PostgreSQL cluster.

use std::net::SocketAddr;

use clap::Parser;
use reqwest::header::{HeaderMap, HeaderValue, ORIGIN};
use server::config::{Cli, Config};
use server::db::Db;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub struct TestApp {
    pub addr: SocketAddr,
    pub dir: TempDir,
    pub db: Db,
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// A server with the given extra flags (e.g. `["--api-key", "k"]`).
    pub async fn spawn(flags: &[&str]) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        TestApp::spawn_in(dir, flags).await
    }

    /// A server on the data dir `dir` (so two servers can share one database).
    pub async fn spawn_in(dir: TempDir, flags: &[&str]) -> TestApp {
        let data_dir = dir.path().to_str().unwrap().to_owned();
        let mut argv = vec!["hearth", "--port", "0"];
        if !flags.contains(&"--data-dir") {
            argv.extend(["--data-dir", &data_dir]);
        }
        let database_url;
        if crate::postgres::enabled() && !flags.contains(&"--database-url") {
            // Keyed by the data directory, so that servers sharing one share the database.
            let data = flags
                .iter()
                .position(|f| *f == "--data-dir")
                .and_then(|at| flags.get(at + 1))
                .map_or(dir.path(), |d| std::path::Path::new(d));
            database_url = crate::postgres::database_url_for(data);
            argv.extend(["--database-url", &database_url]);
        }
        argv.extend_from_slice(flags);
        let cli = Cli::try_parse_from(argv).expect("flags parse");
        let config = Config::load(&cli.options).expect("config loads");
        let state = server::prepare(&config).await.expect("server prepares");
        let db = state.db.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        TestApp {
            addr,
            dir,
            db,
            config,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Asserts that nothing the database stored holds `secret` (the SQLite file and its
    /// write-ahead log, or a dump of the PostgreSQL database). Closes the pool first.
    pub async fn assert_not_stored(&self, secret: &str, what: &str) {
        self.db.close().await;
        let stored: Vec<(String, Vec<u8>)> = match &self.db {
            Db::Sqlite(_) => ["hearth.db", "hearth.db-wal"]
                .iter()
                .filter_map(|f| {
                    let bytes = std::fs::read(self.config.data_dir.join(f)).ok()?;
                    Some((f.to_string(), bytes))
                })
                .collect(),
            Db::Postgres(_) => {
                let database = self.config.database_url.rsplit('/').next().unwrap();
                vec![(
                    format!("database {database}"),
                    crate::postgres::shared().dump(database),
                )]
            }
        };
        assert!(
            stored.iter().any(|(_, bytes)| !bytes.is_empty()),
            "nothing stored was found to look into"
        );
        for (place, bytes) in stored {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{place} holds {what}"
            );
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client that keeps cookies and, like a browser on our page, sends our `Origin`.
    pub fn browser(&self) -> reqwest::Client {
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, HeaderValue::from_str(&self.origin()).unwrap());
        reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// A plain client: no cookies, no redirects followed, no `Origin`.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Adds a user straight into the database, as `hearth user add` would.
    pub async fn add_user(&self, name: &str, role: app::api::Role, password: &str) -> i64 {
        let hash = server::auth::password::hash(password).unwrap();
        server::users::create(&self.db, name, Some(&hash), role)
            .await
            .expect("user created")
            .id
    }

    /// Signs `client` in with a password; panics unless it works.
    pub async fn sign_in(&self, client: &reqwest::Client, name: &str, password: &str) {
        let response = client
            .post(self.url("/auth/login"))
            .json(&serde_json::json!({"username": name, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "sign-in of {name} failed: {}",
            response.text().await.unwrap()
        );
    }

    /// Signs `client` in with an API key (or master key); panics unless it works.
    pub async fn sign_in_with_key(&self, client: &reqwest::Client, key: &str) {
        let response = client
            .post(self.url("/auth/login"))
            .json(&serde_json::json!({"api_key": key}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "sign-in with a key failed: {}",
            response.text().await.unwrap()
        );
    }

    /// Creates an API key for `owner` through the API, signed in as `client`.
    pub async fn create_key(
        &self,
        client: &reqwest::Client,
        owner: Option<&str>,
    ) -> app::api::CreatedApiKey {
        let response = client
            .post(self.url("/v1/keys"))
            .json(&serde_json::json!({"name": "test key", "user": owner}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    /// A new member `name`, signed in with a password, and an API key of theirs.
    pub async fn member_key(&self, name: &str) -> String {
        self.add_user(name, app::api::Role::Member, "correct horse")
            .await;
        let browser = self.browser();
        self.sign_in(&browser, name, "correct horse").await;
        self.create_key(&browser, None).await.key
    }

    /// Registers a shared MCP server as the admin whose key is `admin_key`; what was created.
    pub async fn add_mcp_server(
        &self,
        admin_key: &str,
        server: &serde_json::Value,
    ) -> serde_json::Value {
        let response = self
            .client()
            .post(self.url("/v1/mcp/servers"))
            .bearer_auth(admin_key)
            .json(server)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    /// Stops the server gracefully and waits until it has; returns the data dir, which is
    /// deleted when dropped.
    pub async fn stop(mut self) -> TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
        self.db.close().await;
        let placeholder = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, placeholder)
    }
}

/// The `name=value` of the session cookie a response sets.
pub fn session_cookie(response: &reqwest::Response) -> String {
    let set = response.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// Asserts the OpenAI error shape and returns the body.
pub async fn error_body(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status(), status);
    assert!(
        response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("application/json")),
        "errors are JSON"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    for field in ["message", "type", "code"] {
        assert!(
            body["error"][field].is_string(),
            "error.{field} missing in {body}"
        );
    }
    body
}

/// The audit trail's events of `kind` (read with the master key `master`), once there are at
/// least `count` of them or 10 s have passed: events are written in batches off the request.
pub async fn audit_events(
    app: &TestApp,
    master: &str,
    kind: &str,
    count: usize,
) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let url = app.url(&format!("/v1/audit?kind={kind}"));
        let list: serde_json::Value = app
            .client()
            .get(url)
            .bearer_auth(master)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = list["data"].as_array().unwrap().clone();
        if events.len() >= count || std::time::Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A server on loopback that answers every request with a 307 to the same path on `to`;
/// returns its base URL.
pub async fn redirecting_to(to: String) -> String {
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let location = format!("{to}{}", uri.path());
        async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [("location", location)],
            )
        }
    });
    serve_loopback(app).await
}

/// Serves `app` on a free loopback port for the rest of the test; its origin.
pub async fn serve_loopback(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    origin
}
