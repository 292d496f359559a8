//! Above the thread: the model selector, the tools on offer and the turn limit.

use leptos::prelude::*;

use super::Chat;
use crate::connections::{use_connections, Status};

/// The model selector, the tools on offer and the turn limit.
#[component]
pub fn ChatHead() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let connections = use_connections();
    let tools_line = move || {
        let servers = chat.servers.get();
        if !chat.servers_known.get() {
            return String::new();
        }
        if servers.is_empty() {
            return "No MCP servers: add some on the MCP servers page to use their tools here."
                .to_owned();
        }
        servers
            .iter()
            .map(|s| {
                let runtime = connections.runtime(s.id);
                match runtime.status.get() {
                    Status::Connected => {
                        let n = runtime
                            .tools
                            .with(|t| t.iter().filter(|t| s.tool_enabled(&t.name)).count());
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
        let Ok(turns) = event_target_value(&ev).parse::<u32>() else {
            return;
        };
        let turns = turns.clamp(1, 100);
        chat.max_turns.set(turns);
        #[cfg(feature = "hydrate")]
        if let Some(storage) = super::storage() {
            let _ = storage.set_item(super::MAX_TURNS_KEY, &turns.to_string());
        }
    };
    view! {
        <div class="chat-head">
            <button
                type="button"
                class="button secondary drawer-button"
                aria-controls="conversation-list"
                aria-expanded=move || chat.drawer.get().to_string()
                on:click=move |_| chat.drawer.update(|open| *open = !*open)
            >
                "Conversations"
            </button>
            <label class="inline">
                "Model "
                <select aria-label="Model" on:change=move |ev| chat.choose_model(event_target_value(&ev))>
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
            {move || chat.current.get().map(|id| view! {
                <a class="button secondary small" href=format!("/v1/conversations/{id}/export") download="">"Export"</a>
            })}
            {move || chat.model_gone.get().map(|gone| view! {
                <p class="notice small" role="status" data-testid="model-gone">
                    "This conversation used " <strong>{gone}</strong> ", which is no longer available to you. The next answer comes from the LLM picked above."
                </p>
            })}
        </div>
    }
    .into_any()
}
