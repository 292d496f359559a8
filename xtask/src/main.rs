//! `cargo run -p xtask -- build`: Hearth's release binary with its whole web UI inside, built
//! with cargo and the `wasm-bindgen` library alone.
//!
//! 1. `frontend` for wasm32 (profile `wasm-release`, target dir `target/front`);
//! 2. wasm-bindgen (the library, at the version the front end links), `wasm-opt -Oz` and
//!    terser over the JS — skipped when the wasm is byte for byte the one the site was made
//!    from; csso over `style/main.css` likewise (the npm tools are on PATH from `.tools/`);
//! 3. the site in `target/site`: `pkg/hearth.{js,wasm,css}` and `public/`, each with `.br` and
//!    `.gz` beside it; a file is written only when its bytes change, and nothing else is left
//!    there;
//! 4. `server` in release, which embeds `target/site`.
//!
//! Because unchanged files keep their modification times, a second build with nothing changed
//! rebuilds nothing, and a change to `style/` or `public/` rebuilds only the server.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const NAME: &str = "hearth";

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["build"] => build(true),
        ["site"] => build(false),
        _ => Err("usage: cargo run -p xtask -- build | site\n  build  the site, then the release binary\n  site   the site only (target/site)".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

fn build(with_server: bool) -> Result {
    let root = root();
    let started = Instant::now();
    let wasm = front(&root)?;
    let site = root.join("target/site");
    let mut files = Site { root: site.clone(), kept: BTreeSet::new(), written: 0 };
    bindgen(&root, &wasm, &mut files)?;
    style(&root, &mut files)?;
    for entry in read_dir(&root.join("public"))? {
        let name = entry.file_name().ok_or("a public file has no name")?.to_string_lossy().into_owned();
        files.put(&name, &read(&entry)?)?;
    }
    files.remove_the_rest()?;
    step(&format!("site ready in target/site ({} files written)", files.written), started);
    if with_server {
        cargo(&root, &["build", "--release", "--package=server", "--bin=hearth"], None)?;
        step("target/release/hearth ready", started);
    }
    Ok(())
}

fn step(what: &str, since: Instant) {
    eprintln!("xtask: {what} [{:.1} s]", since.elapsed().as_secs_f64());
}

/// Builds `frontend` for the browser; returns its wasm.
fn front(root: &Path) -> Result<PathBuf> {
    let target_dir = root.join("target/front");
    cargo(
        root,
        &["build", "--package=frontend", "--lib", "--target=wasm32-unknown-unknown", "--profile=wasm-release", "--no-default-features"],
        Some(&target_dir),
    )?;
    Ok(target_dir.join("wasm32-unknown-unknown/wasm-release/frontend.wasm"))
}

fn cargo(root: &Path, args: &[&str], target_dir: Option<&Path>) -> Result {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root).args(args).env("LEPTOS_OUTPUT_NAME", NAME);
    if let Some(dir) = target_dir {
        command.arg("--target-dir").arg(dir);
    }
    let status = command.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    status.success().then_some(()).ok_or_else(|| format!("cargo {} failed ({status})", args.join(" ")))
}

/// wasm-bindgen, wasm-opt and terser, unless `wasm` is the one the site's files were made from.
fn bindgen(root: &Path, wasm: &Path, files: &mut Site) -> Result {
    let out = root.join("target/front/bindgen");
    let (js, optimized) = (out.join(format!("{NAME}.min.js")), out.join(format!("{NAME}.wasm")));
    derived(&out, &read(wasm)?, &[&js, &optimized], || {
        let started = Instant::now();
        wasm_bindgen_cli_support::Bindgen::new()
            .input_path(wasm)
            .out_name(NAME)
            .web(true)
            .map_err(|e| e.to_string())?
            .typescript(false)
            .generate(&out)
            .map_err(|e| format!("wasm-bindgen failed: {e}"))?;
        step("wasm-bindgen done", started);
        let bound = out.join(format!("{NAME}_bg.wasm"));
        tool("wasm-opt", Command::new("wasm-opt").args(["-Oz", "--enable-bulk-memory", "--enable-nontrapping-float-to-int"]).arg(&bound).arg("-o").arg(&optimized))?;
        step("wasm-opt done", started);
        tool("terser", Command::new("terser").arg(out.join(format!("{NAME}.js"))).args(["--module", "--compress", "--mangle", "-o"]).arg(&js))
    })?;
    files.put(&format!("pkg/{NAME}.js"), &read(&js)?)?;
    files.put(&format!("pkg/{NAME}.wasm"), &read(&optimized)?)
}

/// The style sheet, minified by csso unless it is the one the site's was made from.
fn style(root: &Path, files: &mut Site) -> Result {
    let out = root.join("target/front/style");
    let (source, minified) = (root.join("style/main.css"), out.join(format!("{NAME}.css")));
    derived(&out, &read(&source)?, &[&minified], || tool("csso", Command::new("csso").arg(&source).arg("-o").arg(&minified)))?;
    files.put(&format!("pkg/{NAME}.css"), &read(&minified)?)
}

/// Runs `make` to turn `input` into `outputs` in `dir`, unless they were made from these very
/// bytes (a fingerprint of them is kept in `dir`).
fn derived(dir: &Path, input: &[u8], outputs: &[&Path], make: impl FnOnce() -> Result) -> Result {
    let fingerprint = {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        input.hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    };
    let stamp = dir.join("input.hash");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(fingerprint.as_str()) && outputs.iter().all(|o| o.exists()) {
        return Ok(());
    }
    let _ = std::fs::remove_file(&stamp);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    make()?;
    write(&stamp, fingerprint.as_bytes())
}

/// Runs one of the npm tools `make tools` puts in `.tools/`.
fn tool(name: &str, command: &mut Command) -> Result {
    let status = command.status().map_err(|e| format!("cannot run {name} (`make tools` installs it into .tools/): {e}"))?;
    status.success().then_some(()).ok_or_else(|| format!("{name} failed ({status})"))
}

/// The site directory as it is being made: what was put there, and how much changed.
struct Site {
    root: PathBuf,
    kept: BTreeSet<PathBuf>,
    written: usize,
}

impl Site {
    /// `bytes` at `name`, with its `.br` and `.gz`; files already holding them stay untouched.
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result {
        let path = self.root.join(name);
        let unchanged = std::fs::read(&path).is_ok_and(|old| old == bytes);
        let (br, gz) = (with_suffix(&path, ".br"), with_suffix(&path, ".gz"));
        if !unchanged || !br.exists() || !gz.exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            write(&path, bytes)?;
            write(&br, &brotli(bytes)?)?;
            write(&gz, &gzip(bytes)?)?;
            self.written += 1;
        }
        self.kept.extend([path, br, gz]);
        Ok(())
    }

    /// Removes what an earlier build left and this one did not make.
    fn remove_the_rest(&self) -> Result {
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))? {
                let path = entry.map_err(|e| e.to_string())?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if !self.kept.contains(&path) {
                    std::fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
                }
            }
        }
        Ok(())
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        writer.write_all(bytes).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).map_err(|e| e.to_string())?;
    encoder.finish().map_err(|e| e.to_string())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
