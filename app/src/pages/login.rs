//! The sign-in page. It is a plain HTML form posting to `/auth/login`, so it works before
//! the wasm has loaded; once hydrated it signs in through the JSON API and shows errors inline.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::{client, LoginRequest};
use crate::session::use_session;

/// Words for the `?error=` code the server redirects a failed form post to.
fn form_error_text(code: &str) -> &'static str {
    match code {
        "invalid" => "Sign-in failed: check the username and password, or the API key.",
        "origin" => "Sign-in refused: the form was not sent from this Hearth's own page.",
        "wait" => "Too many sign-in attempts: wait a minute, then try again.",
        _ => "Enter a username and password, or an API key.",
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let query = use_query_map();
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let username = NodeRef::<html::Input>::new();
    let password = NodeRef::<html::Input>::new();
    let api_key = NodeRef::<html::Input>::new();

    // Where to go once signed in: the page that sent the user here, if it is one of Hearth's.
    let next = move || {
        query
            .with(|q| q.get("next"))
            .filter(|n| crate::api::safe_next(n).is_some())
    };
    let action = move || match next() {
        Some(n) => format!(
            "/auth/login?next={}",
            crate::mcp::transport::encode_component(&n)
        ),
        None => "/auth/login".to_owned(),
    };
    let value = |node: NodeRef<html::Input>| {
        node.get()
            .map(|el| el.value())
            .filter(|v| !v.trim().is_empty())
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = LoginRequest {
            username: value(username),
            password: value(password),
            api_key: value(api_key),
        };
        let navigate = navigate.clone();
        pending.set(true);
        spawn_local(async move {
            match client::login(&request).await {
                Ok(me) => {
                    session.set(Some(me));
                    navigate(
                        &untrack(next).unwrap_or_else(|| "/".to_owned()),
                        Default::default(),
                    );
                }
                Err(e) => error.set(Some(e.message)),
            }
            pending.set(false);
        });
    };

    let shown_error = move || {
        error.get().or_else(|| {
            query
                .with(|q| q.get("error"))
                .map(|c| form_error_text(&c).to_owned())
        })
    };
    view! {
        <Title text="Sign in — Hearth"/>
        <main class="login">
            <form class="card login-card" method="post" action=action on:submit=on_submit>
                <h1>"Sign in to Hearth"</h1>
                {move || shown_error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <label for="username">"Username"</label>
                <input id="username" name="username" autocomplete="username" node_ref=username/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" node_ref=password/>
                <div class="divider"><span>"or"</span></div>
                <label for="api_key">"API key"</label>
                <input id="api_key" name="api_key" type="password" autocomplete="off" node_ref=api_key/>
                <button type="submit" class="button primary" disabled=move || pending.get()>"Sign in"</button>
            </form>
        </main>
    }
}
