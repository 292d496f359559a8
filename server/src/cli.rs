//! The `user` and `key` subcommands. They open the same database as the server (SQLite in
//! WAL mode lets them run while it serves) and print nothing secret but the one new key.

use std::io::{BufRead, IsTerminal};

use app::api::{
    EnvEntry, Grants, HeaderEntry, LlmInput, Role, SharedMcpServerInput, SharedTransport,
};

use crate::auth::password;
use crate::config::{Config, DbCommand, KeyCommand, LlmCommand, McpCommand, UserCommand};
use crate::llm::SaveOptions;
use crate::{keys, llm, open, users, AppState};

pub type CliResult = Result<(), Box<dyn std::error::Error>>;

pub async fn db(config: &Config, command: DbCommand) -> CliResult {
    match command {
        DbCommand::Copy { to } => {
            let (db, _) = open(config).await?;
            eprintln!("copying into {} …", crate::db::redact_url(&to));
            let report = crate::db::copy::copy(&db, &config.database_url, &to, |table, rows| {
                eprintln!("  {table}: {rows} rows");
            })
            .await;
            db.close().await;
            let report = report?;
            let total: i64 = report.iter().map(|(_, n)| n).sum();
            eprintln!(
                "copied {total} rows in {} tables, counts checked. Start Hearth with \
                 --database-url pointing there and the same secret key.",
                report.len()
            );
            Ok(())
        }
    }
}

pub async fn user(config: &Config, command: UserCommand) -> CliResult {
    match command {
        UserCommand::Add { name, role } => add_user(config, &name, role).await,
    }
}

async fn add_user(config: &Config, name: &str, role: Role) -> CliResult {
    users::validate_name(name)?;
    let password = read_password()?;
    if password.chars().count() < password::MIN_LENGTH {
        return Err(format!(
            "the password must be at least {} characters",
            password::MIN_LENGTH
        )
        .into());
    }
    let (db, _) = open(config).await?;
    let hash = tokio::task::spawn_blocking(move || password::hash(&password))
        .await?
        .map_err(|e| e.to_string())?;
    let user = users::create(&db, name, Some(&hash), role).await?;
    db.close().await;
    eprintln!("added user {:?} with role {}", user.name, user.role);
    Ok(())
}

/// One line from stdin, without its line ending.
fn read_line() -> Result<String, Box<dyn std::error::Error>> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// From a prompt (twice) on a terminal, else the first line of stdin.
fn read_password() -> Result<String, Box<dyn std::error::Error>> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat password: ")?;
        if first != second {
            return Err("the passwords do not match".into());
        }
        Ok(first)
    } else {
        read_line()
    }
}

pub async fn key(config: &Config, command: KeyCommand) -> CliResult {
    match command {
        KeyCommand::Create {
            user,
            name,
            expires_in_days,
            llms,
            mcp_servers,
        } => {
            let (db, _) = open(config).await?;
            let owner = users::by_name(&db, &user)
                .await?
                .ok_or_else(|| format!("there is no user named {user:?}"))?;
            let created = keys::create_for(
                &db,
                &owner,
                &name,
                keys::expiry(expires_in_days)?,
                keys::Narrowing {
                    llms: (!llms.is_empty()).then_some(llms),
                    mcp_servers: (!mcp_servers.is_empty()).then_some(mcp_servers),
                },
            )
            .await?;
            db.close().await;
            eprintln!(
                "created API key {:?} for {:?}; it is shown only this once:",
                created.info.name, owner.name
            );
            println!("{}", created.key);
            Ok(())
        }
    }
}

pub async fn llm(config: &Config, command: LlmCommand) -> CliResult {
    let (db, secrets) = open(config).await?;
    let state = AppState::new(config, db, secrets);
    let result = run_llm(&state, command).await;
    state.db.close().await;
    result
}

async fn run_llm(state: &AppState, command: LlmCommand) -> CliResult {
    match command {
        LlmCommand::Add {
            name,
            provider,
            model,
            base_url,
            api_key_stdin,
            api_key_ref,
            description,
            tier,
            all_members,
            users,
            teams,
            skip_auth_check,
        } => {
            let api_key = if api_key_stdin {
                if std::io::stdin().is_terminal() {
                    Some(rpassword::prompt_password("Provider API key: ")?)
                } else {
                    Some(read_line()?)
                }
            } else {
                None
            };
            let input = LlmInput {
                name,
                provider,
                base_url,
                model,
                api_key,
                api_key_ref,
                description,
                tier,
                grants: Grants {
                    all_members,
                    users,
                    teams,
                },
            };
            let (row, warning) =
                llm::register(state, &input, &SaveOptions { skip_auth_check }).await?;
            eprintln!(
                "registered the LLM {:?} ({} {})",
                row.name,
                row.provider.as_str(),
                row.model
            );
            if let Some(warning) = warning {
                eprintln!("warning: {}", warning.message);
            }
            if !all_members && input.grants.users.is_empty() && input.grants.teams.is_empty() {
                eprintln!("note: nobody may run it yet; grant it with --all-members, --grant USER or --grant-team TEAM (from the API or the LLMs page)");
            }
            Ok(())
        }
        LlmCommand::List => {
            for row in llm::fetch_all(state).await? {
                let grants = row.grants();
                let who = if grants.all_members {
                    "all members".to_owned()
                } else {
                    grants.users.join(",")
                };
                let key = if row.api_key_sealed.is_some() || row.api_key_ref.is_some() {
                    "key"
                } else {
                    "no key"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{key}\t{who}",
                    row.name,
                    row.provider.as_str(),
                    row.model,
                    row.base_url
                );
            }
            Ok(())
        }
        LlmCommand::Remove { name } => {
            llm::unregister(state, &name).await?;
            eprintln!("deleted the LLM {name:?}");
            Ok(())
        }
    }
}

pub async fn mcp(config: &Config, command: McpCommand) -> CliResult {
    let (db, secrets) = open(config).await?;
    let state = AppState::new(config, db, secrets);
    let result = run_mcp(&state, command).await;
    state.mcp_pool.shutdown().await;
    state.db.close().await;
    result
}

/// `NAME=VALUE`, split.
fn pair(given: &str, flag: &str) -> Result<(String, String), String> {
    given
        .split_once('=')
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{flag} takes NAME=VALUE"))
}

async fn run_mcp(state: &AppState, command: McpCommand) -> CliResult {
    use crate::mcp::{registry, shared};
    match command {
        McpCommand::Add {
            name,
            url,
            transport,
            command,
            args,
            env,
            headers,
            auth,
            credential_stdin,
            api_key_header,
            lifecycle,
            alias,
            description,
            timeout,
            all_members,
            users,
            teams,
        } => {
            let credential = if credential_stdin {
                if std::io::stdin().is_terminal() {
                    Some(rpassword::prompt_password("Credential: ")?)
                } else {
                    Some(read_line()?)
                }
            } else {
                None
            };
            let transport = match (transport, &command) {
                (Some(t), _) => t,
                (None, Some(_)) => SharedTransport::Stdio,
                (None, None) => SharedTransport::Http,
            };
            let input = SharedMcpServerInput {
                name,
                alias,
                description,
                transport,
                url,
                lifecycle: lifecycle.unwrap_or_default(),
                command,
                args,
                env: env
                    .iter()
                    .map(|e| pair(e, "--env").map(|(name, value)| EnvEntry { name, value }))
                    .collect::<Result<_, _>>()?,
                auth: auth.unwrap_or_default(),
                credential,
                api_key_header,
                headers: headers
                    .iter()
                    .map(|h| pair(h, "--header").map(|(name, value)| HeaderEntry { name, value }))
                    .collect::<Result<_, _>>()?,
                timeout_secs: timeout,
                grants: Grants {
                    all_members,
                    users,
                    teams,
                },
                ..SharedMcpServerInput::default()
            };
            let row = registry::register(state, &input).await?;
            eprintln!("registered the shared MCP server {:?}", row.name);
            if !all_members && input.grants.users.is_empty() && input.grants.teams.is_empty() {
                eprintln!("note: nobody may use it yet; grant it with --all-members, --grant USER or --grant-team TEAM (from the API or the MCP servers page)");
            }
            Ok(())
        }
        McpCommand::List => {
            for row in registry::fetch_all(state).await? {
                let config = row.open(state)?;
                let place = match config.transport {
                    SharedTransport::Stdio => std::iter::once(config.command.unwrap_or_default())
                        .chain(config.args)
                        .collect::<Vec<_>>()
                        .join(" "),
                    _ => config.url.unwrap_or_default(),
                };
                let grants = &config.grants;
                let who = match (
                    grants.all_members,
                    grants.users.is_empty() && grants.teams.is_empty(),
                ) {
                    (true, _) => "all members".to_owned(),
                    (false, true) => "nobody".to_owned(),
                    (false, false) => grants
                        .users
                        .iter()
                        .cloned()
                        .chain(grants.teams.iter().map(|t| format!("team:{t}")))
                        .collect::<Vec<_>>()
                        .join(","),
                };
                let transport = match config.transport {
                    SharedTransport::Http => "http",
                    SharedTransport::Sse => "sse",
                    SharedTransport::Stdio => "stdio",
                };
                println!("{}\t{transport}\t{place}\t{who}", row.name);
            }
            Ok(())
        }
        McpCommand::Remove { name } => {
            registry::unregister(state, &name).await?;
            eprintln!("deleted the shared MCP server {name:?}");
            Ok(())
        }
        McpCommand::Test { name } => {
            let row = registry::fetch(state, &name)
                .await?
                .ok_or_else(|| registry::not_found(&name))?;
            let spec = row.spec(state)?;
            let result = shared::try_server(state, &spec).await;
            for line in &result.stderr {
                eprintln!("stderr: {line}");
            }
            match result.error {
                None => {
                    eprintln!(
                        "{name}: ok in {} ms, {} tools{}",
                        result.latency_ms,
                        result.tools.len(),
                        result
                            .server_info
                            .map(|s| format!(" ({s})"))
                            .unwrap_or_default()
                    );
                    for tool in result.tools {
                        println!("{}", tool.name);
                    }
                    Ok(())
                }
                Some(error) => Err(format!("{name}: {}: {error}", result.state.as_str()).into()),
            }
        }
    }
}
