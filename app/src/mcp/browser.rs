//! The browser side: a [`Transport`] on the browser's `fetch`, directly or through
//! Hearth's `/cors-proxy`, and a timer for the handshake deadline.
//!
//! Never copies Hearth's credentials into a request: proxied requests are same-origin and the
//! session cookie rides along by itself; direct requests are cross-origin and carry no cookie.

use std::future::Future;

use wasm_bindgen::JsCast;

use super::transport::{
    through_proxy, Outgoing, Response, Transport, TransportError, PROXY_UPSTREAM_HEADER,
};
use crate::fetch;

pub struct FetchTransport {
    /// Hearth's origin when requests go through its proxy.
    proxy_origin: Option<String>,
}

impl FetchTransport {
    pub fn new(use_proxy: bool) -> FetchTransport {
        FetchTransport {
            proxy_origin: use_proxy.then(crate::api::client::origin),
        }
    }
}

impl Transport for FetchTransport {
    async fn send(&self, request: Outgoing) -> Result<Response, TransportError> {
        let request = match &self.proxy_origin {
            Some(origin) => through_proxy(origin, request),
            None => request,
        };
        let mut answer = fetch::send(
            request.method.as_str(),
            &request.url,
            &request.headers,
            request.body.as_deref(),
        )
        .await
        .map_err(TransportError::Network)?;
        let from_proxy =
            self.proxy_origin.is_some() && answer.header(PROXY_UPSTREAM_HEADER).is_none();
        let headers = std::mem::take(&mut answer.headers);
        Ok(Response {
            status: answer.status,
            headers,
            from_proxy,
            body: Box::pin(answer.into_stream()),
        })
    }
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window
                .set_timeout_with_callback_and_timeout_and_arguments_0(resolve.unchecked_ref(), ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// `work`'s output, or `None` when it takes longer than `ms` (it is then dropped, which
/// aborts its requests).
pub async fn within<F: Future>(ms: i32, work: F) -> Option<F::Output> {
    let work = std::pin::pin!(work);
    let timer = std::pin::pin!(sleep(ms));
    match futures::future::select(work, timer).await {
        futures::future::Either::Left((output, _)) => Some(output),
        futures::future::Either::Right(_) => None,
    }
}

/// Milliseconds since the page loaded, for the connection log.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_default()
}
