//! The browser entry point: hydrate the server-rendered app, then mark the page as live.

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Hydration waits for the code of a lazily loaded page (its wasm chunk) when the page
    // opened is one; the executor drives that wait.
    _ = any_spawner::Executor::init_wasm_bindgen();
    leptos::task::spawn_local(async {
        let Some(body) = leptos::prelude::document().body() else {
            return;
        };
        leptos::mount::hydrate_from_async(body.clone(), app::App)
            .await
            .forget();
        // A marker for end-to-end tests and styles: interactive elements now work.
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
