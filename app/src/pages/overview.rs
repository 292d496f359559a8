//! The landing page: who you are and how clients authenticate.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::AuthMethod;
use crate::session::use_session;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let session = use_session();
    let how = move || {
        session.get().map(|me| match me.auth {
            AuthMethod::Local => "local mode".to_owned(),
            AuthMethod::MasterKey => "a master key".to_owned(),
            AuthMethod::ApiKey => "an API key".to_owned(),
            AuthMethod::Password => "your password".to_owned(),
        })
    };
    view! {
        <Title text="Overview — Hearth"/>
        <h1>"Overview"</h1>
        <section class="card">
            <h2>"You"</h2>
            <p>
                "Signed in as " <strong>{move || session.get().map(|m| m.name)}</strong>
                " (" {move || session.get().map(|m| m.role.to_string())} ") with " {how} "."
            </p>
        </section>
        <section class="card">
            <h2>"Calling Hearth from other programs"</h2>
            <p>
                "Every API route accepts " <code>"Authorization: Bearer <key>"</code> " or "
                <code>"X-Api-Key: <key>"</code> ". Create a key on the " <A href="/keys">"API keys"</A> " page."
            </p>
        </section>
    }
}
