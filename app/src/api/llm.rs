//! Wire types of the LLM resources (`/v1/llms`): upstream models Hearth serves under its own
//! names, with the provider's key kept on the server.
//!
//! A key is write-only: views say whether one is set, never what it is.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    Openai,
    Anthropic,
    Vllm,
    Deepseek,
    Ollama,
    Llamacpp,
    OpenaiCompatible,
}

impl Provider {
    pub const ALL: [Provider; 7] = [
        Provider::Openai,
        Provider::Anthropic,
        Provider::Vllm,
        Provider::Deepseek,
        Provider::Ollama,
        Provider::Llamacpp,
        Provider::OpenaiCompatible,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Openai => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Vllm => "vllm",
            Provider::Deepseek => "deepseek",
            Provider::Ollama => "ollama",
            Provider::Llamacpp => "llamacpp",
            Provider::OpenaiCompatible => "openai-compatible",
        }
    }

    /// The base URL used when none is given, where the provider has a usual one.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Provider::Openai => Some("https://api.openai.com"),
            Provider::Anthropic => Some("https://api.anthropic.com"),
            Provider::Deepseek => Some("https://api.deepseek.com"),
            Provider::Ollama => Some("http://127.0.0.1:11434"),
            Provider::Llamacpp => Some("http://127.0.0.1:8080"),
            Provider::Vllm => Some("http://127.0.0.1:8000"),
            Provider::OpenaiCompatible => None,
        }
    }
}

impl std::str::FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            format!("unknown provider {s:?}: expected openai, anthropic, vllm, deepseek, ollama, llamacpp or openai-compatible")
        })
    }
}

impl TryFrom<String> for Provider {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Who may run an LLM: every member, or the named users and the members of the named teams.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    #[serde(default)]
    pub all_members: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<String>,
}

/// An LLM as listed. `api_key_ref` and `base_url` are shown to admins and viewers only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Llm {
    pub name: String,
    pub provider: Provider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub model: String,
    /// Whether a key is stored or referenced; the key itself is never returned.
    pub has_api_key: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Grants>,
    /// The last check with the provider (admins and viewers); none before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<LlmCheck>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What the last check with an LLM's provider found (on save, or `POST /v1/llms/{name}/check`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmCheck {
    pub outcome: ProbeOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub message: String,
    /// Unix seconds.
    pub checked_at: i64,
}

/// The body of `POST /v1/provider-models`: where a provider is and how to reach it, to list the
/// models it offers before an LLM is saved. Without `api_key` or `api_key_ref`, the key stored
/// for the LLM named `llm` is used, when the provider and URL are still its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderModelsQuery {
    pub provider: Provider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<String>,
}

/// `POST /v1/provider-models`: the check's outcome and the models offered (sorted; empty when
/// the provider did not list them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderModels {
    pub check: ProbeReport,
    pub data: Vec<String>,
}

/// `GET /v1/llms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmList {
    pub data: Vec<Llm>,
}

/// The body of `POST /v1/llms` and `PUT /v1/llms/{name}`. On `PUT`, an absent `api_key`
/// keeps the stored one; `""` removes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmInput {
    pub name: String,
    pub provider: Provider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(default)]
    pub grants: Grants,
}

/// What the auth probe found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    Ok,
    /// The provider refused the key (401 / 403): nothing is saved.
    Auth,
    /// The provider could not be reached: saved, with a warning.
    Unreachable,
    /// Another non-2xx answer (a wrong model name, say): saved, with a warning.
    Unexpected,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub outcome: ProbeOutcome,
    /// The provider's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// In words, for the user.
    pub message: String,
}

/// The answer to a create or update: the LLM, and the probe's warning when it did not pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedLlm {
    #[serde(flatten)]
    pub llm: Llm,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<ProbeReport>,
}

/// One entry of `GET /v1/models` (OpenAI format): an LLM the caller may run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The LLM's name: what to send as `model`.
    pub id: String,
    pub object: String,
    pub created: i64,
    /// The provider serving it.
    pub owned_by: String,
}

/// `GET /v1/models`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    pub object: String,
    pub data: Vec<Model>,
}
