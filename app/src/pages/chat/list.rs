//! The conversation list: new chat, search by title, rename and delete.

use leptos::prelude::*;
#[cfg(feature = "hydrate")]
use leptos::task::spawn_local;

use super::Chat;
#[cfg(feature = "hydrate")]
use crate::api::client;
use crate::api::ConversationSummary;
use crate::components::{ConfirmDialog, TextDialog};

#[derive(Clone, Copy)]
enum Ask {
    Rename,
    Delete,
}

#[component]
pub fn ConversationList() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let on_search = move |ev| {
        chat.search.set(event_target_value(&ev));
        chat.refresh_list();
    };
    // The conversation being renamed or deleted, in a dialog.
    let asking = RwSignal::new(None::<(Ask, ConversationSummary)>);
    let close = Callback::new(move |()| asking.set(None));
    let rename = Callback::new(move |title: String| {
        let Some((_, summary)) = asking.get_untracked() else {
            return;
        };
        asking.set(None);
        #[cfg(feature = "hydrate")]
        spawn_local(async move {
            let input = crate::api::ConversationInput {
                title: Some(title),
                model: None,
            };
            match client::update_conversation(summary.id, &input).await {
                Ok(_) => chat.refresh_list(),
                Err(e) => chat.fail(None, e.message),
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (summary, title);
    });
    let delete = Callback::new(move |()| {
        let Some((_, summary)) = asking.get_untracked() else {
            return;
        };
        asking.set(None);
        #[cfg(feature = "hydrate")]
        spawn_local(async move {
            match client::delete_conversation(summary.id).await {
                Ok(()) => {
                    // The page then shows a new chat, at its address.
                    if chat.current.get_untracked() == Some(summary.id) {
                        chat.current.set(None);
                        chat.messages.set(Vec::new());
                    }
                    chat.refresh_list();
                }
                Err(e) => chat.fail(None, e.message),
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = summary;
    });
    // The dialogs' code is a chunk of its own, fetched when one is first opened: the chat
    // page is interactive without it.
    let loaded = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if asking.with(Option::is_some) && !loaded.get_untracked() {
            spawn_local(async move {
                match split::preload().await {
                    Ok(()) => loaded.set(true),
                    Err(_) => {
                        asking.set(None);
                        chat.fail(None, "This dialog could not be loaded: reload the page.");
                    }
                }
            });
        }
    });
    let dialog = move || {
        if !loaded.get() {
            return None;
        }
        let (ask, summary) = asking.get()?;
        #[cfg(feature = "hydrate")]
        return futures::FutureExt::now_or_never(split::dialog(
            ask, summary, rename, delete, close,
        ))
        .and_then(Result::ok);
        #[cfg(not(feature = "hydrate"))]
        Some(dialog_view(ask, summary, rename, delete, close))
    };
    view! {
        <aside class="chat-list" id="conversation-list" aria-label="Conversations">
            <a href="/chat" class="button primary" on:click=|_| focus_composer()>"New chat"</a>
            <input type="search" placeholder="Search titles" aria-label="Search conversations" prop:value=move || chat.search.get() on:input=on_search/>
            <ul>
                <For
                    each=move || chat.conversations.get().unwrap_or_default()
                    key=|c| (c.id, c.title.clone(), c.updated_at)
                    children=move |summary| {
                        let id = summary.id;
                        let (for_rename, for_delete) = (summary.clone(), summary.clone());
                        let answering = move || chat.runs.with(|runs| runs.iter().any(|r| r.conversation == id));
                        view! {
                            <li class="conversation" class:active=move || chat.current.get() == Some(id) data-testid="conversation">
                                <a href=super::address(Some(id))>
                                    {summary.title.clone()}
                                    <Show when=answering>
                                        <span class="answering" title="An answer is arriving">" …"</span>
                                    </Show>
                                </a>
                                {summary.model.clone().map(|m| view! { <span class="muted small model">{m}</span> })}
                                <span class="conversation-actions">
                                    <button type="button" class="link" on:click=move |_| asking.set(Some((Ask::Rename, for_rename.clone())))>"Rename"</button>
                                    <button type="button" class="link" on:click=move |_| asking.set(Some((Ask::Delete, for_delete.clone())))>"Delete"</button>
                                </span>
                            </li>
                        }
                    }
                />
            </ul>
            <Show when=move || chat.conversations.with(|all| all.as_ref().is_some_and(Vec::is_empty))>
                <p class="muted small">{move || if chat.search.with(String::is_empty) { "No conversations yet." } else { "No conversation has that in its title." }}</p>
            </Show>
        </aside>
        {dialog}
    }
    .into_any()
}

/// The rename or delete dialog of `summary`.
fn dialog_view(
    ask: Ask,
    summary: ConversationSummary,
    rename: Callback<String>,
    delete: Callback<()>,
    close: Callback<()>,
) -> AnyView {
    match ask {
        Ask::Rename => view! {
            <TextDialog title="Rename the conversation" label="Title" value=summary.title on_submit=rename on_close=close/>
        }
        .into_any(),
        Ask::Delete => view! {
            <ConfirmDialog
                title="Delete the conversation?".to_owned()
                text=format!("“{}” and all its messages will be gone for good.", summary.title)
                action="Delete"
                on_confirm=delete
                on_close=close
            />
        }
        .into_any(),
    }
}

#[cfg(feature = "hydrate")]
mod split {
    use leptos::prelude::{AnyView, Callback};
    use leptos::wasm_split::{wasm_split, SplitLoaderError};

    use super::Ask;
    use crate::api::ConversationSummary;

    #[wasm_split(chat_dialogs, wasm_split_path = ::leptos::wasm_split, fallible, preload(preload))]
    pub fn dialog(
        ask: Ask,
        summary: ConversationSummary,
        rename: Callback<String>,
        delete: Callback<()>,
        close: Callback<()>,
    ) -> Result<AnyView, SplitLoaderError> {
        Ok(super::dialog_view(ask, summary, rename, delete, close))
    }
}

/// Puts the caret in the composer, as a new chat asks for a first message.
fn focus_composer() {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(composer) = document()
            .query_selector(".composer textarea")
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = composer.focus();
        }
    }
}
