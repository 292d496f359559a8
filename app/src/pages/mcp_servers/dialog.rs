//! The add / edit dialog of a personal MCP server.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{client, HeaderEntry, McpServerInput, McpTransport, PersonalMcpServer};
use crate::components::{FieldError, FormErrors, Modal};

/// The header the "Authorization" field stands for.
const AUTHORIZATION: &str = "Authorization";

/// The token as shown in the field: the header's value without its `Bearer ` scheme.
fn token_of(value: &str) -> String {
    value.strip_prefix("Bearer ").unwrap_or(value).to_owned()
}

/// The header value for what was typed: a bare token gets the `Bearer ` scheme.
fn authorization_value(typed: &str) -> Option<String> {
    let typed = typed.trim();
    match typed {
        "" => None,
        t if t.contains(' ') => Some(t.to_owned()),
        t => Some(format!("Bearer {t}")),
    }
}

#[component]
pub fn McpServerDialog(
    server: Option<PersonalMcpServer>,
    on_saved: Callback<PersonalMcpServer>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let id = server.as_ref().map(|s| s.id);
    let original = server.clone();
    let name = RwSignal::new(server.as_ref().map(|s| s.name.clone()).unwrap_or_default());
    let url = RwSignal::new(server.as_ref().map(|s| s.url.clone()).unwrap_or_default());
    let transport = RwSignal::new(server.as_ref().map(|s| s.transport).unwrap_or_default());
    let use_proxy = RwSignal::new(server.as_ref().is_none_or(|s| s.use_proxy));
    let headers = server
        .as_ref()
        .map(|s| s.headers.clone())
        .unwrap_or_default();
    let authorization = RwSignal::new(
        headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(AUTHORIZATION))
            .map(|h| token_of(&h.value))
            .unwrap_or_default(),
    );
    // Custom headers as editable rows (a counter keys each row).
    let rows: Vec<(usize, RwSignal<String>, RwSignal<String>)> = headers
        .into_iter()
        .filter(|h| !h.name.eq_ignore_ascii_case(AUTHORIZATION))
        .enumerate()
        .map(|(i, h)| (i, RwSignal::new(h.name), RwSignal::new(h.value)))
        .collect();
    let next_row = StoredValue::new(rows.len());
    let rows = RwSignal::new(rows);
    let add_row = move |_| {
        let key = next_row.get_value();
        next_row.set_value(key + 1);
        rows.update(|r| {
            r.push((
                key,
                RwSignal::new(String::new()),
                RwSignal::new(String::new()),
            ))
        });
    };
    let errors = FormErrors::new();
    let pending = RwSignal::new(false);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut headers: Vec<HeaderEntry> = Vec::new();
        if let Some(value) = authorization_value(&authorization.get_untracked()) {
            headers.push(HeaderEntry {
                name: AUTHORIZATION.into(),
                value,
            });
        }
        for (_, n, v) in rows.get_untracked() {
            let n = n.get_untracked();
            if !n.trim().is_empty() {
                headers.push(HeaderEntry {
                    name: n.trim().to_owned(),
                    value: v.get_untracked(),
                });
            }
        }
        let input = McpServerInput {
            name: name.get_untracked(),
            url: url.get_untracked(),
            transport: transport.get_untracked(),
            headers,
            use_proxy: use_proxy.get_untracked(),
            tools: original
                .as_ref()
                .map(|s| s.tools.clone())
                .unwrap_or_default(),
            auto_connect: original.as_ref().is_none_or(|s| s.auto_connect),
        };
        pending.set(true);
        errors.clear();
        spawn_local(async move {
            let saved = match id {
                Some(id) => client::update_mcp_server(id, &input).await,
                None => client::create_mcp_server(&input).await,
            };
            pending.set(false);
            match saved {
                Ok(server) => on_saved.run(server),
                Err(e) => errors.show(e, &["name", "url", "headers"]),
            }
        });
    };
    let title = if id.is_some() {
        "Edit MCP server"
    } else {
        "Add MCP server"
    };

    view! {
        <Modal labelledby="mcp-dialog-title" on_close=on_cancel>
            <form on:submit=on_submit>
                <h2 id="mcp-dialog-title">{title}</h2>
                {move || errors.general.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <div class="field">
                    <label for="mcp-name">"Name"</label>
                    <input id="mcp-name" required maxlength="100" placeholder="Everything" bind:value=name aria-describedby="mcp-name-error"/>
                    <FieldError id="mcp-name-error" error=errors.of("name")/>
                </div>
                <div class="field">
                    <label for="mcp-url">"Server URL"</label>
                    <input id="mcp-url" type="url" required placeholder="http://127.0.0.1:3001/mcp" bind:value=url aria-describedby="mcp-url-error"/>
                    <FieldError id="mcp-url-error" error=errors.of("url")/>
                </div>
                <div class="field">
                    <label for="mcp-transport">"Transport"</label>
                    <select
                        id="mcp-transport"
                        on:change=move |ev| transport.set(event_target_value(&ev).parse().unwrap_or_default())
                        prop:value=move || transport.get().as_str()
                    >
                        {McpTransport::ALL
                            .into_iter()
                            .map(|t| view! { <option value=t.as_str() selected=move || transport.get() == t>{t.label()}</option> })
                            .collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="mcp-authorization">"Authorization"</label>
                    <input
                        id="mcp-authorization"
                        type="password"
                        autocomplete="off"
                        placeholder="Bearer token for this server (optional)"
                        bind:value=authorization
                    />
                </div>
                <fieldset class="headers">
                    <legend>"Custom headers"</legend>
                    <For each=move || rows.get() key=|(k, _, _)| *k let:row>
                        <div class="header-row">
                            <input aria-label="Header name" placeholder="X-Header" bind:value=row.1/>
                            <input aria-label="Header value" placeholder="value" bind:value=row.2/>
                            <button
                                type="button"
                                class="button secondary"
                                aria-label="Remove header"
                                on:click=move |_| rows.update(|r| r.retain(|(k, _, _)| *k != row.0))
                            >
                                "×"
                            </button>
                        </div>
                    </For>
                    <button type="button" class="button secondary" on:click=add_row>"Add header"</button>
                    <FieldError id="mcp-headers-error" error=errors.of("headers")/>
                </fieldset>
                <label class="switch">
                    <input type="checkbox" role="switch" bind:checked=use_proxy/>
                    "Use proxy"
                </label>
                <p class="muted small">
                    "Through Hearth's /cors-proxy, for servers that do not allow this page's origin (CORS). \
                     Only the headers above are sent to the server."
                </p>
                <div class="actions">
                    <button type="button" class="button" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                    <button type="submit" class="button primary" disabled=move || pending.get()>"Save"</button>
                </div>
            </form>
        </Modal>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_token_becomes_a_bearer_header_and_back() {
        assert_eq!(authorization_value(" abc "), Some("Bearer abc".into()));
        assert_eq!(
            authorization_value("Basic dXNlcg=="),
            Some("Basic dXNlcg==".into())
        );
        assert_eq!(authorization_value("  "), None);
        assert_eq!(token_of("Bearer abc"), "abc");
        assert_eq!(token_of("Basic x"), "Basic x");
    }
}
