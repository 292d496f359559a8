//! Inference: `GET /v1/models` and `POST /v1/chat/completions`, OpenAI-compatible.
//!
//! The caller names an LLM as `model`; Hearth checks that it may run it, attaches the
//! provider's key, and calls the provider: OpenAI-family providers with the client's body
//! unchanged but for `model`, Anthropic through [`super::anthropic`]. Answers come back with
//! `model` set to the LLM's name; streams end with `data: [DONE]`, or with an error event and
//! `data: [DONE]` when the provider fails midway (see [`super::relay`]). A client that goes away drops the stream,
//! which drops the provider's connection.
//!
//! Every call that reached an LLM is audited once, when it ends, however it ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use app::api::{Model, ModelList, Provider, LLM_INFERENCE_CALL};

use super::anthropic::{self, StreamTranslator};
use super::catalog::Target;
use super::probe::ANTHROPIC_VERSION;
use super::relay::{as_chunk, event_stream, frame, stream_response, Events, Mode, DONE};
use super::resources::fetch_all;
use super::sse;
use super::token_count;
use crate::audit::Record;
use crate::auth::{allowed, Action, Principal, Resource};
use crate::error::{AppError, Echo, Result};
use crate::extract::ApiJson;
use crate::state::AppState;

/// Requests may carry images; 32 MiB is room for several.
const MAX_BODY: usize = 32 << 20;
/// How much of a provider's error answer is read to find its message.
const MAX_ERROR_BODY: usize = 64 << 10;
/// The largest event a provider's stream may send (a whole tool call's arguments, say); the
/// browser reads Hearth's own streams with the same bound.
use app::sse::MAX_EVENT;
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/models", get(models)).route(
        "/v1/chat/completions",
        post(chat_completions).layer(DefaultBodyLimit::max(MAX_BODY)),
    )
}

async fn models(State(state): State<AppState>, principal: Principal) -> Result<Json<ModelList>> {
    let teams = crate::teams::of(&state, &principal).await?;
    let data = fetch_all(&state)
        .await?
        .into_iter()
        .filter(|row| row.runnable_by(&principal, &teams))
        .map(|row| Model {
            id: row.name,
            object: "model".into(),
            created: row.created_at,
            owned_by: row.provider.as_str().into(),
        })
        .collect();
    Ok(Json(ModelList {
        object: "list".into(),
        data,
    }))
}

/// The LLM `name`, if `principal` may run it. An LLM the caller may not even see is answered
/// as absent; catalogue readers are told why they may not run it, and the refusal is audited.
async fn runnable(
    state: &AppState,
    principal: &Principal,
    name: &str,
    started: Instant,
    streaming: bool,
) -> Result<Arc<Target>> {
    let not_found = || {
        AppError::ModelNotFound(format!(
            "there is no LLM named {} that you may use; GET /v1/models lists them",
            Echo(name)
        ))
    };
    let target = state
        .llm_catalog
        .get(state, name)
        .await?
        .ok_or_else(not_found)?;
    // The caller's teams matter only to an LLM granted to teams: looked up then only.
    let teams = if target.grants.teams.is_empty() {
        Vec::new()
    } else {
        crate::teams::of(state, principal).await?
    };
    if allowed(
        principal,
        Action::Run,
        Resource::Llm {
            name: &target.name,
            grants: &target.grants,
            teams: &teams,
        },
    ) {
        return Ok(target);
    }
    if !allowed(principal, Action::Read, Resource::Llms) {
        return Err(not_found());
    }
    Call::new(state, principal, &target, streaming, started).finish(StatusCode::FORBIDDEN.as_u16());
    Err(AppError::Forbidden(match &principal.llms {
        Some(_) if target.grants.all_members => format!("this API key is not allowed to run the LLM {name:?}"),
        _ => format!(
            "you may not run the LLM {name:?}: it is not granted to you (editing LLMs does not include running them; \
             grant it to all members or to your user)"
        ),
    }))
}

/// One call's audit event, written when the call ends. Dropped unfinished (the client went
/// away), it records 499.
pub(super) struct Call {
    state: AppState,
    record: Option<Record>,
    started: Instant,
}

impl Call {
    fn new(
        state: &AppState,
        principal: &Principal,
        target: &Target,
        streaming: bool,
        started: Instant,
    ) -> Call {
        let record = Record {
            kind: LLM_INFERENCE_CALL,
            principal: principal.name.clone(),
            user_id: principal.user_id,
            key_hash_prefix: principal.key_hash_prefix.clone(),
            llm: Some(target.name.clone()),
            model: Some(target.model.clone()),
            streaming: Some(streaming),
            status: 499,
            ..Record::default()
        };
        Call {
            state: state.clone(),
            record: Some(record),
            started,
        }
    }

    /// Counts already checked with [`token_count`]; a count that is not known keeps the last.
    pub(super) fn tokens(&mut self, prompt: Option<u64>, completion: Option<u64>) {
        if let Some(record) = &mut self.record {
            let count = |n: Option<u64>| n.and_then(|n| i64::try_from(n).ok());
            record.prompt_tokens = count(prompt).or(record.prompt_tokens);
            record.completion_tokens = count(completion).or(record.completion_tokens);
        }
    }

    /// The LLM's name.
    pub(super) fn llm(&self) -> String {
        self.record
            .as_ref()
            .and_then(|r| r.llm.clone())
            .unwrap_or_default()
    }

    pub(super) fn finish(&mut self, status: u16) {
        if let Some(mut record) = self.record.take() {
            record.status = status;
            record.duration_ms = self.started.elapsed().as_millis() as i64;
            self.state.audit.record(record);
        }
    }
}

impl Drop for Call {
    /// The client went away (499), or Hearth cut the call when it shut down (503).
    fn drop(&mut self) {
        self.finish(if self.state.streams_end.is_cancelled() {
            503
        } else {
            499
        });
    }
}

async fn chat_completions(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Response {
    let started = Instant::now();
    let name = match body.get("model") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        _ => {
            return AppError::BadRequest(
                "`model` is required: the name of an LLM (GET /v1/models lists them)".into(),
            )
            .into_response()
        }
    };
    let streaming = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return AppError::BadRequest("`stream` must be true or false".into()).into_response()
        }
    };
    let target = match runnable(&state, &principal, &name, started, streaming).await {
        Ok(target) => target,
        Err(e) => return e.into_response(),
    };
    let mut call = Call::new(&state, &principal, &target, streaming, started);
    match complete(&state, &target, body, streaming, &mut call).await {
        Ok(Answer::Whole(json)) => {
            call.finish(200);
            if streaming {
                // The client asked for a stream and the provider answered at once: a stream
                // of one chunk is still a stream.
                let mut bytes = frame(&as_chunk(json));
                bytes.extend_from_slice(DONE);
                return event_stream(Body::from(bytes));
            }
            Json(json).into_response()
        }
        Ok(Answer::Stream(events, mode)) => stream_response(&state, events, mode, call),
        Err(e) => {
            call.finish(e.status().as_u16());
            e.into_response()
        }
    }
}

enum Answer {
    Whole(Value),
    Stream(Events, Mode),
}

/// Calls the provider and returns its answer, already in OpenAI form for a whole answer.
async fn complete(
    state: &AppState,
    target: &Target,
    mut body: Map<String, Value>,
    streaming: bool,
    call: &mut Call,
) -> Result<Answer> {
    let key = target.key(state)?;
    let client = &state.llm_client;
    let request = match target.provider {
        Provider::Anthropic => {
            let translated =
                anthropic::request(&body, &target.model).map_err(AppError::BadRequest)?;
            let mut request = client
                .post(target.completions_url.clone())
                .header("anthropic-version", ANTHROPIC_VERSION)
                .json(&translated);
            if let Some(key) = &key {
                request = request.header("x-api-key", key);
            }
            request
        }
        Provider::Openai
        | Provider::Vllm
        | Provider::Deepseek
        | Provider::Ollama
        | Provider::Llamacpp
        | Provider::OpenaiCompatible => {
            body.insert("model".into(), Value::String(target.model.clone()));
            let mut request = client.post(target.completions_url.clone()).json(&body);
            if let Some(key) = &key {
                request = request.bearer_auth(key);
            }
            request
        }
    };
    let request = request.header(
        header::ACCEPT,
        if streaming {
            "text/event-stream"
        } else {
            "application/json"
        },
    );

    let answer = match tokio::time::timeout(state.llm_timeout, request.send()).await {
        Err(_) => return Err(timed_out(target, state.llm_timeout)),
        Ok(Err(e)) => return Err(unreachable(target, &e)),
        Ok(Ok(answer)) => answer,
    };
    if !answer.status().is_success() {
        return Err(refusal(target, answer, key.as_deref()).await);
    }

    if streaming && is_event_stream(&answer) {
        let events: Events = Box::pin(sse::events(
            answer.bytes_stream(),
            MAX_EVENT,
            state.llm_timeout,
        ));
        let mode = match target.provider {
            Provider::Anthropic => {
                let include_usage = body
                    .get("stream_options")
                    .and_then(|o| o.get("include_usage"))
                    .and_then(Value::as_bool)
                    == Some(true);
                Mode::Anthropic(Box::new(StreamTranslator::new(
                    &target.name,
                    crate::db::now(),
                    include_usage,
                )))
            }
            _ => Mode::Passthrough {
                name: target.name.clone(),
            },
        };
        return Ok(Answer::Stream(events, mode));
    }

    let bytes = match tokio::time::timeout(
        state.llm_timeout,
        read_whole(answer, state.llm_max_answer),
    )
    .await
    {
        Err(_) => return Err(timed_out(target, state.llm_timeout)),
        Ok(Err(None)) => {
            tracing::warn!(llm = %target.name, limit = state.llm_max_answer, "a provider's answer was larger than the limit");
            return Err(AppError::BadGateway(format!(
                "the answer from the provider of LLM {:?} is larger than {} MiB, the most Hearth reads (--llm-max-answer-mib)",
                target.name,
                state.llm_max_answer >> 20
            )));
        }
        Ok(Err(Some(e))) => {
            return Err(AppError::BadGateway(format!(
                "the answer from the provider of LLM {:?} broke off: {}",
                target.name,
                kind_of(&e)
            )))
        }
        Ok(Ok(bytes)) => bytes,
    };
    let upstream: Value = serde_json::from_slice(&bytes).map_err(|_| {
        AppError::BadGateway(format!(
            "the provider of LLM {:?} answered with something that is not JSON",
            target.name
        ))
    })?;
    let mut json = match target.provider {
        Provider::Anthropic => anthropic::response(&upstream, &target.name, crate::db::now()),
        _ => upstream,
    };
    if let Some(object) = json.as_object_mut() {
        object.insert("model".into(), Value::String(target.name.clone()));
    }
    let count = |k: &str| token_count(json.pointer(&format!("/usage/{k}")));
    call.tokens(count("prompt_tokens"), count("completion_tokens"));
    Ok(Answer::Whole(json))
}

/// A whole answer's body, or `Err(None)` past `limit` bytes (told by its length, or counted).
pub(crate) async fn read_whole(
    answer: reqwest::Response,
    limit: usize,
) -> std::result::Result<Vec<u8>, Option<reqwest::Error>> {
    read_at_most(answer.content_length(), answer.bytes_stream(), limit).await
}

/// A body's `chunks` whole, or `Err(None)` past `limit` bytes (told by `length`, or counted).
pub(crate) async fn read_at_most(
    length: Option<u64>,
    chunks: impl futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>>,
    limit: usize,
) -> std::result::Result<Vec<u8>, Option<reqwest::Error>> {
    if length.is_some_and(|n| n > limit as u64) {
        return Err(None);
    }
    let mut body = Vec::new();
    let mut chunks = std::pin::pin!(chunks);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(Some)?;
        if body.len() + chunk.len() > limit {
            return Err(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn is_event_stream(answer: &reqwest::Response) -> bool {
    answer
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

fn timed_out(target: &Target, after: Duration) -> AppError {
    AppError::GatewayTimeout(format!(
        "the provider of LLM {:?} did not answer within {} s",
        target.name,
        after.as_secs()
    ))
}

fn kind_of(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection refused or failed"
    } else if e.is_body() || e.is_decode() {
        "the connection closed early"
    } else {
        "the connection failed"
    }
}

fn unreachable(target: &Target, e: &reqwest::Error) -> AppError {
    tracing::warn!(llm = %target.name, error = %crate::error::ErrorChain(e), "LLM provider unreachable");
    AppError::BadGateway(format!(
        "could not reach the provider of LLM {:?} ({})",
        target.name,
        kind_of(e)
    ))
}

/// A provider's non-2xx answer as the error the client gets. The provider's own message is
/// passed on (with the key blanked, should it quote it) except for auth failures, whose
/// answers may describe Hearth's key and are none of the caller's business.
async fn refusal(target: &Target, answer: reqwest::Response, key: Option<&str>) -> AppError {
    let status = answer.status();
    let retry_after = answer.headers().get(header::RETRY_AFTER).cloned();
    let name = &target.name;
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        tracing::warn!(llm = %name, status = status.as_u16(), "the provider rejected the LLM's key");
        return AppError::BadGateway(format!(
            "the provider of LLM {name:?} rejected Hearth's key for it (HTTP {}); an admin must update the LLM's key",
            status.as_u16()
        ));
    }
    if status.is_redirection() {
        // Redirects are never followed (the key would go wherever the provider points).
        tracing::warn!(llm = %name, status = status.as_u16(), "the provider redirected; its base URL is misconfigured");
        return AppError::BadGateway(format!(
            "the provider of LLM {name:?} answered with a redirect (HTTP {}), which Hearth does not follow with its key; \
             an admin must set the LLM's base URL to where it points",
            status.as_u16()
        ));
    }
    let message = provider_message(answer, key).await;
    let detail = message.map(|m| format!(": {m}")).unwrap_or_default();
    match status {
        StatusCode::TOO_MANY_REQUESTS => AppError::RateLimited {
            message: format!("the provider of LLM {name:?} is rate limiting requests{detail}"),
            retry_after,
        },
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
            AppError::GatewayTimeout(format!(
                "the provider of LLM {name:?} timed out (HTTP {}){detail}",
                status.as_u16()
            ))
        }
        s if s.is_client_error() => AppError::UpstreamRefused {
            status: s,
            message: format!("the provider of LLM {name:?} refused the request{detail}"),
        },
        s => AppError::BadGateway(format!(
            "the provider of LLM {name:?} failed (HTTP {}){detail}",
            s.as_u16()
        )),
    }
}

/// The message in a provider's error answer (OpenAI, Anthropic or plain shapes), trimmed.
async fn provider_message(answer: reqwest::Response, key: Option<&str>) -> Option<String> {
    let mut body = Vec::new();
    let mut stream = answer.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ERROR_BODY {
            break;
        }
    }
    let json: Value = serde_json::from_slice(&body).ok()?;
    let message = json
        .pointer("/error/message")
        .or_else(|| json.get("message"))
        .or_else(|| json.get("detail"))
        .or_else(|| json.get("error").filter(|e| e.is_string()))
        .and_then(Value::as_str)?;
    let mut message: String = message.chars().take(500).collect();
    if let Some(key) = key.filter(|k| k.len() >= 8) {
        message = message.replace(key, "[redacted]");
    }
    Some(message)
}
