//! The body of `POST /v1/chat/completions` for the next turn of a conversation: its saved
//! messages in OpenAI's format, and the tools on offer.

use serde_json::{json, Value};

use crate::api::{ChatMessage, ChatRole};

/// A tool as the model is offered it.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSpec {
    /// The name the model sees (see [`super::tool_names`]).
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    pub parameters: Value,
}

/// What a tool call that never ran is answered with: providers refuse a conversation in
/// which a call has no result.
pub const NOT_RUN: &str = "The tool was not run: the user stopped the answer.";

/// A streamed request for `model` continuing `messages`.
pub fn body(model: &str, messages: &[ChatMessage], tools: &[ToolSpec]) -> Value {
    let mut out: Vec<Value> = Vec::with_capacity(messages.len());
    let mut unanswered: Vec<String> = Vec::new();
    for message in messages {
        if message.role != ChatRole::Tool {
            close_unanswered(&mut out, &mut unanswered);
        }
        match message.role {
            ChatRole::System | ChatRole::User => {
                out.push(json!({ "role": message.role.as_str(), "content": message.content }))
            }
            ChatRole::Assistant => {
                // An answer that failed before saying anything is not part of the conversation.
                if message.content.is_empty() && message.tool_calls.is_empty() {
                    continue;
                }
                let mut entry = json!({ "role": "assistant", "content": message.content });
                if !message.tool_calls.is_empty() {
                    if message.content.is_empty() {
                        entry["content"] = Value::Null;
                    }
                    entry["tool_calls"] = message
                        .tool_calls
                        .iter()
                        .map(|c| json!({ "id": c.id, "type": "function", "function": { "name": c.name, "arguments": c.arguments } }))
                        .collect();
                    unanswered = message.tool_calls.iter().map(|c| c.id.clone()).collect();
                }
                out.push(entry);
            }
            ChatRole::Tool => {
                let Some(id) = message
                    .tool_call_id
                    .as_ref()
                    .filter(|id| unanswered.contains(id))
                else {
                    continue;
                };
                unanswered.retain(|u| u != id);
                out.push(
                    json!({ "role": "tool", "tool_call_id": id, "content": tool_content(message) }),
                );
            }
        }
    }
    close_unanswered(&mut out, &mut unanswered);
    let mut body = json!({ "model": model, "stream": true, "messages": out });
    if !tools.is_empty() {
        body["tools"] = tools
            .iter()
            .map(|t| {
                let mut function =
                    json!({ "name": t.name, "parameters": parameters(&t.parameters) });
                if let Some(description) = &t.description {
                    function["description"] = json!(description);
                }
                json!({ "type": "function", "function": function })
            })
            .collect();
    }
    body
}

fn close_unanswered(out: &mut Vec<Value>, unanswered: &mut Vec<String>) {
    for id in unanswered.drain(..) {
        out.push(json!({ "role": "tool", "tool_call_id": id, "content": NOT_RUN }));
    }
}

/// A tool result as the model reads it: its text, and a word about images it cannot see.
fn tool_content(message: &ChatMessage) -> String {
    let images = message.tool_run.as_ref().map_or(0, |r| r.images.len());
    match (message.content.is_empty(), images) {
        (_, 0) => message.content.clone(),
        (true, n) => format!("(the tool returned {n} image(s))"),
        (false, n) => format!("{}\n(the tool also returned {n} image(s))", message.content),
    }
}

/// Providers want an object schema; MCP servers almost always give one.
fn parameters(schema: &Value) -> Value {
    if schema.get("type").and_then(Value::as_str) == Some("object") {
        schema.clone()
    } else {
        json!({ "type": "object", "properties": {} })
    }
}

/// A conversation's title from its first message: the first line, at most 60 characters.
pub fn title_for(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("New chat");
    if line.chars().count() <= 60 {
        line.to_owned()
    } else {
        let cut: String = line.chars().take(59).collect();
        format!("{}…", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ChatToolCall, ToolRun};

    fn message(role: ChatRole, content: &str) -> ChatMessage {
        serde_json::from_value(
            json!({ "id": 0, "role": role, "content": content, "created_at": 0 }),
        )
        .unwrap()
    }

    #[test]
    fn a_tool_round_trip_becomes_openai_messages_and_tools() {
        let mut call = message(ChatRole::Assistant, "");
        call.tool_calls = vec![ChatToolCall {
            id: "c1".into(),
            name: "everything__echo".into(),
            arguments: r#"{"message":"hi"}"#.into(),
        }];
        let mut result = message(ChatRole::Tool, "Echo: hi");
        result.tool_call_id = Some("c1".into());
        result.tool_run = Some(ToolRun {
            server: "everything".into(),
            tool: "echo".into(),
            is_error: false,
            denied: false,
            images: vec!["data:image/png;base64,AA".into()],
        });
        let messages = [message(ChatRole::User, "say hi"), call, result];
        let tools = [ToolSpec {
            name: "everything__echo".into(),
            description: Some("Echoes".into()),
            parameters: json!({"type":"object","properties":{"message":{"type":"string"}}}),
        }];
        let body = body("m", &messages, &tools);
        assert_eq!(
            body,
            json!({
                "model": "m", "stream": true,
                "messages": [
                    {"role": "user", "content": "say hi"},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "everything__echo", "arguments": "{\"message\":\"hi\"}"}}]},
                    {"role": "tool", "tool_call_id": "c1", "content": "Echo: hi\n(the tool also returned 1 image(s))"},
                ],
                "tools": [{"type": "function", "function": {"name": "everything__echo", "description": "Echoes", "parameters": {"type":"object","properties":{"message":{"type":"string"}}}}}],
            })
        );
    }

    #[test]
    fn failed_answers_are_left_out_and_calls_without_results_are_answered() {
        let mut failed = message(ChatRole::Assistant, "");
        failed.error = Some("The provider is down".into());
        let mut call = message(ChatRole::Assistant, "Let me look.");
        call.tool_calls = vec![ChatToolCall {
            id: "c1".into(),
            name: "t".into(),
            arguments: "{}".into(),
        }];
        let messages = [
            message(ChatRole::User, "a"),
            failed,
            call,
            message(ChatRole::User, "b"),
        ];
        let body = body("m", &messages, &[]);
        let roles: Vec<&str> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["user", "assistant", "tool", "user"]);
        assert_eq!(body["messages"][2]["content"], NOT_RUN);
        assert_eq!(body["messages"][1]["content"], "Let me look.");
        assert!(body.get("tools").is_none());
    }

    #[test]
    fn titles_are_the_first_line_cut_to_sixty_characters() {
        assert_eq!(title_for("\n  Hello there \nmore"), "Hello there");
        let long = title_for(&"é".repeat(100));
        assert_eq!(long.chars().count(), 60);
        assert!(long.ends_with('…'));
        assert_eq!(title_for("   "), "New chat");
    }
}
