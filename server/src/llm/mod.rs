//! The LLM gateway. So far: the LLM resources (`/v1/llms`), with the auth probe run when a key
//! or URL is saved. Inference comes next.

pub mod probe;
mod resources;

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    resources::router()
}
