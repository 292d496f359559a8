//! `make bench`: the latency `/cors-proxy` adds to one MCP `tools/call`, against the MCP
//! project's "everything" server on loopback, called directly and through Hearth (with a
//! bearer key, and with a browser's session cookie), in interleaved rounds. Prints medians.
//!
//! Needs `end2end/node_modules` (`make e2e-deps`) for the everything server.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use server::config::{Cli, Config};

const ROUNDS: usize = 100;
const WARM_UP: usize = 20;
const KEY: &str = "bench-master-key";

struct Everything(Child);

impl Drop for Everything {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_everything() -> (Everything, String) {
    let entry = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../end2end/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        entry.exists(),
        "{} is missing: run `make e2e-deps`",
        entry.display()
    );
    let port = free_port();
    let child = Command::new("node")
        .arg(entry)
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs");
    let url = format!("http://127.0.0.1:{port}/mcp");
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the everything server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (Everything(child), url)
}

async fn start_hearth(dir: &Path) -> String {
    let data = dir.to_str().unwrap();
    let cli = Cli::try_parse_from([
        "hearth",
        "--port",
        "0",
        "--data-dir",
        data,
        "--api-key",
        KEY,
        "--log",
        "warn",
    ])
    .unwrap();
    let config = Config::load(&cli.options).unwrap();
    let state = server::prepare(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(listener, state, std::future::pending()));
    format!("http://{addr}")
}

/// One way of reaching the MCP server: a URL and the headers that go with it.
struct Route {
    name: &'static str,
    client: reqwest::Client,
    url: String,
    auth: Option<String>,
    session: Option<String>,
    samples: Vec<Duration>,
}

impl Route {
    async fn post(&self, body: &str) -> (reqwest::header::HeaderMap, String) {
        let mut request = self
            .client
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2025-11-25")
            // What the UI's MCP client sends through the proxy (harmless on the direct route).
            .header("hearth-proxy-request", "1")
            .body(body.to_owned());
        if let Some(auth) = &self.auth {
            request = request.bearer_auth(auth);
        }
        if let Some(session) = &self.session {
            request = request.header("mcp-session-id", session);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{}: {}",
            self.name,
            response.status()
        );
        let headers = response.headers().clone();
        (headers, response.text().await.unwrap())
    }

    async fn initialize(&mut self) {
        let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;
        let (headers, _) = self.post(init).await;
        self.session = headers
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        self.post(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await;
    }

    async fn call(&mut self, id: usize, record: bool) {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"hi"}}}}}}"#
        );
        let started = Instant::now();
        let (_, text) = self.post(&body).await;
        let took = started.elapsed();
        assert!(text.contains("Echo: hi"), "{}: {text}", self.name);
        if record {
            self.samples.push(took);
        }
    }

    fn median(&self) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort();
        sorted[sorted.len() / 2]
    }

    fn p90(&self) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort();
        sorted[sorted.len() * 9 / 10]
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (_everything, upstream) = start_everything().await;
    let hearth = start_hearth(dir.path()).await;
    let proxied = format!(
        "{hearth}/cors-proxy?url={}",
        url::form_urlencoded::byte_serialize(upstream.as_bytes()).collect::<String>()
    );

    let plain = || {
        reqwest::Client::builder()
            .tcp_nodelay(true)
            .build()
            .unwrap()
    };
    let browser = {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", hearth.parse().unwrap());
        reqwest::Client::builder()
            .tcp_nodelay(true)
            .cookie_store(true)
            .default_headers(headers)
            .build()
            .unwrap()
    };
    let login = browser
        .post(format!("{hearth}/auth/login"))
        .json(&serde_json::json!({"api_key": KEY}))
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success());

    let route = |name, client, url: &str, auth: Option<&str>| Route {
        name,
        client,
        url: url.to_owned(),
        auth: auth.map(str::to_owned),
        session: None,
        samples: Vec::with_capacity(ROUNDS),
    };
    let mut routes = [
        route("direct", plain(), &upstream, None),
        route("/cors-proxy, bearer key", plain(), &proxied, Some(KEY)),
        route("/cors-proxy, session cookie", browser, &proxied, None),
    ];
    for r in routes.iter_mut() {
        r.initialize().await;
    }
    for round in 0..WARM_UP + ROUNDS {
        for r in routes.iter_mut() {
            r.call(round + 2, round >= WARM_UP).await;
        }
    }

    println!("tools/call `echo` on server-everything, loopback, {ROUNDS} interleaved rounds after {WARM_UP} warm-up:");
    let direct = routes[0].median();
    for r in &routes {
        let added = r.median().as_secs_f64() * 1e3 - direct.as_secs_f64() * 1e3;
        println!(
            "  {:<30} median {:>7.3} ms   p90 {:>7.3} ms   added (median) {:>+7.3} ms",
            r.name,
            r.median().as_secs_f64() * 1e3,
            r.p90().as_secs_f64() * 1e3,
            added
        );
    }
}
