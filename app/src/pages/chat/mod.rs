//! The chat page: conversations kept on Hearth, answers streamed through its gateway, and the
//! tools of the user's MCP servers run from this browser after the user allows them.
//!
//! The thread renders each saved message once (a keyed list); the answer being streamed is a
//! separate element below it, so a token re-renders that one element only.

mod composer;
mod head;
mod list;
mod render;
#[cfg(feature = "hydrate")]
mod run;
mod thread;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

use crate::api::{client, ChatMessage, ConversationSummary, PersonalMcpServer};
#[cfg(feature = "hydrate")]
use crate::connections::{use_connections, Status};
use composer::ChatComposer;
use head::ChatHead;
use list::ConversationList;
use thread::Thread;

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
    /// Answers' markdown as HTML, once its code has arrived.
    pub render: render::Renderer,
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
            render: render::Renderer::new(),
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
                    let last = conversation
                        .messages
                        .iter()
                        .rev()
                        .find_map(|m| m.model.clone())
                        .or(conversation.model.clone());
                    if let Some(model) = last.filter(|m| {
                        chat.models
                            .get_untracked()
                            .is_some_and(|all| all.contains(m))
                    }) {
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
    if let Some(turns) = storage()
        .and_then(|s| s.get_item(MAX_TURNS_KEY).ok().flatten())
        .and_then(|v| v.parse().ok())
    {
        chat.max_turns.set(turns);
    }
    let wanted = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|q| {
            q.trim_start_matches('?')
                .split('&')
                .find_map(|pair| pair.strip_prefix("c="))
                .and_then(|v| v.parse::<i64>().ok())
        });
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
        <Title text="Chat — Hearth"/>
        <div class="chat">
            <ConversationList/>
            <section class="chat-main">
                <ChatHead/>
                <Thread/>
                <ChatComposer/>
            </section>
        </div>
    }
    .into_any()
}
