//! The LLM gateway: the LLM resources (`/v1/llms`, with the auth probe run when a key or URL
//! is saved) and OpenAI-compatible inference (`/v1/models`, `/v1/chat/completions`).

pub mod anthropic;
mod catalog;
mod gateway;
pub mod key_ref;
pub mod probe;
mod resources;

use axum::Router;

pub use catalog::Catalog;
pub(crate) use resources::{fetch_all, register, unregister, SaveOptions};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    resources::router().merge(gateway::router())
}
