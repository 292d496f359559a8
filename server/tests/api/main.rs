//! Integration tests: the real router on `127.0.0.1:0` with a fresh database per test (a
//! SQLite file, or a PostgreSQL database with `TEST_BACKEND=postgres`), spoken to over HTTP.

mod harness;
mod postgres;

mod conformance;
mod conformance_fixture;
mod conversations;
mod cors_proxy;
mod database;
mod gateway;
mod gateway_clients;
mod identity;
mod inference;
mod instances;
mod keys;
mod llms;
mod mcp_peers;
mod mcp_servers;
mod pages;
mod robustness;
mod shared_mcp;
mod shared_mcp_access;
mod startup;
mod teams;
