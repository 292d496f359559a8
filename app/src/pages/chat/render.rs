//! Answers as HTML. The markdown renderer (pulldown-cmark and the highlighter, a sixth of the
//! wasm) is its own wasm chunk, fetched when the chat page opens: the page is interactive
//! before it arrives. Until it has (or if it cannot be fetched), an answer shows as its plain
//! text, escaped; the answers on screen re-render once it is there.

use leptos::prelude::*;

use crate::chat::highlight::escape;

/// Whether the renderer's chunk has arrived.
#[derive(Clone, Copy)]
pub struct Renderer {
    loaded: RwSignal<bool>,
}

impl Renderer {
    /// Starts fetching the renderer (in the browser; the server has it built in).
    pub fn new() -> Renderer {
        let loaded = RwSignal::new(cfg!(not(feature = "hydrate")));
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            if split::preload().await.is_ok() {
                loaded.set(true);
            }
        });
        Renderer { loaded }
    }

    /// `text` as HTML: its markdown once the renderer is here, its plain text before. In a
    /// reactive context, re-runs when the renderer arrives.
    pub fn html(self, text: &str) -> String {
        if self.loaded.get() {
            #[cfg(feature = "hydrate")]
            if let Some(Ok(html)) = futures::FutureExt::now_or_never(split::markdown_html(text)) {
                return html;
            }
            #[cfg(not(feature = "hydrate"))]
            return crate::chat::markdown::to_html(text);
        }
        format!("<p class=\"plain\">{}</p>", escape(text))
    }
}

#[cfg(feature = "hydrate")]
mod split {
    use leptos::wasm_split::{wasm_split, SplitLoaderError};

    /// Runs in the renderer's chunk; once that is loaded, the call completes at once.
    #[wasm_split(markdown, wasm_split_path = ::leptos::wasm_split, fallible, preload(preload))]
    pub fn markdown_html(text: &str) -> Result<String, SplitLoaderError> {
        Ok(crate::chat::markdown::to_html(text))
    }
}
