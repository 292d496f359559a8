//! Conversations: `GET/POST /v1/conversations`, `GET/PATCH/DELETE /v1/conversations/{id}`,
//! `GET /v1/conversations/{id}/export`, `POST /v1/conversations/{id}/messages`,
//! `PATCH /v1/conversations/{id}/messages/{message_id}` (an answer still arriving, replaced as
//! it grows) and `DELETE /v1/conversations/{id}/messages/{message_id}` (that message and every
//! later one, to regenerate or to edit and resend).
//!
//! Each conversation belongs to one owner (see `Principal::owner_key`); another owner's id is
//! a 404 on every route. The browser saves each message as soon as it is complete, and an
//! answer while it streams, so a closed tab loses at most its last second.

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use sqlx::FromRow;

use app::api::{
    ChatMessage, ChatRole, ChatToolCall, Conversation, ConversationInput, ConversationList,
    ConversationSummary, MessageInput, ToolRun,
};

use crate::auth::{authorize, Action, Principal, Resource};
use crate::db;
use crate::error::{AppError, Echo, Result};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::with_pool;

/// Tool results may carry images.
const MAX_BODY: usize = 16 << 20;
const MAX_TITLE: usize = 200;
/// A message's text, reasoning or error, in characters.
const MAX_TEXT: usize = 4 << 20;
const DEFAULT_TITLE: &str = "New conversation";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/conversations", get(list).post(create))
        .route(
            "/v1/conversations/{id}",
            get(show).patch(update).delete(remove),
        )
        .route("/v1/conversations/{id}/export", get(export))
        .route(
            "/v1/conversations/{id}/messages",
            post(append).layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        .route(
            "/v1/conversations/{id}/messages/{message_id}",
            patch(revise)
                .delete(truncate)
                .layer(DefaultBodyLimit::max(MAX_BODY)),
        )
}

#[derive(FromRow)]
struct ConversationRow {
    id: i64,
    title: String,
    model: Option<String>,
    created_at: i64,
    updated_at: i64,
}

#[derive(FromRow)]
struct MessageRow {
    id: i64,
    #[sqlx(try_from = "String")]
    role: ChatRole,
    content: String,
    reasoning: Option<String>,
    model: Option<String>,
    tool_calls: Option<String>,
    tool_call_id: Option<String>,
    tool_run: Option<String>,
    error: Option<String>,
    stopped: bool,
    partial: bool,
    duration_ms: Option<i64>,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    created_at: i64,
}

impl MessageRow {
    fn view(self) -> ChatMessage {
        ChatMessage {
            id: self.id,
            role: self.role,
            content: self.content,
            reasoning: self.reasoning,
            model: self.model,
            tool_calls: self
                .tool_calls
                .as_deref()
                .and_then(|j| serde_json::from_str::<Vec<ChatToolCall>>(j).ok())
                .unwrap_or_default(),
            tool_call_id: self.tool_call_id,
            tool_run: self
                .tool_run
                .as_deref()
                .and_then(|j| serde_json::from_str::<ToolRun>(j).ok()),
            error: self.error,
            stopped: self.stopped,
            partial: self.partial,
            duration_ms: self.duration_ms,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            created_at: self.created_at,
        }
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Search {
    /// Only conversations whose title contains this (case-insensitive).
    q: Option<String>,
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("no conversation with id {}", Echo(id)))
}

/// The caller's conversation `id`, or a 404 (also for another owner's).
async fn owned(state: &AppState, principal: &Principal, id: &str) -> Result<ConversationRow> {
    let number: i64 = id.parse().map_err(|_| not_found(id))?;
    let sql = "SELECT id, title, model, created_at, updated_at FROM conversations WHERE id = $1 AND owner = $2";
    with_pool!(&state.db, pool => sqlx::query_as(sql).bind(number).bind(principal.owner_key()).fetch_optional(pool).await)?
        .ok_or_else(|| not_found(id))
}

fn title(value: Option<&str>) -> Result<Option<String>> {
    match value.map(str::trim) {
        None => Ok(None),
        Some("") => Err(AppError::BadRequest("a title cannot be empty".into())),
        Some(t) if t.chars().count() > MAX_TITLE => Err(AppError::BadRequest(format!(
            "a title is at most {MAX_TITLE} characters"
        ))),
        Some(t) if t.chars().any(char::is_control) => Err(AppError::BadRequest(
            "a title cannot hold control characters".into(),
        )),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

fn model(value: Option<&str>) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(m) if m.len() <= 128 => Ok(Some(m.to_owned())),
        Some(_) => Err(AppError::BadRequest(
            "a model name is at most 128 characters".into(),
        )),
    }
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(search): ApiQuery<Search>,
) -> Result<Json<ConversationList>> {
    authorize(&principal, Action::Read, Resource::OwnConversations)?;
    // `q` is matched literally: LIKE's wildcards in it are escaped. Both sides are lowered:
    // SQLite's LIKE ignores case (ASCII), PostgreSQL's does not.
    let pattern = search
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| {
            let escaped = q
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
    let sql = "SELECT c.id, c.title, c.model, c.created_at, c.updated_at, \
               (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count \
               FROM conversations c WHERE c.owner = $1 AND ($2 IS NULL OR LOWER(c.title) LIKE LOWER($2) ESCAPE '\\') \
               ORDER BY c.updated_at DESC, c.id DESC";
    let rows: Vec<(i64, String, Option<String>, i64, i64, i64)> = with_pool!(&state.db, pool => sqlx::query_as(sql).bind(principal.owner_key()).bind(pattern).fetch_all(pool).await)?;
    let data = rows
        .into_iter()
        .map(
            |(id, title, model, created_at, updated_at, message_count)| ConversationSummary {
                id,
                title,
                model,
                message_count,
                created_at,
                updated_at,
            },
        )
        .collect();
    Ok(Json(ConversationList { data }))
}

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<ConversationInput>,
) -> Result<(StatusCode, Json<Conversation>)> {
    authorize(&principal, Action::Write, Resource::OwnConversations)?;
    let title = title(input.title.as_deref())?.unwrap_or_else(|| DEFAULT_TITLE.into());
    let model = model(input.model.as_deref())?;
    let now = db::now();
    let sql = "INSERT INTO conversations (owner, user_id, title, model, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id";
    let id: i64 = with_pool!(&state.db, pool => sqlx::query_scalar(sql)
        .bind(principal.owner_key())
        .bind(principal.user_id)
        .bind(&title)
        .bind(&model)
        .bind(now)
        .fetch_one(pool)
        .await)?;
    Ok((
        StatusCode::CREATED,
        Json(Conversation {
            id,
            title,
            model,
            created_at: now,
            updated_at: now,
            messages: Vec::new(),
        }),
    ))
}

async fn load(state: &AppState, row: ConversationRow) -> Result<Conversation> {
    let sql = "SELECT id, role, content, reasoning, model, tool_calls, tool_call_id, tool_run, error, stopped, partial, duration_ms, \
               prompt_tokens, completion_tokens, created_at FROM messages WHERE conversation_id = $1 ORDER BY id";
    let messages: Vec<MessageRow> =
        with_pool!(&state.db, pool => sqlx::query_as(sql).bind(row.id).fetch_all(pool).await)?;
    Ok(Conversation {
        id: row.id,
        title: row.title,
        model: row.model,
        created_at: row.created_at,
        updated_at: row.updated_at,
        messages: messages.into_iter().map(MessageRow::view).collect(),
    })
}

async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Conversation>> {
    authorize(&principal, Action::Read, Resource::OwnConversations)?;
    let row = owned(&state, &principal, &id).await?;
    Ok(Json(load(&state, row).await?))
}

/// The conversation as a JSON file to download.
async fn export(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response> {
    authorize(&principal, Action::Read, Resource::OwnConversations)?;
    let row = owned(&state, &principal, &id).await?;
    let conversation = load(&state, row).await?;
    let disposition = format!(
        "attachment; filename=\"conversation-{}.json\"",
        conversation.id
    );
    let mut response = Json(conversation).into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ConversationInput>,
) -> Result<Json<ConversationSummary>> {
    authorize(&principal, Action::Write, Resource::OwnConversations)?;
    let row = owned(&state, &principal, &id).await?;
    let new_title = title(input.title.as_deref())?.unwrap_or(row.title);
    let new_model = match input.model.as_deref() {
        Some(m) => model(Some(m))?,
        None => row.model,
    };
    // A rename is not activity: the conversation keeps its place in the list.
    let sql = "UPDATE conversations SET title = $1, model = $2 WHERE id = $3";
    with_pool!(&state.db, pool => sqlx::query(sql).bind(&new_title).bind(&new_model).bind(row.id).execute(pool).await.map(|r| r.rows_affected()))?;
    let count: i64 = with_pool!(&state.db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE conversation_id = $1")
        .bind(row.id)
        .fetch_one(pool)
        .await)?;
    Ok(Json(ConversationSummary {
        id: row.id,
        title: new_title,
        model: new_model,
        message_count: count,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }))
}

async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    authorize(&principal, Action::Write, Resource::OwnConversations)?;
    let row = owned(&state, &principal, &id).await?;
    with_pool!(&state.db, pool => sqlx::query("DELETE FROM conversations WHERE id = $1").bind(row.id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(StatusCode::NO_CONTENT)
}

fn checked_text(value: &str, field: &str) -> Result<()> {
    if value.chars().count() > MAX_TEXT {
        return Err(AppError::PayloadTooLarge(format!(
            "{field} is longer than {MAX_TEXT} characters"
        )));
    }
    Ok(())
}

/// Checks a message on its own and against its role.
fn validate(input: &MessageInput) -> Result<()> {
    checked_text(&input.content, "content")?;
    if let Some(r) = &input.reasoning {
        checked_text(r, "reasoning")?;
    }
    if let Some(e) = &input.error {
        checked_text(e, "error")?;
    }
    match input.role {
        ChatRole::Tool
            if input
                .tool_call_id
                .as_deref()
                .is_none_or(|id| id.trim().is_empty()) =>
        {
            Err(AppError::BadRequest(
                "a tool message needs the `tool_call_id` it answers".into(),
            ))
        }
        ChatRole::Assistant | ChatRole::Tool => Ok(()),
        _ if !input.tool_calls.is_empty() => Err(AppError::BadRequest(
            "only assistant messages carry `tool_calls`".into(),
        )),
        _ if input.tool_run.is_some() || input.tool_call_id.is_some() => Err(AppError::BadRequest(
            "only tool messages carry `tool_call_id` and `tool_run`".into(),
        )),
        _ => Ok(()),
    }?;
    if input.tool_calls.len() > 128 {
        return Err(AppError::BadRequest(
            "at most 128 tool calls per message".into(),
        ));
    }
    for n in [
        input.duration_ms,
        input.prompt_tokens,
        input.completion_tokens,
    ]
    .into_iter()
    .flatten()
    {
        if n < 0 {
            return Err(AppError::BadRequest(
                "durations and token counts cannot be negative".into(),
            ));
        }
    }
    if let Some(run) = &input.tool_run {
        if run
            .images
            .iter()
            .any(|image| !app::api::is_inline_image(image))
        {
            return Err(AppError::BadRequest(
                "tool_run.images takes only `data:image/<type>;base64,…` URLs".into(),
            ));
        }
    }
    Ok(())
}

/// A checked message, with its JSON columns encoded.
struct Checked {
    input: MessageInput,
    model: Option<String>,
    tool_calls: Option<String>,
    tool_run: Option<String>,
}

impl Checked {
    fn new(input: MessageInput) -> Result<Checked> {
        validate(&input)?;
        let tool_calls = (!input.tool_calls.is_empty())
            .then(|| serde_json::to_string(&input.tool_calls))
            .transpose()
            .map_err(AppError::internal)?;
        let tool_run = input
            .tool_run
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(AppError::internal)?;
        let model = model(input.model.as_deref())?;
        Ok(Checked {
            input,
            model,
            tool_calls,
            tool_run,
        })
    }

    fn into_message(self, id: i64, created_at: i64) -> ChatMessage {
        let input = self.input;
        ChatMessage {
            id,
            role: input.role,
            content: input.content,
            reasoning: input.reasoning,
            model: self.model,
            tool_calls: input.tool_calls,
            tool_call_id: input.tool_call_id,
            tool_run: input.tool_run,
            error: input.error,
            stopped: input.stopped,
            partial: input.partial,
            duration_ms: input.duration_ms,
            prompt_tokens: input.prompt_tokens,
            completion_tokens: input.completion_tokens,
            created_at,
        }
    }
}

async fn append(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<MessageInput>,
) -> Result<(StatusCode, Json<ChatMessage>)> {
    authorize(&principal, Action::Write, Resource::OwnConversations)?;
    let row = owned(&state, &principal, &id).await?;
    let m = Checked::new(input)?;
    if m.input.partial && m.input.role != ChatRole::Assistant {
        return Err(AppError::BadRequest(
            "only an answer (role `assistant`) can be saved as `partial`".into(),
        ));
    }
    let now = db::now();
    let inserted: i64 = with_pool!(&state.db, pool => async {
        let mut tx = pool.begin().await?;
        let sql = "INSERT INTO messages (conversation_id, role, content, reasoning, model, tool_calls, tool_call_id, tool_run, error, \
                   stopped, partial, duration_ms, prompt_tokens, completion_tokens, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id";
        let id: i64 = sqlx::query_scalar(sql)
            .bind(row.id)
            .bind(m.input.role.as_str())
            .bind(&m.input.content)
            .bind(&m.input.reasoning)
            .bind(&m.model)
            .bind(&m.tool_calls)
            .bind(&m.input.tool_call_id)
            .bind(&m.tool_run)
            .bind(&m.input.error)
            .bind(m.input.stopped)
            .bind(m.input.partial)
            .bind(m.input.duration_ms)
            .bind(m.input.prompt_tokens)
            .bind(m.input.completion_tokens)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("UPDATE conversations SET updated_at = $1, model = COALESCE($2, model) WHERE id = $3")
            .bind(now)
            .bind(&m.model)
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(id)
    }.await)?;
    Ok((StatusCode::CREATED, Json(m.into_message(inserted, now))))
}

/// Replaces an answer saved while it was still arriving (`partial`) with what has arrived
/// since; the last save has `partial: false`. A complete message cannot be changed: 409.
async fn revise(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, message_id)): Path<(String, String)>,
    ApiJson(input): ApiJson<MessageInput>,
) -> Result<Json<ChatMessage>> {
    authorize(&principal, Action::Write, Resource::OwnConversations)?;
    let row = owned(&state, &principal, &id).await?;
    let missing = || {
        AppError::NotFound(format!(
            "no message with id {} in this conversation",
            Echo(&message_id)
        ))
    };
    let number: i64 = message_id.parse().map_err(|_| missing())?;
    let m = Checked::new(input)?;
    let sql =
        "SELECT role, partial, created_at FROM messages WHERE id = $1 AND conversation_id = $2";
    let (role, partial, created_at): (String, bool, i64) =
        with_pool!(&state.db, pool => sqlx::query_as(sql).bind(number).bind(row.id).fetch_optional(pool).await)?.ok_or_else(missing)?;
    if !partial {
        return Err(AppError::Conflict(
            "this message is complete: only an answer still arriving (`partial`) can be changed"
                .into(),
        ));
    }
    if role != m.input.role.as_str() {
        return Err(AppError::BadRequest(format!(
            "this message's role is `{role}`; it cannot change"
        )));
    }
    let now = db::now();
    // `partial = TRUE` in the condition: of two racing saves, the one after the final one
    // changes nothing.
    let changed = with_pool!(&state.db, pool => async {
        let mut tx = pool.begin().await?;
        let sql = "UPDATE messages SET content = $1, reasoning = $2, model = $3, tool_calls = $4, error = $5, stopped = $6, partial = $7, \
                   duration_ms = $8, prompt_tokens = $9, completion_tokens = $10 WHERE id = $11 AND conversation_id = $12 AND partial = TRUE";
        let changed = sqlx::query(sql)
            .bind(&m.input.content)
            .bind(&m.input.reasoning)
            .bind(&m.model)
            .bind(&m.tool_calls)
            .bind(&m.input.error)
            .bind(m.input.stopped)
            .bind(m.input.partial)
            .bind(m.input.duration_ms)
            .bind(m.input.prompt_tokens)
            .bind(m.input.completion_tokens)
            .bind(number)
            .bind(row.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE conversations SET updated_at = $1, model = COALESCE($2, model) WHERE id = $3")
            .bind(now)
            .bind(&m.model)
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(changed)
    }.await)?;
    if changed == 0 {
        return Err(AppError::Conflict(
            "this message was completed meanwhile".into(),
        ));
    }
    Ok(Json(m.into_message(number, created_at)))
}

/// Deletes message `message_id` and every later message of the conversation.
async fn truncate(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, message_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    authorize(&principal, Action::Write, Resource::OwnConversations)?;
    let row = owned(&state, &principal, &id).await?;
    let missing = || {
        AppError::NotFound(format!(
            "no message with id {} in this conversation",
            Echo(&message_id)
        ))
    };
    let from: i64 = message_id.parse().map_err(|_| missing())?;
    let exists: bool = with_pool!(&state.db, pool => sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1 AND conversation_id = $2)")
        .bind(from)
        .bind(row.id)
        .fetch_one(pool)
        .await)?;
    if !exists {
        return Err(missing());
    }
    with_pool!(&state.db, pool => async {
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM messages WHERE conversation_id = $1 AND id >= $2").bind(row.id).bind(from).execute(&mut *tx).await?;
        sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2").bind(db::now()).bind(row.id).execute(&mut *tx).await?;
        tx.commit().await
    }.await)?;
    Ok(StatusCode::NO_CONTENT)
}
