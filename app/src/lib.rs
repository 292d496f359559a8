//! Hearth's web UI (Leptos, rendered on the server and hydrated in the browser) and
//! [`api`], the wire types of the public HTTP API with the browser's client for it.
//!
//! The UI is a client of the public API like any other: it never reaches the server's
//! internals, and it never stores a key in the browser.

pub mod api;
pub mod chat;
pub(crate) mod components;
pub mod connections;
#[cfg(feature = "hydrate")]
mod fetch;
mod format;
pub mod mcp;
mod pages;
pub mod session;
pub mod sse;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{Lazy, StaticSegment};

use crate::components::AppLayout;
use crate::pages::{
    AuditRoute, ChatPage, KeysRoute, LlmsRoute, LoginRoute, McpServersRoute, NotFound,
    OverviewRoute, TeamsRoute,
};
use crate::session::SessionState;

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let session_json = session::initial_json();
    let stylesheet = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name=session::META_NAME content=session_json/>
                <link rel="stylesheet" href=stylesheet/>
                <link rel="icon" href="/favicon.ico"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(SessionState::new(session::initial()));
    provide_context(connections::Connections::new());
    provide_context(pages::ChatHome::new());

    view! {
        <Title text="Hearth"/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=StaticSegment("login") view={Lazy::<LoginRoute>::new()}/>
                <ParentRoute path=StaticSegment("") view=AppLayout>
                    <Route path=StaticSegment("") view={Lazy::<OverviewRoute>::new()}/>
                    <Route path=StaticSegment("chat") view=ChatPage/>
                    <Route path=StaticSegment("keys") view={Lazy::<KeysRoute>::new()}/>
                    <Route path=StaticSegment("llms") view={Lazy::<LlmsRoute>::new()}/>
                    <Route path=StaticSegment("mcp-servers") view={Lazy::<McpServersRoute>::new()}/>
                    <Route path=StaticSegment("teams") view={Lazy::<TeamsRoute>::new()}/>
                    <Route path=StaticSegment("audit") view={Lazy::<AuditRoute>::new()}/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
