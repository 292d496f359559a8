//! The "MCP servers" page: the shared servers Hearth connects to ([`shared`]), and the
//! user's personal MCP servers, connected from this browser.

mod card;
mod connect;
mod dialog;
mod shared;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{client, PersonalMcpServer};
use card::McpServerCard;
use dialog::McpServerDialog;

/// Which dialog is open: none, a new server, or an existing one to edit.
#[derive(Clone, PartialEq)]
enum Editing {
    Closed,
    New,
    Existing(PersonalMcpServer),
}

#[component]
pub fn McpServersPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let servers = LocalResource::new(move || {
        version.track();
        client::list_mcp_servers()
    });
    let editing = RwSignal::new(Editing::Closed);
    let reload = Callback::new(move |_: ()| version.update(|v| *v += 1));
    let on_saved = Callback::new(move |_: PersonalMcpServer| {
        editing.set(Editing::Closed);
        version.update(|v| *v += 1);
    });
    let on_edit =
        Callback::new(move |server: PersonalMcpServer| editing.set(Editing::Existing(server)));

    view! {
        <Title text="MCP servers — Hearth"/>
        <h1>"MCP servers"</h1>
        <shared::SharedServers/>
        <div class="page-head">
            <h2>"Personal"</h2>
            <button type="button" class="button primary" on:click=move |_| editing.set(Editing::New)>"Add MCP server"</button>
        </div>
        <p class="muted">
            "MCP servers that this browser connects to, for tools in chat. They are kept on Hearth, so they \
             follow you to every browser you sign in from. With “Use proxy” on, requests go through Hearth, \
             for servers that do not allow cross-origin requests; your Hearth credentials are never sent to them."
        </p>
        {move || {
            let server = match editing.get() {
                Editing::Closed => return None,
                Editing::New => None,
                Editing::Existing(s) => Some(s),
            };
            Some(view! { <McpServerDialog server on_saved on_cancel=Callback::new(move |()| editing.set(Editing::Closed))/> })
        }}
        {move || match servers.get() {
            None => view! { <p class="muted">"Loading MCP servers…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
            Some(Ok(list)) if list.data.is_empty() => {
                view! { <p class="muted">"No MCP servers yet. Add one to use its tools in chat."</p> }.into_any()
            }
            Some(Ok(list)) => list
                .data
                .into_iter()
                .map(|server| view! { <McpServerCard server on_edit on_changed=reload/> })
                .collect_view()
                .into_any(),
        }}
    }
}
