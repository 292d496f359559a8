//! The database as a part that can fail: an unreachable or wrong PostgreSQL at start is a
//! clear refusal naming where (never the password); PostgreSQL going away while Hearth runs
//! gives 503s in the usual error shape and an unhealthy `/healthz`, and Hearth recovers by
//! itself when it is back.

use std::time::{Duration, Instant};

use crate::harness::{error_body, TestApp};
use crate::postgres::Cluster;

/// `hearth` on the data directory `data`, with no database chosen for it.
fn hearth(data: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"));
    command
        .arg("--data-dir")
        .arg(data)
        .env_remove("HEARTH_DATABASE_URL")
        .env_remove("RUST_LOG");
    command
}

const MASTER: &str = "master-secret-0123456789";

#[test]
fn an_unreachable_postgresql_at_start_is_named_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let output = hearth(&dir.path().join("data"))
        .arg("--database-url")
        .arg(format!(
            "postgres://hearth:pw-s3cret@127.0.0.1:{port}/hearthdb"
        ))
        .args(["llm", "list"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("\"hearthdb\""),
        "{stderr}"
    );
    assert!(!stderr.contains("pw-s3cret"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_database_that_does_not_exist_is_named() {
    if !crate::postgres::enabled() {
        eprintln!("runs on PostgreSQL only (TEST_BACKEND=postgres)");
        return;
    }
    let cluster = crate::postgres::shared();
    let dir = tempfile::tempdir().unwrap();
    let output = hearth(&dir.path().join("data"))
        .arg("--database-url")
        .arg(cluster.url("no_such_database"))
        .args(["llm", "list"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("\"no_such_database\""), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[tokio::test]
async fn postgresql_going_away_gives_503s_and_hearth_recovers_when_it_is_back() {
    if !crate::postgres::enabled() {
        eprintln!("runs on PostgreSQL only (TEST_BACKEND=postgres)");
        return;
    }
    // A cluster of its own: the others' tests go on on the shared one.
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    cluster.create_database("hearth");
    let url = cluster.url("hearth");
    let app = TestApp::spawn(&["--database-url", &url, "--api-key", MASTER]).await;
    let client = app.client();
    let llms = || client.get(app.url("/v1/llms")).bearer_auth(MASTER).send();
    assert_eq!(llms().await.unwrap().status(), 200);
    let healthz = || client.get(app.url("/healthz")).send();
    assert_eq!(healthz().await.unwrap().status(), 200);

    let halted = cluster.clone();
    tokio::task::spawn_blocking(move || halted.halt())
        .await
        .unwrap();
    let body = error_body(llms().await.unwrap(), 503).await;
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
    // The health check's answer is kept for a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let health = healthz().await.unwrap();
    assert_eq!(health.status(), 503);
    let health: app::api::Health = health.json().await.unwrap();
    assert_eq!(health.database, "unavailable");
    // Signing in needs the database too: refused as unavailable, not as a wrong key.
    let sign_in = client
        .post(app.url("/auth/login"))
        .json(&serde_json::json!({"api_key": MASTER}))
        .send()
        .await
        .unwrap();
    assert_eq!(sign_in.status(), 503);

    let restarted = cluster.clone();
    tokio::task::spawn_blocking(move || restarted.run())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = llms().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(healthz().await.unwrap().status(), 200);
    app.stop().await;
    tokio::task::spawn_blocking(move || cluster.remove())
        .await
        .unwrap();
}

/// `POST path` as the master key with `body`; the answer's JSON, once it is `status`.
async fn post(
    app: &TestApp,
    path: &str,
    body: serde_json::Value,
    status: u16,
) -> serde_json::Value {
    let response = app
        .client()
        .post(app.url(path))
        .bearer_auth(MASTER)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), status, "{path}");
    response.json().await.unwrap_or_default()
}

#[tokio::test]
async fn a_sqlite_database_is_copied_into_postgresql_and_served_from_there() {
    use serde_json::json;
    if !crate::postgres::enabled() {
        eprintln!("runs on PostgreSQL only (TEST_BACKEND=postgres)");
        return;
    }
    // A populated SQLite database: a user with a key, a team, an LLM with a sealed provider
    // key, a personal MCP server with a sealed header, a conversation, audit events.
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/hearth.db", dir.path().display());
    let app = TestApp::spawn_in(dir, &["--database-url", &sqlite, "--api-key", MASTER]).await;
    app.add_user("ana", app::api::Role::Member, "correct horse")
        .await;
    let key = post(
        &app,
        "/v1/keys",
        json!({"name": "ana's", "user": "ana"}),
        201,
    )
    .await;
    let key = key["key"].as_str().unwrap().to_owned();
    post(
        &app,
        "/v1/teams",
        json!({"name": "ops", "members": ["ana"]}),
        201,
    )
    .await;
    let (provider, _, _) = crate::inference::start_providers().await;
    post(
        &app,
        "/v1/llms?skip_auth_check=true",
        crate::inference::openai_llm("gpt", &provider, "gpt-ok"),
        201,
    )
    .await;
    post(
        &app,
        "/v1/me/mcp-servers",
        json!({"name": "tools", "url": "http://127.0.0.1:9/mcp", "headers": [{"name": "Authorization", "value": "Bearer t0ken"}]}),
        201,
    )
    .await;
    let conversation = post(
        &app,
        "/v1/conversations",
        json!({"title": "Moving day"}),
        201,
    )
    .await;
    let messages = format!("/v1/conversations/{}/messages", conversation["id"]);
    post(
        &app,
        &messages,
        json!({"role": "user", "content": "hello"}),
        201,
    )
    .await;
    let chat = json!({"model": "gpt", "messages": [{"role": "user", "content": "hi"}]});
    let answer = crate::inference::chat(&app, &key, chat.clone()).await;
    assert_eq!(answer.status(), 200);
    crate::harness::audit_events(&app, MASTER, app::api::LLM_INFERENCE_CALL, 1).await;
    let dir = app.stop().await;

    let cluster = crate::postgres::shared();
    let target = format!("copy_{}", std::process::id());
    cluster.create_database(&target);
    let url = cluster.url(&target);
    let copy = || {
        hearth(dir.path())
            .args(["--database-url", &sqlite, "db", "copy", "--to", &url])
            .output()
            .unwrap()
    };
    // Nothing on this runtime is needed meanwhile: run it right here.
    let copied = copy();
    let stderr = String::from_utf8_lossy(&copied.stderr);
    assert!(copied.status.success(), "{stderr}");
    for table in [
        "users: 1 rows",
        "api_keys: 1 rows",
        "llms: 1 rows",
        "messages: 1 rows",
        "team_members: 1 rows",
    ] {
        assert!(stderr.contains(table), "{table} in {stderr}");
    }
    assert!(stderr.contains("counts checked"), "{stderr}");
    assert_eq!(
        cluster
            .psql(&target, "SELECT COUNT(*) FROM user_mcp_servers")
            .trim(),
        "1"
    );
    let audited: i64 = cluster
        .psql(&target, "SELECT COUNT(*) FROM audit_events")
        .trim()
        .parse()
        .unwrap();
    assert!(audited >= 1);
    // Secrets stay sealed on the way.
    let dump = cluster.dump(&target);
    for secret in [crate::inference::PROVIDER_KEY, "t0ken", key.as_str()] {
        assert!(
            !dump.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in the copy"
        );
    }

    // A second copy into the same database is refused, and changes nothing.
    let again = copy();
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds data"), "{stderr}");
    assert_eq!(
        cluster.psql(&target, "SELECT COUNT(*) FROM users").trim(),
        "1"
    );

    // From PostgreSQL too (read from one snapshot there): the copy copied again, row for row.
    let onward = format!("{target}_onward");
    cluster.create_database(&onward);
    let copied_again = hearth(dir.path())
        .args([
            "--database-url",
            &url,
            "db",
            "copy",
            "--to",
            &cluster.url(&onward),
        ])
        .output()
        .unwrap();
    assert!(
        copied_again.status.success(),
        "{}",
        String::from_utf8_lossy(&copied_again.stderr)
    );
    let rows = "SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM messages) \
                + (SELECT COUNT(*) FROM audit_events) + (SELECT COUNT(*) FROM llms)";
    assert_eq!(cluster.psql(&onward, rows), cluster.psql(&target, rows));

    // Hearth on the copy (same data directory, so the same secret key): the user, the key,
    // the sealed provider key through the gateway, the conversation, and new rows.
    let app = TestApp::spawn_in(dir, &["--database-url", &url, "--api-key", MASTER]).await;
    let answer = crate::inference::chat(&app, &key, chat).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let ana = app.browser();
    app.sign_in(&ana, "ana", "correct horse").await;
    let list: serde_json::Value = app
        .client()
        .get(app.url("/v1/conversations"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"][0]["title"], "Moving day");
    assert_eq!(list["data"][0]["message_count"], 1);
    post(
        &app,
        "/v1/conversations",
        json!({"title": "After the move"}),
        201,
    )
    .await;
    post(
        &app,
        "/v1/teams",
        json!({"name": "new", "members": []}),
        201,
    )
    .await;
    app.stop().await;
}
