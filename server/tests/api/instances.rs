//! Two real `hearth` processes on one PostgreSQL database behave as one: a session, a sign-out,
//! a change of an LLM's grants and a revoked key are in force on both (the last three within
//! moments: each instance remembers sessions, LLMs and keys for a few seconds, and forgets
//! them when another announces a change). (PostgreSQL only: on SQLite, instances learn of changes only
//! when their cached entries expire.)

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::inference::{openai_llm, start_providers, MASTER};
use crate::startup::{add_user, hearth, start, terminate};

/// `GET path` on `base` with `cookie` or a bearer key, answered with its status.
async fn status(base: &str, path: &str, cookie: Option<&str>, key: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn ana_chats(base: &str, cookie: &str) -> u16 {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .header("cookie", cookie)
        .header("origin", base)
        .json(&json!({"model": "shared", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let code = response.status().as_u16();
    if code != 200 {
        eprintln!("{base}: {code} {}", response.text().await.unwrap());
    }
    code
}

/// Asks `code` until it is no longer 200 (for 3 s at most): its last answer, and how long
/// that took.
async fn once_refused<F: std::future::Future<Output = u16>>(
    mut code: impl FnMut() -> F,
) -> (u16, Duration) {
    let at = Instant::now();
    loop {
        let answer = code().await;
        if answer != 200 || at.elapsed() > Duration::from_secs(3) {
            return (answer, at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn sign_in(base: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "ana", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    crate::harness::session_cookie(&response)
}

#[tokio::test]
async fn two_instances_on_one_postgresql_database_behave_as_one() {
    if !crate::postgres::enabled() {
        eprintln!("runs on PostgreSQL only (TEST_BACKEND=postgres)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut a, base_a, _) = start({
        let mut c = hearth(&data);
        c.args(["--api-key", MASTER]);
        c
    });
    let (mut b, base_b, _) = start({
        let mut c = hearth(&data);
        c.args(["--api-key", MASTER]);
        c
    });
    add_user(&data, "ana", "member");

    // A session started on A works on B; signing out on A ends it on B within moments.
    let cookie = sign_in(&base_a).await;
    assert_eq!(status(&base_b, "/v1/me", Some(&cookie), None).await, 200);
    let out = reqwest::Client::new()
        .post(format!("{base_a}/auth/logout"))
        .header("cookie", &cookie)
        .header("origin", &base_a)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success() || out.status().is_redirection());
    let (refused, took) = once_refused(|| status(&base_b, "/v1/me", Some(&cookie), None)).await;
    println!("sign-out on A in force on B after {} ms", took.as_millis());
    assert_eq!(refused, 401, "B still takes the session");
    assert!(took < Duration::from_secs(1), "B took {took:?}");

    // An LLM re-granted on A is enforced by B within a second, although B had it cached.
    let (provider, _, _) = start_providers().await;
    let master = reqwest::Client::new();
    let created = master
        .post(format!("{base_a}/v1/llms?skip_auth_check=true"))
        .bearer_auth(MASTER)
        .json(&openai_llm("shared", &provider, "gpt-ok"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let cookie = sign_in(&base_a).await;
    assert_eq!(ana_chats(&base_b, &cookie).await, 200);
    let mut narrowed = openai_llm("shared", &provider, "gpt-ok");
    narrowed["grants"] = json!({"all_members": false, "users": [], "teams": []});
    let changed = master
        .put(format!("{base_a}/v1/llms/shared?skip_auth_check=true"))
        .bearer_auth(MASTER)
        .json(&narrowed)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "{}", changed.text().await.unwrap());
    let (refused, took) = once_refused(|| ana_chats(&base_b, &cookie)).await;
    println!(
        "grant change on A enforced by B after {} ms",
        took.as_millis()
    );
    assert!(matches!(refused, 403 | 404), "B still runs it: {refused}");
    assert!(took < Duration::from_secs(1), "B took {took:?}");

    // A key revoked on A is refused by B within moments, although B had it remembered.
    let key: serde_json::Value = master
        .post(format!("{base_a}/v1/keys"))
        .bearer_auth(MASTER)
        .json(&json!({"name": "ana's", "user": "ana"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = key["key"].as_str().unwrap();
    assert_eq!(status(&base_b, "/v1/me", None, Some(secret)).await, 200);
    let revoked = master
        .delete(format!("{base_a}/v1/keys/{}", key["id"]))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    let (refused, took) = once_refused(|| status(&base_b, "/v1/me", None, Some(secret))).await;
    println!(
        "key revoked on A refused by B after {} ms",
        took.as_millis()
    );
    assert_eq!(refused, 401, "B still takes the key");
    assert!(took < Duration::from_secs(1), "B took {took:?}");

    assert!(terminate(&mut a).success());
    assert!(terminate(&mut b).success());
}

#[test]
fn instances_starting_at_the_same_moment_migrate_one_database_once() {
    if !crate::postgres::enabled() {
        eprintln!("runs on PostgreSQL only (TEST_BACKEND=postgres)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The key file first, so that every instance holds the same key.
    std::fs::create_dir_all(&data).unwrap();
    let key = "c2FtZSBrZXkgZm9yIGV2ZXJ5IGluc3RhbmNlIGhlcmU=";
    let starting: Vec<_> = (0..4)
        .map(|_| {
            hearth(&data)
                .env("HEARTH_SECRET_KEY", key)
                .args(["llm", "list"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in starting {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let database = crate::postgres::database_url_for(&data);
    let name = database.rsplit('/').next().unwrap();
    let applied = crate::postgres::shared().psql(
        name,
        "SELECT COUNT(*), COUNT(DISTINCT version) FROM _sqlx_migrations",
    );
    let (all, distinct) = applied.trim().split_once('|').unwrap();
    assert_eq!(all, distinct, "a migration was applied twice");
    assert!(all.parse::<u32>().unwrap() >= 11);
}
