//! A throw-away PostgreSQL cluster for the tests: `initdb` into a temporary directory and the
//! server on a free loopback port, run as an unprivileged user (`initdb` refuses root, and CI
//! runs as root: then the `postgres` user that Debian's package creates). The server is this
//! process's child and dies with it; the directory is removed when the tests end.
//!
//! The suite runs on it when `TEST_BACKEND=postgres`; each test gets its own database.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Whether the suite runs on PostgreSQL (`TEST_BACKEND=postgres`) rather than SQLite.
pub fn enabled() -> bool {
    std::env::var("TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The database for the data directory `dir`, made on first use: two servers started on the
/// same directory share it, as they would share its SQLite file.
pub fn database_url_for(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    let cluster = shared();
    let name = database_name(&dir);
    cluster.create_database(&name);
    cluster.url(&name)
}

fn database_name(dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut hasher);
    format!("t_{:016x}", hasher.finish())
}

static SHARED: OnceLock<Cluster> = OnceLock::new();

/// The cluster the whole suite shares, started on first use and removed at exit.
pub fn shared() -> &'static Cluster {
    extern "C" fn remove_at_exit() {
        if let Some(cluster) = SHARED.get() {
            cluster.remove();
        }
    }
    SHARED.get_or_init(|| {
        // SAFETY: registers a plain function with no arguments, as `atexit` expects.
        unsafe { libc::atexit(remove_at_exit) };
        Cluster::start()
    })
}

/// One PostgreSQL cluster: its directory, port and server process.
#[derive(Clone)]
pub struct Cluster {
    bin: PathBuf,
    root: PathBuf,
    pub port: u16,
    user: Option<(u32, u32)>,
    server: std::sync::Arc<Mutex<Option<Child>>>,
}

impl Cluster {
    /// `initdb` and a running server, or a panic saying what is missing.
    pub fn start() -> Cluster {
        remove_left_behind();
        let bin = bin_dir();
        let user = unprivileged_user();
        let root = clusters_dir().join(format!(
            "hearth-pg-{}-{}",
            std::process::id(),
            PORTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("cluster directory");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&root, Some(uid), Some(gid)).expect("chown cluster dir");
        }
        let status = as_user(Command::new(bin.join("initdb")), user)
            .args([
                "--auth=trust",
                "--username=hearth",
                "--encoding=UTF8",
                "--locale=C",
            ])
            .arg("-D")
            .arg(root.join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("initdb runs");
        assert!(
            status.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let cluster = Cluster {
            bin,
            root,
            port: free_port(),
            user,
            server: Default::default(),
        };
        cluster.run();
        cluster
    }

    /// Starts the server (again) on the same port and data, and waits until it answers.
    pub fn run(&self) {
        let mut server = self.server.lock().unwrap();
        assert!(server.is_none(), "the cluster is already running");
        let mut command = as_user(Command::new(self.bin.join("postgres")), self.user);
        command
            .arg("-D")
            .arg(self.root.join("data"))
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.root.display()))
            .args(["-c", "max_connections=300", "-c", "fsync=off"])
            .args(["-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(self.root.join("server.log"))
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            );
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                // The server dies with this process, even when the tests are killed.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        // Spawned from a thread that lives as long as the process: the death signal follows
        // the thread that forked, not the process.
        let (sent, spawned) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sent.send(command.spawn());
            loop {
                std::thread::park();
            }
        });
        let child = spawned
            .recv()
            .expect("spawner thread")
            .expect("postgres starts");
        *server = Some(child);
        drop(server);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start: {}",
                std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server at once (as a crash or an operator would), keeping its data.
    pub fn halt(&self) {
        if let Some(mut child) = self.server.lock().unwrap().take() {
            // SIGINT: PostgreSQL's fast shutdown, which ends every connection.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            let _ = child.wait();
        }
    }

    /// Stops the server and removes its directory.
    pub fn remove(&self) {
        self.halt();
        let _ = std::fs::remove_dir_all(&self.root);
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://hearth@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates `name` unless it exists.
    pub fn create_database(&self, name: &str) {
        let output = self
            .client("psql")
            .args(["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!("CREATE DATABASE \"{name}\""))
            .output()
            .expect("psql runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() || stderr.contains("already exists"),
            "CREATE DATABASE {name} failed: {stderr}"
        );
    }

    /// Runs `sql` in `database` and returns what it printed (unaligned, tuples only).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let output = self
            .client("psql")
            .args(["-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Everything `database` holds, as `pg_dump` writes it.
    pub fn dump(&self, database: &str) -> Vec<u8> {
        let output = self
            .client("pg_dump")
            .args(["--data-only", "-d", database])
            .output()
            .expect("pg_dump runs");
        assert!(
            output.status.success(),
            "pg_dump {database}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    fn client(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "hearth",
            ])
            .env_remove("PGPASSWORD")
            .stdin(Stdio::null());
        command
    }

    fn answers(&self) -> bool {
        self.client("pg_isready")
            .args(["-d", "postgres", "-q"])
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// Where clusters live: `/tmp`, which the unprivileged user can reach whatever `TMPDIR` says
/// (a private temporary directory of root's would lock it out).
fn clusters_dir() -> PathBuf {
    let tmp = Path::new("/tmp");
    if tmp.is_dir() {
        tmp.to_owned()
    } else {
        std::env::temp_dir()
    }
}

/// Clusters of test runs that ended without removing theirs (a panic before `remove`): their
/// server died with them, their directory is removed here.
fn remove_left_behind() {
    let Ok(entries) = std::fs::read_dir(clusters_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("hearth-pg-"))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

static PORTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// `command`, to be run as `user` when there is one.
fn as_user(mut command: Command, user: Option<(u32, u32)>) -> Command {
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid).current_dir("/");
    }
    command
}

/// Debian's server binaries: the newest `/usr/lib/postgresql/<version>/bin`, else `PATH`.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| d.join("initdb").exists());
    on_path.expect(
        "PostgreSQL's initdb was not found (in /usr/lib/postgresql/*/bin or on PATH): \
         `make test` and `make bench` install Debian's postgresql package",
    )
}

/// As root, the `postgres` user (initdb refuses root); otherwise whoever runs the tests.
fn unprivileged_user() -> Option<(u32, u32)> {
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id runs");
        assert!(
            out.status.success(),
            "running as root, the tests need the `postgres` user to run PostgreSQL"
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u32>()
            .unwrap()
    };
    Some((id("-u"), id("-g")))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
