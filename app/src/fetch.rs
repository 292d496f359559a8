//! The browser's own `fetch`, for the API client and the MCP client (no HTTP library in the
//! wasm: the browser already has one). A request is aborted when its future, or the stream of
//! its body, is dropped.

use futures::Stream;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, ReadableStreamDefaultReader, Request, RequestInit};

/// Aborts its request when dropped (a no-op once the answer has been read).
struct Abort(AbortController);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An answer whose head has arrived; the body is read with [`Answer::bytes`] or
/// [`Answer::into_stream`].
pub struct Answer {
    pub status: u16,
    /// Header names in lower case, as `fetch` gives them.
    pub headers: Vec<(String, String)>,
    response: web_sys::Response,
    abort: Abort,
}

/// Sends a request; `Err` (in words) when no HTTP answer came: a network failure, a CORS
/// refusal (browsers do not tell the two apart), or a header the browser refuses to send.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Result<Answer, String> {
    let abort = Abort(AbortController::new().map_err(words)?);
    let init = RequestInit::new();
    init.set_method(method);
    init.set_signal(Some(&abort.0.signal()));
    let sent = Headers::new().map_err(words)?;
    for (name, value) in headers {
        sent.append(name, value).map_err(words)?;
    }
    init.set_headers(&sent);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    let request = Request::new_with_str_and_init(url, &init).map_err(words)?;
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(words)?
        .unchecked_into();
    let mut names = Vec::new();
    if let Ok(Some(entries)) = js_sys::try_iter(&response.headers()) {
        for entry in entries.flatten() {
            let pair: js_sys::Array = entry.unchecked_into();
            names.push((
                pair.get(0).as_string().unwrap_or_default(),
                pair.get(1).as_string().unwrap_or_default(),
            ));
        }
    }
    Ok(Answer {
        status: response.status(),
        headers: names,
        response,
        abort,
    })
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The whole body.
    pub async fn bytes(self) -> Result<Vec<u8>, String> {
        let buffer = JsFuture::from(self.response.array_buffer().map_err(words)?)
            .await
            .map_err(words)?;
        Ok(Uint8Array::new(&buffer).to_vec())
    }

    /// The body as it arrives, chunk by chunk; dropping the stream aborts the request.
    pub fn into_stream(self) -> impl Stream<Item = Result<Vec<u8>, String>> + Unpin {
        let reader = self.response.body().map(|body| {
            body.get_reader()
                .unchecked_into::<ReadableStreamDefaultReader>()
        });
        Box::pin(futures::stream::unfold(
            (reader, self.abort),
            |(reader, abort)| async move {
                let chunk = read(reader.as_ref()?).await.transpose()?;
                let failed = chunk.is_err();
                Some((chunk, (reader.filter(|_| !failed), abort)))
            },
        ))
    }
}

/// The next chunk of a body: `Ok(None)` at its end.
async fn read(reader: &ReadableStreamDefaultReader) -> Result<Option<Vec<u8>>, String> {
    let result = JsFuture::from(reader.read()).await.map_err(words)?;
    if Reflect::get(&result, &JsValue::from_str("done"))
        .map_err(words)?
        .is_truthy()
    {
        return Ok(None);
    }
    let value = Reflect::get(&result, &JsValue::from_str("value")).map_err(words)?;
    Ok(Some(
        value
            .dyn_into::<Uint8Array>()
            .map_err(|_| "a body chunk that is not bytes")?
            .to_vec(),
    ))
}

/// A JS exception in words (its message when it is an `Error`).
fn words(error: JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "the browser refused the request".into())
}
