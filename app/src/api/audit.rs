//! Wire types of the audit trail (`GET /v1/audit`): what was done, by whom, how it went;
//! never a prompt, a completion or a key.

use serde::{Deserialize, Serialize};

/// A call to `/v1/chat/completions`.
pub const LLM_INFERENCE_CALL: &str = "llm_inference_call";
/// A sign-in that worked (`/auth/login`).
pub const SIGN_IN: &str = "sign_in";
/// A sign-in or a key that was refused: the name tried (never the password) or `api-key`.
pub const SIGN_IN_FAILED: &str = "sign_in_failed";
/// An API key created or revoked; `target` is `key:<id>`.
pub const KEY_CREATED: &str = "key_created";
pub const KEY_REVOKED: &str = "key_revoked";
/// The configuration changed; `target` names what (`llm:<name>`, `team:<name>`,
/// `setting:cors_proxy.allow`).
pub const CONFIG_CREATED: &str = "config_created";
pub const CONFIG_UPDATED: &str = "config_updated";
pub const CONFIG_DELETED: &str = "config_deleted";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub kind: String,
    /// Who called: a user's name, `master-key:<fingerprint prefix>` for a master key, `local`
    /// in local mode (user names never contain `:` and `local` is reserved).
    pub principal: String,
    /// The first characters of the hash of the key used, when a key was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_hash_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<String>,
    /// The upstream model the LLM is served by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streaming: Option<bool>,
    pub duration_ms: i64,
    /// The HTTP status answered; 499 when the client went away first.
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<i64>,
    /// What was acted on, for events other than LLM calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The client's address, for sign-ins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// `GET /v1/audit`: newest first. `next_before` pages on (`?before=`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditList {
    pub data: Vec<AuditEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

/// The filters of `GET /v1/audit`, all optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Only events with this HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Only events at or after this time (seconds since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Only events before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    /// Only events older than this id (the previous page's `next_before`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    /// Page size, 1 to 500 [default: 100].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}
