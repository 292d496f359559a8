//! The browser's MCP client: a small module of our own (rmcp needs tokio and does not run in
//! a browser). Protocol logic is plain Rust over the [`transport::Transport`] trait, tested
//! natively over recorded exchanges; [`browser`] supplies the `fetch` transport.

#[cfg(feature = "hydrate")]
pub mod browser;
pub mod client;
pub mod jsonrpc;
pub mod log;
pub mod transport;

#[cfg(test)]
mod tests;

pub use client::{McpClient, McpError, ServerConfig};
pub use jsonrpc::{CallToolResult, Tool};
pub use log::LogEntry;
