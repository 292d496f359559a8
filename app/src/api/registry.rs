//! Wire types of the shared MCP servers (`/v1/mcp/servers`): servers an admin registers once,
//! with their credentials kept on Hearth, and grants to members, teams and keys. Hearth itself
//! connects to them (the chat page and MCP clients reach them through `/mcp`).
//!
//! Secrets are write-only: the credential, header values and env values are sealed when
//! stored and never returned. What a caller sees depends on who they are: admins and viewers
//! see the configuration with secrets blanked ([`SharedMcpServer`]); members see only the
//! servers granted to them, without URL, headers, env, command or args
//! ([`SharedMcpServerSummary`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Grants, HeaderEntry};

/// How Hearth reaches the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SharedTransport {
    /// Streamable HTTP.
    #[default]
    Http,
    /// The legacy HTTP+SSE transport.
    Sse,
    /// A child process Hearth starts and speaks to over stdin/stdout (admins only).
    Stdio,
}

/// Which revision of the protocol Hearth starts a session with. `auto` asks the modern way
/// first and falls back, which can wait up to 10 s on a server that stays silent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    #[default]
    Auto,
    /// `initialize` and `Mcp-Session-Id` (2025-11-25).
    Legacy,
    /// Stateless requests (2026-07-28).
    Modern,
}

/// How Hearth authenticates to the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    #[default]
    None,
    /// `Authorization: Bearer <credential>`.
    Bearer,
    /// `<api_key_header>: <credential>`.
    ApiKey,
    /// `Authorization: Basic`, from a `user:password` credential.
    Basic,
    /// Only the static `headers`.
    Headers,
    /// The MCP client's own bearer token is passed on (no credential is stored).
    Forward,
}

/// A name and value; the value is write-only where it is a secret (env values).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvEntry {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// What a tool is shown as, in place of what the server says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `POST /v1/mcp/servers`, `PUT /v1/mcp/servers/{name}`, `POST /v1/mcp/servers/test`.
///
/// On an update, an omitted `credential` keeps the stored one and `""` removes it; a header
/// or env entry whose `value` is empty keeps the stored value of that name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedMcpServerInput {
    /// `[a-z0-9-]`, unique: used in tool prefixes and addresses.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub transport: SharedTransport,
    /// For `http` and `sse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// For `stdio`: the program and its arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Variables for a `stdio` child, and for `${NAME}` in header values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvEntry>,
    #[serde(default)]
    pub auth: AuthKind,
    /// The token, key or `user:password` that `auth` needs; write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// The header an `api_key` credential is sent in [default: `X-API-Key`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_header: Option<String>,
    /// Headers sent with every request; values may use `${NAME}` from `env`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderEntry>,
    /// Names of the caller's headers passed on to the server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_headers: Vec<String>,
    /// When not empty, only these tools are offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_tools: Vec<String>,
    /// These tools are never offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied_tools: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tool_overrides: BTreeMap<String, ToolOverride>,
    /// Seconds an upstream call may take [default: 30].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    #[serde(default)]
    pub grants: Grants,
    #[serde(default)]
    pub is_public: bool,
}

/// A shared server as admins and viewers see it: the configuration, secrets blanked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedMcpServer {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub transport: SharedTransport,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub lifecycle: Lifecycle,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// Names only: every value is blank.
    #[serde(default)]
    pub env: Vec<EnvEntry>,
    pub auth: AuthKind,
    pub has_credential: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_header: Option<String>,
    /// Names only: every value is blank.
    #[serde(default)]
    pub headers: Vec<HeaderEntry>,
    #[serde(default)]
    pub extra_headers: Vec<String>,
    #[serde(default)]
    pub allowed_tools: Vec<String>,
    #[serde(default)]
    pub denied_tools: Vec<String>,
    #[serde(default)]
    pub tool_overrides: BTreeMap<String, ToolOverride>,
    pub timeout_secs: u64,
    pub grants: Grants,
    pub is_public: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A shared server as a member (or a key narrowed to it) sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedMcpServerSummary {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub transport: SharedTransport,
    /// Whether the caller may use it (a public server is listed to members without a grant).
    pub usable: bool,
}

/// One entry of `GET /v1/mcp/servers`: the configuration for admins and viewers, the summary
/// for everyone else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SharedMcpServerEntry {
    Full(SharedMcpServer),
    Summary(SharedMcpServerSummary),
}

impl SharedMcpServerEntry {
    pub fn name(&self) -> &str {
        match self {
            SharedMcpServerEntry::Full(s) => &s.name,
            SharedMcpServerEntry::Summary(s) => &s.name,
        }
    }
}

/// `GET /v1/mcp/servers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedMcpServerList {
    pub data: Vec<SharedMcpServerEntry>,
}

/// How a shared server answered when Hearth last asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    Ok,
    /// No answer: refused, timed out, or the process would not start.
    Unreachable,
    /// The server wants credentials Hearth does not have (401/403).
    AuthRequired,
    /// It answered, but not as an MCP server should.
    Error,
}

impl ServerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Ok => "ok",
            ServerState::Unreachable => "unreachable",
            ServerState::AuthRequired => "auth_required",
            ServerState::Error => "error",
        }
    }
}

/// One server of `GET /v1/mcp/servers/health`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedMcpServerHealth {
    pub name: String,
    pub state: ServerState,
    /// Tools offered (after the allow and deny lists), when the server answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<usize>,
    pub latency_ms: u64,
    /// Why it is not `ok`: for admins only (messages can name hosts and paths).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The last lines a `stdio` server wrote to stderr (admins only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr: Vec<String>,
    pub checked_at: i64,
}

/// `GET /v1/mcp/servers/health`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedMcpHealthList {
    pub data: Vec<SharedMcpServerHealth>,
}

/// A tool of a shared server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedTool {
    /// The server it belongs to.
    pub server: String,
    /// The tool's name on its server.
    pub name: String,
    /// The display name an admin set, or the server's own title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of its arguments.
    pub input_schema: serde_json::Value,
}

/// `GET /v1/mcp/tools`: every tool the caller may use, and the servers that did not answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedToolList {
    pub data: Vec<SharedTool>,
    /// Servers the caller may use whose tools could not be listed, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
}

/// The answer to `POST /v1/mcp/servers/test`: what the server said, with every tool it offers
/// (before the allow and deny lists, so the form can switch them). Nothing is stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedMcpServerTest {
    pub state: ServerState,
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The server's own name and version, as it gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    #[serde(default)]
    pub tools: Vec<SharedTool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr: Vec<String>,
}

/// `POST /v1/mcp/tools/call`: runs one tool of a shared server (the same check as `/mcp`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedToolCall {
    pub server: String,
    /// The tool's name on its server.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The caller's approvals of one shared server's tools in chat: tool name to `always` or
/// `never`; a tool not listed asks each time. Set with
/// `PUT /v1/mcp/servers/{name}/approvals/{tool}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedApprovals {
    pub server: String,
    pub approvals: BTreeMap<String, super::ToolApproval>,
}

/// `GET /v1/mcp/approvals`: every shared server the caller may use, with their approvals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedApprovalsList {
    pub data: Vec<SharedApprovals>,
}
