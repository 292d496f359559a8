//! One module per page, named for what the user sees.

mod audit;
mod chat;
mod keys;
mod llms;
mod login;
mod mcp_servers;
mod overview;

pub use audit::AuditPage;
pub use chat::ChatPage;
pub use keys::KeysPage;
pub use llms::LlmsPage;
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
