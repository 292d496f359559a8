//! Plain-HTTP connections to a session's server, each driven by the task that posts on it.
//!
//! reqwest drives every connection from a task of its own: a call's request and its answer
//! each cross between tasks, often between runtime threads, which on a loopback call costs
//! more than the round trip itself. A call posted into an `http://` session instead takes an
//! idle connection here (or opens one, every address checked against the address policy as
//! reqwest's resolver does), drives it itself until the answer is read whole, and puts it
//! back. An `https://` session is posted to with reqwest, whose TLS stays Hearth's only one.

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::cors_proxy::policy::{Caller, Policy};
use crate::cors_proxy::CONNECT_TIMEOUT;
use crate::cors_proxy::{checked_addrs, Upstream};

/// Idle connections kept per session; any more are closed when their call ends.
const MAX_IDLE: usize = 32;
/// An idle connection is not used again after this long (as reqwest's pool does).
const IDLE_FOR: Duration = Duration::from_secs(90);

/// One connection, idle between calls (nothing polls it then).
struct Link {
    send: http1::SendRequest<Full<Bytes>>,
    conn: http1::Connection<TokioIo<TcpStream>, Full<Bytes>>,
    /// The policy its address passed: under another policy it is closed, not reused.
    policy: Arc<Policy>,
    idle_since: Instant,
}

impl Link {
    /// Whether the server closed it (or it failed): seen without waiting.
    fn closed(&mut self) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        self.conn.poll_without_shutdown(&mut cx).is_ready()
    }
}

/// The connections of one `http://` session.
pub struct Links {
    upstream: Upstream,
    host: url::Host<String>,
    port: u16,
    /// The path (with its query) posted to, and every header of a call, `Host` among them.
    path: Uri,
    headers: HeaderMap,
    idle: Mutex<Vec<Link>>,
}

impl Links {
    /// Calls to `url` with `headers`; `None` unless `url` is plain HTTP.
    pub fn new(url: &url::Url, headers: &HeaderMap, upstream: Upstream) -> Option<Links> {
        use url::Position;
        if url.scheme() != "http" {
            return None;
        }
        let mut headers = headers.clone();
        let authority = &url[Position::BeforeHost..Position::AfterPort];
        headers.insert(header::HOST, HeaderValue::from_str(authority).ok()?);
        Some(Links {
            upstream,
            host: url.host()?.to_owned(),
            port: url.port_or_known_default()?,
            path: Uri::try_from(&url[Position::BeforePath..Position::AfterQuery]).ok()?,
            headers,
            idle: Mutex::default(),
        })
    }

    /// POSTs `body` on a connection of the session's, and hands the response to `read`,
    /// driving the connection until `read` is done. `None` when no connection could be had
    /// (the caller posts another way, which reports why); a connection that had closed while
    /// idle is replaced, for a request it never took.
    pub async fn post<T, Read, Reading>(
        &self,
        body: Bytes,
        read: Read,
    ) -> Option<Result<T, hyper::Error>>
    where
        Read: FnOnce(super::posting::Answered) -> Reading,
        Reading: Future<Output = T>,
    {
        let mut read = Some(read);
        loop {
            let (mut link, reused) = match self.take() {
                Some(link) => (link, true),
                // Boxed: connecting is rare, and its future large.
                None => (Box::pin(self.open()).await?, false),
            };
            let request = self.request(body.clone());
            let (answer, open) = {
                let exchange = pin!(async {
                    poll_fn(|cx| link.send.poll_ready(cx)).await?;
                    let response = link.send.send_request(request).await?;
                    let read = read.take().expect("read once: a request is sent once");
                    Ok::<_, hyper::Error>(read(response.map(reqwest::Body::wrap)).await)
                });
                drive(&mut link.conn, exchange).await
            };
            match answer {
                // Taken off the queue unsent: the connection had closed while idle.
                Err(e) if reused && e.is_canceled() && read.is_some() => continue,
                answer => {
                    if open && answer.is_ok() {
                        self.put(link);
                    }
                    return Some(answer);
                }
            }
        }
    }

    fn request(&self, body: Bytes) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.path.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }

    /// An idle connection still open under the policy in force, if there is one.
    fn take(&self) -> Option<Link> {
        let policy = self.upstream.policy();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(mut link) = idle.pop() {
            let usable = Arc::ptr_eq(&link.policy, &policy)
                && !link.send.is_closed()
                && link.idle_since.elapsed() <= IDLE_FOR;
            if usable && !link.closed() {
                return Some(link);
            }
        }
        None
    }

    /// Keeps `link` for the next call if it is ready for one: an answer left unread (an
    /// event stream that goes on after the call's answer, say) closes it instead.
    fn put(&self, mut link: Link) {
        link.idle_since = Instant::now();
        if link.closed() || !link.send.is_ready() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(link);
        }
    }

    /// A new connection, to an address the policy in force allows.
    async fn open(&self) -> Option<Link> {
        let policy = self.upstream.policy();
        let literal = |ip: std::net::IpAddr| {
            policy.check_addr("", ip, Caller::Trusted).ok()?;
            Some(vec![SocketAddr::new(ip, self.port)])
        };
        let addrs = match &self.host {
            url::Host::Domain(name) => checked_addrs(&policy, name, self.port, Caller::Trusted)
                .await
                .ok()?,
            url::Host::Ipv4(ip) => literal((*ip).into())?,
            url::Host::Ipv6(ip) => literal((*ip).into())?,
        };
        for addr in addrs {
            let Ok(Ok(stream)) =
                tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await
            else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let Ok((send, conn)) = http1::handshake(TokioIo::new(stream)).await else {
                continue;
            };
            return Some(Link {
                send,
                conn,
                policy,
                idle_since: Instant::now(),
            });
        }
        None
    }
}

/// Polls `work` and the connection it uses in turn, in this task, until `work` is done;
/// whether the connection is still open then. Each half wakes the other as it goes (the
/// connection wants a request, the request is queued, the answer arrives): those wakes are
/// answered by another pass at once (see `settle`). `work` is pinned by the caller, so that
/// this future holds no copy of it.
fn drive<'a, W: Future>(
    conn: &'a mut http1::Connection<TokioIo<TcpStream>, Full<Bytes>>,
    mut work: Pin<&'a mut W>,
) -> impl Future<Output = (W::Output, bool)> + 'a {
    let mut open = true;
    crate::settle::settled(poll_fn(move |cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready((out, open));
        }
        if open && conn.poll_without_shutdown(cx).is_ready() {
            open = false;
        }
        Poll::Pending
    }))
}
