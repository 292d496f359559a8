//! A `tools/call` posted straight into a server's session.
//!
//! rmcp's client passes every request through its transport's worker and its service, a few
//! tasks and channels that cost more than the HTTP round trip itself. For a call in a
//! 2025-11-25 session the pool posts the request with rmcp's own HTTP client, to the
//! address, session and headers rmcp's transport last used (which [`Observed`] notes), and
//! reads the answer (JSON or an event stream) itself. Everything else still goes through
//! rmcp, which also opens the session, and opens it again when it expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::{HeaderName, HeaderValue};
use futures_util::StreamExt;
use rmcp::model::{
    CallToolResult, ClientJsonRpcMessage, ErrorCode, ErrorData, ProgressToken, RequestId,
    ServerJsonRpcMessage, ServerNotification, ServerResult,
};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};

use super::link::Links;
use super::{Downstream, Listener};
use crate::cors_proxy::policy::Caller;
use crate::cors_proxy::Upstream;

/// How rmcp's transport last posted to a session, made ready to post to it again: the
/// address parsed and the headers built once per session rather than on every call.
pub struct Posting {
    http: reqwest::Client,
    /// Connections of the session's own, for a plain-HTTP server.
    links: Option<Links>,
    uri: Arc<str>,
    url: reqwest::Url,
    session: Arc<str>,
    auth: Option<String>,
    custom: HashMap<HeaderName, HeaderValue>,
    /// Everything a call is posted with: the answer types, the session, the credential and
    /// the transport's own headers (its protocol version among them).
    headers: reqwest::header::HeaderMap,
    limits: StreamableHttpResponseLimits,
}

impl Posting {
    fn new(
        http: reqwest::Client,
        upstream: &Upstream,
        uri: Arc<str>,
        session: Arc<str>,
        auth: Option<String>,
        custom: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Option<Posting> {
        use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
        let url = reqwest::Url::parse(&uri).ok()?;
        let mut headers = reqwest::header::HeaderMap::with_capacity(custom.len() + 4);
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("text/event-stream, application/json"),
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in &custom {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(auth) = &auth {
            let mut value = HeaderValue::try_from(format!("Bearer {auth}")).ok()?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        headers.insert("mcp-session-id", HeaderValue::from_str(&session).ok()?);
        Some(Posting {
            http,
            links: Links::new(&url, &headers, upstream.clone()),
            uri,
            url,
            session,
            auth,
            custom,
            headers,
            limits,
        })
    }
}

/// rmcp's HTTP client for a server, noting how the transport posts within a session.
#[derive(Clone)]
pub struct Observed {
    http: reqwest::Client,
    upstream: Upstream,
    last: Arc<Mutex<Option<Arc<Posting>>>>,
}

impl Observed {
    pub fn new(upstream: &Upstream) -> Observed {
        Observed {
            http: upstream.client(Caller::Trusted),
            upstream: upstream.clone(),
            last: Arc::default(),
        }
    }

    /// How the transport last posted within a session, if it has.
    pub fn posting(&self) -> Option<Arc<Posting>> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

type Posted = Result<StreamableHttpPostResponse, StreamableHttpError<reqwest::Error>>;

impl StreamableHttpClient for Observed {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Posted {
        let limits = StreamableHttpResponseLimits::default();
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            limits,
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Posted {
        {
            // Noted once per session (its address and headers stay as they were opened).
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            let known = last.as_ref().map(|p| &p.session) == session_id.as_ref();
            if let (Some(session), false) = (&session_id, known) {
                *last = Posting::new(
                    self.http.clone(),
                    &self.upstream,
                    uri.clone(),
                    session.clone(),
                    auth_header.clone(),
                    custom_headers.clone(),
                    limits,
                )
                .map(Arc::new);
            }
        }
        self.http
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                limits,
            )
            .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<reqwest::Error>> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.http
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<
        futures_util::stream::BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>,
        StreamableHttpError<reqwest::Error>,
    > {
        self.http
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await
    }
}

/// How a posted call ended.
pub enum Answer {
    /// The server answered with a plain result, kept as it wrote it.
    Plain(PlainResult),
    /// The server answered: another result, or its error.
    Given(Result<ServerResult, ErrorData>),
    /// The server no longer knows the session (HTTP 404): rmcp opens a new one.
    Expired,
}

/// Why a posted call has no answer.
pub type Unanswered = Box<dyn std::error::Error + Send + Sync>;

/// Posts `message`, request `id`, into the session. Progress under `token` goes to
/// `downstream`; a changed tool list is noted on `listener`.
///
/// The request is the one rmcp's transport would send; the answer is read as rmcp reads it
/// (a JSON message, or an event stream bounded per event), the JSON-RPC envelope first and
/// the result then straight into its type. A plain-HTTP server is posted to on a connection
/// of the session's own (see `link`); a redirect, or a connection not to be had, leaves the
/// call to reqwest, which follows the one and reports the other.
pub async fn call(
    posting: &Posting,
    body: axum::body::Bytes,
    id: &RequestId,
    progress: Option<(&ProgressToken, &Downstream)>,
    listener: &Listener,
) -> Result<Answer, Unanswered> {
    if let Some(links) = &posting.links {
        let read = |response: Answered| async move {
            if response.status().is_redirection() {
                return None;
            }
            Some(answer(posting, response, id, progress, listener).await)
        };
        match links.post(body.clone(), read).await {
            Some(Ok(Some(answer))) => return Ok(answer?),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(None)) | None => {}
        }
    }
    // Boxed: a call rarely comes here, and this way's future is large.
    Box::pin(async {
        let response = posting
            .http
            .post(posting.url.clone())
            .headers(posting.headers.clone())
            .body(body)
            .send()
            .await?;
        Ok(answer(posting, response.into(), id, progress, listener).await?)
    })
    .await
}

/// A server's HTTP answer, as hyper gives it (a `reqwest::Response` made from it would parse
/// a placeholder URL for every call).
pub type Answered = axum::http::Response<reqwest::Body>;

/// Request `id` for `method` with `params`, as the JSON-RPC message rmcp's client would
/// send, written straight from the params (rmcp's own message type would have them moved
/// into it, and writes its envelope through several layers of adapters).
pub fn request_body(
    id: &RequestId,
    method: &str,
    params: &impl serde::Serialize,
) -> serde_json::Result<axum::body::Bytes> {
    let mut body = Vec::with_capacity(256);
    body.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    serde_json::to_writer(&mut body, id)?;
    body.extend_from_slice(br#","method":"#);
    serde_json::to_writer(&mut body, method)?;
    body.extend_from_slice(br#","params":"#);
    serde_json::to_writer(&mut body, params)?;
    body.push(b'}');
    Ok(body.into())
}

/// The server's answer to request `id`, read from its `response`.
async fn answer(
    posting: &Posting,
    response: Answered,
    id: &RequestId,
    progress: Option<(&ProgressToken, &Downstream)>,
    listener: &Listener,
) -> Result<Answer, StreamableHttpError<reqwest::Error>> {
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(Answer::Expired);
    }
    let named = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let is = |kind| named.is_some_and(|c| crate::mcp::media_type_is(c, kind));
    let (json, events) = (is("application/json"), is("text/event-stream"));
    let unknown = named
        .filter(|_| !json && !events)
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    let limits = &posting.limits;
    let refused = matches!(
        status,
        reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN
    );
    // A failing status with a JSON-RPC error is still the server's answer, unless it refuses
    // the credential (which is Hearth's to report, as rmcp does).
    if json && !refused {
        let body = bounded_body(response, limits.max_json_response_size).await;
        return match body.as_deref().ok().and_then(|b| read_answer(b, id)) {
            Some(answer) => Ok(answer),
            None if !status.is_success() => Err(status_error(status)),
            None => Err(body
                .err()
                .unwrap_or(StreamableHttpError::UnexpectedServerResponse(
                    "an answer to another request".into(),
                ))),
        };
    }
    if !status.is_success() {
        return Err(status_error(status));
    }
    if events {
        let bytes = http_body_util::BodyDataStream::new(response.into_body());
        let events = bounded_events(bytes, limits.max_sse_event_size);
        // Boxed: most answers are JSON, and reading a stream takes a large future.
        return Box::pin(events_answer(posting, events, id, progress, listener)).await;
    }
    if matches!(
        status,
        reqwest::StatusCode::ACCEPTED | reqwest::StatusCode::NO_CONTENT
    ) {
        return Err(StreamableHttpError::UnexpectedServerResponse(
            "no answer to a request".into(),
        ));
    }
    Err(StreamableHttpError::UnexpectedContentType(unknown))
}

/// A failing status without a JSON-RPC answer, in the words rmcp uses for it (which
/// [`super::classify`] reads).
fn status_error(status: reqwest::StatusCode) -> StreamableHttpError<reqwest::Error> {
    StreamableHttpError::UnexpectedServerResponse(format!("HTTP {status}").into())
}

/// The whole body, refused beyond `limit` bytes.
async fn bounded_body(
    response: Answered,
    limit: usize,
) -> Result<Vec<u8>, StreamableHttpError<reqwest::Error>> {
    use hyper::body::Body as _;
    let body = response.into_body();
    let length = body.size_hint().exact();
    crate::llm::read_at_most(length, http_body_util::BodyDataStream::new(body), limit)
        .await
        .map_err(|e| match e {
            Some(e) => StreamableHttpError::Client(e),
            None => StreamableHttpError::ResponseBodyTooLarge { max_size: limit },
        })
}

/// The answer to request `id` in one JSON-RPC message, if it is that.
fn read_answer(message: &[u8], id: &RequestId) -> Option<Answer> {
    let message: Reply = serde_json::from_slice(message).ok()?;
    if message.jsonrpc != "2.0" || serde_json::from_str::<RequestId>(message.id?.get()).ok()? != *id
    {
        return None;
    }
    match (message.result, message.error) {
        (Some(result), None) => {
            if let Some(plain) = PlainResult::of(result) {
                return Some(Answer::Plain(plain));
            }
            let result = serde_json::from_str::<CallToolResult>(result.get())
                .map(ServerResult::CallToolResult)
                // Anything else a call may answer (MRTR, tasks) is read by rmcp's types.
                .or_else(|_| serde_json::from_str::<ServerResult>(result.get()))
                .ok()?;
            Some(Answer::Given(Ok(result)))
        }
        (None, Some(error)) => Some(Answer::Given(Err(serde_json::from_str(error.get()).ok()?))),
        _ => None,
    }
}

/// A call's result that is plainly a tool's: its `content` (a list) and at most an object of
/// `structuredContent`, `isError` (true or false) and an object of `_meta` besides. It is
/// passed on as the server wrote it, not read into rmcp's types and written out again; a
/// client of an older revision may take it as it is. Any other result (a task, a request
/// for input, a field a later revision adds, structured content that is not an object) is
/// read into rmcp's types, which know what each revision's clients may be sent.
pub struct PlainResult {
    json: Box<serde_json::value::RawValue>,
    is_error: bool,
}

impl PlainResult {
    fn of(result: &serde_json::value::RawValue) -> Option<PlainResult> {
        use serde_json::value::RawValue;
        /// A field's value as it came, `null` included (which an `Option` would read as
        /// absent).
        fn present<'de, D: serde::Deserializer<'de>>(
            field: D,
        ) -> Result<Option<&'de RawValue>, D::Error> {
            serde::Deserialize::deserialize(field).map(Some)
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Fields<'a> {
            #[serde(borrow)]
            content: &'a RawValue,
            #[serde(rename = "structuredContent", default, deserialize_with = "present")]
            structured: Option<&'a RawValue>,
            #[serde(rename = "isError", default, deserialize_with = "present")]
            is_error: Option<&'a RawValue>,
            #[serde(rename = "_meta", default, deserialize_with = "present")]
            meta: Option<&'a RawValue>,
        }
        let fields: Fields = serde_json::from_str(result.get()).ok()?;
        let is = |value: &RawValue, opening| value.get().starts_with(opening);
        let is_error = match fields.is_error.map(RawValue::get) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return None,
        };
        let plain = is(fields.content, '[')
            && fields.structured.is_none_or(|s| is(s, '{'))
            && fields.meta.is_none_or(|m| is(m, '{'));
        plain.then(|| PlainResult {
            json: result.to_owned(),
            is_error,
        })
    }

    /// The result as the server wrote it.
    pub fn json(&self) -> &str {
        self.json.get()
    }

    /// Whether the server said the tool failed.
    pub fn is_error(&self) -> bool {
        self.is_error
    }

    /// The result in rmcp's type, for rmcp to answer with.
    pub fn read(&self) -> serde_json::Result<CallToolResult> {
        serde_json::from_str(self.json.get())
    }
}

/// A JSON-RPC message from the server, its result or error left as it came.
#[derive(serde::Deserialize)]
struct Reply<'a> {
    #[serde(borrow)]
    jsonrpc: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    id: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a serde_json::value::RawValue>,
}

/// The events of an answer's stream, each at most `limit` bytes: a bigger one ends it
/// (the server's progress cannot grow Hearth's memory without bound).
fn bounded_events(
    bytes: impl futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send + 'static,
    limit: usize,
) -> futures_util::stream::BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>> {
    sse_stream::SseStream::from_bytes_stream(bounded_bytes(bytes, limit)).boxed()
}

/// An event stream's bytes, ended with an error where an event grows past `limit` bytes:
/// read before any parser buffers the event whole.
pub(super) fn bounded_bytes(
    bytes: impl futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>>,
    limit: usize,
) -> impl futures_util::Stream<Item = std::io::Result<axum::body::Bytes>> {
    let mut within = EventSize::default();
    bytes.map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        if within.grows_past(&chunk, limit) {
            return Err(std::io::Error::other(format!(
                "an event of the stream is over {limit} bytes"
            )));
        }
        Ok(chunk)
    })
}

/// The size of the event being read, reset where an event ends (a blank line).
#[derive(Default)]
struct EventSize {
    event: usize,
    line: usize,
    after_cr: bool,
}

impl EventSize {
    fn grows_past(&mut self, chunk: &[u8], limit: usize) -> bool {
        for &b in chunk {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\r' | b'\n' => {
                    if self.line == 0 {
                        self.event = 0;
                    }
                    self.line = 0;
                    self.after_cr = b == b'\r';
                }
                _ => {
                    self.after_cr = false;
                    self.line += 1;
                    self.event += 1;
                    if self.event > limit {
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// Reads the answer's stream until the answer to `id`.
async fn events_answer(
    posting: &Posting,
    mut events: futures_util::stream::BoxStream<
        'static,
        Result<sse_stream::Sse, sse_stream::Error>,
    >,
    id: &RequestId,
    progress: Option<(&ProgressToken, &Downstream)>,
    listener: &Listener,
) -> Result<Answer, StreamableHttpError<reqwest::Error>> {
    while let Some(event) = events.next().await {
        let Some(data) = event?.data else { continue };
        if let Some(answer) = read_answer(data.as_bytes(), id) {
            return Ok(answer);
        }
        let Ok(message) = serde_json::from_str::<ServerJsonRpcMessage>(&data) else {
            continue;
        };
        match message {
            ServerJsonRpcMessage::Notification(notice) => match notice.notification {
                ServerNotification::ProgressNotification(notice) => {
                    if let Some((token, downstream)) = progress {
                        if notice.params.progress_token == *token {
                            downstream.pass(notice.params).await;
                        }
                    }
                }
                ServerNotification::ToolListChangedNotification(_) => listener.note_tools_changed(),
                _ => {}
            },
            // A request of the server's (sampling, elicitation, roots) has no one to answer
            // it here.
            ServerJsonRpcMessage::Request(request) => {
                let refusal = ClientJsonRpcMessage::error(
                    ErrorData::new(
                        ErrorCode::METHOD_NOT_FOUND,
                        "Hearth passes no requests from servers on",
                        None,
                    ),
                    Some(request.id),
                );
                let _ = posting
                    .http
                    .post_message(
                        posting.uri.clone(),
                        refusal,
                        Some(posting.session.clone()),
                        posting.auth.clone(),
                        posting.custom.clone(),
                    )
                    .await;
            }
            // Answers to other requests; the answer to this one was read above.
            _ => {}
        }
    }
    Err(StreamableHttpError::UnexpectedEndOfStream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_measured_from_the_last_blank_line() {
        let mut size = EventSize::default();
        assert!(!size.grows_past(b"data: 12345\n\n", 12));
        // Split across chunks and ended by CRLF pairs: each event starts again at zero.
        assert!(!size.grows_past(b"data: 1234", 12));
        assert!(!size.grows_past(b"\r\n\r\ndata: 1234\r\r", 12));
        assert!(!size.grows_past(b"data: 123456", 12));
        // Lines of one event add up; a lone line break does not end it.
        assert!(size.grows_past(b"\ndata: x\n", 12));
    }

    #[test]
    fn a_call_is_written_as_rmcp_writes_it() {
        use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest, NumberOrString};
        use rmcp::model::{RequestId, RequestMetaObject};
        let id = RequestId::String("hearth-7".into());
        let mut params = CallToolRequestParams::new("echo");
        params.arguments = serde_json::json!({"text": "hé \"quoted\"", "n": [1, 2.5, null]})
            .as_object()
            .cloned();
        params.request_state = Some("state".into());
        for meta in [
            None,
            Some(RequestMetaObject::with_progress_token(ProgressToken(
                NumberOrString::String("hearth-7".into()),
            ))),
        ] {
            params.meta = meta;
            let ours = request_body(&id, "tools/call", &params).unwrap();
            let request = ClientRequest::CallToolRequest(CallToolRequest::new(params.clone()));
            let theirs = ClientJsonRpcMessage::request(request, id.clone());
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&ours).unwrap(),
                serde_json::to_value(&theirs).unwrap()
            );
        }
    }

    #[test]
    fn a_plain_result_is_kept_as_written_and_any_other_is_read() {
        let id = RequestId::String("hearth-1".into());
        let answer = |result: &str| {
            let message = format!(r#"{{"jsonrpc":"2.0","id":"hearth-1","result":{result}}}"#);
            read_answer(message.as_bytes(), &id)
        };
        for (result, is_error) in [
            (r#"{"content":[]}"#, false),
            (
                r#"{ "content" : [ {"type":"text","text":"é\n\u00e9"} ] }"#,
                false,
            ),
            (r#"{"content":[],"isError":true,"_meta":{"a":1}}"#, true),
            (
                r#"{"content":[],"isError":false,"structuredContent":{"n":[1,2]}}"#,
                false,
            ),
        ] {
            let Some(Answer::Plain(plain)) = answer(result) else {
                panic!("plain: {result}");
            };
            assert_eq!(plain.json(), result.trim());
            assert_eq!(plain.is_error(), is_error, "{result}");
            let read = plain.read().expect("rmcp reads it too");
            assert_eq!(read.is_error.unwrap_or_default(), is_error);
        }
        for result in [
            // What an older client must not be sent as it is, or what rmcp fills in.
            r#"{"content":[],"structuredContent":[1,2]}"#,
            r#"{"content":[],"structuredContent":null}"#,
            r#"{"content":[],"resultType":"complete"}"#,
            r#"{"structuredContent":{"n":1}}"#,
            r#"{"content":null}"#,
            r#"{"content":[],"isError":null}"#,
            r#"{"content":[],"_meta":null}"#,
            // A field a later revision adds; a field given twice.
            r#"{"content":[],"later":1}"#,
            r#"{"content":[],"content":[]}"#,
        ] {
            assert!(
                !matches!(answer(result), Some(Answer::Plain(_))),
                "not plain: {result}"
            );
        }
        // A result Hearth reads in rmcp's types: the typed answer, as before.
        let Some(Answer::Given(Ok(ServerResult::CallToolResult(result)))) =
            answer(r#"{"content":[],"structuredContent":[1,2]}"#)
        else {
            panic!("read into rmcp's types");
        };
        assert_eq!(result.structured_content, Some(serde_json::json!([1, 2])));
    }

    #[test]
    fn only_the_answer_to_the_request_is_read() {
        let id = RequestId::String("hearth-1".into());
        let read = |body: &str| read_answer(body.as_bytes(), &id);
        let Some(Answer::Plain(result)) = read(
            r#"{"jsonrpc":"2.0","id":"hearth-1","result":{"content":[{"type":"text","text":"hi"}]}}"#,
        ) else {
            panic!("a call's result");
        };
        assert_eq!(
            result.json(),
            r#"{"content":[{"type":"text","text":"hi"}]}"#
        );
        let Some(Answer::Given(Err(error))) = read(
            r#"{"jsonrpc":"2.0","id":"hearth-1","error":{"code":-32602,"message":"no such tool"}}"#,
        ) else {
            panic!("the server's error");
        };
        assert_eq!(error.message, "no such tool");
        for other in [
            r#"{"jsonrpc":"2.0","id":"hearth-2","result":{"content":[]}}"#,
            r#"{"jsonrpc":"2.0","id":"hearth-1"}"#,
            r#"{"jsonrpc":"2.0","id":"hearth-1","result":{},"error":{"code":1,"message":"x"}}"#,
            r#"{"jsonrpc":"1.0","id":"hearth-1","result":{"content":[]}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#,
            "not json",
        ] {
            assert!(read(other).is_none(), "{other}");
        }
    }
}
