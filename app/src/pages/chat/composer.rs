//! The message box: Enter sends, Shift+Enter is a new line; "Stop" while an answer runs.

use leptos::prelude::*;
#[cfg(feature = "hydrate")]
use leptos::task::spawn_local;

use super::Chat;
use crate::connections::use_connections;

#[component]
pub fn ChatComposer() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let connections = use_connections();
    let draft = RwSignal::new(String::new());
    let send = move || {
        if chat
            .current
            .get_untracked()
            .is_some_and(|id| chat.running_untracked(id))
        {
            return;
        }
        let text = draft.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        draft.set(String::new());
        #[cfg(feature = "hydrate")]
        spawn_local(super::run::send(chat, connections, text));
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
            // Ready to type when the page opens.
            <textarea
                autofocus
                rows="2"
                aria-label="Message"
                placeholder="Message (Enter sends, Shift+Enter for a new line)"
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
                on:keydown=on_keydown
            ></textarea>
            {move || if chat.running() {
                view! { <button type="button" class="button secondary" on:click=move |_| chat.stop()>"Stop"</button> }.into_any()
            } else {
                view! { <button type="submit" class="button primary" disabled=move || chat.models.with(|m| m.as_ref().is_none_or(Vec::is_empty))>"Send"</button> }.into_any()
            }}
        </form>
    }
    .into_any()
}
