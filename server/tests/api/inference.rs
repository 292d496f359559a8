//! Inference through the gateway, against fake providers that are real HTTP servers on
//! loopback: an OpenAI-compatible one and an Anthropic one. They record what they were sent,
//! so the tests can check what went upstream as well as what came back.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Value};

use app::api::{AuditList, ModelList, Role, LLM_INFERENCE_CALL};

use crate::harness::{error_body, TestApp};

pub(crate) const MASTER: &str = "master-secret-0123456789";
pub(crate) const PROVIDER_KEY: &str = "sk-provider-3f9a1c77";

#[derive(Default)]
pub(crate) struct Seen {
    bodies: Mutex<Vec<Value>>,
    headers: Mutex<Vec<HeaderMap>>,
    /// Set when an endless stream is dropped (the gateway closed the connection).
    pub(crate) stream_dropped: AtomicBool,
    calls: AtomicUsize,
}

/// Sets a flag when dropped: the provider side of a stream that the gateway abandoned.
pub(crate) struct DropFlag(pub(crate) Arc<Seen>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.stream_dropped.store(true, Ordering::SeqCst);
    }
}

fn sse(frames: Vec<String>, gap: Duration) -> Response {
    let stream = futures_util::stream::iter(frames).then(move |frame| async move {
        tokio::time::sleep(gap).await;
        Ok::<_, std::io::Error>(Bytes::from(frame))
    });
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

pub(crate) fn chunk(model: &str, content: &str) -> String {
    let chunk = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]});
    format!("data: {chunk}\n\n")
}

/// Microseconds on a clock shared by the fake provider and the test.
fn clock_us() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// An OpenAI-compatible provider; what it does depends on the upstream model it is asked for.
async fn openai_provider(
    State(seen): State<Arc<Seen>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    seen.calls.fetch_add(1, Ordering::SeqCst);
    seen.bodies.lock().unwrap().push(body.clone());
    seen.headers.lock().unwrap().push(headers.clone());
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {PROVIDER_KEY}"))
    {
        let error = json!({"error": {"message": "Incorrect API key provided: sk-pr***1c77", "type": "invalid_request_error"}});
        return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
    }
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let streaming = body["stream"] == true;
    match model.as_str() {
        "gpt-ok" if streaming => {
            let mut frames: Vec<String> = ["Hel", "lo", "!"].iter().map(|c| chunk(&model, c)).collect();
            frames.push("data: [DONE]\n\n".into());
            sse(frames, Duration::ZERO)
        }
        "gpt-ok" => Json(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-ok",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13},
            "system_fingerprint": "fp_kept"
        }))
        .into_response(),
        "gpt-tools" => tools_answer(&body),
        "gpt-timed-chunks" => {
            // Each chunk says when it was sent (µs on the test's clock), 2 ms apart.
            let stream = futures_util::stream::iter(0..21).then(move |i| {
                let model = model.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    let frame = if i < 20 { chunk(&model, &clock_us().to_string()) } else { "data: [DONE]\n\n".into() };
                    Ok::<_, std::io::Error>(Bytes::from(frame))
                }
            });
            ([("content-type", "text/event-stream")], Body::from_stream(stream)).into_response()
        }
        "gpt-429" => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")], Json(json!({"error": {"message": "Slow down"}}))).into_response(),
        "gpt-400" => (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": "max_tokens is too large"}}))).into_response(),
        "gpt-500" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "gpt-slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Json(json!({})).into_response()
        }
        "gpt-break" => {
            let first = futures_util::stream::iter([Ok(Bytes::from(chunk(&model, "partial")))]);
            let broken = futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::other("connection lost"))
            });
            ([("content-type", "text/event-stream")], Body::from_stream(first.chain(broken))).into_response()
        }
        "gpt-endless" => {
            let flag = DropFlag(seen.clone());
            let stream = futures_util::stream::unfold((flag, 0u64), move |(flag, i)| {
                let model = model.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Some((Ok::<_, std::io::Error>(Bytes::from(chunk(&model, &i.to_string()))), (flag, i + 1)))
                }
            });
            ([("content-type", "text/event-stream")], Body::from_stream(stream)).into_response()
        }
        _ => (StatusCode::NOT_FOUND, Json(json!({"error": {"message": format!("model {model} does not exist")}}))).into_response(),
    }
}

/// The tool result in the last message of an Anthropic request, if it ends with one.
fn anthropic_tool_result(body: &Value) -> Option<String> {
    let last = body["messages"].as_array()?.last()?;
    let block = last["content"]
        .as_array()?
        .iter()
        .find(|b| b["type"] == "tool_result")?;
    Some(block["content"].as_str().unwrap_or_default().to_owned())
}

/// An OpenAI model that calls `get_weather` when offered tools, speaks of the result when
/// given one, and says hello otherwise; whole or streamed.
fn tools_answer(body: &Value) -> Response {
    let last = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or_default();
    let (content, call) = if last["role"] == "tool" {
        (
            Some(format!(
                "It is {}.",
                last["content"].as_str().unwrap_or_default()
            )),
            None,
        )
    } else if body["tools"].is_array() {
        (
            None,
            Some(
                json!({"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}),
            ),
        )
    } else {
        (Some("Hello there!".to_owned()), None)
    };
    let finish = if call.is_some() { "tool_calls" } else { "stop" };
    if body["stream"] == true {
        let mut frames = Vec::new();
        for piece in content.as_deref().unwrap_or_default().split_inclusive(' ') {
            frames.push(chunk("gpt-tools", piece));
        }
        if let Some(call) = &call {
            let mut delta = call.clone();
            delta["index"] = json!(0);
            let frame = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-tools",
                "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [delta]}, "finish_reason": null}]});
            frames.push(format!("data: {frame}\n\n"));
        }
        let end = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-tools",
            "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]});
        frames.push(format!("data: {end}\n\n"));
        frames.push("data: [DONE]\n\n".into());
        return sse(frames, Duration::ZERO);
    }
    let mut message = json!({"role": "assistant", "content": content});
    if let Some(call) = call {
        message["tool_calls"] = json!([call]);
    }
    Json(json!({
        "id": "chatcmpl-t", "object": "chat.completion", "created": 1, "model": "gpt-tools",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    }))
    .into_response()
}

/// An Anthropic provider: a tool call when offered tools, a sentence about the tool's result
/// when given one, "Bonjour" otherwise; as a whole message or as a stream of events.
async fn anthropic_provider(
    State(seen): State<Arc<Seen>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    seen.bodies.lock().unwrap().push(body.clone());
    seen.headers.lock().unwrap().push(headers.clone());
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(PROVIDER_KEY)
        || headers.get("anthropic-version").is_none()
    {
        return (StatusCode::UNAUTHORIZED, Json(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}))).into_response();
    }
    let result = anthropic_tool_result(&body);
    let calls_tool = result.is_none() && body["tools"].is_array();
    let text = match &result {
        Some(result) => format!("It is {result}."),
        None if calls_tool => "Let me look.".into(),
        None => "Bonjour".into(),
    };
    if body["stream"] != true {
        let mut content = vec![json!({"type": "text", "text": text})];
        if calls_tool {
            content.push(json!({"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}));
        }
        return Json(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"], "content": content,
            "stop_reason": if calls_tool { "tool_use" } else { "end_turn" }, "usage": {"input_tokens": 20, "output_tokens": 4}
        }))
        .into_response();
    }
    let mut events = vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_2", "usage": {"input_tokens": 30, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
    ];
    if calls_tool {
        events.extend([
            ("content_block_start", json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}})),
            ("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\":"}})),
            ("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}})),
            ("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
        ]);
    }
    events.extend([
        ("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": if calls_tool { "tool_use" } else { "end_turn" }}, "usage": {"output_tokens": 15}})),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    sse(
        events
            .iter()
            .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
            .collect(),
        Duration::ZERO,
    )
}

/// Starts both fake providers; returns their base URLs and what they saw.
pub(crate) async fn start_providers() -> (String, String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route("/v1/chat/completions", post(openai_provider))
        .route("/anthropic/v1/messages", post(anthropic_provider))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The provider answers without delay of its own, so that a stall seen is the gateway's.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (
        format!("http://{addr}"),
        format!("http://{addr}/anthropic"),
        seen,
    )
}

/// Registers an LLM as the master key (offline: the fakes have no `/v1/models`).
pub(crate) async fn register(app: &TestApp, body: Value) {
    let response = app
        .client()
        .post(app.url("/v1/llms?skip_auth_check=true"))
        .bearer_auth(MASTER)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

pub(crate) fn openai_llm(name: &str, base: &str, model: &str) -> Value {
    json!({"name": name, "provider": "openai-compatible", "base_url": base, "model": model, "api_key": PROVIDER_KEY, "grants": {"all_members": true}})
}

pub(crate) async fn chat(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.client()
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The `data:` payloads of a whole SSE answer.
pub(crate) async fn sse_data(response: reqwest::Response) -> Vec<String> {
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let text = response.text().await.unwrap();
    text.split("\n\n")
        .filter_map(|frame| frame.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

/// The audit trail's LLM calls, once there are at least `count` (or after 10 s).
pub(crate) async fn audit_events(app: &TestApp, count: usize) -> Vec<Value> {
    crate::harness::audit_events(app, MASTER, LLM_INFERENCE_CALL, count).await
}

#[tokio::test]
async fn openai_family_providers_get_the_body_unchanged_but_for_model_and_answers_come_back_renamed(
) {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (base, _, seen) = start_providers().await;
    register(&app, openai_llm("house-chat", &base, "gpt-ok")).await;

    let request = json!({
        "model": "house-chat",
        "messages": [{"role": "user", "content": "Say hello"}],
        "temperature": 0.3,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "vendor_extension": {"kept": true}
    });
    let response = chat(&app, MASTER, request.clone()).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["model"], "house-chat");
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello!");
    assert_eq!(
        answer["system_fingerprint"], "fp_kept",
        "the rest of the answer is unchanged"
    );
    let mut expected = request.clone();
    expected["model"] = json!("gpt-ok");
    assert_eq!(
        seen.bodies.lock().unwrap()[0],
        expected,
        "the body goes upstream unchanged but for model"
    );
    let upstream_headers = seen.headers.lock().unwrap()[0].clone();
    assert!(
        !format!("{upstream_headers:?}").contains(MASTER),
        "the caller's credentials never go upstream"
    );

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let data = sse_data(chat(&app, MASTER, streamed).await).await;
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(chunks.iter().all(|c| c["model"] == "house-chat"));
    let text: String = chunks
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Hello!");

    let models: ModelList = app
        .client()
        .get(app.url("/v1/models"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models.object, "list");
    assert_eq!(
        models
            .data
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        ["house-chat"]
    );

    // One audit event per call: who, which LLM, how it went; no prompt, answer or key.
    let events = audit_events(&app, 2).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let whole = events.iter().find(|e| e["streaming"] == false).unwrap();
    assert_eq!(whole["kind"], "llm_inference_call");
    assert_eq!(whole["llm"], "house-chat");
    assert_eq!(whole["model"], "gpt-ok");
    let principal = whole["principal"].as_str().unwrap();
    assert!(
        principal.starts_with("master-key:") && principal.len() == "master-key:".len() + 12,
        "{principal}"
    );
    assert_eq!(whole["status"], 200);
    assert_eq!(whole["prompt_tokens"], 11);
    assert_eq!(whole["completion_tokens"], 2);
    assert_eq!(whole["key_hash_prefix"].as_str().unwrap().len(), 12);
    let text = serde_json::to_string(&events).unwrap();
    for secret in [MASTER, PROVIDER_KEY, "Say hello", "Hello!"] {
        assert!(
            !text.contains(secret),
            "the audit trail holds {secret:?}: {text}"
        );
    }
    let filtered: AuditList = app
        .client()
        .get(app.url("/v1/audit?llm=nobody"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(filtered.data.is_empty());
    error_body(
        app.client()
            .get(app.url("/v1/audit?limit=0"))
            .bearer_auth(MASTER)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    error_body(
        app.client()
            .get(app.url("/v1/audit?colour=red"))
            .bearer_auth(MASTER)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
}

#[tokio::test]
async fn anthropic_is_translated_both_ways_including_streamed_tool_calls() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (_, anthropic_base, seen) = start_providers().await;
    register(
        &app,
        json!({"name": "claude", "provider": "anthropic", "base_url": anthropic_base, "model": "claude-sonnet-4-5", "api_key": PROVIDER_KEY, "grants": {"all_members": true}}),
    )
    .await;

    let request = json!({
        "model": "claude",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    });
    let answer: Value = chat(&app, MASTER, request.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "claude");
    let message = &answer["choices"][0]["message"];
    assert_eq!(message["content"], "Let me look.");
    assert_eq!(
        message["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(answer["usage"]["total_tokens"], 24);
    let sent = seen.bodies.lock().unwrap()[0].clone();
    assert_eq!(sent["system"], "Be brief.");
    assert_eq!(sent["model"], "claude-sonnet-4-5");
    assert_eq!(
        sent["tools"][0]["input_schema"]["properties"]["city"]["type"],
        "string"
    );

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let data = sse_data(chat(&app, MASTER, streamed).await).await;
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "claude"));
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, "{\"city\":\"Paris\"}");
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 15);

    let events = audit_events(&app, 2).await;
    let streamed_event = events.iter().find(|e| e["streaming"] == true).unwrap();
    assert_eq!(
        (
            streamed_event["prompt_tokens"].clone(),
            streamed_event["completion_tokens"].clone()
        ),
        (json!(30), json!(15))
    );
}

#[tokio::test]
async fn provider_failures_become_clear_errors_in_the_openai_shape() {
    let app = TestApp::spawn(&["--api-key", MASTER, "--llm-timeout", "1"]).await;
    let (base, _, _) = start_providers().await;
    let mut wrong_key = openai_llm("wrong-key", &base, "gpt-ok");
    wrong_key["api_key"] = json!("sk-wrong-0000");
    register(&app, wrong_key).await;
    for (name, model) in [
        ("limited", "gpt-429"),
        ("picky", "gpt-400"),
        ("broken", "gpt-500"),
        ("slow", "gpt-slow"),
        ("breaks", "gpt-break"),
    ] {
        register(&app, openai_llm(name, &base, model)).await;
    }
    register(&app, openai_llm("gone", "http://127.0.0.1:9", "gpt-ok")).await;
    let ask = |name: &str| json!({"model": name, "messages": [{"role": "user", "content": "hi"}]});

    // The provider refusing Hearth's key is Hearth's problem, not the caller's: 502, not 401.
    let error = error_body(chat(&app, MASTER, ask("wrong-key")).await, 502).await;
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("wrong-key") && message.contains("rejected Hearth's key"),
        "{message}"
    );
    assert!(
        !error.to_string().contains("sk-pr") && !error.to_string().contains("sk-wrong"),
        "{error}"
    );

    let limited = chat(&app, MASTER, ask("limited")).await;
    assert_eq!(limited.headers()["retry-after"], "7");
    let error = error_body(limited, 429).await;
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Slow down"));

    let error = error_body(chat(&app, MASTER, ask("picky")).await, 400).await;
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens is too large"));
    error_body(chat(&app, MASTER, ask("broken")).await, 502).await;
    let error = error_body(chat(&app, MASTER, ask("slow")).await, 504).await;
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("did not answer within 1 s"));
    let error = error_body(chat(&app, MASTER, ask("gone")).await, 502).await;
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("could not reach"));

    // A stream that breaks midway ends with an error event, then [DONE].
    let mut streamed = ask("breaks");
    streamed["stream"] = json!(true);
    let data = sse_data(chat(&app, MASTER, streamed).await).await;
    assert_eq!(data.len(), 3, "{data:?}");
    let error: Value = serde_json::from_str(&data[1]).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("broke off"),
        "{error}"
    );
    assert_eq!(data[2], "[DONE]");

    // Bad requests are refused before anything goes upstream.
    error_body(chat(&app, MASTER, json!({"messages": []})).await, 400).await;
    error_body(
        chat(&app, MASTER, json!({"model": "limited", "stream": "yes"})).await,
        400,
    )
    .await;
    let error = error_body(chat(&app, MASTER, ask("no-such-llm")).await, 404).await;
    assert_eq!(error["error"]["code"], "model_not_found");
    let events = audit_events(&app, 7).await;
    let statuses: Vec<u64> = events
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert!(
        statuses.contains(&504) && statuses.contains(&429) && statuses.contains(&502),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn running_needs_a_grant_editing_does_not_give_one_and_a_key_can_be_narrowed() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (base, _, _) = start_providers().await;
    app.add_user("ana", Role::Member, "password ana").await;
    app.add_user("ada", Role::Admin, "password ada").await;
    app.add_user("vic", Role::Viewer, "password vic").await;
    app.add_user("bob", Role::Member, "password bob").await;
    let mut for_ana = openai_llm("for-ana", &base, "gpt-ok");
    for_ana["grants"] = json!({"users": ["ana"]});
    register(&app, for_ana).await;
    register(&app, openai_llm("for-all", &base, "gpt-ok")).await;
    let ask = |name: &str| json!({"model": name, "messages": [{"role": "user", "content": "hi"}]});

    let key_of = |name: &'static str, llms: Option<Value>| {
        let app = &app;
        async move {
            let client = app.browser();
            app.sign_in(&client, name, &format!("password {name}"))
                .await;
            let response = client
                .post(app.url("/v1/keys"))
                .json(&json!({"name": "k", "llms": llms}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
            response.json::<Value>().await.unwrap()["key"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let ana = key_of("ana", None).await;
    let ada = key_of("ada", None).await;
    let vic = key_of("vic", None).await;
    let bob = key_of("bob", None).await;
    let narrowed = key_of("ana", Some(json!(["for-all"]))).await;

    assert_eq!(chat(&app, &ana, ask("for-ana")).await.status(), 200);
    assert_eq!(chat(&app, &ana, ask("for-all")).await.status(), 200);
    // An admin edits the catalogue but runs only what is granted to them.
    let error = error_body(chat(&app, &ada, ask("for-ana")).await, 403).await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not include running"),
        "{error}"
    );
    assert_eq!(chat(&app, &ada, ask("for-all")).await.status(), 200);
    error_body(chat(&app, &vic, ask("for-ana")).await, 403).await;
    // A member who may not run it does not learn that it exists.
    error_body(chat(&app, &bob, ask("for-ana")).await, 404).await;
    // A narrowed key runs only what it names.
    error_body(chat(&app, &narrowed, ask("for-ana")).await, 404).await;
    assert_eq!(chat(&app, &narrowed, ask("for-all")).await.status(), 200);
    let models = |key: String| {
        let app = &app;
        async move {
            let list: ModelList = app
                .client()
                .get(app.url("/v1/models"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            list.data.into_iter().map(|m| m.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(models(ana.clone()).await, ["for-all", "for-ana"]);
    assert_eq!(models(narrowed.clone()).await, ["for-all"]);
    assert_eq!(models(ada.clone()).await, ["for-all"]);

    // A key cannot be narrowed to an LLM that does not exist.
    let client = app.browser();
    app.sign_in(&client, "ana", "password ana").await;
    let refused = client
        .post(app.url("/v1/keys"))
        .json(&json!({"name": "k", "llms": ["nope"]}))
        .send()
        .await
        .unwrap();
    error_body(refused, 400).await;

    // The audit trail is for admins and viewers.
    assert_eq!(
        app.client()
            .get(app.url("/v1/audit"))
            .bearer_auth(&vic)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    error_body(
        app.client()
            .get(app.url("/v1/audit"))
            .bearer_auth(&ana)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    let events = audit_events(&app, 5).await;
    assert!(events
        .iter()
        .any(|e| e["principal"] == "ada" && e["status"] == 403));
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_upstream_request() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (base, _, seen) = start_providers().await;
    register(&app, openai_llm("endless", &base, "gpt-endless")).await;
    let response = chat(
        &app,
        MASTER,
        json!({"model": "endless", "stream": true, "messages": []}),
    )
    .await;
    let mut body = response.bytes_stream();
    body.next().await.unwrap().unwrap();
    assert!(!seen.stream_dropped.load(Ordering::SeqCst));
    drop(body);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !seen.stream_dropped.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the provider's stream is still being read after the client left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = audit_events(&app, 1).await;
    assert_eq!(events[0]["status"], 499);
}

/// Without `TCP_NODELAY` a small chunk written while the previous one is unacknowledged waits
/// for the client's delayed ACK (~40 ms on Linux once a kept-alive connection turns
/// interactive): most chunks of a stream would arrive tens of milliseconds late.
#[tokio::test]
async fn streamed_chunks_are_not_held_back_by_nagle() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (base, _, _) = start_providers().await;
    register(&app, openai_llm("timed", &base, "gpt-timed-chunks")).await;
    // One connection, kept alive: the stall shows from the second request on.
    let client = app.client();
    let mut delays = Vec::new();
    for round in 0..3 {
        let response = client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(MASTER)
            .json(&json!({"model": "timed", "stream": true, "messages": []}))
            .send()
            .await
            .unwrap();
        let mut body = response.bytes_stream();
        let mut pending = String::new();
        while let Some(bytes) = body.next().await {
            let arrived = clock_us();
            pending.push_str(std::str::from_utf8(&bytes.unwrap()).unwrap());
            while let Some(end) = pending.find("\n\n") {
                let frame: String = pending.drain(..end + 2).collect();
                let data = frame.trim().strip_prefix("data: ").unwrap();
                if round > 0 && data != "[DONE]" {
                    let chunk: Value = serde_json::from_str(data).unwrap();
                    let sent: u64 = chunk["choices"][0]["delta"]["content"]
                        .as_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    delays.push(arrived.saturating_sub(sent));
                }
            }
        }
    }
    assert_eq!(delays.len(), 40);
    delays.sort_unstable();
    // Three chunks in four come within a few hundred µs with TCP_NODELAY; without it, most
    // wait for an ACK (measured: p75 ≈ 25 ms).
    let p75 = Duration::from_micros(delays[delays.len() * 3 / 4]);
    assert!(
        p75 < Duration::from_millis(5),
        "3 chunks in 4 arrive up to {p75:?} after the provider sent them: TCP_NODELAY lost?"
    );
}

#[tokio::test]
async fn the_official_openai_python_sdk_works_against_the_gateway() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (base, anthropic_base, _) = start_providers().await;
    register(&app, openai_llm("house-tools", &base, "gpt-tools")).await;
    register(
        &app,
        json!({"name": "claude", "provider": "anthropic", "base_url": anthropic_base, "model": "claude-sonnet-4-5", "api_key": PROVIDER_KEY, "grants": {"all_members": true}}),
    )
    .await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/openai_sdk.py");
    let mut command = std::process::Command::new(crate::mcp_peers::python());
    command
        .arg(script)
        .args(["house-tools", "claude"])
        .env("HEARTH_URL", app.origin())
        .env("HEARTH_KEY", MASTER);
    // Off the runtime's thread: the server under test runs on it.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the SDK script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok: house-tools, claude"), "{stdout}");
}

#[tokio::test]
async fn a_provider_that_redirects_gets_no_key_and_the_client_a_502_that_says_so() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    let (elsewhere, _, seen) = start_providers().await;
    // Every path redirected to the same path on the real provider (a 307 keeps the POST).
    let base = crate::harness::redirecting_to(elsewhere).await;
    register(&app, openai_llm("moved", &base, "gpt-ok")).await;

    for stream in [false, true] {
        let response = chat(&app, MASTER, json!({"model": "moved", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})).await;
        let body = error_body(response, 502).await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("redirect"),
            "{body}"
        );
    }
    assert_eq!(
        seen.calls.load(Ordering::SeqCst),
        0,
        "the provider key never followed the redirect"
    );
    app.stop().await;
}
