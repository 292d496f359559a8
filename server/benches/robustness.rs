//! `make bench`: what misbehaving clients and providers cost Hearth.
//!
//! 1. **Half-open connections.** Hearth starts under the common soft limit of 1,024 open
//!    files (its hard limit left as it is); 2,000 connections then send nothing, half a
//!    request line or half the headers. Prints Hearth's RSS before and with them, `/healthz`
//!    latency (p50, p99, failures) over 200 fresh connections meanwhile, and how many of the
//!    2,000 are still open once the header timeout (10 s by default) has passed.
//! 2. **Shutdown.** 20 endless streams run; Hearth gets SIGTERM. Prints the time to exit, how
//!    the streams ended, and how many of their audit rows were written.
//! 3. **One 8 MiB SSE line** from a provider, sent in 16 KiB pieces: Hearth's CPU time for
//!    it, and `/healthz` latency while two such lines are read at once.
//!
//! Run against another build with `BENCH_HEARTH_BIN=/path/to/hearth`.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

mod support;
use support::{mib, percentile, Hearth, KEY};

const HALF_OPEN: usize = 2000;
const STREAMS: usize = 20;
const LINE: usize = 8 << 20;

fn chunk(content: &str) -> String {
    let chunk = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]});
    format!("data: {chunk}\n\n")
}

/// The provider: `endless` streams a chunk every 50 ms forever; `long-line` sends one event
/// just under 8 MiB in 16 KiB pieces, then `[DONE]`.
async fn provider(Json(body): Json<Value>) -> Response {
    let stream = match body["model"].as_str() {
        Some("endless") => futures_util::stream::unfold(0u64, |i| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Some((
                Ok::<_, std::io::Error>(Bytes::from(chunk(&i.to_string()))),
                i + 1,
            ))
        })
        .boxed(),
        _ => {
            let line = chunk(&"y".repeat(LINE - 4096)).into_bytes();
            let pieces: Vec<_> = line
                .chunks(16 << 10)
                .map(Bytes::copy_from_slice)
                .chain([Bytes::from("data: [DONE]\n\n")])
                .map(Ok)
                .collect();
            futures_util::stream::iter(pieces).boxed()
        }
    };
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn register(hearth: &Hearth, provider: &str, model: &str) {
    let body = json!({"name": model, "provider": "openai-compatible", "base_url": provider, "model": model, "grants": {"all_members": true}});
    let response = reqwest::Client::new()
        .post(format!("{}/v1/llms?skip_auth_check=true", hearth.url))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

fn stream_request(
    hearth: &Hearth,
    client: &reqwest::Client,
    model: &str,
) -> reqwest::RequestBuilder {
    let body =
        json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    client
        .post(format!("{}/v1/chat/completions", hearth.url))
        .bearer_auth(KEY)
        .json(&body)
}

/// `/healthz` up to `n` times, each on a fresh connection with a 2 s limit, stopping after 10
/// failures in a row: (p50, p99, failures, tries).
async fn healthz(url: &str, n: usize) -> (Duration, Duration, usize, usize) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut samples = Vec::with_capacity(n);
    let (mut failures, mut in_a_row, mut tries) = (0, 0, 0);
    while tries < n && in_a_row < 10 {
        tries += 1;
        let started = Instant::now();
        match client.get(format!("{url}/healthz")).send().await {
            Ok(r) if r.status() == 200 => {
                samples.push(started.elapsed());
                in_a_row = 0;
            }
            _ => {
                failures += 1;
                in_a_row += 1;
            }
        }
    }
    if samples.is_empty() {
        return (Duration::ZERO, Duration::ZERO, failures, tries);
    }
    (
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
        failures,
        tries,
    )
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A connection that sends nothing, half a request line or half the headers (by `i`).
async fn connect_partly(address: &str, i: usize) -> Option<TcpStream> {
    let mut stream = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(address))
        .await
        .ok()?
        .ok()?;
    let partial: &[u8] = match i % 3 {
        0 => b"",
        1 => b"GET /healthz HTT",
        _ => b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nAccept: ",
    };
    stream.write_all(partial).await.ok()?;
    Some(stream)
}

async fn half_open_connections() {
    let hearth = Hearth::start_with(&[], support::data_dir(), |command| {
        use std::os::unix::process::CommandExt;
        // SAFETY: getrlimit and setrlimit are async-signal-safe; this runs before exec.
        unsafe {
            command.pre_exec(|| {
                let mut limit = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
                limit.rlim_cur = limit.rlim_max.min(1024);
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                Ok(())
            });
        }
    })
    .await;
    let idle = hearth.rss_kib();
    let address = hearth.url.trim_start_matches("http://").to_owned();
    // 100 at a time (more at once would overflow the listen queue of any server), each given
    // 2 s to connect: a server that stopped accepting leaves them waiting.
    let mut held: Vec<TcpStream> = Vec::with_capacity(HALF_OPEN);
    for batch in 0..HALF_OPEN / 100 {
        held.extend(
            futures_util::future::join_all(
                (0..100).map(|i| connect_partly(&address, batch * 100 + i)),
            )
            .await
            .into_iter()
            .flatten(),
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with = hearth.rss_kib();
    let (p50, p99, failures, tries) = healthz(&hearth.url, 200).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let open = held.iter().filter(|s| {
        let mut byte = [0u8; 1];
        matches!(s.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    });
    let still_open = open.count();
    println!(
        "{HALF_OPEN} half-open connections (Hearth started with a soft limit of 1,024 open files):"
    );
    println!("  connected                     {}", held.len());
    println!("  RSS idle                      {}", mib(idle));
    println!("  RSS with them open            {}", mib(with));
    println!(
        "  /healthz meanwhile            p50 {}  p99 {}  failed {failures} of {tries}",
        ms(p50),
        ms(p99)
    );
    println!("  still open 12 s later         {still_open}");
}

async fn shutdown_with_streams(provider: &str) {
    let hearth = Hearth::start(&[]).await;
    register(&hearth, provider, "endless").await;
    let client = reqwest::Client::new();
    let mut streams = Vec::new();
    for _ in 0..STREAMS {
        let mut body = stream_request(&hearth, &client, "endless")
            .send()
            .await
            .unwrap()
            .bytes_stream();
        body.next().await.unwrap().unwrap();
        streams.push(body);
    }
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut body| {
            tokio::spawn(async move {
                let mut tail = Vec::new();
                while let Some(Ok(bytes)) = body.next().await {
                    tail.extend_from_slice(&bytes);
                    let keep = tail.len().saturating_sub(512);
                    tail.drain(..keep);
                }
                let tail = String::from_utf8_lossy(&tail).into_owned();
                tail.contains("\"error\"") && tail.ends_with("data: [DONE]\n\n")
            })
        })
        .collect();
    let mut hearth = hearth;
    let started = Instant::now();
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(hearth.pid().to_string())
        .status()
        .unwrap();
    let deadline = started + Duration::from_secs(60);
    let exit = loop {
        if let Some(status) = hearth.child.try_wait().unwrap() {
            break Some((started.elapsed(), status));
        }
        if Instant::now() > deadline {
            let _ = hearth.child.kill();
            let _ = hearth.child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let mut ended_well = 0;
    for reader in readers {
        ended_well += usize::from(reader.await.unwrap_or(false));
    }
    // The same data directory, to read the audit trail the first one left.
    let dir = std::mem::replace(&mut hearth.dir, support::data_dir());
    drop(hearth);
    let again = Hearth::start_with(&[], dir, |_| {}).await;
    let audit: Value = client
        .get(format!(
            "{}/v1/audit?kind={}",
            again.url,
            app::api::LLM_INFERENCE_CALL
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = audit["data"].as_array().map_or(0, Vec::len);
    println!("SIGTERM with {STREAMS} endless streams running (default grace):");
    match exit {
        Some((after, status)) => {
            println!("  exited after                  {}  ({status})", ms(after))
        }
        None => println!("  exited after                  did not exit within 60 s (killed)"),
    }
    println!("  streams ended with an error event and [DONE]   {ended_well} of {STREAMS}");
    println!("  audit rows written            {rows} of {STREAMS}");
}

async fn one_long_line(provider: &str) {
    let hearth = Hearth::start(&[]).await;
    register(&hearth, provider, "long-line").await;
    let client = reqwest::Client::new();
    let read = |client: reqwest::Client| {
        let request = stream_request(&hearth, &client, "long-line");
        async move {
            request
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .map(|b| b.len())
                .unwrap_or(0)
        }
    };
    let cpu = hearth.cpu();
    let started = Instant::now();
    let bytes = read(client.clone()).await;
    let wall = started.elapsed();
    let cpu = hearth.cpu().saturating_sub(cpu);

    let two = futures_util::future::join(read(client.clone()), read(client.clone()));
    let probe = async {
        let mut worst = Duration::ZERO;
        let mut samples = Vec::new();
        let plain = reqwest::Client::new();
        let until = Instant::now() + wall * 2;
        while Instant::now() < until {
            let started = Instant::now();
            let _ = plain.get(format!("{}/healthz", hearth.url)).send().await;
            let took = started.elapsed();
            worst = worst.max(took);
            samples.push(took);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (percentile(&mut samples, 0.99), worst)
    };
    let (_, (p99, worst)) = futures_util::future::join(two, probe).await;
    println!(
        "one SSE line of {} MiB from a provider, in 16 KiB pieces:",
        LINE >> 20
    );
    println!(
        "  Hearth CPU time               {}  (wall {}, {} bytes to the client)",
        ms(cpu),
        ms(wall),
        bytes
    );
    println!(
        "  /healthz while two are read   p99 {}  worst {}",
        ms(p99),
        ms(worst)
    );
}

#[tokio::main]
async fn main() {
    support::raise_own_open_file_limit();
    let provider = support::serve_on_own_thread(
        "provider",
        Router::new().route("/v1/chat/completions", post(provider)),
    );
    half_open_connections().await;
    shutdown_with_streams(&provider).await;
    one_long_line(&provider).await;
}
