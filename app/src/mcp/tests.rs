//! The client against recorded exchanges (the everything server's own answers, cut into small
//! chunks), with no network.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use futures::executor::block_on;
use serde_json::json;

use super::client::{McpClient, McpError, ServerConfig};
use super::log::LogEntry;
use super::transport::{Method, Outgoing, Response, Transport, TransportError};
use crate::api::McpTransport;

const INITIALIZE: &[u8] = include_bytes!("fixtures/everything-initialize.sse");
const TOOLS_LIST: &[u8] = include_bytes!("fixtures/everything-tools-list.sse");
const ECHO: &[u8] = include_bytes!("fixtures/everything-echo.sse");
const URL: &str = "http://127.0.0.1:3001/mcp";

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    from_proxy: bool,
}

fn reply(status: u16, content_type: &str, body: &[u8]) -> Reply {
    Reply {
        status,
        headers: vec![("content-type", content_type.to_owned())],
        body: body.to_vec(),
        from_proxy: false,
    }
}

fn sse(body: &[u8]) -> Reply {
    reply(200, "text/event-stream", body)
}

fn json_reply(value: serde_json::Value) -> Reply {
    reply(200, "application/json", value.to_string().as_bytes())
}

fn accepted() -> Reply {
    reply(202, "", b"")
}

#[derive(Default)]
struct Recorded {
    replies: RefCell<VecDeque<Reply>>,
    sent: RefCell<Vec<Outgoing>>,
}

impl Transport for Rc<Recorded> {
    async fn send(&self, request: Outgoing) -> Result<Response, TransportError> {
        self.sent.borrow_mut().push(request);
        let Some(reply) = self.replies.borrow_mut().pop_front() else {
            return Err(TransportError::Network("Failed to fetch".into()));
        };
        // Delivered in small pieces, as a network would, cutting events and characters apart.
        let chunks: Vec<Result<Vec<u8>, String>> =
            reply.body.chunks(61).map(|c| Ok(c.to_vec())).collect();
        Ok(Response {
            status: reply.status,
            headers: reply
                .headers
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v))
                .collect(),
            from_proxy: reply.from_proxy,
            body: Box::pin(futures::stream::iter(chunks)),
        })
    }
}

fn new_client(
    transport: McpTransport,
    replies: Vec<Reply>,
) -> (
    McpClient<Rc<Recorded>>,
    Rc<Recorded>,
    Rc<RefCell<Vec<LogEntry>>>,
) {
    let recorded = Rc::new(Recorded {
        replies: RefCell::new(replies.into()),
        ..Default::default()
    });
    let log = Rc::new(RefCell::new(Vec::new()));
    let sink = log.clone();
    let config = ServerConfig {
        url: URL.into(),
        transport,
        headers: vec![("Authorization".into(), "Bearer upstream-token".into())],
    };
    (
        McpClient::new(
            recorded.clone(),
            config,
            Rc::new(move |e| sink.borrow_mut().push(e)),
        ),
        recorded,
        log,
    )
}

fn header<'a>(request: &'a Outgoing, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn with_session(mut reply: Reply) -> Reply {
    reply.headers.push(("mcp-session-id", "b4fa276a".into()));
    reply
}

#[test]
fn the_everything_server_is_initialized_listed_and_called_over_streamable_http() {
    let (mut client, recorded, log) = new_client(
        McpTransport::StreamableHttp,
        vec![
            with_session(sse(INITIALIZE)),
            accepted(),
            sse(TOOLS_LIST),
            sse(ECHO),
        ],
    );
    block_on(async {
        client.connect().await.unwrap();
        assert_eq!(
            client.server_info.as_ref().unwrap().name,
            "mcp-servers/everything"
        );
        let tools = client.list_tools().await.unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), 13);
        assert!(
            names.contains(&"echo") && names.contains(&"get-sum"),
            "{names:?}"
        );
        assert_eq!(
            tools[0].description.as_deref(),
            Some("Echoes back the input string")
        );
        let echoed = client
            .call_tool("echo", json!({"message": "hi"}))
            .await
            .unwrap();
        assert_eq!(echoed.text(), "Echo: hi");
        assert!(!echoed.is_error);
    });

    let sent = recorded.sent.borrow();
    assert_eq!(sent.len(), 4);
    assert!(sent
        .iter()
        .all(|r| r.method == Method::Post && r.url == URL));
    assert_eq!(
        header(&sent[0], "accept"),
        Some("application/json, text/event-stream")
    );
    assert_eq!(
        header(&sent[0], "mcp-session-id"),
        None,
        "no session before initialize"
    );
    for later in &sent[1..] {
        assert_eq!(header(later, "mcp-session-id"), Some("b4fa276a"));
        assert_eq!(header(later, "mcp-protocol-version"), Some("2025-11-25"));
    }
    let initialized: serde_json::Value =
        serde_json::from_str(sent[1].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        initialized,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    );
    for request in sent.iter() {
        assert_eq!(
            header(request, "authorization"),
            Some("Bearer upstream-token"),
            "the server's own header"
        );
        let names: Vec<String> = request
            .headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        assert!(
            names.iter().all(|n| [
                "accept",
                "content-type",
                "mcp-session-id",
                "mcp-protocol-version",
                "authorization"
            ]
            .contains(&n.as_str())),
            "{names:?}"
        );
    }
    let log = log.borrow();
    assert!(
        log.iter()
            .all(|e| e.headers.iter().all(|(_, v)| !v.contains("upstream-token"))),
        "credentials are redacted in the log"
    );
    assert!(log
        .iter()
        .any(|e| e.body.as_deref().is_some_and(|b| b.contains("Echo: hi"))));
}

#[test]
fn tools_are_listed_across_pages_from_json_answers() {
    let init = json!({"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "paged"}}});
    let page = |id: u64, names: &[&str], next: Option<&str>| {
        let tools: Vec<_> = names
            .iter()
            .map(|n| json!({"name": n, "inputSchema": {"type": "object"}}))
            .collect();
        json_reply(
            json!({"jsonrpc": "2.0", "id": id, "result": {"tools": tools, "nextCursor": next}}),
        )
    };
    let (mut client, recorded, _) = new_client(
        McpTransport::Auto,
        vec![
            json_reply(init),
            accepted(),
            page(2, &["a", "b"], Some("c2")),
            page(3, &["c"], None),
        ],
    );
    let tools = block_on(async {
        client.connect().await.unwrap();
        client.list_tools().await.unwrap()
    });
    assert_eq!(
        tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    let sent = recorded.sent.borrow();
    assert_eq!(
        header(&sent[2], "mcp-protocol-version"),
        Some("2025-06-18"),
        "the version the server chose"
    );
    assert_eq!(
        header(&sent[2], "mcp-session-id"),
        None,
        "a server without sessions gets none"
    );
    let second: serde_json::Value = serde_json::from_str(sent[3].body.as_deref().unwrap()).unwrap();
    assert_eq!(second["params"], json!({"cursor": "c2"}));
}

#[test]
fn a_forgotten_session_is_initialized_again_once() {
    let init = |id: u64| {
        with_session(json_reply(
            json!({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": "2025-11-25"}}),
        ))
    };
    let tools =
        json_reply(json!({"jsonrpc": "2.0", "id": 4, "result": {"tools": [{"name": "echo"}]}}));
    let gone = || {
        reply(
            404,
            "application/json",
            br#"{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"}}"#,
        )
    };
    let (mut client, recorded, _) = new_client(
        McpTransport::StreamableHttp,
        vec![init(1), accepted(), gone(), init(3), accepted(), tools],
    );
    let listed = block_on(async {
        client.connect().await.unwrap();
        client.list_tools().await
    });
    assert_eq!(listed.unwrap().len(), 1);
    assert_eq!(recorded.sent.borrow().len(), 6);

    // A second 404 right after re-initializing is an error, not a loop.
    let (mut client, _, _) = new_client(
        McpTransport::StreamableHttp,
        vec![init(1), accepted(), gone(), init(3), accepted(), gone()],
    );
    let failed = block_on(async {
        client.connect().await.unwrap();
        client.list_tools().await
    });
    assert!(
        matches!(failed, Err(McpError::Http { status: 404, .. })),
        "{failed:?}"
    );
}

#[test]
fn auto_falls_back_to_the_legacy_sse_transport() {
    let stream = concat!(
        "event: endpoint\ndata: /messages?sessionId=abc\n\n",
        ": keep-alive\n\n",
        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"protocolVersion\":\"2024-11-05\",\"serverInfo\":{\"name\":\"legacy\"}}}\n\n",
        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n\n",
        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"old\"}]}}\n\n",
    );
    let (mut client, recorded, log) = new_client(
        McpTransport::Auto,
        vec![
            reply(405, "text/plain", b"Method Not Allowed"),
            sse(stream.as_bytes()),
            accepted(),
            accepted(),
            accepted(),
        ],
    );
    let tools = block_on(async {
        client.connect().await.unwrap();
        client.list_tools().await.unwrap()
    });
    assert_eq!(tools[0].name, "old");
    assert_eq!(client.server_info.as_ref().unwrap().name, "legacy");
    let sent = recorded.sent.borrow();
    assert_eq!((sent[1].method, sent[1].url.as_str()), (Method::Get, URL));
    assert_eq!(header(&sent[1], "accept"), Some("text/event-stream"));
    for post in &sent[2..] {
        assert_eq!(
            (post.method, post.url.as_str()),
            (Method::Post, "http://127.0.0.1:3001/messages?sessionId=abc")
        );
    }
    assert!(log.borrow().iter().any(|e| e.line.contains("legacy SSE")));
}

#[test]
fn failures_are_told_apart_in_words() {
    let mut upstream_401 = reply(401, "application/json", br#"{"error":"invalid_token"}"#);
    let (mut c, _, _) = new_client(McpTransport::Auto, vec![upstream_401]);
    let e = block_on(c.connect()).unwrap_err();
    assert!(
        e.explain(true).contains("rejected the credentials"),
        "{}",
        e.explain(true)
    );

    upstream_401 = reply(401, "application/json", br#"{"error":{"message":"Missing credentials","type":"authentication_error","code":"missing_credentials"}}"#);
    upstream_401.from_proxy = true;
    let (mut c, _, _) = new_client(McpTransport::Auto, vec![upstream_401]);
    let e = block_on(c.connect()).unwrap_err();
    assert!(
        e.explain(true).contains("session has expired"),
        "Hearth's own 401: {}",
        e.explain(true)
    );

    let mut refused = reply(403, "application/json", br#"{"error":{"message":"169.254.169.254 is a link-local address","type":"permission_error","code":"forbidden"}}"#);
    refused.from_proxy = true;
    let (mut c, _, _) = new_client(McpTransport::Auto, vec![refused]);
    assert!(block_on(c.connect())
        .unwrap_err()
        .explain(true)
        .contains("link-local"));

    let (mut c, _, _) = new_client(McpTransport::Auto, vec![]);
    let e = block_on(c.connect()).unwrap_err();
    assert!(matches!(e, McpError::Network(_)));
    assert!(
        e.explain(false).contains("Use proxy"),
        "a direct failure suggests the proxy"
    );

    let rpc = json_reply(
        json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "Unsupported protocol version"}}),
    );
    let (mut c, _, _) = new_client(McpTransport::Auto, vec![rpc]);
    assert!(block_on(c.connect())
        .unwrap_err()
        .explain(true)
        .contains("Unsupported protocol version"));

    let future =
        json_reply(json!({"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2099-01-01"}}));
    let (mut c, _, _) = new_client(McpTransport::Auto, vec![future]);
    assert!(matches!(block_on(c.connect()), Err(McpError::Protocol(_))));
}
