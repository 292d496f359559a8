//! The "API keys" page: create a key (shown once, with a copy button), list, revoke.

use leptos::html;
use leptos::prelude::*;

use crate::components::{ConfirmDialog, DataTable};
use leptos::task::spawn_local;
use leptos_meta::Title;

use crate::api::{client, ApiKey, CreateApiKey, CreatedApiKey};
use crate::format;
use crate::session::use_session;

#[component]
pub fn KeysPage() -> impl IntoView {
    // Bumped after every change, to reload the list.
    let version = RwSignal::new(0u32);
    let keys = LocalResource::new(move || {
        version.track();
        client::list_keys()
    });
    let created = RwSignal::new(None::<CreatedApiKey>);
    let on_created = Callback::new(move |key: CreatedApiKey| {
        created.set(Some(key));
        version.update(|v| *v += 1);
    });
    let on_revoked = Callback::new(move |_: i64| version.update(|v| *v += 1));

    view! {
        <Title text="API keys — Hearth"/>
        <h1>"API keys"</h1>
        <p class="muted">
            "A key acts as its user. Send it as " <code>"Authorization: Bearer <key>"</code> " or "
            <code>"X-Api-Key: <key>"</code> "."
        </p>
        <CreateKeyForm on_created/>
        {move || created.get().map(|key| view! { <NewKeyPanel key on_done=move || created.set(None)/> })}
        {move || match keys.get() {
            None => view! { <p class="muted">"Loading keys…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
            Some(Ok(list)) if list.data.is_empty() => view! { <p class="muted">"No API keys yet."</p> }.into_any(),
            Some(Ok(list)) => view! { <KeyTable keys=list.data on_revoked/> }.into_any(),
        }}
    }
}

#[component]
fn CreateKeyForm(on_created: Callback<CreatedApiKey>) -> impl IntoView {
    let session = use_session();
    let name = NodeRef::<html::Input>::new();
    let owner = NodeRef::<html::Input>::new();
    let expiry = NodeRef::<html::Select>::new();
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    // The users a key may be made for, offered by name.
    let owners = LocalResource::new(move || async move {
        if !session.can(|c| c.manage_all_keys) {
            return Vec::new();
        }
        client::list_users()
            .await
            .map(|l| l.data.into_iter().map(|u| u.name).collect::<Vec<_>>())
            .unwrap_or_default()
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = CreateApiKey {
            name: name.get().map(|el| el.value()).unwrap_or_default(),
            user: owner
                .get()
                .map(|el| el.value())
                .filter(|v| !v.trim().is_empty()),
            expires_in_days: expiry.get().and_then(|el| el.value().parse().ok()),
            llms: None,
            mcp_servers: None,
        };
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match client::create_key(&request).await {
                Ok(key) => {
                    if let Some(el) = name.get() {
                        el.set_value("");
                    }
                    on_created.run(key);
                }
                Err(e) => error.set(Some(e.message)),
            }
            pending.set(false);
        });
    };

    view! {
        <form class="card form-row" on:submit=on_submit>
            <div class="field">
                <label for="key-name">"Name"</label>
                <input id="key-name" name="name" required placeholder="laptop, CI, …" node_ref=name/>
            </div>
            <Show when=move || session.can(|c| c.manage_all_keys)>
                <div class="field">
                    <label for="key-owner">"Owner"</label>
                    <input id="key-owner" name="user" list="key-owners" autocomplete="off" placeholder="user name (default: you)" node_ref=owner/>
                    <datalist id="key-owners">
                        {move || owners.get().unwrap_or_default().into_iter().map(|u| view! { <option value=u></option> }).collect_view()}
                    </datalist>
                </div>
            </Show>
            <div class="field">
                <label for="key-expiry">"Expires"</label>
                <select id="key-expiry" name="expires_in_days" node_ref=expiry>
                    <option value="">"Never"</option>
                    <option value="30">"In 30 days"</option>
                    <option value="90">"In 90 days"</option>
                    <option value="365">"In a year"</option>
                </select>
            </div>
            <button type="submit" class="button primary" disabled=move || pending.get()>"Create key"</button>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </form>
    }
}

/// The new key, shown this once.
#[component]
fn NewKeyPanel(key: CreatedApiKey, on_done: impl Fn() + 'static) -> impl IntoView {
    let copied = RwSignal::new(false);
    let secret = key.key.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&secret);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &secret;
    };
    view! {
        <section class="card new-key" data-testid="new-key">
            <h2>"Key “" {key.info.name.clone()} "” created"</h2>
            <p>"Copy it now: it will not be shown again."</p>
            <div class="secret-row">
                <code class="secret" data-testid="new-key-value">{key.key.clone()}</code>
                <button type="button" class="button secondary" on:click=copy>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </div>
            <button type="button" class="button" on:click=move |_| on_done()>"Done"</button>
        </section>
    }
}

#[component]
fn KeyTable(keys: Vec<ApiKey>, on_revoked: Callback<i64>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    // Revoke is offered where it would be accepted: one's own keys, or anyone's for admins.
    let me = use_session().get();
    let revokes_all = me.as_ref().is_some_and(|m| m.can.manage_all_keys);
    let mine = me.map(|m| m.name).unwrap_or_default();
    // The key whose revocation waits for the user to confirm it.
    let revoking = RwSignal::new(None::<ApiKey>);
    let revoke = Callback::new(move |()| {
        let Some(key) = revoking.get_untracked() else {
            return;
        };
        revoking.set(None);
        spawn_local(async move {
            match client::delete_key(key.id).await {
                Ok(()) => on_revoked.run(key.id),
                Err(e) => error.set(Some(e.message)),
            }
        });
    });
    let confirm = move || {
        revoking.get().map(|key| {
            view! {
                <ConfirmDialog
                    title=format!("Revoke the key “{}”?", key.name)
                    text="Programs that use it stop working at once. This cannot be undone.".to_owned()
                    action="Revoke"
                    on_confirm=revoke
                    on_close=Callback::new(move |()| revoking.set(None))
                />
            }
        })
    };
    let rows = keys
        .into_iter()
        .map(|key| {
            let for_click = key.clone();
            let may_revoke = revokes_all || key.user == mine;
            view! {
                <tr>
                    <td data-label="Name">{key.name}</td>
                    <td data-label="Key"><code>{key.prefix} "…"</code></td>
                    <td data-label="Owner">{key.user}</td>
                    <td data-label="Created">{format::date(key.created_at)}</td>
                    <td data-label="Expires">{key.expires_at.map(format::date).unwrap_or_else(|| "never".into())}</td>
                    <td data-label="Last used">{key.last_used_at.map(format::date).unwrap_or_else(|| "—".into())}</td>
                    <td class="row-actions">
                        {may_revoke.then(|| view! {
                            <button type="button" class="button danger" on:click=move |_| revoking.set(Some(for_click.clone()))>
                                "Revoke"
                            </button>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <DataTable label="API keys" columns=&["Name", "Key", "Owner", "Created", "Expires", "Last used", ""]>{rows}</DataTable>
        {confirm}
    }
}
