//! The "LLMs" page: the models Hearth serves. Admins add, edit and delete them (the provider
//! key is checked on save and the outcome said in words); everyone else sees what they may use.

use leptos::prelude::*;

use crate::components::{ConfirmDialog, DataTable, FieldError, FormErrors, Modal, NameChoices};
use leptos::task::spawn_local;
use leptos_meta::Title;

use crate::api::{
    client, Grants, Llm, LlmCheck, LlmInput, ProbeOutcome, Provider, ProviderModelsQuery, SavedLlm,
};
use crate::format;
use crate::session::use_session;

#[derive(Clone, PartialEq)]
enum Editing {
    Closed,
    New,
    Existing(Llm),
}

impl Provider {
    /// How the provider is named in the UI.
    fn label(self) -> &'static str {
        match self {
            Provider::Openai => "OpenAI",
            Provider::Anthropic => "Anthropic",
            Provider::Vllm => "vLLM",
            Provider::Deepseek => "DeepSeek",
            Provider::Ollama => "Ollama",
            Provider::Llamacpp => "llama.cpp server",
            Provider::OpenaiCompatible => "Other OpenAI-compatible",
        }
    }

    /// A model to suggest in the form.
    fn example_model(self) -> &'static str {
        match self {
            Provider::Openai => "gpt-4.1-mini",
            Provider::Anthropic => "claude-sonnet-4-5",
            Provider::Deepseek => "deepseek-chat",
            Provider::Ollama => "llama3.2",
            Provider::Vllm | Provider::Llamacpp | Provider::OpenaiCompatible => {
                "the served model's name"
            }
        }
    }
}

#[component]
pub fn LlmsPage() -> impl IntoView {
    let session = use_session();
    let is_admin = move || session.can(|c| c.manage_llms);
    let version = RwSignal::new(0u32);
    let llms = LocalResource::new(move || {
        version.track();
        client::list_llms()
    });
    let editing = RwSignal::new(Editing::Closed);
    // What the last save said: the probe's warning, when there was one.
    let saved_note = RwSignal::new(None::<(String, Option<String>)>);
    let on_saved = Callback::new(move |saved: SavedLlm| {
        editing.set(Editing::Closed);
        saved_note.set(Some((
            saved.llm.name.clone(),
            saved.warning.map(|w| w.message),
        )));
        version.update(|v| *v += 1);
    });
    let on_deleted = Callback::new(move |_: ()| version.update(|v| *v += 1));

    view! {
        <Title text="LLMs — Hearth"/>
        <div class="page-head">
            <h1>"LLMs"</h1>
            <Show when=is_admin>
                <button type="button" class="button primary" on:click=move |_| editing.set(Editing::New)>"Add LLM"</button>
            </Show>
        </div>
        <p class="muted">
            "Models served through Hearth's OpenAI-compatible API (" <code>"/v1/chat/completions"</code>
            "), with the provider's key kept on the server. Use an LLM's name as the " <code>"model"</code> "."
        </p>
        {move || saved_note.get().map(|(name, warning)| match warning {
            None => view! { <p class="notice ok" role="status">"Saved “" {name} "”. The provider accepted the key."</p> }.into_any(),
            Some(w) => view! { <p class="notice" role="status">"Saved “" {name} "”. " {w}</p> }.into_any(),
        })}
        {move || {
            let llm = match editing.get() {
                Editing::Closed => return None,
                Editing::New => None,
                Editing::Existing(llm) => Some(llm),
            };
            Some(view! { <LlmDialog llm on_saved on_cancel=Callback::new(move |()| editing.set(Editing::Closed))/> })
        }}
        {move || match llms.get() {
            None => view! { <p class="muted">"Loading LLMs…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
            Some(Ok(list)) if list.data.is_empty() => {
                let text = if is_admin() { "No LLMs yet. Add one to chat with it." } else { "No LLM is available to you yet." };
                view! { <p class="muted">{text}</p> }.into_any()
            }
            Some(Ok(list)) => view! {
                <LlmTable llms=list.data editable=is_admin() on_edit=Callback::new(move |llm| editing.set(Editing::Existing(llm))) on_deleted/>
            }
            .into_any(),
        }}
    }
}

/// Who may use something (all members, users, teams), to tick: the users and teams there
/// are, and those granted already.
#[component]
pub(super) fn GrantsField(
    legend: &'static str,
    all_members: RwSignal<bool>,
    users: RwSignal<Vec<String>>,
    teams: RwSignal<Vec<String>>,
    error: Signal<Option<String>>,
    hint: &'static str,
) -> impl IntoView {
    let known = LocalResource::new(move || async move {
        let names = |mut found: Vec<String>, granted: Vec<String>| {
            found.extend(granted);
            found.sort();
            found.dedup();
            found
        };
        let users_found = client::list_users()
            .await
            .map(|l| l.data.into_iter().map(|u| u.name).collect())
            .unwrap_or_default();
        let teams_found = client::list_teams()
            .await
            .map(|l| l.data.into_iter().map(|t| t.name).collect())
            .unwrap_or_default();
        (
            names(users_found, users.get_untracked()),
            names(teams_found, teams.get_untracked()),
        )
    });
    view! {
        <fieldset>
            <legend>{legend}</legend>
            <label class="switch">
                <input type="checkbox" bind:checked=all_members/>
                "All members"
            </label>
            {move || known.get().map(|(user_names, team_names)| view! {
                <p class="small">"Or these users"</p>
                <NameChoices names=user_names chosen=users label="Users" empty="No users yet."/>
                <p class="small">"And the members of these teams"</p>
                <NameChoices names=team_names chosen=teams label="Teams" empty="No teams yet: add them on the Teams page."/>
            })}
            <FieldError id="grants-error" error/>
            <p class="muted small">{hint}</p>
        </fieldset>
    }
}

pub(super) fn grants_text(grants: &Grants) -> String {
    if grants.all_members {
        return "all members".into();
    }
    let named: Vec<String> = grants
        .users
        .iter()
        .cloned()
        .chain(grants.teams.iter().map(|t| format!("team {t}")))
        .collect();
    if named.is_empty() {
        "nobody yet".into()
    } else {
        named.join(", ")
    }
}

/// The last check, as a badge's class and word.
fn check_badge(check: Option<&LlmCheck>) -> (&'static str, &'static str) {
    match check.map(|c| c.outcome) {
        None => ("badge", "not checked"),
        Some(ProbeOutcome::Ok) => ("badge ok", "ok"),
        Some(ProbeOutcome::Auth) => ("badge failed", "key rejected"),
        Some(ProbeOutcome::Unreachable) => ("badge failed", "unreachable"),
        Some(ProbeOutcome::Unexpected) => ("badge pending", "unexpected answer"),
    }
}

/// An LLM's last check with its provider, and a button to check again (admins).
#[component]
fn CheckCell(name: String, check: Option<LlmCheck>, editable: bool) -> impl IntoView {
    let check = RwSignal::new(check);
    let checking = RwSignal::new(false);
    let failed = RwSignal::new(None::<String>);
    let run = move |_| {
        let name = name.clone();
        checking.set(true);
        failed.set(None);
        spawn_local(async move {
            match client::check_llm(&name).await {
                Ok(found) => check.set(Some(found)),
                Err(e) => failed.set(Some(e.message)),
            }
            checking.set(false);
        });
    };
    let said = move || {
        check.with(|c| {
            let (class, word) = check_badge(c.as_ref());
            let detail = c.as_ref().map(|c| {
                let when = format!("Checked {}.", format::ago(c.checked_at, format::now_secs()));
                match c.outcome {
                    ProbeOutcome::Ok => when,
                    _ => format!("{} {when}", c.message),
                }
            });
            view! {
                <span class=class>{word}</span>
                {detail.map(|d| view! { <div class="muted small">{d}</div> })}
            }
        })
    };
    view! {
        <div aria-live="polite">{said}</div>
        {move || failed.get().map(|e| view! { <div class="error small">{e}</div> })}
        {editable.then(|| view! {
            <button type="button" class="button secondary small" disabled=move || checking.get() on:click=run>
                {move || if checking.get() { "Checking…" } else { "Check" }}
            </button>
        })}
    }
}

#[component]
fn LlmTable(
    llms: Vec<Llm>,
    editable: bool,
    on_edit: Callback<Llm>,
    on_deleted: Callback<()>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    // The LLM whose deletion waits for the user to confirm it.
    let deleting = RwSignal::new(None::<String>);
    let delete = Callback::new(move |()| {
        let Some(name) = deleting.get_untracked() else {
            return;
        };
        deleting.set(None);
        spawn_local(async move {
            match client::delete_llm(&name).await {
                Ok(()) => on_deleted.run(()),
                Err(e) => error.set(Some(e.message)),
            }
        });
    });
    let confirm = move || {
        deleting.get().map(|name| {
            view! {
                <ConfirmDialog
                    title=format!("Delete the LLM “{name}”?")
                    text="Clients that use it will get “model not found”; its key is deleted with it.".to_owned()
                    action="Delete"
                    on_confirm=delete
                    on_close=Callback::new(move |()| deleting.set(None))
                />
            }
        })
    };
    // Admins and viewers see how each LLM is set up; members only what they may run.
    let full = llms.iter().any(|l| l.grants.is_some());
    let columns: &'static [&'static str] = if full {
        &[
            "Name",
            "Provider",
            "Upstream model",
            "Status",
            "Who may run it",
            "",
        ]
    } else {
        &["Name", "Provider", "Upstream model"]
    };
    let rows = llms
        .into_iter()
        .map(|llm| {
            let for_edit = llm.clone();
            let name = llm.name.clone();
            let key = if llm.has_api_key { "key set" } else { "no key" };
            view! {
                <tr data-testid="llm-row">
                    <td data-label="Name">
                        <strong>{llm.name.clone()}</strong>
                        {llm.description.clone().map(|d| view! { <div class="muted small">{d}</div> })}
                        {llm.tier.clone().map(|t| view! { <div class="muted small">"Tier: " {t}</div> })}
                    </td>
                    <td data-label="Provider">{llm.provider.label()}{full.then(|| view! { <div class="muted small">{key}</div> })}</td>
                    <td data-label="Upstream model"><code>{llm.model.clone()}</code></td>
                    {full.then(|| view! {
                        <td data-label="Status"><CheckCell name=llm.name.clone() check=llm.check.clone() editable/></td>
                        <td data-label="Who may run it">{llm.grants.as_ref().map(grants_text)}</td>
                        <td class="row-actions">
                            {editable.then(|| view! {
                                <button type="button" class="button secondary" on:click=move |_| on_edit.run(for_edit.clone())>"Edit"</button>
                                <button type="button" class="button danger" on:click=move |_| deleting.set(Some(name.clone()))>"Delete"</button>
                            })}
                        </td>
                    })}
                </tr>
            }
        })
        .collect_view();
    view! {
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <DataTable label="LLMs" columns>{rows}</DataTable>
        {confirm}
    }
    .into_any()
}

#[component]
fn LlmDialog(
    llm: Option<Llm>,
    on_saved: Callback<SavedLlm>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let existing = llm.as_ref().map(|l| l.name.clone());
    let had_key = llm
        .as_ref()
        .is_some_and(|l| l.has_api_key && l.api_key_ref.is_none());
    let name = RwSignal::new(llm.as_ref().map(|l| l.name.clone()).unwrap_or_default());
    let provider = RwSignal::new(llm.as_ref().map(|l| l.provider).unwrap_or(Provider::Openai));
    let base_url = RwSignal::new(
        llm.as_ref()
            .and_then(|l| l.base_url.clone())
            .unwrap_or_default(),
    );
    let model = RwSignal::new(llm.as_ref().map(|l| l.model.clone()).unwrap_or_default());
    let api_key = RwSignal::new(String::new());
    let remove_key = RwSignal::new(false);
    let key_ref = RwSignal::new(
        llm.as_ref()
            .and_then(|l| l.api_key_ref.clone())
            .unwrap_or_default(),
    );
    let description = RwSignal::new(
        llm.as_ref()
            .and_then(|l| l.description.clone())
            .unwrap_or_default(),
    );
    let tier = RwSignal::new(
        llm.as_ref()
            .and_then(|l| l.tier.clone())
            .unwrap_or_default(),
    );
    let grants = llm
        .as_ref()
        .and_then(|l| l.grants.clone())
        .unwrap_or(Grants {
            all_members: true,
            ..Grants::default()
        });
    let all_members = RwSignal::new(grants.all_members);
    let users = RwSignal::new(grants.users.clone());
    let teams = RwSignal::new(grants.teams.clone());
    let skip_check = RwSignal::new(false);
    let errors = FormErrors::new();
    let pending = RwSignal::new(false);

    // The provider's models, asked for with the connection details typed so far.
    let offered = RwSignal::new(Vec::<String>::new());
    let finding = RwSignal::new(false);
    let found = RwSignal::new(None::<(bool, String)>);
    let stored_llm = existing.clone();
    let find_models = move |_| {
        let typed = |text: String| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        let query = ProviderModelsQuery {
            provider: provider.get_untracked(),
            base_url: typed(base_url.get_untracked()),
            api_key: typed(api_key.get_untracked()),
            api_key_ref: typed(key_ref.get_untracked()),
            llm: stored_llm.clone().filter(|_| !remove_key.get_untracked()),
        };
        finding.set(true);
        found.set(None);
        errors.clear();
        spawn_local(async move {
            match client::provider_models(&query).await {
                Ok(answer) => {
                    let ok = answer.check.outcome == ProbeOutcome::Ok;
                    let said = answer.check.message;
                    let words = match (ok, answer.data.len()) {
                        (false, _) => said,
                        (true, 0) => format!("{said} It listed no models: type the model's name."),
                        (true, 1) => format!("{said} It offers one model."),
                        (true, n) => {
                            format!("{said} It offers {n} models: pick one, or type its name.")
                        }
                    };
                    if model.get_untracked().trim().is_empty() && answer.data.len() == 1 {
                        model.set(answer.data[0].clone());
                    }
                    offered.set(answer.data);
                    found.set(Some((ok, words)));
                }
                Err(e) => errors.show(e, &["base_url", "api_key", "api_key_ref"]),
            }
            finding.set(false);
        });
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let typed_key = api_key.get_untracked().trim().to_owned();
        let reference = key_ref.get_untracked().trim().to_owned();
        let input = LlmInput {
            name: name.get_untracked().trim().to_owned(),
            provider: provider.get_untracked(),
            base_url: Some(base_url.get_untracked()).filter(|u| !u.trim().is_empty()),
            model: model.get_untracked().trim().to_owned(),
            // Blank keeps the stored key on an edit; "remove" clears it.
            api_key: match (typed_key.is_empty(), remove_key.get_untracked()) {
                (false, _) => Some(typed_key),
                (true, true) => Some(String::new()),
                (true, false) => None,
            },
            api_key_ref: Some(reference).filter(|r| !r.is_empty()),
            description: Some(description.get_untracked()).filter(|d| !d.trim().is_empty()),
            tier: Some(tier.get_untracked()).filter(|t| !t.trim().is_empty()),
            grants: Grants {
                all_members: all_members.get_untracked(),
                users: users.get_untracked(),
                teams: teams.get_untracked(),
            },
        };
        let existing = existing.clone();
        let skip = skip_check.get_untracked();
        pending.set(true);
        errors.clear();
        spawn_local(async move {
            let saved = match &existing {
                Some(name) => client::update_llm(name, &input, skip).await,
                None => client::create_llm(&input, skip).await,
            };
            pending.set(false);
            match saved {
                Ok(saved) => on_saved.run(saved),
                Err(e) => errors.show(
                    e,
                    &[
                        "name",
                        "base_url",
                        "model",
                        "api_key",
                        "api_key_ref",
                        "description",
                        "tier",
                        "grants",
                    ],
                ),
            }
        });
    };
    let editing = llm.is_some();
    let title = if editing { "Edit LLM" } else { "Add LLM" };
    let url_placeholder = move || {
        provider
            .get()
            .default_base_url()
            .unwrap_or("https://llm.example.com")
            .to_owned()
    };
    let key_placeholder = move || {
        if had_key {
            "Leave blank to keep the stored key"
        } else {
            "The provider's API key (optional for local servers)"
        }
    };

    // A field with the error Hearth tied to it, named by `aria-describedby`.
    let described = move |param: &'static str| {
        let error = errors.of(param);
        move || error.with(Option::is_some).to_string()
    };
    view! {
        <Modal labelledby="llm-dialog-title" on_close=on_cancel>
            <form on:submit=on_submit>
                <h2 id="llm-dialog-title">{title}</h2>
                {move || errors.general.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <div class="field">
                    <label for="llm-provider">"Provider"</label>
                    <select
                        id="llm-provider"
                        on:change=move |ev| provider.set(event_target_value(&ev).parse().unwrap_or(Provider::Openai))
                        prop:value=move || provider.get().as_str()
                    >
                        {Provider::ALL
                            .into_iter()
                            .map(|p| view! { <option value=p.as_str() selected=move || provider.get() == p>{p.label()}</option> })
                            .collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="llm-url">"Base URL"</label>
                    <input id="llm-url" type="url" placeholder=url_placeholder bind:value=base_url aria-describedby="llm-url-error llm-url-hint" aria-invalid=described("base_url")/>
                    <FieldError id="llm-url-error" error=errors.of("base_url")/>
                    <span class="muted small" id="llm-url-hint">"Blank for the provider's usual URL, where it has one."</span>
                </div>
                <div class="field">
                    <label for="llm-key">"API key"</label>
                    <input id="llm-key" type="password" autocomplete="off" placeholder=key_placeholder bind:value=api_key aria-describedby="llm-key-error llm-key-hint" aria-invalid=described("api_key")/>
                    <FieldError id="llm-key-error" error=errors.of("api_key")/>
                    <span class="muted small" id="llm-key-hint">"Write-only: stored encrypted and never shown again."</span>
                </div>
                <Show when=move || had_key>
                    <label class="switch">
                        <input type="checkbox" bind:checked=remove_key/>
                        "Remove the stored key"
                    </label>
                </Show>
                <div class="field-row">
                    <button type="button" class="button secondary" disabled=move || finding.get() on:click=find_models>
                        {move || if finding.get() { "Asking the provider…" } else { "Check and list models" }}
                    </button>
                    <span role="status" id="llm-models-found" class="small">
                        {move || found.get().map(|(ok, words)| view! { <span class=if ok { "ok" } else { "error" }>{words}</span> })}
                    </span>
                </div>
                <div class="field">
                    <label for="llm-model">"Upstream model"</label>
                    <input id="llm-model" required list="llm-model-options" autocomplete="off" placeholder=move || provider.get().example_model() bind:value=model aria-describedby="llm-model-error" aria-invalid=described("model")/>
                    <datalist id="llm-model-options">
                        {move || offered.get().into_iter().map(|m| view! { <option value=m></option> }).collect_view()}
                    </datalist>
                    <FieldError id="llm-model-error" error=errors.of("model")/>
                </div>
                <div class="field">
                    <label for="llm-name">"Name"</label>
                    <input id="llm-name" required maxlength="128" placeholder="team-chat" disabled=editing bind:value=name aria-describedby="llm-name-error llm-name-hint" aria-invalid=described("name")/>
                    <FieldError id="llm-name-error" error=errors.of("name")/>
                    <span class="muted small" id="llm-name-hint">"What clients send as " <code>"model"</code> ": letters, digits, " <code>". _ - :"</code></span>
                </div>
                <GrantsField
                    legend="Who may run it"
                    all_members
                    users
                    teams
                    error=errors.of("grants")
                    hint="Editing LLMs does not let anyone run them: admins need a grant too."
                />
                <details class="advanced">
                    <summary>"Advanced"</summary>
                    <div class="field">
                        <label for="llm-key-ref">"Key reference, in place of the key"</label>
                        <input id="llm-key-ref" placeholder="env:HEARTH_KEY_OPENAI or file:/run/secrets/key" bind:value=key_ref aria-describedby="llm-key-ref-error" aria-invalid=described("api_key_ref")/>
                        <FieldError id="llm-key-ref-error" error=errors.of("api_key_ref")/>
                    </div>
                    <div class="field">
                        <label for="llm-description">"Description"</label>
                        <input id="llm-description" maxlength="1000" bind:value=description aria-describedby="llm-description-error"/>
                        <FieldError id="llm-description-error" error=errors.of("description")/>
                    </div>
                    <div class="field">
                        <label for="llm-tier">"Tier"</label>
                        <input id="llm-tier" maxlength="64" placeholder="cheap, fast, best…" bind:value=tier aria-describedby="llm-tier-error"/>
                        <FieldError id="llm-tier-error" error=errors.of("tier")/>
                    </div>
                    <label class="switch">
                        <input type="checkbox" bind:checked=skip_check/>
                        "Save without checking the key with the provider"
                    </label>
                </details>
                <div class="actions">
                    <button type="button" class="button" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                    <button type="submit" class="button primary" disabled=move || pending.get()>
                        {move || if pending.get() { "Checking the key…" } else { "Save" }}
                    </button>
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
    fn grants_are_said_in_words() {
        assert_eq!(
            grants_text(&Grants {
                all_members: true,
                users: vec!["x".into()],
                ..Grants::default()
            }),
            "all members"
        );
        assert_eq!(grants_text(&Grants::default()), "nobody yet");
        let named = Grants {
            users: vec!["ana".into(), "bob".into()],
            teams: vec!["ops".into()],
            ..Grants::default()
        };
        assert_eq!(grants_text(&named), "ana, bob, team ops");
    }
}
