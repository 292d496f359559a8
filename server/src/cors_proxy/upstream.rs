//! The proxy's HTTP clients: pooled clients whose DNS resolver applies the address policy,
//! so every connection (the first and each redirect's) goes only to an address that passed;
//! one for trusted callers, one for the rest, as the policy tells them apart. Redirects are
//! followed within the origin the caller named only, and no `Referer` is ever sent.

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};

use axum::body::Body;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::policy::{Caller, Policy, Refusal};
use super::{CONNECT_TIMEOUT, IDLE_TIMEOUT};
use crate::error::AppError;

const MAX_REDIRECTS: usize = 5;

/// A redirect to another origin than the one the caller named: not followed, for the
/// caller's wrapped headers (often credentials) are meant for that origin alone.
#[derive(Debug, thiserror::Error)]
#[error("the MCP server redirected to another origin ({0}); connect to that address directly")]
pub struct OffOrigin(String);

#[derive(Clone)]
pub struct Upstream {
    clients: Arc<RwLock<Clients>>,
    policy: Arc<RwLock<Arc<Policy>>>,
}

/// The clients and their pools of open connections, replaced together with the policy.
#[derive(Clone)]
struct Clients {
    /// For callers that may reach private addresses without the allow list (admins).
    trusted: reqwest::Client,
    untrusted: reqwest::Client,
}

impl Clients {
    fn new(policy: &Arc<RwLock<Arc<Policy>>>) -> Clients {
        Clients {
            trusted: client(policy, Caller::Trusted),
            untrusted: client(policy, Caller::Untrusted),
        }
    }
}

impl Upstream {
    pub fn new(policy: Policy) -> Upstream {
        let policy = Arc::new(RwLock::new(Arc::new(policy)));
        Upstream {
            clients: Arc::new(RwLock::new(Clients::new(&policy))),
            policy,
        }
    }

    /// The policy in force now.
    pub fn policy(&self) -> Arc<Policy> {
        current(&self.policy)
    }

    /// Replaces the policy (the admin changed `cors_proxy.allow`).
    /// Pooled connections were checked under the old policy when they opened: they go with
    /// it, so a host taken off the allow list is refused from the next request on.
    pub fn set_policy(&self, policy: Policy) {
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(policy);
        *self.clients.write().unwrap_or_else(PoisonError::into_inner) = Clients::new(&self.policy);
    }

    /// The pooled client for `caller`, as it is now (a new policy makes new clients).
    pub fn client(&self, caller: Caller) -> reqwest::Client {
        let clients = self.clients.read().unwrap_or_else(PoisonError::into_inner);
        match caller {
            Caller::Trusted => clients.trusted.clone(),
            Caller::Untrusted => clients.untrusted.clone(),
        }
    }

    pub async fn send(
        &self,
        caller: Caller,
        method: reqwest::Method,
        url: url::Url,
        headers: reqwest::header::HeaderMap,
        body: Body,
    ) -> Result<reqwest::Response, AppError> {
        let clients = self
            .clients
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let client = match caller {
            Caller::Trusted => &clients.trusted,
            Caller::Untrusted => &clients.untrusted,
        };
        let mut request = client.request(method.clone(), url).headers(headers);
        // MCP sends a body with POST only; a GET or DELETE goes without one (and without
        // `Transfer-Encoding: chunked`).
        if method == reqwest::Method::POST {
            request = request.body(reqwest::Body::wrap_stream(body.into_data_stream()));
        }
        request.send().await.map_err(upstream_error)
    }
}

/// One pooled client for `caller`: its resolver applies the policy to every address, and it
/// follows redirects only within the origin first named, each hop checked again. It never
/// sends a `Referer` (the previous URL may carry a token in its query).
fn client(policy: &Arc<RwLock<Arc<Policy>>>, caller: Caller) -> reqwest::Client {
    let redirect_policy = policy.clone();
    reqwest::Client::builder()
        .dns_resolver(CheckedResolver {
            policy: policy.clone(),
            caller,
        })
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            if let Err(refusal) = current(&redirect_policy).check_url(attempt.url(), caller) {
                return attempt.error(refusal);
            }
            let first = attempt.previous().first().map(|u| u.origin());
            if first
                .as_ref()
                .is_some_and(|origin| *origin != attempt.url().origin())
            {
                let to = attempt.url().origin().ascii_serialization();
                return attempt.error(OffOrigin(to));
            }
            attempt.follow()
        }))
        .referer(false)
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(IDLE_TIMEOUT)
        .tcp_nodelay(true)
        .build()
        .expect("the CORS proxy's HTTP client builds")
}

/// The policy in force. A poisoned lock still holds the last policy set, which stays in
/// force: falling back to a default would open private ranges on a public bind.
fn current(policy: &RwLock<Arc<Policy>>) -> Arc<Policy> {
    policy
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Resolves a name and refuses it if any of its addresses is refused.
struct CheckedResolver {
    policy: Arc<RwLock<Arc<Policy>>>,
    caller: Caller,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = current(&self.policy);
        let caller = self.caller;
        Box::pin(async move {
            let addrs = checked_addrs(&policy, name.as_str(), 0, caller).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// `host`'s addresses at `port`, refused if the policy refuses any one of them.
pub async fn checked_addrs(
    policy: &Policy,
    host: &str,
    port: u16,
    caller: Caller,
) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    for addr in &addrs {
        policy.check_addr(host, addr.ip(), caller)?;
    }
    Ok(addrs)
}

/// Maps a failed upstream call to what the browser should see: a refusal stays a 403 with
/// its reason, anything else is a gateway error that names the cause but no secret.
fn upstream_error(error: reqwest::Error) -> AppError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return AppError::Forbidden(refusal.to_string());
        }
        if let Some(off) = e.downcast_ref::<OffOrigin>() {
            return AppError::BadGateway(off.to_string());
        }
        if e.is::<http_body_util::LengthLimitError>() {
            return AppError::PayloadTooLarge(format!(
                "the request body is larger than {} bytes",
                super::BODY_LIMIT
            ));
        }
        source = e.source();
    }
    if error.is_timeout() {
        return AppError::GatewayTimeout("the MCP server did not answer in time".into());
    }
    // The URL may carry a token in its query: leave it out of the message and the log.
    let error = error.without_url();
    tracing::warn!(error = %crate::error::ErrorChain(&error), "MCP server unreachable through the proxy");
    AppError::BadGateway(format!(
        "could not reach the MCP server ({})",
        why_unreachable(&error)
    ))
}

/// Why a connection failed, in words for the user; the technical chain goes to the log.
fn why_unreachable(error: &reqwest::Error) -> &'static str {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return "nothing answers at that address and port"
                }
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    return "the server closed the connection"
                }
                _ => {}
            }
        }
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return "its host name could not be found";
        }
        if text.contains("certificate") || text.contains("tls") || text.contains("TLS") {
            return "the secure (TLS) connection could not be set up";
        }
        source = e.source();
    }
    if error.is_connect() {
        "the connection could not be made"
    } else {
        "the connection failed"
    }
}
