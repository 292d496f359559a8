//! The proxy's HTTP client: one pooled client whose DNS resolver applies the address policy,
//! so every connection (the first and each redirect's) goes only to an address that passed.

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};

use axum::body::Body;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::policy::{Policy, Refusal};
use super::{CONNECT_TIMEOUT, IDLE_TIMEOUT};
use crate::error::AppError;

const MAX_REDIRECTS: usize = 5;

#[derive(Clone)]
pub struct Upstream {
    client: reqwest::Client,
    policy: Arc<RwLock<Arc<Policy>>>,
}

impl Upstream {
    pub fn new(policy: Policy) -> Upstream {
        let policy = Arc::new(RwLock::new(Arc::new(policy)));
        let redirect_policy = policy.clone();
        let client = reqwest::Client::builder()
            .dns_resolver(CheckedResolver { policy: policy.clone() })
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
                }
                match current(&redirect_policy).check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refusal) => attempt.error(refusal),
                }
            }))
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(IDLE_TIMEOUT)
            .tcp_nodelay(true)
            .build()
            .expect("the CORS proxy's HTTP client builds");
        Upstream { client, policy }
    }

    /// The policy in force now.
    pub fn policy(&self) -> Arc<Policy> {
        current(&self.policy)
    }

    /// Replaces the policy (the admin changed `cors_proxy.allow`).
    pub fn set_policy(&self, policy: Policy) {
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(policy);
    }

    pub async fn send(&self, method: reqwest::Method, url: url::Url, headers: reqwest::header::HeaderMap, body: Body) -> Result<reqwest::Response, AppError> {
        let mut request = self.client.request(method.clone(), url).headers(headers);
        if method != reqwest::Method::GET {
            request = request.body(reqwest::Body::wrap_stream(body.into_data_stream()));
        }
        request.send().await.map_err(upstream_error)
    }
}

/// The policy in force. A poisoned lock still holds the last policy set, which stays in
/// force: falling back to a default would open private ranges on a public bind.
fn current(policy: &RwLock<Arc<Policy>>) -> Arc<Policy> {
    policy.read().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Resolves a name and refuses it if any of its addresses is refused.
struct CheckedResolver {
    policy: Arc<RwLock<Arc<Policy>>>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = current(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for addr in &addrs {
                policy.check_addr(&host, addr.ip())?;
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Maps a failed upstream call to what the browser should see: a refusal stays a 403 with
/// its reason, anything else is a gateway error that names the cause but no secret.
fn upstream_error(error: reqwest::Error) -> AppError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return AppError::Forbidden(refusal.to_string());
        }
        if e.is::<http_body_util::LengthLimitError>() {
            return AppError::PayloadTooLarge(format!("the request body is larger than {} bytes", super::BODY_LIMIT));
        }
        source = e.source();
    }
    if error.is_timeout() {
        return AppError::GatewayTimeout("the MCP server did not answer in time".into());
    }
    // The URL may carry a token in its query: leave it out of the message.
    let error = error.without_url();
    AppError::BadGateway(format!("could not reach the MCP server: {}", crate::error::ErrorChain(&error)))
}
