//! `stdio` servers: child processes Hearth starts and speaks MCP with over stdin and stdout.
//!
//! A child gets a clean environment (`PATH`, `HOME`, `LANG`, `TMPDIR` from Hearth's, then
//! the server's own variables): Hearth's secrets (its secret key, provider keys) never reach
//! it. It leads its own process group, so stopping it stops what it started too; and it is
//! killed by the kernel if Hearth dies without stopping it. Its stderr is kept, last lines
//! only, secrets blanked, for admins to read.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};

use process_wrap::tokio::{CommandWrap, KillOnDrop, ProcessGroup};
use rmcp::transport::TokioChildProcess;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Lines of stderr kept per child, and characters per line.
const TAIL_LINES: usize = 20;
const LINE_CHARS: usize = 500;

/// Variables of Hearth's own environment a child inherits; nothing else is passed on.
const INHERITED: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ"];

/// The last lines a child wrote to stderr.
#[derive(Clone, Debug, Default)]
pub struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }
}

/// Starts `command` with `args` and `env`; its stderr is read into the returned tail.
pub fn spawn(
    command: &str,
    args: &[String],
    env: &[(String, String)],
    secrets: &[String],
) -> std::io::Result<(TokioChildProcess, StderrTail)> {
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(args).env_clear().kill_on_drop(true);
    for name in INHERITED {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    // SAFETY: prctl is async-signal-safe, and nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // Killed with Hearth, should Hearth die without stopping it.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut wrapped = CommandWrap::from(cmd);
    wrapped.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
    let (child, stderr) = TokioChildProcess::builder(wrapped)
        .stderr(Stdio::piped())
        .spawn()?;
    let tail = StderrTail::default();
    if let Some(stderr) = stderr {
        let tail = tail.clone();
        let secrets = secrets.to_vec();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let line: String = line.chars().take(LINE_CHARS).collect();
                tail.push(super::redact(&line, &secrets));
            }
        });
    }
    Ok((child, tail))
}
