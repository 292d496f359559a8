//! `make bench`: what the LLM gateway adds, against a mock OpenAI provider on loopback called
//! directly (A) and through Hearth (B), in interleaved A/B rounds so that drift in the machine
//! affects both alike. Prints:
//!
//! - added p50 / p99 latency of a whole answer at one connection;
//! - requests per second at saturation;
//! - added time to first token of a stream;
//! - Hearth's resident memory with 1,000 streams open at once;
//! - the added p50 latency with a master key (checked in memory), a user's `hk-` key (read
//!   from the database per request) and a session cookie (the session and its user read per
//!   request).
//!
//! All of it on SQLite, then again on PostgreSQL (a throw-away cluster on loopback, started as
//! the integration tests start theirs).
//!
//! Hearth is the real release binary (`make build`), started as its own process so that its
//! memory can be read from `/proc`; `BENCH_HEARTH_WORKERS=N` starts it with `--workers N`. The mock runs in this process on a runtime of its own; its
//! behaviour is chosen by the upstream model name: `d<delay ms>-c<chunks>-g<gap ms>`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Value};

mod support;
use support::{percentile, Hearth, KEY};
const LATENCY_ROUNDS: usize = 10;
const LATENCY_PER_ROUND: usize = 300;
const SATURATION_CONNECTIONS: usize = 32;
const SATURATION_ROUND: Duration = Duration::from_secs(3);
const STREAMS: usize = 1_000;

// ---- the mock provider ----

struct Spec {
    delay: Duration,
    chunks: usize,
    gap: Duration,
}

fn spec(model: &str) -> Spec {
    let mut spec = Spec {
        delay: Duration::ZERO,
        chunks: 0,
        gap: Duration::ZERO,
    };
    for part in model.split('-') {
        let (key, value) = part.split_at(1);
        let n: u64 = value.parse().unwrap_or(0);
        match key {
            "d" => spec.delay = Duration::from_millis(n),
            "c" => spec.chunks = n as usize,
            "g" => spec.gap = Duration::from_millis(n),
            _ => {}
        }
    }
    spec
}

fn chunk_frame(model: &str, i: usize) -> Bytes {
    let chunk = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": model,
        "choices": [{"index": 0, "delta": {"content": format!("token{i} ")}, "finish_reason": null}]});
    Bytes::from(format!("data: {chunk}\n\n"))
}

async fn mock(Json(body): Json<Value>) -> Response {
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let spec = spec(&model);
    if !spec.delay.is_zero() {
        tokio::time::sleep(spec.delay).await;
    }
    if body["stream"] == true {
        let gap = spec.gap;
        let frames = futures_util::stream::iter(0..=spec.chunks).then(move |i| {
            let model = model.clone();
            async move {
                if i > 0 && !gap.is_zero() {
                    tokio::time::sleep(gap).await;
                }
                let frame = if i < spec.chunks {
                    chunk_frame(&model, i)
                } else {
                    Bytes::from_static(b"data: [DONE]\n\n")
                };
                Ok::<_, std::io::Error>(frame)
            }
        });
        return (
            [("content-type", "text/event-stream")],
            Body::from_stream(frames),
        )
            .into_response();
    }
    Json(json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from the mock."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 8, "completion_tokens": 5, "total_tokens": 13}
    }))
    .into_response()
}

// ---- Hearth, the real binary ----

/// Hearth with `extra` flags and the mock's models registered.
async fn start_hearth(mock: &str, extra: &[&str]) -> Hearth {
    let workers = std::env::var("BENCH_HEARTH_WORKERS").ok();
    let mut args: Vec<&str> = workers
        .iter()
        .flat_map(|w| ["--workers", w.as_str()])
        .collect();
    args.extend_from_slice(extra);
    let hearth = Hearth::start(&args).await;
    let client = reqwest::Client::new();
    for model in ["d0-c0-g0", "d0-c5-g0", "d0-c50-g100"] {
        let body = json!({"name": model, "provider": "openai-compatible", "base_url": mock, "model": model, "grants": {"all_members": true}});
        let response = client
            .post(format!("{}/v1/llms", hearth.url))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    hearth
}

// ---- the load client ----

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap()
}

/// How a side's requests are authenticated.
#[derive(Clone)]
enum Auth {
    None,
    Bearer(String),
    /// A session cookie, sent with the page's own `Origin` as a browser would.
    Cookie(String),
}

/// One side of an A/B comparison.
struct Side {
    name: &'static str,
    base: String,
    auth: Auth,
}

impl Side {
    fn request(
        &self,
        client: &reqwest::Client,
        model: &str,
        stream: bool,
    ) -> reqwest::RequestBuilder {
        let body = json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "Say hello"}]});
        let request = client
            .post(format!("{}/v1/chat/completions", self.base))
            .json(&body);
        match &self.auth {
            Auth::None => request,
            Auth::Bearer(key) => request.bearer_auth(key),
            Auth::Cookie(cookie) => request
                .header("cookie", cookie)
                .header("origin", &self.base),
        }
    }

    async fn whole(&self, client: &reqwest::Client) -> Duration {
        let started = Instant::now();
        let response = self
            .request(client, "d0-c0-g0", false)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        started.elapsed()
    }

    /// Time to the first chunk of a stream, then read to the end.
    async fn first_token(&self, client: &reqwest::Client) -> Duration {
        let started = Instant::now();
        let response = self.request(client, "d0-c5-g0", true).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let mut body = response.bytes_stream();
        let mut first = None;
        while let Some(bytes) = body.next().await {
            bytes.unwrap();
            first.get_or_insert_with(|| started.elapsed());
        }
        first.expect("a stream with chunks")
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// What one sample measures.
#[derive(Clone, Copy)]
enum Probe {
    /// A whole answer's round trip.
    Whole,
    /// The time to a stream's first chunk.
    FirstToken,
}

impl Side {
    async fn sample(&self, client: &reqwest::Client, probe: Probe) -> Duration {
        match probe {
            Probe::Whole => self.whole(client).await,
            Probe::FirstToken => self.first_token(client).await,
        }
    }
}

/// `per_round` samples of each side in turn, `LATENCY_ROUNDS` times, after `warm_up` each.
async fn interleaved(
    sides: &[Side; 2],
    probe: Probe,
    warm_up: usize,
    per_round: usize,
) -> [Vec<Duration>; 2] {
    let client = client();
    let mut samples = [Vec::new(), Vec::new()];
    for side in sides {
        for _ in 0..warm_up {
            side.sample(&client, probe).await;
        }
    }
    for _ in 0..LATENCY_ROUNDS {
        for (i, side) in sides.iter().enumerate() {
            for _ in 0..per_round {
                samples[i].push(side.sample(&client, probe).await);
            }
        }
    }
    samples
}

/// Requests per second with `SATURATION_CONNECTIONS` clients asking back to back.
async fn saturate(side: &Side, client: &reqwest::Client) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + SATURATION_ROUND;
    let started = Instant::now();
    let workers: Vec<_> = (0..SATURATION_CONNECTIONS)
        .map(|_| {
            let (client, done) = (client.clone(), done.clone());
            let request = side.request(&client, "d0-c0-g0", false);
            tokio::spawn(async move {
                while Instant::now() < stop {
                    let response = request.try_clone().unwrap().send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    response.bytes().await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Opens `STREAMS` streams through Hearth, and reads its RSS once every one has started.
async fn memory_with_streams(hearth: &Hearth) -> (u64, u64) {
    let idle = hearth.rss_kib();
    let client = client();
    let started = Arc::new(tokio::sync::Barrier::new(STREAMS + 1));
    let side = Side {
        name: "hearth",
        base: hearth.url.clone(),
        auth: Auth::Bearer(KEY.into()),
    };
    let streams: Vec<_> = (0..STREAMS)
        .map(|_| {
            let request = side.request(&client, "d0-c50-g100", true);
            let started = started.clone();
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), 200);
                let mut body = response.bytes_stream();
                body.next().await.unwrap().unwrap();
                started.wait().await;
                while let Some(bytes) = body.next().await {
                    bytes.unwrap();
                }
            })
        })
        .collect();
    started.wait().await;
    let busy = hearth.rss_kib();
    for stream in streams {
        stream.await.unwrap();
    }
    (idle, busy)
}

fn main() {
    // The load client's threads are fixed, so that `TOKIO_WORKER_THREADS` reaches Hearth only.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mock = support::serve_on_own_thread("provider", Router::new().route("/v1/chat/completions", post(mock)));
        let workers = std::env::var("BENCH_HEARTH_WORKERS").unwrap_or_else(|_| "one per CPU".into());
        println!("LLM gateway benchmark: mock OpenAI provider on loopback, direct vs through Hearth (workers: {workers}), interleaved A/B rounds");
        println!("== on SQLite");
        let hearth = start_hearth(&mock, &[]).await;
        measure("sqlite", &hearth, &mock).await;
        drop(hearth);
        println!("== on PostgreSQL (a throw-away cluster on loopback)");
        let cluster = tokio::task::spawn_blocking(support::postgres::Cluster::start).await.unwrap();
        cluster.create_database("bench");
        let url = cluster.url("bench");
        let hearth = start_hearth(&mock, &["--database-url", &url]).await;
        measure("postgres", &hearth, &mock).await;
        drop(hearth);
        cluster.remove();
    });
}

/// The mock called directly, and through `hearth` signed in with `auth`.
fn sides(mock: &str, hearth: &Hearth, auth: Auth) -> [Side; 2] {
    [
        Side {
            name: "direct",
            base: mock.to_owned(),
            auth: Auth::None,
        },
        Side {
            name: "hearth",
            base: hearth.url.clone(),
            auth,
        },
    ]
}

/// Prints the p50 and p99 of both sides; returns what Hearth adds to each.
fn report(direct: &mut [Duration], through: &mut [Duration]) -> (f64, f64) {
    let (d50, d99) = (percentile(direct, 0.5), percentile(direct, 0.99));
    let (h50, h99) = (percentile(through, 0.5), percentile(through, 0.99));
    for (name, p50, p99) in [("direct", d50, d99), ("hearth", h50, h99)] {
        println!(
            "  {name}  p50 {:>8.1} µs   p99 {:>8.1} µs",
            us(p50),
            us(p99)
        );
    }
    (us(h50) - us(d50), us(h99) - us(d99))
}

/// Every figure for `hearth`, on the database `backend`.
async fn measure(backend: &str, hearth: &Hearth, mock: &str) {
    let sides = sides(mock, hearth, Auth::Bearer(KEY.into()));
    let [mut direct, mut through] = interleaved(&sides, Probe::Whole, 100, LATENCY_PER_ROUND).await;
    println!(
        "whole answer, 1 connection, {} requests each:",
        direct.len()
    );
    let (p50, p99) = report(&mut direct, &mut through);
    println!(
        "  added   p50 {p50:>8.1} µs   p99 {p99:>8.1} µs   (budget: p50 ≤ 100 µs, p99 ≤ 250 µs)"
    );

    let client = client();
    let mut rates = [Vec::new(), Vec::new()];
    for _ in 0..2 {
        for (i, side) in sides.iter().enumerate() {
            rates[i].push(saturate(side, &client).await);
        }
    }
    let best = |r: &[f64]| r.iter().cloned().fold(0.0, f64::max);
    println!(
        "saturation, {SATURATION_CONNECTIONS} connections, {} s rounds (best of {}):",
        SATURATION_ROUND.as_secs(),
        rates[0].len()
    );
    for (side, rate) in sides.iter().zip(&rates) {
        println!("  {:<7} {:>9.0} requests/s", side.name, best(rate));
    }
    println!("  (budget: ≥ 10,000 requests/s through Hearth; load client, mock and Hearth share the machine's cores)");

    let [mut direct, mut through] =
        interleaved(&sides, Probe::FirstToken, 50, LATENCY_PER_ROUND / 2).await;
    println!(
        "time to first token, stream of 5 chunks, {} streams each:",
        direct.len()
    );
    let (p50, _) = report(&mut direct, &mut through);
    println!("  added   p50 {p50:>8.1} µs   (budget: ≤ 500 µs)");

    let (idle, busy) = memory_with_streams(hearth).await;
    println!("memory, {STREAMS} concurrent streams through Hearth (50 chunks, 100 ms apart):");
    println!(
        "  hearth RSS idle {:.1} MiB, with {STREAMS} streams open {:.1} MiB (budget: ≤ 64 MiB)",
        idle as f64 / 1024.0,
        busy as f64 / 1024.0
    );

    println!("added p50 of a whole answer by how the caller signs in:");
    auth_paths(backend, hearth, mock).await;
}

/// The added p50 with a master key, a user's key and a session cookie, on `hearth`.
async fn auth_paths(backend: &str, hearth: &Hearth, mock: &str) {
    let (key, cookie) = support::user_credentials(hearth).await;
    let mut added = Vec::new();
    for (name, auth) in [
        ("master key", Auth::Bearer(KEY.into())),
        ("user key", Auth::Bearer(key)),
        ("cookie", Auth::Cookie(cookie)),
    ] {
        let sides = sides(mock, hearth, auth);
        let [mut direct, mut through] =
            interleaved(&sides, Probe::Whole, 100, LATENCY_PER_ROUND / 3).await;
        let extra = us(percentile(&mut through, 0.5)) - us(percentile(&mut direct, 0.5));
        added.push(extra);
        println!("  {backend:<8} {name:<10} added p50 {extra:>8.1} µs");
    }
    println!(
        "  {backend:<8} the cookie path costs {:.1} µs per request more than a master key",
        added[2] - added[0]
    );
}
