//! The audit trail: events recorded off the request path and read at `GET /v1/audit` by admins
//! and viewers. Never a prompt, a completion or a key.
//!
//! A request hands its event to [`Audit::record`], which never waits: one writer task collects
//! what arrives within a quarter second of the first event and inserts it in one transaction.
//! Every event is also logged through tracing.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use sqlx::FromRow;
use tokio::sync::{mpsc, oneshot};

use app::api::{AuditEvent, AuditList, AuditQuery};

use crate::auth::{authorize, Action, Principal, Resource};
use crate::db::Db;
use crate::error::{AppError, Result};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::with_pool;

/// Events waiting beyond this are dropped (and the drop logged) rather than slow requests.
const QUEUE: usize = 16_384;
/// At most this many events go in one transaction.
const BATCH: usize = 512;
/// How long the writer waits for more events after the first of a batch: one write per
/// quarter second at most, however busy the gateway.
const LINGER: std::time::Duration = std::time::Duration::from_millis(250);
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 500;

/// One event, as a request reports it (the id and time are given on insert).
#[derive(Clone, Debug, Default)]
pub struct Record {
    pub kind: &'static str,
    pub principal: String,
    pub user_id: Option<i64>,
    pub key_hash_prefix: Option<String>,
    pub llm: Option<String>,
    pub model: Option<String>,
    pub streaming: Option<bool>,
    pub duration_ms: i64,
    pub status: u16,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    /// What was acted on (`key:12`, `llm:cheap`, …), for events other than LLM calls.
    pub target: Option<String>,
    /// The client's address, for sign-ins.
    pub client: Option<String>,
}

impl Record {
    /// `principal` did `kind` to `target`, answered with `status`.
    pub fn action(
        kind: &'static str,
        principal: &Principal,
        target: impl Into<String>,
        status: u16,
    ) -> Record {
        Record {
            kind,
            principal: principal.name.clone(),
            user_id: principal.user_id,
            key_hash_prefix: principal.key_hash_prefix.clone(),
            status,
            target: Some(target.into()),
            ..Record::default()
        }
    }
}

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct Audit {
    queue: mpsc::Sender<(Record, i64)>,
    /// Asks the writer to write what is queued now, rather than when its quarter second
    /// is over; answered once it is written.
    flushes: mpsc::Sender<oneshot::Sender<()>>,
}

impl Audit {
    /// Starts the writer task. It ends once every `Audit` is dropped and the queue is drained.
    pub fn spawn(db: Db) -> Audit {
        let (queue, inbox) = mpsc::channel(QUEUE);
        let (flushes, flush_inbox) = mpsc::channel(1);
        tokio::spawn(writer(db, inbox, flush_inbox));
        Audit { queue, flushes }
    }

    /// Queues `record` and logs it; never waits.
    pub fn record(&self, record: Record) {
        tracing::info!(
            target: "hearth::audit",
            kind = record.kind,
            principal = %record.principal,
            key_hash_prefix = record.key_hash_prefix.as_deref(),
            llm = record.llm.as_deref(),
            model = record.model.as_deref(),
            streaming = record.streaming,
            duration_ms = record.duration_ms,
            status = record.status,
            prompt_tokens = record.prompt_tokens,
            completion_tokens = record.completion_tokens,
            target = record.target.as_deref(),
            client = record.client.as_deref(),
            "audit event"
        );
        if let Err(e) = self.queue.try_send((record, crate::db::now())) {
            tracing::warn!(reason = %e, "an audit event was dropped: the audit queue is full or closed");
        }
    }

    /// Waits until everything queued so far is written (at shutdown).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.flushes.send(done).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// Waits for the first event of a batch, then sleeps out the quarter second (or until a
/// flush is asked) and writes what came meanwhile: one wake-up per batch, not one per event.
async fn writer(
    db: Db,
    mut inbox: mpsc::Receiver<(Record, i64)>,
    mut flushes: mpsc::Receiver<oneshot::Sender<()>>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut flushed = Vec::new();
    loop {
        tokio::select! {
            received = inbox.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    break;
                }
                if batch.len() < BATCH {
                    tokio::select! {
                        () = tokio::time::sleep(LINGER) => {}
                        Some(done) = flushes.recv() => flushed.push(done),
                    }
                }
            }
            Some(done) = flushes.recv() => flushed.push(done),
        }
        // Everything queued by now, a batch at a time.
        loop {
            while batch.len() < BATCH {
                let Ok(event) = inbox.try_recv() else { break };
                batch.push(event);
            }
            if batch.is_empty() {
                break;
            }
            let full = batch.len() == BATCH;
            if let Err(e) = insert(&db, &batch).await {
                tracing::error!(error = %e, lost = batch.len(), "could not write audit events");
            }
            batch.clear();
            if !full {
                break;
            }
        }
        for done in flushed.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Rows per `INSERT` statement, largest first: a batch is written as statements of these
/// sizes only, so their few texts are each prepared once per connection and then reused
/// (a statement of its own size for every batch would be parsed anew each time). At 14
/// parameters a row, 256 rows stay well under SQLite's limit of 32,766.
const STATEMENT_ROWS: [usize; 5] = [256, 64, 16, 4, 1];

/// How `n` rows are split into statements: the sizes of [`STATEMENT_ROWS`], largest first.
fn statement_sizes(mut n: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        let size = STATEMENT_ROWS.into_iter().find(|&size| size <= n)?;
        n -= size;
        Some(size)
    })
}

/// Writes `events` in one transaction, many rows per statement: one statement per row would
/// cap the trail at a few thousand events a second.
async fn insert(db: &Db, events: &[(Record, i64)]) -> sqlx::Result<()> {
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let mut rest = events;
        for size in statement_sizes(events.len()) {
            let (rows, after) = rest.split_at(size);
            rest = after;
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO audit_events (at, kind, principal, user_id, key_hash_prefix, llm, model, streaming, duration_ms, \
                 status, prompt_tokens, completion_tokens, target, client) ",
            );
            query.push_values(rows, |mut row, (r, at)| {
                row.push_bind(*at)
                    .push_bind(r.kind)
                    .push_bind(r.principal.clone())
                    .push_bind(r.user_id)
                    .push_bind(r.key_hash_prefix.clone())
                    .push_bind(r.llm.clone())
                    .push_bind(r.model.clone())
                    .push_bind(r.streaming)
                    .push_bind(r.duration_ms)
                    .push_bind(i64::from(r.status))
                    .push_bind(r.prompt_tokens)
                    .push_bind(r.completion_tokens)
                    .push_bind(r.target.clone())
                    .push_bind(r.client.clone());
            });
            query.build().execute(&mut *tx).await?;
        }
        tx.commit().await
    })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/audit", get(list))
}

#[derive(FromRow)]
struct EventRow {
    id: i64,
    at: i64,
    kind: String,
    principal: String,
    key_hash_prefix: Option<String>,
    llm: Option<String>,
    model: Option<String>,
    streaming: Option<bool>,
    duration_ms: i64,
    status: i64,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    target: Option<String>,
    client: Option<String>,
}

impl EventRow {
    fn view(self) -> AuditEvent {
        AuditEvent {
            id: self.id,
            at: self.at,
            kind: self.kind,
            principal: self.principal,
            key_hash_prefix: self.key_hash_prefix,
            llm: self.llm,
            model: self.model,
            streaming: self.streaming,
            duration_ms: self.duration_ms,
            status: u16::try_from(self.status).unwrap_or_default(),
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            target: self.target,
            client: self.client,
        }
    }
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditList>> {
    authorize(&principal, Action::Read, Resource::Audit)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    // Every filter is a bound parameter; an absent one matches everything.
    let sql = "SELECT id, at, kind, principal, key_hash_prefix, llm, model, streaming, duration_ms, status, prompt_tokens, \
               completion_tokens, target, client FROM audit_events \
               WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR llm = $2) AND ($3 IS NULL OR principal = $3) \
               AND ($4 IS NULL OR status = $4) AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at < $6) \
               AND ($7 IS NULL OR id < $7) ORDER BY id DESC LIMIT $8";
    let rows: Vec<EventRow> = with_pool!(&state.db, pool => sqlx::query_as(sql)
        .bind(&query.kind)
        .bind(&query.llm)
        .bind(&query.principal)
        .bind(query.status.map(i64::from))
        .bind(query.since)
        .bind(query.until)
        .bind(query.before)
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await)?;
    let more = rows.len() > limit as usize;
    let data: Vec<AuditEvent> = rows
        .into_iter()
        .take(limit as usize)
        .map(EventRow::view)
        .collect();
    let next_before = if more {
        data.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(AuditList { data, next_before }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_split_into_statements_of_the_few_sizes() {
        for n in [0, 1, 3, 4, 70, 255, 256, 257, BATCH] {
            let sizes: Vec<usize> = statement_sizes(n).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n, "{n}: {sizes:?}");
            assert!(
                sizes.iter().all(|s| STATEMENT_ROWS.contains(s)),
                "{n}: {sizes:?}"
            );
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{n}: {sizes:?}");
        }
        assert_eq!(statement_sizes(70).collect::<Vec<_>>(), [64, 4, 1, 1]);
        assert_eq!(statement_sizes(BATCH).collect::<Vec<_>>(), [256, 256]);
    }

    #[tokio::test]
    async fn a_burst_of_events_is_written_whole_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!(
            "sqlite://{}",
            dir.path().join("audit.db").display()
        ))
        .await
        .unwrap();
        db.migrate().await.unwrap();
        let audit = Audit::spawn(db.clone());
        // More than one batch and more than one statement per batch.
        for i in 0..2_000 {
            audit.record(Record {
                kind: "llm_inference_call",
                principal: format!("user{}", i % 7),
                llm: Some("m".into()),
                duration_ms: i,
                status: 200,
                prompt_tokens: Some(i),
                ..Record::default()
            });
        }
        audit.flush().await;
        let (count, total): (i64, i64) = with_pool!(&db, pool => sqlx::query_as("SELECT COUNT(*), SUM(prompt_tokens) FROM audit_events")
            .fetch_one(pool)
            .await)
        .unwrap();
        assert_eq!((count, total), (2_000, (0..2_000).sum()));
    }
}
