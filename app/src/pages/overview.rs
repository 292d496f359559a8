//! The landing page: the first steps with a tick for each one done, who you are, and how
//! clients authenticate.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::{client, AuthMethod};
use crate::session::use_session;

/// What is already set up, as far as the caller can see.
#[derive(Clone, Copy, Default)]
struct Progress {
    llm: bool,
    chat: bool,
    mcp: bool,
    key: bool,
}

/// Asks Hearth what exists; a list that cannot be read counts as not done.
async fn progress() -> Progress {
    Progress {
        llm: client::list_llms().await.is_ok_and(|l| !l.data.is_empty()),
        chat: client::list_conversations("")
            .await
            .is_ok_and(|l| !l.data.is_empty()),
        mcp: client::list_mcp_servers()
            .await
            .is_ok_and(|l| !l.data.is_empty()),
        key: client::list_keys().await.is_ok_and(|l| !l.data.is_empty()),
    }
}

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
    let done = LocalResource::new(progress);
    view! {
        <Title text="Overview — Hearth"/>
        <h1>"Overview"</h1>
        <section class="card">
            <h2>"Getting started"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Checking what is set up…"</p> }>
                {move || done.get().map(|p| view! { <Checklist done=p/> })}
            </Suspense>
        </section>
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

/// The four first steps, each with its link and a tick once done.
#[component]
fn Checklist(done: Progress) -> impl IntoView {
    let admin = use_session().is_admin();
    let (llm_text, llm_link) = if admin {
        (
            "Add an LLM: a provider's model, its key kept on Hearth.",
            "Add an LLM",
        )
    } else {
        (
            "An LLM granted to you: an admin of this Hearth adds one.",
            "See the LLMs",
        )
    };
    let steps = [
        (done.llm, llm_text, "/llms", llm_link),
        (
            done.chat,
            "Start a chat: answers stream in, and the conversation is kept.",
            "/chat",
            "Open the chat",
        ),
        (
            done.mcp,
            "Connect an MCP server, so the chat can use its tools.",
            "/mcp-servers",
            "Add an MCP server",
        ),
        (
            done.key,
            "Create an API key for your programs and editors.",
            "/keys",
            "Create a key",
        ),
    ];
    view! {
        <ol class="checklist" data-testid="checklist">
            {steps
                .into_iter()
                .map(|(ok, text, href, label)| {
                    view! {
                        <li class:done=ok data-done=ok.to_string()>
                            <span class="tick" aria-hidden="true">{if ok { "✓" } else { "" }}</span>
                            <span class="step">{text}</span>
                            <span class="visually-hidden">{if ok { " Done." } else { " Not done yet." }}</span>
                            <a href=href class="button secondary">{label}</a>
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}
