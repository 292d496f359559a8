//! Teams: `GET/POST /v1/teams`, `GET/PUT/DELETE /v1/teams/{name}`. A team is a name and a
//! set of users; grants (who may run an LLM) can name teams. Admins manage them; viewers read
//! them all; members see the teams they belong to.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use app::api::{Team, TeamInput, TeamList, CONFIG_CREATED, CONFIG_DELETED, CONFIG_UPDATED};

use crate::audit::Record;
use crate::auth::{allowed, authorize, Action, Principal, Resource};
use crate::db::{self, Db};
use crate::error::{AppError, Echo, Result};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::{users, with_pool};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/teams", get(list).post(create))
        .route("/v1/teams/{name}", get(show).put(replace).delete(remove))
}

/// The names of the teams `user_id` belongs to.
pub async fn of_user(db: &Db, user_id: i64) -> sqlx::Result<Vec<String>> {
    let sql = "SELECT t.name FROM teams t JOIN team_members m ON m.team_id = t.id WHERE m.user_id = $1 ORDER BY t.name";
    with_pool!(db, pool => sqlx::query_scalar(sql).bind(user_id).fetch_all(pool).await)
}

/// The teams of whoever `principal` is (none without a user), kept from a recent request or
/// read.
pub async fn of(state: &AppState, principal: &Principal) -> Result<Vec<String>> {
    let Some(id) = principal.user_id else {
        return Ok(Vec::new());
    };
    if let Some(teams) = state.known.teams(id) {
        return Ok(teams);
    }
    let era = state.known.era();
    let teams = of_user(&state.db, id).await?;
    state.known.keep_teams(era, id, &teams);
    Ok(teams)
}

/// The teams with their members, by name: every team, or the one named `only`.
async fn load(db: &Db, only: Option<&str>) -> sqlx::Result<Vec<Team>> {
    let sql = "SELECT id, name, created_at FROM teams WHERE $1 IS NULL OR name = $1 ORDER BY name";
    let teams: Vec<(i64, String, i64)> =
        with_pool!(db, pool => sqlx::query_as(sql).bind(only).fetch_all(pool).await)?;
    let sql = "SELECT m.team_id, u.name FROM team_members m JOIN users u ON u.id = m.user_id JOIN teams t ON t.id = m.team_id \
               WHERE $1 IS NULL OR t.name = $1 ORDER BY u.name";
    let members: Vec<(i64, String)> =
        with_pool!(db, pool => sqlx::query_as(sql).bind(only).fetch_all(pool).await)?;
    let mut by_team: HashMap<i64, Vec<String>> = HashMap::new();
    for (team, user) in members {
        by_team.entry(team).or_default().push(user);
    }
    Ok(teams
        .into_iter()
        .map(|(id, name, created_at)| Team {
            name,
            members: by_team.remove(&id).unwrap_or_default(),
            created_at,
        })
        .collect())
}

/// Names that do not exist among the registered teams, for grants to refuse.
pub async fn unknown(db: &Db, names: &[String]) -> sqlx::Result<Option<String>> {
    let known: Vec<String> =
        with_pool!(db, pool => sqlx::query_scalar("SELECT name FROM teams").fetch_all(pool).await)?;
    Ok(names.iter().find(|n| !known.contains(n)).cloned())
}

fn not_found(name: &str) -> AppError {
    AppError::NotFound(format!("no team named {}", Echo(name)))
}

async fn one(db: &Db, name: &str) -> Result<Team> {
    load(db, Some(name))
        .await?
        .pop()
        .ok_or_else(|| not_found(name))
}

async fn list(State(state): State<AppState>, principal: Principal) -> Result<Json<TeamList>> {
    let mut data = load(&state.db, None).await?;
    data.retain(|t| {
        allowed(
            &principal,
            Action::Read,
            Resource::Team {
                members: &t.members,
            },
        )
    });
    Ok(Json(TeamList { data }))
}

async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<Json<Team>> {
    let team = one(&state.db, &name).await?;
    // A team the caller may not see is answered as absent.
    if !allowed(
        &principal,
        Action::Read,
        Resource::Team {
            members: &team.members,
        },
    ) {
        return Err(not_found(&name));
    }
    Ok(Json(team))
}

/// The members' user ids, sorted and without repeats; an unknown name is a 400.
async fn member_ids(db: &Db, names: &[String]) -> Result<Vec<i64>> {
    if names.len() > 10_000 {
        return Err(AppError::invalid(
            "members",
            "a team has at most 10,000 members",
        ));
    }
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let user = users::by_name(db, name.trim()).await?.ok_or_else(|| {
            AppError::invalid("members", format!("there is no user named {}", Echo(name)))
        })?;
        ids.push(user.id);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Replaces the members of team `team_id`, in the caller's transaction (on either backend).
async fn set_members<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    team_id: i64,
    ids: &[i64],
) -> sqlx::Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    sqlx::query("DELETE FROM team_members WHERE team_id = $1")
        .bind(team_id)
        .execute(&mut **tx)
        .await?;
    for id in ids {
        sqlx::query("INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)")
            .bind(team_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<TeamInput>,
) -> Result<(StatusCode, Json<Team>)> {
    authorize(&principal, Action::Write, Resource::Teams)?;
    users::validate_plain(&input.name)
        .map_err(|e| AppError::invalid("name", e.replace("user name", "team name")))?;
    let ids = member_ids(&state.db, &input.members).await?;
    let created: std::result::Result<(), sqlx::Error> = with_pool!(&state.db, pool => async {
        let mut tx = pool.begin().await?;
        let (id,): (i64,) = sqlx::query_as("INSERT INTO teams (name, created_at) VALUES ($1, $2) RETURNING id")
            .bind(&input.name)
            .bind(db::now())
            .fetch_one(&mut *tx)
            .await?;
        set_members(&mut tx, id, &ids).await?;
        tx.commit().await
    }.await);
    match created {
        Ok(()) => {}
        Err(e) if db::is_unique_violation(&e) => {
            return Err(AppError::Conflict(format!(
                "a team named {:?} already exists",
                input.name
            )))
        }
        Err(e) => return Err(e.into()),
    }
    crate::auth::known::forget_everywhere(&state.known, &state.db).await;
    tracing::info!(team = %input.name, members = ids.len(), "team created");
    state.audit.record(Record::action(
        CONFIG_CREATED,
        &principal,
        format!("team:{}", input.name),
        201,
    ));
    Ok((
        StatusCode::CREATED,
        Json(one(&state.db, &input.name).await?),
    ))
}

#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn replace(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    ApiJson(input): ApiJson<TeamInput>,
) -> Result<Json<Team>> {
    authorize(&principal, Action::Write, Resource::Teams)?;
    if input.name != name {
        return Err(AppError::BadRequest(
            "a team's name cannot be changed; delete it and add it again".into(),
        ));
    }
    let id: i64 = with_pool!(&state.db, pool => sqlx::query_scalar("SELECT id FROM teams WHERE name = $1").bind(&name).fetch_optional(pool).await)?
        .ok_or_else(|| not_found(&name))?;
    let ids = member_ids(&state.db, &input.members).await?;
    with_pool!(&state.db, pool => async {
        let mut tx = pool.begin().await?;
        set_members(&mut tx, id, &ids).await?;
        tx.commit().await
    }.await)?;
    crate::auth::known::forget_everywhere(&state.known, &state.db).await;
    tracing::info!(team = %name, members = ids.len(), "team members replaced");
    state.audit.record(Record::action(
        CONFIG_UPDATED,
        &principal,
        format!("team:{name}"),
        200,
    ));
    Ok(Json(one(&state.db, &name).await?))
}

#[tracing::instrument(skip_all, fields(by = %principal.name))]
async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    authorize(&principal, Action::Write, Resource::Teams)?;
    let deleted = with_pool!(&state.db, pool => sqlx::query("DELETE FROM teams WHERE name = $1").bind(&name).execute(pool).await.map(|r| r.rows_affected()))?;
    if deleted == 0 {
        return Err(not_found(&name));
    }
    crate::auth::known::forget_everywhere(&state.known, &state.db).await;
    tracing::info!(team = %name, "team deleted");
    state.audit.record(Record::action(
        CONFIG_DELETED,
        &principal,
        format!("team:{name}"),
        204,
    ));
    Ok(StatusCode::NO_CONTENT)
}

/// A grant naming a user or a team that does not exist would silently grant nothing.
pub async fn check_grantees(db: &Db, grants: &app::api::Grants) -> Result<()> {
    for user in &grants.users {
        if crate::users::by_name(db, user).await?.is_none() {
            return Err(AppError::invalid(
                "grants",
                format!("grants name the user {}, who does not exist", Echo(user)),
            ));
        }
    }
    if let Some(team) = unknown(db, &grants.teams).await? {
        return Err(AppError::invalid(
            "grants",
            format!("grants name the team {}, which does not exist", Echo(&team)),
        ));
    }
    Ok(())
}
