//! The browser's typed client for Hearth's API. All of the UI's HTTP goes through here.
//!
//! Requests are same-origin, so the session cookie rides along on its own; this client never
//! handles a key except to send it once to `/auth/login`. On the server the UI never calls
//! the API (pages hold no data), so the transport exists only in the `hydrate` build.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{
    ApiKeyList, ApprovalInput, AuditList, AuditQuery, ChatMessage, Conversation, ConversationInput,
    ConversationList, ConversationSummary, CreateApiKey, CreatedApiKey, KnownToolsInput, LlmCheck,
    LlmInput, LlmList, LoginRequest, McpServerInput, Me, MessageInput, ModelList,
    PersonalMcpServer, PersonalMcpServerList, ProviderModels, ProviderModelsQuery, SavedLlm,
    SharedMcpHealthList, SharedMcpServer, SharedMcpServerInput, SharedMcpServerList,
    SharedMcpServerTest, SharedToolList, Team, TeamInput, TeamList, ToolApproval, UserList,
};

/// A failed call, in words for the user.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The HTTP status, or 0 when Hearth could not be reached.
    pub status: u16,
    pub message: String,
    /// The request field the error is about, when Hearth named one.
    pub param: Option<String>,
}

#[derive(Clone, Copy, Debug)]
enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

pub async fn me() -> Result<Me, ApiError> {
    call(Verb::Get, "/v1/me", None::<&()>).await
}

pub async fn login(request: &LoginRequest) -> Result<Me, ApiError> {
    call(Verb::Post, "/auth/login", Some(request)).await
}

pub async fn logout() -> Result<(), ApiError> {
    call(Verb::Post, "/auth/logout", None::<&()>).await
}

/// Every user's name and role (admins and viewers).
pub async fn list_users() -> Result<UserList, ApiError> {
    call(Verb::Get, "/v1/users", None::<&()>).await
}

/// The teams the caller may see: every team for admins and viewers, one's own for members.
pub async fn list_teams() -> Result<TeamList, ApiError> {
    call(Verb::Get, "/v1/teams", None::<&()>).await
}

pub async fn create_team(input: &TeamInput) -> Result<Team, ApiError> {
    call(Verb::Post, "/v1/teams", Some(input)).await
}

/// Replaces the team's members.
pub async fn update_team(input: &TeamInput) -> Result<Team, ApiError> {
    call(
        Verb::Put,
        &format!("/v1/teams/{}", encode(&input.name)),
        Some(input),
    )
    .await
}

pub async fn delete_team(name: &str) -> Result<(), ApiError> {
    call(
        Verb::Delete,
        &format!("/v1/teams/{}", encode(name)),
        None::<&()>,
    )
    .await
}

pub async fn list_keys() -> Result<ApiKeyList, ApiError> {
    call(Verb::Get, "/v1/keys", None::<&()>).await
}

pub async fn create_key(request: &CreateApiKey) -> Result<CreatedApiKey, ApiError> {
    call(Verb::Post, "/v1/keys", Some(request)).await
}

pub async fn delete_key(id: i64) -> Result<(), ApiError> {
    call(Verb::Delete, &format!("/v1/keys/{id}"), None::<&()>).await
}

pub async fn list_mcp_servers() -> Result<PersonalMcpServerList, ApiError> {
    call(Verb::Get, "/v1/me/mcp-servers", None::<&()>).await
}

pub async fn create_mcp_server(input: &McpServerInput) -> Result<PersonalMcpServer, ApiError> {
    call(Verb::Post, "/v1/me/mcp-servers", Some(input)).await
}

pub async fn update_mcp_server(
    id: i64,
    input: &McpServerInput,
) -> Result<PersonalMcpServer, ApiError> {
    call(Verb::Put, &format!("/v1/me/mcp-servers/{id}"), Some(input)).await
}

pub async fn delete_mcp_server(id: i64) -> Result<(), ApiError> {
    call(
        Verb::Delete,
        &format!("/v1/me/mcp-servers/{id}"),
        None::<&()>,
    )
    .await
}

/// Whether `tool` of server `id` runs in chat without asking; kept on the server.
/// Keeps the tools a server listed, for when it is not connected.
pub async fn set_known_tools(
    id: i64,
    input: &KnownToolsInput,
) -> Result<PersonalMcpServer, ApiError> {
    call(
        Verb::Put,
        &format!("/v1/me/mcp-servers/{id}/known-tools"),
        Some(input),
    )
    .await
}

pub async fn set_tool_approval(
    id: i64,
    tool: &str,
    approval: ToolApproval,
) -> Result<PersonalMcpServer, ApiError> {
    call(
        Verb::Put,
        &format!("/v1/me/mcp-servers/{id}/approvals/{}", encode(tool)),
        Some(&ApprovalInput { approval }),
    )
    .await
}

pub async fn list_shared_approvals() -> Result<crate::api::SharedApprovalsList, ApiError> {
    call(Verb::Get, "/v1/mcp/approvals", None::<&()>).await
}

/// The answer (the server's approvals) is not read: the caller knows what it set.
pub async fn set_shared_tool_approval(
    server: &str,
    tool: &str,
    approval: ToolApproval,
) -> Result<serde::de::IgnoredAny, ApiError> {
    call(
        Verb::Put,
        &format!(
            "/v1/mcp/servers/{}/approvals/{}",
            encode(server),
            encode(tool)
        ),
        Some(&ApprovalInput { approval }),
    )
    .await
}

pub async fn list_shared_mcp_servers() -> Result<SharedMcpServerList, ApiError> {
    call(Verb::Get, "/v1/mcp/servers", None::<&()>).await
}

pub async fn create_shared_mcp_server(
    input: &SharedMcpServerInput,
) -> Result<SharedMcpServer, ApiError> {
    call(Verb::Post, "/v1/mcp/servers", Some(input)).await
}

pub async fn update_shared_mcp_server(
    input: &SharedMcpServerInput,
) -> Result<SharedMcpServer, ApiError> {
    let path = format!("/v1/mcp/servers/{}", encode(&input.name));
    call(Verb::Put, &path, Some(input)).await
}

pub async fn delete_shared_mcp_server(name: &str) -> Result<(), ApiError> {
    let path = format!("/v1/mcp/servers/{}", encode(name));
    call(Verb::Delete, &path, None::<&()>).await
}

/// Connects with the configuration given, lists every tool, stores nothing.
pub async fn test_shared_mcp_server(
    input: &SharedMcpServerInput,
) -> Result<SharedMcpServerTest, ApiError> {
    call(Verb::Post, "/v1/mcp/servers/test", Some(input)).await
}

/// Each shared server's state; `refresh` asks every server again.
pub async fn shared_mcp_health(refresh: bool) -> Result<SharedMcpHealthList, ApiError> {
    let path = if refresh {
        "/v1/mcp/servers/health?refresh=1"
    } else {
        "/v1/mcp/servers/health"
    };
    call(Verb::Get, path, None::<&()>).await
}

/// The shared servers' tools the caller may use.
pub async fn shared_mcp_tools() -> Result<SharedToolList, ApiError> {
    call(Verb::Get, "/v1/mcp/tools", None::<&()>).await
}

pub async fn list_llms() -> Result<LlmList, ApiError> {
    call(Verb::Get, "/v1/llms", None::<&()>).await
}

/// Creates an LLM; `skip_auth_check` registers it without asking the provider.
pub async fn create_llm(input: &LlmInput, skip_auth_check: bool) -> Result<SavedLlm, ApiError> {
    let path = if skip_auth_check {
        "/v1/llms?skip_auth_check=true"
    } else {
        "/v1/llms"
    };
    call(Verb::Post, path, Some(input)).await
}

pub async fn update_llm(
    name: &str,
    input: &LlmInput,
    skip_auth_check: bool,
) -> Result<SavedLlm, ApiError> {
    let query = if skip_auth_check {
        "?skip_auth_check=true"
    } else {
        ""
    };
    call(
        Verb::Put,
        &format!("/v1/llms/{}{query}", encode(name)),
        Some(input),
    )
    .await
}

pub async fn delete_llm(name: &str) -> Result<(), ApiError> {
    call(
        Verb::Delete,
        &format!("/v1/llms/{}", encode(name)),
        None::<&()>,
    )
    .await
}

/// Calls the LLM's provider again and keeps what it found.
pub async fn check_llm(name: &str) -> Result<LlmCheck, ApiError> {
    call(
        Verb::Post,
        &format!("/v1/llms/{}/check", encode(name)),
        None::<&()>,
    )
    .await
}

/// The models a provider offers, with the outcome of asking.
pub async fn provider_models(query: &ProviderModelsQuery) -> Result<ProviderModels, ApiError> {
    call(Verb::Post, "/v1/provider-models", Some(query)).await
}

/// The LLMs the signed-in user may run.
pub async fn list_models() -> Result<ModelList, ApiError> {
    call(Verb::Get, "/v1/models", None::<&()>).await
}

/// The user's conversations, most recent first; `search` filters titles.
pub async fn list_conversations(search: &str) -> Result<ConversationList, ApiError> {
    let search = search.trim();
    let path = if search.is_empty() {
        "/v1/conversations".to_owned()
    } else {
        format!("/v1/conversations?q={}", encode(search))
    };
    call(Verb::Get, &path, None::<&()>).await
}

pub async fn create_conversation(input: &ConversationInput) -> Result<Conversation, ApiError> {
    call(Verb::Post, "/v1/conversations", Some(input)).await
}

pub async fn get_conversation(id: i64) -> Result<Conversation, ApiError> {
    call(Verb::Get, &format!("/v1/conversations/{id}"), None::<&()>).await
}

pub async fn update_conversation(
    id: i64,
    input: &ConversationInput,
) -> Result<ConversationSummary, ApiError> {
    call(Verb::Patch, &format!("/v1/conversations/{id}"), Some(input)).await
}

pub async fn delete_conversation(id: i64) -> Result<(), ApiError> {
    call(
        Verb::Delete,
        &format!("/v1/conversations/{id}"),
        None::<&()>,
    )
    .await
}

/// Saves one complete message at the end of conversation `id`.
pub async fn add_message(id: i64, input: &MessageInput) -> Result<ChatMessage, ApiError> {
    call(
        Verb::Post,
        &format!("/v1/conversations/{id}/messages"),
        Some(input),
    )
    .await
}

/// Replaces answer `message_id`, saved while it was still arriving, with what has arrived since.
pub async fn update_message(
    id: i64,
    message_id: i64,
    input: &MessageInput,
) -> Result<ChatMessage, ApiError> {
    call(
        Verb::Patch,
        &format!("/v1/conversations/{id}/messages/{message_id}"),
        Some(input),
    )
    .await
}

/// Removes message `message_id` and every later one.
pub async fn delete_messages_from(id: i64, message_id: i64) -> Result<(), ApiError> {
    call(
        Verb::Delete,
        &format!("/v1/conversations/{id}/messages/{message_id}"),
        None::<&()>,
    )
    .await
}

pub async fn list_audit(query: &AuditQuery) -> Result<AuditList, ApiError> {
    let mut pairs = Vec::new();
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    for (key, value) in [
        ("kind", text(&query.kind)),
        ("llm", text(&query.llm)),
        ("principal", text(&query.principal)),
        ("status", query.status.map(|s| s.to_string())),
        ("since", query.since.map(|s| s.to_string())),
        ("until", query.until.map(|s| s.to_string())),
        ("before", query.before.map(|s| s.to_string())),
        ("limit", query.limit.map(|s| s.to_string())),
    ] {
        if let Some(value) = value {
            pairs.push(format!("{key}={}", encode(&value)));
        }
    }
    call(
        Verb::Get,
        &format!("/v1/audit?{}", pairs.join("&")),
        None::<&()>,
    )
    .await
}

/// A path segment or query value, percent-encoded.
fn encode(text: &str) -> String {
    crate::mcp::transport::encode_component(text)
}

/// The message to show for an error answer: Hearth's own 401 on an API call means the
/// session is gone, which is not the same as a rejected sign-in.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn message_for(path: &str, status: u16, server_message: Option<String>) -> String {
    match (status, path) {
        (401, "/auth/login") => server_message.unwrap_or_else(|| "Sign-in failed".into()),
        (401, _) => "Your session has expired — sign in again.".into(),
        _ => server_message.unwrap_or_else(|| format!("Hearth answered with HTTP {status}")),
    }
}

/// This page's origin: every API call is same-origin.
#[cfg(feature = "hydrate")]
pub(crate) fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

#[cfg(feature = "hydrate")]
fn unreachable(e: String) -> ApiError {
    ApiError {
        status: 0,
        message: format!("Hearth could not be reached ({e})."),
        param: None,
    }
}

/// An error answer from Hearth, with the message of its OpenAI-shaped body when it has one.
#[cfg(feature = "hydrate")]
fn refused(path: &str, status: u16, body: &[u8]) -> ApiError {
    let detail = decode::<super::ErrorBody>(body).ok().map(|b| b.error);
    let param = detail.as_ref().and_then(|d| d.param.clone());
    ApiError {
        status,
        message: message_for(path, status, detail.map(|d| d.message)),
        param,
    }
}

/// `body` as JSON.
#[cfg(feature = "hydrate")]
fn to_json<B: Serialize + ?Sized>(body: Option<&B>) -> Result<Option<String>, ApiError> {
    body.map(serde_json::to_string)
        .transpose()
        .map_err(|e| ApiError {
            status: 0,
            message: format!("The request could not be written ({e})."),
            param: None,
        })
}

/// Sends `json` to Hearth at `path`. Not generic, so each API call adds only its own
/// encoding and decoding to the wasm.
#[cfg(feature = "hydrate")]
async fn send(
    verb: Verb,
    path: &str,
    json: Option<String>,
) -> Result<crate::fetch::Answer, ApiError> {
    let method = match verb {
        Verb::Get => "GET",
        Verb::Post => "POST",
        Verb::Put => "PUT",
        Verb::Patch => "PATCH",
        Verb::Delete => "DELETE",
    };
    let headers = match json {
        Some(_) => vec![("content-type".to_owned(), "application/json".to_owned())],
        None => Vec::new(),
    };
    crate::fetch::send(
        method,
        &format!("{}{path}", origin()),
        &headers,
        json.as_deref(),
    )
    .await
    .map_err(unreachable)
}

/// The body of Hearth's successful answer (`null` when it has none), or the error it said.
#[cfg(feature = "hydrate")]
async fn exchange(
    verb: Verb,
    path: &str,
    json: Option<String>,
) -> Result<(u16, Vec<u8>), ApiError> {
    let response = send(verb, path, json).await?;
    let status = response.status;
    let bytes = response.bytes().await.map_err(|e| ApiError {
        status,
        message: format!("The answer was cut off ({e})."),
        param: None,
    })?;
    if !(200..300).contains(&status) {
        return Err(refused(path, status, &bytes));
    }
    Ok((
        status,
        if bytes.is_empty() {
            b"null".to_vec()
        } else {
            bytes
        },
    ))
}

#[cfg(feature = "hydrate")]
async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
    verb: Verb,
    path: &str,
    body: Option<&B>,
) -> Result<T, ApiError> {
    let (status, bytes) = exchange(verb, path, to_json(body)?).await?;
    decode(&bytes).map_err(|e| ApiError {
        status,
        message: format!("Unexpected answer from Hearth ({e})."),
        param: None,
    })
}

/// JSON to `T`, through a [`serde_json::Value`]: the text is parsed by one piece of code for
/// every type, instead of one copy of the parser per type (tens of kilobytes less wasm).
#[cfg(feature = "hydrate")]
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_value(serde_json::from_slice::<serde_json::Value>(bytes)?)
}

/// Streams a chat completion (`body` has `"stream": true`) through Hearth's gateway, handing
/// each SSE `data:` payload to `on_data` as it arrives. Dropping the future aborts the
/// request, which ends the provider's work too.
#[cfg(feature = "hydrate")]
pub async fn stream_chat(
    body: &serde_json::Value,
    mut on_data: impl FnMut(&str),
) -> Result<(), ApiError> {
    use futures::StreamExt;

    let path = "/v1/chat/completions";
    let response = send(Verb::Post, path, to_json(Some(body))?).await?;
    let status = response.status;
    if !(200..300).contains(&status) {
        return Err(refused(
            path,
            status,
            &response.bytes().await.unwrap_or_default(),
        ));
    }
    let mut events = crate::sse::events(response.into_stream(), crate::sse::MAX_EVENT);
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => on_data(&event.data),
            Err(e) => {
                return Err(ApiError {
                    status,
                    message: format!("The answer was cut off ({e})."),
                    param: None,
                })
            }
        }
    }
    Ok(())
}

#[cfg(not(feature = "hydrate"))]
async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
    _verb: Verb,
    path: &str,
    _body: Option<&B>,
) -> Result<T, ApiError> {
    Err(ApiError {
        status: 0,
        message: format!("{path} is only called from the browser"),
        param: None,
    })
}

#[cfg(test)]
mod tests {
    use super::message_for;

    #[test]
    fn an_expired_session_is_not_confused_with_a_failed_sign_in() {
        assert_eq!(
            message_for("/auth/login", 401, Some("Invalid API Key".into())),
            "Invalid API Key"
        );
        assert!(message_for("/v1/keys", 401, Some("Invalid API Key".into()))
            .contains("session has expired"));
        assert_eq!(message_for("/v1/keys", 403, Some("no".into())), "no");
    }
}
