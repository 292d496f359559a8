//! The state every handler shares: built once at start, cheap to clone.

use std::collections::HashSet;
use std::ops::Deref;
use std::sync::Arc;

use leptos::config::LeptosOptions;
use leptos::prelude::ArcStoredValue;

use crate::assets::Assets;
use crate::audit::Audit;
use crate::config::Config;
use crate::cors_proxy::policy::Policy;
use crate::cors_proxy::Upstream;
use crate::crypto::SecretBox;
use crate::db::Db;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub secrets: SecretBox,
    /// Keyed fingerprints of the master keys (see `SecretBox::fingerprint`).
    pub master_keys: HashSet<String>,
    /// Loopback bind and no master key: local mode applies while no user exists.
    pub local_mode_possible: bool,
    pub assets: Assets,
    pub cors_proxy: Upstream,
    /// The pooled client for LLM providers.
    pub llm_client: reqwest::Client,
    /// The longest wait for a provider's answer, and between two chunks of a stream.
    pub llm_timeout: std::time::Duration,
    /// The largest whole answer read from a provider, in bytes.
    pub llm_max_answer: usize,
    pub connections: crate::config::Connections,
    /// Cancelled when the shutdown grace is over: streams still running end with an error
    /// event, and calls cut then are audited as 503.
    pub streams_end: tokio_util::sync::CancellationToken,
    /// Where LLM key references may point.
    pub key_refs: crate::llm::key_ref::KeyRefs,
    pub audit: Audit,
    /// Bounds password hashing and slows down failed sign-ins.
    pub sign_in: crate::auth::throttle::SignInGuard,
    /// The LLMs as the gateway calls them, cached.
    pub llm_catalog: crate::llm::Catalog,
    /// `cors_proxy.allow` entries from the configuration (the admin setting adds to them).
    pub cors_proxy_configured: Vec<String>,
    /// Hearth listens on a non-loopback address, so the proxy refuses private ranges.
    pub cors_proxy_restricts_private: bool,
    pub leptos: LeptosOptions,
    /// What a page links for preloading when it needs a lazily loaded part of the app.
    pub split_manifest: Option<leptos::WasmSplitManifest>,
    /// The app's page paths (`/`, `/login`, …); any other page path is a 404.
    pub pages: Vec<String>,
    /// The database's last health check and when it ran: `/healthz` asks the database at most
    /// once a second, whoever calls it and however often.
    pub db_health: tokio::sync::Mutex<Option<(std::time::Instant, bool)>>,
    /// The shared MCP servers as the gateway reads them, cached.
    pub mcp_registry: crate::mcp::registry::Snapshot,
    /// Live sessions with the shared MCP servers (and their `stdio` children).
    pub mcp_pool: crate::mcp::upstream::Pool,
    /// The shared MCP servers' last health checks.
    pub mcp_health: crate::mcp::shared::HealthCache,
    /// `/mcp`'s sessions and who opened each.
    pub gateway_sessions: crate::mcp::gateway::Sessions,
    /// The `Host` and `Origin` values `/mcp` answers.
    pub gateway_hosts: Vec<String>,
    pub gateway_origins: Vec<String>,
    /// The forwarding servers' own authorization servers, for `/mcp`'s metadata.
    pub gateway_metadata: crate::mcp::gateway::UpstreamMetadata,
    /// `/mcp`'s tool lists, kept while what they were made from stays the same.
    pub gateway_listings: crate::mcp::gateway::Listings,
    /// API keys and users' teams read for recent requests.
    pub known: Arc<crate::auth::known::Known>,
}

impl AppState {
    pub fn new(config: &Config, db: Db, secrets: SecretBox) -> AppState {
        let master_keys = config
            .master_key_strs()
            .map(|k| secrets.fingerprint(k))
            .collect();
        let assets = Assets::load();
        let leptos = LeptosOptions::builder()
            .output_name(assets.output_name())
            .site_pkg_dir("pkg")
            .site_addr(config.addr)
            // leptos would look for a split manifest under the site root on disk; Hearth's is
            // embedded (below), and nothing is read from the working directory.
            .site_root("/dev/null/hearth")
            .build();
        let split_manifest = assets.split_loader.clone().map(|loader| {
            leptos::WasmSplitManifest(ArcStoredValue::new((
                "/pkg".to_owned(),
                assets.split_manifest.clone(),
                loader,
            )))
        });
        let cors_proxy = Upstream::new(
            Policy::new(!config.addr.ip().is_loopback(), &config.cors_proxy_allow)
                .expect("checked when the config loaded"),
        );
        AppState(Arc::new(Inner {
            mcp_pool: crate::mcp::upstream::Pool::new(cors_proxy.clone()),
            mcp_health: Default::default(),
            gateway_sessions: Default::default(),
            gateway_hosts: crate::mcp::gateway::allowed_hosts(config),
            gateway_origins: crate::mcp::gateway::allowed_origins(config),
            gateway_metadata: Default::default(),
            gateway_listings: Default::default(),
            known: Default::default(),
            audit: Audit::spawn(db.clone()),
            sign_in: crate::auth::throttle::SignInGuard::new(),
            llm_timeout: config.llm_timeout,
            llm_max_answer: config.llm_max_answer,
            connections: config.connections.clone(),
            streams_end: Default::default(),
            key_refs: crate::llm::key_ref::KeyRefs::new(
                config.key_ref_dirs.clone(),
                vec![
                    absolute(&config.data_dir),
                    absolute(&config.secret_key_file),
                ],
            ),
            llm_catalog: Default::default(),
            mcp_registry: Default::default(),
            db,
            secrets,
            master_keys,
            local_mode_possible: config.addr.ip().is_loopback() && !config.has_master_keys(),
            assets,
            // Provider calls carry Hearth's key for that provider: they follow no redirect
            // (which could take the key to another host) and send no Referer.
            llm_client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .referer(false)
                .tcp_nodelay(true)
                .connect_timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("the LLM client builds"),
            cors_proxy_configured: config.cors_proxy_allow.clone(),
            cors_proxy_restricts_private: !config.addr.ip().is_loopback(),
            cors_proxy,
            leptos,
            split_manifest,
            db_health: Default::default(),
            pages: leptos_axum::generate_route_list(app::App)
                .iter()
                .map(|r| r.path().to_owned())
                .collect(),
        }))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// `path` made absolute against the working directory, for comparisons with other paths.
fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
