//! The accept loop: which connections Hearth holds, for how long, and how it lets them go.
//!
//! - A connection has `header_timeout` to send its request's headers, and may stay idle that
//!   long between two requests (hyper's header-read timer, which starts as soon as a request
//!   is awaited, bytes or none), or pause that long within a request's body.
//! - A client that stops reading an answer is dropped once nothing could be written to it for
//!   `write_timeout`; dropping it drops the stream, and with it the provider's connection.
//! - At most `max_connections` are served at once; the next ones wait in the listen queue, and
//!   the moment the limit is reached is logged.
//! - On shutdown: no new connection; idle ones close; requests in flight get
//!   `shutdown_grace`; then the streams still running end with an error event (see
//!   `AppState::streams_end`), whatever is left after a short write-out is cut, and the audit
//!   queue is written. It never waits on a client.
//!
//! Only HTTP/1.1 is spoken: Hearth has no TLS, and cleartext HTTP/2 would need the first bytes
//! read before any of the timers above apply.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_io_timeout::TimeoutStream;
use tower::Layer;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::state::AppState;

/// How long streams ended at the close of the grace get to write their last frames.
const WRITE_OUT: Duration = Duration::from_secs(2);
/// The default connection limit's ceiling.
const MAX_CONNECTIONS: usize = 4096;

pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.connections.clone();
    let max_connections = limits
        .max_connections
        .unwrap_or_else(default_max_connections);
    let audit = state.audit.clone();
    let streams_end = state.streams_end.clone();
    let mcp_pool = state.mcp_pool.clone();
    // The peer's address is what failed sign-ins are counted by.
    let router = crate::http::router(state);

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let slots = Arc::new(Semaphore::new(max_connections));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    // Said once each time the limit is reached, not once per connection that waits.
    let mut at_limit = false;

    loop {
        while connections.try_join_next().is_some() {}
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                at_limit = false;
                slot
            }
            Err(_) => {
                if !at_limit {
                    at_limit = true;
                    tracing::warn!(
                        limit = max_connections,
                        "connection limit reached: new connections wait until one closes (raise it with --max-connections)"
                    );
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                    () = &mut shutdown => break,
                }
            }
        };
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors, most likely: wait rather than spin.
                        tracing::warn!(error = %e, "cannot accept a connection; retrying in 1 s");
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_secs(1)) => {},
                            () = &mut shutdown => break,
                        }
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Without it every streamed chunk can wait ~40 ms for a delayed ACK.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let mut io = TimeoutStream::new(tcp);
        io.set_write_timeout(Some(limits.write_timeout));
        let service = axum::Extension(ConnectInfo(remote)).layer(router.clone());
        // A request body that stops arriving is given up on like headers that do.
        let service = RequestBodyTimeoutLayer::new(limits.header_timeout).layer(service);
        let connection = graceful.watch(http.serve_connection(
            TokioIo::new(Box::pin(io)),
            TowerToHyperService::new(service),
        ));
        connections.spawn(async move {
            // Reading a request's body wakes the connection that feeds it, as do many steps
            // of a call: those wakes are answered within the poll (see `settle`).
            if let Err(e) = crate::settle::settled(connection).await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
            drop(slot);
        });
    }
    drop(listener);

    let mut drained = pin!(graceful.shutdown());
    if tokio::time::timeout(limits.shutdown_grace, &mut drained)
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            grace_s = limits.shutdown_grace.as_secs(),
            "shutdown grace over: ending the streams still running"
        );
        streams_end.cancel();
        if tokio::time::timeout(WRITE_OUT, &mut drained).await.is_err() {
            tracing::warn!(
                connections = connections.len(),
                "closing the connections still open"
            );
        }
    }
    // Cutting a request in flight drops its handler, which queues its audit event.
    connections.shutdown().await;
    // Every shared MCP server's session ends and every stdio child stops: none outlives Hearth.
    mcp_pool.shutdown().await;
    audit.flush().await;
    Ok(())
}

/// Half the open-file limit (each connection may hold a provider's too), at most 4096.
fn default_max_connections() -> usize {
    let files = open_file_limit().unwrap_or(1024);
    (files.saturating_sub(64) / 2).clamp(16, MAX_CONNECTIONS)
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(unix)]
fn open_file_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0)
        .then(|| usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<usize> {
    None
}

/// Raises the soft open-file limit to the hard one: the common default of 1,024 is reached by
/// a few hundred clients. Called once at start; says what it did.
#[cfg(unix)]
pub fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        let before = limit.rlim_cur;
        // macOS reports an unlimited hard limit that setrlimit refuses; stay within what works.
        let target = if limit.rlim_max == libc::RLIM_INFINITY {
            before.max(1 << 16)
        } else {
            limit.rlim_max
        };
        if target <= before {
            return;
        }
        limit.rlim_cur = target;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
            tracing::debug!(from = before, to = target, "raised the open-file limit");
        } else {
            tracing::warn!(limit = before, "could not raise the open-file limit");
        }
    }
}

#[cfg(not(unix))]
pub fn raise_open_file_limit() {}
