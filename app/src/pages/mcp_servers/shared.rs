//! The "Shared" section of the MCP servers page: servers an admin registered on Hearth, which
//! Hearth connects to with the credentials it keeps. Admins see every one with its status and
//! edit them; members see those granted to them, with their status and tools.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{
    client, AuthKind, EnvEntry, Grants, HeaderEntry, Lifecycle, ServerState, SharedMcpServer,
    SharedMcpServerEntry, SharedMcpServerHealth, SharedMcpServerInput, SharedMcpServerTest,
    SharedTool, SharedTransport,
};
use crate::components::{ConfirmDialog, DataTable, FieldError, FormErrors, Modal};
use crate::pages::llms::{grants_text, GrantsField};
use crate::session::use_session;

/// A state as a badge's class and words.
fn state_badge(state: ServerState) -> (&'static str, &'static str) {
    match state {
        ServerState::Ok => ("badge ok", "ok"),
        ServerState::Unreachable => ("badge failed", "unreachable"),
        ServerState::AuthRequired => ("badge failed", "needs credentials"),
        ServerState::Error => ("badge pending", "error"),
    }
}

fn transport_label(t: SharedTransport) -> &'static str {
    match t {
        SharedTransport::Http => "Streamable HTTP",
        SharedTransport::Sse => "HTTP+SSE (legacy)",
        SharedTransport::Stdio => "stdio (a program on Hearth's host)",
    }
}

#[component]
pub fn SharedServers() -> impl IntoView {
    let session = use_session();
    let is_admin = move || session.can(|c| c.manage_mcp_servers);
    let version = RwSignal::new(0u32);
    let refresh = RwSignal::new(false);
    let servers = LocalResource::new(move || {
        version.track();
        client::list_shared_mcp_servers()
    });
    let health = LocalResource::new(move || {
        version.track();
        client::shared_mcp_health(refresh.get())
    });
    let tools = LocalResource::new(move || {
        version.track();
        client::shared_mcp_tools()
    });
    let editing = RwSignal::new(None::<Option<SharedMcpServer>>);
    let reload = Callback::new(move |()| {
        refresh.set(false);
        version.update(|v| *v += 1);
    });
    let on_saved = Callback::new(move |()| {
        editing.set(None);
        reload.run(());
    });
    let recheck = move |_| {
        refresh.set(true);
        version.update(|v| *v += 1);
    };
    let health_of = move |name: &str| -> Option<SharedMcpServerHealth> {
        health
            .get()?
            .ok()?
            .data
            .into_iter()
            .find(|h| h.name == name)
    };
    let tools_of = move |name: &str| -> Vec<SharedTool> {
        tools
            .get()
            .and_then(Result::ok)
            .map(|l| l.data.into_iter().filter(|t| t.server == name).collect())
            .unwrap_or_default()
    };

    view! {
        <section aria-labelledby="shared-heading" data-testid="shared-servers">
            <div class="page-head">
                <h2 id="shared-heading">"Shared"</h2>
                <div class="row-actions">
                    <button type="button" class="button secondary" on:click=recheck>"Re-check"</button>
                    <Show when=is_admin>
                        <button type="button" class="button primary" on:click=move |_| editing.set(Some(None))>"Add shared server"</button>
                    </Show>
                </div>
            </div>
            <p class="muted">
                "Registered on Hearth by an admin. Hearth connects to them itself, with credentials that stay on \
                 the server, and offers their tools to the members they are granted to."
            </p>
            {move || editing.get().map(|server| view! {
                <SharedDialog server on_saved on_cancel=Callback::new(move |()| editing.set(None))/>
            })}
            {move || match servers.get() {
                None => view! { <p class="muted">"Loading shared servers…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                Some(Ok(list)) if list.data.is_empty() => {
                    let text = if is_admin() { "No shared servers yet." } else { "No shared server is available to you." };
                    view! { <p class="muted">{text}</p> }.into_any()
                }
                Some(Ok(list)) => view! {
                    <SharedTable
                        servers=list.data
                        editable=is_admin()
                        health_of=Callback::new(move |name: String| health_of(&name))
                        tools_of=Callback::new(move |name: String| tools_of(&name))
                        on_edit=Callback::new(move |s| editing.set(Some(Some(s))))
                        on_deleted=reload
                    />
                }
                .into_any(),
            }}
            <super::connect::ConnectClient/>
        </section>
    }
}

/// A server's status: its badge, and for admins the reason (and a `stdio` child's last
/// words) on expand.
#[component]
fn StatusCell(health: Option<SharedMcpServerHealth>) -> impl IntoView {
    let Some(h) = health else {
        return view! { <span class="muted small">"checking…"</span> }.into_any();
    };
    let (class, word) = state_badge(h.state);
    let reason = h.error.clone().unwrap_or_default();
    let detail = (h.error.is_some() || !h.stderr.is_empty()).then(|| {
        view! {
            <details class="small">
                <summary>"Why"</summary>
                <p>{h.error.clone()}</p>
                {(!h.stderr.is_empty()).then(|| view! { <pre class="small">{h.stderr.join("\n")}</pre> })}
            </details>
        }
    });
    view! {
        <span class=class title=reason data-testid="shared-status">{word}</span>
        {h.tools.map(|n| view! { <div class="muted small">{format!("{n} tools · {} ms", h.latency_ms)}</div> })}
        {detail}
    }
    .into_any()
}

#[component]
fn SharedTable(
    servers: Vec<SharedMcpServerEntry>,
    editable: bool,
    health_of: Callback<String, Option<SharedMcpServerHealth>>,
    tools_of: Callback<String, Vec<SharedTool>>,
    on_edit: Callback<SharedMcpServer>,
    on_deleted: Callback<()>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let deleting = RwSignal::new(None::<String>);
    let delete = Callback::new(move |()| {
        let Some(name) = deleting.get_untracked() else {
            return;
        };
        deleting.set(None);
        spawn_local(async move {
            match client::delete_shared_mcp_server(&name).await {
                Ok(()) => on_deleted.run(()),
                Err(e) => error.set(Some(e.message)),
            }
        });
    });
    let confirm = move || {
        deleting.get().map(|name| {
            view! {
                <ConfirmDialog
                    title=format!("Delete the shared server “{name}”?")
                    text="Its tools go from everyone it was granted to; its credentials are deleted with it.".to_owned()
                    action="Delete"
                    on_confirm=delete
                    on_close=Callback::new(move |()| deleting.set(None))
                />
            }
        })
    };
    let full = servers
        .iter()
        .any(|s| matches!(s, SharedMcpServerEntry::Full(_)));
    let columns: &'static [&'static str] = if full {
        &["Name", "Transport", "Status", "Who may use it", ""]
    } else {
        &["Name", "Status", "Tools"]
    };
    let rows = servers
        .into_iter()
        .map(|entry| {
            let name = entry.name().to_owned();
            let status = move || view! { <StatusCell health=health_of.run(name.clone())/> };
            match entry {
                SharedMcpServerEntry::Full(server) => {
                    let for_edit = server.clone();
                    let doomed = server.name.clone();
                    view! {
                        <tr data-testid="shared-row">
                            <td data-label="Name">
                                <strong>{server.name.clone()}</strong>
                                {server.description.clone().map(|d| view! { <div class="muted small">{d}</div> })}
                            </td>
                            <td data-label="Transport">{transport_label(server.transport)}</td>
                            <td data-label="Status">{status}</td>
                            <td data-label="Who may use it">{grants_text(&server.grants)}</td>
                            <td class="row-actions">
                                {editable.then(|| view! {
                                    <button type="button" class="button secondary" on:click=move |_| on_edit.run(for_edit.clone())>"Edit"</button>
                                    <button type="button" class="button danger" on:click=move |_| deleting.set(Some(doomed.clone()))>"Delete"</button>
                                })}
                            </td>
                        </tr>
                    }
                    .into_any()
                }
                SharedMcpServerEntry::Summary(server) => {
                    // The tools arrive on their own, maybe after the list: the cell follows.
                    let listed = server.name.clone();
                    let tools = move || {
                        let tools = tools_of.run(listed.clone());
                        let count = tools.len();
                        view! {
                            <details>
                                <summary>{format!("{count} tools")}</summary>
                                <ul class="small" data-testid="shared-tools">
                                    {tools.into_iter().map(|t| view! {
                                        <li><code>{t.name}</code>{t.description.map(|d| view! { " — " {d} })}</li>
                                    }).collect_view()}
                                </ul>
                            </details>
                        }
                    };
                    view! {
                        <tr data-testid="shared-row">
                            <td data-label="Name">
                                <strong>{server.alias.clone().unwrap_or_else(|| server.name.clone())}</strong>
                                {server.description.clone().map(|d| view! { <div class="muted small">{d}</div> })}
                                {(!server.usable).then(|| view! { <div class="muted small">"Not granted to you"</div> })}
                            </td>
                            <td data-label="Status">{status}</td>
                            <td data-label="Tools">{tools}</td>
                        </tr>
                    }
                    .into_any()
                }
            }
        })
        .collect_view();
    view! {
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <DataTable label="Shared MCP servers" columns>{rows}</DataTable>
        {confirm}
    }
}

/// Editable `name = value` rows, values write-only: blank keeps what is stored.
type Rows = RwSignal<Vec<(usize, RwSignal<String>, RwSignal<String>)>>;

fn rows_of(pairs: impl IntoIterator<Item = String>) -> Rows {
    RwSignal::new(
        pairs
            .into_iter()
            .enumerate()
            .map(|(i, n)| (i, RwSignal::new(n), RwSignal::new(String::new())))
            .collect(),
    )
}

fn pairs(rows: Rows) -> Vec<(String, String)> {
    rows.get_untracked()
        .into_iter()
        .map(|(_, n, v)| (n.get_untracked().trim().to_owned(), v.get_untracked()))
        .filter(|(n, _)| !n.is_empty())
        .collect()
}

#[component]
fn RowsField(
    legend: &'static str,
    rows: Rows,
    name_label: &'static str,
    placeholder: &'static str,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let add = move |_| {
        rows.update(|r| {
            let key = r.iter().map(|(k, _, _)| k + 1).max().unwrap_or(0);
            r.push((
                key,
                RwSignal::new(String::new()),
                RwSignal::new(String::new()),
            ));
        })
    };
    view! {
        <fieldset class="headers">
            <legend>{legend}</legend>
            <For each=move || rows.get() key=|(k, _, _)| *k let:row>
                <div class="header-row">
                    <input aria-label=name_label placeholder=placeholder bind:value=row.1/>
                    <input aria-label="Value" type="password" autocomplete="off" placeholder="value (blank keeps the stored one)" bind:value=row.2/>
                    <button type="button" class="button secondary" aria-label="Remove" on:click=move |_| rows.update(|r| r.retain(|(k, _, _)| *k != row.0))>"×"</button>
                </div>
            </For>
            <button type="button" class="button secondary" on:click=add>"Add"</button>
            <FieldError id="rows-error" error/>
        </fieldset>
    }
}

/// The add / edit dialog of a shared server, with "Test connection" and per-tool switches.
#[component]
fn SharedDialog(
    server: Option<SharedMcpServer>,
    on_saved: Callback<()>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let editing = server.is_some();
    let s = server.clone();
    let text = move |f: fn(&SharedMcpServer) -> Option<String>| {
        RwSignal::new(s.as_ref().and_then(f).unwrap_or_default())
    };
    let name = text(|s| Some(s.name.clone()));
    let url = text(|s| s.url.clone());
    let command = text(|s| s.command.clone());
    let args = text(|s| Some(s.args.join("\n")));
    let description = text(|s| s.description.clone());
    let api_key_header = text(|s| s.api_key_header.clone());
    let timeout = text(|s| Some(s.timeout_secs.to_string()));
    let credential = RwSignal::new(String::new());
    let had_credential = server.as_ref().is_some_and(|s| s.has_credential);
    let transport = RwSignal::new(server.as_ref().map(|s| s.transport).unwrap_or_default());
    let auth = RwSignal::new(server.as_ref().map(|s| s.auth).unwrap_or_default());
    let lifecycle = RwSignal::new(server.as_ref().map(|s| s.lifecycle).unwrap_or_default());
    let env = rows_of(
        server
            .iter()
            .flat_map(|s| s.env.iter().map(|e| e.name.clone())),
    );
    let headers = rows_of(
        server
            .iter()
            .flat_map(|s| s.headers.iter().map(|h| h.name.clone())),
    );
    let grants = server
        .as_ref()
        .map(|s| s.grants.clone())
        .unwrap_or_default();
    let all_members = RwSignal::new(grants.all_members);
    let users = RwSignal::new(grants.users);
    let teams = RwSignal::new(grants.teams);
    let is_public = RwSignal::new(server.as_ref().is_some_and(|s| s.is_public));
    // Tools switched off; the test lists every tool to switch.
    let denied = RwSignal::new(
        server
            .as_ref()
            .map(|s| s.denied_tools.clone())
            .unwrap_or_default(),
    );
    let kept = server.clone();
    let tested = RwSignal::new(None::<SharedMcpServerTest>);
    let testing = RwSignal::new(false);
    let errors = FormErrors::new();
    let pending = RwSignal::new(false);
    let fields = [
        "name",
        "url",
        "command",
        "args",
        "env",
        "auth",
        "credential",
        "api_key_header",
        "headers",
        "timeout_secs",
        "grants",
        "description",
    ];

    let input = move || -> SharedMcpServerInput {
        let typed = credential.get_untracked();
        let stdio = transport.get_untracked() == SharedTransport::Stdio;
        let nonblank = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let base = kept.as_ref();
        SharedMcpServerInput {
            name: name.get_untracked().trim().to_owned(),
            alias: base.and_then(|s| s.alias.clone()),
            description: nonblank(description.get_untracked()),
            transport: transport.get_untracked(),
            url: nonblank(url.get_untracked()).filter(|_| !stdio),
            lifecycle: lifecycle.get_untracked(),
            command: nonblank(command.get_untracked()).filter(|_| stdio),
            args: if stdio {
                args.get_untracked()
                    .lines()
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect()
            } else {
                Vec::new()
            },
            env: pairs(env)
                .into_iter()
                .map(|(name, value)| EnvEntry { name, value })
                .collect(),
            auth: auth.get_untracked(),
            // Blank keeps the stored credential.
            credential: nonblank(typed),
            api_key_header: nonblank(api_key_header.get_untracked())
                .filter(|_| auth.get_untracked() == AuthKind::ApiKey),
            headers: pairs(headers)
                .into_iter()
                .map(|(name, value)| HeaderEntry { name, value })
                .collect(),
            extra_headers: base.map(|s| s.extra_headers.clone()).unwrap_or_default(),
            allowed_tools: base.map(|s| s.allowed_tools.clone()).unwrap_or_default(),
            denied_tools: denied.get_untracked(),
            tool_overrides: base
                .map(|s| s.tool_overrides.clone())
                .unwrap_or_else(BTreeMap::new),
            timeout_secs: timeout.get_untracked().trim().parse().ok(),
            grants: Grants {
                all_members: all_members.get_untracked(),
                users: users.get_untracked(),
                teams: teams.get_untracked(),
            },
            is_public: is_public.get_untracked(),
        }
    };
    let test_input = input.clone();
    let test = move |_| {
        let input = test_input();
        testing.set(true);
        tested.set(None);
        errors.clear();
        spawn_local(async move {
            match client::test_shared_mcp_server(&input).await {
                Ok(result) => tested.set(Some(result)),
                Err(e) => errors.show(e, &fields),
            }
            testing.set(false);
        });
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = input();
        pending.set(true);
        errors.clear();
        spawn_local(async move {
            let saved = if editing {
                client::update_shared_mcp_server(&input).await
            } else {
                client::create_shared_mcp_server(&input).await
            };
            pending.set(false);
            match saved {
                Ok(_) => on_saved.run(()),
                Err(e) => errors.show(e, &fields),
            }
        });
    };
    let found = move || {
        tested.get().map(|t| {
            let (class, word) = state_badge(t.state);
            let said = match (&t.error, t.tools.len()) {
                (Some(e), _) => e.clone(),
                (None, n) => {
                    format!("It offers {n} tools; switch off those members should not get.")
                }
            };
            let switches = t
                .tools
                .into_iter()
                .map(|tool| {
                    let (on, flip) = (tool.name.clone(), tool.name.clone());
                    view! {
                        <label class="switch">
                            <input
                                type="checkbox"
                                role="switch"
                                prop:checked=move || denied.with(|d| !d.contains(&on))
                                on:change=move |ev| {
                                    let allow = event_target_checked(&ev);
                                    denied.update(|d| {
                                        d.retain(|n| *n != flip);
                                        if !allow {
                                            d.push(flip.clone());
                                        }
                                    });
                                }
                            />
                            <code>{tool.name}</code>
                        </label>
                    }
                })
                .collect_view();
            view! {
                <div role="status" data-testid="shared-test">
                    <span class=class>{word}</span> " " <span class="small">{said}</span>
                    <div class="choices" role="group" aria-label="Tools">{switches}</div>
                </div>
            }
        })
    };
    let stdio = move || transport.get() == SharedTransport::Stdio;
    let needs_credential = move || {
        matches!(
            auth.get(),
            AuthKind::Bearer | AuthKind::ApiKey | AuthKind::Basic
        )
    };
    let credential_placeholder = move || match (had_credential, auth.get()) {
        (true, _) => "Leave blank to keep the stored credential",
        (false, AuthKind::Basic) => "user:password",
        (false, _) => "The token or key",
    };
    view! {
        <Modal labelledby="shared-dialog-title" on_close=on_cancel>
            <form on:submit=on_submit>
                <h2 id="shared-dialog-title">{if editing { "Edit shared server" } else { "Add shared server" }}</h2>
                {move || errors.general.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <div class="field">
                    <label for="shared-name">"Name"</label>
                    <input id="shared-name" required maxlength="64" placeholder="files" disabled=editing bind:value=name aria-describedby="shared-name-error shared-name-hint"/>
                    <FieldError id="shared-name-error" error=errors.of("name")/>
                    <span class="muted small" id="shared-name-hint">"Lower-case letters, digits and " <code>"-"</code> ": it prefixes the server's tools."</span>
                </div>
                <div class="field">
                    <label for="shared-transport">"Transport"</label>
                    <select
                        id="shared-transport"
                        on:change=move |ev| transport.set(match event_target_value(&ev).as_str() {
                            "sse" => SharedTransport::Sse,
                            "stdio" => SharedTransport::Stdio,
                            _ => SharedTransport::Http,
                        })
                    >
                        {[("http", SharedTransport::Http), ("sse", SharedTransport::Sse), ("stdio", SharedTransport::Stdio)]
                            .into_iter()
                            .map(|(v, t)| view! { <option value=v selected=move || transport.get() == t>{transport_label(t)}</option> })
                            .collect_view()}
                    </select>
                </div>
                <Show
                    when=stdio
                    fallback=move || view! {
                        <div class="field">
                            <label for="shared-url">"Server URL"</label>
                            <input id="shared-url" type="url" placeholder="https://mcp.example.com/mcp" bind:value=url aria-describedby="shared-url-error"/>
                            <FieldError id="shared-url-error" error=errors.of("url")/>
                        </div>
                        <div class="field">
                            <label for="shared-auth">"Authentication"</label>
                            <select
                                id="shared-auth"
                                on:change=move |ev| auth.set(match event_target_value(&ev).as_str() {
                                    "bearer" => AuthKind::Bearer,
                                    "api_key" => AuthKind::ApiKey,
                                    "basic" => AuthKind::Basic,
                                    "headers" => AuthKind::Headers,
                                    "forward" => AuthKind::Forward,
                                    _ => AuthKind::None,
                                })
                            >
                                {[
                                    ("none", AuthKind::None, "None"),
                                    ("bearer", AuthKind::Bearer, "Bearer token"),
                                    ("api_key", AuthKind::ApiKey, "API key header"),
                                    ("basic", AuthKind::Basic, "Basic (user:password)"),
                                    ("headers", AuthKind::Headers, "Custom headers only"),
                                    ("forward", AuthKind::Forward, "Pass on the client's token"),
                                ]
                                    .into_iter()
                                    .map(|(v, a, label)| view! { <option value=v selected=move || auth.get() == a>{label}</option> })
                                    .collect_view()}
                            </select>
                        </div>
                        <Show when=needs_credential>
                            <div class="field">
                                <label for="shared-credential">"Credential"</label>
                                <input id="shared-credential" type="password" autocomplete="off" placeholder=credential_placeholder bind:value=credential aria-describedby="shared-credential-error shared-credential-hint"/>
                                <FieldError id="shared-credential-error" error=errors.of("credential")/>
                                <span class="muted small" id="shared-credential-hint">"Write-only: stored encrypted, never shown again."</span>
                            </div>
                        </Show>
                        <Show when=move || auth.get() == AuthKind::ApiKey>
                            <div class="field">
                                <label for="shared-key-header">"Header"</label>
                                <input id="shared-key-header" placeholder="X-API-Key" bind:value=api_key_header/>
                            </div>
                        </Show>
                        <RowsField legend="Headers" rows=headers name_label="Header name" placeholder="X-Header" error=errors.of("headers")/>
                    }
                >
                    <div class="field">
                        <label for="shared-command">"Command"</label>
                        <input id="shared-command" placeholder="node" bind:value=command aria-describedby="shared-command-error"/>
                        <FieldError id="shared-command-error" error=errors.of("command")/>
                    </div>
                    <div class="field">
                        <label for="shared-args">"Arguments, one per line"</label>
                        <textarea id="shared-args" rows="3" bind:value=args></textarea>
                    </div>
                </Show>
                <RowsField legend="Environment variables" rows=env name_label="Variable" placeholder="API_TOKEN" error=errors.of("env")/>
                <p class="muted small">"Header values may use " <code>"${NAME}"</code> " from these variables."</p>
                <div class="field-row">
                    <button type="button" class="button secondary" disabled=move || testing.get() on:click=test>
                        {move || if testing.get() { "Connecting…" } else { "Test connection" }}
                    </button>
                </div>
                {found}
                <GrantsField
                    legend="Who may use it"
                    all_members
                    users
                    teams
                    error=errors.of("grants")
                    hint="Editing shared servers does not let anyone use them: admins need a grant too."
                />
                <details class="advanced">
                    <summary>"Advanced"</summary>
                    <div class="field">
                        <label for="shared-description">"Description"</label>
                        <input id="shared-description" maxlength="1000" bind:value=description aria-describedby="shared-description-error"/>
                        <FieldError id="shared-description-error" error=errors.of("description")/>
                    </div>
                    <div class="field">
                        <label for="shared-lifecycle">"Protocol"</label>
                        <select
                            id="shared-lifecycle"
                            on:change=move |ev| lifecycle.set(match event_target_value(&ev).as_str() {
                                "legacy" => Lifecycle::Legacy,
                                "modern" => Lifecycle::Modern,
                                _ => Lifecycle::Auto,
                            })
                        >
                            {[
                                ("auto", Lifecycle::Auto, "Either (asks first; can wait 10 s on a silent server)"),
                                ("legacy", Lifecycle::Legacy, "Sessions (2025-11-25)"),
                                ("modern", Lifecycle::Modern, "Stateless (2026-07-28)"),
                            ]
                                .into_iter()
                                .map(|(v, l, label)| view! { <option value=v selected=move || lifecycle.get() == l>{label}</option> })
                                .collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="shared-timeout">"Timeout (seconds)"</label>
                        <input id="shared-timeout" type="number" min="1" max="600" placeholder="30" bind:value=timeout aria-describedby="shared-timeout-error"/>
                        <FieldError id="shared-timeout-error" error=errors.of("timeout_secs")/>
                    </div>
                    <label class="switch">
                        <input type="checkbox" bind:checked=is_public/>
                        "Listed to every member (using it still needs a grant)"
                    </label>
                </details>
                <div class="actions">
                    <button type="button" class="button" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                    <button type="submit" class="button primary" disabled=move || pending.get()>"Save"</button>
                </div>
            </form>
        </Modal>
    }
}
