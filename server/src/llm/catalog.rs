//! What the gateway needs of each LLM, kept in memory for a few seconds so that a request does
//! not read the database. A write forgets the entry at once on this instance and, on
//! PostgreSQL, on every other one (see `changes`); [`FRESH`] bounds how long any instance
//! may go on with a stale entry when an announcement is lost (and on SQLite, which has none).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use app::api::{Grants, Provider};

use super::probe::endpoint;
use super::resources::{fetch, LlmRow};
use crate::error::{AppError, Result};
use crate::state::AppState;

const FRESH: Duration = Duration::from_secs(5);

/// An LLM as the gateway calls it.
#[derive(Debug)]
pub struct Target {
    pub name: String,
    pub provider: Provider,
    /// Where completions are asked for: `<base>/v1/messages` for Anthropic,
    /// `<base>/v1/chat/completions` for the others. Built once, not per request.
    pub completions_url: reqwest::Url,
    pub model: String,
    pub grants: Grants,
    key: Key,
}

#[derive(Debug)]
enum Key {
    None,
    Sealed(String),
    Reference(String),
}

impl Target {
    /// The provider key in clear, read now (a key file may have been rotated). The error says
    /// what is wrong without the key; it is meant for the log and for admins.
    pub fn key(&self, state: &AppState) -> Result<Option<String>> {
        match &self.key {
            Key::None => Ok(None),
            Key::Sealed(sealed) => state.secrets.open(sealed).map(Some).map_err(AppError::internal),
            Key::Reference(reference) => state.key_refs.resolve(reference).map(Some).map_err(|why| {
                tracing::error!(llm = %self.name, %why, "the LLM's key reference cannot be resolved");
                AppError::BadGateway(format!(
                    "Hearth cannot read the provider key of LLM {:?} (its key reference does not resolve); an admin must fix the LLM",
                    self.name
                ))
            }),
        }
    }
}

impl TryFrom<LlmRow> for Target {
    type Error = AppError;

    fn try_from(row: LlmRow) -> Result<Target> {
        let grants = row.grants();
        let key = match (row.api_key_sealed, row.api_key_ref) {
            (Some(sealed), _) => Key::Sealed(sealed),
            (None, Some(reference)) => Key::Reference(reference),
            (None, None) => Key::None,
        };
        let path = if row.provider == Provider::Anthropic {
            "messages"
        } else {
            "chat/completions"
        };
        // The base URL was checked when it was saved.
        let completions_url =
            reqwest::Url::parse(&endpoint(&row.base_url, path)).map_err(AppError::internal)?;
        Ok(Target {
            name: row.name,
            provider: row.provider,
            completions_url,
            model: row.model,
            grants,
            key,
        })
    }
}

#[derive(Default)]
pub struct Catalog {
    entries: RwLock<HashMap<String, (Instant, Arc<Target>)>>,
}

impl Catalog {
    /// The LLM named `name`, if there is one.
    pub async fn get(&self, state: &AppState, name: &str) -> Result<Option<Arc<Target>>> {
        if let Some((at, target)) = self.entries.read().expect("catalog lock").get(name) {
            if at.elapsed() < FRESH {
                return Ok(Some(target.clone()));
            }
        }
        let Some(row) = fetch(state, name).await? else {
            self.forget(name);
            return Ok(None);
        };
        let target = Arc::new(Target::try_from(row)?);
        self.entries
            .write()
            .expect("catalog lock")
            .insert(name.to_owned(), (Instant::now(), target.clone()));
        Ok(Some(target))
    }

    pub fn forget(&self, name: &str) {
        self.entries.write().expect("catalog lock").remove(name);
    }

    pub fn forget_all(&self) {
        self.entries.write().expect("catalog lock").clear();
    }
}
