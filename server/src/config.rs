//! Configuration, layered: built-in defaults → `hearth.toml` → `HEARTH_*` environment →
//! command-line flags. Each flag's doc comment is its `--help` text.
//!
//! Secrets (master keys) are held as `SecretString` from the moment they are read and are
//! never printed, not even by `--help` (env values are hidden).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use app::api::{AuthKind, Lifecycle, Provider, Role, SharedTransport};

/// Hearth: a self-hosted chat UI, LLM gateway and MCP gateway in one binary.
#[derive(Debug, Parser)]
#[command(name = "hearth", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub options: Options,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options shared by the server and every subcommand.
#[derive(Debug, Default, Args)]
pub struct Options {
    /// Configuration file (TOML) [default: ./hearth.toml when it exists]
    #[arg(long, env = "HEARTH_CONFIG", global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1]. Any non-loopback address requires credentials
    #[arg(long, env = "HEARTH_HOST", global = true)]
    pub host: Option<IpAddr>,
    /// Port to listen on [default: 8484]
    #[arg(long, env = "HEARTH_PORT", global = true)]
    pub port: Option<u16>,
    /// Directory for the database and generated key files
    /// [default: $XDG_DATA_HOME/hearth or ~/.local/share/hearth]
    #[arg(long, env = "HEARTH_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: `sqlite://PATH`, or `postgres://USER@HOST:PORT/DATABASE` for several
    /// instances [default: sqlite file `hearth.db` in the data directory]
    #[arg(
        long,
        env = "HEARTH_DATABASE_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// A master API key that acts as an admin (llama-server compatible); repeat for several
    #[arg(
        long = "api-key",
        env = "HEARTH_API_KEY",
        global = true,
        value_name = "KEY",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,
    /// File of master API keys, one per line (blank lines and `#` comments are ignored)
    #[arg(long, env = "HEARTH_API_KEY_FILE", global = true, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// Key file for encrypting secrets at rest; generated on first start if absent. Every
    /// instance sharing a database needs the same key: the same file, or the key itself in
    /// HEARTH_SECRET_KEY (base64, as in the file) [default: secret.key in the data directory]
    #[arg(
        long,
        env = "HEARTH_SECRET_KEY_FILE",
        global = true,
        value_name = "PATH"
    )]
    pub secret_key_file: Option<PathBuf>,
    /// Hosts, IP addresses or CIDR networks the CORS proxy may reach although they are loopback
    /// or private; only consulted when listening on a non-loopback address. Repeatable
    #[arg(
        long = "cors-proxy-allow",
        env = "HEARTH_CORS_PROXY_ALLOW",
        global = true,
        value_name = "HOST|CIDR",
        value_delimiter = ','
    )]
    pub cors_proxy_allow: Vec<String>,
    /// Seconds to wait for an LLM provider's answer, and between two chunks of a stream, before
    /// giving up with 504 [default: 300]
    #[arg(
        long,
        env = "HEARTH_LLM_TIMEOUT",
        global = true,
        value_name = "SECONDS"
    )]
    pub llm_timeout: Option<u64>,
    /// Directory whose files LLM key references (`api_key_ref: "file:…"`) may read; repeat for
    /// several [default: none, file references are off]. Environment references may read
    /// only variables named HEARTH_KEY_*
    #[arg(
        long = "key-ref-dir",
        env = "HEARTH_KEY_REF_DIR",
        global = true,
        value_name = "DIR",
        value_delimiter = ','
    )]
    pub key_ref_dirs: Vec<PathBuf>,
    /// Log filter, e.g. `info` or `hearth=debug,tower_http=debug` [default: info]
    #[arg(long, env = "HEARTH_LOG", global = true, value_name = "FILTER")]
    pub log: Option<String>,
    /// Largest whole (not streamed) answer read from an LLM provider, in MiB; a larger one is
    /// refused with 502 [default: 32]
    #[arg(
        long,
        env = "HEARTH_LLM_MAX_ANSWER_MIB",
        global = true,
        value_name = "MIB"
    )]
    pub llm_max_answer_mib: Option<u64>,
    /// Seconds a connection may take to send a request's headers, pause within a request's body,
    /// or stay idle between two requests, before it is closed [default: 10]
    #[arg(
        long,
        env = "HEARTH_HEADER_TIMEOUT",
        global = true,
        value_name = "SECONDS"
    )]
    pub header_timeout: Option<u64>,
    /// Seconds a client may leave an answer unread (nothing of it can be written) before its
    /// connection is closed [default: 30]
    #[arg(
        long,
        env = "HEARTH_WRITE_TIMEOUT",
        global = true,
        value_name = "SECONDS"
    )]
    pub write_timeout: Option<u64>,
    /// Connections served at once; more wait until one closes [default: half the open-file
    /// limit, at most 4096]
    #[arg(long, env = "HEARTH_MAX_CONNECTIONS", global = true, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Seconds requests in flight get to finish after SIGTERM or SIGINT; streams still running
    /// then end with an error event [default: 10]
    #[arg(
        long,
        env = "HEARTH_SHUTDOWN_GRACE",
        global = true,
        value_name = "SECONDS"
    )]
    pub shutdown_grace: Option<u64>,
    /// Threads serving requests [default: one per CPU]. On a small machine shared with other
    /// busy processes, fewer threads can mean lower latency (see `make bench`)
    #[arg(long, env = "HEARTH_WORKERS", global = true, value_name = "N")]
    pub workers: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server (the default when no subcommand is given)
    Serve,
    /// Manage users
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage LLMs (with the same checks as the API)
    #[command(subcommand)]
    Llm(LlmCommand),
    /// Manage shared MCP servers (with the same checks as the API)
    #[command(subcommand)]
    Mcp(McpCommand),
    /// Move the database
    #[command(subcommand)]
    Db(DbCommand),
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy every table of the current database into an empty PostgreSQL database, in one
    /// transaction (sessions are not copied). Instances on the copy need the same secret key
    Copy {
        /// The target: postgres://USER@HOST:PORT/DATABASE (a password is better kept in
        /// PGPASSWORD or ~/.pgpass than in the URL)
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LlmCommand {
    /// Register an LLM. A key is checked with the provider first: a refused key saves nothing
    Add {
        /// The name clients send as `model`: letters, digits, `.`, `_`, `-`, `:`
        name: String,
        /// openai, anthropic, vllm, deepseek, ollama, llamacpp or openai-compatible
        #[arg(long, value_parser = parse_provider)]
        provider: Provider,
        /// The provider's model
        #[arg(long)]
        model: String,
        /// The provider's base URL [default: the provider's usual one]
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Read the provider key from the first line of stdin
        #[arg(long)]
        api_key_stdin: bool,
        /// Where the key is read at each call instead: `env:HEARTH_KEY_<NAME>`, or `file:/path` inside
        /// a --key-ref-dir
        #[arg(long, value_name = "REF", conflicts_with = "api_key_stdin")]
        api_key_ref: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        tier: Option<String>,
        /// Let every member run it
        #[arg(long)]
        all_members: bool,
        /// Let this user run it; repeat for several
        #[arg(long = "grant", value_name = "USER")]
        users: Vec<String>,
        /// Let the members of this team run it; repeat for several
        #[arg(long = "grant-team", value_name = "TEAM")]
        teams: Vec<String>,
        /// Save without asking the provider (offline registration); not stored
        #[arg(long)]
        skip_auth_check: bool,
    },
    /// List the LLMs
    List,
    /// Delete an LLM
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Register a shared MCP server: --url for streamable HTTP (or --transport sse), or
    /// --command for a program Hearth starts and speaks to over stdio
    Add {
        /// Lower-case letters, digits and `-`: used in tool names and addresses
        name: String,
        #[arg(long, value_name = "URL", conflicts_with = "command")]
        url: Option<String>,
        /// http or sse, for --url [default: http]
        #[arg(long, value_parser = parse_transport)]
        transport: Option<SharedTransport>,
        /// The program to start (stdio)
        #[arg(long, value_name = "PROGRAM")]
        command: Option<String>,
        /// An argument of the program; repeat for several
        #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
        args: Vec<String>,
        /// A variable for the program, and for `${NAME}` in header values; repeat for several
        #[arg(long = "env", value_name = "NAME=VALUE")]
        env: Vec<String>,
        /// A header sent with every request; repeat for several
        #[arg(long = "header", value_name = "NAME=VALUE")]
        headers: Vec<String>,
        /// none, bearer, api_key, basic, headers or forward [default: none]
        #[arg(long, value_parser = parse_auth)]
        auth: Option<AuthKind>,
        /// Read the credential `auth` needs from the first line of stdin
        #[arg(long)]
        credential_stdin: bool,
        /// The header an api_key credential goes in [default: X-API-Key]
        #[arg(long, value_name = "HEADER")]
        api_key_header: Option<String>,
        /// auto, legacy or modern [default: auto]
        #[arg(long, value_parser = parse_lifecycle)]
        lifecycle: Option<Lifecycle>,
        #[arg(long)]
        alias: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Seconds an upstream call may take [default: 30]
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<u64>,
        /// Let every member use it
        #[arg(long)]
        all_members: bool,
        /// Let this user use it; repeat for several
        #[arg(long = "grant", value_name = "USER")]
        users: Vec<String>,
        /// Let the members of this team use it; repeat for several
        #[arg(long = "grant-team", value_name = "TEAM")]
        teams: Vec<String>,
    },
    /// List the shared MCP servers
    List,
    /// Delete a shared MCP server (its child process, if any, is stopped by the server)
    Remove { name: String },
    /// Connect to a registered server, list its tools, and store nothing
    Test { name: String },
}

fn parse_wire<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("{s:?} is not a {what}"))
}

fn parse_transport(s: &str) -> Result<SharedTransport, String> {
    parse_wire(s, "transport: http, sse or stdio")
}

fn parse_auth(s: &str) -> Result<AuthKind, String> {
    parse_wire(
        s,
        "kind of auth: none, bearer, api_key, basic, headers or forward",
    )
}

fn parse_lifecycle(s: &str) -> Result<Lifecycle, String> {
    parse_wire(s, "lifecycle: auto, legacy or modern")
}

fn parse_provider(s: &str) -> Result<Provider, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is asked for on a terminal, or read from the first line of stdin
    Add {
        /// User name: letters, digits, `.`, `_` and `-`
        name: String,
        /// The user's role
        #[arg(long, default_value = "member", value_parser = parse_role)]
        role: Role,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key for a user and print it (it is shown only this once)
    Create {
        /// The user who owns the key
        #[arg(long)]
        user: String,
        /// A label to recognise the key by
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until the key expires [default: never]
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Narrow the key to this LLM; repeat for several [default: every LLM its user may run]
        #[arg(long = "llm", value_name = "NAME")]
        llms: Vec<String>,
        /// Narrow the key to this shared MCP server; repeat for several. A key narrowed to
        /// servers only (no --llm) runs no LLM, and one narrowed to LLMs only uses no server
        #[arg(long = "mcp", value_name = "NAME")]
        mcp_servers: Vec<String>,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// What `hearth.toml` may hold: the same settings as the flags, by the same names with `_`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    host: Option<IpAddr>,
    port: Option<u16>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    #[serde(default)]
    api_keys: Vec<String>,
    api_key_file: Option<PathBuf>,
    secret_key_file: Option<PathBuf>,
    #[serde(default)]
    cors_proxy_allow: Vec<String>,
    llm_timeout: Option<u64>,
    llm_max_answer_mib: Option<u64>,
    header_timeout: Option<u64>,
    write_timeout: Option<u64>,
    max_connections: Option<usize>,
    shutdown_grace: Option<u64>,
    #[serde(default)]
    key_ref_dirs: Vec<PathBuf>,
    log: Option<String>,
    workers: Option<usize>,
}

/// The settings every part of Hearth reads, after layering.
#[derive(Debug)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub master_keys: Vec<SecretString>,
    pub secret_key_file: PathBuf,
    /// The secret key itself (`HEARTH_SECRET_KEY`), which replaces the file when set.
    pub secret_key: Option<SecretString>,
    pub cors_proxy_allow: Vec<String>,
    pub llm_timeout: std::time::Duration,
    /// The largest whole answer read from a provider, in bytes.
    pub llm_max_answer: usize,
    pub connections: Connections,
    /// Directories LLM key references may read files in (absolute).
    pub key_ref_dirs: Vec<PathBuf>,
    pub log: String,
    /// Worker threads of the runtime; `None` for one per CPU.
    pub workers: Option<usize>,
}

/// How connections are held and let go (see `serve`).
#[derive(Clone, Debug)]
pub struct Connections {
    pub header_timeout: std::time::Duration,
    pub write_timeout: std::time::Duration,
    /// `None`: derived from the open-file limit once it is raised.
    pub max_connections: Option<usize>,
    pub shutdown_grace: std::time::Duration,
}

/// The shortest master key Hearth accepts.
pub const MIN_MASTER_KEY: usize = 16;

/// Environment variables Hearth reads; any other `HEARTH_*` variable is probably a typo.
const KNOWN_ENV: &[&str] = &[
    "HEARTH_CONFIG",
    "HEARTH_HOST",
    "HEARTH_PORT",
    "HEARTH_DATA_DIR",
    "HEARTH_DATABASE_URL",
    "HEARTH_API_KEY",
    "HEARTH_API_KEY_FILE",
    "HEARTH_SECRET_KEY_FILE",
    "HEARTH_SECRET_KEY",
    "HEARTH_CORS_PROXY_ALLOW",
    "HEARTH_LLM_TIMEOUT",
    "HEARTH_LLM_MAX_ANSWER_MIB",
    "HEARTH_HEADER_TIMEOUT",
    "HEARTH_WRITE_TIMEOUT",
    "HEARTH_MAX_CONNECTIONS",
    "HEARTH_SHUTDOWN_GRACE",
    "HEARTH_KEY_REF_DIR",
    "HEARTH_LOG",
    "HEARTH_WORKERS",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Layers the file (if any) under the flags and environment that clap already merged.
    pub fn load(options: &Options) -> Result<Config, ConfigError> {
        let file = match &options.config {
            Some(path) => read_file_config(path)?,
            None if Path::new("hearth.toml").is_file() => {
                read_file_config(Path::new("hearth.toml"))?
            }
            None => FileConfig::default(),
        };

        let host = options
            .host
            .or(file.host)
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let port = options.port.or(file.port).unwrap_or(8484);
        let data_dir = options
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(default_data_dir);
        let database_url = options
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("hearth.db").display()));
        let secret_key_file = options
            .secret_key_file
            .clone()
            .or(file.secret_key_file)
            .unwrap_or_else(|| data_dir.join("secret.key"));
        let log = options
            .log
            .clone()
            .or(file.log)
            .unwrap_or_else(|| "info".into());

        // Master keys: flags/env replace the file's list; a key file adds to either.
        let mut keys: Vec<String> = if options.api_keys.is_empty() {
            file.api_keys
        } else {
            options.api_keys.clone()
        };
        if let Some(path) = options.api_key_file.as_ref().or(file.api_key_file.as_ref()) {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            keys.extend(parse_key_file(&text));
        }
        let mut master_keys = Vec::with_capacity(keys.len());
        for key in keys {
            let key = key.trim().to_owned();
            if key.is_empty() {
                return Err(ConfigError::Invalid(
                    "an API key given with --api-key is empty".into(),
                ));
            }
            if key.starts_with(crate::keys::PREFIX) {
                // Guesses at generated keys are not throttled; a master key must not look like one.
                return Err(ConfigError::Invalid(format!(
                    "a master key may not start with `{}`, the prefix of the keys Hearth generates",
                    crate::keys::PREFIX
                )));
            }
            if key.chars().count() < MIN_MASTER_KEY {
                // Said without the key, which may be most of a real one.
                return Err(ConfigError::Invalid(format!(
                    "a master key given with --api-key or --api-key-file is shorter than {MIN_MASTER_KEY} characters: \
                     short keys can be guessed; use a long random one (e.g. `openssl rand -hex 32`)"
                )));
            }
            master_keys.push(SecretString::from(key));
        }

        let cors_proxy_allow = if options.cors_proxy_allow.is_empty() {
            file.cors_proxy_allow
        } else {
            options.cors_proxy_allow.clone()
        };
        // Refuse a bad entry at start-up rather than at the first proxied request.
        crate::cors_proxy::policy::Policy::new(true, &cors_proxy_allow)
            .map_err(ConfigError::Invalid)?;

        let workers = match options.workers.or(file.workers) {
            Some(0) => return Err(ConfigError::Invalid("workers must be at least 1".into())),
            other => other,
        };
        let llm_timeout = match options.llm_timeout.or(file.llm_timeout).unwrap_or(300) {
            0 => {
                return Err(ConfigError::Invalid(
                    "llm_timeout must be at least 1 second".into(),
                ))
            }
            secs => std::time::Duration::from_secs(secs),
        };

        let llm_max_answer = match options
            .llm_max_answer_mib
            .or(file.llm_max_answer_mib)
            .unwrap_or(32)
        {
            0 => {
                return Err(ConfigError::Invalid(
                    "llm_max_answer_mib must be at least 1".into(),
                ))
            }
            mib => usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
        };
        let seconds = |value: Option<u64>, default: u64, name: &str| match value.unwrap_or(default)
        {
            0 => Err(ConfigError::Invalid(format!(
                "{name} must be at least 1 second"
            ))),
            secs => Ok(std::time::Duration::from_secs(secs)),
        };
        let connections = Connections {
            header_timeout: seconds(
                options.header_timeout.or(file.header_timeout),
                10,
                "header_timeout",
            )?,
            write_timeout: seconds(
                options.write_timeout.or(file.write_timeout),
                30,
                "write_timeout",
            )?,
            max_connections: match options.max_connections.or(file.max_connections) {
                Some(0) => {
                    return Err(ConfigError::Invalid(
                        "max_connections must be at least 1".into(),
                    ))
                }
                other => other,
            },
            shutdown_grace: std::time::Duration::from_secs(
                options.shutdown_grace.or(file.shutdown_grace).unwrap_or(10),
            ),
        };

        let key_ref_dirs = if options.key_ref_dirs.is_empty() {
            file.key_ref_dirs
        } else {
            options.key_ref_dirs.clone()
        };
        if let Some(relative) = key_ref_dirs.iter().find(|d| !d.is_absolute()) {
            return Err(ConfigError::Invalid(format!(
                "--key-ref-dir must be an absolute path, not {}",
                relative.display()
            )));
        }

        Ok(Config {
            key_ref_dirs,
            addr: SocketAddr::new(host, port),
            data_dir,
            database_url,
            master_keys,
            secret_key_file,
            // Only from the environment: a flag's value would show in the process list.
            secret_key: std::env::var("HEARTH_SECRET_KEY")
                .ok()
                .filter(|k| !k.trim().is_empty())
                .map(SecretString::from),
            cors_proxy_allow,
            llm_timeout,
            llm_max_answer,
            connections,
            log,
            workers,
        })
    }

    pub fn has_master_keys(&self) -> bool {
        !self.master_keys.is_empty()
    }

    pub fn master_key_strs(&self) -> impl Iterator<Item = &str> {
        self.master_keys.iter().map(|k| k.expose_secret())
    }
}

/// Names of `HEARTH_*` variables in `vars` that Hearth does not know. `HEARTH_KEY_*` ones
/// are provider keys for LLM key references.
pub fn unknown_env_vars(vars: impl Iterator<Item = String>) -> Vec<String> {
    vars.filter(|k| {
        k.starts_with("HEARTH_")
            && !KNOWN_ENV.contains(&k.as_str())
            && !k.starts_with(crate::llm::key_ref::ENV_PREFIX)
    })
    .collect()
}

fn read_file_config(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.message().to_owned(),
    })
}

fn parse_key_file(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
}

fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("hearth");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/hearth"),
        None => PathBuf::from("hearth-data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Options {
        let mut argv = vec!["hearth"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("arguments parse").options
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hearth.toml");
        std::fs::write(
            &file,
            "port = 9000\nhost = \"127.0.0.2\"\napi_keys = [\"from-file-0123456789\"]\n",
        )
        .unwrap();
        let config_arg = file.to_str().unwrap();

        let from_file = Config::load(&options(&["--config", config_arg])).unwrap();
        assert_eq!(from_file.addr.port(), 9000);
        assert_eq!(from_file.addr.ip().to_string(), "127.0.0.2");
        assert_eq!(
            from_file.master_key_strs().collect::<Vec<_>>(),
            ["from-file-0123456789"]
        );

        let flags = Config::load(&options(&[
            "--config",
            config_arg,
            "--port",
            "9001",
            "--api-key",
            "a-0123456789abcdef",
            "--api-key",
            "b-0123456789abcdef",
        ]))
        .unwrap();
        assert_eq!(flags.addr.port(), 9001);
        assert_eq!(
            flags.master_key_strs().collect::<Vec<_>>(),
            ["a-0123456789abcdef", "b-0123456789abcdef"]
        );
    }

    #[test]
    fn a_key_file_holds_one_key_per_line_and_ignores_comments() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::write(
            &keys,
            "# admins\nfirst-key-0123456789\n\n  second-key-0123456789  \n",
        )
        .unwrap();
        let config = Config::load(&options(&["--api-key-file", keys.to_str().unwrap()])).unwrap();
        assert_eq!(
            config.master_key_strs().collect::<Vec<_>>(),
            ["first-key-0123456789", "second-key-0123456789"]
        );
    }

    #[test]
    fn an_unknown_setting_in_the_file_is_an_error_that_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hearth.toml");
        std::fs::write(&file, "prot = 1\n").unwrap();
        let err = Config::load(&options(&["--config", file.to_str().unwrap()])).unwrap_err();
        assert!(err.to_string().contains("hearth.toml"), "{err}");
    }

    #[test]
    fn defaults_are_loopback_8484_and_files_in_the_data_dir() {
        let config = Config::load(&options(&["--data-dir", "/tmp/h"])).unwrap();
        assert_eq!(config.addr.to_string(), "127.0.0.1:8484");
        assert_eq!(config.database_url, "sqlite:///tmp/h/hearth.db");
        assert_eq!(config.secret_key_file, PathBuf::from("/tmp/h/secret.key"));
        assert!(!config.has_master_keys());
    }

    #[test]
    fn a_short_master_key_is_refused_without_being_shown() {
        let err = Config::load(&options(&["--api-key", "hunter2-short"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("16 characters"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::write(&keys, "long-enough-key-0123\nshort\n").unwrap();
        assert!(
            Config::load(&options(&["--api-key-file", keys.to_str().unwrap()])).is_err(),
            "one short key in a file is enough"
        );
        assert!(Config::load(&options(&["--api-key", "hk-looks-like-a-generated-key"])).is_err());
    }

    #[test]
    fn unknown_hearth_variables_are_reported() {
        let vars = ["HEARTH_PORT", "HEARTH_PROT", "PATH", "HEARTH_KEY_OPENAI"]
            .map(String::from)
            .into_iter();
        assert_eq!(unknown_env_vars(vars), ["HEARTH_PROT"]);
    }
}
