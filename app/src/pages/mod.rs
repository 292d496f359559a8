//! One module per page, named for what the user sees.

mod audit;
mod chat;
mod keys;
mod llms;
mod login;
mod mcp_servers;
mod overview;

pub use chat::ChatPage;
pub use login::LoginPage;
pub use overview::OverviewPage;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::{lazy_route, LazyRoute};

/// Routes whose code the browser loads only when one of them is opened: each becomes its own
/// wasm chunk (`xtask` splits them out), so the first page does not carry the admin pages.
macro_rules! lazy_pages {
    ($($route:ident => $page:path),* $(,)?) => {$(
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(this: Self) -> AnyView {
                let _ = this;
                $page().into_any()
            }
        }
    )*};
}

lazy_pages! {
    AuditRoute => audit::AuditPage,
    KeysRoute => keys::KeysPage,
    LlmsRoute => llms::LlmsPage,
    McpServersRoute => mcp_servers::McpServersPage,
}

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <main class="content narrow">
            <h1>"Page not found"</h1>
            <p><A href="/">"Back to the overview"</A></p>
        </main>
    }
}
