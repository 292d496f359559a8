//! One module per page, named for what the user sees.

mod audit;
mod chat;
mod keys;
mod llms;
mod login;
mod mcp_servers;
mod overview;
mod teams;

pub use chat::{ChatHome, ChatPage};

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::LazyRoute;

/// Routes whose code the browser loads only when one of them is opened: each becomes its own
/// wasm chunk (`xtask` splits them out, named after `$chunk`), so the first page does not
/// carry the admin pages. A page opened directly has its chunk preloaded by the server's HTML.
/// If the chunk cannot be fetched (Hearth was updated since this tab loaded, or the network
/// failed), the page says so and offers a reload instead of breaking the app.
macro_rules! lazy_pages {
    ($($route:ident($chunk:ident) => $page:path),* $(,)?) => {$(
        pub struct $route;

        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            // Fetches the chunk before the route's view is built: hydrating a page opened
            // directly needs its view at once, as the server rendered it.
            async fn preload() {
                #[cfg(feature = "hydrate")]
                {
                    let _ = split::$chunk::load().await;
                }
            }

            async fn view(_: Self) -> AnyView {
                #[cfg(feature = "hydrate")]
                return split::$chunk::view().await.unwrap_or_else(|_| view! { <PageNotLoaded/> }.into_any());
                #[cfg(not(feature = "hydrate"))]
                {
                    leptos::prefetch_lazy_fn_on_server(stringify!($chunk));
                    $page().into_any()
                }
            }
        }
    )*
        /// Each page's code, in its own chunk.
        #[cfg(feature = "hydrate")]
        mod split {
            pub use leptos::wasm_split::{wasm_split, SplitLoaderError};
            $(pub mod $chunk {
                use super::super::*;
                use super::{wasm_split, SplitLoaderError};

                #[wasm_split($chunk, wasm_split_path = ::leptos::wasm_split, fallible, preload(load))]
                pub fn view() -> Result<AnyView, SplitLoaderError> {
                    Ok($page().into_any())
                }
            })*
        }
    };
}

lazy_pages! {
    // Sign-in and the overview too: the chat page, the one most opened, carries neither.
    LoginRoute(login_page) => login::LoginPage,
    OverviewRoute(overview_page) => overview::OverviewPage,
    AuditRoute(audit_page) => audit::AuditPage,
    KeysRoute(keys_page) => keys::KeysPage,
    LlmsRoute(llms_page) => llms::LlmsPage,
    McpServersRoute(mcp_servers_page) => mcp_servers::McpServersPage,
    TeamsRoute(teams_page) => teams::TeamsPage,
}

/// In place of a page whose code could not be fetched.
#[component]
fn PageNotLoaded() -> impl IntoView {
    view! {
        <main class="content narrow">
            <h1>"This page could not be loaded"</h1>
            <p role="alert">"Its code did not arrive: Hearth may have been updated since this tab was opened, or the connection failed."</p>
            <p><a href="" rel="external">"Reload the page"</a></p>
        </main>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Title text="Page not found — Hearth"/>
        // Inside the frame, whose navigation leads on.
        <crate::components::Frame>
            <h1>"Page not found"</h1>
            <p>"Nothing lives at this address in Hearth."</p>
            <p><A href="/">"Back to the overview"</A></p>
        </crate::components::Frame>
    }
}
