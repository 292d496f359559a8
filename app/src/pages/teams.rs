//! The "Teams" page: named groups of users that LLM grants can name. Admins add teams and
//! choose their members from the users there are; viewers read every team; members see the
//! teams they are in.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

use crate::api::{client, Team, TeamInput};
use crate::components::{ConfirmDialog, DataTable, FieldError, FormErrors, Modal, NameChoices};
use crate::session::use_session;

#[component]
pub fn TeamsPage() -> impl IntoView {
    let session = use_session();
    let manage = session.can(|c| c.manage_teams);
    let version = RwSignal::new(0u32);
    let teams = LocalResource::new(move || {
        version.track();
        client::list_teams()
    });
    // Who may be a member: every user (listed to those who manage teams).
    let users = LocalResource::new(move || async move {
        if !manage {
            return Vec::new();
        }
        client::list_users()
            .await
            .map(|l| l.data.into_iter().map(|u| u.name).collect())
            .unwrap_or_default()
    });
    // `Some(None)`: a new team; `Some(Some(team))`: that team's members.
    let editing = RwSignal::new(None::<Option<Team>>);
    let deleting = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let reload = move || version.update(|v| *v += 1);

    let delete = Callback::new(move |()| {
        let Some(name) = deleting.get_untracked() else {
            return;
        };
        deleting.set(None);
        spawn_local(async move {
            match client::delete_team(&name).await {
                Ok(()) => reload(),
                Err(e) => error.set(Some(e.message)),
            }
        });
    });
    let dialog = move || {
        editing.get().map(|team| {
            let known = users.get().unwrap_or_default();
            view! {
                <TeamDialog
                    team
                    users=known
                    on_saved=Callback::new(move |()| {
                        editing.set(None);
                        reload();
                    })
                    on_close=Callback::new(move |()| editing.set(None))
                />
            }
        })
    };
    let confirm = move || {
        deleting.get().map(|name| {
            view! {
                <ConfirmDialog
                    title=format!("Delete the team “{name}”?")
                    text="LLMs granted to it are no longer run by its members through it; the users stay.".to_owned()
                    action="Delete"
                    on_confirm=delete
                    on_close=Callback::new(move |()| deleting.set(None))
                />
            }
        })
    };
    let table = move |list: Vec<Team>| {
        let rows = list
            .into_iter()
            .map(|team| {
                let name = team.name.clone();
                let members = if team.members.is_empty() {
                    "no members yet".to_owned()
                } else {
                    team.members.join(", ")
                };
                view! {
                    <tr data-testid="team-row">
                        <td data-label="Team"><strong>{team.name.clone()}</strong></td>
                        <td data-label="Members">{members}</td>
                        <td class="row-actions">
                            {manage.then(|| view! {
                                <button type="button" class="button secondary" on:click=move |_| editing.set(Some(Some(team.clone())))>"Members"</button>
                                <button type="button" class="button danger" on:click=move |_| deleting.set(Some(name.clone()))>"Delete"</button>
                            })}
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! { <DataTable label="Teams" columns=&["Team", "Members", ""]>{rows}</DataTable> }
    };

    view! {
        <Title text="Teams — Hearth"/>
        <div class="page-head">
            <h1>"Teams"</h1>
            {manage.then(|| view! {
                <button type="button" class="button primary" on:click=move |_| editing.set(Some(None))>"Add team"</button>
            })}
        </div>
        <p class="muted">"A team is a named group of users: an LLM granted to a team may be run by its members."</p>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {dialog}
        {confirm}
        {move || match teams.get() {
            None => view! { <p class="muted">"Loading teams…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
            Some(Ok(list)) if list.data.is_empty() => {
                let text = if manage {
                    "No teams yet. Add one, then grant LLMs to it."
                } else {
                    "You are not in any team."
                };
                view! { <p class="muted">{text}</p> }.into_any()
            }
            Some(Ok(list)) => table(list.data).into_any(),
        }}
    }
}

/// Adds a team, or changes an existing team's members, chosen from the users there are.
#[component]
fn TeamDialog(
    team: Option<Team>,
    users: Vec<String>,
    on_saved: Callback<()>,
    on_close: Callback<()>,
) -> impl IntoView {
    let editing = team.is_some();
    let name = RwSignal::new(team.as_ref().map(|t| t.name.clone()).unwrap_or_default());
    let members = RwSignal::new(team.map(|t| t.members).unwrap_or_default());
    // Members already in the team stay choosable even if the user list is unknown.
    let mut choices = users;
    choices.extend(members.get_untracked());
    choices.sort();
    choices.dedup();
    let errors = FormErrors::new();
    let pending = RwSignal::new(false);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = TeamInput {
            name: name.get_untracked().trim().to_owned(),
            members: members.get_untracked(),
        };
        pending.set(true);
        errors.clear();
        spawn_local(async move {
            let saved = if editing {
                client::update_team(&input).await
            } else {
                client::create_team(&input).await
            };
            pending.set(false);
            match saved {
                Ok(_) => on_saved.run(()),
                Err(e) => errors.show(e, &["name", "members"]),
            }
        });
    };
    view! {
        <Modal labelledby="team-dialog-title" on_close>
            <form on:submit=on_submit>
                <h2 id="team-dialog-title">{if editing { "Team members" } else { "Add team" }}</h2>
                {move || errors.general.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <div class="field">
                    <label for="team-name">"Name"</label>
                    <input id="team-name" required maxlength="64" placeholder="research" disabled=editing bind:value=name aria-describedby="team-name-error"/>
                    <FieldError id="team-name-error" error=errors.of("name")/>
                </div>
                <fieldset aria-describedby="team-members-error">
                    <legend>"Members"</legend>
                    <NameChoices names=choices chosen=members label="Members" empty="There are no users yet: add them with hearth user add."/>
                    <FieldError id="team-members-error" error=errors.of("members")/>
                </fieldset>
                <div class="actions">
                    <button type="button" class="button" on:click=move |_| on_close.run(())>"Cancel"</button>
                    <button type="submit" class="button primary" disabled=move || pending.get()>"Save"</button>
                </div>
            </form>
        </Modal>
    }
}
