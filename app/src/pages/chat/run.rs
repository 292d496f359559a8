//! The agentic loop, in the browser: stream an answer through Hearth's gateway, save it, run
//! the tools it calls (after asking, unless the user said "Always allow") through the MCP
//! connections of this browser, save each result, and go on until the model answers without
//! tools or the turn limit is reached. Every message is saved as soon as it is complete, and
//! an answer every second while it streams, so a reload shows what had arrived.
//!
//! A loop belongs to its conversation, not to what the page shows: the user may open another
//! conversation or page meanwhile. It keeps that conversation's messages itself, and shows
//! what it saves only while that conversation is open.

use std::cell::RefCell;
use std::pin::pin;

use futures::channel::oneshot;
use futures::future::{select, Either};
use leptos::prelude::*;
use serde_json::Value;

use super::{Chat, Control, Decision, PendingCall, Run};
use crate::api::{
    client, ChatMessage, ChatRole, ChatToolCall, ConversationInput, MessageInput,
    PersonalMcpServer, ToolApproval, ToolRun,
};
use crate::chat::request::{self, ToolSpec};
use crate::chat::stream::Answer;
use crate::chat::tool_names;
use crate::connections::{Connections, Status};
use crate::mcp::browser::{now_ms, sleep};

/// How often an answer is saved while it streams.
const SAVE_EVERY_MS: i32 = 1000;

/// A tool on offer this turn, and where it runs.
struct Offered {
    spec: ToolSpec,
    server: PersonalMcpServer,
    tool: String,
}

type Stop = oneshot::Receiver<()>;

/// The loop of one conversation, while it runs.
struct Running {
    chat: Chat,
    id: i64,
}

impl Running {
    /// Starts the loop of conversation `id`, unless one runs there already.
    fn begin(chat: Chat, id: i64) -> Option<(Running, Stop)> {
        if chat.running_untracked(id) {
            return None;
        }
        let history = if chat.current.get_untracked() == Some(id) {
            chat.messages.get_untracked()
        } else {
            Vec::new()
        };
        let (stop_tx, stop) = oneshot::channel();
        chat.controls.update_value(|all| {
            all.runs.push(Control {
                conversation: id,
                stop: Some(stop_tx),
                decide: None,
                history,
            })
        });
        chat.runs.update(|runs| {
            runs.push(Run {
                conversation: id,
                ..Run::default()
            })
        });
        chat.clear_error(Some(id));
        Some((Running { chat, id }, stop))
    }

    fn update(&self, change: impl FnOnce(&mut Run)) {
        self.chat.runs.update(|runs| {
            if let Some(run) = runs.iter_mut().find(|r| r.conversation == self.id) {
                change(run);
            }
        });
    }

    fn control<T>(&self, f: impl FnOnce(&mut Control) -> T) -> Option<T> {
        let id = self.id;
        self.chat
            .controls
            .try_update_value(|all| all.runs.iter_mut().find(|c| c.conversation == id).map(f))
            .flatten()
    }

    fn fail(&self, message: impl Into<String>) {
        self.chat.fail(Some(self.id), message);
    }

    /// Takes `message` (new or replacing the one with its id) into the loop's history and,
    /// when this conversation is open, into the thread.
    fn keep(&self, message: ChatMessage) {
        let put = |all: &mut Vec<ChatMessage>| match all.iter_mut().find(|m| m.id == message.id) {
            Some(old) => *old = message.clone(),
            None => all.push(message.clone()),
        };
        self.control(|c| put(&mut c.history));
        if self.chat.current.get_untracked() == Some(self.id) {
            self.chat.messages.update(put);
        }
    }

    /// Saves a message of this conversation.
    async fn save(&self, input: &MessageInput) -> Option<ChatMessage> {
        match client::add_message(self.id, input).await {
            Ok(message) => {
                self.keep(message.clone());
                Some(message)
            }
            Err(e) => {
                self.fail(format!("The message could not be saved: {}", e.message));
                None
            }
        }
    }

    /// Saves the answer as it is so far (`partial`), or completes the one saved before.
    async fn save_answer(&self, saved: &mut Option<i64>, input: &MessageInput) -> bool {
        let outcome = match *saved {
            None => client::add_message(self.id, input).await,
            Some(message_id) => client::update_message(self.id, message_id, input).await,
        };
        match outcome {
            Ok(message) => {
                *saved = Some(message.id);
                if input.partial {
                    self.update(|r| r.message = Some(message.id));
                } else {
                    self.keep(message);
                }
                true
            }
            // A save while it streams may fail; the last one says so.
            Err(_) if input.partial => false,
            Err(e) => {
                self.fail(format!("The answer could not be saved: {}", e.message));
                false
            }
        }
    }

    /// Removes message `message_id` and the ones after it, on Hearth and on the page.
    async fn truncate(&self, message_id: i64) -> bool {
        match client::delete_messages_from(self.id, message_id).await {
            Ok(()) => {
                let cut = |all: &mut Vec<ChatMessage>| {
                    if let Some(at) = all.iter().position(|m| m.id == message_id) {
                        all.truncate(at);
                    }
                };
                self.control(|c| cut(&mut c.history));
                if self.chat.current.get_untracked() == Some(self.id) {
                    self.chat.messages.update(cut);
                }
                true
            }
            Err(e) => {
                self.fail(e.message);
                false
            }
        }
    }

    fn end(self) {
        let id = self.id;
        self.chat
            .controls
            .update_value(|all| all.runs.retain(|c| c.conversation != id));
        self.chat
            .runs
            .update(|runs| runs.retain(|r| r.conversation != id));
        self.chat.refresh_list();
    }
}

/// Sends `text` as the user's next message and runs the answer.
pub async fn send(chat: Chat, connections: Connections, text: String) {
    let id = match chat.current.get_untracked() {
        Some(id) => id,
        None => match start_conversation(chat, &text).await {
            Ok(id) => id,
            Err(e) => return chat.fail(None, e),
        },
    };
    let Some((run, mut stop)) = Running::begin(chat, id) else {
        return;
    };
    if run
        .save(&MessageInput::new(ChatRole::User, text))
        .await
        .is_some()
    {
        turns(&run, connections, &mut stop).await;
    }
    run.end();
}

/// Answers the last user message again, replacing what came after it.
pub async fn regenerate(chat: Chat, connections: Connections) {
    let Some(id) = chat.current.get_untracked() else {
        return;
    };
    let Some((run, mut stop)) = Running::begin(chat, id) else {
        return;
    };
    let first_after = run
        .control(|c| {
            let last_user = c.history.iter().rposition(|m| m.role == ChatRole::User)?;
            c.history.get(last_user + 1).map(|m| m.id)
        })
        .flatten();
    let removed = match first_after {
        Some(message_id) => run.truncate(message_id).await,
        None => true,
    };
    if removed {
        turns(&run, connections, &mut stop).await;
    }
    run.end();
}

/// Replaces user message `message_id` (and everything after it) with `text`, and answers it.
pub async fn resend(chat: Chat, connections: Connections, message_id: i64, text: String) {
    let Some(id) = chat.current.get_untracked() else {
        return;
    };
    let Some((run, mut stop)) = Running::begin(chat, id) else {
        return;
    };
    if run.truncate(message_id).await
        && run
            .save(&MessageInput::new(ChatRole::User, text))
            .await
            .is_some()
    {
        turns(&run, connections, &mut stop).await;
    }
    run.end();
}

async fn start_conversation(chat: Chat, text: &str) -> Result<i64, String> {
    let input = ConversationInput {
        title: Some(request::title_for(text)),
        model: Some(chat.model.get_untracked()).filter(|m| !m.is_empty()),
    };
    let created = client::create_conversation(&input)
        .await
        .map_err(|e| format!("The conversation could not be started: {}", e.message))?;
    // Opened, unless the user went to another one meanwhile.
    if chat.current.get_untracked().is_none() {
        chat.current.set(Some(created.id));
        chat.messages.set(Vec::new());
    }
    chat.refresh_list();
    Ok(created.id)
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

async fn turns(run: &Running, connections: Connections, stop: &mut Stop) {
    let chat = run.chat;
    let model = chat.model.get_untracked();
    if model.is_empty() {
        run.fail(
            "No LLM is available to you. An admin adds one on the LLMs page and grants it to you.",
        );
        return;
    }
    let max = chat.max_turns.get_untracked().max(1);
    for turn in 0..max {
        let offered = offer(chat, connections);
        let specs: Vec<ToolSpec> = offered.iter().map(|o| o.spec.clone()).collect();
        let Some(body) = run.control(|c| request::body(&model, &c.history, &specs)) else {
            return;
        };
        let Some(calls) = answer(run, &model, turn, &body, stop).await else {
            return;
        };
        for call in calls {
            let Some(result) = run_tool(run, connections, &offered, &call, stop).await else {
                return;
            };
            if run.save(&result).await.is_none() {
                return;
            }
        }
    }
    run.fail(format!("Stopped after {max} turns with tools without a final answer. Send a message to go on, or raise “Tool turns”."));
}

/// The answer as it is so far, to save.
fn answer_input(answer: &Answer, model: &str, started: f64) -> MessageInput {
    let mut input = MessageInput::new(ChatRole::Assistant, answer.content.clone());
    input.reasoning = Some(answer.reasoning.clone()).filter(|r| !r.is_empty());
    input.model = Some(model.to_owned());
    input.duration_ms = Some((now_ms() - started) as i64);
    input.partial = true;
    input
}

/// Streams one answer, saving it every second as it grows and once more when it is
/// complete. The tool calls it asks for, or `None` when the loop ends here (an answer
/// without tools, an error, or Stop).
async fn answer(
    run: &Running,
    model: &str,
    turn: u32,
    body: &Value,
    stop: &mut Stop,
) -> Option<Vec<ChatToolCall>> {
    run.update(|r| {
        r.content.clear();
        r.reasoning.clear();
        r.streaming = true;
        r.message = None;
    });
    let started = now_ms();
    let answer = RefCell::new(Answer::default());
    let mut saved: Option<i64> = None;
    let outcome = {
        let work = client::stream_chat(body, |data| {
            let mut answer = answer.borrow_mut();
            let change = answer.apply(data);
            if change.content || change.reasoning {
                run.update(|r| {
                    if change.content {
                        r.content.clone_from(&answer.content);
                    }
                    if change.reasoning {
                        r.reasoning.clone_from(&answer.reasoning);
                    }
                });
            }
        });
        let mut work = pin!(work);
        let mut saved_size = (0, 0);
        loop {
            match select(
                work.as_mut(),
                select(pin!(sleep(SAVE_EVERY_MS)), &mut *stop),
            )
            .await
            {
                Either::Left((outcome, _)) => break Some(outcome),
                Either::Right((Either::Right(_), _)) => break None,
                Either::Right((Either::Left(_), _)) => {
                    // The stream waits while this is saved: the browser buffers what arrives.
                    let input = {
                        let answer = answer.borrow();
                        let size = (answer.content.len(), answer.reasoning.len());
                        if size == saved_size {
                            continue;
                        }
                        saved_size = size;
                        answer_input(&answer, model, started)
                    };
                    run.save_answer(&mut saved, &input).await;
                }
            }
        }
    };
    let answer = answer.into_inner();
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
    if !(stopped && nothing && saved.is_none()) {
        let mut input = answer_input(&answer, model, started);
        input.partial = false;
        input.tool_calls = tool_calls.clone();
        input.error = error.clone();
        input.stopped = stopped;
        input.prompt_tokens = answer.prompt_tokens;
        input.completion_tokens = answer.completion_tokens;
        if !run.save_answer(&mut saved, &input).await {
            return None;
        }
    }
    run.update(|r| {
        r.streaming = false;
        r.message = None;
    });
    (!stopped && error.is_none() && !tool_calls.is_empty()).then_some(tool_calls)
}

/// Asks for approval when needed and runs one tool call; the result to save, or `None` when
/// the user pressed Stop.
async fn run_tool(
    run: &Running,
    connections: Connections,
    offered: &[Offered],
    call: &ChatToolCall,
    stop: &mut Stop,
) -> Option<MessageInput> {
    let chat = run.chat;
    let mut result = MessageInput::new(ChatRole::Tool, String::new());
    result.tool_call_id = Some(call.id.clone());
    let Some(target) = offered.iter().find(|o| o.spec.name == call.name) else {
        result.content = format!("No tool named “{}” is on offer.", call.name);
        result.tool_run = Some(ToolRun {
            server: String::new(),
            tool: call.name.clone(),
            is_error: true,
            denied: false,
            images: Vec::new(),
        });
        return Some(result);
    };
    let mut tool_run = ToolRun {
        server: target.server.name.clone(),
        tool: target.tool.clone(),
        is_error: false,
        denied: false,
        images: Vec::new(),
    };
    let mut pending = PendingCall {
        server: tool_run.server.clone(),
        tool: tool_run.tool.clone(),
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
            run.update(|r| r.pending = Some(pending.clone()));
            let (tx, rx) = oneshot::channel();
            run.control(|c| c.decide = Some(tx));
            match select(rx, &mut *stop).await {
                Either::Left((decision, _)) => decision.unwrap_or(Decision::Deny),
                Either::Right(_) => {
                    run.update(|r| r.pending = None);
                    return None;
                }
            }
        }
    };
    if decision == Decision::Always {
        // A shared server (negative id) keeps the user's approvals on its own route.
        let saved = if target.server.id < 0 {
            client::set_shared_tool_approval(
                &target.server.name,
                &target.tool,
                ToolApproval::Always,
            )
            .await
            .map(drop)
        } else {
            client::set_tool_approval(target.server.id, &target.tool, ToolApproval::Always)
                .await
                .map(drop)
        };
        match saved {
            Ok(()) => chat.servers.update(|all| {
                if let Some(server) = all.iter_mut().find(|s| s.id == target.server.id) {
                    server
                        .approvals
                        .insert(target.tool.clone(), ToolApproval::Always);
                }
            }),
            Err(e) => run.fail(format!("“Always allow” could not be saved: {}", e.message)),
        }
    }
    if decision == Decision::Deny {
        run.update(|r| r.pending = None);
        result.content = "The user denied this tool call.".into();
        tool_run.is_error = true;
        tool_run.denied = true;
        result.tool_run = Some(tool_run);
        return Some(result);
    }
    pending.awaiting = false;
    run.update(|r| r.pending = Some(pending));
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
                run.update(|r| r.pending = None);
                return None;
            }
        },
    };
    result.duration_ms = Some((now_ms() - started) as i64);
    run.update(|r| r.pending = None);
    match outcome {
        Ok(answer) => {
            result.content = answer.text();
            tool_run.is_error = answer.is_error;
            tool_run.images = answer
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
            tool_run.is_error = true;
        }
    }
    result.tool_run = Some(tool_run);
    Some(result)
}
