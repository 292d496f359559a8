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
    /// Every user's API keys at once (the admin listing).
    AllApiKeys,
    /// The caller's own personal MCP servers (rows are always scoped to their owner).
    OwnMcpServers,
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
    /// One team, by its members: they see it too.
    Team { members: &'a [String] },
    /// One LLM, by its name and grants, with the caller's teams. Running it needs a grant (to
    /// all members, to the caller's user by name, or to one of its teams) and, for a narrowed
    /// key, its name on the key's list; every role alike, for editing the catalogue never
    /// implies running what is in it.
    Llm { name: &'a str, grants: &'a Grants, teams: &'a [String] },
}

/// Decides whether `principal` may perform `action` on `resource`.
pub fn authorize(principal: &Principal, action: Action, resource: Resource<'_>) -> Result<(), AppError> {
    if allowed(principal, action, resource) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "your role ({}) does not allow this",
            principal.role
        )))
    }
}

/// The same decision as a boolean, for views that adapt (a listing narrowed to one's own).
pub fn allowed(principal: &Principal, action: Action, resource: Resource<'_>) -> bool {
    let own = |owner: i64| principal.user_id == Some(owner);
    match (principal.role, action, resource) {
        (_, Action::Run, Resource::Llm { name, grants, teams }) => {
            let granted = grants.all_members
                || principal.user_id.is_some() && grants.users.iter().any(|u| *u == principal.name)
                || grants.teams.iter().any(|t| teams.contains(t));
            let key_allows = principal.llms.as_ref().is_none_or(|llms| llms.iter().any(|l| l == name));
            granted && key_allows
        }
        (_, Action::Run, _) => false,
        (Role::Admin, _, _) => true,
        (_, Action::Read, Resource::Team { members }) => {
            principal.role == Role::Viewer || principal.user_id.is_some() && members.contains(&principal.name)
        }
        (_, Action::Write, Resource::Team { .. }) => false,
        (_, _, Resource::OwnMcpServers | Resource::OwnConversations) => true,
        (_, _, Resource::Llm { .. }) => false,
        (Role::Viewer, Action::Read, _) => true,
        (Role::Viewer | Role::Member, Action::Write, Resource::ApiKey { owner }) => own(owner),
        (Role::Viewer | Role::Member, Action::Write, Resource::AllApiKeys) => false,
        (Role::Member, Action::Read, Resource::ApiKey { owner }) => own(owner),
        (Role::Member, Action::Read, Resource::AllApiKeys) => false,
        (Role::Viewer | Role::Member, Action::Write, Resource::Settings) => false,
        (Role::Member, Action::Read, Resource::Settings) => false,
        (Role::Viewer | Role::Member, Action::Write, Resource::Llms) => false,
        (Role::Member, Action::Read, Resource::Llms) => false,
        (Role::Viewer | Role::Member, Action::Write, Resource::Audit) => false,
        (Role::Member, Action::Read, Resource::Audit) => false,
        (Role::Viewer | Role::Member, Action::Write, Resource::Teams) => false,
        (Role::Member, Action::Read, Resource::Teams) => false,
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
            key_hash_prefix: None,
        }
    }

    #[test]
    fn running_an_llm_needs_a_grant_whatever_the_role_and_a_narrowed_key_needs_its_name() {
        let named = Grants { users: vec!["u2".into()], ..Grants::default() };
        let everyone = Grants { all_members: true, ..Grants::default() };
        let team = Grants { teams: vec!["ops".into()], ..Grants::default() };
        let admin = user(1, Role::Admin);
        assert!(allowed(&admin, Action::Write, Resource::Llms));
        assert!(!allowed(&admin, Action::Run, Resource::Llm { name: "a", grants: &named, teams: &[] }), "edit must not imply run");
        assert!(allowed(&admin, Action::Run, Resource::Llm { name: "a", grants: &everyone, teams: &[] }));
        let member = user(2, Role::Member);
        assert!(allowed(&member, Action::Run, Resource::Llm { name: "a", grants: &named, teams: &[] }));
        assert!(!allowed(&member, Action::Write, Resource::Llms));
        assert!(!allowed(&member, Action::Run, Resource::Llm { name: "a", grants: &team, teams: &["dev".into()] }));
        assert!(allowed(&member, Action::Run, Resource::Llm { name: "a", grants: &team, teams: &["dev".into(), "ops".into()] }));
        let narrowed = Principal { llms: Some(vec!["b".into()]), ..member };
        assert!(!allowed(&narrowed, Action::Run, Resource::Llm { name: "a", grants: &everyone, teams: &[] }));
        assert!(allowed(&narrowed, Action::Run, Resource::Llm { name: "b", grants: &everyone, teams: &[] }));
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
            assert!(allowed(&user(1, role), Action::Write, Resource::OwnMcpServers));
        }
        assert!(allowed(&user(1, Role::Admin), Action::Write, Resource::Settings));
        assert!(allowed(&user(1, Role::Viewer), Action::Read, Resource::Settings));
        assert!(!allowed(&user(1, Role::Viewer), Action::Write, Resource::Settings));
        assert!(!allowed(&user(1, Role::Member), Action::Read, Resource::Settings));
    }

    #[test]
    fn a_team_is_seen_by_its_members_viewers_and_admins_and_changed_by_admins() {
        let members = ["u1".to_owned()];
        let team = Resource::Team { members: &members };
        assert!(allowed(&user(1, Role::Member), Action::Read, team));
        assert!(!allowed(&user(2, Role::Member), Action::Read, team));
        assert!(allowed(&user(3, Role::Viewer), Action::Read, team));
        assert!(!allowed(&user(1, Role::Member), Action::Write, Resource::Teams));
        assert!(allowed(&user(4, Role::Admin), Action::Write, Resource::Teams));
    }

    #[test]
    fn admins_may_do_anything_and_a_refusal_is_a_403() {
        let a = user(1, Role::Admin);
        assert!(authorize(&a, Action::Write, Resource::ApiKey { owner: 9 }).is_ok());
        let err = authorize(&user(2, Role::Member), Action::Read, Resource::AllApiKeys).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::FORBIDDEN);
    }
}
