//! A streamed chat answer (`chat.completion.chunk`s over SSE) put together as it arrives:
//! text, reasoning, tool calls whose arguments come in pieces, the finish reason, usage, and
//! the error event a failing stream ends with.

use serde_json::Value;

/// A tool call as far as it has arrived.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartialToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// What the answer holds so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer {
    pub content: String,
    pub reasoning: String,
    pub tool_calls: Vec<PartialToolCall>,
    pub finish_reason: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    /// The stream ended with an error event: its message.
    pub error: Option<String>,
    /// `data: [DONE]` arrived.
    pub done: bool,
}

/// What one event changed, for a view that updates only what moved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Change {
    pub content: bool,
    pub reasoning: bool,
    pub tool_calls: bool,
}

impl Answer {
    /// Takes one SSE `data:` payload.
    pub fn apply(&mut self, data: &str) -> Change {
        let mut change = Change::default();
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return change;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            self.error = Some("The answer could not be read (a chunk was not JSON).".into());
            return change;
        };
        if let Some(error) = chunk.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| error.as_str())
                .unwrap_or("the stream failed");
            self.error = Some(message.to_owned());
            return change;
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.prompt_tokens = usage
                .get("prompt_tokens")
                .and_then(Value::as_i64)
                .or(self.prompt_tokens);
            self.completion_tokens = usage
                .get("completion_tokens")
                .and_then(Value::as_i64)
                .or(self.completion_tokens);
        }
        let Some(choice) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        else {
            return change;
        };
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_owned());
        }
        let delta = &choice["delta"];
        if let Some(text) = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            self.content.push_str(text);
            change.content = true;
        }
        // `reasoning_content` (DeepSeek, llama.cpp, vLLM) or `reasoning` (some others).
        if let Some(text) = delta
            .get("reasoning_content")
            .or_else(|| delta.get("reasoning"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            self.reasoning.push_str(text);
            change.reasoning = true;
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = call
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(self.tool_calls.len().saturating_sub(1) as u64)
                as usize;
            if index > 127 {
                continue;
            }
            if self.tool_calls.len() <= index {
                self.tool_calls
                    .resize_with(index + 1, PartialToolCall::default);
            }
            let slot = &mut self.tool_calls[index];
            if let Some(id) = call.get("id").and_then(Value::as_str) {
                slot.id = id.to_owned();
            }
            if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                slot.name.push_str(name);
            }
            if let Some(arguments) = call.pointer("/function/arguments").and_then(Value::as_str) {
                slot.arguments.push_str(arguments);
            }
            change.tool_calls = true;
        }
        change
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_reasoning_usage_and_the_end_are_gathered() {
        let mut answer = Answer::default();
        assert!(answer.apply(r#"{"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Think"}}]}"#).reasoning);
        assert!(
            answer
                .apply(r#"{"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#)
                .content
        );
        answer
            .apply(r#"{"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}"#);
        answer.apply(
            r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#,
        );
        answer.apply("[DONE]");
        assert_eq!(
            (answer.content.as_str(), answer.reasoning.as_str()),
            ("Hello", "Think")
        );
        assert_eq!(
            (
                answer.finish_reason.as_deref(),
                answer.prompt_tokens,
                answer.completion_tokens
            ),
            (Some("stop"), Some(9), Some(2))
        );
        assert!(answer.done && answer.error.is_none());
    }

    #[test]
    fn tool_calls_are_assembled_from_their_pieces_by_index() {
        let mut answer = Answer::default();
        for data in [
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"everything__echo","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"mess"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"time__now","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"age\":\"hi\"}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
        ] {
            answer.apply(data);
        }
        assert_eq!(answer.tool_calls.len(), 2);
        assert_eq!(
            answer.tool_calls[0],
            PartialToolCall {
                id: "call_a".into(),
                name: "everything__echo".into(),
                arguments: r#"{"message":"hi"}"#.into()
            }
        );
        assert_eq!(answer.tool_calls[1].name, "time__now");
        assert_eq!(answer.finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn an_error_event_or_garbage_is_reported_in_words() {
        let mut answer = Answer::default();
        answer.apply(r#"{"choices":[{"delta":{"content":"part"}}]}"#);
        answer.apply(r#"{"error":{"message":"the stream from the provider of LLM \"x\" broke off","type":"upstream_error"}}"#);
        assert_eq!(answer.content, "part", "what arrived is kept");
        assert!(answer.error.as_deref().unwrap().contains("broke off"));
        let mut garbled = Answer::default();
        garbled.apply("{not json");
        assert!(garbled.error.is_some());
    }
}
