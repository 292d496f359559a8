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
