//! The MCP client lifecycle, over any [`Transport`]: streamable HTTP (initialize,
//! `notifications/initialized`, `Mcp-Session-Id`, JSON or SSE answers, one re-initialize when
//! the session is gone), the legacy HTTP+SSE transport, and `auto`, which falls back from the
//! first to the second the way the specification describes.
//!
//! Never adds a credential of Hearth's to a request: the only headers sent are the protocol's
//! and the server's own, as configured by its owner.

use std::rc::Rc;

use crate::sse::{events, EventStream, MAX_EVENT};
use futures::StreamExt;
use serde_json::Value;

use super::jsonrpc::{
    self, CallToolResult, Incoming, InitializeResult, Notification, Request, ServerInfo, Tool,
    ToolsPage,
};
use super::log::LogEntry;
use super::transport::{
    resolve_endpoint, ByteStream, Method, Outgoing, Response, Transport, TransportError,
};
use crate::api::McpTransport;

const ACCEPT_BOTH: &str = "application/json, text/event-stream";
/// `tools/list` pages followed before giving up on a server that never stops paginating.
const MAX_PAGES: usize = 100;
/// Error bodies are read up to this many bytes.
const ERROR_BODY_LIMIT: usize = 4096;

#[derive(Clone, Debug, PartialEq)]
pub enum McpError {
    /// No HTTP answer: the network, or a browser refusing a cross-origin answer (CORS).
    Network(String),
    Timeout,
    /// An HTTP error status. `from_proxy`: Hearth's `/cors-proxy` answered itself.
    Http {
        status: u16,
        from_proxy: bool,
        detail: Option<String>,
    },
    /// The server answered with a JSON-RPC error.
    Rpc {
        code: i64,
        message: String,
    },
    /// An answer that does not follow the protocol.
    Protocol(String),
}

impl McpError {
    /// What to tell the user, in words. `use_proxy`: whether the request went through Hearth.
    pub fn explain(&self, use_proxy: bool) -> String {
        match self {
            McpError::Network(_) if use_proxy => "Could not reach Hearth: check your network connection.".into(),
            McpError::Network(_) => "Could not reach the MCP server from this browser. It may be down, or it may not \
                                     allow cross-origin requests (CORS): try turning on “Use proxy”."
                .into(),
            McpError::Timeout => "The MCP server did not answer in time.".into(),
            McpError::Http { status: 401, from_proxy: true, .. } => "Your session has expired — sign in again.".into(),
            McpError::Http { status: 401 | 403, from_proxy: false, .. } => format!(
                "The MCP server rejected the credentials (HTTP {}). Check the Authorization field.",
                match self {
                    McpError::Http { status, .. } => *status,
                    _ => 0,
                }
            ),
            McpError::Http { status, from_proxy: true, detail } => {
                let why = detail.clone().unwrap_or_else(|| format!("HTTP {status}"));
                format!("Hearth's proxy did not connect to this server: {why}")
            }
            McpError::Http { status: 404, .. } => "The MCP server answered 404 Not Found: check the URL (streamable HTTP \
                                                   servers usually end in /mcp, SSE servers in /sse)."
                .into(),
            McpError::Http { status, detail, .. } => match detail {
                Some(d) => format!("The MCP server answered HTTP {status}: {d}"),
                None => format!("The MCP server answered HTTP {status}."),
            },
            McpError::Rpc { code, message } => format!("The MCP server returned an error: {message} ({code})."),
            McpError::Protocol(why) => format!("The MCP server's answer could not be understood: {why}"),
        }
    }
}

impl From<TransportError> for McpError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Network(m) => McpError::Network(m),
            TransportError::Timeout => McpError::Timeout,
        }
    }
}

/// Where a server is and what to send it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    pub url: String,
    pub transport: McpTransport,
    /// The server's own headers (e.g. its `Authorization`), as its owner configured them.
    pub headers: Vec<(String, String)>,
}

enum Connection {
    Closed,
    Streamable {
        session_id: Option<String>,
        version: String,
    },
    Legacy {
        endpoint: String,
        events: EventStream<ByteStream>,
        version: String,
    },
}

pub struct McpClient<T: Transport> {
    transport: T,
    config: ServerConfig,
    next_id: u64,
    connection: Connection,
    log: Rc<dyn Fn(LogEntry)>,
    pub server_info: Option<ServerInfo>,
}

impl<T: Transport> McpClient<T> {
    /// A client that reports every exchange to `log`.
    pub fn new(transport: T, config: ServerConfig, log: Rc<dyn Fn(LogEntry)>) -> Self {
        McpClient {
            transport,
            config,
            next_id: 1,
            connection: Connection::Closed,
            log,
            server_info: None,
        }
    }

    /// Runs the handshake with the configured transport (and, for `auto`, the fallback).
    pub async fn connect(&mut self) -> Result<(), McpError> {
        match self.config.transport {
            McpTransport::StreamableHttp => self.init_streamable().await,
            McpTransport::Sse => self.init_legacy().await,
            McpTransport::Auto => match self.init_streamable().await {
                Err(McpError::Http {
                    status: 400 | 404 | 405,
                    from_proxy: false,
                    ..
                }) => {
                    (self.log)(LogEntry::note(
                        "Streamable HTTP was refused; trying the legacy SSE transport",
                    ));
                    self.init_legacy().await
                }
                other => other,
            },
        }
    }

    /// Every tool, following `nextCursor` pages.
    pub async fn list_tools(&mut self) -> Result<Vec<Tool>, McpError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = cursor.as_ref().map(|c| serde_json::json!({ "cursor": c }));
            let page: ToolsPage = parse(self.request("tools/list", params).await?)?;
            tools.extend(page.tools);
            match page.next_cursor {
                Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                _ => return Ok(tools),
            }
        }
        Err(McpError::Protocol(format!(
            "tools/list did not end after {MAX_PAGES} pages"
        )))
    }

    pub async fn call_tool(
        &mut self,
        name: &str,
        arguments: Value,
    ) -> Result<CallToolResult, McpError> {
        parse(
            self.request(
                "tools/call",
                Some(serde_json::json!({ "name": name, "arguments": arguments })),
            )
            .await?,
        )
    }

    /// Ends the session: a streamable HTTP session is deleted on the server (best effort).
    pub async fn close(&mut self) {
        if let Connection::Streamable {
            session_id: Some(id),
            ..
        } = &self.connection
        {
            let request = Outgoing {
                method: Method::Delete,
                url: self.config.url.clone(),
                headers: self.headers(&[("mcp-session-id", id.clone())]),
                body: None,
            };
            (self.log)(LogEntry::sent(&request));
            if let Ok(response) = self.transport.send(request).await {
                (self.log)(LogEntry::received(&response, None));
            }
        }
        self.connection = Connection::Closed;
    }

    /// Sends one request and waits for its answer; a streamable HTTP session the server has
    /// forgotten (404) is initialized again, once.
    pub async fn request(
        &mut self,
        method: &str,
        params: Option<Value>,
    ) -> Result<Value, McpError> {
        match self.request_once(method, params.clone()).await {
            Err(McpError::Http {
                status: 404,
                from_proxy: false,
                ..
            }) if matches!(
                self.connection,
                Connection::Streamable {
                    session_id: Some(_),
                    ..
                }
            ) =>
            {
                (self.log)(LogEntry::note(
                    "The server no longer knows this session; initializing again",
                ));
                self.init_streamable().await?;
                self.request_once(method, params).await
            }
            other => other,
        }
    }

    async fn request_once(
        &mut self,
        method: &str,
        params: Option<Value>,
    ) -> Result<Value, McpError> {
        let id = self.take_id();
        let body = to_json(&Request {
            jsonrpc: "2.0",
            id,
            method,
            params,
        })?;
        match &self.connection {
            Connection::Closed => Err(McpError::Protocol("not connected".into())),
            Connection::Streamable { .. } => {
                let response = self.post(&self.config.url.clone(), body).await?;
                self.answer(response, id).await
            }
            Connection::Legacy { endpoint, .. } => {
                let endpoint = endpoint.clone();
                let response = self.post(&endpoint, body).await?;
                let status = response.status;
                let _ = collect(response.body, ERROR_BODY_LIMIT).await;
                if !(200..300).contains(&status) {
                    return Err(McpError::Http {
                        status,
                        from_proxy: false,
                        detail: None,
                    });
                }
                self.legacy_answer(id).await
            }
        }
    }

    async fn init_streamable(&mut self) -> Result<(), McpError> {
        self.connection = Connection::Closed;
        let id = self.take_id();
        let body = to_json(&Request {
            jsonrpc: "2.0",
            id,
            method: "initialize",
            params: Some(jsonrpc::initialize_params()),
        })?;
        let response = self.post(&self.config.url.clone(), body).await?;
        let session_id = response.header("mcp-session-id").map(str::to_owned);
        let result: InitializeResult = parse(self.answer(response, id).await?)?;
        let version = checked_version(&result)?;
        self.server_info = result.server_info;
        self.connection = Connection::Streamable {
            session_id,
            version,
        };
        let initialized = to_json(&Notification {
            jsonrpc: "2.0",
            method: "notifications/initialized",
        })?;
        let response = self.post(&self.config.url.clone(), initialized).await?;
        let _ = collect(response.body, ERROR_BODY_LIMIT).await;
        Ok(())
    }

    async fn init_legacy(&mut self) -> Result<(), McpError> {
        self.connection = Connection::Closed;
        let request = Outgoing {
            method: Method::Get,
            url: self.config.url.clone(),
            headers: self.headers(&[("accept", "text/event-stream".into())]),
            body: None,
        };
        let response = self.send(request).await?;
        if !response.is_event_stream() {
            return Err(McpError::Protocol(format!(
                "expected an event stream, got {:?}",
                response.content_type()
            )));
        }
        let mut events = events(response.body, MAX_EVENT);
        let endpoint = loop {
            match events.next().await {
                Some(Ok(event)) if event.event == "endpoint" => {
                    (self.log)(LogEntry::note(format!("endpoint: {}", event.data)));
                    break resolve_endpoint(&self.config.url, &event.data)
                        .map_err(McpError::Protocol)?;
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(McpError::Network(e.to_string())),
                None => {
                    return Err(McpError::Protocol(
                        "the event stream ended before announcing its endpoint".into(),
                    ))
                }
            }
        };
        self.connection = Connection::Legacy {
            endpoint,
            events,
            version: String::new(),
        };
        let result: InitializeResult = parse(
            self.request_once("initialize", Some(jsonrpc::initialize_params()))
                .await?,
        )?;
        let agreed = checked_version(&result)?;
        if let Connection::Legacy { version, .. } = &mut self.connection {
            *version = agreed;
        }
        self.server_info = result.server_info;
        let Connection::Legacy { endpoint, .. } = &self.connection else {
            unreachable!("set above")
        };
        let endpoint = endpoint.clone();
        let initialized = to_json(&Notification {
            jsonrpc: "2.0",
            method: "notifications/initialized",
        })?;
        let response = self.post(&endpoint, initialized).await?;
        let _ = collect(response.body, ERROR_BODY_LIMIT).await;
        Ok(())
    }

    /// The answer to request `id` on the legacy transport's event stream.
    async fn legacy_answer(&mut self, id: u64) -> Result<Value, McpError> {
        let Connection::Legacy { events, .. } = &mut self.connection else {
            return Err(McpError::Protocol("not connected".into()));
        };
        while let Some(event) = events.next().await {
            let event = event.map_err(|e| McpError::Network(e.to_string()))?;
            (self.log)(LogEntry {
                body: Some(event.data.clone()),
                ..LogEntry::note(format!("event: {}", event.event))
            });
            if let Some(value) = answer_in(&event.data, id)? {
                return value;
            }
        }
        Err(McpError::Protocol("the event stream ended".into()))
    }

    /// The answer to request `id` in a streamable HTTP response: JSON, or an event stream.
    async fn answer(&self, response: Response, id: u64) -> Result<Value, McpError> {
        if response.is_event_stream() {
            let mut events = events(response.body, MAX_EVENT);
            while let Some(event) = events.next().await {
                let event = event.map_err(|e| McpError::Network(e.to_string()))?;
                (self.log)(LogEntry {
                    body: Some(event.data.clone()),
                    ..LogEntry::note(format!("event: {}", event.event))
                });
                if let Some(value) = answer_in(&event.data, id)? {
                    return value;
                }
            }
            Err(McpError::Protocol(
                "the event stream ended without an answer".into(),
            ))
        } else {
            let body = collect(response.body, usize::MAX).await?;
            (self.log)(LogEntry {
                body: Some(body.clone()),
                ..LogEntry::note("body")
            });
            answer_in(&body, id)?.unwrap_or_else(|| {
                Err(McpError::Protocol(
                    "the answer is for another request".into(),
                ))
            })
        }
    }

    /// POSTs one JSON-RPC message with the protocol headers.
    async fn post(&self, url: &str, body: String) -> Result<Response, McpError> {
        let mut protocol = vec![
            ("accept", ACCEPT_BOTH.to_owned()),
            ("content-type", "application/json".to_owned()),
        ];
        if let Connection::Streamable {
            session_id,
            version,
        } = &self.connection
        {
            if let Some(id) = session_id {
                protocol.push(("mcp-session-id", id.clone()));
            }
            protocol.push(("mcp-protocol-version", version.clone()));
        }
        let request = Outgoing {
            method: Method::Post,
            url: url.to_owned(),
            headers: self.headers(&protocol),
            body: Some(body),
        };
        self.send(request).await
    }

    /// Sends, logs, and turns an error status into an [`McpError::Http`].
    async fn send(&self, request: Outgoing) -> Result<Response, McpError> {
        (self.log)(LogEntry::sent(&request));
        let response = match self.transport.send(request).await {
            Ok(response) => response,
            Err(e) => {
                (self.log)(LogEntry::note(format!("no answer: {e:?}")));
                return Err(e.into());
            }
        };
        if (200..300).contains(&response.status) {
            (self.log)(LogEntry::received(&response, None));
            return Ok(response);
        }
        let Response {
            status,
            from_proxy,
            headers,
            ..
        } = &response;
        let (status, from_proxy, headers) = (*status, *from_proxy, headers.clone());
        let entry_head = Response {
            status,
            headers,
            from_proxy,
            body: Box::pin(futures::stream::empty()),
        };
        let body = collect(response.body, ERROR_BODY_LIMIT)
            .await
            .unwrap_or_default();
        (self.log)(LogEntry::received(&entry_head, Some(&body)));
        Err(McpError::Http {
            status,
            from_proxy,
            detail: error_detail(&body),
        })
    }

    fn headers(&self, protocol: &[(&str, String)]) -> Vec<(String, String)> {
        protocol
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .chain(self.config.headers.iter().cloned())
            .collect()
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

/// The JSON-RPC answer to `id` in one message, if it is that answer.
fn answer_in(data: &str, id: u64) -> Result<Option<Result<Value, McpError>>, McpError> {
    if data.trim().is_empty() {
        return Ok(None);
    }
    // Through a `Value`: one JSON parser in the wasm for every type.
    let message: Incoming = serde_json::from_str::<Value>(data)
        .and_then(serde_json::from_value)
        .map_err(|e| McpError::Protocol(format!("not JSON-RPC: {e}")))?;
    if !message.answers(id) {
        return Ok(None);
    }
    Ok(Some(match (message.result, message.error) {
        (_, Some(e)) => Err(McpError::Rpc {
            code: e.code,
            message: e.message,
        }),
        (Some(result), None) => Ok(result),
        (None, None) => Err(McpError::Protocol(
            "an answer with neither result nor error".into(),
        )),
    }))
}

fn checked_version(result: &InitializeResult) -> Result<String, McpError> {
    if jsonrpc::SUPPORTED_VERSIONS.contains(&result.protocol_version.as_str()) {
        Ok(result.protocol_version.clone())
    } else {
        Err(McpError::Protocol(format!(
            "the server speaks MCP {}, which this client does not",
            result.protocol_version
        )))
    }
}

/// The message of an error body: an OpenAI- or JSON-RPC-shaped `error.message`, or the text.
fn error_detail(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let json: Option<Value> = serde_json::from_str(body).ok();
    let message = json
        .as_ref()
        .and_then(|j| j.pointer("/error/message").or_else(|| j.get("message")))
        .and_then(Value::as_str);
    Some(
        message
            .map(str::to_owned)
            .unwrap_or_else(|| body.chars().take(200).collect()),
    )
}

fn parse<R: serde::de::DeserializeOwned>(value: Value) -> Result<R, McpError> {
    serde_json::from_value(value).map_err(|e| McpError::Protocol(e.to_string()))
}

fn to_json<S: serde::Serialize>(value: &S) -> Result<String, McpError> {
    serde_json::to_string(value).map_err(|e| McpError::Protocol(e.to_string()))
}

/// The body as text, read up to `limit` bytes.
async fn collect(mut body: ByteStream, limit: usize) -> Result<String, McpError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        bytes.extend(chunk.map_err(McpError::Network)?);
        if bytes.len() >= limit {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
