//! One module per page, named for what the user sees.

mod keys;
mod login;
mod mcp_servers;
mod overview;

pub use keys::KeysPage;
pub use login::LoginPage;
pub use mcp_servers::McpServersPage;
pub use overview::OverviewPage;

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <main class="content narrow">
            <h1>"Page not found"</h1>
            <p><A href="/">"Back to the overview"</A></p>
        </main>
    }
}
