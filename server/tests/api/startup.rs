//! The real `hearth` binary: start-up checks, `--help`, the CLI, and graceful shutdown.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use app::api::Me;

const HEARTH: &str = env!("CARGO_BIN_EXE_hearth");

pub(crate) fn hearth(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(HEARTH);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("HEARTH_API_KEY")
        .env_remove("RUST_LOG");
    if crate::postgres::enabled() {
        command
            .arg("--database-url")
            .arg(crate::postgres::database_url_for(data_dir));
    }
    command
}

/// Starts `hearth` serving on an ephemeral loopback port; returns it and its base URL.
fn start_server(data_dir: &std::path::Path, extra: &[&str]) -> (Child, String) {
    let mut command = hearth(data_dir);
    command.args(extra);
    let (child, base, _) = start(command);
    (child, base)
}

/// `hearth user add NAME --role ROLE` on `data_dir`, the password ("correct horse") on stdin;
/// panics unless it works.
pub(crate) fn add_user(data_dir: &std::path::Path, name: &str, role: &str) {
    let mut add = hearth(data_dir)
        .args(["user", "add", name, "--role", role])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    assert!(add.wait().unwrap().success(), "hearth user add {name}");
}

pub(crate) type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Starts `command` (a `hearth` one) on an ephemeral loopback port; returns it, its base URL
/// and its log lines as they come.
pub(crate) fn start(mut command: Command) -> (Child, String, Log) {
    let mut child = command
        .args(["--port", "0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("hearth starts");
    // Read the log on a thread, so a server that never says where it listens fails the
    // test instead of hanging it.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let log = Log::default();
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("address=http://") {
                let _ = tx.send(
                    line[at + "address=".len()..]
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            lines.lock().unwrap().push(line);
        }
    });
    let base = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("hearth reports its address");
    (child, base, log)
}

pub(crate) fn terminate(child: &mut Child) -> std::process::ExitStatus {
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    child.wait().unwrap()
}

#[test]
fn a_non_loopback_bind_without_credentials_is_refused_with_a_message_naming_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = hearth(dir.path())
        .args(["--host", "0.0.0.0", "--port", "0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--api-key"), "{stderr}");
}

#[test]
fn help_documents_every_option() {
    let output = Command::new(HEARTH).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--host",
        "--port",
        "--data-dir",
        "--database-url",
        "--api-key",
        "--api-key-file",
        "--secret-key-file",
        "--config",
        "--llm-timeout",
        "--workers",
        "--key-ref-dir",
        "--header-timeout",
        "--write-timeout",
        "--max-connections",
        "--shutdown-grace",
        "--llm-max-answer-mib",
        "HEARTH_PORT",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}

#[test]
fn a_bad_flag_or_config_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = hearth(dir.path())
        .args(["--port", "eighty"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let bad = dir.path().join("hearth.toml");
    std::fs::write(&bad, "port = \"x\"").unwrap();
    let output = hearth(dir.path())
        .arg("--config")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("hearth.toml"));
}

#[tokio::test]
async fn users_and_keys_are_added_from_the_command_line_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, base) = start_server(dir.path(), &[]);
    let client = reqwest::Client::new();
    let local: Me = client
        .get(format!("{base}/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(local.is_local(), "no user yet: local mode");

    add_user(dir.path(), "ana", "admin");

    let duplicate = hearth(dir.path())
        .args(["user", "add", "ana"])
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    assert!(!duplicate.status.success(), "a second ana is refused");

    let created = hearth(dir.path())
        .args(["key", "create", "--user", "ana"])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("hk-"));

    let signed_in = client
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"username": "ana", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let me: Me = client
        .get(format!("{base}/v1/me"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me.name, "ana");
    assert_eq!(
        client
            .get(format!("{base}/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "local mode ended"
    );

    assert!(
        terminate(&mut server).success(),
        "SIGTERM stops hearth cleanly"
    );
}

#[tokio::test]
async fn the_secret_key_file_is_generated_on_first_start_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, base) = start_server(dir.path(), &["--api-key", "k-0123456789abcdef"]);
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(terminate(&mut server).success());
    let key = std::fs::read_to_string(dir.path().join("secret.key")).unwrap();

    let (mut again, _) = start_server(dir.path(), &["--api-key", "k-0123456789abcdef"]);
    assert!(terminate(&mut again).success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("secret.key")).unwrap(),
        key
    );
}

#[test]
fn an_instance_with_another_secret_key_refuses_to_start_and_the_same_key_may_come_from_the_environment(
) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = hearth(&data).args(["llm", "list"]).output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let key = std::fs::read_to_string(data.join("secret.key")).unwrap();

    // Another key file: refused before anything is served, the key never printed.
    let other_file = dir.path().join("other.key");
    let other = hearth(&data)
        .arg("--secret-key-file")
        .arg(&other_file)
        .args(["llm", "list"])
        .output()
        .unwrap();
    assert!(!other.status.success());
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(
        stderr.contains("not the one this database's secrets were sealed with"),
        "{stderr}"
    );
    assert!(
        stderr.contains("other.key") && stderr.contains("HEARTH_SECRET_KEY"),
        "{stderr}"
    );
    let other_key = std::fs::read_to_string(&other_file).unwrap();
    assert!(
        !stderr.contains(other_key.trim()) && !stderr.contains(key.trim()),
        "{stderr}"
    );

    // The same key given in the environment (and no file needed beside it).
    let same = hearth(&data)
        .arg("--secret-key-file")
        .arg(dir.path().join("absent.key"))
        .env("HEARTH_SECRET_KEY", key.trim())
        .args(["llm", "list"])
        .output()
        .unwrap();
    assert!(
        same.status.success(),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    assert!(!dir.path().join("absent.key").exists());
    let wrong = hearth(&data)
        .env("HEARTH_SECRET_KEY", other_key.trim())
        .args(["llm", "list"])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("(HEARTH_SECRET_KEY)"), "{stderr}");
    assert!(!stderr.contains(other_key.trim()), "{stderr}");
    let malformed = hearth(&data)
        .env("HEARTH_SECRET_KEY", "not base64 at all")
        .args(["llm", "list"])
        .output()
        .unwrap();
    assert!(!malformed.status.success());
    assert!(String::from_utf8_lossy(&malformed.stderr).contains("HEARTH_SECRET_KEY does not hold"));
}

/// Runs `hearth <args>` off the runtime (the fake provider it may call runs on it), with
/// `stdin` as its input.
async fn hearth_output(
    data_dir: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    let mut command = hearth(data_dir);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn llms_are_registered_from_the_command_line_with_the_key_checked_unless_told_not_to() {
    use axum::http::{HeaderMap, StatusCode};
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let provider = axum::Router::new().route(
        "/v1/models",
        axum::routing::get(move |headers: HeaderMap| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let good = headers
                .get("authorization")
                .is_some_and(|v| v == "Bearer sk-cli-good");
            async move {
                if good {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, provider).await });
    let dir = tempfile::tempdir().unwrap();
    let add = |name: &'static str, extra: &'static [&'static str]| {
        let mut args = vec![
            "llm",
            "add",
            name,
            "--provider",
            "openai-compatible",
            "--model",
            "m",
            "--base-url",
            &base,
            "--all-members",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>, stdin: &'static str| {
        let dir = dir.path().to_owned();
        async move {
            hearth_output(
                &dir,
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
                stdin,
            )
            .await
        }
    };

    let refused = run(add("refused", &["--api-key-stdin"]), "sk-cli-bad\n").await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("The provider rejected this key (401)") && !said.contains("sk-cli-bad"),
        "{said}"
    );

    let good = run(add("good", &["--api-key-stdin"]), "sk-cli-good\n").await;
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);

    let offline = run(
        add("offline", &["--api-key-stdin", "--skip-auth-check"]),
        "sk-cli-bad\n",
    )
    .await;
    assert!(
        offline.status.success(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "--skip-auth-check makes no call"
    );

    let listed = run(vec!["llm".into(), "list".into()], "").await;
    let listed = String::from_utf8(listed.stdout).unwrap();
    let names: Vec<&str> = listed
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(names, ["good", "offline"]);
    assert!(!listed.contains("sk-cli"), "{listed}");

    assert!(
        run(vec!["llm".into(), "remove".into(), "offline".into()], "")
            .await
            .status
            .success()
    );
    let missing = run(vec!["llm".into(), "remove".into(), "offline".into()], "").await;
    assert!(
        !missing.status.success()
            && String::from_utf8_lossy(&missing.stderr).contains("no LLM named")
    );
}

#[test]
fn a_short_master_key_is_refused_at_start_without_being_printed() {
    let dir = tempfile::tempdir().unwrap();
    let output = hearth(dir.path())
        .args(["--port", "0", "--api-key", "letmein-123"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("16 characters"), "{stderr}");
    assert!(!stderr.contains("letmein"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn the_data_directory_and_database_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("new/data");
    let listed = hearth(&data).args(["llm", "list"]).output().unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // The database is a file here only on SQLite.
    let sqlite = !crate::postgres::enabled();
    assert_eq!(mode(&data), 0o700);
    if sqlite {
        assert_eq!(mode(&data.join("hearth.db")), 0o600);
    }
    assert_eq!(mode(&data.join("secret.key")), 0o600);
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(!stderr.contains("other users"), "{stderr}");

    // A directory someone opened up is warned about at start (and left as it is).
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    if sqlite {
        std::fs::set_permissions(
            data.join("hearth.db"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let listed = hearth(&data).args(["llm", "list"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert_eq!(
        stderr
            .matches("other users of this machine may read it")
            .count(),
        if sqlite { 2 } else { 1 },
        "{stderr}"
    );
    assert_eq!(mode(&data), 0o755);
}

/// SIGTERM with streams running and a request half sent: within the grace nothing is cut;
/// after it each stream ends with an error event and `[DONE]`, each call is audited as 503,
/// and hearth exits 0 without waiting on any client.
#[tokio::test]
async fn sigterm_ends_the_streams_still_running_after_the_grace_audits_them_and_exits_cleanly() {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;

    use crate::inference::{openai_llm, start_providers, MASTER};

    let dir = tempfile::tempdir().unwrap();
    let (mut server, base) =
        start_server(dir.path(), &["--api-key", MASTER, "--shutdown-grace", "1"]);
    let (provider, _, _) = start_providers().await;
    let client = reqwest::Client::new();
    let registered = client
        .post(format!("{base}/v1/llms?skip_auth_check=true"))
        .bearer_auth(MASTER)
        .json(&openai_llm("endless", &provider, "gpt-endless"))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);

    let mut streams = Vec::new();
    for _ in 0..3 {
        let body = serde_json::json!({"model": "endless", "stream": true, "messages": []});
        let response = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(MASTER)
            .json(&body)
            .send()
            .await
            .unwrap();
        let mut chunks = response.bytes_stream();
        chunks.next().await.unwrap().unwrap();
        streams.push(chunks);
    }
    let mut half_sent = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    half_sent
        .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-")
        .await
        .unwrap();

    let pid = server.id().to_string();
    let exited = tokio::task::spawn_blocking(move || {
        Command::new("kill").arg("-TERM").arg(pid).status().unwrap();
        server.wait().unwrap()
    });
    for mut chunks in streams {
        let mut text = Vec::new();
        while let Some(Ok(chunk)) = chunks.next().await {
            text.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("\"code\":\"shutting_down\""),
            "{}",
            &text[text.len().saturating_sub(300)..]
        );
        assert!(text.ends_with("data: [DONE]\n\n"));
    }
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), exited)
        .await
        .expect("hearth exits")
        .unwrap();
    assert!(status.success(), "{status:?}");
    drop(half_sent);

    let app = crate::harness::TestApp::spawn_in(dir, &["--api-key", MASTER]).await;
    let events = crate::harness::audit_events(&app, MASTER, app::api::LLM_INFERENCE_CALL, 3).await;
    let statuses: Vec<u64> = events
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [503, 503, 503]);
}

#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit_at_start() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let mut command = hearth(dir.path());
    // SAFETY: setrlimit is async-signal-safe; it runs in the child before exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 256,
                rlim_max: 4096,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (mut server, _, _) = start(command);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .to_owned();
    assert!(terminate(&mut server).success());
    let numbers: Vec<&str> = line
        .split_whitespace()
        .filter(|w| w.parse::<u64>().is_ok())
        .collect();
    assert_eq!(numbers, ["4096", "4096"], "{line}");
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_logged_as_a_warning_not_an_error() {
    use crate::inference::{openai_llm, MASTER};
    let dir = tempfile::tempdir().unwrap();
    let mut command = hearth(dir.path());
    command.args(["--api-key", MASTER]);
    let (mut server, base, log) = start(command);
    let client = reqwest::Client::new();
    let registered = client
        .post(format!("{base}/v1/llms?skip_auth_check=true"))
        .bearer_auth(MASTER)
        .json(&openai_llm("gone", "http://127.0.0.1:9", "m"))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let body = serde_json::json!({"model": "gone", "messages": []});
    let answer = client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(MASTER)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 502);
    assert!(terminate(&mut server).success());
    let log = log.lock().unwrap().join("\n");
    assert!(log.contains("WARN") && log.contains("status=502"), "{log}");
    assert!(!log.contains("ERROR"), "{log}");
}
