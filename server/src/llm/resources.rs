//! LLM resources: `GET/POST /v1/llms`, `GET/PUT/DELETE /v1/llms/{name}`; a check with the
//! provider, `POST /v1/llms/{name}/check`; and the models a provider offers before an LLM is
//! saved, `POST /v1/provider-models`.
//!
//! Writing needs `Write` on the catalogue (admins). Members see only the LLMs they may run,
//! without URL, key reference or grants. A provider key is write-only: encrypted at rest,
//! never returned, never logged; views say only whether one is set.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use sqlx::FromRow;

use app::api::{
    Grants, Llm, LlmCheck, LlmInput, LlmList, ProbeOutcome, ProbeReport, Provider, ProviderModels,
    ProviderModelsQuery, SavedLlm, CONFIG_CREATED, CONFIG_DELETED, CONFIG_UPDATED,
};

use super::probe::{models, probe};
use crate::audit::Record;
use crate::auth::{allowed, authorize, Action, Principal, Resource};
use crate::db;
use crate::error::{AppError, Echo, Result};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::with_pool;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/llms", get(list).post(create))
        .route("/v1/llms/{name}", get(show).put(replace).delete(remove))
        .route("/v1/llms/{name}/check", post(check))
        .route("/v1/provider-models", post(provider_models))
}

#[derive(Debug, Default, Deserialize)]
pub struct SaveOptions {
    /// Register without calling the provider (offline registration). Never stored.
    #[serde(default)]
    pub skip_auth_check: bool,
}

#[derive(Debug, FromRow)]
pub(crate) struct LlmRow {
    pub(crate) name: String,
    #[sqlx(try_from = "String")]
    pub(crate) provider: Provider,
    pub(crate) base_url: String,
    pub(crate) model: String,
    pub(crate) api_key_sealed: Option<String>,
    pub(crate) api_key_ref: Option<String>,
    description: Option<String>,
    tier: Option<String>,
    grants: String,
    /// The last check with the provider: an [`LlmCheck`] as JSON.
    last_check: Option<String>,
    pub(crate) created_at: i64,
    updated_at: i64,
}

const SELECT: &str = "SELECT name, provider, base_url, model, api_key_sealed, api_key_ref, description, tier, grants, \
                      last_check, created_at, updated_at FROM llms";

impl LlmRow {
    pub(crate) fn grants(&self) -> Grants {
        serde_json::from_str(&self.grants).unwrap_or_default()
    }

    /// Whether `principal` may run this LLM (`edit` never implies it, except for admins who
    /// hold every right).
    pub(super) fn runnable_by(&self, principal: &Principal, teams: &[String]) -> bool {
        allowed(
            principal,
            Action::Run,
            Resource::Llm {
                name: &self.name,
                grants: &self.grants(),
                teams,
            },
        )
    }

    /// The view for `principal`: the catalogue's readers see everything but the key.
    fn view(self, principal: &Principal) -> Llm {
        let full = allowed(principal, Action::Read, Resource::Llms);
        let grants = self.grants();
        Llm {
            name: self.name,
            provider: self.provider,
            base_url: full.then_some(self.base_url),
            model: self.model,
            has_api_key: self.api_key_sealed.is_some() || self.api_key_ref.is_some(),
            api_key_ref: self.api_key_ref.filter(|_| full),
            description: self.description,
            tier: self.tier,
            grants: full.then_some(grants),
            check: self
                .last_check
                .filter(|_| full)
                .and_then(|c| serde_json::from_str(&c).ok()),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

pub(super) async fn fetch(state: &AppState, name: &str) -> Result<Option<LlmRow>> {
    let sql = format!("{SELECT} WHERE name = $1");
    Ok(with_pool!(&state.db, pool => sqlx::query_as(&sql).bind(name).fetch_optional(pool).await)?)
}

fn not_found(name: &str) -> AppError {
    AppError::NotFound(format!("no LLM named {}", Echo(name)))
}

/// Names appear in URLs and as an OpenAI `model`.
fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'));
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid("name", format!(
            "invalid LLM name {name:?}: use 1 to 128 letters, digits, `.`, `_`, `-` or `:`, starting with a letter or digit"
        )))
    }
}

fn validate_base_url(input: &LlmInput) -> Result<String> {
    base_url_for(input.provider, input.base_url.as_deref())
}

/// The base URL given, or the provider's usual one; an http(s) URL without credentials.
fn base_url_for(provider: Provider, given: Option<&str>) -> Result<String> {
    let given = given.map(str::trim).filter(|u| !u.is_empty());
    let url = given.or(provider.default_base_url()).ok_or_else(|| {
        AppError::invalid(
            "base_url",
            format!(
                "the {} provider has no default URL: give base_url",
                provider.as_str()
            ),
        )
    })?;
    let parsed = url::Url::parse(url)
        .map_err(|e| AppError::invalid("base_url", format!("base_url is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return Err(AppError::invalid(
            "base_url",
            "base_url must be an http(s) URL without credentials",
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn optional_text(
    value: &Option<String>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() <= max => Ok(Some(v.to_owned())),
        Some(_) => Err(AppError::invalid(
            field,
            format!("{field} is longer than {max} characters"),
        )),
    }
}

/// The plain fields of an input, checked: what create and update store alike.
struct Fields {
    base_url: String,
    model: String,
    description: Option<String>,
    tier: Option<String>,
    grants: String,
}

fn validate_fields(input: &LlmInput) -> Result<Fields> {
    Ok(Fields {
        base_url: validate_base_url(input)?,
        model: optional_text(&Some(input.model.clone()), "model", 256)?
            .ok_or_else(|| AppError::invalid("model", "model is required"))?,
        description: optional_text(&input.description, "description", 1000)?,
        tier: optional_text(&input.tier, "tier", 64)?,
        grants: serde_json::to_string(&input.grants).map_err(AppError::internal)?,
    })
}

/// The key to store: `Some(new)` replaces, `Some("")` removes, `None` keeps `stored`.
enum KeyChange {
    Keep,
    Set(String),
    Remove,
}

/// Every LLM, by name.
pub(crate) async fn fetch_all(state: &AppState) -> Result<Vec<LlmRow>> {
    let sql = format!("{SELECT} ORDER BY name");
    Ok(with_pool!(&state.db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?)
}

async fn list(State(state): State<AppState>, principal: Principal) -> Result<Json<LlmList>> {
    let rows = fetch_all(&state).await?;
    let full = allowed(&principal, Action::Read, Resource::Llms);
    let teams = if full {
        Vec::new()
    } else {
        crate::teams::of(&state, &principal).await?
    };
    let data = rows
        .into_iter()
        .filter(|r| full || r.runnable_by(&principal, &teams))
        .map(|r| r.view(&principal))
        .collect();
    Ok(Json(LlmList { data }))
}

async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<Json<Llm>> {
    let row = fetch(&state, &name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    if !allowed(&principal, Action::Read, Resource::Llms)
        && !row.runnable_by(&principal, &crate::teams::of(&state, &principal).await?)
    {
        return Err(not_found(&name));
    }
    Ok(Json(row.view(&principal)))
}

/// Checks the key with the provider unless told not to: the check to store, when one was made.
/// An `auth` outcome stops the save.
async fn check_key(
    state: &AppState,
    options: &SaveOptions,
    input: &LlmInput,
    base_url: &str,
    key: Option<String>,
) -> Result<Option<LlmCheck>> {
    let Some(key) = key.filter(|_| !options.skip_auth_check) else {
        return Ok(None);
    };
    let report = probe(
        &state.llm_client,
        input.provider,
        base_url,
        &input.model,
        Some(&key),
    )
    .await;
    if report.outcome == ProbeOutcome::Auth {
        return Err(AppError::ProviderRejectedKey {
            message: format!("{} Nothing was saved.", report.message),
            upstream_status: report.status.unwrap_or_default(),
        });
    }
    Ok(Some(checked(report)))
}

fn checked(report: ProbeReport) -> LlmCheck {
    LlmCheck {
        outcome: report.outcome,
        status: report.status,
        message: report.message,
        checked_at: db::now(),
    }
}

/// A check that did not pass, as the warning of a save.
fn warning(check: &Option<LlmCheck>) -> Option<ProbeReport> {
    check
        .as_ref()
        .filter(|c| c.outcome != ProbeOutcome::Ok)
        .map(|c| ProbeReport {
            outcome: c.outcome,
            status: c.status,
            message: c.message.clone(),
        })
}

fn check_json(check: &Option<LlmCheck>) -> Result<Option<String>> {
    check
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(AppError::internal)
}

/// What a request says about the key, checked; and the key to probe with, if it changed.
fn key_change(
    state: &AppState,
    input: &LlmInput,
    options: &SaveOptions,
) -> Result<(KeyChange, Option<String>, Option<String>)> {
    if input.api_key.as_deref().is_some_and(|k| !k.is_empty()) && input.api_key_ref.is_some() {
        return Err(AppError::BadRequest(
            "give api_key or api_key_ref, not both".into(),
        ));
    }
    let reference = input
        .api_key_ref
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    if let Some(r) = &reference {
        state
            .key_refs
            .validate(r)
            .map_err(|m| AppError::invalid("api_key_ref", m))?;
    }
    let (change, probe_key) = match input.api_key.as_deref() {
        Some("") => (KeyChange::Remove, None),
        Some(key) => (
            KeyChange::Set(key.trim().to_owned()),
            Some(key.trim().to_owned()),
        ),
        None if reference.is_some() => (KeyChange::Remove, None),
        None => (KeyChange::Keep, None),
    };
    let probe_key = match (&reference, probe_key) {
        (Some(r), _) => match state.key_refs.resolve(r) {
            Ok(key) => Some(key),
            Err(_) if options.skip_auth_check => None,
            Err(why) => {
                return Err(AppError::BadRequest(format!(
                    "{why} (register with ?skip_auth_check=true to save it anyway)"
                )))
            }
        },
        (None, key) => key,
    };
    Ok((change, reference, probe_key))
}

#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(options): ApiQuery<SaveOptions>,
    ApiJson(input): ApiJson<LlmInput>,
) -> Result<(StatusCode, Json<SavedLlm>)> {
    authorize(&principal, Action::Write, Resource::Llms)?;
    let (row, warning) = register(&state, &input, &options).await?;
    state.audit.record(Record::action(
        CONFIG_CREATED,
        &principal,
        format!("llm:{}", row.name),
        201,
    ));
    Ok((
        StatusCode::CREATED,
        Json(SavedLlm {
            llm: row.view(&principal),
            warning,
        }),
    ))
}

/// Checks and stores a new LLM, the key checked with the provider first unless `options` say
/// not to (the API and `hearth llm add` alike). Returns it, with the probe's warning if any.
pub(crate) async fn register(
    state: &AppState,
    input: &LlmInput,
    options: &SaveOptions,
) -> Result<(LlmRow, Option<app::api::ProbeReport>)> {
    validate_name(&input.name)?;
    let fields = validate_fields(input)?;
    crate::teams::check_grantees(&state.db, &input.grants).await?;
    let (change, reference, probe_key) = key_change(state, input, options)?;
    if fetch(state, &input.name).await?.is_some() {
        return Err(AppError::Conflict(format!(
            "an LLM named {:?} already exists",
            input.name
        )));
    }
    let check = check_key(state, options, input, &fields.base_url, probe_key).await?;
    let sealed = match change {
        KeyChange::Set(key) => Some(state.secrets.seal(&key)),
        KeyChange::Keep | KeyChange::Remove => None,
    };
    let now = db::now();
    let sql = "INSERT INTO llms (name, provider, base_url, model, api_key_sealed, api_key_ref, description, tier, grants, \
               last_check, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)";
    let inserted = with_pool!(&state.db, pool => sqlx::query(sql)
        .bind(&input.name)
        .bind(input.provider.as_str())
        .bind(&fields.base_url)
        .bind(&fields.model)
        .bind(sealed)
        .bind(reference)
        .bind(&fields.description)
        .bind(&fields.tier)
        .bind(&fields.grants)
        .bind(check_json(&check)?)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()));
    match inserted {
        Ok(_) => {}
        Err(e) if db::is_unique_violation(&e) => {
            return Err(AppError::Conflict(format!(
                "an LLM named {:?} already exists",
                input.name
            )))
        }
        Err(e) => return Err(e.into()),
    }
    changed(state, &input.name).await;
    tracing::info!(llm = %input.name, "LLM registered");
    let row = fetch(state, &input.name)
        .await?
        .ok_or_else(|| not_found(&input.name))?;
    Ok((row, warning(&check)))
}

#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn replace(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    ApiQuery(options): ApiQuery<SaveOptions>,
    ApiJson(input): ApiJson<LlmInput>,
) -> Result<Json<SavedLlm>> {
    authorize(&principal, Action::Write, Resource::Llms)?;
    let stored = fetch(&state, &name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    if input.name != name {
        return Err(AppError::BadRequest(
            "an LLM's name cannot be changed; delete it and add it again".into(),
        ));
    }
    let fields = validate_fields(&input)?;
    crate::teams::check_grantees(&state.db, &input.grants).await?;
    let (change, reference, probe_key) = key_change(&state, &input, &options)?;
    let url_changed = fields.base_url != stored.base_url;
    let ref_changed = reference != stored.api_key_ref;
    let keeps_key = matches!(change, KeyChange::Keep);
    let sealed = match change {
        KeyChange::Set(key) => Some(state.secrets.seal(&key)),
        KeyChange::Remove => None,
        KeyChange::Keep => stored.api_key_sealed.clone(),
    };
    // Only a new key, a new reference or a new URL is checked with the provider; a new URL
    // with the key already stored.
    let new_key = input.api_key.as_deref().is_some_and(|k| !k.is_empty());
    let probe_key = match (new_key || ref_changed, url_changed, &stored.api_key_sealed) {
        (true, _, _) => probe_key,
        (false, true, Some(sealed)) if keeps_key => {
            Some(state.secrets.open(sealed).map_err(AppError::internal)?)
        }
        (false, true, _) => probe_key,
        (false, false, _) => None,
    };
    let check = check_key(&state, &options, &input, &fields.base_url, probe_key).await?;
    // A check made before the provider, URL, model or key changed says nothing about them.
    let unchanged = input.provider == stored.provider
        && !url_changed
        && fields.model == stored.model
        && !ref_changed
        && keeps_key;
    let last_check = match (&check, unchanged) {
        (Some(_), _) => check_json(&check)?,
        (None, true) => stored.last_check.clone(),
        (None, false) => None,
    };
    let sql = "UPDATE llms SET provider = $1, base_url = $2, model = $3, api_key_sealed = $4, api_key_ref = $5, \
               description = $6, tier = $7, grants = $8, last_check = $9, updated_at = $10 WHERE name = $11";
    with_pool!(&state.db, pool => sqlx::query(sql)
        .bind(input.provider.as_str())
        .bind(&fields.base_url)
        .bind(&fields.model)
        .bind(sealed)
        .bind(reference)
        .bind(&fields.description)
        .bind(&fields.tier)
        .bind(&fields.grants)
        .bind(last_check)
        .bind(db::now())
        .bind(&name)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    changed(&state, &name).await;
    tracing::info!(llm = %name, "LLM updated");
    state.audit.record(Record::action(
        CONFIG_UPDATED,
        &principal,
        format!("llm:{name}"),
        200,
    ));
    let row = fetch(&state, &name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(Json(SavedLlm {
        llm: row.view(&principal),
        warning: warning(&check),
    }))
}

/// The key the LLM's provider is called with: the stored one, or where its reference points.
fn stored_key(state: &AppState, row: &LlmRow) -> Result<Option<String>> {
    match (&row.api_key_sealed, &row.api_key_ref) {
        (Some(sealed), _) => Ok(Some(
            state.secrets.open(sealed).map_err(AppError::internal)?,
        )),
        (None, Some(reference)) => referenced_key(state, reference).map(Some),
        (None, None) => Ok(None),
    }
}

/// The key a reference points to; a reference that is not allowed or does not resolve is a
/// 400 on `api_key_ref` (whose words say nothing of the server's files or environment).
fn referenced_key(state: &AppState, reference: &str) -> Result<String> {
    state
        .key_refs
        .validate(reference)
        .map_err(|m| AppError::invalid("api_key_ref", m))?;
    state
        .key_refs
        .resolve(reference)
        .map_err(|why| AppError::invalid("api_key_ref", why))
}

/// `POST /v1/llms/{name}/check`: calls the provider as a save does, and keeps what it found.
#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn check(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<Json<LlmCheck>> {
    authorize(&principal, Action::Write, Resource::Llms)?;
    let row = fetch(&state, &name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    let key = stored_key(&state, &row)?;
    let report = probe(
        &state.llm_client,
        row.provider,
        &row.base_url,
        &row.model,
        key.as_deref(),
    )
    .await;
    let check = checked(report);
    let sql = "UPDATE llms SET last_check = $1 WHERE name = $2";
    with_pool!(&state.db, pool => sqlx::query(sql)
        .bind(check_json(&Some(check.clone()))?)
        .bind(&name)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(Json(check))
}

/// `POST /v1/provider-models`: the models a provider offers, to pick from when adding an LLM.
/// Admins only: it calls the URL given, as a save does.
#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn provider_models(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(query): ApiJson<ProviderModelsQuery>,
) -> Result<Json<ProviderModels>> {
    authorize(&principal, Action::Write, Resource::Llms)?;
    let base_url = base_url_for(query.provider, query.base_url.as_deref())?;
    let typed = query
        .api_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let reference = query
        .api_key_ref
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let key = match (typed, reference, query.llm.as_deref()) {
        (Some(key), _, _) => Some(key.to_owned()),
        (None, Some(reference), _) => Some(referenced_key(&state, reference)?),
        // The stored key goes only where it is already sent: its own provider and URL.
        (None, None, Some(llm)) => match fetch(&state, llm).await? {
            Some(row) if row.provider == query.provider && row.base_url == base_url => {
                stored_key(&state, &row)?
            }
            _ => None,
        },
        (None, None, None) => None,
    };
    let (check, data) = models(&state.llm_client, query.provider, &base_url, key.as_deref()).await;
    Ok(Json(ProviderModels { check, data }))
}

#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    authorize(&principal, Action::Write, Resource::Llms)?;
    unregister(&state, &name).await?;
    state.audit.record(Record::action(
        CONFIG_DELETED,
        &principal,
        format!("llm:{name}"),
        204,
    ));
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the LLM `name` (the API and `hearth llm remove` alike).
pub(crate) async fn unregister(state: &AppState, name: &str) -> Result<()> {
    let sql = "DELETE FROM llms WHERE name = $1";
    let deleted = with_pool!(&state.db, pool => sqlx::query(sql).bind(name).execute(pool).await.map(|r| r.rows_affected()))?;
    if deleted == 0 {
        return Err(not_found(name));
    }
    changed(state, name).await;
    tracing::info!(llm = %name, "LLM deleted");
    Ok(())
}

/// Forgets what this instance and the others hold of LLM `name`, once a change is written.
async fn changed(state: &AppState, name: &str) {
    state.llm_catalog.forget(name);
    crate::changes::announce(&state.db, crate::changes::Change::Llm(name.to_owned())).await;
}
