//! MCP on the server. So far: the personal MCP servers that users keep on Hearth and connect
//! to from their browser ([`personal`]). Hearth itself never connects to them.

pub mod personal;

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    personal::router()
}
