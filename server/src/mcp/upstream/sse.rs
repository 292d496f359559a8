//! The legacy HTTP+SSE transport (protocol 2024-11-05), which rmcp no longer has: a `GET`
//! opens an event stream whose first `endpoint` event names where to `POST` messages; the
//! server's messages arrive as `message` events on that stream.
//!
//! The endpoint must be on the stream's own origin: the server's headers (its credential)
//! are sent there, and nowhere else.

use std::future::Future;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::RoleClient;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Messages from the server waiting to be read.
const INBOX: usize = 64;
/// The largest event accepted, in bytes; a bigger one ends the session.
const MAX_EVENT: usize = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SseError {
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("{0}")]
    Protocol(String),
}

pub struct SseTransport {
    http: reqwest::Client,
    endpoint: url::Url,
    headers: HeaderMap,
    inbox: mpsc::Receiver<RxJsonRpcMessage<RoleClient>>,
    reader: JoinHandle<()>,
}

impl Drop for SseTransport {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Opens the event stream at `url` and waits for its endpoint.
pub async fn connect(
    http: &reqwest::Client,
    url: &str,
    headers: &[(HeaderName, HeaderValue)],
) -> Result<SseTransport, Box<dyn std::error::Error + Send + Sync>> {
    let headers: HeaderMap = headers.iter().cloned().collect();
    let base = url::Url::parse(url)?;
    let response = http
        .get(base.clone())
        .headers(headers.clone())
        .header(ACCEPT, "text/event-stream")
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(SseError::Status(response.status()).into());
    }
    let mut events =
        Box::pin(super::posting::bounded_bytes(response.bytes_stream(), MAX_EVENT).eventsource());
    let endpoint = loop {
        match events.next().await {
            Some(Ok(event)) if event.event == "endpoint" => break event.data,
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                return Err(SseError::Protocol(format!("the event stream broke: {e}")).into())
            }
            None => {
                return Err(SseError::Protocol(
                    "the event stream ended before naming its endpoint".into(),
                )
                .into())
            }
        }
    };
    let endpoint = base.join(endpoint.trim())?;
    if endpoint.origin() != base.origin() {
        return Err(SseError::Protocol(format!(
            "the server named an endpoint on another origin ({}); its credentials are not sent there",
            endpoint.origin().ascii_serialization()
        ))
        .into());
    }
    let (tx, inbox) = mpsc::channel(INBOX);
    let reader = tokio::spawn(async move {
        while let Some(event) = events.next().await {
            // The error's text may carry the server's address, and with it a credential
            // in its query: it is not logged.
            let Ok(event) = event else {
                tracing::warn!(
                    "a legacy SSE server's stream broke or sent an event over 16 MiB; session ended"
                );
                break;
            };
            if event.event != "message" && !event.event.is_empty() {
                continue;
            }
            match serde_json::from_str(&event.data) {
                Ok(message) => {
                    if tx.send(message).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "a legacy SSE server sent a message that is not JSON-RPC")
                }
            }
        }
    });
    Ok(SseTransport {
        http: http.clone(),
        endpoint,
        headers,
        inbox,
        reader,
    })
}

impl Transport<RoleClient> for SseTransport {
    type Error = SseError;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), SseError>> + Send + 'static {
        let request = self
            .http
            .post(self.endpoint.clone())
            .headers(self.headers.clone())
            .json(&item);
        async move {
            let response = request.send().await?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(SseError::Status(response.status()))
            }
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        self.inbox.recv()
    }

    fn close(&mut self) -> impl Future<Output = Result<(), SseError>> + Send {
        self.reader.abort();
        std::future::ready(Ok(()))
    }
}
