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

pub fn router() -> Router<AppState> {
    personal::router()
        .merge(registry::router())
        .merge(shared::router())
}
