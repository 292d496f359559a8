//! The agentic loop, in the browser: stream an answer through Hearth's gateway, save it, run
//! the tools it calls (after asking, unless the user said "Always allow") through the MCP
//! connections of this browser, save each result, and go on until the model answers without
//! tools or the turn limit is reached. Every message is saved as soon as it is complete.

use std::pin::pin;

use futures::channel::oneshot;
use futures::future::{select, Either};
use leptos::prelude::*;
use serde_json::Value;

use super::{Chat, Decision, PendingCall};
use crate::api::{
    client, ChatMessage, ChatRole, ChatToolCall, ConversationInput, MessageInput,
    PersonalMcpServer, ToolApproval, ToolRun,
};
use crate::chat::request::{self, ToolSpec};
use crate::chat::stream::Answer;
use crate::chat::tool_names;
use crate::connections::{Connections, Status};
use crate::mcp::browser::now_ms;

/// A tool on offer this turn, and where it runs.
struct Offered {
    spec: ToolSpec,
    server: PersonalMcpServer,
    tool: String,
}

type Stop = oneshot::Receiver<()>;

/// Sends `text` as the user's next message and runs the answer.
pub async fn send(chat: Chat, connections: Connections, text: String) {
    if chat.running.get_untracked() {
        return;
    }
    chat.running.set(true);
    chat.error.set(None);
    let conversation = match chat.current.get_untracked() {
        Some(id) => Ok(id),
        None => start_conversation(chat, &text).await,
    };
    match conversation {
        Ok(id) => {
            if save(chat, id, &MessageInput::new(ChatRole::User, text))
                .await
                .is_some()
            {
                turns(chat, connections, id).await;
            }
        }
        Err(e) => chat.error.set(Some(e)),
    }
    finish(chat);
}

/// Answers the last user message again, replacing what came after it.
pub async fn regenerate(chat: Chat, connections: Connections) {
    let Some(id) = chat.current.get_untracked() else {
        return;
    };
    if chat.running.get_untracked() {
        return;
    }
    chat.running.set(true);
    chat.error.set(None);
    let first_after = chat.messages.with_untracked(|all| {
        let last_user = all.iter().rposition(|m| m.role == ChatRole::User)?;
        all.get(last_user + 1).map(|m| m.id)
    });
    let removed = match first_after {
        Some(message_id) => truncate(chat, id, message_id).await,
        None => true,
    };
    if removed {
        turns(chat, connections, id).await;
    }
    finish(chat);
}

/// Replaces user message `message_id` (and everything after it) with `text`, and answers it.
pub async fn resend(chat: Chat, connections: Connections, message_id: i64, text: String) {
    let Some(id) = chat.current.get_untracked() else {
        return;
    };
    if chat.running.get_untracked() {
        return;
    }
    chat.running.set(true);
    chat.error.set(None);
    if truncate(chat, id, message_id).await
        && save(chat, id, &MessageInput::new(ChatRole::User, text))
            .await
            .is_some()
    {
        turns(chat, connections, id).await;
    }
    finish(chat);
}

fn finish(chat: Chat) {
    chat.stop.set_value(None);
    chat.running.set(false);
    chat.refresh_list();
}

async fn start_conversation(chat: Chat, text: &str) -> Result<i64, String> {
    let input = ConversationInput {
        title: Some(request::title_for(text)),
        model: Some(chat.model.get_untracked()).filter(|m| !m.is_empty()),
    };
    let created = client::create_conversation(&input)
        .await
        .map_err(|e| format!("The conversation could not be started: {}", e.message))?;
    chat.current.set(Some(created.id));
    chat.messages.set(Vec::new());
    super::set_address(Some(created.id));
    Ok(created.id)
}

/// Saves a message of conversation `id` and shows it, if that conversation is still open.
async fn save(chat: Chat, id: i64, input: &MessageInput) -> Option<ChatMessage> {
    match client::add_message(id, input).await {
        Ok(message) => {
            if chat.current.get_untracked() == Some(id) {
                chat.messages.update(|all| all.push(message.clone()));
            }
            Some(message)
        }
        Err(e) => {
            chat.error.set(Some(format!(
                "The message could not be saved: {}",
                e.message
            )));
            None
        }
    }
}

/// Removes message `message_id` and the ones after it, on Hearth and on the page.
async fn truncate(chat: Chat, id: i64, message_id: i64) -> bool {
    match client::delete_messages_from(id, message_id).await {
        Ok(()) => {
            chat.messages.update(|all| {
                if let Some(at) = all.iter().position(|m| m.id == message_id) {
                    all.truncate(at);
                }
            });
            true
        }
        Err(e) => {
            chat.error.set(Some(e.message));
            false
        }
    }
}

/// The enabled tools of the connected servers, except those the user never allows.
fn offer(chat: Chat, connections: Connections) -> Vec<Offered> {
    let mut found: Vec<(PersonalMcpServer, crate::mcp::Tool)> = Vec::new();
    for server in chat.servers.get_untracked() {
        let runtime = connections.runtime(server.id);
        if runtime.status.get_untracked() != Status::Connected {
            continue;
        }
        for tool in runtime.tools.get_untracked() {
            if server.tool_enabled(&tool.name) && server.approval(&tool.name) != ToolApproval::Never
            {
                found.push((server.clone(), tool));
            }
        }
    }
    let pairs: Vec<(String, String)> = found
        .iter()
        .map(|(s, t)| (s.name.clone(), t.name.clone()))
        .collect();
    tool_names::assign(&pairs)
        .into_iter()
        .zip(found)
        .map(|(named, (server, tool))| Offered {
            spec: ToolSpec {
                name: named.name,
                description: tool.description.clone(),
                parameters: tool.input_schema.clone(),
            },
            server,
            tool: tool.name,
        })
        .collect()
}

async fn turns(chat: Chat, connections: Connections, id: i64) {
    let (stop_tx, mut stop) = oneshot::channel::<()>();
    chat.stop.set_value(Some(stop_tx));
    let model = chat.model.get_untracked();
    if model.is_empty() {
        chat.error.set(Some(
            "No LLM is available to you. An admin adds one on the LLMs page and grants it to you."
                .into(),
        ));
        return;
    }
    let max = chat.max_turns.get_untracked().max(1);
    for turn in 0..max {
        let offered = offer(chat, connections);
        let specs: Vec<ToolSpec> = offered.iter().map(|o| o.spec.clone()).collect();
        let body = chat
            .messages
            .with_untracked(|messages| request::body(&model, messages, &specs));
        let Some(calls) = answer(chat, id, &model, turn, &body, &mut stop).await else {
            return;
        };
        for call in calls {
            let Some(result) = run_tool(chat, connections, &offered, &call, &mut stop).await else {
                return;
            };
            if save(chat, id, &result).await.is_none() {
                return;
            }
        }
    }
    chat.error.set(Some(format!("Stopped after {max} turns with tools without a final answer. Send a message to go on, or raise “Tool turns”.")));
}

/// Streams one answer and saves it. The tool calls it asks for, or `None` when the loop ends
/// here (an answer without tools, an error, or Stop).
async fn answer(
    chat: Chat,
    id: i64,
    model: &str,
    turn: u32,
    body: &Value,
    stop: &mut Stop,
) -> Option<Vec<ChatToolCall>> {
    chat.live_content.set(String::new());
    chat.live_reasoning.set(String::new());
    chat.streaming.set(true);
    let started = now_ms();
    let mut answer = Answer::default();
    let outcome = {
        let work = client::stream_chat(body, |data| {
            let change = answer.apply(data);
            if change.content {
                chat.live_content.set(answer.content.clone());
            }
            if change.reasoning {
                chat.live_reasoning.set(answer.reasoning.clone());
            }
        });
        match select(pin!(work), stop).await {
            Either::Left((outcome, _)) => Some(outcome),
            Either::Right(_) => None,
        }
    };
    let stopped = outcome.is_none();
    let error = match outcome {
        Some(Err(e)) => Some(e.message),
        Some(Ok(())) if answer.error.is_some() => answer.error.clone(),
        Some(Ok(())) if !answer.done && answer.finish_reason.is_none() => {
            Some("The answer ended before it was complete.".into())
        }
        _ => None,
    };
    let tool_calls: Vec<ChatToolCall> = if stopped || error.is_some() {
        Vec::new()
    } else {
        answer
            .tool_calls
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.name.is_empty())
            .map(|(i, c)| ChatToolCall {
                id: if c.id.is_empty() {
                    format!("call_{turn}_{i}")
                } else {
                    c.id.clone()
                },
                name: c.name.clone(),
                arguments: c.arguments.clone(),
            })
            .collect()
    };
    let nothing = answer.content.is_empty() && answer.reasoning.is_empty() && tool_calls.is_empty();
    if !(stopped && nothing) {
        let mut input = MessageInput::new(ChatRole::Assistant, answer.content.clone());
        input.reasoning = Some(answer.reasoning.clone()).filter(|r| !r.is_empty());
        input.model = Some(model.to_owned());
        input.tool_calls = tool_calls.clone();
        input.error = error.clone();
        input.stopped = stopped;
        input.duration_ms = Some((now_ms() - started) as i64);
        input.prompt_tokens = answer.prompt_tokens;
        input.completion_tokens = answer.completion_tokens;
        if save(chat, id, &input).await.is_none() {
            // The text stays on screen beside the error.
            return None;
        }
    }
    chat.streaming.set(false);
    (!stopped && error.is_none() && !tool_calls.is_empty()).then_some(tool_calls)
}

/// Asks for approval when needed and runs one tool call; the result to save, or `None` when
/// the user pressed Stop.
async fn run_tool(
    chat: Chat,
    connections: Connections,
    offered: &[Offered],
    call: &ChatToolCall,
    stop: &mut Stop,
) -> Option<MessageInput> {
    let mut result = MessageInput::new(ChatRole::Tool, String::new());
    result.tool_call_id = Some(call.id.clone());
    let Some(target) = offered.iter().find(|o| o.spec.name == call.name) else {
        result.content = format!("No tool named “{}” is on offer.", call.name);
        result.tool_run = Some(ToolRun {
            server: String::new(),
            tool: call.name.clone(),
            is_error: true,
            images: Vec::new(),
        });
        return Some(result);
    };
    let mut run = ToolRun {
        server: target.server.name.clone(),
        tool: target.tool.clone(),
        is_error: false,
        images: Vec::new(),
    };
    let mut pending = PendingCall {
        server: run.server.clone(),
        tool: run.tool.clone(),
        arguments: call.arguments.clone(),
        awaiting: true,
    };
    // The approval as stored now: the user may have changed it on another card of this turn.
    let approval = chat
        .servers
        .with_untracked(|all| {
            all.iter()
                .find(|s| s.id == target.server.id)
                .map(|s| s.approval(&target.tool))
        })
        .unwrap_or_default();
    let decision = match approval {
        ToolApproval::Always => Decision::Once,
        ToolApproval::Never => Decision::Deny,
        ToolApproval::Ask => {
            chat.pending.set(Some(pending.clone()));
            let (tx, rx) = oneshot::channel();
            chat.decide.set_value(Some(tx));
            match select(rx, &mut *stop).await {
                Either::Left((decision, _)) => decision.unwrap_or(Decision::Deny),
                Either::Right(_) => {
                    chat.pending.set(None);
                    return None;
                }
            }
        }
    };
    if decision == Decision::Always {
        match client::set_tool_approval(target.server.id, &target.tool, ToolApproval::Always).await
        {
            Ok(updated) => chat.servers.update(|all| {
                if let Some(server) = all.iter_mut().find(|s| s.id == updated.id) {
                    *server = updated;
                }
            }),
            Err(e) => chat.error.set(Some(format!(
                "“Always allow” could not be saved: {}",
                e.message
            ))),
        }
    }
    if decision == Decision::Deny {
        chat.pending.set(None);
        result.content = "The user denied this tool call.".into();
        run.is_error = true;
        result.tool_run = Some(run);
        return Some(result);
    }
    pending.awaiting = false;
    chat.pending.set(Some(pending));
    let arguments = if call.arguments.trim().is_empty() {
        Ok(Value::Object(Default::default()))
    } else {
        serde_json::from_str::<Value>(&call.arguments)
    };
    let started = now_ms();
    let outcome = match arguments {
        Err(e) => Err(format!("The model's arguments are not valid JSON ({e}).")),
        Ok(arguments) => match select(
            pin!(connections.call_tool(&target.server, &target.tool, arguments)),
            &mut *stop,
        )
        .await
        {
            Either::Left((outcome, _)) => outcome,
            Either::Right(_) => {
                chat.pending.set(None);
                return None;
            }
        },
    };
    result.duration_ms = Some((now_ms() - started) as i64);
    chat.pending.set(None);
    match outcome {
        Ok(answer) => {
            result.content = answer.text();
            run.is_error = answer.is_error;
            run.images = answer
                .content
                .iter()
                .filter(|c| c.get("type").and_then(Value::as_str) == Some("image"))
                .filter_map(|c| {
                    let mime = c
                        .get("mimeType")?
                        .as_str()
                        .filter(|m| m.starts_with("image/"))?;
                    Some(format!("data:{mime};base64,{}", c.get("data")?.as_str()?))
                })
                .filter(|url| crate::api::is_inline_image(url))
                .collect();
        }
        Err(message) => {
            result.content = message;
            run.is_error = true;
        }
    }
    result.tool_run = Some(run);
    Some(result)
}
