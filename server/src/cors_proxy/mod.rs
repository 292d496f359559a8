//! The CORS proxy: `GET | POST | DELETE /cors-proxy?url=<http(s) URL>` (llama-server
//! compatible), for MCP servers that the browser connects to itself.
//!
//! Behind the normal authentication. Forwards only the MCP protocol headers and headers the
//! client wrapped as `x-proxy-header-<name>` (or llama.cpp's `x-llama-server-proxy-header-`).
//! Never forwards the caller's `Authorization`, `Cookie` or `X-Api-Key`, never returns an
//! upstream cookie, and never reaches an address that [`policy::Policy`] refuses: the check
//! runs on the resolved addresses and again on every redirect.
//!
//! A proxied answer is MCP data, never a document on Hearth's origin: navigations are
//! refused, a request on ambient authority (cookie, local mode) must carry
//! [`REQUEST_HEADER`] (which no navigation, form or `no-cors` fetch can), only JSON and SSE
//! keep their content type (anything else is a download), every answer is sandboxed by its
//! CSP, only an allow-list of upstream headers comes back, and a redirect never does.

pub mod policy;
pub mod settings;
mod upstream;

use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::auth::{allowed, authorize, Action, Channel, Principal, Resource};
use crate::error::{AppError, Result};
use crate::state::AppState;
use policy::Caller;

pub use upstream::{checked_addrs, Upstream};

/// Request headers of the MCP protocol, forwarded as they are.
const FORWARDED: &[&str] = &[
    "accept",
    "content-type",
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
];
/// Prefixes a client puts before a header meant for the upstream.
const WRAP_PREFIXES: &[&str] = &["x-proxy-header-", "x-llama-server-proxy-header-"];
/// The upstream's answer headers that come back: what an MCP client reads. Everything else
/// (cookies, `Location`, `Refresh`, `Link`, CSPs, `Clear-Site-Data`, hop-by-hop headers, …) is
/// the upstream's to set on its own origin, not on Hearth's.
const RETURNED: &[&str] = &[
    "content-type",
    "mcp-session-id",
    "mcp-protocol-version",
    "www-authenticate",
    "retry-after",
    "date",
];
/// Content types MCP answers come in: the only ones served as such.
const MCP_CONTENT_TYPES: &[&str] = &["application/json", "text/event-stream"];
/// The request header that marks a request as the browser's MCP client's own. Required when
/// the authority is ambient (cookie or local mode); a navigation can never carry it.
pub const REQUEST_HEADER: &str = "hearth-proxy-request";
/// Navigation destinations: a proxied answer must never become one.
const DOCUMENT_DESTINATIONS: &[&str] = &["document", "iframe", "frame", "embed", "object"];
/// On every proxied answer: were it opened as a page anyway, it would run nothing.
const SANDBOX_CSP: &str = "sandbox; default-src 'none'";
/// Headers a client may not set on the upstream even when wrapped.
/// Hop-by-hop headers, headers that describe the body Hearth sends, and method overrides
/// (which would turn the GET, POST or DELETE the caller was allowed into another).
const NEVER_UNWRAPPED: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "content-length",
    "content-encoding",
    "proxy-authorization",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Set on every answer that comes from the upstream; absent on Hearth's own answers.
pub const UPSTREAM_MARK: &str = "hearth-proxy-upstream";
/// Request bodies are MCP messages: small.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A stream that sends nothing for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cors-proxy", get(proxy).post(proxy).delete(proxy))
        .merge(settings::router())
}

async fn proxy(
    State(state): State<AppState>,
    caller: Principal,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response> {
    authorize(&caller, Action::Run, Resource::CorsProxy)?;
    refuse_documents(request.headers(), caller.channel)?;
    let target = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| {
            AppError::BadRequest("name the MCP server as `?url=<http(s) URL>`".into())
        })?;
    let url = url::Url::parse(&target)
        .map_err(|e| AppError::BadRequest(format!("the url parameter is not a URL: {e}")))?;
    let reach = if allowed(&caller, Action::Run, Resource::PrivateNetwork) {
        Caller::Trusted
    } else {
        Caller::Untrusted
    };
    state
        .cors_proxy
        .policy()
        .check_url(&url, reach)
        .map_err(|refusal| AppError::Forbidden(refusal.to_string()))?;

    let (parts, body) = request.into_parts();
    let method = match parts.method {
        Method::GET => reqwest::Method::GET,
        Method::POST => reqwest::Method::POST,
        Method::DELETE => reqwest::Method::DELETE,
        _ => {
            return Err(AppError::MethodNotAllowed(
                "the CORS proxy takes GET, POST and DELETE".into(),
            ))
        }
    };
    let headers = upstream_headers(&parts.headers);
    let body = Body::new(http_body_util::Limited::new(body, BODY_LIMIT));
    let answer = state
        .cors_proxy
        .send(reach, method, url, headers, body)
        .await?;
    downstream_response(answer)
}

/// Refuses what a browser sends when it would show the answer as a page (a link followed, a
/// frame, an embed), and, on ambient authority, anything without [`REQUEST_HEADER`].
fn refuse_documents(headers: &HeaderMap, channel: Channel) -> Result<()> {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    let navigation = value("sec-fetch-mode").is_some_and(|m| m == "navigate")
        || value("sec-fetch-dest").is_some_and(|d| DOCUMENT_DESTINATIONS.contains(&d.as_str()));
    if navigation {
        return Err(AppError::Forbidden("the CORS proxy answers MCP clients, not pages: it cannot be opened in a tab or a frame".into()));
    }
    if channel != Channel::Header && !headers.contains_key(REQUEST_HEADER) {
        return Err(AppError::Forbidden(format!(
            "a request to the CORS proxy signed in by cookie must carry the `{REQUEST_HEADER}: 1` header (Hearth's MCP client sends it)"
        )));
    }
    Ok(())
}

/// What goes upstream: the protocol headers, and the wrapped ones unwrapped. Nothing else of
/// the caller's, least of all its credentials.
/// A wrapped header replaces the native header of the same name: the client wrapped it to
/// say what the upstream gets.
fn upstream_headers(incoming: &HeaderMap) -> reqwest::header::HeaderMap {
    let mut out = reqwest::header::HeaderMap::new();
    for (name, value) in incoming {
        if FORWARDED.contains(&name.as_str()) {
            out.append(name.clone(), value.clone());
        }
    }
    let mut wrapped: Vec<HeaderName> = Vec::new();
    for (name, value) in incoming {
        let Some(inner) = WRAP_PREFIXES
            .iter()
            .find_map(|p| name.as_str().strip_prefix(p))
        else {
            continue;
        };
        if NEVER_UNWRAPPED.contains(&inner) {
            continue;
        }
        let Ok(inner) = HeaderName::from_bytes(inner.as_bytes()) else {
            continue;
        };
        if !wrapped.contains(&inner) {
            out.remove(&inner);
            wrapped.push(inner.clone());
        }
        out.append(inner, value.clone());
    }
    out
}

fn downstream_response(answer: reqwest::Response) -> Result<Response> {
    let status = answer.status();
    if status.is_redirection() {
        // A browser would follow it on Hearth's origin, with the session cookie.
        return Err(AppError::BadGateway(format!(
            "the MCP server answered with a redirect (HTTP {}) that the proxy does not pass on",
            status.as_u16()
        )));
    }
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY));
    if let Some(headers) = response.headers_mut() {
        for (name, value) in answer.headers() {
            if RETURNED.contains(&name.as_str()) {
                headers.append(name.clone(), value.clone());
            }
        }
        let is_mcp = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|essence| {
                MCP_CONTENT_TYPES
                    .iter()
                    .any(|t| essence.trim().eq_ignore_ascii_case(t))
            });
        if !is_mcp {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            headers.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment"),
            );
        }
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(SANDBOX_CSP),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // Tells the browser this status is the upstream's, not Hearth's own (a 401 here means
        // the MCP server refused its credentials, not that the session expired).
        headers.insert(UPSTREAM_MARK, HeaderValue::from_static("1"));
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("content-type", "application/json"),
            (
                "x-proxy-header-content-type",
                "application/json; charset=utf-8",
            ),
            ("x-proxy-header-expect", "100-continue"),
            ("x-proxy-header-proxy-connection", "keep-alive"),
            ("x-proxy-header-content-encoding", "gzip"),
            ("x-proxy-header-x-http-method-override", "PUT"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let out = upstream_headers(&h);
        assert_eq!(out["authorization"], "Bearer upstream-token");
        assert_eq!(out.get_all("authorization").iter().count(), 1);
        assert_eq!(out["x-team"], "blue");
        assert_eq!(out["mcp-session-id"], "s1");
        assert_eq!(
            out.get_all("content-type").iter().collect::<Vec<_>>(),
            ["application/json; charset=utf-8"],
            "the wrapped one replaces the native one"
        );
        for absent in [
            "cookie",
            "x-api-key",
            "host",
            "user-agent",
            "expect",
            "proxy-connection",
            "content-encoding",
            "x-http-method-override",
        ] {
            assert!(out.get(absent).is_none(), "{absent} went upstream");
        }
    }
}
