//! The one place where access is decided. Every route states what it is about to do to what,
//! and asks [`authorize`]; no handler compares roles on its own.

use app::api::{Grants, Role};

use super::Principal;
use crate::error::AppError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
    /// Use a resource (run an LLM). Never implied by `Write`.
    Run,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource<'a> {
    /// One API key, owned by the given user.
    ApiKey { owner: i64 },
    /// A key about to be created for `owner`, narrowed to `llms` (`None`: every LLM its user
    /// may run) and expiring at `expires_at` (Unix seconds; `None`: never). A key never
    /// creates a key wider than itself.
    NewApiKey {
        owner: i64,
        llms: Option<&'a [String]>,
        expires_at: Option<i64>,
    },
    /// Every user's API keys at once (the admin listing).
    AllApiKeys,
    /// The caller's own personal MCP servers (rows are always scoped to their owner).
    OwnMcpServers,
    /// The header values stored with the caller's own MCP servers (credentials, often).
    OwnMcpSecrets,
    /// The caller's own conversations (rows are always scoped to their owner).
    OwnConversations,
    /// Server-wide settings (`/v1/settings/...`).
    Settings,
    /// The LLM catalogue: reading every field but keys (admins, viewers), editing (admins).
    Llms,
    /// The audit trail: admins and viewers read it; nobody writes it through the API.
    Audit,
    /// Every team: admins write, admins and viewers read.
    Teams,
    /// The list of users (names and roles): admins and viewers read it; users are added from
    /// the command line.
    Users,
    /// One team, by its members: they see it too.
    Team { members: &'a [String] },
    /// The shared MCP servers' configuration (URLs, commands, header and env names, grants):
    /// admins write, admins and viewers read; members see only what they may use.
    McpRegistry,
    /// The shared MCP servers an admin listed to everyone (`is_public`): every role sees their
    /// summary, a narrowed key does not; using one still needs a grant.
    PublicMcpServers,
    /// One shared MCP server, by its name and grants, with the caller's teams: using it (and
    /// seeing it at all, as a member) needs a grant and, for a narrowed key, its name on the
    /// key's list — as for LLMs.
    SharedMcpServer {
        name: &'a str,
        grants: &'a Grants,
        teams: &'a [String],
    },
    /// One LLM, by its name and grants, with the caller's teams. Running it needs a grant (to
    /// all members, to the caller's user by name, or to one of its teams) and, for a narrowed
    /// key, its name on the key's list; every role alike, for editing the catalogue never
    /// implies running what is in it.
    Llm {
        name: &'a str,
        grants: &'a Grants,
        teams: &'a [String],
    },
    /// `/cors-proxy`: reaching an MCP server for the browser.
    CorsProxy,
    /// Loopback and private addresses through `/cors-proxy` without the admin's allow list:
    /// admins only (local mode included). The proxy's address policy still refuses them on a
    /// public bind, whoever asks.
    PrivateNetwork,
}

/// Decides whether `principal` may perform `action` on `resource`; a refusal says why.
pub fn authorize(
    principal: &Principal,
    action: Action,
    resource: Resource<'_>,
) -> Result<(), AppError> {
    if allowed(principal, action, resource) {
        return Ok(());
    }
    let narrowed = principal.llms.is_some() || principal.mcp_servers.is_some();
    let message = if narrowed && !narrowed_key_may(action, resource) {
        "this API key is narrowed to LLMs or shared MCP servers: it may use those, and nothing else (no keys, \
         users, settings or stored MCP credentials)"
            .to_owned()
    } else if let Resource::NewApiKey {
        llms, expires_at, ..
    } = resource
    {
        match within_ceiling(principal, llms, expires_at) {
            false => match principal.key_expires_at {
                Some(own) => format!(
                    "this API key expires at {own} (Unix time): a key it creates must expire no later \
                     (set expires_in_days) and run no more LLMs than it may"
                ),
                None => "a key can only create keys that run no more LLMs than it may".to_owned(),
            },
            true => role_refusal(principal.role, action),
        }
    } else {
        role_refusal(principal.role, action)
    };
    Err(AppError::Forbidden(message))
}

/// Why `role` may not do `action`, in words for the person refused.
fn role_refusal(role: Role, action: Action) -> String {
    match (role, action) {
        (Role::Viewer, Action::Write) => {
            "Viewers can read Hearth's settings but not change them: ask an admin.".into()
        }
        (Role::Member, _) => "This is for admins of this Hearth: ask one of them.".into(),
        _ => format!("Your role ({role}) does not allow this: ask an admin."),
    }
}

/// What a narrowed key (to LLMs, to shared MCP servers, or both) may still do: run what its
/// lists name, keep the conversations it runs them in, read its user's MCP servers without
/// their stored header values, use the CORS proxy, and see its user's teams (which grants
/// depend on).
fn narrowed_key_may(action: Action, resource: Resource<'_>) -> bool {
    matches!(
        (action, resource),
        (
            Action::Run,
            Resource::Llm { .. } | Resource::SharedMcpServer { .. } | Resource::CorsProxy
        ) | (_, Resource::OwnConversations)
            | (
                Action::Read,
                Resource::OwnMcpServers | Resource::Team { .. }
            )
    )
}

/// A key creating a key: the new one runs no LLM the creator may not, and expires no later.
/// Callers that are not keys (passwords, master keys, local mode) have no ceiling.
fn within_ceiling(principal: &Principal, llms: Option<&[String]>, expires_at: Option<i64>) -> bool {
    let llms_ok = match (&principal.llms, llms) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(own), Some(new)) => new.iter().all(|n| own.contains(n)),
    };
    let expiry_ok = match (principal.key_expires_at, expires_at) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(own), Some(new)) => new <= own,
    };
    llms_ok && expiry_ok
}

/// The same decision as a boolean, for views that adapt (a listing narrowed to one's own).
pub fn allowed(principal: &Principal, action: Action, resource: Resource<'_>) -> bool {
    let narrowed = principal.llms.is_some() || principal.mcp_servers.is_some();
    // A narrowed key uses only what its lists name; a list it lacks names nothing.
    let on_list = |list: &Option<Vec<String>>, name: &str| match list {
        Some(names) => names.iter().any(|n| n == name),
        None => !narrowed,
    };
    let granted = |grants: &Grants, teams: &[String]| {
        grants.all_members
            || principal.user_id.is_some() && grants.users.iter().any(|u| *u == principal.name)
            || grants.teams.iter().any(|t| teams.contains(t))
    };
    if narrowed {
        if !narrowed_key_may(action, resource) {
            return false;
        }
        // Whatever its role, a narrowed key sees only its own user's teams.
        if let (Action::Read, Resource::Team { members }) = (action, resource) {
            return principal.user_id.is_some() && members.contains(&principal.name);
        }
    }
    let own = |owner: i64| principal.user_id == Some(owner);
    match (principal.role, action, resource) {
        (
            _,
            Action::Run,
            Resource::Llm {
                name,
                grants,
                teams,
            },
        ) => granted(grants, teams) && on_list(&principal.llms, name),
        (
            _,
            Action::Run,
            Resource::SharedMcpServer {
                name,
                grants,
                teams,
            },
        ) => granted(grants, teams) && on_list(&principal.mcp_servers, name),
        (_, Action::Run, Resource::CorsProxy) => true,
        (role, Action::Run, Resource::PrivateNetwork) => role == Role::Admin,
        (_, Action::Run, _) => false,
        (
            _,
            Action::Write,
            Resource::NewApiKey {
                owner,
                llms,
                expires_at,
            },
        ) => {
            within_ceiling(principal, llms, expires_at)
                && allowed(principal, Action::Write, Resource::ApiKey { owner })
        }
        (_, Action::Read, Resource::NewApiKey { .. }) => false,
        (_, _, Resource::CorsProxy | Resource::PrivateNetwork) => false,
        (Role::Admin, _, _) => true,
        (_, Action::Read, Resource::Team { members }) => {
            principal.role == Role::Viewer
                || principal.user_id.is_some() && members.contains(&principal.name)
        }
        (_, Action::Write, Resource::Team { .. }) => false,
        (_, _, Resource::OwnMcpServers | Resource::OwnMcpSecrets | Resource::OwnConversations) => {
            true
        }
        (_, _, Resource::Llm { .. } | Resource::SharedMcpServer { .. }) => false,
        (_, Action::Read, Resource::PublicMcpServers) => true,
        (_, Action::Write, Resource::PublicMcpServers) => false,
        (Role::Viewer, Action::Read, _) => true,
        (Role::Viewer | Role::Member, Action::Write, Resource::ApiKey { owner }) => own(owner),
        (Role::Viewer | Role::Member, Action::Write, Resource::AllApiKeys) => false,
        (Role::Member, Action::Read, Resource::ApiKey { owner }) => own(owner),
        (Role::Member, Action::Read, Resource::AllApiKeys) => false,
        (Role::Viewer | Role::Member, Action::Write, Resource::Settings) => false,
        (Role::Member, Action::Read, Resource::Settings) => false,
        (Role::Viewer | Role::Member, Action::Write, Resource::Llms) => false,
        (Role::Member, Action::Read, Resource::Llms) => false,
        (Role::Viewer | Role::Member, Action::Write, Resource::McpRegistry) => false,
        (Role::Member, Action::Read, Resource::McpRegistry) => false,
        (Role::Viewer | Role::Member, Action::Write, Resource::Audit) => false,
        (Role::Member, Action::Read, Resource::Audit) => false,
        (Role::Viewer | Role::Member, Action::Write, Resource::Teams) => false,
        (Role::Member, Action::Read, Resource::Teams) => false,
        (Role::Viewer | Role::Member, Action::Write, Resource::Users) => false,
        (Role::Member, Action::Read, Resource::Users) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Channel;
    use app::api::AuthMethod;

    fn user(id: i64, role: Role) -> Principal {
        Principal {
            name: format!("u{id}"),
            role,
            user_id: Some(id),
            auth: AuthMethod::Password,
            key_id: None,
            channel: Channel::Header,
            llms: None,
            mcp_servers: None,
            key_expires_at: None,
            key_hash_prefix: None,
        }
    }

    #[test]
    fn a_shared_mcp_server_is_used_by_grant_and_a_key_narrowed_in_either_list_uses_only_what_it_names(
    ) {
        let everyone = Grants {
            all_members: true,
            ..Grants::default()
        };
        let nobody = Grants::default();
        let server = |name, grants| Resource::SharedMcpServer {
            name,
            grants,
            teams: &[],
        };
        let llm = |name, grants| Resource::Llm {
            name,
            grants,
            teams: &[],
        };
        // Editing the registry never implies using what is in it.
        for role in [Role::Admin, Role::Viewer, Role::Member] {
            assert!(allowed(
                &user(1, role),
                Action::Run,
                server("files", &everyone)
            ));
            assert!(!allowed(
                &user(1, role),
                Action::Run,
                server("files", &nobody)
            ));
        }
        // Narrowed to servers: those it names, and no LLM.
        let to_servers = Principal {
            mcp_servers: Some(vec!["files".into()]),
            ..user(1, Role::Admin)
        };
        assert!(allowed(
            &to_servers,
            Action::Run,
            server("files", &everyone)
        ));
        assert!(!allowed(
            &to_servers,
            Action::Run,
            server("wiki", &everyone)
        ));
        assert!(!allowed(&to_servers, Action::Run, llm("gpt", &everyone)));
        assert!(!allowed(&to_servers, Action::Read, Resource::McpRegistry));
        // Narrowed to LLMs: no shared server.
        let to_llms = Principal {
            llms: Some(vec!["gpt".into()]),
            ..user(1, Role::Admin)
        };
        assert!(allowed(&to_llms, Action::Run, llm("gpt", &everyone)));
        assert!(!allowed(&to_llms, Action::Run, server("files", &everyone)));
    }

    #[test]
    fn the_registry_is_written_by_admins_and_read_by_admins_and_viewers() {
        for (role, read, write) in [
            (Role::Admin, true, true),
            (Role::Viewer, true, false),
            (Role::Member, false, false),
        ] {
            let p = user(1, role);
            assert_eq!(
                allowed(&p, Action::Read, Resource::McpRegistry),
                read,
                "{role}"
            );
            assert_eq!(
                allowed(&p, Action::Write, Resource::McpRegistry),
                write,
                "{role}"
            );
        }
    }

    #[test]
    fn running_an_llm_needs_a_grant_whatever_the_role_and_a_narrowed_key_needs_its_name() {
        let named = Grants {
            users: vec!["u2".into()],
            ..Grants::default()
        };
        let everyone = Grants {
            all_members: true,
            ..Grants::default()
        };
        let team = Grants {
            teams: vec!["ops".into()],
            ..Grants::default()
        };
        let admin = user(1, Role::Admin);
        assert!(allowed(&admin, Action::Write, Resource::Llms));
        assert!(
            !allowed(
                &admin,
                Action::Run,
                Resource::Llm {
                    name: "a",
                    grants: &named,
                    teams: &[]
                }
            ),
            "edit must not imply run"
        );
        assert!(allowed(
            &admin,
            Action::Run,
            Resource::Llm {
                name: "a",
                grants: &everyone,
                teams: &[]
            }
        ));
        let member = user(2, Role::Member);
        assert!(allowed(
            &member,
            Action::Run,
            Resource::Llm {
                name: "a",
                grants: &named,
                teams: &[]
            }
        ));
        assert!(!allowed(&member, Action::Write, Resource::Llms));
        assert!(!allowed(
            &member,
            Action::Run,
            Resource::Llm {
                name: "a",
                grants: &team,
                teams: &["dev".into()]
            }
        ));
        assert!(allowed(
            &member,
            Action::Run,
            Resource::Llm {
                name: "a",
                grants: &team,
                teams: &["dev".into(), "ops".into()]
            }
        ));
        let narrowed = Principal {
            llms: Some(vec!["b".into()]),
            ..member
        };
        assert!(!allowed(
            &narrowed,
            Action::Run,
            Resource::Llm {
                name: "a",
                grants: &everyone,
                teams: &[]
            }
        ));
        assert!(allowed(
            &narrowed,
            Action::Run,
            Resource::Llm {
                name: "b",
                grants: &everyone,
                teams: &[]
            }
        ));
    }

    #[test]
    fn members_reach_only_their_own_keys() {
        let m = user(1, Role::Member);
        assert!(allowed(&m, Action::Read, Resource::ApiKey { owner: 1 }));
        assert!(allowed(&m, Action::Write, Resource::ApiKey { owner: 1 }));
        assert!(!allowed(&m, Action::Read, Resource::ApiKey { owner: 2 }));
        assert!(!allowed(&m, Action::Write, Resource::ApiKey { owner: 2 }));
        assert!(!allowed(&m, Action::Read, Resource::AllApiKeys));
    }

    #[test]
    fn viewers_read_everything_and_write_only_their_own() {
        let v = user(1, Role::Viewer);
        assert!(allowed(&v, Action::Read, Resource::AllApiKeys));
        assert!(allowed(&v, Action::Read, Resource::ApiKey { owner: 2 }));
        assert!(!allowed(&v, Action::Write, Resource::ApiKey { owner: 2 }));
        assert!(allowed(&v, Action::Write, Resource::ApiKey { owner: 1 }));
    }

    #[test]
    fn everyone_keeps_their_own_mcp_servers_and_only_admins_change_settings() {
        for role in Role::ALL {
            assert!(allowed(
                &user(1, role),
                Action::Write,
                Resource::OwnMcpServers
            ));
        }
        assert!(allowed(
            &user(1, Role::Admin),
            Action::Write,
            Resource::Settings
        ));
        assert!(allowed(
            &user(1, Role::Viewer),
            Action::Read,
            Resource::Settings
        ));
        assert!(!allowed(
            &user(1, Role::Viewer),
            Action::Write,
            Resource::Settings
        ));
        assert!(!allowed(
            &user(1, Role::Member),
            Action::Read,
            Resource::Settings
        ));
    }

    #[test]
    fn a_team_is_seen_by_its_members_viewers_and_admins_and_changed_by_admins() {
        let members = ["u1".to_owned()];
        let team = Resource::Team { members: &members };
        assert!(allowed(&user(1, Role::Member), Action::Read, team));
        assert!(!allowed(&user(2, Role::Member), Action::Read, team));
        assert!(allowed(&user(3, Role::Viewer), Action::Read, team));
        assert!(!allowed(
            &user(1, Role::Member),
            Action::Write,
            Resource::Teams
        ));
        assert!(allowed(
            &user(4, Role::Admin),
            Action::Write,
            Resource::Teams
        ));
    }

    #[test]
    fn a_key_narrowed_to_llms_only_runs_them_whatever_its_role() {
        let everyone = Grants {
            all_members: true,
            ..Grants::default()
        };
        for role in Role::ALL {
            let narrowed = Principal {
                llms: Some(vec!["cheap".into()]),
                key_id: Some(5),
                ..user(1, role)
            };
            assert!(allowed(
                &narrowed,
                Action::Run,
                Resource::Llm {
                    name: "cheap",
                    grants: &everyone,
                    teams: &[]
                }
            ));
            assert!(allowed(
                &narrowed,
                Action::Write,
                Resource::OwnConversations
            ));
            assert!(allowed(&narrowed, Action::Read, Resource::OwnMcpServers));
            assert!(allowed(
                &narrowed,
                Action::Read,
                Resource::Team {
                    members: &["u1".to_owned()]
                }
            ));
            assert!(
                !allowed(
                    &narrowed,
                    Action::Read,
                    Resource::Team {
                        members: &["u9".to_owned()]
                    }
                ),
                "{role}"
            );
            for (action, resource) in [
                (
                    Action::Write,
                    Resource::NewApiKey {
                        owner: 1,
                        llms: Some(&["cheap".to_owned()][..]),
                        expires_at: Some(1),
                    },
                ),
                (Action::Read, Resource::ApiKey { owner: 1 }),
                (Action::Write, Resource::ApiKey { owner: 1 }),
                (Action::Read, Resource::Settings),
                (Action::Write, Resource::Settings),
                (Action::Write, Resource::Llms),
                (Action::Read, Resource::Audit),
                (Action::Write, Resource::Teams),
                (Action::Read, Resource::OwnMcpSecrets),
                (Action::Write, Resource::OwnMcpServers),
                (Action::Run, Resource::PrivateNetwork),
            ] {
                assert!(
                    !allowed(&narrowed, action, resource),
                    "{role}: {action:?} {resource:?}"
                );
                let err = authorize(&narrowed, action, resource).unwrap_err();
                assert!(err.to_string().contains("narrowed"), "{err}");
            }
        }
    }

    #[test]
    fn a_key_never_creates_a_key_that_outlives_it() {
        let expiring = Principal {
            key_id: Some(3),
            key_expires_at: Some(1_000),
            ..user(1, Role::Admin)
        };
        let new = |expires_at| Resource::NewApiKey {
            owner: 2,
            llms: None,
            expires_at,
        };
        assert!(allowed(&expiring, Action::Write, new(Some(999))));
        assert!(allowed(&expiring, Action::Write, new(Some(1_000))));
        assert!(!allowed(&expiring, Action::Write, new(Some(1_001))));
        assert!(
            !allowed(&expiring, Action::Write, new(None)),
            "a key that never expires is wider"
        );
        assert!(authorize(&expiring, Action::Write, new(None))
            .unwrap_err()
            .to_string()
            .contains("expire no later"));
        let password = user(1, Role::Admin);
        assert!(
            allowed(&password, Action::Write, new(None)),
            "a signed-in user has no ceiling"
        );
        let member = Principal {
            key_id: Some(4),
            key_expires_at: Some(1_000),
            ..user(1, Role::Member)
        };
        assert!(
            !allowed(
                &member,
                Action::Write,
                Resource::NewApiKey {
                    owner: 2,
                    llms: None,
                    expires_at: Some(10)
                }
            ),
            "the role still decides whose"
        );
    }

    #[test]
    fn private_networks_through_the_proxy_are_for_admins() {
        for role in Role::ALL {
            assert!(allowed(&user(1, role), Action::Run, Resource::CorsProxy));
            assert_eq!(
                allowed(&user(1, role), Action::Run, Resource::PrivateNetwork),
                role == Role::Admin,
                "{role}"
            );
        }
    }

    #[test]
    fn admins_may_do_anything_and_a_refusal_is_a_403() {
        let a = user(1, Role::Admin);
        assert!(authorize(&a, Action::Write, Resource::ApiKey { owner: 9 }).is_ok());
        let err =
            authorize(&user(2, Role::Member), Action::Read, Resource::AllApiKeys).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::FORBIDDEN);
    }
}
