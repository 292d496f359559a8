//! The admin setting `cors_proxy.allow`: loopback and private hosts, addresses and networks
//! the proxy may reach although Hearth listens on a public address. `GET/PUT
//! /v1/settings/cors-proxy`; a change applies to the next proxied request.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use app::api::{CorsProxySettings, CONFIG_UPDATED};

use crate::audit::Record;

use super::policy::Policy;
use crate::auth::{authorize, Action, Principal, Resource};
use crate::error::{AppError, Result};
use crate::extract::ApiJson;
use crate::settings;
use crate::state::AppState;

const KEY: &str = "cors_proxy.allow";
const MAX_ENTRIES: usize = 256;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/settings/cors-proxy", get(show).put(replace))
}

/// The policy from the configuration and the stored setting together.
pub fn policy(state: &AppState, stored: &[String]) -> std::result::Result<Policy, String> {
    let all: Vec<String> = state
        .cors_proxy_configured
        .iter()
        .chain(stored)
        .cloned()
        .collect();
    Policy::new(state.cors_proxy_restricts_private, &all)
}

/// Applies the stored setting at start-up.
pub async fn load(state: &AppState) -> Result<()> {
    let stored: Vec<String> = settings::get(&state.db, KEY).await?.unwrap_or_default();
    match policy(state, &stored) {
        Ok(p) => state.cors_proxy.set_policy(p),
        // Only ever stored after the same check, so this means a hand-edited database.
        Err(why) => tracing::warn!(%why, "ignoring the stored cors_proxy.allow setting"),
    }
    Ok(())
}

async fn show(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<CorsProxySettings>> {
    authorize(&principal, Action::Read, Resource::Settings)?;
    let allow = settings::get(&state.db, KEY).await?.unwrap_or_default();
    Ok(Json(CorsProxySettings {
        allow,
        configured: state.cors_proxy_configured.clone(),
    }))
}

#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn replace(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CorsProxySettings>,
) -> Result<Json<CorsProxySettings>> {
    authorize(&principal, Action::Write, Resource::Settings)?;
    if body.allow.len() > MAX_ENTRIES {
        return Err(AppError::BadRequest(format!(
            "at most {MAX_ENTRIES} entries in cors_proxy.allow"
        )));
    }
    let allow: Vec<String> = body
        .allow
        .iter()
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .collect();
    let policy = policy(&state, &allow).map_err(AppError::BadRequest)?;
    settings::put(&state.db, KEY, &allow).await?;
    state.cors_proxy.set_policy(policy);
    crate::changes::announce(&state.db, crate::changes::Change::CorsProxyAllow).await;
    tracing::info!(entries = allow.len(), "cors_proxy.allow changed");
    state.audit.record(Record::action(
        CONFIG_UPDATED,
        &principal,
        format!("setting:{KEY}"),
        200,
    ));
    Ok(Json(CorsProxySettings {
        allow,
        configured: state.cors_proxy_configured.clone(),
    }))
}
