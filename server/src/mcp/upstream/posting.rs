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
    ClientJsonRpcMessage, ErrorCode, ErrorData, ProgressToken, RequestId, ServerJsonRpcMessage,
    ServerNotification, ServerResult,
};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};

use super::{Downstream, Listener};

/// How rmcp's transport last posted to a session.
#[derive(Clone)]
pub struct Posting {
    http: reqwest::Client,
    uri: Arc<str>,
    session: Arc<str>,
    auth: Option<String>,
    headers: HashMap<HeaderName, HeaderValue>,
    limits: StreamableHttpResponseLimits,
}

/// rmcp's HTTP client for a server, noting how the transport posts within a session.
#[derive(Clone)]
pub struct Observed {
    http: reqwest::Client,
    last: Arc<Mutex<Option<Posting>>>,
}

impl Observed {
    pub fn new(http: reqwest::Client) -> Observed {
        Observed {
            http,
            last: Arc::default(),
        }
    }

    /// How the transport last posted within a session, if it has.
    pub fn posting(&self) -> Option<Posting> {
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
                *last = Some(Posting {
                    http: self.http.clone(),
                    uri: uri.clone(),
                    session: session.clone(),
                    auth: auth_header.clone(),
                    headers: custom_headers.clone(),
                    limits,
                });
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
    /// The server answered: a result, or its error.
    Given(Result<ServerResult, ErrorData>),
    /// The server no longer knows the session (HTTP 404): rmcp opens a new one.
    Expired,
}

/// Posts `message`, request `id`, into the session. Progress under `token` goes to
/// `downstream`; a changed tool list is noted on `listener`.
pub async fn call(
    posting: &Posting,
    message: ClientJsonRpcMessage,
    id: &RequestId,
    progress: Option<(&ProgressToken, &Downstream)>,
    listener: &Listener,
) -> Result<Answer, StreamableHttpError<reqwest::Error>> {
    let posted = posting
        .http
        .post_message_with_response_limits(
            posting.uri.clone(),
            message,
            Some(posting.session.clone()),
            posting.auth.clone(),
            posting.headers.clone(),
            posting.limits,
        )
        .await;
    let mut events = match posted {
        Err(StreamableHttpError::SessionExpired) => return Ok(Answer::Expired),
        Err(e) => return Err(e),
        Ok(StreamableHttpPostResponse::Json(message, _)) => {
            return answer_in(message, id).ok_or(StreamableHttpError::UnexpectedServerResponse(
                "an answer to another request".into(),
            ));
        }
        Ok(StreamableHttpPostResponse::Accepted) => {
            return Err(StreamableHttpError::UnexpectedServerResponse(
                "no answer to a request".into(),
            ))
        }
        Ok(StreamableHttpPostResponse::Sse(events, _)) => events,
        Ok(_) => {
            return Err(StreamableHttpError::UnexpectedServerResponse(
                "an answer of a kind rmcp did not know".into(),
            ))
        }
    };
    while let Some(event) = events.next().await {
        let Some(data) = event?.data else { continue };
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
                        posting.headers.clone(),
                    )
                    .await;
            }
            other => {
                if let Some(answer) = answer_in(other, id) {
                    return Ok(answer);
                }
            }
        }
    }
    Err(StreamableHttpError::UnexpectedEndOfStream)
}

fn answer_in(message: ServerJsonRpcMessage, id: &RequestId) -> Option<Answer> {
    match message {
        ServerJsonRpcMessage::Response(response) if response.id == *id => {
            Some(Answer::Given(Ok(response.result)))
        }
        ServerJsonRpcMessage::Error(error) if error.id.as_ref() == Some(id) => {
            Some(Answer::Given(Err(error.error)))
        }
        _ => None,
    }
}
