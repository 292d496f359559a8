//! Changes made on one instance, put in force on every instance sharing the database.
//!
//! What instances keep in memory (the LLM catalog, the shared MCP servers, the CORS-proxy
//! allow list) is dropped or reloaded when another instance changes it. On PostgreSQL a
//! write is announced with `NOTIFY`, and every instance `LISTEN`s: the change is in force
//! everywhere within moments. SQLite has no such channel; there, as a backstop on both, the
//! cached entries expire after a few seconds and the allow list is read again every
//! [`BACKSTOP`].

use std::time::Duration;

use sqlx::postgres::PgListener;

use crate::db::Db;
use crate::state::AppState;

const CHANNEL: &str = "hearth_changes";
/// How often the allow list is read again whatever was announced.
const BACKSTOP: Duration = Duration::from_secs(30);

/// What changed.
#[derive(Debug, PartialEq)]
pub enum Change {
    /// The LLM of that name was added, edited, re-granted or deleted.
    Llm(String),
    /// The CORS proxy's allow list.
    CorsProxyAllow,
    /// The shared MCP server of that name was added, edited or deleted.
    McpServer(String),
    /// An API key was revoked, or a team's members changed: who callers are is read again.
    Callers,
}

impl Change {
    fn payload(&self) -> String {
        match self {
            Change::Llm(name) => format!("llm:{name}"),
            Change::CorsProxyAllow => "cors_proxy.allow".to_owned(),
            Change::McpServer(name) => format!("mcp_server:{name}"),
            Change::Callers => "callers".to_owned(),
        }
    }

    fn parse(payload: &str) -> Option<Change> {
        match payload.split_once(':') {
            Some(("llm", name)) => Some(Change::Llm(name.to_owned())),
            Some(("mcp_server", name)) => Some(Change::McpServer(name.to_owned())),
            _ if payload == "cors_proxy.allow" => Some(Change::CorsProxyAllow),
            _ if payload == "callers" => Some(Change::Callers),
            _ => None,
        }
    }
}

/// Tells the other instances of `change`, once it is written. A failure is logged: the
/// backstop puts the change in force later.
pub async fn announce(db: &Db, change: Change) {
    let Db::Postgres(pool) = db else { return };
    let sent = sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(change.payload())
        .execute(pool)
        .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, ?change, "could not tell the other instances of a change");
    }
}

/// Puts `change` in force on this instance.
async fn apply(state: &AppState, change: Change) {
    match change {
        Change::Llm(name) => state.llm_catalog.forget(&name),
        Change::CorsProxyAllow => reload_allow_list(state).await,
        Change::McpServer(name) => {
            state.mcp_registry.forget();
            state.mcp_pool.forget(&name).await;
            state.mcp_health.forget(&name);
        }
        Change::Callers => state.known.forget(),
    }
}

async fn reload_allow_list(state: &AppState) {
    if let Err(e) = crate::cors_proxy::settings::load(state).await {
        tracing::warn!(error = %e, "could not read the CORS proxy's allow list again");
    }
}

/// Follows the changes other instances announce, and the backstop, until the database closes.
pub fn follow(state: AppState) {
    tokio::spawn(async move {
        let mut listener = match &state.db {
            Db::Postgres(pool) => listen(pool).await,
            Db::Sqlite(_) => None,
        };
        let mut backstop = tokio::time::interval(BACKSTOP);
        backstop.tick().await;
        loop {
            let heard = async {
                match listener.as_mut() {
                    Some(listener) => listener.try_recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = backstop.tick() => {
                    reload_allow_list(&state).await;
                    crate::mcp::registry::reconcile(&state).await;
                }
                heard = heard => match heard {
                    Ok(Some(notice)) => {
                        if let Some(change) = Change::parse(notice.payload()) {
                            apply(&state, change).await;
                        }
                    }
                    // The connection was lost, and what was announced meanwhile with it: forget
                    // everything. The next call connects again.
                    Ok(None) => {
                        tracing::warn!("lost the database connection that hears of changes; reconnecting");
                        state.llm_catalog.forget_all();
                        state.mcp_registry.forget();
                        state.known.forget();
                        reload_allow_list(&state).await;
                    }
                    Err(sqlx::Error::PoolClosed) => return,
                    // Reconnecting failed (the database is away): what was announced meanwhile
                    // is lost, so everything is forgotten; the next call tries again.
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot hear of changes from the other instances; retrying");
                        state.llm_catalog.forget_all();
                        state.mcp_registry.forget();
                        state.known.forget();
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
            }
            if state.db.is_closed() {
                return;
            }
        }
    });
}

async fn listen(pool: &sqlx::PgPool) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, "cannot hear of changes from the other instances");
            return None;
        }
    };
    if let Err(e) = listener.listen(CHANNEL).await {
        tracing::warn!(error = %e, "cannot hear of changes from the other instances");
        return None;
    }
    Some(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_survives_its_payload() {
        for change in [
            Change::Llm("gpt:4o".into()),
            Change::CorsProxyAllow,
            Change::McpServer("files".into()),
            Change::Callers,
        ] {
            assert_eq!(Change::parse(&change.payload()), Some(change));
        }
        assert_eq!(Change::parse("something else"), None);
    }
}
