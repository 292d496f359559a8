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
                    Err(e) => chat.fail(None, e.message),
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
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = summary;
    };
    view! {
        <aside class="chat-list" id="conversation-list" aria-label="Conversations">
            <a href="/chat" class="button primary">"New chat"</a>
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
                                    <button type="button" class="link" title="Rename" on:click=move |_| rename(for_rename.clone())>"Rename"</button>
                                    <button type="button" class="link" title="Delete" on:click=move |_| delete(for_delete.clone())>"Delete"</button>
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
    }
    .into_any()
}
