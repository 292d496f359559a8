//! Integration tests: the real router on `127.0.0.1:0` with a fresh SQLite file per test,
//! spoken to over HTTP.

mod harness;

mod conversations;
mod cors_proxy;
mod identity;
mod inference;
mod keys;
mod llms;
mod mcp_servers;
mod pages;
mod robustness;
mod startup;
mod teams;
