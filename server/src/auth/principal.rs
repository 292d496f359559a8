//! Who is calling: one resolution from the request (bearer key, `X-Api-Key`, session cookie,
//! or local mode), one extractor that every protected route takes.
//!
//! Cookie-borne and local-mode authority is ambient (a browser attaches it on its own), so an
//! unsafe method authenticated that way must come from our own origin. Header keys are not
//! ambient and need no such check.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use app::api::{AuthMethod, Me, Role, SIGN_IN_FAILED};

use crate::audit::Record;
use crate::error::AppError;
use crate::state::AppState;
use crate::{keys, users};

/// How the credentials reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// `Authorization: Bearer` or `X-Api-Key`.
    Header,
    /// The session cookie.
    Cookie,
    /// Local mode: no credentials at all.
    Ambient,
}

#[derive(Clone, Debug)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub user_id: Option<i64>,
    pub auth: AuthMethod,
    pub key_id: Option<i64>,
    pub channel: Channel,
    /// The LLMs the key in use may run, when it is narrowed to some.
    pub llms: Option<Vec<String>>,
    /// The shared MCP servers the key in use may use, when it is narrowed to some. A key
    /// narrowed in either list uses only what its lists name.
    pub mcp_servers: Option<Vec<String>>,
    /// When the key in use expires (Unix seconds), if it does: the keys it creates may not
    /// outlive it.
    pub key_expires_at: Option<i64>,
    /// The first characters of the hash of the key in use (for the audit trail), never the key.
    pub key_hash_prefix: Option<String>,
}

impl Principal {
    pub fn me(&self) -> Me {
        use super::{allowed, Action, Resource};
        let may = |action, resource| allowed(self, action, resource);
        Me {
            name: self.name.clone(),
            role: self.role,
            auth: self.auth,
            user_id: self.user_id,
            can: app::api::Capabilities {
                manage_llms: may(Action::Write, Resource::Llms),
                read_llm_settings: may(Action::Read, Resource::Llms),
                read_audit: may(Action::Read, Resource::Audit),
                read_teams: may(Action::Read, Resource::Teams),
                manage_teams: may(Action::Write, Resource::Teams),
                read_all_keys: may(Action::Read, Resource::AllApiKeys),
                manage_all_keys: may(Action::Write, Resource::AllApiKeys),
                read_users: may(Action::Read, Resource::Users),
                manage_settings: may(Action::Write, Resource::Settings),
                manage_mcp_servers: may(Action::Write, Resource::McpRegistry),
            },
        }
    }

    /// Who owns what this principal keeps for itself (personal MCP servers): its user, or the
    /// master keys together, or the local admin.
    pub fn owner(&self) -> Owner {
        match (self.user_id, self.auth) {
            (Some(id), _) => Owner::User(id),
            (None, AuthMethod::Local) => Owner::Local,
            (None, _) => Owner::Master,
        }
    }

    /// [`Principal::owner`] as it is stored beside what it owns.
    pub fn owner_key(&self) -> String {
        match self.owner() {
            Owner::User(id) => format!("user:{id}"),
            Owner::Local => "local".into(),
            Owner::Master => "master".into(),
        }
    }

    fn local() -> Principal {
        Principal {
            name: "local".into(),
            role: Role::Admin,
            user_id: None,
            auth: AuthMethod::Local,
            key_id: None,
            channel: Channel::Ambient,
            llms: None,
            mcp_servers: None,
            key_expires_at: None,
            key_hash_prefix: None,
        }
    }

    fn master(channel: Channel, fingerprint: &str) -> Principal {
        Principal {
            // Marked by kind: no user name holds a `:`.
            name: format!("master-key:{}", hash_prefix(fingerprint)),
            role: Role::Admin,
            user_id: None,
            auth: AuthMethod::MasterKey,
            key_id: None,
            channel,
            llms: None,
            mcp_servers: None,
            key_expires_at: None,
            key_hash_prefix: Some(hash_prefix(fingerprint)),
        }
    }

    pub fn from_user(user: &users::UserRow, channel: Channel) -> Principal {
        Principal {
            name: user.name.clone(),
            role: user.role,
            user_id: Some(user.id),
            auth: AuthMethod::Password,
            key_id: None,
            channel,
            llms: None,
            mcp_servers: None,
            key_expires_at: None,
            key_hash_prefix: None,
        }
    }

    fn from_key(key: keys::ActiveKey, channel: Channel) -> Principal {
        Principal {
            llms: key.llms(),
            mcp_servers: key.mcp_servers(),
            key_expires_at: key.expires_at,
            key_hash_prefix: Some(hash_prefix(&key.key_hash)),
            name: key.user_name,
            role: key.role,
            user_id: Some(key.user_id),
            auth: AuthMethod::ApiKey,
            key_id: Some(key.key_id),
            channel,
        }
    }
}

/// Who owns what a principal keeps for itself (see [`Principal::owner`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    User(i64),
    /// The master keys, together.
    Master,
    /// The local admin, while no user exists.
    Local,
}

/// Enough of a key's hash to tell keys apart in the audit trail, too little to matter.
fn hash_prefix(hash: &str) -> String {
    hash.chars().take(12).collect()
}

/// What a browser session remembers about its sign-in. Re-checked on every request (against
/// what `known` keeps, which every such change drops), so a deleted user, a revoked key or a
/// removed master key ends the session.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionAuth {
    Password { user_id: i64 },
    ApiKey { key_id: i64 },
    MasterKey { fingerprint: String },
}

pub const SESSION_KEY: &str = "auth";

/// Resolves a key presented by a client (header or login form).
pub async fn principal_for_key(
    state: &AppState,
    key: &str,
    channel: Channel,
) -> Result<Option<(Principal, SessionAuth)>, AppError> {
    // A master key never starts as Hearth's own keys do (the configuration refuses one that
    // would), so only other keys are fingerprinted and looked for among them.
    if !key.starts_with(keys::PREFIX) {
        let fingerprint = state.secrets.fingerprint(key);
        return Ok(state.master_keys.contains(&fingerprint).then(|| {
            (
                Principal::master(channel, &fingerprint),
                SessionAuth::MasterKey { fingerprint },
            )
        }));
    }
    let Some(active) = keys::find_active(state, key).await? else {
        return Ok(None);
    };
    let auth = SessionAuth::ApiKey {
        key_id: active.key_id,
    };
    Ok(Some((Principal::from_key(active, channel), auth)))
}

async fn principal_for_session(
    state: &AppState,
    auth: &SessionAuth,
) -> Result<Option<Principal>, AppError> {
    Ok(match auth {
        SessionAuth::Password { user_id } => match state.known.user(*user_id) {
            Some(principal) => Some(principal),
            None => {
                let era = state.known.era();
                let found = users::by_id(&state.db, *user_id)
                    .await?
                    .map(|u| Principal::from_user(&u, Channel::Cookie));
                if let Some(principal) = &found {
                    state.known.keep_user(era, *user_id, principal);
                }
                found
            }
        },
        SessionAuth::ApiKey { key_id } => keys::find_active_by_id(&state.db, *key_id)
            .await?
            .map(|k| Principal::from_key(k, Channel::Cookie)),
        SessionAuth::MasterKey { fingerprint } => state
            .master_keys
            .contains(fingerprint)
            .then(|| Principal::master(Channel::Cookie, fingerprint)),
    })
}

/// Whether a request carries a key in its headers: [`resolve`] then decides by it alone (and
/// refuses it if it is no key), never by the session.
pub fn carries_key(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION) || headers.contains_key("x-api-key")
}

/// The key a client sent in `Authorization: Bearer` or `X-Api-Key`, if any.
fn header_credential(headers: &HeaderMap) -> Result<Option<&str>, AppError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| AppError::invalid_api_key())?;
        let (scheme, token) = value
            .split_once(' ')
            .ok_or_else(AppError::invalid_api_key)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AppError::invalid_api_key());
        }
        return Ok(Some(token.trim()));
    }
    match headers.get("x-api-key") {
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim()))
            .map_err(|_| AppError::invalid_api_key()),
        None => Ok(None),
    }
}

/// The client's address, as the connection tells it (a reverse proxy's own, behind one).
pub fn client_address(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED))
}

/// A name someone tried to sign in as, fit for the log and the audit trail: a name that could
/// not be a user's (it may be a password typed in the wrong field) is not kept.
pub fn shown_name(name: &str) -> String {
    match users::validate_name(name) {
        Ok(()) => name.to_owned(),
        Err(_) => "(not a user name)".to_owned(),
    }
}

/// Logs and audits a refused credential; never the credential itself. The log and the audit
/// trail take a steady trickle of them at most (60 at once, then one a second), so that a
/// flood of bad keys fills neither the disk nor the database; the log line that follows a
/// flood says how many were left out.
pub fn record_failure(state: &AppState, client: IpAddr, tried: String) {
    if let Some(left_out) = state.sign_in.may_record_failure() {
        tracing::warn!(client = %client, tried = ?tried, left_out, "sign-in failed");
        state.audit.record(Record {
            kind: SIGN_IN_FAILED,
            principal: tried,
            status: 401,
            client: Some(client.to_string()),
            ..Record::default()
        });
    }
}

/// Who made this request, or `None` when nobody is signed in and local mode does not apply.
/// A key that is presented but wrong is an error, never an anonymous request. A key that
/// could be guessed (anything but Hearth's own `hk-` keys) is refused while its client is
/// blocked for failing too often.
pub async fn resolve(parts: &mut Parts, state: &AppState) -> Result<Option<Principal>, AppError> {
    if let Some(key) = header_credential(&parts.headers)? {
        let guessable = !key.starts_with(keys::PREFIX);
        let client = client_address(parts);
        if guessable {
            state.sign_in.check(client, None)?;
        }
        return match principal_for_key(state, key, Channel::Header).await? {
            Some((principal, _)) => Ok(Some(principal)),
            None => {
                if guessable {
                    state.sign_in.failed(client, None);
                }
                record_failure(state, client, "api-key".to_owned());
                Err(AppError::invalid_api_key())
            }
        };
    }

    let session = Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, why)| AppError::internal(why))?;
    let stored = session
        .get::<SessionAuth>(SESSION_KEY)
        .await
        .map_err(crate::sessions::store_error)?;
    if let Some(auth) = stored {
        if let Some(principal) = principal_for_session(state, &auth).await? {
            return Ok(Some(principal));
        }
        session
            .flush()
            .await
            .map_err(crate::sessions::store_error)?;
    }

    if state.local_mode_possible && host_is_loopback(parts) && !users::any_exist(&state.db).await? {
        return Ok(Some(Principal::local()));
    }
    Ok(None)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let principal = resolve(parts, state)
            .await?
            .ok_or_else(AppError::missing_credentials)?;
        check_origin(parts, principal.channel)?;
        Ok(principal)
    }
}

/// The caller if any, for routes that serve everyone (pages): a wrong key is treated as none.
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybePrincipal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match resolve(parts, state).await {
            Ok(principal) => Ok(MaybePrincipal(principal)),
            Err(AppError::Unauthorized { .. }) => Ok(MaybePrincipal(None)),
            Err(e) => Err(e),
        }
    }
}

/// Refuses cross-site use of ambient authority: an unsafe method carried by the session
/// cookie needs a same-origin `Origin`; in local mode a foreign `Origin` is refused (clients
/// such as curl send none and are let through, as the server is on loopback).
pub fn check_origin(parts: &Parts, channel: Channel) -> Result<(), AppError> {
    if is_safe(&parts.method) {
        return Ok(());
    }
    let origin = parts.headers.get(header::ORIGIN);
    let ok = match (channel, origin) {
        (Channel::Header, _) => true,
        (Channel::Cookie, None) => false,
        (Channel::Ambient, None) => true,
        (Channel::Cookie | Channel::Ambient, Some(origin)) => {
            is_same_origin(origin.to_str().unwrap_or(""), request_host(parts))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "cross-origin request refused: a request authenticated by the session cookie must come \
             from Hearth's own pages (missing or foreign Origin header)"
                .into(),
        ))
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The authority the client addressed (`Host`, or the URI's authority under HTTP/2).
pub fn request_host(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
}

/// `origin` is `scheme://host[:port]`; it is ours when its authority is the one addressed.
pub fn is_same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

/// Local mode only answers requests addressed to a loopback name, so a hostile page cannot
/// reach it through DNS rebinding.
fn host_is_loopback(parts: &Parts) -> bool {
    let Some(host) = request_host(parts) else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    matches!(
        name.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "[::1]"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, host: &str, origin: Option<&str>) -> Parts {
        let mut builder = axum::http::Request::builder()
            .method(method)
            .uri("/v1/keys")
            .header("host", host);
        if let Some(o) = origin {
            builder = builder.header("origin", o);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn origins_match_on_authority() {
        assert!(is_same_origin(
            "http://127.0.0.1:8484",
            Some("127.0.0.1:8484")
        ));
        assert!(is_same_origin(
            "https://hearth.example",
            Some("hearth.example")
        ));
        assert!(!is_same_origin(
            "http://evil.example",
            Some("127.0.0.1:8484")
        ));
        assert!(!is_same_origin("null", Some("127.0.0.1:8484")));
        assert!(!is_same_origin("http://127.0.0.1:8484", None));
    }

    #[test]
    fn cookie_writes_need_our_origin_and_header_keys_do_not() {
        let h = "127.0.0.1:8484";
        assert!(check_origin(
            &parts(Method::POST, h, Some("http://127.0.0.1:8484")),
            Channel::Cookie
        )
        .is_ok());
        assert!(check_origin(&parts(Method::POST, h, None), Channel::Cookie).is_err());
        assert!(check_origin(
            &parts(Method::DELETE, h, Some("http://evil.example")),
            Channel::Cookie
        )
        .is_err());
        assert!(check_origin(
            &parts(Method::GET, h, Some("http://evil.example")),
            Channel::Cookie
        )
        .is_ok());
        assert!(check_origin(
            &parts(Method::POST, h, Some("http://evil.example")),
            Channel::Header
        )
        .is_ok());
        assert!(check_origin(&parts(Method::POST, h, None), Channel::Ambient).is_ok());
        assert!(check_origin(
            &parts(Method::POST, h, Some("http://evil.example")),
            Channel::Ambient
        )
        .is_err());
    }

    #[test]
    fn local_mode_answers_loopback_names_only() {
        for host in ["127.0.0.1:8484", "localhost", "LOCALHOST:1", "[::1]:8484"] {
            assert!(host_is_loopback(&parts(Method::GET, host, None)), "{host}");
        }
        for host in ["evil.example", "evil.example:8484", "10.0.0.1:8484"] {
            assert!(!host_is_loopback(&parts(Method::GET, host, None)), "{host}");
        }
    }
}
