//! The `hearth` binary: parse the command line, then serve or run a subcommand.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use server::config::{unknown_env_vars, Cli, Command, Config};

/// The log filter `spec` names (`info` if it is not one), without what says nothing to an
/// operator: PostgreSQL's notices ("relation … already exists, skipping" on every start) and
/// the MCP client library's account of each session it opens and closes (Hearth logs what
/// matters of those itself).
fn log_filter(spec: &str) -> EnvFilter {
    let filter = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    ["sqlx::postgres::notice=warn", "rmcp=warn"]
        .into_iter()
        .filter_map(|d| d.parse().ok())
        .fold(filter, EnvFilter::add_directive)
}

fn main() -> ExitCode {
    return_large_allocations();
    let cli = Cli::parse();
    let config = match Config::load(&cli.options) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("hearth: {e}");
            return ExitCode::from(2);
        }
    };
    // Log lines (one per gateway call, with the audit) are written by a thread of their own,
    // not by the request that logs them; the guard flushes what is left when main returns.
    let (log_writer, _log_guard) = tracing_appender::non_blocking(std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(&config.log))
        .with_writer(log_writer)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    for name in unknown_env_vars(std::env::vars().map(|(k, _)| k)) {
        tracing::warn!(variable = %name, "ignoring unknown HEARTH_* environment variable");
    }

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = config.workers {
        builder.worker_threads(workers);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hearth: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => run_server(config).await,
            Command::User(command) => server::cli::user(&config, command).await,
            Command::Key(command) => server::cli::key(&config, command).await,
            Command::Llm(command) => server::cli::llm(&config, command).await,
            Command::Mcp(command) => server::cli::mcp(&config, command).await,
            Command::Db(command) => server::cli::db(&config, command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hearth: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Every password check allocates ~19 MiB (argon2). glibc would keep each such block in the
/// arena of the thread that freed it, and raise its mmap threshold past that size, so a burst
/// of sign-ins would leave hundreds of MiB resident for good. A fixed threshold keeps large
/// blocks in their own mappings, returned to the system when freed.
fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt changes a setting of glibc's allocator; it is called once, before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

async fn run_server(config: Config) -> server::cli::CliResult {
    let started = std::time::Instant::now();
    server::serve::raise_open_file_limit();
    let state = server::prepare(&config).await?;
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let mode = if state.local_mode_possible {
        "local mode while no user exists"
    } else {
        "sign-in required"
    };
    tracing::info!(
        address = %format!("http://{}", listener.local_addr()?),
        data_dir = %config.data_dir.display(),
        mode,
        ready_in_ms = started.elapsed().as_millis() as u64,
        "hearth is listening"
    );
    server::serve(listener, state, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// A future that completes on SIGINT or SIGTERM. The handlers are installed now, before the
/// server says it is listening, so a signal sent right after that is never missed.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutting down: finishing requests in flight");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing requests in flight");
    })
}
