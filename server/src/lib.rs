//! Hearth's server: everything behind the HTTP API, as a library. `main.rs` parses the
//! command line and calls [`prepare`] and [`serve`]; tests do the same on `127.0.0.1:0`.

pub mod assets;
pub mod audit;
pub mod auth;
mod changes;
pub mod cli;
pub mod config;
pub mod conversations;
pub mod cors_proxy;
pub mod crypto;
pub mod db;
pub mod error;
mod extract;
mod files;
pub mod http;
mod key_check;
pub mod keys;
pub mod llm;
pub mod mcp;
pub mod serve;
pub mod sessions;
pub mod settings;
mod settle;
pub mod state;
pub mod teams;
mod ui;
pub mod users;

use std::future::Future;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::crypto::{CryptoError, SecretBox};
use crate::db::{Db, DbError};
pub use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "refusing to listen on {0} without credentials: anyone who can reach it would be an admin. \
         Set a master key with --api-key KEY or --api-key-file PATH, add a user with \
         `hearth user add NAME --role admin`, or listen on 127.0.0.1"
    )]
    OpenBind(std::net::SocketAddr),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("cannot read the stored settings: {0}")]
    Settings(String),
    #[error(
        "the secret key ({0}) is not the one this database's secrets were sealed with. Every \
         instance sharing a database must use the same key: point --secret-key-file at the same \
         key file, or give the same HEARTH_SECRET_KEY"
    )]
    WrongSecretKey(String),
}

/// Opens and migrates the database and loads the secret key: what every command needs.
pub async fn open(config: &Config) -> Result<(Db, SecretBox), StartError> {
    files::private_dir(&config.data_dir).map_err(|source| DbError::Directory {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let secrets = match &config.secret_key {
        Some(key) => SecretBox::from_env_value(secrecy::ExposeSecret::expose_secret(key))?,
        None => SecretBox::load_or_create(&config.secret_key_file)?,
    };
    key_check::verify(&db, &secrets)
        .await
        .map_err(|e| match e {
            key_check::Mismatch::Key => StartError::WrongSecretKey(match config.secret_key {
                Some(_) => "HEARTH_SECRET_KEY".to_owned(),
                None => config.secret_key_file.display().to_string(),
            }),
            key_check::Mismatch::Db(e) => StartError::Db(DbError::Connect(e)),
        })?;
    Ok((db, secrets))
}

/// Everything the server needs before it accepts a connection, with the start-up checks.
pub async fn prepare(config: &Config) -> Result<AppState, StartError> {
    let (db, secrets) = open(config).await?;
    if !config.addr.ip().is_loopback()
        && !config.has_master_keys()
        && !users::any_exist(&db).await.map_err(DbError::Connect)?
    {
        return Err(StartError::OpenBind(config.addr));
    }
    let state = AppState::new(config, db, secrets);
    cors_proxy::settings::load(&state)
        .await
        .map_err(|e| StartError::Settings(e.to_string()))?;
    changes::follow(state.clone());
    if !state.assets.has_wasm {
        tracing::warn!("this binary was built without its web UI (no wasm embedded); pages render but do not hydrate. Build with `make build`");
    }
    Ok(state)
}

/// Serves the API and the UI on `listener` until `shutdown` completes, then lets the requests
/// in flight finish within the shutdown grace and writes the audit events still queued.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve::run(listener, state, shutdown).await
}
