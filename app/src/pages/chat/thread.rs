//! The messages of the thread: user messages (editable), answers as markdown, tool call
//! cards, the answer being streamed and the call waiting for approval.

use leptos::prelude::*;
#[cfg(feature = "hydrate")]
use leptos::task::spawn_local;

use super::{Chat, Decision, PendingCall};
use crate::api::{ChatMessage, ChatRole};
use crate::connections::use_connections;

/// Puts `text` on the clipboard.
pub fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

#[component]
fn MessageView(message: ChatMessage) -> impl IntoView {
    match message.role {
        ChatRole::User | ChatRole::System => view! { <UserMessage message/> }.into_any(),
        ChatRole::Assistant => view! { <AssistantMessage message/> }.into_any(),
        ChatRole::Tool => view! { <ToolCallCard message/> }.into_any(),
    }
}

#[component]
fn UserMessage(message: ChatMessage) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let connections = crate::connections::use_connections();
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(message.content.clone());
    let (id, role) = (message.id, message.role.as_str());
    let resend = move |_| {
        let text = draft.get_untracked();
        if text.trim().is_empty()
            || chat
                .current
                .get_untracked()
                .is_some_and(|id| chat.running_untracked(id))
        {
            return;
        }
        editing.set(false);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(super::run::resend(chat, connections, id, text));
        #[cfg(not(feature = "hydrate"))]
        let _ = (id, text, connections);
    };
    let content = message.content.clone();
    view! {
        <div class="msg user" data-testid="message" data-role=role>
            <Show
                when=move || editing.get()
                fallback=move || view! {
                    <div class="msg-text">{content.clone()}</div>
                    <div class="msg-actions">
                        <button type="button" class="link" disabled=move || chat.running() on:click=move |_| editing.set(true)>"Edit"</button>
                    </div>
                }
            >
                <textarea rows="3" aria-label="Edit message" prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev))></textarea>
                <div class="msg-actions">
                    <button type="button" class="button primary" on:click=resend>"Send again"</button>
                    <button type="button" class="button secondary" on:click=move |_| editing.set(false)>"Cancel"</button>
                </div>
            </Show>
        </div>
    }
    .into_any()
}

/// Model, time and tokens of an answer.
fn meta_line(message: &ChatMessage) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(model) = &message.model {
        parts.push(model.clone());
    }
    if let Some(ms) = message.duration_ms {
        parts.push(if ms < 1000 {
            format!("{ms} ms")
        } else {
            format!("{:.1} s", ms as f64 / 1000.0)
        });
    }
    if let (Some(p), Some(c)) = (message.prompt_tokens, message.completion_tokens) {
        parts.push(format!("{p} + {c} tokens"));
    }
    parts.join(" · ")
}

#[component]
fn AssistantMessage(message: ChatMessage) -> impl IntoView {
    let render = expect_context::<Chat>().render;
    let content = message.content.clone();
    let html = move || render.html(&content);
    let raw = message.content.clone();
    let meta = meta_line(&message);
    view! {
        <div class="msg assistant" data-testid="message" data-role="assistant">
            {message.reasoning.filter(|r| !r.is_empty()).map(|r| view! { <Reasoning text=r/> })}
            <div class="markdown" inner_html=html></div>
            {message.stopped.then(|| view! { <p class="muted small">"Stopped by you."</p> })}
            {(message.partial && !message.stopped).then(|| view! {
                <p class="muted small" data-testid="interrupted">"Interrupted: the answer stopped arriving before it was complete."</p>
            })}
            {message.error.map(|e| view! { <p class="error" role="alert">"The answer failed: " {e}</p> })}
            <div class="msg-actions muted small">
                <span>{meta}</span>
                {(!raw.is_empty()).then(|| view! { <button type="button" class="link" on:click=move |_| copy_text(&raw)>"Copy"</button> })}
            </div>
        </div>
    }
    .into_any()
}

#[component]
fn Reasoning(#[prop(into)] text: Signal<String>) -> impl IntoView {
    view! {
        <details class="reasoning" data-testid="reasoning">
            <summary>"Reasoning"</summary>
            <div class="reasoning-text">{text}</div>
        </details>
    }
}

/// Arguments as the model wrote them, indented when they are JSON.
fn pretty(arguments: &str) -> String {
    serde_json::from_str::<serde_json::Value>(arguments)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| arguments.to_owned())
}

#[component]
fn ToolCallCard(message: ChatMessage) -> impl IntoView {
    let chat = expect_context::<Chat>();
    // The call this result answers: found once, when the card is made.
    let arguments = message.tool_call_id.as_ref().and_then(|id| {
        chat.messages.with_untracked(|all| {
            all.iter()
                .flat_map(|m| &m.tool_calls)
                .find(|c| &c.id == id)
                .map(|c| pretty(&c.arguments))
        })
    });
    let run = message.tool_run.clone().unwrap_or_default();
    let state = match (run.denied, run.is_error) {
        (true, _) => "denied",
        (false, true) => "error",
        (false, false) => "done",
    };
    let status = match (run.denied, run.is_error, message.duration_ms) {
        (true, _, _) => "denied by you".to_owned(),
        (false, true, _) => "failed".to_owned(),
        (false, false, Some(ms)) => format!("done in {ms} ms"),
        (false, false, None) => "done".to_owned(),
    };
    view! {
        <div class="tool-card" data-testid="tool-card" data-state=state>
            <div class="tool-card-head">
                <span class="tool-name">{run.tool}</span>
                <span class="muted small">{run.server}</span>
                <span class="badge" class:failed=run.is_error && !run.denied class:ok=!run.is_error>{status}</span>
            </div>
            {arguments.map(|a| view! { <pre class="tool-args" aria-label="Arguments">{a}</pre> })}
            <pre class="tool-result" class:error=run.is_error data-testid="tool-result">{message.content}</pre>
            {run.images.into_iter().map(|src| view! { <img class="tool-image" src=src alt="An image the tool returned"/> }).collect_view()}
        </div>
    }
    .into_any()
}

#[component]
fn PendingToolCallCard(call: PendingCall) -> impl IntoView {
    let chat = expect_context::<Chat>();
    view! {
        <div class="tool-card pending" data-testid="tool-card" data-state="pending">
            <div class="tool-card-head">
                <span class="tool-name">{call.tool}</span>
                <span class="muted small">{call.server}</span>
                <span class="badge pending">{if call.awaiting { "wants to run" } else { "running…" }}</span>
            </div>
            <pre class="tool-args" aria-label="Arguments">{pretty(&call.arguments)}</pre>
            {call.awaiting.then(|| view! {
                <div class="actions">
                    <button type="button" class="button primary" on:click=move |_| chat.decide(Decision::Once)>"Allow once"</button>
                    <button type="button" class="button secondary" on:click=move |_| chat.decide(Decision::Always)>"Always allow"</button>
                    <button type="button" class="button secondary" on:click=move |_| chat.decide(Decision::Deny)>"Deny"</button>
                </div>
            })}
        </div>
    }
    .into_any()
}

/// The answer as it streams in: only this element changes per token.
#[component]
fn LiveAnswer() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let html = move || chat.with_run(|r| chat.render.html(r.map_or("", |r| &r.content)));
    let reasoning = move || chat.with_run(|r| r.map(|r| r.reasoning.clone()).unwrap_or_default());
    let has_reasoning = move || chat.with_run(|r| r.is_some_and(|r| !r.reasoning.is_empty()));
    view! {
        <div class="msg assistant live" data-testid="live-answer">
            <Show when=has_reasoning>
                <Reasoning text=Signal::derive(reasoning)/>
            </Show>
            <div class="markdown" inner_html=html></div>
            <Show when=move || chat.with_run(|r| r.is_none_or(|r| r.content.is_empty() && r.reasoning.is_empty()))>
                <p class="muted small typing">"Thinking…"</p>
            </Show>
        </div>
    }
    .into_any()
}

/// Before the first message: what to do, once it is known whether an LLM is there.
#[component]
fn ChatEmpty() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let session = crate::session::use_session();
    // `None` while the list of LLMs is not known: the greeting claims nothing.
    let missing = move || {
        chat.models
            .with(|m| m.as_ref().is_some_and(Vec::is_empty))
            .then(|| session.is_admin())
    };
    let (title, text) = (
        move || match missing() {
            None => "What can I help with?",
            Some(true) => "Add an LLM to start",
            Some(false) => "No LLM is available to you yet",
        },
        move || {
            match missing() {
            None => "Answers stream in from the model you pick above; tools of your connected MCP servers are offered to it, and each call asks you first unless you said “Always allow”.",
            Some(true) => "No LLM is set up yet. Add one (OpenAI, Anthropic, or any OpenAI-compatible server such as llama.cpp or Ollama) and grant it to the people who chat here.",
            Some(false) => "Ask an admin of this Hearth to add an LLM and grant it to you; then you can chat here.",
        }
        },
    );
    view! {
        <div class="chat-empty" data-testid="chat-empty">
            <h1>{title}</h1>
            <p class="muted">{text}</p>
            <p class:hidden=move || missing() != Some(true)><a href="/llms" class="button primary">"Add an LLM"</a></p>
        </div>
    }
}

#[component]
pub fn Thread() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let connections = use_connections();
    let running = move || chat.with_run(|r| r.is_some());
    let streaming = move || chat.with_run(|r| r.is_some_and(|r| r.streaming));
    let pending = move || chat.with_run(|r| r.and_then(|r| r.pending.clone()));
    // The answer being streamed is saved as it grows: its saved row gives way to the live one.
    let live_row = move || chat.with_run(|r| r.and_then(|r| r.message));
    let thread = NodeRef::<leptos::html::Div>::new();
    // Open at the end, and follow the answer as it grows unless the user scrolled up to read.
    Effect::new(move |_| {
        chat.runs.track();
        chat.messages.track();
        if let Some(el) = thread.get() {
            if el.scroll_height() - el.scroll_top() - el.client_height() < 160 || !untrack(running)
            {
                el.set_scroll_top(el.scroll_height());
            }
        }
    });
    let regenerate = move |_| {
        #[cfg(feature = "hydrate")]
        spawn_local(super::run::regenerate(chat, connections));
        #[cfg(not(feature = "hydrate"))]
        let _ = connections;
    };
    let can_regenerate = move || {
        !running()
            && chat.messages.with(|m| {
                m.last()
                    .is_some_and(|m| m.role != crate::api::ChatRole::User)
            })
    };
    let shown = move || {
        let hidden = live_row();
        chat.messages
            .get()
            .into_iter()
            .filter(|m| Some(m.id) != hidden)
            .collect::<Vec<_>>()
    };
    view! {
        <div class="thread" node_ref=thread on:click=copy_code>
            <Show when=move || chat.loading.get()>
                <p class="muted">"Loading the conversation…"</p>
            </Show>
            <Show when=move || chat.current.get().is_none() && chat.messages.with(Vec::is_empty)>
                <ChatEmpty/>
            </Show>
            <For each=shown key=|m| (m.id, m.partial) children=|message| view! { <MessageView message/> }/>
            <Show when=streaming>
                <LiveAnswer/>
            </Show>
            {move || pending().map(|call| view! { <PendingToolCallCard call/> })}
            {move || chat.error_here().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <Show when=can_regenerate>
                <div class="actions">
                    <button type="button" class="button secondary" on:click=regenerate>"Regenerate"</button>
                </div>
            </Show>
        </div>
    }
    .into_any()
}

/// The copy buttons of code blocks, which live in rendered markdown.
fn copy_code(ev: leptos::ev::MouseEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(button) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|t| t.closest("[data-copy]").ok().flatten())
        else {
            return;
        };
        let code = button
            .closest(".code")
            .ok()
            .flatten()
            .and_then(|block| block.query_selector("pre code").ok().flatten());
        if let Some(text) = code.and_then(|c| c.text_content()) {
            copy_text(&text);
            button.set_text_content(Some("Copied"));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}
