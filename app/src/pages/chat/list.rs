//! The conversation list: new chat, search by title, rename and delete.

use leptos::prelude::*;
#[cfg(feature = "hydrate")]
use leptos::task::spawn_local;

use super::Chat;
#[cfg(feature = "hydrate")]
use crate::api::client;
use crate::api::ConversationSummary;

#[component]
pub fn ConversationList() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let on_search = move |ev| {
        chat.search.set(event_target_value(&ev));
        chat.refresh_list();
    };
    let rename = move |summary: ConversationSummary| {
        #[cfg(feature = "hydrate")]
        {
            let Some(title) = web_sys::window()
                .and_then(|w| {
                    w.prompt_with_message_and_default("Rename the conversation", &summary.title)
                        .ok()
                        .flatten()
                })
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
            else {
                return;
            };
            spawn_local(async move {
                let input = crate::api::ConversationInput {
                    title: Some(title),
                    model: None,
                };
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
            let question = format!(
                "Delete the conversation “{}”? This cannot be undone.",
                summary.title
            );
            if !web_sys::window()
                .and_then(|w| w.confirm_with_message(&question).ok())
                .unwrap_or(false)
            {
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
