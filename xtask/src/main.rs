//! `cargo run -p xtask -- build`: Hearth's release binary with its whole web UI inside, built
//! with cargo and the `wasm-bindgen` library alone.
//!
//! 1. `frontend` for wasm32 (profile `wasm-release`, target dir `target/front`);
//! 2. the wasm split at its lazy functions (leptos's lazy routes, `wasm_split`) into the main
//!    module and chunks fetched when needed, wasm-bindgen (the library, at the version the
//!    front end links) on the main module, `wasm-opt` (`-Os`, then flattened and re-relooped) on every module and terser over the
//!    JS — all skipped when the wasm is byte for byte the one the site was made from; csso over
//!    `style/main.css` likewise (the npm tools are on PATH from `.tools/`);
//! 3. the site in `target/site`: `pkg/hearth.<hash>.{js,wasm,css}`, the chunks and their
//!    loader, named after a hash of them all, and `public/`, each with `.br` and `.gz` beside
//!    it; a file is written only when its bytes change, and nothing else is left there;
//! 4. `server` in release, which embeds `target/site`.
//!
//! `cargo run -p xtask -- size` prints what the first page load weighs and fails when it is
//! over the budget (`make test` runs it).
//!
//! Because unchanged files keep their modification times, a second build with nothing changed
//! rebuilds nothing, and a change to `style/` or `public/` rebuilds only the server.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use sha2::{Digest, Sha256};

const NAME: &str = "hearth";

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["build"] => build(true),
        ["site"] => build(false),
        ["size"] => size(),
        _ => Err("usage: cargo run -p xtask -- build | site | size\n  build  the site, then the release binary\n  site   the site only (target/site)\n  size   the first load's size, checked against the budget".into()),
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
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn build(with_server: bool) -> Result {
    let root = root();
    let started = Instant::now();
    let wasm = front(&root)?;
    let site = root.join("target/site");
    let mut files = Site {
        root: site.clone(),
        kept: BTreeSet::new(),
        written: 0,
    };
    hashed(bindgen(&root, &wasm)?, style(&root)?, &mut files)?;
    for entry in read_dir(&root.join("public"))? {
        let name = entry
            .file_name()
            .ok_or("a public file has no name")?
            .to_string_lossy()
            .into_owned();
        files.put(&name, &read(&entry)?)?;
    }
    files.remove_the_rest()?;
    step(
        &format!(
            "site ready in target/site ({} files written)",
            files.written
        ),
        started,
    );
    if with_server {
        cargo(
            &root,
            &["build", "--release", "--package=server", "--bin=hearth"],
            None,
        )?;
        step("target/release/hearth ready", started);
    }
    Ok(())
}

/// The budget for the first load: what the browser fetches before the first page is
/// interactive, compressed (DESIGN.md).
const FIRST_LOAD_BUDGET: u64 = 300_000;

/// Prints the first load's size per file (brotli and gzip) and the chunks fetched later;
/// fails when the first load is over the budget.
fn size() -> Result {
    let pkg = root().join("target/site/pkg");
    let mut first = Vec::new();
    let mut later = Vec::new();
    for path in read_dir(&pkg)? {
        let name = path
            .file_name()
            .ok_or("a file has no name")?
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".br") || name.ends_with(".gz") || name.ends_with(".json") {
            continue;
        }
        // The main module, its JS, the style sheet, and the chunk loader the JS imports.
        let up_front = name.starts_with(&format!("{NAME}.")) || name.starts_with("__wasm_split.");
        let sizes = [".br", ".gz"].map(|ext| {
            std::fs::metadata(with_suffix(&path, ext))
                .map(|m| m.len())
                .unwrap_or(0)
        });
        if up_front {
            first.push((name, sizes))
        } else {
            later.push((name, sizes))
        }
    }
    if !first.iter().any(|(n, _)| n.ends_with(".wasm")) {
        return Err("no built site in target/site (run `make build`)".into());
    }
    let total = |files: &[(String, [u64; 2])]| {
        files
            .iter()
            .fold([0, 0], |t, (_, s)| [t[0] + s[0], t[1] + s[1]])
    };
    println!("first load (before the page is interactive):");
    for (name, [br, gz]) in &first {
        println!("  {name:<44} {br:>9} B brotli {gz:>9} B gzip");
    }
    let [br, gz] = total(&first);
    println!(
        "  {:<44} {br:>9} B brotli {gz:>9} B gzip   (budget {FIRST_LOAD_BUDGET} B brotli)",
        "total"
    );
    let [later_br, _] = total(&later);
    println!(
        "fetched when needed: {} chunks, {later_br} B brotli in all; the largest:",
        later.len()
    );
    later.sort_by_key(|(_, [br, _])| std::cmp::Reverse(*br));
    for (name, [br, _]) in later.iter().take(6) {
        println!("  {name:<72} {br:>9} B brotli");
    }
    match br <= FIRST_LOAD_BUDGET {
        true => Ok(()),
        false => Err(format!(
            "the first load is {br} B brotli, over the budget of {FIRST_LOAD_BUDGET} B"
        )),
    }
}

fn step(what: &str, since: Instant) {
    eprintln!("xtask: {what} [{:.1} s]", since.elapsed().as_secs_f64());
}

/// Builds `frontend` for the browser; returns its wasm.
fn front(root: &Path) -> Result<PathBuf> {
    let target_dir = root.join("target/front");
    cargo(
        root,
        &[
            "build",
            "--package=frontend",
            "--lib",
            "--target=wasm32-unknown-unknown",
            "--profile=wasm-release",
            "--no-default-features",
        ],
        Some(&target_dir),
    )?;
    Ok(target_dir.join("wasm32-unknown-unknown/wasm-release/frontend.wasm"))
}

fn cargo(root: &Path, args: &[&str], target_dir: Option<&Path>) -> Result {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(args)
        .env("LEPTOS_OUTPUT_NAME", NAME);
    if let Some(dir) = target_dir {
        command.arg("--target-dir").arg(dir);
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("cargo {} failed ({status})", args.join(" ")))
}

/// The name the split tool gives the module that loads split-off chunks; the 22 underscores
/// are replaced by the build's hash, in the JS and (same length) in the wasm that imports it.
const LOADER_PLACEHOLDER: &str = "__wasm_split.______________________.js";

/// What the front end's wasm becomes, before names get the build's hash: the main module
/// and its JS, the chunks loaded on demand (`#[lazy]` code), the JS that loads them, and which
/// chunks each lazy function needs.
struct Front {
    js: Vec<u8>,
    wasm: Vec<u8>,
    loader: Vec<u8>,
    chunks: Vec<(String, Vec<u8>)>,
    manifest: BTreeMap<String, Vec<String>>,
}

/// Splits the wasm at its `#[lazy]` functions, then wasm-bindgen, wasm-opt (each module, in
/// parallel) and terser — all skipped when `wasm` is the one the last run was made from.
fn bindgen(root: &Path, wasm: &Path) -> Result<Front> {
    let dir = root.join("target/front/bindgen");
    let out = dir.join("out");
    derived(&dir, &read(wasm)?, &[&out.join("manifest.json")], || {
        let started = Instant::now();
        let split_dir = dir.join("split");
        let _ = std::fs::remove_dir_all(&split_dir);
        let _ = std::fs::remove_dir_all(&out);
        for d in [&split_dir, &out] {
            std::fs::create_dir_all(d)
                .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        let input = read(wasm)?;
        let main = split_dir.join("main.wasm");
        let link_name = format!("./{LOADER_PLACEHOLDER}");
        let split = wasm_split_cli_support::transform({
            let mut opts = wasm_split_cli_support::Options::new(&input);
            opts.output_dir = &split_dir;
            opts.main_out_path = &main;
            opts.main_module = "./hearth.js";
            opts.link_name = &link_name;
            opts
        })
        .map_err(|e| format!("splitting the wasm failed: {e:#}"))?;
        drop(input);
        step(
            &format!("wasm split into {} chunks", split.split_modules.len()),
            started,
        );

        let bound = dir.join("bound");
        wasm_bindgen_cli_support::Bindgen::new()
            .input_path(&main)
            .out_name(NAME)
            .web(true)
            .map_err(|e| e.to_string())?
            .typescript(false)
            .keep_lld_exports(true)
            .demangle(false)
            .generate(&bound)
            .map_err(|e| format!("wasm-bindgen failed: {e}"))?;
        step("wasm-bindgen done", started);

        let mut modules = vec![(
            bound.join(format!("{NAME}_bg.wasm")),
            out.join(format!("{NAME}.wasm")),
        )];
        for chunk in &split.split_modules {
            let name = chunk.file_name().ok_or("a chunk has no name")?;
            modules.push((chunk.clone(), out.join(name)));
        }
        std::thread::scope(|scope| {
            let runs: Vec<_> = modules
                .iter()
                .map(|(from, to)| {
                    scope.spawn(move || {
                        tool(
                            "wasm-opt",
                            Command::new("wasm-opt")
                                // `-Os`, then flattened and re-relooped control flow, optimised
                                // again until it stops shrinking: about 1 % less after brotli
                                // than `-Os` alone, for half a minute more on the main module.
                                .args([
                                    "-Os",
                                    "--flatten",
                                    "--rereloop",
                                    "-Os",
                                    "--converge",
                                    "--enable-bulk-memory",
                                    "--enable-nontrapping-float-to-int",
                                ])
                                .arg(from)
                                .arg("-o")
                                .arg(to),
                        )
                    })
                })
                .collect();
            runs.into_iter()
                .try_for_each(|run| run.join().map_err(|_| "wasm-opt panicked".to_string())?)
        })?;
        step("wasm-opt done", started);

        let terser = |from: &Path, to: &Path| {
            tool(
                "terser",
                Command::new("terser")
                    .arg(from)
                    .args(["--module", "--compress", "--mangle", "-o"])
                    .arg(to),
            )
        };
        terser(
            &bound.join(format!("{NAME}.js")),
            &out.join(format!("{NAME}.js")),
        )?;
        // A chunk's fetch that fails while the chunks it depends on are still loading would be
        // an unhandled rejection; the load reports the failure (the Rust side gets `Err`).
        let loader = split_dir.join(LOADER_PLACEHOLDER);
        let mut text = read(&loader)?;
        if !split.split_modules.is_empty() {
            text = replace(
                &text,
                b", import.meta.url));",
                b", import.meta.url)); src.catch(() => {});",
                "the loader",
            )?;
        }
        write(&loader, &text)?;
        terser(&loader, &out.join("loader.js"))?;
        let manifest: BTreeMap<_, _> = split.prefetch_map.into_iter().collect();
        write(
            &out.join("manifest.json"),
            &serde_json::to_vec(&manifest).map_err(|e| e.to_string())?,
        )
    })?;

    let mut chunks = Vec::new();
    for path in read_dir(&out)? {
        let name = path
            .file_name()
            .ok_or("an output has no name")?
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = name.strip_suffix(".wasm").filter(|s| *s != NAME) {
            chunks.push((stem.to_owned(), read(&path)?));
        }
    }
    Ok(Front {
        js: read(&out.join(format!("{NAME}.js")))?,
        wasm: read(&out.join(format!("{NAME}.wasm")))?,
        loader: read(&out.join("loader.js"))?,
        chunks,
        manifest: serde_json::from_slice(&read(&out.join("manifest.json"))?)
            .map_err(|e| format!("unreadable split manifest: {e}"))?,
    })
}

/// Puts the front end and the style sheet in the site under names that carry the build's
/// hash (`pkg/hearth.<hash>.js`, `.wasm`, `.css`; `pkg/<chunk>.<hash>.wasm`; the loader), with
/// the references between them rewritten to match: those URLs can be cached for good.
fn hashed(front: Front, css: Vec<u8>, files: &mut Site) -> Result {
    let mut hasher = Sha256::new();
    for part in [&front.js, &front.wasm, &front.loader, &css] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    for (name, bytes) in &front.chunks {
        hasher.update(name.as_bytes());
        hasher.update(bytes);
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let hash = &digest[..12];
    // The same length as the placeholder: the wasm's import section names it.
    let loader_name = format!("__wasm_split.{}.js", &digest[..22]);

    let js = replace(
        &front.js,
        LOADER_PLACEHOLDER.as_bytes(),
        loader_name.as_bytes(),
        "the JS",
    )?;
    let wasm = replace(
        &front.wasm,
        LOADER_PLACEHOLDER.as_bytes(),
        loader_name.as_bytes(),
        "the wasm",
    )?;
    let mut loader = replace(
        &front.loader,
        format!("./{NAME}.js").as_bytes(),
        format!("./{NAME}.{hash}.js").as_bytes(),
        "the loader",
    )?;
    for (stem, bytes) in &front.chunks {
        loader = replace(
            &loader,
            format!("./{stem}.wasm").as_bytes(),
            format!("./{stem}.{hash}.wasm").as_bytes(),
            "the loader",
        )?;
        files.put(&format!("pkg/{stem}.{hash}.wasm"), bytes)?;
    }
    let manifest: BTreeMap<String, Vec<String>> = front
        .manifest
        .into_iter()
        .map(|(split, stems)| {
            (
                split,
                stems.into_iter().map(|s| format!("{s}.{hash}")).collect(),
            )
        })
        .collect();
    files.put(&format!("pkg/{NAME}.{hash}.js"), &js)?;
    files.put(&format!("pkg/{NAME}.{hash}.wasm"), &wasm)?;
    files.put(&format!("pkg/{loader_name}"), &loader)?;
    files.put(&format!("pkg/{NAME}.{hash}.css"), &css)?;
    files.put(
        "pkg/split-manifest.json",
        &serde_json::to_vec(&manifest).map_err(|e| e.to_string())?,
    )
}

/// `haystack` with every `from` replaced by `to`; an error if there is none (the build's
/// outputs no longer look as this tool expects).
fn replace(haystack: &[u8], from: &[u8], to: &[u8], what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(haystack.len());
    let (mut rest, mut found) = (haystack, false);
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
        found = true;
    }
    out.extend_from_slice(rest);
    found
        .then_some(out)
        .ok_or_else(|| format!("{what} does not mention {}", String::from_utf8_lossy(from)))
}

/// The style sheet, minified by csso unless it is the one the site's was made from.
fn style(root: &Path) -> Result<Vec<u8>> {
    let out = root.join("target/front/style");
    let (source, minified) = (root.join("style/main.css"), out.join(format!("{NAME}.css")));
    derived(&out, &read(&source)?, &[&minified], || {
        tool(
            "csso",
            Command::new("csso").arg(&source).arg("-o").arg(&minified),
        )
    })?;
    read(&minified)
}

/// Runs `make` to turn `input` into `outputs` in `dir`, unless they were made from these very
/// bytes (a fingerprint of them is kept in `dir`).
fn derived(dir: &Path, input: &[u8], outputs: &[&Path], make: impl FnOnce() -> Result) -> Result {
    let fingerprint = {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        input.hash(&mut hasher);
        // A change to this tool may change what it makes from the same input.
        include_str!("main.rs").hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    };
    let stamp = dir.join("input.hash");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(fingerprint.as_str())
        && outputs.iter().all(|o| o.exists())
    {
        return Ok(());
    }
    let _ = std::fs::remove_file(&stamp);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    make()?;
    write(&stamp, fingerprint.as_bytes())
}

/// Runs one of the npm tools `make tools` puts in `.tools/`.
fn tool(name: &str, command: &mut Command) -> Result {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {name} (`make tools` installs it into .tools/): {e}"))?;
    std::io::stdout()
        .write_all(&output.stdout)
        .map_err(|e| e.to_string())?;
    // wasm-opt does not read one kind of name subsection (id 3, label names) that the split
    // chunks keep, and warns about it for every chunk; nothing is wrong.
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stderr
        .lines()
        .filter(|l| !l.starts_with("warning: unknown name subsection with id"))
    {
        eprintln!("{line}");
    }
    output
        .status
        .success()
        .then_some(())
        .ok_or_else(|| format!("{name} failed ({})", output.status))
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
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
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
            for entry in std::fs::read_dir(&dir)
                .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            {
                let path = entry.map_err(|e| e.to_string())?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if !self.kept.contains(&path) {
                    std::fs::remove_file(&path)
                        .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
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
    for entry in
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?
    {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
