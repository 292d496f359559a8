//! What the MCP client needs from HTTP, as a trait: the browser implements it with its own
//! `fetch`, tests with recorded exchanges. Also the `/cors-proxy` addressing.

use std::future::Future;
use std::pin::Pin;

use futures::Stream;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// One HTTP request, addressed to the MCP server itself (the transport applies the proxy).
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, String>>>>;

pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// Whether Hearth's `/cors-proxy` answered this itself (a refusal, or no upstream reached)
    /// rather than passing on the upstream's answer.
    pub from_proxy: bool,
    pub body: ByteStream,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    pub fn is_event_stream(&self) -> bool {
        self.content_type().starts_with("text/event-stream")
    }
}

/// The request never got an HTTP answer.
#[derive(Clone, Debug, PartialEq)]
pub enum TransportError {
    /// A network or CORS failure: browsers do not tell the two apart.
    Network(String),
    Timeout,
}

pub trait Transport {
    fn send(&self, request: Outgoing) -> impl Future<Output = Result<Response, TransportError>>;
}

/// The header `/cors-proxy` sets on answers that came from the upstream.
pub const PROXY_UPSTREAM_HEADER: &str = "hearth-proxy-upstream";
/// The prefix under which headers meant for the upstream travel through the proxy.
pub const PROXY_WRAP_PREFIX: &str = "x-proxy-header-";
/// The header that marks a proxied request as this client's own: the proxy refuses
/// cookie-authenticated requests without it (a navigation or a foreign page cannot send it).
pub const PROXY_REQUEST_HEADER: &str = "hearth-proxy-request";

/// Headers the client always sends as they are: the proxy forwards them itself.
const PROTOCOL_HEADERS: &[&str] = &[
    "accept",
    "content-type",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

/// The same request, sent through Hearth's `/cors-proxy`: the target in the query, the
/// server's own headers wrapped. Hearth's credentials are never added: the session cookie
/// rides along by itself because the request is same-origin.
pub fn through_proxy(origin: &str, request: Outgoing) -> Outgoing {
    let url = format!("{origin}/cors-proxy?url={}", encode_component(&request.url));
    let headers = request
        .headers
        .into_iter()
        .map(|(name, value)| {
            let lower = name.to_ascii_lowercase();
            if PROTOCOL_HEADERS.contains(&lower.as_str()) {
                (lower, value)
            } else {
                (format!("{PROXY_WRAP_PREFIX}{lower}"), value)
            }
        })
        .chain([(PROXY_REQUEST_HEADER.to_owned(), "1".to_owned())])
        .collect();
    Outgoing {
        url,
        headers,
        ..request
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Resolves the legacy SSE transport's `endpoint` (usually a path) against the stream's URL,
/// by the URL standard: the browser's own `URL` in the browser, the `url` crate elsewhere.
pub fn resolve_endpoint(base: &str, endpoint: &str) -> Result<String, String> {
    let (base_origin, resolved, origin) = join(base, endpoint.trim())?;
    // Opaque origins (`null`) are equal to nothing, not even each other.
    if origin == "null" || origin != base_origin {
        return Err(
            "the server announced an endpoint on another origin, which is not followed".into(),
        );
    }
    Ok(resolved)
}

/// `(base's origin, endpoint resolved against base, its origin)`.
#[cfg(target_arch = "wasm32")]
fn join(base: &str, endpoint: &str) -> Result<(String, String, String), String> {
    let base = web_sys::Url::new(base).map_err(|_| "bad server URL".to_owned())?;
    let resolved = web_sys::Url::new_with_base(endpoint, &base.href())
        .map_err(|_| "the server announced a bad endpoint".to_owned())?;
    Ok((base.origin(), resolved.href(), resolved.origin()))
}

#[cfg(not(target_arch = "wasm32"))]
fn join(base: &str, endpoint: &str) -> Result<(String, String, String), String> {
    let base = url::Url::parse(base).map_err(|e| format!("bad server URL: {e}"))?;
    let resolved = base
        .join(endpoint)
        .map_err(|e| format!("the server announced a bad endpoint: {e}"))?;
    Ok((
        base.origin().ascii_serialization(),
        resolved.to_string(),
        resolved.origin().ascii_serialization(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxied_requests_carry_the_target_in_the_query_and_wrap_the_servers_headers() {
        let request = Outgoing {
            method: Method::Post,
            url: "http://127.0.0.1:3001/mcp?x=1&y=2".into(),
            headers: vec![
                (
                    "Accept".into(),
                    "application/json, text/event-stream".into(),
                ),
                ("Authorization".into(), "Bearer upstream".into()),
                ("Mcp-Session-Id".into(), "s1".into()),
            ],
            body: Some("{}".into()),
        };
        let proxied = through_proxy("http://127.0.0.1:8484", request);
        assert_eq!(proxied.url, "http://127.0.0.1:8484/cors-proxy?url=http%3A%2F%2F127.0.0.1%3A3001%2Fmcp%3Fx%3D1%26y%3D2");
        assert_eq!(
            proxied.headers,
            [
                (
                    "accept".to_owned(),
                    "application/json, text/event-stream".to_owned()
                ),
                (
                    "x-proxy-header-authorization".to_owned(),
                    "Bearer upstream".to_owned()
                ),
                ("mcp-session-id".to_owned(), "s1".to_owned()),
                ("hearth-proxy-request".to_owned(), "1".to_owned()),
            ]
        );
        assert_eq!(proxied.body.as_deref(), Some("{}"));
    }

    #[test]
    fn legacy_endpoints_resolve_on_the_same_origin_only() {
        let base = "http://127.0.0.1:3001/sse";
        assert_eq!(
            resolve_endpoint(base, "/messages?sessionId=a b").unwrap(),
            "http://127.0.0.1:3001/messages?sessionId=a%20b"
        );
        assert_eq!(
            resolve_endpoint(base, "messages").unwrap(),
            "http://127.0.0.1:3001/messages"
        );
        assert!(resolve_endpoint(base, "http://evil.example/messages").is_err());
    }
}
