//! Server-sent events read from a provider, decoded by [`app::sse::Decoder`] (linear in the
//! bytes received, one event's size bounded). Silence is timed by bytes, not events: a long
//! event that is still arriving is not a provider that sent nothing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use futures_util::Stream;
use tokio::time::Sleep;

use app::sse::Decoder;
pub use app::sse::Event;

#[derive(Debug, thiserror::Error)]
pub enum SseError {
    #[error("{0}")]
    TooLarge(app::sse::TooLarge),
    /// No byte arrived for this long (bytes of an unfinished event count).
    #[error("nothing arrived for {0:?}")]
    Idle(std::time::Duration),
    #[error("the stream broke off: {0}")]
    Transport(#[from] reqwest::Error),
}

/// The events of a provider's answer body.
pub struct Events<S> {
    body: S,
    decoder: Decoder,
    ready: std::collections::VecDeque<Event>,
    failed: bool,
    idle: Duration,
    /// When the body will have been silent for `idle`; moved on by every chunk.
    silent_until: Pin<Box<Sleep>>,
}

/// The events of `body`, each at most `max_event` bytes; silence for `idle` is an error.
pub fn events<S>(body: S, max_event: usize, idle: Duration) -> Events<S>
where
    S: Stream<Item = reqwest::Result<Bytes>> + Unpin,
{
    Events {
        body,
        decoder: Decoder::new(max_event),
        ready: Default::default(),
        failed: false,
        idle,
        silent_until: Box::pin(tokio::time::sleep(idle)),
    }
}

impl<S> Stream for Events<S>
where
    S: Stream<Item = reqwest::Result<Bytes>> + Unpin,
{
    type Item = Result<Event, SseError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(event) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if this.failed {
                return Poll::Ready(None);
            }
            let polled = Pin::new(&mut this.body).poll_next(cx);
            if polled.is_pending() {
                if this.silent_until.as_mut().poll(cx).is_ready() {
                    this.failed = true;
                    return Poll::Ready(Some(Err(SseError::Idle(this.idle))));
                }
                return Poll::Pending;
            }
            // An event left unfinished at the end is dropped, as EventSource does.
            let Poll::Ready(Some(chunk)) = polled else {
                return Poll::Ready(None);
            };
            this.silent_until
                .as_mut()
                .reset(tokio::time::Instant::now() + this.idle);
            let mut out = Vec::new();
            let fed = chunk.map_err(SseError::from).and_then(|chunk| {
                this.decoder
                    .feed(&chunk, &mut out)
                    .map_err(SseError::TooLarge)
            });
            this.ready.extend(out);
            if let Err(e) = fed {
                this.failed = true;
                this.ready.clear();
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}
