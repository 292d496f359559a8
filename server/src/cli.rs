//! The `user` and `key` subcommands. They open the same database as the server (SQLite in
//! WAL mode lets them run while it serves) and print nothing secret but the one new key.

use std::io::{BufRead, IsTerminal};

use app::api::Role;

use crate::auth::password;
use crate::config::{Config, KeyCommand, UserCommand};
use crate::{keys, open, users};

pub type CliResult = Result<(), Box<dyn std::error::Error>>;

pub async fn user(config: &Config, command: UserCommand) -> CliResult {
    match command {
        UserCommand::Add { name, role } => add_user(config, &name, role).await,
    }
}

async fn add_user(config: &Config, name: &str, role: Role) -> CliResult {
    users::validate_name(name)?;
    let password = read_password()?;
    if password.chars().count() < password::MIN_LENGTH {
        return Err(format!("the password must be at least {} characters", password::MIN_LENGTH).into());
    }
    let (db, _) = open(config).await?;
    let hash = tokio::task::spawn_blocking(move || password::hash(&password)).await?.map_err(|e| e.to_string())?;
    let user = users::create(&db, name, Some(&hash), role).await?;
    db.close().await;
    eprintln!("added user {:?} with role {}", user.name, user.role);
    Ok(())
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
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

pub async fn key(config: &Config, command: KeyCommand) -> CliResult {
    match command {
        KeyCommand::Create { user, name, expires_in_days, llms } => {
            let (db, _) = open(config).await?;
            let owner = users::by_name(&db, &user).await?.ok_or_else(|| format!("there is no user named {user:?}"))?;
            let created = keys::create_for(&db, &owner, &name, expires_in_days, (!llms.is_empty()).then_some(llms)).await?;
            db.close().await;
            eprintln!("created API key {:?} for {:?}; it is shown only this once:", created.info.name, owner.name);
            println!("{}", created.key);
            Ok(())
        }
    }
}
