//! The CORS proxy (`/cors-proxy?url=…`) for MCP servers that the browser connects to itself.
//!
//! Never forwards the caller's `Authorization`, `Cookie` or `X-Api-Key`, and never reaches an
//! address that [`policy::Policy`] refuses. The route itself is not built yet; see the
//! project notes.

pub mod policy;
