//! The chat page: conversations kept on Hearth, answers streamed through its gateway, and the
//! tools of the user's MCP servers run from this browser after the user allows them.
//!
//! The thread renders each saved message once (a keyed list); the answer being streamed is a
//! separate element below it, so a token re-renders that one element only.
//!
//! The state ([`Chat`]) and the answers under way belong to the app, not to the page: an
//! answer goes on streaming (and is saved as it grows) while the user reads another
//! conversation or another page, and is there, complete, on return.

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

/// An answer under way in one conversation, as the page shows it. The user may look at
/// another conversation or page meanwhile: the answer goes on, and shows again on return.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Run {
    pub conversation: i64,
    /// The answer being streamed; shown while `streaming`.
    pub content: String,
    pub reasoning: String,
    pub streaming: bool,
    /// The saved row of the answer being streamed (saved as it grows): the thread shows the
    /// live answer in its place.
    pub message: Option<i64>,
    pub pending: Option<PendingCall>,
}

/// What only the loop of one run holds: how to stop it or answer its tool call, and the
/// conversation's messages as that loop knows them (the page may show another one).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
struct Control {
    conversation: i64,
    stop: Option<futures::channel::oneshot::Sender<()>>,
    decide: Option<futures::channel::oneshot::Sender<Decision>>,
    history: Vec<ChatMessage>,
}

/// The chat's state, shared by the page's parts. It belongs to the app, not to the page, so
/// an answer keeps streaming while the user is elsewhere.
#[derive(Clone, Copy)]
pub struct Chat {
    /// `None` until the list has arrived: nothing is said to be empty before it is known.
    pub conversations: RwSignal<Option<Vec<ConversationSummary>>>,
    pub search: RwSignal<String>,
    pub current: RwSignal<Option<i64>>,
    pub messages: RwSignal<Vec<ChatMessage>>,
    pub loading: RwSignal<bool>,
    pub models: RwSignal<Option<Vec<String>>>,
    pub model: RwSignal<String>,
    /// The model the open conversation last used, when it is no longer available.
    pub model_gone: RwSignal<Option<String>>,
    pub servers: RwSignal<Vec<PersonalMcpServer>>,
    /// Whether `servers` has arrived: until then nothing is said about them.
    pub servers_known: RwSignal<bool>,
    /// Answers under way, at most one per conversation.
    pub runs: RwSignal<Vec<Run>>,
    /// A failure to show, and the conversation it belongs to (`None`: wherever the user is).
    pub error: RwSignal<Option<String>>,
    error_at: RwSignal<Option<i64>>,
    pub max_turns: RwSignal<u32>,
    /// On a phone: the conversation list is open over the thread.
    pub drawer: RwSignal<bool>,
    /// Answers' markdown as HTML, once its code has arrived.
    pub render: render::Renderer,
    controls: StoredValue<Controls>,
}

/// The loops under way, and whether the chat has loaded what it needs.
#[derive(Default)]
struct Controls {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    started: bool,
    runs: Vec<Control>,
}

impl Chat {
    fn new() -> Chat {
        Chat {
            conversations: RwSignal::new(None),
            search: RwSignal::new(String::new()),
            current: RwSignal::new(None),
            messages: RwSignal::new(Vec::new()),
            loading: RwSignal::new(false),
            models: RwSignal::new(None),
            model: RwSignal::new(String::new()),
            model_gone: RwSignal::new(None),
            servers: RwSignal::new(Vec::new()),
            servers_known: RwSignal::new(false),
            runs: RwSignal::new(Vec::new()),
            error: RwSignal::new(None),
            error_at: RwSignal::new(None),
            max_turns: RwSignal::new(DEFAULT_MAX_TURNS),
            drawer: RwSignal::new(false),
            render: render::Renderer::new(),
            controls: StoredValue::new(Controls::default()),
        }
    }

    /// Reads the run of the open conversation (`None` when no answer is under way there).
    pub fn with_run<T>(&self, f: impl FnOnce(Option<&Run>) -> T) -> T {
        let id = self.current.get();
        self.runs
            .with(|runs| f(runs.iter().find(|r| Some(r.conversation) == id)))
    }

    /// Whether an answer is under way in the open conversation.
    pub fn running(&self) -> bool {
        let Some(id) = self.current.get() else {
            return false;
        };
        self.runs
            .with(|runs| runs.iter().any(|r| r.conversation == id))
    }

    pub fn running_untracked(&self, id: i64) -> bool {
        self.runs
            .with_untracked(|runs| runs.iter().any(|r| r.conversation == id))
    }

    /// Shows `message` as a failure in conversation `id` (or wherever the user is).
    pub fn fail(&self, id: Option<i64>, message: impl Into<String>) {
        self.error_at.set(id);
        self.error.set(Some(message.into()));
    }

    /// Clears the failure shown in conversation `id` (any failure when `None`).
    pub fn clear_error(&self, id: Option<i64>) {
        if id.is_none() || self.error_at.get_untracked() == id {
            self.error.set(None);
        }
    }

    /// The failure to show beside the open conversation.
    pub fn error_here(&self) -> Option<String> {
        let at = self.error_at.get();
        self.error
            .get()
            .filter(|_| at.is_none() || at == self.current.get())
    }

    /// Stops the answer or tool call under way in the open conversation; what had arrived
    /// is kept.
    pub fn stop(&self) {
        if let Some(tx) = self.take_control(|c| c.stop.take()) {
            let _ = tx.send(());
        }
    }

    /// Answers the tool call waiting for approval in the open conversation.
    pub fn decide(&self, decision: Decision) {
        if let Some(tx) = self.take_control(|c| c.decide.take()) {
            let _ = tx.send(decision);
        }
    }

    /// Takes a sender out of the control of the open conversation's run.
    fn take_control<T>(&self, take: impl FnOnce(&mut Control) -> Option<T>) -> Option<T> {
        let id = self.current.get_untracked()?;
        self.controls
            .try_update_value(|all| {
                all.runs
                    .iter_mut()
                    .find(|c| c.conversation == id)
                    .and_then(take)
            })
            .flatten()
    }

    /// Reloads the conversation list (after a send moves one to the top).
    pub fn refresh_list(&self) {
        let chat = *self;
        spawn_local(async move {
            match client::list_conversations(&chat.search.get_untracked()).await {
                Ok(list) => chat.conversations.set(Some(list.data)),
                Err(e) => chat.fail(None, e.message),
            }
        });
    }

    /// Shows conversation `id`, or a new one when `None`. An answer under way elsewhere goes
    /// on.
    pub fn open(&self, id: Option<i64>) {
        let chat = *self;
        let shown = chat.current.get_untracked() == id
            && id.is_none_or(|id| {
                chat.loading.get_untracked()
                    || chat.running_untracked(id)
                    || !chat.messages.with_untracked(Vec::is_empty)
            });
        if shown {
            return;
        }
        chat.clear_error(None);
        chat.model_gone.set(None);
        chat.current.set(id);
        chat.messages.set(Vec::new());
        let Some(id) = id else {
            chat.loading.set(false);
            return;
        };
        chat.loading.set(true);
        // The server renders "Loading…"; the browser fetches.
        #[cfg(not(feature = "hydrate"))]
        let _ = id;
        #[cfg(feature = "hydrate")]
        spawn_local(async move {
            let loaded = client::get_conversation(id).await;
            if chat.current.get_untracked() != Some(id) {
                return;
            }
            chat.loading.set(false);
            match loaded {
                Ok(conversation) => {
                    let last = conversation
                        .messages
                        .iter()
                        .rev()
                        .find_map(|m| m.model.clone())
                        .or(conversation.model.clone());
                    let mut messages = conversation.messages;
                    // What the run here saved while the conversation was being fetched.
                    let newest = messages.last().map_or(0, |m| m.id);
                    chat.controls.with_value(|all| {
                        if let Some(control) = all.runs.iter().find(|c| c.conversation == id) {
                            messages
                                .extend(control.history.iter().filter(|m| m.id > newest).cloned());
                        }
                    });
                    chat.messages.set(messages);
                    chat.model_used(last);
                }
                Err(e) => chat.fail(Some(id), e.message),
            }
        });
    }

    /// Goes on with the model the open conversation last used, or says it is gone.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn model_used(&self, last: Option<String>) {
        let Some(last) = last else { return };
        match self.models.get_untracked() {
            Some(all) if all.contains(&last) => self.model.set(last),
            Some(_) => self.model_gone.set(Some(last)),
            // The list of models is not here yet: `start` picks it when it arrives.
            None => self.model.set(last),
        }
    }

    /// Picks `model` for the next answers.
    pub fn choose_model(&self, model: String) {
        self.model_gone.set(None);
        self.model.set(model);
    }
}

/// The chat's state, made once the chat page is first opened (not before: it fetches the
/// markdown renderer) and kept by the app from then on.
#[derive(Clone)]
pub struct ChatHome {
    owner: Owner,
    chat: std::sync::Arc<std::sync::OnceLock<Chat>>,
}

impl ChatHome {
    pub fn new() -> ChatHome {
        ChatHome {
            owner: Owner::current().unwrap_or_default(),
            chat: Default::default(),
        }
    }

    fn chat(&self) -> Chat {
        *self.chat.get_or_init(|| self.owner.with(Chat::new))
    }
}

/// The address of conversation `id` (a new chat when `None`): each conversation has its own
/// address and history entry.
pub fn address(id: Option<i64>) -> String {
    id.map_or_else(|| "/chat".to_owned(), |id| format!("/chat?c={id}"))
}

#[cfg(feature = "hydrate")]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// Loads what the chat needs the first time the page opens in the browser, and connects the
/// user's MCP servers so their tools are on offer (except those the user disconnected).
#[cfg(feature = "hydrate")]
fn start(chat: Chat, connections: crate::connections::Connections) {
    if chat.controls.with_value(|c| c.started) {
        chat.refresh_list();
        return;
    }
    chat.controls.update_value(|c| c.started = true);
    if let Some(turns) = storage()
        .and_then(|s| s.get_item(MAX_TURNS_KEY).ok().flatten())
        .and_then(|v| v.parse().ok())
    {
        chat.max_turns.set(turns);
    }
    spawn_local(async move {
        // The LLM of the conversation the user last wrote in (on any device) is the one last
        // used: new chats start with it.
        let last_used = match client::list_conversations("").await {
            Ok(list) => {
                let last = list.data.iter().find_map(|c| c.model.clone());
                chat.conversations.set(Some(list.data));
                last
            }
            Err(e) => {
                chat.fail(None, e.message);
                None
            }
        };
        match client::list_models().await {
            Ok(list) => {
                let names: Vec<String> = list.data.into_iter().map(|m| m.id).collect();
                // The open conversation's model, else the one last used, else the first.
                let wanted = Some(chat.model.get_untracked()).filter(|m| !m.is_empty());
                if let Some(gone) = wanted.clone().filter(|m| !names.contains(m)) {
                    chat.model_gone.set(Some(gone));
                }
                let pick = [wanted, last_used]
                    .into_iter()
                    .flatten()
                    .find(|m| names.contains(m))
                    .or_else(|| names.first().cloned());
                chat.model.set(pick.unwrap_or_default());
                chat.models.set(Some(names));
            }
            Err(e) => {
                chat.models.set(Some(Vec::new()));
                chat.fail(None, e.message);
            }
        }
        if let Ok(list) = client::list_mcp_servers().await {
            let mut servers = list.data;
            // The shared servers' code is a chunk of its own: the page is interactive first.
            if let Ok(shared) = split::shared_servers().await {
                servers.extend(shared.await);
            }
            // Not those the user disconnected: they stay so until connected again.
            for server in servers.iter().filter(|s| s.auto_connect) {
                if connections.runtime(server.id).status.get_untracked() == Status::Disconnected {
                    connections.connect(server.clone());
                }
            }
            chat.servers.set(servers);
        }
        chat.servers_known.set(true);
    });
}

/// The shared servers the user may use, as chat connects to them: through Hearth's
/// `/mcp/{name}` on this origin (the session cookie authenticates), with the user's
/// approvals. Their ids are negative, which no server of the user's own has.
#[cfg(feature = "hydrate")]
async fn shared_servers() -> Vec<PersonalMcpServer> {
    let Ok(list) = client::list_shared_approvals().await else {
        return Vec::new();
    };
    let origin = client::origin();
    list.data
        .into_iter()
        .enumerate()
        .map(|(at, shared)| PersonalMcpServer {
            id: -1 - at as i64,
            url: format!("{origin}/mcp/{}", shared.server),
            name: shared.server,
            transport: crate::api::McpTransport::StreamableHttp,
            headers: Vec::new(),
            use_proxy: false,
            tools: Default::default(),
            approvals: shared.approvals,
            known_tools: Vec::new(),
            auto_connect: true,
            created_at: 0,
            updated_at: 0,
        })
        .collect()
}

#[cfg(feature = "hydrate")]
mod split {
    use std::future::Future;
    use std::pin::Pin;

    use leptos::wasm_split::{wasm_split, SplitLoaderError};

    use crate::api::PersonalMcpServer;

    type Servers = Pin<Box<dyn Future<Output = Vec<PersonalMcpServer>>>>;

    #[wasm_split(chat_shared, wasm_split_path = ::leptos::wasm_split, fallible)]
    pub fn shared_servers() -> Result<Servers, SplitLoaderError> {
        Ok(Box::pin(super::shared_servers()))
    }
}

#[component]
pub fn ChatPage() -> impl IntoView {
    let chat = expect_context::<ChatHome>().chat();
    provide_context(chat);
    // The conversation in the address: a link, Back and Forward all open it.
    let query = leptos_router::hooks::use_query_map();
    let wanted = move || query.with(|q| q.get("c").and_then(|c| c.parse::<i64>().ok()));
    // At once, not in an effect: the server renders (and hydration finds) the same thread.
    chat.open(untrack(wanted));
    #[cfg(feature = "hydrate")]
    let connections = use_connections();
    Effect::new(move |started: Option<()>| {
        #[cfg(feature = "hydrate")]
        if started.is_none() {
            start(chat, connections);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = started;
        chat.open(wanted());
        // Opening a conversation (or a new chat) closes the list on a phone.
        chat.drawer.set(false);
    });
    // A conversation started here gets its address (in place of the new chat's); a deleted
    // one gives way to a new chat.
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        let current = chat.current.get();
        if current != untrack(wanted) {
            navigate(
                &address(current),
                leptos_router::NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
    let title = move || {
        let id = chat.current.get();
        let named = chat.conversations.with(|all| {
            all.as_ref().and_then(|all| {
                all.iter()
                    .find(|c| Some(c.id) == id)
                    .map(|c| c.title.clone())
            })
        });
        format!("{} — Hearth", named.unwrap_or_else(|| "Chat".to_owned()))
    };

    view! {
        <Title text=title/>
        <div class="chat" class:drawer=move || chat.drawer.get()>
            <button type="button" class="drawer-backdrop" tabindex="-1" aria-label="Close the conversation list" on:click=move |_| chat.drawer.set(false)></button>
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
