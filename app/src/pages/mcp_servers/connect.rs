//! "Connect a client": Hearth's MCP address and a configuration to copy for the MCP clients
//! people use, with the key left as a placeholder (a key is created on the Keys page).

use leptos::prelude::*;

/// One client's configuration, with its own Copy button.
#[component]
fn Snippet(title: &'static str, text: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy_text = text.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&copy_text);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &copy_text;
    };
    view! {
        <div class="snippet" data-testid="client-snippet">
            <div class="page-head">
                <h4>{title}</h4>
                <button type="button" class="button secondary" aria-label=format!("Copy the {title} configuration") on:click=copy>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </div>
            <pre><code>{text}</code></pre>
        </div>
    }
}

/// The snippets for `url`: Claude Code (command and `.mcp.json`), VS Code and Cursor.
fn snippets(url: &str) -> [(&'static str, String); 4] {
    [
        (
            "Claude Code",
            format!(
                "claude mcp add --transport http hearth {url} \\\n  --header \"Authorization: Bearer $HEARTH_API_KEY\""
            ),
        ),
        (
            "Claude Code (.mcp.json)",
            format!(
                "{{\n  \"mcpServers\": {{\n    \"hearth\": {{\n      \"type\": \"http\",\n      \"url\": \"{url}\",\n      \"headers\": {{ \"Authorization\": \"Bearer ${{HEARTH_API_KEY}}\" }}\n    }}\n  }}\n}}"
            ),
        ),
        (
            "VS Code (.vscode/mcp.json)",
            format!(
                "{{\n  \"inputs\": [\n    {{ \"type\": \"promptString\", \"id\": \"hearth-key\", \"description\": \"Hearth API key\", \"password\": true }}\n  ],\n  \"servers\": {{\n    \"hearth\": {{\n      \"type\": \"http\",\n      \"url\": \"{url}\",\n      \"headers\": {{ \"Authorization\": \"Bearer ${{input:hearth-key}}\" }}\n    }}\n  }}\n}}"
            ),
        ),
        (
            "Cursor (~/.cursor/mcp.json)",
            format!(
                "{{\n  \"mcpServers\": {{\n    \"hearth\": {{\n      \"url\": \"{url}\",\n      \"headers\": {{ \"Authorization\": \"Bearer ${{env:HEARTH_API_KEY}}\" }}\n    }}\n  }}\n}}"
            ),
        ),
    ]
}

/// The panel: collapsed until opened.
#[component]
pub fn ConnectClient() -> impl IntoView {
    let origin = RwSignal::new(String::new());
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| origin.set(crate::api::client::origin()));
    view! {
        <details class="connect-client" data-testid="connect-client">
            <summary>"Connect a client"</summary>
            <p class="muted">
                "MCP clients reach every shared server you may use at "
                <code data-testid="mcp-url">{move || format!("{}/mcp", origin.get())}</code>
                " (tools named " <code>"<server>__<tool>"</code> "), or one server at "
                <code>{move || format!("{}/mcp/<server>", origin.get())}</code>
                " under its own names. They authenticate with a Hearth key: create one on the Keys page \
                 and put it in HEARTH_API_KEY."
            </p>
            {move || {
                let url = format!("{}/mcp", origin.get());
                snippets(&url)
                    .into_iter()
                    .map(|(title, text)| view! { <Snippet title text/> })
                    .collect_view()
            }}
        </details>
    }
}
