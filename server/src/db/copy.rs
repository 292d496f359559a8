//! `hearth db copy --to postgres://…`: every table of the current database into an empty
//! PostgreSQL database, in one transaction, with the row counts checked before it commits.
//!
//! Values are copied as they are stored: sealed secrets stay sealed (the instances on the new
//! database need the same secret key, which the copied check value enforces). Browser
//! sessions are not copied: people sign in again.

use futures_util::TryStreamExt;
use sqlx::postgres::PgPool;
use sqlx::Row;

use super::{Db, DbError};

/// Tables in an order that satisfies their foreign keys; a table not named here (added by a
/// later migration and forgotten) is copied after these.
const ORDER: &[&str] = &[
    "users",
    "teams",
    "team_members",
    "api_keys",
    "llms",
    "mcp_servers",
    "settings",
    "user_mcp_servers",
    "conversations",
    "messages",
    "audit_events",
];

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the target must be a PostgreSQL database (postgres://USER@HOST/DATABASE)")]
    NotPostgres,
    #[error("the target is the database Hearth uses now")]
    SameDatabase,
    #[error(
        "the target database already holds data ({table}: {rows} rows); copy only into an empty \
         database"
    )]
    NotEmpty { table: String, rows: i64 },
    #[error(
        "{table}: {source_rows} rows read but {target_rows} in the target; nothing was copied"
    )]
    CountMismatch {
        table: String,
        source_rows: i64,
        target_rows: i64,
    },
    #[error("copying {table}: {source}; nothing was copied")]
    Table {
        table: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Sql(#[from] sqlx::Error),
}

/// How a column's values are read and written.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Int,
    Bool,
    Text,
    Bytes,
}

enum Value {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// What was copied: each table with its row count.
pub type Report = Vec<(String, i64)>;

/// Copies `from` into the empty PostgreSQL database at `to_url` (migrated first), reporting
/// each table as it is done.
pub async fn copy(
    from: &Db,
    from_url: &str,
    to_url: &str,
    mut progress: impl FnMut(&str, i64),
) -> Result<Report, CopyError> {
    if !(to_url.starts_with("postgres:") || to_url.starts_with("postgresql:")) {
        return Err(CopyError::NotPostgres);
    }
    if to_url == from_url {
        return Err(CopyError::SameDatabase);
    }
    let to = Db::connect(to_url).await?;
    to.migrate().await?;
    let Db::Postgres(target) = &to else {
        return Err(CopyError::NotPostgres);
    };
    let tables = tables(target).await?;
    for (table, _) in &tables {
        let rows = count_pg(target, table).await?;
        if rows > 0 {
            return Err(CopyError::NotEmpty {
                table: table.clone(),
                rows,
            });
        }
    }

    let mut report = Report::new();
    let mut tx = target.begin().await?;
    // The source is read in one transaction too: a consistent snapshot even if Hearth is
    // writing to it meanwhile.
    match from {
        Db::Sqlite(pool) => {
            let mut source = pool.begin().await?;
            copy_tables(&mut source, &mut tx, &tables, &mut progress, &mut report).await?;
        }
        Db::Postgres(pool) => {
            let mut source = pool.begin().await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *source)
                .await?;
            copy_tables(&mut source, &mut tx, &tables, &mut progress, &mut report).await?;
        }
    }
    // Identity columns go on after the highest id copied.
    for (table, columns) in &tables {
        if columns.iter().any(|(name, _)| name == "id") {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            );
            sqlx::query(&sql).execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    to.close().await;
    Ok(report)
}

/// Copies each of `tables` from the `source` snapshot into the target's transaction `tx`.
async fn copy_tables<DB>(
    source: &mut sqlx::Transaction<'_, DB>,
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tables: &[(String, Vec<(String, Kind)>)],
    progress: &mut impl FnMut(&str, i64),
    report: &mut Report,
) -> Result<(), CopyError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'a> i64: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<i64>: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<bool>: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<String>: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<Vec<u8>>: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
{
    for (table, columns) in tables {
        let select = select_sql(table, columns);
        let rows = sqlx::query::<DB>(&select).fetch(&mut **source);
        let n = insert_all(tx, table, columns, rows).await?;
        let counted: i64 = sqlx::query_scalar::<DB, i64>(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut **source)
            .await?;
        check(tx, table, counted, n).await?;
        progress(table, n);
        report.push((table.clone(), n));
    }
    Ok(())
}

/// The target's tables (public schema, but for the migrations' own) with their columns, in
/// foreign-key order.
async fn tables(target: &PgPool) -> Result<Vec<(String, Vec<(String, Kind)>)>, sqlx::Error> {
    let sql = "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
               WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' \
               ORDER BY table_name, ordinal_position";
    let rows: Vec<(String, String, String)> = sqlx::query_as(sql).fetch_all(target).await?;
    let mut tables: Vec<(String, Vec<(String, Kind)>)> = Vec::new();
    for (table, column, data_type) in rows {
        let kind = match data_type.as_str() {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "boolean" => Kind::Bool,
            "bytea" => Kind::Bytes,
            _ => Kind::Text,
        };
        match tables.last_mut() {
            Some((name, columns)) if *name == table => columns.push((column, kind)),
            _ => tables.push((table, vec![(column, kind)])),
        }
    }
    let rank = |t: &str| ORDER.iter().position(|o| *o == t).unwrap_or(ORDER.len());
    tables.sort_by_key(|(t, _)| rank(t));
    Ok(tables)
}

fn select_sql(table: &str, columns: &[(String, Kind)]) -> String {
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let order = if names.contains(&"id") {
        " ORDER BY id"
    } else {
        ""
    };
    format!("SELECT {} FROM {table}{order}", names.join(", "))
}

/// Inserts every row of `rows` into `table`; returns how many.
async fn insert_all<'r, R>(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &str,
    columns: &[(String, Kind)],
    mut rows: futures_util::stream::BoxStream<'r, Result<R, sqlx::Error>>,
) -> Result<i64, CopyError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<bool>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<Vec<u8>>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let failed = |source| CopyError::Table {
        table: table.to_owned(),
        source,
    };
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let insert = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        placeholders.join(", ")
    );
    let mut n = 0;
    while let Some(row) = rows.try_next().await.map_err(failed)? {
        let mut values = Vec::with_capacity(columns.len());
        for (i, (_, kind)) in columns.iter().enumerate() {
            values.push(match kind {
                Kind::Int => Value::Int(row.try_get(i).map_err(failed)?),
                Kind::Bool => Value::Bool(row.try_get(i).map_err(failed)?),
                Kind::Text => Value::Text(row.try_get(i).map_err(failed)?),
                Kind::Bytes => Value::Bytes(row.try_get(i).map_err(failed)?),
            });
        }
        let mut query = sqlx::query::<sqlx::Postgres>(&insert);
        for value in values {
            query = match value {
                Value::Int(v) => query.bind(v),
                Value::Bool(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::Bytes(v) => query.bind(v),
            };
        }
        query.execute(&mut **tx).await.map_err(failed)?;
        n += 1;
    }
    Ok(n)
}

async fn check(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &str,
    source_rows: i64,
    copied: i64,
) -> Result<(), CopyError> {
    let (target_rows,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&mut **tx)
        .await?;
    if target_rows != source_rows || copied != source_rows {
        return Err(CopyError::CountMismatch {
            table: table.to_owned(),
            source_rows,
            target_rows,
        });
    }
    Ok(())
}

async fn count_pg(pool: &PgPool, table: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(pool)
        .await?;
    Ok(n)
}
