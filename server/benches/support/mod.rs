//! What the benchmarks share: the real `hearth` binary started as its own process (so that
//! its memory and CPU time can be read from `/proc`), and the figures' arithmetic.
//!
//! The binary is `target/release/hearth` (`make build`), or `BENCH_HEARTH_BIN` to measure
//! another build (an older commit, say) with the same benchmark.

#![allow(dead_code)] // each benchmark uses its part

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The throw-away PostgreSQL cluster the integration tests use, for benchmarks on PostgreSQL.
#[path = "../../tests/api/postgres.rs"]
pub mod postgres;

pub const KEY: &str = "bench-master-key";

pub fn binary() -> PathBuf {
    let path = std::env::var_os("BENCH_HEARTH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/hearth")
        });
    assert!(
        path.exists(),
        "{} is missing: run `make build` (or `make bench`)",
        path.display()
    );
    path
}

/// A fresh data directory, private as Hearth wants it.
pub fn data_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `hearth`, killed when dropped.
pub struct Hearth {
    pub child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
    /// The `--database-url` it was given, if any.
    pub database_url: Option<String>,
}

impl Drop for Hearth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Hearth {
    /// Starts the binary with the master key [`KEY`], `args` and a fresh data directory, and
    /// waits until it answers.
    pub async fn start(args: &[&str]) -> Hearth {
        Hearth::start_with(args, data_dir(), |_| {}).await
    }

    /// Like [`Hearth::start`], on `dir`, with `adjust` applied to the command first.
    pub async fn start_with(
        args: &[&str],
        dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Command),
    ) -> Hearth {
        let port = free_port();
        let mut command = Command::new(binary());
        command
            .args(["--port", &port.to_string(), "--api-key", KEY])
            .args(if args.contains(&"--log") {
                &[][..]
            } else {
                &["--log", "warn"][..]
            })
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        adjust(&mut command);
        let child = command.spawn().expect("hearth starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{url}/healthz")).await.is_err() {
            assert!(Instant::now() < deadline, "hearth did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let database_url = args
            .iter()
            .position(|a| *a == "--database-url")
            .and_then(|at| args.get(at + 1))
            .map(|u| u.to_string());
        Hearth {
            child,
            url,
            dir,
            database_url,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_kib(&self) -> u64 {
        status_kib(self.pid(), "VmRSS:")
    }

    /// User plus system CPU time so far.
    pub fn cpu(&self) -> Duration {
        cpu_time(self.pid())
    }

    /// Context switches of its threads so far.
    pub fn switches(&self) -> u64 {
        context_switches(self.pid())
    }
}

/// A `/proc/<pid>/status` field in KiB.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, from `/proc/<pid>/stat` (in clock ticks of 10 ms).
pub fn cpu_time(pid: u32) -> Duration {
    ticks_of(std::path::Path::new(&format!("/proc/{pid}/stat")))
}

/// utime + stime from a `stat` file of `/proc`.
fn ticks_of(path: &std::path::Path) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Context switches of all of a process's threads so far, voluntary (waiting) or not.
pub fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// Serves `router` on loopback from a runtime thread of its own (so that a fake provider never
/// competes with the benchmark's client), with TCP_NODELAY; returns its base URL.
pub fn serve_on_own_thread(name: &str, router: axum::Router) -> String {
    use axum::serve::ListenerExt;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let worker = name.to_owned();
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(worker)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .unwrap()
                    .tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    });
                axum::serve(listener, router).await.unwrap();
            });
        });
    spawned.expect("a thread starts");
    format!("http://{addr}")
}

/// utime + stime of this process's threads named `name` (see [`serve_on_own_thread`]).
pub fn threads_cpu(name: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .map(|task| ticks_of(&task.path().join("stat")))
        .sum()
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

/// Raises this process's own open-file limit (a benchmark may hold thousands of sockets).
pub fn raise_own_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// A member `bench` with a key of their own and a signed-in session on `hearth`.
pub async fn user_credentials(hearth: &Hearth) -> (String, String) {
    use std::io::Write;
    let mut add = std::process::Command::new(binary())
        .args([
            "user",
            "add",
            "bench",
            "--role",
            "member",
            "--log",
            "warn",
            "--data-dir",
        ])
        .arg(hearth.dir.path())
        .args(
            hearth
                .database_url
                .iter()
                .flat_map(|u| ["--database-url", u.as_str()]),
        )
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"bench-password-1\n")
        .unwrap();
    assert!(add.wait().unwrap().success(), "hearth user add");
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("{}/v1/keys", hearth.url))
        .bearer_auth(KEY)
        .json(&serde_json::json!({"name": "bench", "user": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signed_in = client
        .post(format!("{}/auth/login", hearth.url))
        .json(&serde_json::json!({"username": "bench", "password": "bench-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (created["key"].as_str().unwrap().to_owned(), cookie)
}
