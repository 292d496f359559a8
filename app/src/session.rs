//! Who is signed in, as the UI knows it. The server renders each page with the caller
//! already resolved and writes it into a `<meta>` tag; the browser reads the same value
//! before hydrating, so both render the same thing.

use leptos::prelude::*;

use crate::api::Me;

pub const META_NAME: &str = "hearth-session";

/// Provided by the server to the render of a page.
#[derive(Clone, Debug, Default)]
pub struct InitialSession(pub Option<Me>);

/// The signed-in user, shared by every component.
#[derive(Clone, Copy)]
pub struct SessionState(RwSignal<Option<Me>>);

impl SessionState {
    pub fn new(me: Option<Me>) -> Self {
        SessionState(RwSignal::new(me))
    }

    pub fn get(&self) -> Option<Me> {
        self.0.get()
    }

    pub fn set(&self, me: Option<Me>) {
        self.0.set(me)
    }

    pub fn is_signed_in(&self) -> bool {
        self.0.with(Option::is_some)
    }

    pub fn is_admin(&self) -> bool {
        self.0.with(|m| {
            m.as_ref()
                .is_some_and(|m| m.role == crate::api::Role::Admin)
        })
    }

    /// Whether the signed-in caller may do what `what` picks out of their capabilities (as
    /// `/v1/me` says: the routes decide the same way).
    pub fn can(&self, what: impl Fn(&crate::api::Capabilities) -> bool) -> bool {
        self.0.with(|m| m.as_ref().is_some_and(|m| what(&m.can)))
    }
}

pub fn use_session() -> SessionState {
    expect_context::<SessionState>()
}

/// The session the page was rendered with.
pub fn initial() -> Option<Me> {
    #[cfg(feature = "ssr")]
    {
        use_context::<InitialSession>().and_then(|s| s.0)
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        let meta = web_sys::window()?
            .document()?
            .query_selector(&format!("meta[name={META_NAME}]"))
            .ok()??;
        let json: serde_json::Value = serde_json::from_str(&meta.get_attribute("content")?).ok()?;
        serde_json::from_value(json).ok()?
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        None
    }
}

/// The session as JSON for the `<meta>` tag (`null` when nobody is signed in).
pub fn initial_json() -> String {
    serde_json::to_string(&initial()).unwrap_or_else(|_| "null".into())
}
