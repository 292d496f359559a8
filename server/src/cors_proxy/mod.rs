//! The CORS proxy: `GET | POST | DELETE /cors-proxy?url=<http(s) URL>` (llama-server
//! compatible), for MCP servers that the browser connects to itself.
//!
//! Behind the normal authentication. Forwards only the MCP protocol headers and headers the
//! client wrapped as `x-proxy-header-<name>` (or llama.cpp's `x-llama-server-proxy-header-`).
//! Never forwards the caller's `Authorization`, `Cookie` or `X-Api-Key`, never returns an
//! upstream cookie, and never reaches an address that [`policy::Policy`] refuses: the check
//! runs on the resolved addresses and again on every redirect.

pub mod policy;
pub mod settings;
mod upstream;

use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::auth::Principal;
use crate::error::{AppError, Result};
use crate::state::AppState;

pub use upstream::Upstream;

/// Request headers of the MCP protocol, forwarded as they are.
const FORWARDED: &[&str] =
    &["accept", "content-type", "mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name", "last-event-id"];
/// Prefixes a client puts before a header meant for the upstream.
const WRAP_PREFIXES: &[&str] = &["x-proxy-header-", "x-llama-server-proxy-header-"];
/// Headers that describe one hop, or that the upstream must not set on Hearth's origin.
const NEVER_RETURNED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "set-cookie",
    "content-length",
];
/// Headers a client may not set on the upstream even when wrapped.
const NEVER_UNWRAPPED: &[&str] =
    &["host", "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "content-length", "proxy-authorization"];

/// Set on every answer that comes from the upstream; absent on Hearth's own answers.
pub const UPSTREAM_MARK: &str = "hearth-proxy-upstream";
/// Request bodies are MCP messages: small.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A stream that sends nothing for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

pub fn router() -> Router<AppState> {
    Router::new().route("/cors-proxy", get(proxy).post(proxy).delete(proxy)).merge(settings::router())
}

async fn proxy(State(state): State<AppState>, _caller: Principal, RawQuery(query): RawQuery, request: Request) -> Result<Response> {
    let target = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| AppError::BadRequest("name the MCP server as `?url=<http(s) URL>`".into()))?;
    let url = url::Url::parse(&target).map_err(|e| AppError::BadRequest(format!("the url parameter is not a URL: {e}")))?;
    state.cors_proxy.policy().check_url(&url).map_err(|refusal| AppError::Forbidden(refusal.to_string()))?;

    let (parts, body) = request.into_parts();
    let method = match parts.method {
        Method::GET => reqwest::Method::GET,
        Method::POST => reqwest::Method::POST,
        Method::DELETE => reqwest::Method::DELETE,
        _ => return Err(AppError::MethodNotAllowed("the CORS proxy takes GET, POST and DELETE".into())),
    };
    let headers = upstream_headers(&parts.headers);
    let body = Body::new(http_body_util::Limited::new(body, BODY_LIMIT));
    let answer = state.cors_proxy.send(method, url, headers, body).await?;
    Ok(downstream_response(answer))
}

/// What goes upstream: the protocol headers, and the wrapped ones unwrapped. Nothing else of
/// the caller's, least of all its credentials.
fn upstream_headers(incoming: &HeaderMap) -> reqwest::header::HeaderMap {
    let mut out = reqwest::header::HeaderMap::new();
    for (name, value) in incoming {
        let name_str = name.as_str();
        if FORWARDED.contains(&name_str) {
            out.append(name.clone(), value.clone());
        } else if let Some(inner) = WRAP_PREFIXES.iter().find_map(|p| name_str.strip_prefix(p)) {
            if NEVER_UNWRAPPED.contains(&inner) {
                continue;
            }
            if let Ok(inner) = HeaderName::from_bytes(inner.as_bytes()) {
                out.append(inner, value.clone());
            }
        }
    }
    out
}

fn downstream_response(answer: reqwest::Response) -> Response {
    let mut response = Response::builder().status(StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY));
    if let Some(headers) = response.headers_mut() {
        for (name, value) in answer.headers() {
            let name_str = name.as_str();
            if NEVER_RETURNED.contains(&name_str) || name_str.starts_with("access-control-") {
                continue;
            }
            headers.append(name.clone(), value.clone());
        }
        // Tells the browser this status is the upstream's, not Hearth's own (a 401 here means
        // the MCP server refused its credentials, not that the session expired).
        headers.insert(UPSTREAM_MARK, axum::http::HeaderValue::from_static("1"));
    }
    response.body(Body::from_stream(answer.bytes_stream())).unwrap_or_else(|_| Response::new(Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_protocol_and_wrapped_headers_go_upstream() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer hearth-key"),
            ("cookie", "hearth_session=abc"),
            ("x-api-key", "hearth-key"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-session-id", "s1"),
            ("x-proxy-header-authorization", "Bearer upstream-token"),
            ("x-llama-server-proxy-header-x-team", "blue"),
            ("x-proxy-header-host", "evil.example"),
            ("user-agent", "browser"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let out = upstream_headers(&h);
        assert_eq!(out["authorization"], "Bearer upstream-token");
        assert_eq!(out.get_all("authorization").iter().count(), 1);
        assert_eq!(out["x-team"], "blue");
        assert_eq!(out["mcp-session-id"], "s1");
        for absent in ["cookie", "x-api-key", "host", "user-agent"] {
            assert!(out.get(absent).is_none(), "{absent} went upstream");
        }
    }
}
