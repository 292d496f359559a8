//! Plain requests of a session, answered in front of rmcp.
//!
//! In a 2025-11-25 session, `tools/call` and `tools/list` are one request and one answer
//! (with the call's progress before it, when the client asked for progress). rmcp passes
//! each through its session machinery, a handful of tasks and channels that cost more than
//! all the rest of the gateway; the guard answers these itself, with the same [`Relay`] and
//! the same checks, as one JSON message or, once progress comes, as an event stream (the
//! transport allows either). Everything else, and any request that is not plainly valid,
//! goes to rmcp, which answers it as it always would. rmcp still sees each session at least
//! every [`super::SEEN_EVERY`], so that an active session does not expire there.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestParams, CancelledNotificationParam, ErrorData, Notification,
    ProgressNotificationParam, ProtocolVersion, RequestId, RequestMetaObject, ServerJsonRpcMessage,
    ServerNotification, ServerResult,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Asker, Relay};
use crate::mcp::media_type_is;
use crate::mcp::upstream::{Called, Downstream, ProgressTo};
use crate::state::AppState;

/// A request the guard answers itself.
pub(super) enum Plain {
    Call {
        id: RequestId,
        params: CallToolRequestParams,
        progress: Option<rmcp::model::ProgressToken>,
    },
    List {
        id: RequestId,
    },
}

/// A session's request, as far as the guard is concerned.
pub(super) enum Read {
    Plain(Plain),
    /// The client gave up a request; the guard cancels it if it is running it.
    Cancelled(RequestId),
    Other,
}

/// A JSON-RPC message as the guard reads it: the envelope alone, its params left as they
/// came until the method is known (rmcp's own reading buffers the whole message several
/// times over, which costs more than the rest of the request). Anything it does not know
/// fails to read and is left to rmcp.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(borrow)]
    jsonrpc: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    id: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    method: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    params: Option<&'a serde_json::value::RawValue>,
}

/// `tools/list` params the guard answers: a cursor (the whole list is one page) and a
/// progress token at most.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    #[serde(rename = "_meta", default)]
    meta: Option<RequestMetaObject>,
    #[serde(default, rename = "cursor")]
    _cursor: Option<String>,
}

/// What the body of a request in a session asks, when its headers are plainly valid.
pub(super) fn read(state: &AppState, parts: &Parts, body: &[u8]) -> Read {
    if !plainly_valid(state, parts) {
        return Read::Other;
    }
    read_message(body).unwrap_or(Read::Other)
}

fn read_message(body: &[u8]) -> Option<Read> {
    let message: Envelope = serde_json::from_slice(body).ok()?;
    if message.jsonrpc != "2.0" {
        return None;
    }
    let params = message.params.map(|p| p.get()).filter(|p| *p != "null");
    let Some(id) = message.id else {
        // A notification: only a cancellation concerns the guard.
        if message.method != "notifications/cancelled" {
            return None;
        }
        let params: CancelledNotificationParam = serde_json::from_str(params?).ok()?;
        return params.request_id.map(Read::Cancelled);
    };
    let id: RequestId = serde_json::from_str(id.get()).ok()?;
    // A request whose `_meta` holds more than a progress token (a revision's own fields)
    // is rmcp's to read.
    let progress_only = |meta: &Option<RequestMetaObject>| {
        meta.as_ref()
            .is_none_or(|m| m.0.keys().all(|k| k == "progressToken"))
    };
    match message.method.as_ref() {
        "tools/call" => {
            let mut params: CallToolRequestParams = serde_json::from_str(params?).ok()?;
            if !progress_only(&params.meta) {
                return None;
            }
            let progress = params.meta.take().and_then(|m| m.get_progress_token());
            Some(Read::Plain(Plain::Call {
                id,
                params,
                progress,
            }))
        }
        "tools/list" => {
            if let Some(params) = params {
                let params: ListParams = serde_json::from_str(params).ok()?;
                if !progress_only(&params.meta) {
                    return None;
                }
            }
            Some(Read::Plain(Plain::List { id }))
        }
        _ => None,
    }
}

/// Whether rmcp would take a request of a session with these headers as it is: it accepts
/// both answer types, sends JSON, names a revision that has sessions (or none), names no
/// method or tool in headers (2026-07-28's, which rmcp checks against the body), and comes
/// from an allowed `Host` and `Origin`. Anything else is left to rmcp to answer.
fn plainly_valid(state: &AppState, parts: &Parts) -> bool {
    let headers = &parts.headers;
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let accept = text(header::ACCEPT).unwrap_or_default();
    let accepts = |kind: &str| accept.split(',').any(|a| media_type_is(a, kind));
    let json = text(header::CONTENT_TYPE).is_some_and(|c| media_type_is(c, "application/json"));
    let revision = match text(HeaderName::from_static("mcp-protocol-version")) {
        None => true,
        Some(version) => ProtocolVersion::KNOWN_VERSIONS
            .iter()
            .any(|v| v.as_str() == version && *v != ProtocolVersion::V_2026_07_28),
    };
    let named = headers.contains_key("mcp-method") || headers.contains_key("mcp-name");
    accepts("application/json")
        && accepts("text/event-stream")
        && json
        && revision
        && !named
        && host_allowed(&state.gateway_hosts, text(header::HOST))
        && origin_allowed(&state.gateway_origins, text(header::ORIGIN))
}

/// `Host` among `allowed` (by name, any port), or no list to check against.
fn host_allowed(allowed: &[String], host: Option<&str>) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(host) = host else { return false };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// No `Origin` (a client outside a browser), or exactly one of `allowed` (where `:*` stands
/// for any port).
fn origin_allowed(allowed: &[String], origin: Option<&str>) -> bool {
    let Some(origin) = origin else { return true };
    allowed.iter().any(|a| match a.strip_suffix('*') {
        Some(prefix) => origin
            .strip_prefix(prefix)
            .is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())),
        None => a == origin,
    })
}

/// The answer to `plain`, asked in session `session` by `asker`.
pub(super) async fn answer(state: AppState, asker: Asker, plain: Plain, session: &str) -> Response {
    let relay = Relay {
        state: state.clone(),
    };
    let (id, params, progress) = match plain {
        Plain::List { id } => {
            return match relay.listing(&asker).await {
                Ok(listing) => json(response(&id, listing.legacy_json())),
                Err(error) => json(finished(id, Err(error))),
            }
        }
        Plain::Call {
            id,
            params,
            progress,
        } => (id, params, progress),
    };
    let (sender, mut notices) = mpsc::channel(PROGRESS_BACKLOG);
    let downstream = progress.map(|token| Downstream {
        to: ProgressTo::Stream(sender),
        token,
    });
    let cancel = state.streams_end.child_token();
    let running = Running::new(&state, session, id.clone(), cancel.clone());
    let mut call: Call =
        Box::pin(async move { relay.call(&asker, params, downstream, cancel).await });
    // The answer alone is sent as JSON; progress before it makes the answer a stream.
    let first = tokio::select! {
        biased;
        Some(notice) = notices.recv() => notice,
        answer = &mut call => return json(finished(id, answer)),
    };
    let first = futures_util::stream::once(std::future::ready(Ok::<_, Infallible>(event(
        progress_notice(first),
    ))));
    let rest = futures_util::stream::unfold(
        Streaming::Waiting(notices, call, running, id),
        |at| async move {
            let Streaming::Waiting(mut notices, mut call, running, id) = at else {
                return None;
            };
            tokio::select! {
                biased;
                Some(notice) = notices.recv() => {
                    let event = event(progress_notice(notice));
                    Some((Ok(event), Streaming::Waiting(notices, call, running, id)))
                }
                answer = &mut call => Some((Ok(event(finished(id, answer))), Streaming::Done)),
            }
        },
    );
    let stream = futures_util::StreamExt::chain(first, rest);
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Progress notices a call may have waiting for a slow client before the server's wait.
const PROGRESS_BACKLOG: usize = 64;

/// A call the guard runs, polled where its answer is awaited: by the request, then by the
/// answer's stream once progress comes (dropped with it when the client goes away).
type Call = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Called, ErrorData>> + Send>>;

enum Streaming {
    Waiting(
        mpsc::Receiver<ProgressNotificationParam>,
        Call,
        Running,
        RequestId,
    ),
    Done,
}

/// A call the guard runs, which the client may cancel until it is dropped.
struct Running {
    state: AppState,
    key: (String, RequestId),
}

impl Running {
    fn new(state: &AppState, session: &str, id: RequestId, cancel: CancellationToken) -> Running {
        let key = (session.to_owned(), id);
        state.gateway_sessions.started(key.clone(), cancel);
        Running {
            state: state.clone(),
            key,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.state.gateway_sessions.ended(&self.key);
    }
}

/// The answer as rmcp gives it to a client of a revision before 2026-07-28 (results without
/// `resultType`, and none that only 2026-07-28 knows), written out: a plain result as the
/// server wrote it.
fn finished(id: RequestId, answer: Result<Called, ErrorData>) -> serde_json::Result<Vec<u8>> {
    let message = match answer {
        Ok(Called::Plain(plain)) => return response(&id, plain.json().as_bytes()),
        Ok(Called::Read(read)) => match ServerResult::from(read) {
            ServerResult::InputRequiredResult(_) => ServerJsonRpcMessage::error(
                ErrorData::invalid_request(
                    "InputRequiredResult requires negotiated protocol version 2026-07-28 or newer",
                    None,
                ),
                Some(id),
            ),
            ServerResult::CreateTaskResult(_) => ServerJsonRpcMessage::error(
                ErrorData::invalid_request("the client did not declare tasks", None),
                Some(id),
            ),
            mut result => {
                result.strip_result_type_for_legacy_peer();
                result.strip_non_object_output_for_legacy_peer();
                ServerJsonRpcMessage::response(result, id)
            }
        },
        Err(error) => ServerJsonRpcMessage::error(error, Some(id)),
    };
    serde_json::to_vec(&message)
}

fn progress_notice(params: ProgressNotificationParam) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&ServerJsonRpcMessage::notification(
        ServerNotification::ProgressNotification(Notification::new(params)),
    ))
}

fn json(message: serde_json::Result<Vec<u8>>) -> Response {
    match message {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => crate::error::AppError::internal(e).into_response(),
    }
}

/// The answer to request `id` whose result is written already.
fn response(id: &RequestId, result: &[u8]) -> serde_json::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(result.len() + 48);
    body.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    serde_json::to_writer(&mut body, id)?;
    body.extend_from_slice(b",\"result\":");
    body.extend_from_slice(result);
    body.push(b'}');
    Ok(body)
}

/// A message as an event of the answer's stream (a message that could not be written, as
/// an empty one: the client's wait then ends with the stream). A result passed on as the
/// server wrote it may hold line breaks between its tokens: each line is a `data` line of its
/// own, which the client joins again.
fn event(message: serde_json::Result<Vec<u8>>) -> Bytes {
    let data = message.unwrap_or_default();
    let mut event = Vec::with_capacity(data.len() + 24);
    event.extend_from_slice(b"event: message\n");
    for line in data.split(|b| matches!(b, b'\n' | b'\r')) {
        event.extend_from_slice(b"data: ");
        event.extend_from_slice(line);
        event.push(b'\n');
    }
    event.push(b'\n');
    event.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Option<Read> {
        read_message(body.as_bytes())
    }

    #[test]
    fn plain_calls_lists_and_cancellations_are_read() {
        let Some(Read::Plain(Plain::Call {
            id,
            params,
            progress,
        })) = read(
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":{"progressToken":"p1"}}}"#,
        )
        else {
            panic!("a plain call");
        };
        assert_eq!(id, RequestId::Number(7));
        assert_eq!(params.name, "echo");
        assert_eq!(params.arguments.unwrap()["text"], "hi");
        assert!(
            params.meta.is_none(),
            "the client's _meta is not the upstream's"
        );
        assert_eq!(
            progress,
            Some(rmcp::model::ProgressToken(RequestId::String("p1".into())))
        );
        assert!(matches!(
            read(r#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#),
            Some(Read::Plain(Plain::List {
                id: RequestId::String(_)
            }))
        ));
        assert!(matches!(
            read(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"x"}}"#),
            Some(Read::Plain(Plain::List { .. }))
        ));
        assert!(matches!(
            read(
                r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}"#
            ),
            Some(Read::Cancelled(RequestId::Number(3)))
        ));
    }

    #[test]
    fn anything_else_is_left_to_rmcp() {
        for body in [
            // Not JSON-RPC 2.0, a batch, a response, an id that is null.
            r#"{"jsonrpc":"1.0","id":1,"method":"tools/list"}"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#,
            // A field the envelope does not know, or a key given twice.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","extra":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/list"}"#,
            // More than a progress token in _meta; list params it does not know.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"filter":"x"}}"#,
            // A call without params or a name; other methods and notifications.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"prompts/list"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}"#,
        ] {
            assert!(read(body).is_none(), "{body}");
        }
    }

    #[test]
    fn a_message_with_line_breaks_is_one_event_of_several_data_lines() {
        let written = "{\n  \"content\": [\r\n {\"type\":\"text\",\"text\":\"a\\nb\"}\r]\n}";
        let written_out = event(Ok(written.as_bytes().to_vec()));
        let text = std::str::from_utf8(&written_out).unwrap();
        let (lines, end) = text.split_at(text.len() - 1);
        assert_eq!(end, "\n", "an event ends with a blank line");
        let mut lines = lines.lines();
        assert_eq!(lines.next(), Some("event: message"));
        // As a client reads it: every line a data line, joined with line breaks.
        let data: Vec<&str> = lines
            .map(|line| line.strip_prefix("data: ").expect("a data line"))
            .collect();
        let read: serde_json::Value = serde_json::from_str(&data.join("\n")).unwrap();
        assert_eq!(
            read,
            serde_json::from_str::<serde_json::Value>(written).unwrap()
        );
        assert_eq!(read["content"][0]["text"], "a\nb");
        let one = event(Ok(br#"{"a":1}"#.to_vec()));
        assert_eq!(&one[..], b"event: message\ndata: {\"a\":1}\n\n");
    }

    #[test]
    fn hosts_are_matched_by_name_on_any_port() {
        let allowed = ["localhost".to_owned(), "::1".to_owned()];
        assert!(host_allowed(&allowed, Some("localhost:8484")));
        assert!(host_allowed(&allowed, Some("LOCALHOST")));
        assert!(host_allowed(&allowed, Some("[::1]:8484")));
        assert!(!host_allowed(&allowed, Some("evil.example:8484")));
        assert!(!host_allowed(&allowed, Some("localhost.evil.example")));
        assert!(!host_allowed(&allowed, None));
        assert!(host_allowed(&[], Some("anything")));
    }

    #[test]
    fn origins_must_match_exactly_or_on_any_port() {
        let allowed = [
            "http://localhost:*".to_owned(),
            "http://127.0.0.1:8484".to_owned(),
        ];
        assert!(origin_allowed(&allowed, None));
        assert!(origin_allowed(&allowed, Some("http://localhost:3000")));
        assert!(origin_allowed(&allowed, Some("http://127.0.0.1:8484")));
        assert!(!origin_allowed(&allowed, Some("http://127.0.0.1:8485")));
        assert!(!origin_allowed(&allowed, Some("http://localhost:")));
        assert!(!origin_allowed(
            &allowed,
            Some("http://localhost:1@evil.example")
        ));
        assert!(!origin_allowed(&allowed, Some("https://evil.example")));
    }
}
