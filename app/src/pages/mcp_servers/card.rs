//! One personal MCP server: its status, connect / disconnect, its tools with their switches
//! (the live list when connected, else the one last seen), and the connection log.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{
    client, valid_tool_name, KnownTool, KnownToolsInput, PersonalMcpServer, ToolApproval,
    MAX_TOOLS, MAX_TOOL_DESCRIPTION,
};
use crate::components::ConfirmDialog;
use crate::connections::{use_connections, Runtime, Status};
use crate::mcp::log::Direction;
use crate::mcp::Tool;

#[component]
pub fn McpServerCard(
    server: PersonalMcpServer,
    on_edit: Callback<PersonalMcpServer>,
    on_changed: Callback<()>,
) -> impl IntoView {
    let connections = use_connections();
    let runtime = connections.runtime(server.id);
    let server = RwSignal::new(server);
    let error = RwSignal::new(None::<String>);
    // Stores a change to the server: at once on the page, undone if Hearth refuses it.
    let save = move |change: Box<dyn FnOnce(&mut PersonalMcpServer)>| {
        let before = server.get_untracked();
        server.update(|s| change(s));
        let (id, input) = server.with_untracked(|s| (s.id, s.input()));
        spawn_local(async move {
            match client::update_mcp_server(id, &input).await {
                Ok(saved) => server.set(saved),
                Err(e) => {
                    server.set(before);
                    error.set(Some(e.message));
                }
            }
        });
    };

    // Chat connects to the server on its own until the user disconnects it here.
    let connect = move |_| {
        if !server.with_untracked(|s| s.auto_connect) {
            save(Box::new(|s| s.auto_connect = true));
        }
        connections.connect(server.get_untracked());
    };
    let disconnect = move |_| {
        save(Box::new(|s| s.auto_connect = false));
        connections.disconnect(server.with_untracked(|s| s.id));
    };
    // Asks first, in a dialog; deletes once confirmed.
    let asking = RwSignal::new(false);
    let delete = Callback::new(move |()| {
        asking.set(false);
        let id = server.with_untracked(|s| s.id);
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
                    title=format!("Delete the MCP server “{}”?", server.with_untracked(|s| s.name.clone()))
                    text="Its tools leave the chat, and its settings (switches, approvals, headers) are deleted with it.".to_owned()
                    action="Delete"
                    on_confirm=delete
                    on_close=Callback::new(move |()| asking.set(false))
                />
            }
        })
    };
    let switch_tools = Callback::new(move |(tools, enabled): (Vec<String>, bool)| {
        save(Box::new(move |s| {
            for tool in tools {
                s.tools.insert(tool, enabled);
            }
        }))
    });

    // Keeps the list the server gave on Hearth, so its settings show without a connection.
    Effect::new(move |_| {
        if runtime.status.get() != Status::Connected {
            return;
        }
        let known = known_tools(&runtime.tools.get_untracked());
        if server.with_untracked(|s| s.known_tools == known) {
            return;
        }
        let id = server.with_untracked(|s| s.id);
        spawn_local(async move {
            match client::set_known_tools(id, &KnownToolsInput { tools: known }).await {
                Ok(saved) => server.update(|s| s.known_tools = saved.known_tools),
                Err(e) => error.set(Some(format!(
                    "The tool list was not kept on Hearth: {}",
                    e.message
                ))),
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
    let (name, url, transport, proxied) = server.with_untracked(|s| {
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
                <button type="button" class="button secondary" on:click=move |_| on_edit.run(server.get_untracked())>"Edit"</button>
                <button type="button" class="button danger" on:click=move |_| asking.set(true)>"Delete"</button>
                {confirm}
            </div>
            <ToolList runtime server switch_tools/>
            <ConnectionLog runtime/>
        </article>
    }
    .into_any()
}

/// A listed tool as Hearth keeps it: a name it accepts, given once, a bounded description.
fn known_tools(tools: &[Tool]) -> Vec<KnownTool> {
    let mut kept: Vec<KnownTool> = Vec::new();
    for tool in tools.iter().take(MAX_TOOLS) {
        let name = &tool.name;
        if !valid_tool_name(name) || kept.iter().any(|k| &k.name == name) {
            continue;
        }
        kept.push(KnownTool {
            name: name.clone(),
            description: tool
                .description
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .map(|d| d.chars().take(MAX_TOOL_DESCRIPTION).collect()),
        });
    }
    kept
}

/// The server's tools, one row each: its switch, its name, its description on one line (the
/// whole of it on a click) and its approval in chat, disabled while the tool is off. The live
/// list when connected, else the one Hearth kept from the last connection.
#[component]
fn ToolList(
    runtime: Runtime,
    server: RwSignal<PersonalMcpServer>,
    switch_tools: Callback<(Vec<String>, bool)>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let filter = RwSignal::new(String::new());
    let server_id = server.with_untracked(|s| s.id);
    let live = move || runtime.status.get() == Status::Connected;
    let listed = move || -> Vec<KnownTool> {
        if live() {
            runtime.tools.with(|tools| {
                tools
                    .iter()
                    .map(|t| KnownTool {
                        name: t.name.clone(),
                        description: t.description.clone(),
                    })
                    .collect()
            })
        } else {
            server.with(|s| s.known_tools.clone())
        }
    };
    let shown = move || {
        let wanted = filter.get().trim().to_lowercase();
        listed()
            .into_iter()
            .filter(|t| {
                wanted.is_empty()
                    || t.name.to_lowercase().contains(&wanted)
                    || t.description
                        .as_deref()
                        .is_some_and(|d| d.to_lowercase().contains(&wanted))
            })
            .collect::<Vec<_>>()
    };
    let count = move || {
        let tools = listed();
        let on = server.with(|s| tools.iter().filter(|t| s.tool_enabled(&t.name)).count());
        format!("{on} of {} on", tools.len())
    };
    let switch_all = move |enabled: bool| {
        let names = shown().into_iter().map(|t| t.name).collect();
        switch_tools.run((names, enabled));
    };
    // Kept on Hearth at once: chat asks, runs or refuses the tool accordingly.
    let set_approval = move |tool: String, value: String| {
        let approval = match value.as_str() {
            "always" => ToolApproval::Always,
            "never" => ToolApproval::Never,
            _ => ToolApproval::Ask,
        };
        spawn_local(async move {
            match client::set_tool_approval(server_id, &tool, approval).await {
                Ok(saved) => {
                    error.set(None);
                    server.update(|s| s.approvals = saved.approvals);
                }
                Err(e) => error.set(Some(format!(
                    "The approval for {tool} was not saved: {}",
                    e.message
                ))),
            }
        });
    };
    let row = move |tool: KnownTool| {
        let name = tool.name.clone();
        let enabled = {
            let name = name.clone();
            move || server.with(|s| s.tool_enabled(&name))
        };
        let approval = server.with_untracked(|s| s.approval(&name));
        let expanded = RwSignal::new(false);
        let (for_switch, for_approval) = (name.clone(), name.clone());
        view! {
            <li class="tool">
                <input
                    type="checkbox"
                    role="switch"
                    aria-label=format!("Enable {name}")
                    prop:checked=enabled.clone()
                    on:change=move |ev| switch_tools.run((vec![for_switch.clone()], event_target_checked(&ev)))
                />
                <span class="tool-name">{name.clone()}</span>
                {tool.description.map(|d| view! {
                    <button
                        type="button"
                        class="tool-desc"
                        class:expanded=move || expanded.get()
                        aria-expanded=move || expanded.get().to_string()
                        on:click=move |_| expanded.update(|e| *e = !*e)
                    >{d}</button>
                })}
                <select
                    class="approval"
                    aria-label=format!("Approval for {name}")
                    disabled=move || !enabled()
                    on:change=move |ev| set_approval(for_approval.clone(), event_target_value(&ev))
                >
                    <option value="ask" selected=approval == ToolApproval::Ask>"Ask each time"</option>
                    <option value="always" selected=approval == ToolApproval::Always>"Always allow"</option>
                    <option value="never" selected=approval == ToolApproval::Never>"Never"</option>
                </select>
            </li>
        }
    };
    view! {
        <Show when=move || !listed().is_empty()>
            <div class="tools-head">
                <h3>"Tools"</h3>
                <span class="muted small" data-testid="tools-count">{count}</span>
                <button type="button" class="button secondary small" on:click=move |_| switch_all(true)>"All on"</button>
                <button type="button" class="button secondary small" on:click=move |_| switch_all(false)>"All off"</button>
                <input type="search" class="tools-filter" placeholder="Filter tools" aria-label="Filter tools" bind:value=filter/>
            </div>
            <Show when=move || !live()>
                <p class="muted small">"As the server listed them when last connected; connect to bring the list up to date."</p>
            </Show>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <ul class="tools" data-testid="mcp-tools">
                <For each=shown key=|t| (t.name.clone(), t.description.clone()) children=row/>
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
