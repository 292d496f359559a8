//! Wire types of conversations (`/v1/conversations`): chats kept on the server, one message
//! at a time as each is complete.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    System,
    User,
    Assistant,
    Tool,
}

impl ChatRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatRole::System => "system",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
            ChatRole::Tool => "tool",
        }
    }
}

impl TryFrom<String> for ChatRole {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "system" => Ok(ChatRole::System),
            "user" => Ok(ChatRole::User),
            "assistant" => Ok(ChatRole::Assistant),
            "tool" => Ok(ChatRole::Tool),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// A tool call the model asked for (OpenAI's `tool_calls[]`, flattened).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatToolCall {
    pub id: String,
    /// The name the model saw (`<server>__<tool>`).
    pub name: String,
    /// The arguments as the model wrote them (JSON text).
    pub arguments: String,
}

/// What a tool message shows beside its text result: which tool of which server ran, how.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolRun {
    pub server: String,
    pub tool: String,
    #[serde(default)]
    pub is_error: bool,
    /// The user said no: the tool did not run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub denied: bool,
    /// Images the tool returned, as `data:` URLs (each one [`is_inline_image`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
}

/// `data:image/<type>;base64,<data>`: an image inline, never a reference to elsewhere. The
/// server keeps only these in `tool_run.images`; the browser sends only these.
pub fn is_inline_image(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("data:image/") else {
        return false;
    };
    let Some((subtype, data)) = rest.split_once(";base64,") else {
        return false;
    };
    !subtype.is_empty()
        && subtype
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
        && data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: i64,
    pub role: ChatRole,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ChatToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_run: Option<ToolRun>,
    /// Why the answer failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The user stopped the answer; `content` is what had arrived.
    #[serde(default)]
    pub stopped: bool,
    /// The answer was still arriving when it was last saved. Once nothing streams it any
    /// more (the tab was closed or reloaded), it was interrupted: `content` is what had arrived.
    #[serde(default)]
    pub partial: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<i64>,
    pub created_at: i64,
}

/// The body of `POST /v1/conversations/{id}/messages`: one complete message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    pub role: ChatRole,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ChatToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_run: Option<ToolRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub stopped: bool,
    /// An answer still arriving: saved as it grows, and changed with
    /// `PATCH /v1/conversations/{id}/messages/{message_id}` until it is complete.
    #[serde(default)]
    pub partial: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<i64>,
}

impl MessageInput {
    /// A message of `role` saying `content`, with nothing else set.
    pub fn new(role: ChatRole, content: impl Into<String>) -> MessageInput {
        MessageInput {
            role,
            content: content.into(),
            reasoning: None,
            model: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            tool_run: None,
            error: None,
            stopped: false,
            partial: false,
            duration_ms: None,
            prompt_tokens: None,
            completion_tokens: None,
        }
    }
}

/// A conversation as listed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: i64,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub message_count: i64,
    pub created_at: i64,
    /// When a message was last added or removed (a rename does not count).
    pub updated_at: i64,
}

/// `GET /v1/conversations`: most recently updated first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationList {
    pub data: Vec<ConversationSummary>,
}

/// A conversation with its messages, oldest first (also the export format).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: i64,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub messages: Vec<ChatMessage>,
}

/// The body of `POST /v1/conversations` and `PATCH /v1/conversations/{id}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}
