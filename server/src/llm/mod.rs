//! The LLM gateway: the LLM resources (`/v1/llms`, with the auth probe run when a key or URL
//! is saved) and OpenAI-compatible inference (`/v1/models`, `/v1/chat/completions`).

pub mod anthropic;
mod catalog;
mod gateway;
pub mod key_ref;
pub mod probe;
mod relay;
mod resources;
mod sse;

use axum::Router;

pub use catalog::Catalog;
pub(crate) use gateway::{read_at_most, read_whole};
pub(crate) use resources::{fetch_all, register, unregister, SaveOptions};

use crate::state::AppState;

/// A token count as a provider reported it, if it is one: a count past 2^40 (a thousand
/// billion tokens in one call) is a provider's bug, and counts as unknown.
pub(crate) fn token_count(value: Option<&serde_json::Value>) -> Option<u64> {
    value
        .and_then(serde_json::Value::as_u64)
        .filter(|&n| n <= 1 << 40)
}

pub fn router() -> Router<AppState> {
    resources::router().merge(gateway::router())
}
