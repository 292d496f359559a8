//! OpenAI chat/completions ↔ Anthropic Messages, both ways, as pure functions over JSON so
//! that golden tests pin them down.
//!
//! Requests: system and developer messages become `system`; content parts become blocks
//! (images as base64 or URL sources); `tools` / `tool_choice` become Anthropic tools;
//! assistant `tool_calls` become `tool_use` blocks and `tool` messages `tool_result` blocks in
//! the next user turn. Responses: blocks back to `content` and `tool_calls`, stop reasons to
//! finish reasons, usage to usage. Streams: [`StreamTranslator`] turns each Anthropic SSE
//! event into `chat.completion.chunk`s, tool-call arguments included as they arrive.

use serde_json::{json, Map, Value};

/// Anthropic requires `max_tokens`; this is used when the client gives none.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The Anthropic request for an OpenAI one, sent to `model`. An error is the client's (400).
pub fn request(openai: &Map<String, Value>, model: &str) -> Result<Value, String> {
    if openai
        .get("n")
        .and_then(Value::as_u64)
        .is_some_and(|n| n != 1)
    {
        return Err(
            "this LLM is served by Anthropic, which returns one choice only: leave `n` unset or 1"
                .into(),
        );
    }
    let messages = openai
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("`messages` must be an array")?;
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<Value> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("messages[{i}] has no `role`"))?;
        let content = message.get("content").unwrap_or(&Value::Null);
        match role {
            "system" | "developer" => {
                system.push(plain_text(content).map_err(|e| format!("messages[{i}]: {e}"))?)
            }
            "user" => push_turn(
                &mut turns,
                "user",
                blocks(content).map_err(|e| format!("messages[{i}]: {e}"))?,
            ),
            "assistant" => {
                let mut out = blocks(content).map_err(|e| format!("messages[{i}]: {e}"))?;
                for call in message
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    out.push(tool_use(call).map_err(|e| format!("messages[{i}]: {e}"))?);
                }
                push_turn(&mut turns, "assistant", out);
            }
            "tool" => {
                let id = message
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        format!("messages[{i}] is a tool result without `tool_call_id`")
                    })?;
                let result = json!({"type": "tool_result", "tool_use_id": id, "content": plain_text(content).map_err(|e| format!("messages[{i}]: {e}"))?});
                push_turn(&mut turns, "user", vec![result]);
            }
            other => return Err(format!("messages[{i}] has the unsupported role {other:?}")),
        }
    }

    let mut out = Map::new();
    out.insert("model".into(), model.into());
    let max_tokens = openai
        .get("max_completion_tokens")
        .or_else(|| openai.get("max_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    out.insert("max_tokens".into(), max_tokens.into());
    if !system.is_empty() {
        out.insert("system".into(), system.join("\n\n").into());
    }
    out.insert("messages".into(), turns.into());
    for key in ["temperature", "top_p", "stream"] {
        if let Some(v) = openai.get(key).filter(|v| !v.is_null()) {
            out.insert(key.into(), v.clone());
        }
    }
    match openai.get("stop") {
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(list)) if !list.is_empty() => {
            out.insert("stop_sequences".into(), list.clone().into());
        }
        _ => {}
    }
    if let Some(user) = openai.get("user").and_then(Value::as_str) {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    if let Some(tools) = openai
        .get("tools")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
    {
        out.insert(
            "tools".into(),
            tools
                .iter()
                .map(tool)
                .collect::<Result<Vec<_>, _>>()?
                .into(),
        );
        if let Some(choice) =
            tool_choice(openai.get("tool_choice"), openai.get("parallel_tool_calls"))?
        {
            out.insert("tool_choice".into(), choice);
        }
    }
    Ok(Value::Object(out))
}

/// Appends `content` as a turn of `role`, merged into the previous turn when that has the same
/// role (tool results and the user's next words travel together).
fn push_turn(turns: &mut Vec<Value>, role: &str, content: Vec<Value>) {
    if content.is_empty() {
        return;
    }
    if let Some(last) = turns.last_mut().filter(|t| t["role"] == role) {
        if let Some(existing) = last["content"].as_array_mut() {
            existing.extend(content);
            return;
        }
    }
    turns.push(json!({"role": role, "content": content}));
}

/// The text of a system or tool message: a string, or text parts joined.
fn plain_text(content: &Value) -> Result<String, String> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let texts = parts
                .iter()
                .map(|p| {
                    p.get("text")
                        .and_then(Value::as_str)
                        .ok_or("only text parts are allowed here")
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(texts.join("\n"))
        }
        _ => Err("`content` must be a string or an array of parts".into()),
    }
}

/// User or assistant content as Anthropic blocks.
fn blocks(content: &Value) -> Result<Vec<Value>, String> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![json!({"type": "text", "text": s})]),
        Value::Array(parts) => parts.iter().map(part).collect(),
        _ => Err("`content` must be a string or an array of parts".into()),
    }
}

fn part(part: &Value) -> Result<Value, String> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => {
            let text = part
                .get("text")
                .and_then(Value::as_str)
                .ok_or("a text part has no `text`")?;
            Ok(json!({"type": "text", "text": text}))
        }
        Some("image_url") => {
            let url = part
                .get("image_url")
                .and_then(|i| i.get("url").or(Some(i)))
                .and_then(Value::as_str)
                .ok_or("an image_url part has no `url`")?;
            Ok(json!({"type": "image", "source": image_source(url)?}))
        }
        Some(other) => Err(format!(
            "content parts of type {other:?} cannot be sent to Anthropic"
        )),
        None => Err("a content part has no `type`".into()),
    }
}

/// `data:<media type>;base64,<data>` becomes a base64 source; an http(s) URL a URL source.
fn image_source(url: &str) -> Result<Value, String> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (media_type, data) = rest
            .split_once(";base64,")
            .ok_or("an image data URL must be base64-encoded")?;
        return Ok(json!({"type": "base64", "media_type": media_type, "data": data}));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({"type": "url", "url": url}));
    }
    Err("an image must be a data: URL or an http(s) URL".into())
}

fn tool_use(call: &Value) -> Result<Value, String> {
    let id = call
        .get("id")
        .and_then(Value::as_str)
        .ok_or("a tool call has no `id`")?;
    let function = call
        .get("function")
        .ok_or("a tool call has no `function`")?;
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a tool call has no function `name`")?;
    let arguments = function
        .get("arguments")
        .and_then(Value::as_str)
        .unwrap_or("");
    let input: Value = if arguments.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(arguments)
            .map_err(|_| format!("the arguments of tool call {id:?} are not JSON"))?
    };
    Ok(json!({"type": "tool_use", "id": id, "name": name, "input": input}))
}

fn tool(tool: &Value) -> Result<Value, String> {
    let function = tool
        .get("function")
        .filter(|_| tool["type"] == "function")
        .ok_or("only tools of type `function` are supported")?;
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a tool has no function `name`")?;
    let mut out = json!({"name": name, "input_schema": function.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object"}))});
    if let Some(description) = function.get("description").and_then(Value::as_str) {
        out["description"] = description.into();
    }
    Ok(out)
}

fn tool_choice(choice: Option<&Value>, parallel: Option<&Value>) -> Result<Option<Value>, String> {
    let mut out = match choice {
        None | Some(Value::Null) => {
            if parallel == Some(&Value::Bool(false)) {
                json!({"type": "auto"})
            } else {
                return Ok(None);
            }
        }
        Some(Value::String(s)) => match s.as_str() {
            "auto" => json!({"type": "auto"}),
            "none" => json!({"type": "none"}),
            "required" => json!({"type": "any"}),
            other => return Err(format!("unknown tool_choice {other:?}")),
        },
        Some(object) => {
            let name = object
                .pointer("/function/name")
                .and_then(Value::as_str)
                .ok_or("tool_choice names no function")?;
            json!({"type": "tool", "name": name})
        }
    };
    if parallel == Some(&Value::Bool(false)) && out["type"] != "none" {
        out["disable_parallel_tool_use"] = true.into();
    }
    Ok(Some(out))
}

/// An Anthropic stop reason as an OpenAI finish reason.
fn finish_reason(stop_reason: Option<&str>) -> Value {
    match stop_reason {
        None => Value::Null,
        Some("max_tokens") => "length".into(),
        Some("tool_use") => "tool_calls".into(),
        Some("refusal") => "content_filter".into(),
        Some(_) => "stop".into(),
    }
}

/// Anthropic usage as (prompt, completion) tokens: cache reads and writes count as prompt
/// tokens. A count that is absent or not believable makes its side unknown.
fn token_counts(usage: &Value) -> (Option<u64>, Option<u64>) {
    let count = |k: &str| match usage.get(k) {
        None => Some(0),
        value => super::token_count(value),
    };
    let prompt = super::token_count(usage.get("input_tokens"))
        .zip(count("cache_read_input_tokens"))
        .and_then(|(a, b)| a.checked_add(b))
        .zip(count("cache_creation_input_tokens"))
        .and_then(|(a, b)| a.checked_add(b));
    (prompt, super::token_count(usage.get("output_tokens")))
}

/// OpenAI's `usage`, when both counts are known.
fn openai_usage(prompt: Option<u64>, completion: Option<u64>) -> Option<Value> {
    let (prompt, completion) = (prompt?, completion?);
    Some(
        json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt.checked_add(completion)?}),
    )
}

/// The OpenAI answer for an Anthropic message; `name` is the model the client asked for.
pub fn response(anthropic: &Value, name: &str, created: i64) -> Value {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in anthropic
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => tool_calls.push(json!({
                "id": block["id"],
                "type": "function",
                "function": {"name": block["name"], "arguments": block.get("input").map(Value::to_string).unwrap_or_else(|| "{}".into())},
            })),
            _ => {}
        }
    }
    let mut message = json!({"role": "assistant", "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { text.into() }});
    if !tool_calls.is_empty() {
        message["tool_calls"] = tool_calls.into();
    }
    let mut out = json!({
        "id": anthropic.get("id").cloned().unwrap_or_else(|| "".into()),
        "object": "chat.completion",
        "created": created,
        "model": name,
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": finish_reason(anthropic.get("stop_reason").and_then(Value::as_str)),
        }],
    });
    if let Some(usage) = anthropic.get("usage").and_then(|u| {
        let (prompt, completion) = token_counts(u);
        openai_usage(prompt, completion)
    }) {
        out["usage"] = usage;
    }
    out
}

/// An Anthropic error body (`{"type":"error","error":{"type","message"}}`)'s message.
pub fn error_message(body: &Value) -> Option<&str> {
    body.pointer("/error/message").and_then(Value::as_str)
}

/// Re-frames one Anthropic stream as OpenAI chunks, event by event.
pub struct StreamTranslator {
    name: String,
    created: i64,
    include_usage: bool,
    id: String,
    /// Anthropic content-block index → OpenAI tool-call index, for tool-use blocks.
    tool_blocks: Vec<(u64, usize)>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    finished: bool,
}

/// What one event produced: chunks to send, or the stream's end, or an error to report.
#[derive(Debug, PartialEq)]
pub enum Step {
    Chunks(Vec<Value>),
    Error(String),
}

impl StreamTranslator {
    pub fn new(name: &str, created: i64, include_usage: bool) -> StreamTranslator {
        StreamTranslator {
            name: name.to_owned(),
            created,
            include_usage,
            id: String::new(),
            tool_blocks: Vec::new(),
            prompt_tokens: None,
            completion_tokens: None,
            finished: false,
        }
    }

    /// Tokens counted so far, as far as they are known: (prompt, completion).
    pub fn usage(&self) -> (Option<u64>, Option<u64>) {
        (self.prompt_tokens, self.completion_tokens)
    }

    /// Whether `message_stop` has been seen.
    pub fn finished(&self) -> bool {
        self.finished
    }

    fn chunk(&self, delta: Value, finish_reason: Value) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.name,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        })
    }

    /// One SSE event (`event:` name and `data:` JSON).
    pub fn on_event(&mut self, event: &str, data: &str) -> Step {
        let Ok(data) = serde_json::from_str::<Value>(data) else {
            return Step::Error("the provider sent an event that is not JSON".into());
        };
        let kind = data.get("type").and_then(Value::as_str).unwrap_or(event);
        match kind {
            "message_start" => {
                let message = &data["message"];
                self.id = message
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if let Some(u) = message.get("usage") {
                    (self.prompt_tokens, self.completion_tokens) = token_counts(u);
                }
                Step::Chunks(vec![
                    self.chunk(json!({"role": "assistant", "content": ""}), Value::Null)
                ])
            }
            "content_block_start" => {
                let block = &data["content_block"];
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let index = self.tool_blocks.len();
                        self.tool_blocks
                            .push((data["index"].as_u64().unwrap_or(0), index));
                        let call = json!({"index": index, "id": block["id"], "type": "function", "function": {"name": block["name"], "arguments": ""}});
                        Step::Chunks(vec![self.chunk(json!({"tool_calls": [call]}), Value::Null)])
                    }
                    Some("text") => match block
                        .get("text")
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty())
                    {
                        Some(text) => {
                            Step::Chunks(vec![self.chunk(json!({"content": text}), Value::Null)])
                        }
                        None => Step::Chunks(Vec::new()),
                    },
                    _ => Step::Chunks(Vec::new()),
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => Step::Chunks(vec![
                        self.chunk(json!({"content": delta["text"]}), Value::Null)
                    ]),
                    Some("input_json_delta") => {
                        let block = data["index"].as_u64().unwrap_or(0);
                        let Some(&(_, index)) = self.tool_blocks.iter().find(|(b, _)| *b == block)
                        else {
                            return Step::Chunks(Vec::new());
                        };
                        let call = json!({"index": index, "function": {"arguments": delta["partial_json"]}});
                        Step::Chunks(vec![self.chunk(json!({"tool_calls": [call]}), Value::Null)])
                    }
                    _ => Step::Chunks(Vec::new()),
                }
            }
            "message_delta" => {
                if let Some(n) = data.pointer("/usage/output_tokens") {
                    self.completion_tokens = super::token_count(Some(n));
                }
                let reason =
                    finish_reason(data.pointer("/delta/stop_reason").and_then(Value::as_str));
                if reason.is_null() {
                    return Step::Chunks(Vec::new());
                }
                Step::Chunks(vec![self.chunk(json!({}), reason)])
            }
            "message_stop" => {
                self.finished = true;
                if !self.include_usage {
                    return Step::Chunks(Vec::new());
                }
                let (prompt, completion) = self.usage();
                let mut last = self.chunk(json!({}), Value::Null);
                last["choices"] = json!([]);
                // Unknown counts are left out rather than guessed.
                if let Some(usage) = openai_usage(prompt, completion) {
                    last["usage"] = usage;
                }
                Step::Chunks(vec![last])
            }
            "error" => Step::Error(
                error_message(&data)
                    .unwrap_or("the provider reported an error")
                    .to_owned(),
            ),
            // `ping`, `content_block_stop` and whatever comes later carry nothing to forward.
            _ => Step::Chunks(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate_request(openai: Value) -> Value {
        request(openai.as_object().unwrap(), "claude-sonnet-4-5").unwrap()
    }

    #[test]
    fn a_request_with_system_parts_images_and_defaults() {
        insta::assert_json_snapshot!(translate_request(json!({
            "model": "claude",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in these pictures?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}}
                ]},
                {"role": "assistant", "content": "Un chat."},
                {"role": "user", "content": "Merci"}
            ],
            "temperature": 0.2,
            "stop": "END",
            "user": "alice",
            "presence_penalty": 0.5
        })));
    }

    #[test]
    fn a_request_with_tools_tool_calls_and_tool_results() {
        insta::assert_json_snapshot!(translate_request(json!({
            "model": "claude",
            "max_completion_tokens": 300,
            "stream": true,
            "messages": [
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "18°C"},
                {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "24°C"}]},
                {"role": "user", "content": "Which is warmer?"}
            ],
            "tools": [{"type": "function", "function": {
                "name": "get_weather",
                "description": "Current weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
            }}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "parallel_tool_calls": false
        })));
    }

    #[test]
    fn tool_choice_words_map_to_anthropic_kinds() {
        let tools = json!([{"type": "function", "function": {"name": "f"}}]);
        for (choice, expected) in [("auto", "auto"), ("none", "none"), ("required", "any")] {
            let out = translate_request(
                json!({"messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": choice}),
            );
            assert_eq!(out["tool_choice"]["type"], expected);
        }
    }

    #[test]
    fn requests_anthropic_cannot_serve_are_refused_with_the_reason() {
        let refuse = |body: Value| request(body.as_object().unwrap(), "m").unwrap_err();
        assert!(
            refuse(json!({"messages": [{"role": "user", "content": "x"}], "n": 2}))
                .contains("one choice")
        );
        assert!(refuse(json!({"messages": "hi"})).contains("array"));
        assert!(
            refuse(json!({"messages": [{"role": "function", "content": "x"}]}))
                .contains("unsupported role")
        );
        assert!(refuse(
            json!({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]})
        )
        .contains("input_audio"));
        let bad_args = json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{"}}]}]});
        assert!(refuse(bad_args).contains("not JSON"));
    }

    #[test]
    fn a_response_with_text() {
        insta::assert_json_snapshot!(response(
            &json!({
                "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": "Bonjour"}, {"type": "text", "text": " !"}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 12, "output_tokens": 3, "cache_read_input_tokens": 4}
            }),
            "claude",
            1_700_000_000
        ));
    }

    #[test]
    fn a_response_with_tool_calls() {
        insta::assert_json_snapshot!(response(
            &json!({
                "id": "msg_02", "type": "message", "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Paris"}}
                ],
                "stop_reason": "tool_use",
                "usage": {"input_tokens": 40, "output_tokens": 20}
            }),
            "claude",
            1_700_000_000
        ));
        let truncated = response(&json!({"content": [], "stop_reason": "max_tokens"}), "c", 0);
        assert_eq!(truncated["choices"][0]["finish_reason"], "length");
    }

    /// Runs a recorded Anthropic stream through the translator: what the client would read.
    #[test]
    fn counts_no_provider_can_mean_are_unknown_not_wrapped() {
        let answer = json!({"content": [], "usage": {"input_tokens": u64::MAX, "cache_read_input_tokens": u64::MAX, "output_tokens": 5}});
        assert_eq!(
            response(&answer, "c", 0).get("usage"),
            None,
            "no usage rather than a wrapped one"
        );
        let mut translator = StreamTranslator::new("c", 0, true);
        translator.on_event("message_start", &json!({"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": u64::MAX, "cache_creation_input_tokens": 2}}}).to_string());
        translator.on_event("message_delta", &json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}}).to_string());
        assert_eq!(translator.usage(), (None, Some(7)));
        let Step::Chunks(last) = translator.on_event("message_stop", "{\"type\":\"message_stop\"}")
        else {
            panic!("chunks")
        };
        assert_eq!(last[0].get("usage"), None);
    }

    fn translate_stream(events: &[(&str, Value)], include_usage: bool) -> Vec<Value> {
        let mut translator = StreamTranslator::new("claude", 1_700_000_000, include_usage);
        let mut out = Vec::new();
        for (event, data) in events {
            match translator.on_event(event, &data.to_string()) {
                Step::Chunks(chunks) => out.extend(chunks),
                Step::Error(message) => out.push(json!({"error": message})),
            }
        }
        assert!(translator.finished());
        out
    }

    #[test]
    fn a_stream_with_text() {
        let events = [
            (
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_s1", "usage": {"input_tokens": 9, "output_tokens": 1}}}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            ("ping", json!({"type": "ping"})),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
            ),
            (
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ];
        insta::assert_json_snapshot!(translate_stream(&events, true));
    }

    #[test]
    fn a_stream_with_tool_calls() {
        let events = [
            (
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_s2", "usage": {"input_tokens": 30, "output_tokens": 1}}}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking."}}),
            ),
            (
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {}}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"ci"}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "ty\":\"Paris\"}"}}),
            ),
            (
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 1}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
            ),
            (
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 2}),
            ),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 25}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ];
        insta::assert_json_snapshot!(translate_stream(&events, false));
    }

    #[test]
    fn an_error_event_mid_stream_is_reported() {
        let mut translator = StreamTranslator::new("claude", 0, false);
        let error = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
        assert_eq!(
            translator.on_event("error", &error.to_string()),
            Step::Error("Overloaded".into())
        );
        assert_eq!(
            translator.on_event("x", "not json"),
            Step::Error("the provider sent an event that is not JSON".into())
        );
    }
}
