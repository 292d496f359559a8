//! One personal MCP server: its status, connect / disconnect, its tools with their switches,
//! and the connection log.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{client, PersonalMcpServer, ToolApproval};
use crate::components::ConfirmDialog;
use crate::connections::{use_connections, Runtime, Status};
use crate::mcp::log::Direction;

#[component]
pub fn McpServerCard(
    server: PersonalMcpServer,
    on_edit: Callback<PersonalMcpServer>,
    on_changed: Callback<()>,
) -> impl IntoView {
    let connections = use_connections();
    let runtime = connections.runtime(server.id);
    let server = StoredValue::new(server);
    let error = RwSignal::new(None::<String>);

    let connect = move |_| connections.connect(server.get_value());
    let disconnect = move |_| connections.disconnect(server.with_value(|s| s.id));
    // Asks first, in a dialog; deletes once confirmed.
    let asking = RwSignal::new(false);
    let delete = Callback::new(move |()| {
        asking.set(false);
        let id = server.with_value(|s| s.id);
        spawn_local(async move {
            match client::delete_mcp_server(id).await {
                Ok(()) => {
                    connections.forget(id);
                    on_changed.run(());
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    });
    let confirm = move || {
        asking.get().then(|| {
            view! {
                <ConfirmDialog
                    title=format!("Delete the MCP server “{}”?", server.with_value(|s| s.name.clone()))
                    text="Its tools leave the chat, and its settings (switches, approvals, headers) are deleted with it.".to_owned()
                    action="Delete"
                    on_confirm=delete
                    on_close=Callback::new(move |()| asking.set(false))
                />
            }
        })
    };
    let toggle_tool = Callback::new(move |(tool, enabled): (String, bool)| {
        let mut input = server.with_value(|s| s.input());
        input.tools.insert(tool, enabled);
        let id = server.with_value(|s| s.id);
        spawn_local(async move {
            match client::update_mcp_server(id, &input).await {
                Ok(saved) => server.set_value(saved),
                Err(e) => error.set(Some(e.message)),
            }
        });
    });

    let status = move || runtime.status.get();
    let badge = move || match status() {
        Status::Disconnected => ("badge", "disconnected"),
        Status::Connecting => ("badge pending", "connecting"),
        Status::Connected => ("badge ok", "connected"),
        Status::Failed(_) => ("badge failed", "failed"),
    };
    let busy = move || matches!(status(), Status::Connecting);
    let live = move || matches!(status(), Status::Connected | Status::Connecting);
    let (name, url, transport, proxied) = server.with_value(|s| {
        (
            s.name.clone(),
            s.url.clone(),
            s.transport.label(),
            s.use_proxy,
        )
    });

    view! {
        <article class="card mcp-server" data-testid="mcp-server">
            <header class="mcp-server-head">
                <div>
                    <h2>{name}</h2>
                    <code class="muted">{url}</code>
                    <span class="muted small">" · " {transport} {if proxied { " · through Hearth's proxy" } else { " · direct" }}</span>
                </div>
                <span class=move || badge().0 data-testid="mcp-status">{move || badge().1}</span>
            </header>
            {move || match status() {
                Status::Failed(reason) => Some(view! { <p class="error" role="alert" data-testid="mcp-error">{reason}</p> }),
                _ => None,
            }}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <div class="actions">
                <Show
                    when=live
                    fallback=move || view! { <button type="button" class="button primary" on:click=connect>"Connect"</button> }
                >
                    <button type="button" class="button" on:click=disconnect disabled=busy>"Disconnect"</button>
                </Show>
                <button type="button" class="button secondary" on:click=move |_| on_edit.run(server.get_value())>"Edit"</button>
                <button type="button" class="button danger" on:click=move |_| asking.set(true)>"Delete"</button>
                {confirm}
            </div>
            <ToolList runtime server toggle_tool/>
            <ConnectionLog runtime/>
        </article>
    }
    .into_any()
}

/// The server's tools once connected, each with its switch.
#[component]
fn ToolList(
    runtime: Runtime,
    server: StoredValue<PersonalMcpServer>,
    toggle_tool: Callback<(String, bool)>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let server_id = server.with_value(|s| s.id);
    // Kept on Hearth at once: chat asks, runs or refuses the tool accordingly.
    let set_approval = move |tool: String, value: String| {
        let approval = match value.as_str() {
            "always" => ToolApproval::Always,
            "never" => ToolApproval::Never,
            _ => ToolApproval::Ask,
        };
        spawn_local(async move {
            match client::set_tool_approval(server_id, &tool, approval).await {
                Ok(_) => error.set(None),
                Err(e) => error.set(Some(format!(
                    "The approval for {tool} was not saved: {}",
                    e.message
                ))),
            }
        });
    };
    view! {
        <Show when=move || !runtime.tools.get().is_empty()>
            <h3>"Tools"</h3>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <ul class="tools" data-testid="mcp-tools">
                <For each=move || runtime.tools.get() key=|t| t.name.clone() let:tool>
                    {
                        let tool_name = tool.name.clone();
                        let approval_tool = tool.name.clone();
                        let checked = server.with_value(|s| s.tool_enabled(&tool.name));
                        let approval = server.with_value(|s| s.approval(&tool.name));
                        view! {
                            <li class="tool">
                                <label class="switch">
                                    <input
                                        type="checkbox"
                                        role="switch"
                                        aria-label=format!("Enable {}", tool.name)
                                        prop:checked=checked
                                        on:change=move |ev| toggle_tool.run((tool_name.clone(), event_target_checked(&ev)))
                                    />
                                    <strong class="tool-name">{tool.name.clone()}</strong>
                                </label>
                                <select
                                    class="approval"
                                    aria-label=format!("Approval for {}", tool.name)
                                    on:change=move |ev| set_approval(approval_tool.clone(), event_target_value(&ev))
                                >
                                    <option value="ask" selected=approval == ToolApproval::Ask>"Ask each time"</option>
                                    <option value="always" selected=approval == ToolApproval::Always>"Always allow"</option>
                                    <option value="never" selected=approval == ToolApproval::Never>"Never"</option>
                                </select>
                                <span class="muted">{tool.description.clone().unwrap_or_default()}</span>
                            </li>
                        }
                    }
                </For>
            </ul>
        </Show>
    }
    .into_any()
}

/// Every request and answer of the current connection, credentials redacted.
#[component]
fn ConnectionLog(runtime: Runtime) -> impl IntoView {
    let entries = move || {
        runtime
            .log
            .get()
            .into_iter()
            .map(|entry| {
                let arrow = match entry.direction {
                    Direction::Sent => "→ ",
                    Direction::Received => "← ",
                    Direction::Note => "· ",
                };
                let headers = entry
                    .headers
                    .iter()
                    .map(|(n, v)| format!("{n}: {v}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                view! {
                    <li>
                        <code>{arrow} {entry.line}</code>
                        {(!headers.is_empty()).then(|| view! { <pre>{headers}</pre> })}
                        {entry.body.map(|b| view! { <pre>{b}</pre> })}
                    </li>
                }
                .into_any()
            })
            .collect_view()
    };
    view! {
        <details class="log">
            <summary>"Connection log (" {move || runtime.log.with(Vec::len)} ")"</summary>
            <ol>{entries}</ol>
        </details>
    }
    .into_any()
}
