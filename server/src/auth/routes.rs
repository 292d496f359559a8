//! `POST /auth/login`, `POST /auth/logout`, `GET /v1/me`.
//!
//! Login takes JSON or a form post, so the sign-in page works before its wasm has loaded:
//! form posts are answered with redirects, JSON with JSON.

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use tower_sessions::Session;

use app::api::{LoginRequest, Me, SIGN_IN};

use super::password;
use super::principal::{
    check_origin, client_address, principal_for_key, record_failure, shown_name, Channel,
    Principal, SessionAuth, SESSION_KEY,
};
use crate::audit::Record;
use crate::error::{AppError, Result};
use crate::state::AppState;
use crate::users;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/v1/me", get(me))
}

async fn me(principal: Principal) -> Json<Me> {
    Json(principal.me())
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// `next` from `uri`'s query: where a sign-in goes afterwards, if it is a path on Hearth.
pub fn next_page(uri: &axum::http::Uri) -> Option<String> {
    let query = uri.query()?;
    let next = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "next")?
        .1;
    app::api::safe_next(&next).map(str::to_owned)
}

/// The `Location` after a sign-in: `next` when there is one, else the overview.
pub fn landing(next: Option<&str>) -> String {
    next.map_or_else(|| "/".to_owned(), url_path)
}

async fn login(State(state): State<AppState>, session: Session, request: Request) -> Response {
    let form = is_form(request.headers());
    let next = if form { next_page(request.uri()) } else { None };
    match sign_in(&state, &session, request, form).await {
        // The path is sent back percent-encoded: a Location header holds no raw spaces or
        // non-ASCII, and the browser decodes it to the same path.
        Ok(_) if form => Redirect::to(&landing(next.as_deref())).into_response(),
        Ok(me) => Json(me).into_response(),
        Err(e) if form => {
            let reason = match e {
                AppError::Unauthorized { .. } => "invalid",
                AppError::Forbidden(_) => "origin",
                AppError::TooManyRequests { .. } => "wait",
                _ => "incomplete",
            };
            let back = next
                .map(|n| format!("&next={}", app::mcp::transport::encode_component(&n)))
                .unwrap_or_default();
            Redirect::to(&format!("/login?error={reason}{back}")).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `path` with every byte a `Location` header may not carry raw percent-encoded; `%` itself
/// and the URL's own delimiters stay as they are.
fn url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_graphic() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn sign_in(state: &AppState, session: &Session, request: Request, form: bool) -> Result<Me> {
    let (parts, body) = request.into_parts();
    // A login is not yet authenticated by the cookie, but a cross-site form must not be able
    // to sign a visitor into someone else's account either.
    if parts.headers.contains_key(header::ORIGIN) {
        check_origin(&parts, Channel::Cookie)?;
    }
    let client = client_address(&parts);
    let request = Request::from_parts(parts, body);
    // The same faults get the same answers as on every other route (415, 413, 400).
    let LoginRequest {
        username,
        password,
        api_key,
    } = if form {
        Form::<LoginRequest>::from_request(request, &())
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(e.body_text()),
                _ => AppError::BadRequest(e.body_text()),
            })?
            .0
    } else {
        crate::extract::ApiJson::<LoginRequest>::from_request(request, &())
            .await?
            .0
    };
    let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());

    let (principal, auth) = match (non_empty(api_key), non_empty(username), non_empty(password)) {
        (Some(key), _, _) => {
            state.sign_in.check(client, None)?;
            match principal_for_key(state, key.trim(), Channel::Cookie).await? {
                Some(found) => found,
                None => {
                    failed(state, client, None);
                    return Err(AppError::invalid_api_key());
                }
            }
        }
        (None, Some(name), Some(pass)) => {
            let name = name.trim().to_owned();
            state.sign_in.check(client, Some(&name))?;
            let user = users::by_name(&state.db, &name).await?;
            let stored = user.as_ref().and_then(|u| u.password_hash.clone());
            let slot = state.sign_in.hashing_slot().await?;
            let ok = tokio::task::spawn_blocking(move || {
                let _slot = slot;
                password::verify(&pass, stored.as_deref())
            })
            .await
            .map_err(AppError::internal)?;
            match user {
                Some(user) if ok => (
                    Principal::from_user(&user, Channel::Cookie),
                    SessionAuth::Password { user_id: user.id },
                ),
                _ => {
                    failed(state, client, Some(&name));
                    return Err(AppError::Unauthorized {
                        message: "Invalid username or password".into(),
                        code: "invalid_credentials",
                    });
                }
            }
        }
        _ => {
            return Err(AppError::BadRequest(
                "Enter a username and password, or an API key (`api_key`).".into(),
            ))
        }
    };

    // A fresh session id on every sign-in, so a planted cookie cannot be promoted.
    session
        .cycle_id()
        .await
        .map_err(crate::sessions::store_error)?;
    session
        .insert(SESSION_KEY, auth)
        .await
        .map_err(crate::sessions::store_error)?;
    tracing::info!(user = %principal.name, method = ?principal.auth, "signed in");
    state.audit.record(Record {
        client: Some(client.to_string()),
        ..Record::action(SIGN_IN, &principal, "session", 200)
    });
    Ok(principal.me())
}

/// A refused sign-in: counted against the client (and the name tried), logged and audited.
fn failed(state: &AppState, client: std::net::IpAddr, name: Option<&str>) {
    state.sign_in.failed(client, name);
    record_failure(
        state,
        client,
        name.map_or_else(|| "api-key".to_owned(), shown_name),
    );
}

async fn logout(session: Session, request: Request) -> Result<Response> {
    let (parts, _) = request.into_parts();
    check_origin(&parts, Channel::Cookie)?;
    session
        .flush()
        .await
        .map_err(crate::sessions::store_error)?;
    Ok(if is_form(&parts.headers) {
        Redirect::to("/login").into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    })
}
