//! A provider's answer as the client's stream: events translated one by one (OpenAI-family
//! chunks passed on with `model` renamed, Anthropic's re-framed), large ones off the async
//! threads; the end marker, an error event or Hearth's shutdown ending it with `[DONE]`; the
//! call audited once, with its tokens, however it ends.
//!
//! It never lets a provider's bytes become other SSE fields, and never holds more than one
//! event (at most 8 MiB) of the provider's stream.

use std::convert::Infallible;
use std::pin::Pin;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::{Stream, StreamExt};
use serde_json::Value;

use super::anthropic::{self, StreamTranslator};
use super::gateway::Call;
use super::sse::{Event, SseError};
use super::token_count;
use crate::state::AppState;

/// Events larger than this are translated on a blocking thread, so that no request waits
/// behind one while the JSON is read and written.
const OFF_THREAD: usize = 1 << 20;

pub(super) type Events = Pin<Box<dyn Stream<Item = std::result::Result<Event, SseError>> + Send>>;

/// How a stream's events become the client's.
pub(super) enum Mode {
    /// OpenAI-family: each chunk as it is, `model` renamed.
    Passthrough {
        name: String,
    },
    Anthropic(Box<StreamTranslator>),
}

/// A whole `chat.completion` as the one `chat.completion.chunk` of a stream.
pub(super) fn as_chunk(mut json: Value) -> Value {
    if let Some(object) = json.as_object_mut() {
        object.insert("object".into(), "chat.completion.chunk".into());
        if let Some(Value::Array(choices)) = object.get_mut("choices") {
            for choice in choices.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(message) = choice.remove("message") {
                    choice.insert("delta".into(), message);
                }
            }
        }
    }
    json
}

/// The state of one stream as the client reads it.
struct Relay {
    events: Events,
    mode: Mode,
    call: Call,
    /// Cancelled when the shutdown grace is over.
    end: tokio_util::sync::CancellationToken,
    done: bool,
}

pub(super) fn frame(json: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"data: ");
    serde_json::to_writer(&mut out, json).expect("a JSON value serializes");
    out.extend_from_slice(b"\n\n");
    out
}

pub(super) const DONE: &[u8] = b"data: [DONE]\n\n";

/// What one upstream event becomes.
#[derive(Default)]
struct Translated {
    bytes: Vec<u8>,
    /// Token counts it reported: (prompt, completion).
    tokens: Option<(Option<u64>, Option<u64>)>,
    end: Option<End>,
}

enum End {
    /// The provider's own end marker.
    Done,
    /// The provider reported an error: its message.
    Failed(String),
}

impl Mode {
    /// One event in the client's terms. Pure work on the event, so that it can run anywhere.
    fn translate(&mut self, event: Event) -> Translated {
        match self {
            Mode::Passthrough { name } => {
                if event.data.trim() == "[DONE]" {
                    return Translated {
                        bytes: DONE.to_vec(),
                        tokens: None,
                        end: Some(End::Done),
                    };
                }
                let Ok(mut json) = serde_json::from_str::<Value>(&event.data) else {
                    // Not ours to judge: passed on as it came, every line a `data:` line again
                    // (one prefix for several lines would let the rest be read as other fields).
                    let mut bytes = Vec::with_capacity(event.data.len() + 16);
                    for line in event.data.split('\n') {
                        bytes.extend_from_slice(b"data: ");
                        bytes.extend_from_slice(line.as_bytes());
                        bytes.push(b'\n');
                    }
                    bytes.push(b'\n');
                    return Translated {
                        bytes,
                        ..Translated::default()
                    };
                };
                let mut tokens = None;
                if let Some(object) = json.as_object_mut() {
                    if object.contains_key("model") {
                        object.insert("model".into(), Value::String(name.clone()));
                    }
                    if let Some(usage) = object.get("usage") {
                        tokens = Some((
                            token_count(usage.get("prompt_tokens")),
                            token_count(usage.get("completion_tokens")),
                        ));
                    }
                }
                Translated {
                    bytes: frame(&json),
                    tokens,
                    end: None,
                }
            }
            Mode::Anthropic(translator) => match translator.on_event(&event.event, &event.data) {
                anthropic::Step::Chunks(chunks) => {
                    let mut bytes: Vec<u8> = chunks.iter().flat_map(frame).collect();
                    if !translator.finished() {
                        return Translated {
                            bytes,
                            ..Translated::default()
                        };
                    }
                    bytes.extend_from_slice(DONE);
                    Translated {
                        bytes,
                        tokens: Some(translator.usage()),
                        end: Some(End::Done),
                    }
                }
                anthropic::Step::Error(message) => Translated {
                    end: Some(End::Failed(message)),
                    ..Translated::default()
                },
            },
        }
    }
}

impl Relay {
    /// `data: {"error": …}` then `data: [DONE]`, and the call recorded as failed with `status`.
    fn error_frames(&mut self, status: StatusCode, message: String) -> Vec<u8> {
        self.done = true;
        if let Mode::Anthropic(t) = &self.mode {
            let (prompt, completion) = t.usage();
            self.call.tokens(prompt, completion);
        }
        self.call.finish(status.as_u16());
        let kind = match status {
            StatusCode::GATEWAY_TIMEOUT => "gateway_timeout",
            StatusCode::SERVICE_UNAVAILABLE => "shutting_down",
            _ => "stream_interrupted",
        };
        let mut out = frame(
            &serde_json::json!({"error": {"message": message, "type": "upstream_error", "code": kind}}),
        );
        out.extend_from_slice(DONE);
        out
    }

    fn call_name(&self) -> String {
        self.call.llm()
    }

    /// Translates `event`, a large one on a blocking thread.
    async fn translate(&mut self, event: Event) -> Option<Translated> {
        if event.data.len() <= OFF_THREAD {
            return Some(self.mode.translate(event));
        }
        // The mode goes to the blocking thread and back; a placeholder holds its place.
        let mut mode = std::mem::replace(
            &mut self.mode,
            Mode::Passthrough {
                name: String::new(),
            },
        );
        let (mode, translated) = tokio::task::spawn_blocking(move || {
            let translated = mode.translate(event);
            (mode, translated)
        })
        .await
        .ok()?;
        self.mode = mode;
        Some(translated)
    }

    /// The next bytes for the client, or `None` once the stream is over.
    async fn next_bytes(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.done {
                return None;
            }
            let next = tokio::select! {
                biased;
                () = self.end.cancelled() => {
                    let message = format!("Hearth is shutting down: the answer from LLM {:?} was cut off", self.call_name());
                    return Some(self.error_frames(StatusCode::SERVICE_UNAVAILABLE, message));
                }
                next = self.events.next() => next,
            };
            let event = match next {
                Some(Err(SseError::Idle(idle))) => {
                    let message = format!(
                        "the provider of LLM {:?} sent nothing for {} s",
                        self.call_name(),
                        idle.as_secs()
                    );
                    return Some(self.error_frames(StatusCode::GATEWAY_TIMEOUT, message));
                }
                None => {
                    tracing::warn!(llm = %self.call_name(), "an LLM stream ended without its end marker");
                    let message = format!(
                        "the stream from the provider of LLM {:?} ended before its end",
                        self.call_name()
                    );
                    return Some(self.error_frames(StatusCode::BAD_GATEWAY, message));
                }
                Some(Err(SseError::TooLarge(app::sse::TooLarge(limit)))) => {
                    tracing::warn!(llm = %self.call_name(), limit, "an LLM stream sent an event past the limit");
                    let message = format!(
                        "the provider of LLM {:?} sent an event larger than {} MiB",
                        self.call_name(),
                        limit >> 20
                    );
                    return Some(self.error_frames(StatusCode::BAD_GATEWAY, message));
                }
                Some(Err(SseError::Transport(e))) => {
                    tracing::warn!(llm = %self.call_name(), error = %crate::error::ErrorChain(&e), "LLM stream broke off");
                    let message = format!(
                        "the stream from the provider of LLM {:?} broke off",
                        self.call_name()
                    );
                    return Some(self.error_frames(StatusCode::BAD_GATEWAY, message));
                }
                Some(Ok(event)) => event,
            };
            let Some(translated) = self.translate(event).await else {
                let message = format!(
                    "an event from the provider of LLM {:?} could not be read",
                    self.call_name()
                );
                return Some(self.error_frames(StatusCode::BAD_GATEWAY, message));
            };
            if let Some((prompt, completion)) = translated.tokens {
                self.call.tokens(prompt, completion);
            }
            match translated.end {
                Some(End::Failed(message)) => {
                    let message = format!(
                        "the provider of LLM {:?} reported an error: {message}",
                        self.call_name()
                    );
                    return Some(self.error_frames(StatusCode::BAD_GATEWAY, message));
                }
                Some(End::Done) => {
                    self.done = true;
                    self.call.finish(200);
                }
                None => {}
            }
            if !translated.bytes.is_empty() {
                return Some(translated.bytes);
            }
        }
    }
}

pub(super) fn stream_response(
    state: &AppState,
    events: Events,
    mode: Mode,
    call: Call,
) -> Response {
    let relay = Relay {
        events,
        mode,
        call,
        end: state.streams_end.clone(),
        done: false,
    };
    let body = futures_util::stream::unfold(relay, |mut relay| async move {
        let bytes = relay.next_bytes().await?;
        Some((Ok::<_, Infallible>(Bytes::from(bytes)), relay))
    });
    event_stream(Body::from_stream(body))
}

pub(super) fn event_stream(body: Body) -> Response {
    Response::builder()
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        )
        .header(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))
        .header("x-accel-buffering", HeaderValue::from_static("no"))
        .body(body)
        .expect("a streaming response builds")
}
