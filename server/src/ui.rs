//! Everything that is not an API route: embedded assets, and the app's pages rendered on the
//! server with the caller already known (so navigation and redirects are right before any
//! wasm runs). Pages hold no data; the browser loads it through the public API.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use leptos::nonce::Nonce;
use leptos::prelude::provide_context;

use app::session::InitialSession;

use crate::auth::MaybePrincipal;
use crate::error::AppError;
use crate::state::AppState;

/// Path prefixes that belong to the API: unknown paths there get a JSON 404, never a page.
const API_PREFIXES: &[&str] = &["/v1/", "/auth/", "/mcp/", "/cors-proxy/", "/healthz/"];

/// An embedded asset, or a JSON 404.
pub async fn asset(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    state
        .assets
        .serve(path, &headers)
        .unwrap_or_else(|| AppError::NotFound(format!("no asset at {path}")).into_response())
}

pub async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if API_PREFIXES
        .iter()
        .any(|p| path == p.trim_end_matches('/') || path.starts_with(p))
    {
        return AppError::NotFound(format!("no route for {} {path}", request.method()))
            .into_response();
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return AppError::MethodNotAllowed(format!(
            "{} is not allowed on {path}",
            request.method()
        ))
        .into_response();
    }
    if let Some(asset) = state.assets.serve(&path, request.headers()) {
        return asset;
    }

    let (mut parts, body) = request.into_parts();
    let principal = match MaybePrincipal::from_request_parts(&mut parts, &state).await {
        Ok(MaybePrincipal(principal)) => principal,
        Err(e) => return e.into_response(),
    };
    // Signed out: to the sign-in page, which comes back here afterwards. Signed in, the
    // sign-in page goes on to where it was asked to.
    match (&principal, path == "/login") {
        (None, false) => {
            let here = parts
                .uri
                .path_and_query()
                .map_or(path.as_str(), |p| p.as_str());
            return Redirect::to(&app::api::login_path(here)).into_response();
        }
        (Some(_), true) => {
            let next = crate::auth::next_page(&parts.uri);
            return Redirect::to(&crate::auth::landing(next.as_deref())).into_response();
        }
        _ => {}
    }

    let session = InitialSession(principal.map(|p| p.me()));
    let options = state.leptos.clone();
    let split_manifest = state.split_manifest.clone();
    // Every script the page runs carries this nonce; the CSP allows no other.
    let nonce = Nonce::new();
    let csp = page_csp(&nonce);
    let render = leptos_axum::render_app_to_stream_with_context(
        move || {
            provide_context(session.clone());
            provide_context(nonce.clone());
            if let Some(manifest) = split_manifest.clone() {
                provide_context(manifest);
            }
        },
        move || app::shell(options.clone()),
    );
    let mut response = render(Request::from_parts(parts, body)).await;
    if !state.pages.iter().any(|p| *p == path) {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// The pages' Content-Security-Policy: scripts only from Hearth with this page's nonce (and
/// its own wasm), styles and images from Hearth (images also inline, as `data:`), no frames
/// of or around it, forms posting only to Hearth. `connect-src` is open: the browser's MCP
/// client connects to the user's MCP servers directly unless they use the proxy.
fn page_csp(nonce: &Nonce) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self' http: https:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}
