//! The app's frame (top bar with navigation and the signed-in user, the local-mode notice)
//! and the table every page uses.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Outlet, Redirect, A};
use leptos_router::hooks::use_navigate;

use crate::api::client;
use crate::session::use_session;

/// The pages a signed-in user sees, inside the top bar. Only pages that work are listed. On a
/// phone the navigation and the user menu fold into "Menu".
/// Names to tick, from a list (users, teams): `chosen` holds the ticked ones, in the order
/// they were ticked.
#[component]
pub fn NameChoices(
    names: Vec<String>,
    chosen: RwSignal<Vec<String>>,
    /// The group's accessible name.
    label: &'static str,
    /// Said when there is no name to choose.
    empty: &'static str,
) -> impl IntoView {
    let boxes = names
        .into_iter()
        .map(|name| {
            let (checked, toggled) = (name.clone(), name.clone());
            view! {
                <label class="switch">
                    <input
                        type="checkbox"
                        prop:checked=move || chosen.with(|c| c.contains(&checked))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            chosen.update(|c| {
                                c.retain(|n| *n != toggled);
                                if on {
                                    c.push(toggled.clone());
                                }
                            });
                        }
                    />
                    {name}
                </label>
            }
        })
        .collect::<Vec<_>>();
    let none = boxes
        .is_empty()
        .then(|| view! { <span class="muted small">{empty}</span> });
    view! { <div class="choices" role="group" aria-label=label>{boxes}{none}</div> }
}

/// In place of a page's content for someone whose role does not give them that page.
#[component]
pub fn NotForRole(
    /// Who the page is for, as a sentence.
    for_whom: &'static str,
) -> impl IntoView {
    view! {
        <section class="card" data-testid="not-for-role">
            <h2>"Not available to your role"</h2>
            <p>{for_whom} " Ask an admin of this Hearth if you need it."</p>
            <p><a href="/">"Back to the overview"</a></p>
        </section>
    }
}

/// The pages' frame around the page the address names.
#[component]
pub fn AppLayout() -> impl IntoView {
    view! { <Frame><Outlet/></Frame> }
}

/// The frame of every page but sign-in: the top bar with the navigation and the user, and the
/// page below it. Signed out, it sends to the sign-in page instead.
#[component]
pub fn Frame(children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let menu_open = RwSignal::new(false);
    let location = leptos_router::hooks::use_location();
    view! {
        <Show when=move || session.is_signed_in() fallback=move || view! { <Redirect path=back_after_sign_in(&location)/> }>
            <div class="app">
                <header class="topbar" class:open=move || menu_open.get()>
                    <A href="/" attr:class="brand">"Hearth"</A>
                    <button
                        type="button"
                        class="button secondary menu-button"
                        aria-controls="topbar-menu"
                        aria-expanded=move || menu_open.get().to_string()
                        on:click=move |_| menu_open.update(|open| *open = !*open)
                    >
                        "Menu"
                    </button>
                    // Following a link in it folds the menu again.
                    <div class="topbar-menu" id="topbar-menu" on:click=move |_| menu_open.set(false)>
                        <nav class="nav" aria-label="Pages">
                            <A href="/" exact=true>"Overview"</A>
                            <A href="/chat">"Chat"</A>
                            <A href="/llms">"LLMs"</A>
                            <A href="/mcp-servers">"MCP servers"</A>
                            <A href="/keys">"API keys"</A>
                            <A href="/teams">"Teams"</A>
                            <Show when=move || session.can(|c| c.read_audit)>
                                <A href="/audit">"Audit"</A>
                            </Show>
                        </nav>
                        <UserMenu/>
                    </div>
                </header>
                <LocalModeNotice/>
                <main class="content">
                    {children()}
                </main>
            </div>
        </Show>
    }
}

/// The sign-in page, asked to come back here afterwards.
fn back_after_sign_in(location: &leptos_router::location::Location) -> String {
    let (path, search) = (
        location.pathname.get_untracked(),
        location.search.get_untracked(),
    );
    let here = if search.is_empty() {
        path
    } else {
        format!("{path}?{}", search.trim_start_matches('?'))
    };
    crate::api::login_path(&here)
}

/// Who is signed in, and the sign-out button. A plain form post until the wasm takes over.
#[component]
fn UserMenu() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let error = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let navigate = navigate.clone();
        spawn_local(async move {
            match client::logout().await {
                // To the sign-in page first: signed out where they are, the page would ask
                // to come back to it.
                Ok(()) => {
                    navigate("/login", Default::default());
                    session.set(None);
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    let me = move || session.get();
    view! {
        <div class="user-menu">
            <span class="user-name" data-testid="user-name">{move || me().map(|m| m.name)}</span>
            <span class="badge">{move || me().map(|m| m.role.to_string())}</span>
            <form method="post" action="/auth/logout" on:submit=on_submit>
                <button type="submit" class="button secondary">"Sign out"</button>
            </form>
            {move || error.get().map(|e| view! { <span class="error">{e}</span> })}
        </div>
    }
}

#[component]
fn LocalModeNotice() -> impl IntoView {
    let session = use_session();
    view! {
        <Show when=move || session.get().is_some_and(|m| m.is_local())>
            <div class="notice" role="status">
                <strong>"Local mode."</strong>
                " You are the local admin: Hearth listens on this machine only and no user or key is configured. \
                 Add a user (" <code>"hearth user add NAME --role admin"</code> ") or start with "
                <code>"--api-key"</code> " to require sign-in."
            </div>
        </Show>
    }
}

/// A table that scrolls sideways (a labelled, focusable region) when it is wider than the
/// page and, on a phone, stacks each row into labelled lines: each cell names its column in
/// `data-label`.
#[component]
pub fn DataTable(
    label: &'static str,
    columns: &'static [&'static str],
    children: Children,
) -> impl IntoView {
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label=label>
            <table class="stack">
                <thead>
                    <tr>{columns.iter().map(|c| view! { <th>{*c}</th> }).collect_view()}</tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
