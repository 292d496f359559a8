//! The chat page: conversations kept on Hearth, answers streamed through its gateway, and the
//! tools of the user's MCP servers run from this browser after the user allows them.
//!
//! The thread renders each saved message once (a keyed list); the answer being streamed is a
//! separate element below it, so a token re-renders that one element only.

#[cfg(feature = "hydrate")]
mod run;
mod thread;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{client, ChatMessage, ConversationSummary, PersonalMcpServer};
use crate::connections::{use_connections, Status};
use thread::{LiveAnswer, MessageView, PendingCard};

/// How many model turns a single send may take with tools before it stops and asks.
pub const DEFAULT_MAX_TURNS: u32 = 20;
#[cfg(feature = "hydrate")]
const MAX_TURNS_KEY: &str = "hearth.chat.maxTurns";

/// A tool call shown before its result is saved: waiting for the user, or running.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingCall {
    pub server: String,
    pub tool: String,
    pub arguments: String,
    pub awaiting: bool,
}

/// What the user said to a tool call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Once,
    Always,
    Deny,
}

/// The page's state, shared by its parts.
#[derive(Clone, Copy)]
pub struct Chat {
    pub conversations: RwSignal<Vec<ConversationSummary>>,
    pub search: RwSignal<String>,
    pub current: RwSignal<Option<i64>>,
    pub messages: RwSignal<Vec<ChatMessage>>,
    pub loading: RwSignal<bool>,
    pub models: RwSignal<Option<Vec<String>>>,
    pub model: RwSignal<String>,
    pub servers: RwSignal<Vec<PersonalMcpServer>>,
    /// The answer being streamed; shown while `streaming`.
    pub live_content: RwSignal<String>,
    pub live_reasoning: RwSignal<String>,
    pub streaming: RwSignal<bool>,
    pub pending: RwSignal<Option<PendingCall>>,
    pub running: RwSignal<bool>,
    pub error: RwSignal<Option<String>>,
    pub max_turns: RwSignal<u32>,
    stop: StoredValue<Option<futures::channel::oneshot::Sender<()>>>,
    decide: StoredValue<Option<futures::channel::oneshot::Sender<Decision>>>,
}

impl Chat {
    fn new() -> Chat {
        Chat {
            conversations: RwSignal::new(Vec::new()),
            search: RwSignal::new(String::new()),
            current: RwSignal::new(None),
            messages: RwSignal::new(Vec::new()),
            loading: RwSignal::new(false),
            models: RwSignal::new(None),
            model: RwSignal::new(String::new()),
            servers: RwSignal::new(Vec::new()),
            live_content: RwSignal::new(String::new()),
            live_reasoning: RwSignal::new(String::new()),
            streaming: RwSignal::new(false),
            pending: RwSignal::new(None),
            running: RwSignal::new(false),
            error: RwSignal::new(None),
            max_turns: RwSignal::new(DEFAULT_MAX_TURNS),
            stop: StoredValue::new(None),
            decide: StoredValue::new(None),
        }
    }

    /// Stops the answer or tool call under way; what had arrived is kept.
    pub fn stop(&self) {
        self.stop.update_value(|s| {
            if let Some(tx) = s.take() {
                let _ = tx.send(());
            }
        });
    }

    /// Answers the tool call waiting for approval.
    pub fn decide(&self, decision: Decision) {
        self.decide.update_value(|d| {
            if let Some(tx) = d.take() {
                let _ = tx.send(decision);
            }
        });
    }

    /// Reloads the conversation list (after a send moves one to the top).
    pub fn refresh_list(&self) {
        let chat = *self;
        spawn_local(async move {
            match client::list_conversations(&chat.search.get_untracked()).await {
                Ok(list) => chat.conversations.set(list.data),
                Err(e) => chat.error.set(Some(e.message)),
            }
        });
    }

    /// Shows conversation `id`, or a new one when `None`; an answer under way is stopped.
    pub fn open(&self, id: Option<i64>) {
        let chat = *self;
        chat.stop();
        chat.error.set(None);
        chat.current.set(id);
        set_address(id);
        let Some(id) = id else {
            chat.messages.set(Vec::new());
            return;
        };
        chat.loading.set(true);
        spawn_local(async move {
            let loaded = client::get_conversation(id).await;
            if chat.current.get_untracked() != Some(id) {
                return;
            }
            chat.loading.set(false);
            match loaded {
                Ok(conversation) => {
                    // Go on with the model the conversation last used, when it is still there.
                    let last = conversation.messages.iter().rev().find_map(|m| m.model.clone()).or(conversation.model.clone());
                    if let Some(model) = last.filter(|m| chat.models.get_untracked().is_some_and(|all| all.contains(m))) {
                        chat.model.set(model);
                    }
                    chat.messages.set(conversation.messages);
                }
                Err(e) => {
                    chat.messages.set(Vec::new());
                    chat.error.set(Some(e.message));
                }
            }
        });
    }
}

/// Keeps the open conversation in the address bar, so a reload comes back to it.
fn set_address(id: Option<i64>) {
    #[cfg(feature = "hydrate")]
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let url = id.map_or_else(|| "/chat".to_owned(), |id| format!("/chat?c={id}"));
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

#[cfg(feature = "hydrate")]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// Loads what the page needs once it runs in the browser, and connects the user's MCP
/// servers so their tools are on offer.
#[cfg(feature = "hydrate")]
fn start(chat: Chat, connections: crate::connections::Connections) {
    if let Some(turns) = storage().and_then(|s| s.get_item(MAX_TURNS_KEY).ok().flatten()).and_then(|v| v.parse().ok()) {
        chat.max_turns.set(turns);
    }
    let wanted = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|q| url::form_urlencoded::parse(q.trim_start_matches('?').as_bytes()).find(|(k, _)| k == "c").and_then(|(_, v)| v.parse::<i64>().ok()));
    spawn_local(async move {
        match client::list_models().await {
            Ok(list) => {
                let names: Vec<String> = list.data.into_iter().map(|m| m.id).collect();
                if let Some(first) = names.first() {
                    chat.model.set(first.clone());
                }
                chat.models.set(Some(names));
            }
            Err(e) => {
                chat.models.set(Some(Vec::new()));
                chat.error.set(Some(e.message));
            }
        }
        chat.open(wanted);
        chat.refresh_list();
        if let Ok(list) = client::list_mcp_servers().await {
            for server in &list.data {
                if connections.runtime(server.id).status.get_untracked() == Status::Disconnected {
                    connections.connect(server.clone());
                }
            }
            chat.servers.set(list.data);
        }
    });
}

#[component]
pub fn ChatPage() -> impl IntoView {
    let chat = Chat::new();
    provide_context(chat);
    #[cfg(feature = "hydrate")]
    {
        let connections = use_connections();
        Effect::new(move |started: Option<()>| {
            if started.is_none() {
                start(chat, connections);
            }
        });
    }

    view! {
        <div class="chat">
            <ConversationList/>
            <section class="chat-main">
                <ChatHead/>
                <Thread/>
                <Composer/>
            </section>
        </div>
    }
    .into_any()
}

#[component]
fn ConversationList() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let on_search = move |ev| {
        chat.search.set(event_target_value(&ev));
        chat.refresh_list();
    };
    let rename = move |summary: ConversationSummary| {
        #[cfg(feature = "hydrate")]
        {
            let Some(title) = web_sys::window()
                .and_then(|w| w.prompt_with_message_and_default("Rename the conversation", &summary.title).ok().flatten())
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
            else {
                return;
            };
            spawn_local(async move {
                let input = crate::api::ConversationInput { title: Some(title), model: None };
                match client::update_conversation(summary.id, &input).await {
                    Ok(_) => chat.refresh_list(),
                    Err(e) => chat.error.set(Some(e.message)),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = summary;
    };
    let delete = move |summary: ConversationSummary| {
        #[cfg(feature = "hydrate")]
        {
            let question = format!("Delete the conversation “{}”? This cannot be undone.", summary.title);
            if !web_sys::window().and_then(|w| w.confirm_with_message(&question).ok()).unwrap_or(false) {
                return;
            }
            spawn_local(async move {
                match client::delete_conversation(summary.id).await {
                    Ok(()) => {
                        if chat.current.get_untracked() == Some(summary.id) {
                            chat.open(None);
                        }
                        chat.refresh_list();
                    }
                    Err(e) => chat.error.set(Some(e.message)),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = summary;
    };
    view! {
        <aside class="chat-list" aria-label="Conversations">
            <button type="button" class="button primary" on:click=move |_| chat.open(None)>"New chat"</button>
            <input type="search" placeholder="Search titles" aria-label="Search conversations" prop:value=move || chat.search.get() on:input=on_search/>
            <ul>
                <For
                    each=move || chat.conversations.get()
                    key=|c| (c.id, c.title.clone(), c.updated_at)
                    children=move |summary| {
                        let id = summary.id;
                        let (for_rename, for_delete) = (summary.clone(), summary.clone());
                        view! {
                            <li class="conversation" class:active=move || chat.current.get() == Some(id) data-testid="conversation">
                                <a href=format!("/chat?c={id}") on:click=move |ev| {
                                    ev.prevent_default();
                                    chat.open(Some(id));
                                }>{summary.title.clone()}</a>
                                <span class="conversation-actions">
                                    <button type="button" class="link" title="Rename" on:click=move |_| rename(for_rename.clone())>"Rename"</button>
                                    <button type="button" class="link" title="Delete" on:click=move |_| delete(for_delete.clone())>"Delete"</button>
                                </span>
                            </li>
                        }
                    }
                />
            </ul>
            <Show when=move || chat.conversations.with(Vec::is_empty)>
                <p class="muted small">{move || if chat.search.with(String::is_empty) { "No conversations yet." } else { "No conversation has that in its title." }}</p>
            </Show>
        </aside>
    }
    .into_any()
}

/// The model selector, the tools on offer and the turn limit.
#[component]
fn ChatHead() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let connections = use_connections();
    let tools_line = move || {
        let servers = chat.servers.get();
        if servers.is_empty() {
            return "No MCP servers: add some on the MCP servers page to use their tools here.".to_owned();
        }
        servers
            .iter()
            .map(|s| {
                let runtime = connections.runtime(s.id);
                match runtime.status.get() {
                    Status::Connected => {
                        let n = runtime.tools.with(|t| t.iter().filter(|t| s.tool_enabled(&t.name)).count());
                        format!("{}: {n} tools", s.name)
                    }
                    Status::Connecting => format!("{}: connecting…", s.name),
                    Status::Disconnected => format!("{}: not connected", s.name),
                    Status::Failed(_) => format!("{}: failed to connect", s.name),
                }
            })
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let on_turns = move |ev| {
        let Ok(turns) = event_target_value(&ev).parse::<u32>() else { return };
        let turns = turns.clamp(1, 100);
        chat.max_turns.set(turns);
        #[cfg(feature = "hydrate")]
        if let Some(storage) = storage() {
            let _ = storage.set_item(MAX_TURNS_KEY, &turns.to_string());
        }
    };
    view! {
        <div class="chat-head">
            <label class="inline">
                "Model "
                <select aria-label="Model" on:change=move |ev| chat.model.set(event_target_value(&ev))>
                    {move || match chat.models.get() {
                        None => view! { <option value="">"Loading…"</option> }.into_any(),
                        Some(models) if models.is_empty() => view! { <option value="">"No LLM available"</option> }.into_any(),
                        Some(models) => models
                            .into_iter()
                            .map(|m| {
                                let (value, selected) = (m.clone(), m.clone());
                                view! { <option value=value selected=move || chat.model.get() == selected>{m}</option> }
                            })
                            .collect_view()
                            .into_any(),
                    }}
                </select>
            </label>
            <span class="muted small" data-testid="chat-tools">{tools_line}</span>
            <label class="inline small">
                "Tool turns "
                <input type="number" min="1" max="100" class="turns" aria-label="Tool turns" prop:value=move || chat.max_turns.get().to_string() on:change=on_turns/>
            </label>
        </div>
    }
    .into_any()
}

#[component]
fn Thread() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let connections = use_connections();
    let thread = NodeRef::<leptos::html::Div>::new();
    // Follow the answer as it grows, unless the user scrolled up to read.
    Effect::new(move |_| {
        chat.live_content.track();
        chat.messages.track();
        chat.pending.track();
        if let Some(el) = thread.get() {
            if el.scroll_height() - el.scroll_top() - el.client_height() < 160 || !chat.running.get_untracked() {
                el.set_scroll_top(el.scroll_height());
            }
        }
    });
    let regenerate = move |_| {
        #[cfg(feature = "hydrate")]
        spawn_local(run::regenerate(chat, connections));
        #[cfg(not(feature = "hydrate"))]
        let _ = connections;
    };
    let can_regenerate = move || !chat.running.get() && chat.messages.with(|m| m.last().is_some_and(|m| m.role != crate::api::ChatRole::User));
    view! {
        <div class="thread" node_ref=thread on:click=copy_code>
            <Show when=move || chat.loading.get()>
                <p class="muted">"Loading the conversation…"</p>
            </Show>
            <Show when=move || chat.current.get().is_none() && chat.messages.with(Vec::is_empty) && !chat.running.get()>
                <div class="chat-empty muted">
                    <h1>"What can I help with?"</h1>
                    <p>"Answers stream in from the model you pick above; tools of your connected MCP servers are offered to it, and each call asks you first unless you said “Always allow”."</p>
                </div>
            </Show>
            <For each=move || chat.messages.get() key=|m| m.id children=|message| view! { <MessageView message/> }/>
            <Show when=move || chat.streaming.get()>
                <LiveAnswer/>
            </Show>
            {move || chat.pending.get().map(|call| view! { <PendingCard call/> })}
            {move || chat.error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
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
        let Some(button) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).and_then(|t| t.closest("[data-copy]").ok().flatten()) else {
            return;
        };
        let code = button.closest(".code").ok().flatten().and_then(|block| block.query_selector("pre code").ok().flatten());
        if let Some(text) = code.and_then(|c| c.text_content()) {
            thread::copy_text(&text);
            button.set_text_content(Some("Copied"));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

#[component]
fn Composer() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let connections = use_connections();
    let draft = RwSignal::new(String::new());
    let send = move || {
        if chat.running.get_untracked() {
            return;
        }
        let text = draft.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        draft.set(String::new());
        #[cfg(feature = "hydrate")]
        spawn_local(run::send(chat, connections, text));
        #[cfg(not(feature = "hydrate"))]
        let _ = (connections, text);
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            send();
        }
    };
    view! {
        <form class="composer" on:submit=move |ev| {
            ev.prevent_default();
            send();
        }>
            <textarea
                rows="3"
                aria-label="Message"
                placeholder="Message (Enter sends, Shift+Enter for a new line)"
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
                on:keydown=on_keydown
            ></textarea>
            {move || if chat.running.get() {
                view! { <button type="button" class="button secondary" on:click=move |_| chat.stop()>"Stop"</button> }.into_any()
            } else {
                view! { <button type="submit" class="button primary" disabled=move || chat.models.with(|m| m.as_ref().is_none_or(Vec::is_empty))>"Send"</button> }.into_any()
            }}
        </form>
    }
    .into_any()
}
