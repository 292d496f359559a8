//! The wire types of Hearth's public HTTP API, shared by the server (which produces them) and
//! the browser (which consumes them), plus the browser's typed client.
//!
//! These are views, never database rows: nothing here may carry a password hash, a key hash
//! or any other stored secret.

mod audit;
mod chat;
pub mod client;
mod llm;
mod mcp;
mod registry;
mod teams;

pub use audit::*;
pub use chat::*;
pub use llm::*;
pub use mcp::*;
pub use registry::*;
pub use teams::*;

use serde::{Deserialize, Serialize};

/// A user's role. `Admin` may do everything; `Viewer` may read the configuration (never a
/// stored secret); `Member` uses what is granted to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Viewer,
    Member,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Viewer, Role::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
            Role::Member => "member",
        }
    }
}

/// How a role is read back from storage.
impl TryFrom<String> for Role {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: expected admin, viewer or member"))
    }
}

/// How the caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Local mode: loopback bind with no users and no keys; the visitor is the local admin.
    Local,
    /// A master key from `--api-key` / `--api-key-file`.
    MasterKey,
    /// An `hk-` API key belonging to a user.
    ApiKey,
    /// A username and password.
    Password,
}

/// `GET /v1/me`: who the caller is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Me {
    /// The user's name, or `"admin"` for a master key and `"local"` in local mode.
    pub name: String,
    pub role: Role,
    pub auth: AuthMethod,
    /// The user's id; absent for master keys and local mode, which have no user row.
    pub user_id: Option<i64>,
    /// What the caller may do, as the server's one authorization decides it: the UI offers an
    /// action only where its route would accept it.
    #[serde(default)]
    pub can: Capabilities,
}

/// What a caller may do beyond their own keys, conversations and MCP servers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Add, edit, delete and check LLMs.
    pub manage_llms: bool,
    /// Read how every LLM is set up (URL, grants, last check).
    pub read_llm_settings: bool,
    /// Read the audit trail.
    pub read_audit: bool,
    /// Read every team; without it, only one's own teams.
    pub read_teams: bool,
    pub manage_teams: bool,
    /// Read every user's keys; without it, only one's own.
    pub read_all_keys: bool,
    /// Revoke anyone's keys and create keys for other users.
    pub manage_all_keys: bool,
    /// List the users (`GET /v1/users`).
    pub read_users: bool,
    pub manage_settings: bool,
    /// Add, edit, delete and test shared MCP servers.
    #[serde(default)]
    pub manage_mcp_servers: bool,
}

impl Me {
    pub fn is_local(&self) -> bool {
        self.auth == AuthMethod::Local
    }
}

/// One user as listed by `GET /v1/users` (admins and viewers), for choosing names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserSummary {
    pub name: String,
    pub role: Role,
}

/// `GET /v1/users`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserList {
    pub data: Vec<UserSummary>,
}

/// Where to go after signing in (`/login?next=…`, `POST /auth/login?next=…`): a path on
/// Hearth itself, never another site. `None` for anything else (an absolute or
/// scheme-relative URL, a backslash, a control character, an over-long value).
pub fn safe_next(next: &str) -> Option<&str> {
    let path = next.strip_prefix('/')?;
    let fine = next.len() <= 2048
        && !path.starts_with('/')
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    fine.then_some(next)
}

/// `/login`, asking to come back to `path` afterwards (when it is a page worth coming back to).
pub fn login_path(path: &str) -> String {
    match safe_next(path) {
        Some(next) if next != "/" && !next.starts_with("/login") => format!(
            "/login?next={}",
            crate::mcp::transport::encode_component(next)
        ),
        _ => "/login".to_owned(),
    }
}

/// `POST /auth/login`, as JSON or form-encoded. Either a username and password or an API key.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LoginRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

/// An API key as listed: never the key itself, only its display prefix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    /// The first characters of the key (`hk-abcd…`), enough to recognise it.
    pub prefix: String,
    /// The owning user's name.
    pub user: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// The LLMs the key may run, when it is narrowed to some; none means all its user may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llms: Option<Vec<String>>,
    /// The shared MCP servers the key may use, when it is narrowed to some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_servers: Option<Vec<String>>,
}

/// `GET /v1/keys`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyList {
    pub data: Vec<ApiKey>,
}

/// `POST /v1/keys`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// A label to recognise the key by.
    pub name: String,
    /// The owner's user name. Defaults to the caller; only admins may name another user.
    /// Required when the caller has no user of their own (master key, local mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Days until the key expires; none means it never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<u32>,
    /// Narrows the key to these LLMs (it still needs its user's grants to run them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llms: Option<Vec<String>>,
    /// Narrows the key to these shared MCP servers (it still needs its user's grants). A key
    /// narrowed in either list uses only what its lists name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_servers: Option<Vec<String>>,
}

/// The answer to `POST /v1/keys`: the only time the key itself is ever shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub key: String,
    #[serde(flatten)]
    pub info: ApiKey,
}

/// Every error on a JSON route: `{"error": {"message", "type", "code"}}`, the OpenAI shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub code: String,
    /// The request field the error is about, when it is about one (`name`, `url`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

/// `GET /healthz`: `status` and `database` are `ok`, or `unavailable` (with a 503) while the
/// database cannot be reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
    pub database: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_path_on_hearth_is_a_place_to_return_to() {
        for fine in ["/", "/chat?c=12", "/llms", "/mcp-servers#x"] {
            assert_eq!(safe_next(fine), Some(fine));
        }
        for refused in [
            "",
            "chat",
            "//evil.example/x",
            "/\\evil.example",
            "\\/evil.example",
            "https://evil.example/",
            "/a\nb",
            "javascript:alert(1)",
            &format!("/{}", "a".repeat(2048)),
        ] {
            assert_eq!(safe_next(refused), None, "{refused:?}");
        }
        assert_eq!(login_path("/chat?c=12"), "/login?next=%2Fchat%3Fc%3D12");
        assert_eq!(login_path("/"), "/login");
        assert_eq!(login_path("//evil.example"), "/login");
        assert_eq!(login_path("/login?next=/x"), "/login");
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn a_created_key_flattens_its_listing_fields() {
        let created = CreatedApiKey {
            key: "hk-secret".into(),
            info: ApiKey {
                id: 1,
                name: "ci".into(),
                prefix: "hk-secr".into(),
                user: "ana".into(),
                created_at: 0,
                expires_at: None,
                last_used_at: None,
                llms: None,
                mcp_servers: Some(vec!["files".into()]),
            },
        };
        let json = serde_json::to_value(&created).unwrap();
        assert_eq!(json["key"], "hk-secret");
        assert_eq!(json["name"], "ci");
        let back: CreatedApiKey = serde_json::from_value(json).unwrap();
        assert_eq!(back, created);
    }

    #[test]
    fn errors_use_the_openai_field_names() {
        let body = ErrorBody {
            error: ErrorDetail {
                message: "m".into(),
                kind: "authentication_error".into(),
                code: "c".into(),
                param: None,
            },
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["error"]["type"], "authentication_error");
        assert!(
            json["error"].get("param").is_none(),
            "only an error about a field names one"
        );
    }
}
