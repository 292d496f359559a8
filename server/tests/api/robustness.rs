//! Hearth under clients and providers that misbehave: connections that never finish a
//! request or never read their answer, the connection limit, provider streams that lie,
//! break, or send one enormous event, and answers too large to hold.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{error_body, TestApp};
use crate::inference::{
    audit_events, chat, chunk, openai_llm, register, sse_data, DropFlag, Seen, MASTER,
};

/// Reads and discards until the server closes `stream`; false if it is still open at `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = vec![0u8; 64 << 10];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// The provider for this file: each upstream model name is one kind of misbehaviour.
async fn provider(State(seen): State<Arc<Seen>>, Json(body): Json<Value>) -> Response {
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let event_stream = |body: Body| ([("content-type", "text/event-stream")], body).into_response();
    match model.as_str() {
        // Large chunks as fast as they can be taken, until the gateway lets go.
        "firehose" => {
            let flag = DropFlag(seen.clone());
            let text = "x".repeat(64 << 10);
            let frames = futures_util::stream::unfold(flag, move |flag| {
                let frame = Bytes::from(chunk("firehose", &text));
                async move { Some((Ok::<_, std::io::Error>(frame), flag)) }
            });
            event_stream(Body::from_stream(frames))
        }
        // Two chunks, then the connection closes: no `[DONE]`.
        "truncated" => event_stream(Body::from(format!("{}{}", chunk(&model, "Hel"), chunk(&model, "lo")))),
        // Closes in the middle of a line.
        "cut-mid-line" => event_stream(Body::from(format!("{}data: {{\"choi", chunk(&model, "Hel")))),
        // An event that is not JSON and spans two lines, the second shaped like a field.
        "multi-line" => event_stream(Body::from("data: not json\ndata: event: injected\n\ndata: [DONE]\n\n")),
        // One line of `size` bytes, sent in 16 KiB pieces, then the end.
        "long-line-4" | "long-line-9" => {
            let size = if model == "long-line-4" { 4 << 20 } else { 9 << 20 };
            let content = "y".repeat(size);
            let line = chunk(&model, &content).into_bytes();
            let pieces: Vec<Bytes> = line.chunks(16 << 10).map(Bytes::copy_from_slice).chain([Bytes::from("data: [DONE]\n\n")]).collect();
            event_stream(Body::from_stream(futures_util::stream::iter(pieces.into_iter().map(Ok::<_, std::io::Error>))))
        }
        // One line in four pieces 400 ms apart (the test's LLM timeout is 1 s), or one chunk and
        // then silence.
        "slow-line" => {
            let line = chunk(&model, &"s".repeat(1000)).into_bytes();
            let pieces: Vec<Bytes> = line.chunks(line.len() / 4 + 1).map(Bytes::copy_from_slice).chain([Bytes::from("data: [DONE]\n\n")]).collect();
            let paced = futures_util::stream::iter(pieces).then(|piece| async move {
                tokio::time::sleep(Duration::from_millis(400)).await;
                Ok::<_, std::io::Error>(piece)
            });
            event_stream(Body::from_stream(paced))
        }
        "stalled" => {
            let first = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(chunk(&model, "Hel")))]);
            let silence = futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(Bytes::from("data: [DONE]\n\n"))
            });
            event_stream(Body::from_stream(first.chain(silence)))
        }
        // Usage no count can be: the audit must not wrap it.
        "huge-usage" if body["stream"] == true => {
            let usage = json!({"id": "c1", "object": "chat.completion.chunk", "model": model, "choices": [],
                "usage": {"prompt_tokens": u64::MAX, "completion_tokens": 3, "total_tokens": u64::MAX}});
            event_stream(Body::from(format!("{}data: {usage}\n\ndata: [DONE]\n\n", chunk(&model, "Hi"))))
        }
        // JSON whatever was asked.
        "always-json" => Json(json!({
            "id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6},
        }))
        .into_response(),
        // A whole answer of 2 MiB, with a length or without one (chunked).
        "big-sized" | "big-chunked" => {
            let answer = json!({"id": "x", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "z".repeat(2 << 20)}, "finish_reason": "stop"}]})
            .to_string();
            if model == "big-sized" {
                ([("content-type", "application/json")], answer).into_response()
            } else {
                let pieces: Vec<Result<Bytes, std::io::Error>> = answer.into_bytes().chunks(64 << 10).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
                ([("content-type", "application/json")], Body::from_stream(futures_util::stream::iter(pieces))).into_response()
            }
        }
        _ => (axum::http::StatusCode::NOT_FOUND, HeaderMap::new(), "no such model").into_response(),
    }
}

async fn start_provider() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route("/v1/chat/completions", post(provider))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

/// Hearth with the master key and `flags`, and one LLM per (name, upstream model) on the
/// provider of this file.
async fn app_with(flags: &[&str], llms: &[(&str, &str)]) -> (TestApp, Arc<Seen>) {
    let app = TestApp::spawn(&[&["--api-key", MASTER][..], flags].concat()).await;
    let (base, seen) = start_provider().await;
    for (name, model) in llms {
        register(&app, openai_llm(name, &base, model)).await;
    }
    (app, seen)
}

fn stream_of(name: &str) -> Value {
    json!({"model": name, "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn connections_that_never_finish_a_request_or_sit_idle_are_closed_after_the_header_timeout() {
    let app = TestApp::spawn(&["--header-timeout", "1"]).await;
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    let mut half_line = TcpStream::connect(app.addr).await.unwrap();
    half_line.write_all(b"GET /healthz HTT").await.unwrap();
    let mut half_headers = TcpStream::connect(app.addr).await.unwrap();
    half_headers
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nAccept: ")
        .await
        .unwrap();
    let mut half_body = TcpStream::connect(app.addr).await.unwrap();
    half_body.write_all(b"POST /v1/conversations HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{").await.unwrap();
    let mut kept_alive = TcpStream::connect(app.addr).await.unwrap();
    kept_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = kept_alive.read(&mut answer).await.unwrap();
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );

    for (what, stream) in [
        ("silent", &mut silent),
        ("half a request line", &mut half_line),
        ("half the headers", &mut half_headers),
        ("half a body", &mut half_body),
        ("idle after a request", &mut kept_alive),
    ] {
        assert!(
            closed_within(stream, Duration::from_secs(10)).await,
            "a connection with {what} is still open"
        );
    }
    // Hearth itself is fine.
    assert_eq!(
        app.client()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_a_stream_is_dropped_with_the_providers_connection() {
    let (app, seen) = app_with(&["--write-timeout", "1"], &[("firehose", "firehose")]).await;
    let body = stream_of("firehose").to_string();
    let mut client = TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {MASTER}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    client.write_all(request.as_bytes()).await.unwrap();
    // The client reads nothing more: the buffers fill, and then nothing can be written.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.stream_dropped.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the provider's stream is still held for a client that reads nothing"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = audit_events(&app, 1).await;
    assert_eq!(
        events[0]["status"], 499,
        "recorded as the client's going away: {events:?}"
    );
    drop(client);
}

#[tokio::test]
async fn past_the_connection_limit_new_connections_wait_until_one_closes() {
    let app = TestApp::spawn(&["--max-connections", "2"]).await;
    let first = TcpStream::connect(app.addr).await.unwrap();
    let second = TcpStream::connect(app.addr).await.unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let waiting = client.get(app.url("/healthz")).send().await;
    assert!(
        waiting.is_err_and(|e| e.is_timeout()),
        "a third connection is served while two are held"
    );
    drop(first);
    drop(second);
    let served = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(served.status(), 200);
}

#[tokio::test]
async fn a_stream_that_ends_without_its_end_marker_ends_with_an_error_and_is_audited_as_failed() {
    let (app, _) = app_with(&[], &[("truncated", "truncated"), ("cut", "cut-mid-line")]).await;

    let data = sse_data(chat(&app, MASTER, stream_of("truncated")).await).await;
    assert_eq!(data.len(), 4, "two chunks, an error, [DONE]: {data:?}");
    let error: Value = serde_json::from_str(&data[2]).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ended before its end"),
        "{error}"
    );
    assert_eq!(data[3], "[DONE]");

    let data = sse_data(chat(&app, MASTER, stream_of("cut")).await).await;
    assert_eq!(data.len(), 3, "one chunk, an error, [DONE]: {data:?}");
    assert!(data[1].contains("\"error\""), "{data:?}");

    let events = audit_events(&app, 2).await;
    assert!(events.iter().all(|e| e["status"] == 502), "{events:?}");
}

#[tokio::test]
async fn a_non_json_event_of_several_lines_is_passed_on_with_every_line_a_data_line() {
    let (app, _) = app_with(&[], &[("multi", "multi-line")]).await;
    let response = chat(&app, MASTER, stream_of("multi")).await;
    let text = response.text().await.unwrap();
    assert_eq!(
        text,
        "data: not json\ndata: event: injected\n\ndata: [DONE]\n\n"
    );
}

#[tokio::test]
async fn a_long_line_passes_whole_and_an_event_past_8_mib_ends_the_stream_with_an_error() {
    let (app, _) = app_with(&[], &[("long", "long-line-4"), ("too-long", "long-line-9")]).await;

    let data = sse_data(chat(&app, MASTER, stream_of("long")).await).await;
    assert_eq!(data.len(), 2, "the chunk, then [DONE]");
    let chunk: Value = serde_json::from_str(&data[0]).unwrap();
    assert_eq!(
        chunk["choices"][0]["delta"]["content"]
            .as_str()
            .unwrap()
            .len(),
        4 << 20
    );
    assert_eq!(chunk["model"], "long");

    let data = sse_data(chat(&app, MASTER, stream_of("too-long")).await).await;
    assert_eq!(data.len(), 2, "an error, then [DONE]");
    let error: Value = serde_json::from_str(&data[0]).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than 8 MiB"),
        "{error}"
    );
    let events = audit_events(&app, 2).await;
    let mut statuses: Vec<u64> = events
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(statuses, [200, 502]);
}

#[tokio::test]
async fn token_counts_no_provider_can_mean_are_recorded_as_unknown() {
    let (app, _) = app_with(&[], &[("huge", "huge-usage")]).await;
    let data = sse_data(chat(&app, MASTER, stream_of("huge")).await).await;
    assert_eq!(data.last().unwrap(), "[DONE]");
    let events = audit_events(&app, 1).await;
    assert_eq!(events[0]["status"], 200);
    assert_eq!(events[0]["prompt_tokens"], Value::Null, "{:?}", events[0]);
    assert_eq!(events[0]["completion_tokens"], 3);
}

#[tokio::test]
async fn a_stream_asked_for_and_answered_with_json_comes_back_as_a_stream_of_one_chunk() {
    let (app, _) = app_with(&[], &[("json", "always-json")]).await;
    let data = sse_data(chat(&app, MASTER, stream_of("json")).await).await;
    assert_eq!(data.len(), 2, "{data:?}");
    let chunk: Value = serde_json::from_str(&data[0]).unwrap();
    assert_eq!(chunk["object"], "chat.completion.chunk");
    assert_eq!(chunk["model"], "json");
    assert_eq!(chunk["choices"][0]["delta"]["content"], "Hello!");
    assert_eq!(data[1], "[DONE]");
    let events = audit_events(&app, 1).await;
    assert_eq!(
        (
            events[0]["status"].as_u64(),
            events[0]["completion_tokens"].as_u64()
        ),
        (Some(200), Some(2))
    );
}

#[tokio::test]
async fn a_whole_answer_past_the_size_limit_is_a_502_that_says_so() {
    let (app, _) = app_with(
        &["--llm-max-answer-mib", "1"],
        &[("sized", "big-sized"), ("chunked", "big-chunked")],
    )
    .await;
    for name in ["sized", "chunked"] {
        let response = chat(
            &app,
            MASTER,
            json!({"model": name, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
        let error = error_body(response, 502).await;
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("larger than 1 MiB"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn every_route_answers_the_same_fault_with_the_same_status_and_echoes_no_megabyte() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let client = app.client();
    let post = |path: &str| client.post(app.url(path)).bearer_auth(MASTER);

    // Sign-in, like every JSON route: 415 without a JSON content type, 413 past the limit.
    error_body(
        client
            .post(app.url("/auth/login"))
            .body(r#"{"username":"a","password":"b"}"#)
            .send()
            .await
            .unwrap(),
        415,
    )
    .await;
    error_body(
        post("/v1/keys")
            .body(r#"{"name":"a"}"#)
            .send()
            .await
            .unwrap(),
        415,
    )
    .await;
    let huge = json!({"username": "a", "password": "x".repeat(3 << 20)});
    error_body(
        client
            .post(app.url("/auth/login"))
            .json(&huge)
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;
    error_body(
        post("/v1/keys")
            .json(&json!({"name": "x".repeat(3 << 20)}))
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;

    // A body that is not an object is not an empty object.
    let error = error_body(
        post("/v1/conversations")
            .json(&json!([]))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("JSON object"),
        "{error}"
    );
    // Keys take the fields they document, and a name without control characters.
    app.add_user("ana", app::api::Role::Member, "correct horse")
        .await;
    error_body(
        post("/v1/keys")
            .json(&json!({"name": "k", "user": "ana", "scope": "all"}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    error_body(
        post("/v1/keys")
            .json(&json!({"name": "k\u{0}", "user": "ana"}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;

    // A megabyte-long model name is not sent back whole.
    let model = "m".repeat(1 << 20);
    let response = post("/v1/chat/completions")
        .json(&json!({"model": model, "messages": []}))
        .send()
        .await
        .unwrap();
    let error = error_body(response, 404).await;
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.len() < 300 && message.contains("1048576 characters"),
        "{} bytes",
        message.len()
    );
}

#[tokio::test]
async fn a_long_event_still_arriving_is_not_silence_but_silence_is_a_timeout() {
    let (app, _) = app_with(
        &["--llm-timeout", "1"],
        &[("slow-line", "slow-line"), ("stalled", "stalled")],
    )
    .await;

    let data = sse_data(chat(&app, MASTER, stream_of("slow-line")).await).await;
    assert_eq!(data.len(), 2, "{data:?}");
    let chunk: Value = serde_json::from_str(&data[0]).unwrap();
    assert_eq!(
        chunk["choices"][0]["delta"]["content"]
            .as_str()
            .unwrap()
            .len(),
        1000
    );

    let data = sse_data(chat(&app, MASTER, stream_of("stalled")).await).await;
    assert_eq!(data.len(), 3, "{data:?}");
    assert!(data[1].contains("sent nothing for 1 s"), "{data:?}");
    let events = audit_events(&app, 2).await;
    let mut statuses: Vec<u64> = events
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(statuses, [200, 504]);
}
