//! Wire types of the personal MCP servers (`/v1/me/mcp-servers`): MCP servers a user keeps on
//! Hearth and connects to from the browser, directly or through `/cors-proxy`.
//!
//! Header values are secrets of their owner: they are returned only on the owner's own
//! routes, and stored encrypted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How the browser talks to the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum McpTransport {
    /// Streamable HTTP, falling back to legacy SSE when the server does not speak it.
    #[default]
    Auto,
    StreamableHttp,
    /// The legacy HTTP+SSE transport: `GET` an event stream that names a `POST` endpoint.
    Sse,
}

impl McpTransport {
    pub const ALL: [McpTransport; 3] = [
        McpTransport::Auto,
        McpTransport::StreamableHttp,
        McpTransport::Sse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            McpTransport::Auto => "auto",
            McpTransport::StreamableHttp => "streamable_http",
            McpTransport::Sse => "sse",
        }
    }

    /// What the UI shows for it.
    pub fn label(self) -> &'static str {
        match self {
            McpTransport::Auto => "Auto",
            McpTransport::StreamableHttp => "Streamable HTTP",
            McpTransport::Sse => "SSE (legacy)",
        }
    }
}

impl std::str::FromStr for McpTransport {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        McpTransport::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!("unknown transport {s:?}: expected auto, streamable_http or sse")
            })
    }
}

impl TryFrom<String> for McpTransport {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// One HTTP header sent to an MCP server with every request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderEntry {
    pub name: String,
    pub value: String,
}

/// A personal MCP server, as its owner sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonalMcpServer {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub transport: McpTransport,
    pub headers: Vec<HeaderEntry>,
    /// Connect through Hearth's `/cors-proxy` instead of directly.
    pub use_proxy: bool,
    /// Per-tool switches by tool name; a tool not listed is enabled.
    pub tools: BTreeMap<String, bool>,
    /// Per-tool approval in chat; a tool not listed asks each time. Set with
    /// `PUT /v1/me/mcp-servers/{id}/approvals/{tool}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub approvals: BTreeMap<String, ToolApproval>,
    /// The tools the server listed when last connected, so that their settings show without a
    /// connection. Set with `PUT /v1/me/mcp-servers/{id}/known-tools`.
    #[serde(default)]
    pub known_tools: Vec<KnownTool>,
    /// Whether chat connects to it on its own; off once the user disconnected it.
    #[serde(default = "yes")]
    pub auto_connect: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The most tools Hearth keeps switches, approvals or a known list for, per server.
pub const MAX_TOOLS: usize = 1000;
/// The longest tool description kept, in characters.
pub const MAX_TOOL_DESCRIPTION: usize = 2000;
/// The rule [`valid_tool_name`] applies, in words.
pub const TOOL_NAME_RULE: &str = "a tool name is 1 to 256 bytes without control characters";

/// Tool names come from MCP servers, which name them freely; what Hearth never stores is an
/// empty one, one over 256 bytes, or one with a control character (a newline would forge a
/// log line).
pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 256 && !name.chars().any(char::is_control)
}

/// A tool as an MCP server described it, kept for when the server is not connected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KnownTool {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The body of `PUT /v1/me/mcp-servers/{id}/known-tools`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownToolsInput {
    pub tools: Vec<KnownTool>,
}

impl PersonalMcpServer {
    pub fn tool_enabled(&self, tool: &str) -> bool {
        self.tools.get(tool).copied().unwrap_or(true)
    }

    pub fn approval(&self, tool: &str) -> ToolApproval {
        self.approvals.get(tool).copied().unwrap_or_default()
    }

    /// What `PUT` takes to store this server as it is.
    pub fn input(&self) -> McpServerInput {
        McpServerInput {
            name: self.name.clone(),
            url: self.url.clone(),
            transport: self.transport,
            headers: self.headers.clone(),
            use_proxy: self.use_proxy,
            tools: self.tools.clone(),
            auto_connect: self.auto_connect,
        }
    }
}

/// Whether a tool may run in chat without asking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolApproval {
    /// Ask each time ("Allow once" or "Deny").
    #[default]
    Ask,
    Always,
    Never,
}

/// The body of `PUT /v1/me/mcp-servers/{id}/approvals/{tool}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalInput {
    pub approval: ToolApproval,
}

/// `GET /v1/me/mcp-servers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonalMcpServerList {
    pub data: Vec<PersonalMcpServer>,
}

/// The body of `POST /v1/me/mcp-servers` and `PUT /v1/me/mcp-servers/{id}` (a whole
/// replacement).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerInput {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub transport: McpTransport,
    #[serde(default)]
    pub headers: Vec<HeaderEntry>,
    #[serde(default = "yes")]
    pub use_proxy: bool,
    #[serde(default)]
    pub tools: BTreeMap<String, bool>,
    #[serde(default = "yes")]
    pub auto_connect: bool,
}

fn yes() -> bool {
    true
}

/// `GET` / `PUT /v1/settings/cors-proxy` (admins): hosts, addresses and CIDR networks the CORS
/// proxy may reach although they are loopback or private. Entries from the configuration file
/// or `--cors-proxy-allow` apply as well and are listed separately.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsProxySettings {
    pub allow: Vec<String>,
    /// From the configuration; read-only here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configured: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_input_defaults_to_auto_transport_and_the_proxy() {
        let input: McpServerInput =
            serde_json::from_str(r#"{"name":"e","url":"http://127.0.0.1:1/mcp"}"#).unwrap();
        assert_eq!(input.transport, McpTransport::Auto);
        assert!(input.use_proxy && input.auto_connect);
        assert!(input.headers.is_empty());
    }

    #[test]
    fn transports_round_trip_through_their_names() {
        for t in McpTransport::ALL {
            assert_eq!(t.as_str().parse::<McpTransport>(), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert!("stdio".parse::<McpTransport>().is_err());
    }

    #[test]
    fn unknown_input_fields_are_refused() {
        assert!(
            serde_json::from_str::<McpServerInput>(r#"{"name":"e","url":"u","owner":"x"}"#)
                .is_err()
        );
    }
}
