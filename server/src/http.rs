//! The router: every capability's `router()` merged, the layers applied once.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower::Layer;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::trace::TraceLayer;

use app::api::Health;

use crate::error::AppError;
use crate::state::AppState;
use crate::{audit, auth, conversations, cors_proxy, keys, llm, mcp, sessions, teams, ui, users};

/// Every route, behind its layers, as one service. Layers that do not look at the matched
/// route wrap the routers whole rather than each route: `Router::layer` wraps every route in
/// a boxed service of its own, and a request through layers so nested clones every box
/// beneath each of them.
pub fn router(state: AppState) -> Guarded {
    // Each request's span, named by the route it matched (so it wraps each route: the match
    // is known only there).
    let traced = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<_>| {
            // Named by the matched route, not the raw path: low cardinality, no ids or queries.
            let route = request
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map_or("fallback", axum::extract::MatchedPath::as_str);
            tracing::info_span!("request", method = %request.method(), route)
        })
        .on_failure(
            |failure: ServerErrorsFailureClass, latency: Duration, _: &tracing::Span| {
                let latency_ms = latency.as_millis() as u64;
                match failure {
                    // A provider or upstream failing is expected; the handler has said why at WARN.
                    ServerErrorsFailureClass::StatusCode(status)
                        if matches!(status.as_u16(), 502..=504) =>
                    {
                        tracing::warn!(
                            status = status.as_u16(),
                            latency_ms,
                            "answered with an upstream failure"
                        )
                    }
                    failure => tracing::error!(%failure, latency_ms, "request failed"),
                }
            },
        );
    let gateway = mcp::gateway::router(&state);
    // Routes that never look at a session stay outside its layer, which would otherwise read
    // the session from the database for every request that carries the cookie.
    let sessionless = Router::new()
        .route("/healthz", get(healthz))
        .route("/pkg/{*path}", get(ui::asset))
        .route("/favicon.ico", get(ui::asset))
        .layer(traced.clone());
    let sessioned = Router::new()
        .merge(auth::router())
        .merge(keys::router())
        .merge(cors_proxy::router())
        .merge(mcp::router())
        .merge(gateway.clone())
        .merge(llm::router())
        .merge(audit::router())
        .merge(teams::router())
        .merge(users::router())
        .merge(conversations::router())
        .fallback(ui::fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(traced.clone())
        .with_state(state.clone());
    let sessioned = axum::middleware::from_fn(sessions::secure_over_https)
        .layer(sessions::layer(&state.db, state.known.clone()).layer(sessioned));
    // A key in the request's headers is the caller, whatever cookie it also carries: the
    // gateway's requests that carry one (every MCP client's but the chat page's) pass by the
    // session and cookie layers, which they never use.
    let keyed = gateway
        .fallback(no_route)
        .layer(traced)
        .with_state(state.clone());
    Guarded {
        all: sessionless.fallback_service(sessioned).with_state(state),
        keyed,
    }
}

/// Whether a request is to `/mcp` or `/mcp/{server}` with a key ([`auth::carries_key`]).
fn keyed_gateway_call(request: &Request<Body>) -> bool {
    let gateway = match request.uri().path().strip_prefix("/mcp") {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('/')
            .is_some_and(|server| !server.is_empty() && !server.contains('/')),
        None => false,
    };
    gateway && auth::carries_key(request.headers())
}

/// Headers on every answer, unless the route set its own (pages set a CSP with their nonce;
/// proxied answers a sandbox): nothing of Hearth's is framed by another site, sniffed into
/// another type, or tells other origins where the user was.
const DEFAULT_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    ),
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    ),
];

/// The outermost layer: a request with two `Host` headers is refused (the origin checks read
/// one, a proxy in front may have routed by the other), and every answer gets the
/// [`DEFAULT_HEADERS`] it lacks. One service of its own rather than a layer for each: every
/// request passes here.
#[derive(Clone)]
pub struct Guarded {
    all: Router,
    /// The gateway's routes alone, for requests that carry a key.
    keyed: Router,
}

type Answered = std::result::Result<Response, Infallible>;

impl<B> tower::Service<Request<B>> for Guarded
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = futures_util::future::Either<
        std::future::Ready<Answered>,
        futures_util::future::Map<
            axum::routing::future::RouteFuture<Infallible>,
            fn(Answered) -> Answered,
        >,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        // A router is always ready.
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        use futures_util::future::{Either, FutureExt};
        let request = request.map(Body::new);
        if request
            .headers()
            .get_all(header::HOST)
            .iter()
            .nth(1)
            .is_some()
        {
            let refused =
                AppError::BadRequest("a request carries one Host header".into()).into_response();
            return Either::Left(std::future::ready(with_defaults(Ok(refused))));
        }
        let routed = if keyed_gateway_call(&request) {
            self.keyed.call(request)
        } else {
            self.all.call(request)
        };
        Either::Right(routed.map(with_defaults as fn(Answered) -> Answered))
    }
}

fn with_defaults(answer: Answered) -> Answered {
    let Ok(mut response) = answer;
    let headers = response.headers_mut();
    for (name, value) in DEFAULT_HEADERS {
        if !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

/// Whether Hearth can serve: `200 {"status": "ok", "database": "ok"}`, or `503` with
/// `"status": "unavailable"` and `"database": "unavailable"` while the database cannot be
/// reached (a load balancer then sends requests elsewhere).
async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    let reachable = {
        let mut last = state.db_health.lock().await;
        match *last {
            Some((at, reachable)) if at.elapsed() < Duration::from_secs(1) => reachable,
            _ => {
                let reachable = tokio::time::timeout(Duration::from_secs(2), state.db.ping())
                    .await
                    .is_ok_and(|r| r.is_ok());
                *last = Some((std::time::Instant::now(), reachable));
                reachable
            }
        }
    };
    let (code, word) = if reachable {
        (axum::http::StatusCode::OK, "ok")
    } else {
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    (
        code,
        Json(Health {
            status: word.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            database: word.into(),
        }),
    )
}

/// Never reached: requests are sent to the keyed gateway's routes only by their shape.
async fn no_route() -> AppError {
    AppError::NotFound("no such route".into())
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed("this method is not allowed on this route".into())
}
