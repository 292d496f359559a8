//! MCP on the server: the personal MCP servers that users keep on Hearth and connect to from
//! their browser ([`personal`]; Hearth never connects to them), and the shared servers an
//! admin registers once ([`registry`]), which Hearth itself connects to ([`upstream`]) and
//! lets its users use ([`shared`]).

pub mod gateway;
pub mod personal;
pub mod registry;
pub mod shared;
pub mod upstream;

use axum::Router;

use crate::state::AppState;

/// Whether a `Content-Type` (or one entry of an `Accept` list) names the media type `kind`,
/// whatever its parameters and case.
pub(crate) fn media_type_is(value: &str, kind: &str) -> bool {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case(kind)
}

pub fn router() -> Router<AppState> {
    personal::router()
        .merge(registry::router())
        .merge(shared::router())
}
