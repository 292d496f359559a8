//! The site (wasm, JS, CSS, `public/`) embedded in the binary and served from memory.
//!
//! The build (`xtask`) names its files after a hash of their contents — `/pkg/hearth.<hash>.js`,
//! `.wasm`, `.css`, the wasm chunks loaded on demand and the JS that loads them: those URLs are
//! cached for a year; any other asset is revalidated by ETag. Precompressed `.br`/`.gz`
//! variants are served when accepted.
//! Never reads the filesystem in a release build, and never serves a path with `..`.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "../target/site/"]
#[allow_missing = true]
struct Site;

/// The name the build gives the site's JS, wasm and CSS (`xtask`).
const OUTPUT_NAME: &str = "hearth";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub struct Assets {
    /// The build's hash, as it appears in its file names.
    hash: String,
    /// Whether the hydration wasm is embedded (a binary built without `make build` lacks it).
    pub has_wasm: bool,
    /// Which wasm chunks each lazily loaded part of the app needs (`pkg/split-manifest.json`),
    /// and the JS that loads them: a page links them for preloading.
    pub split_manifest: HashMap<String, Vec<String>>,
    pub split_loader: Option<String>,
}

impl Assets {
    pub fn load() -> Assets {
        let built = |ext: &str| Site::iter().find_map(|path| build_hash(&path, ext));
        let wasm = built(".wasm");
        let has_wasm = wasm.is_some();
        let hash = wasm
            .or_else(|| built(".css"))
            .unwrap_or_else(|| "0".repeat(12));
        let split_manifest = Site::get("pkg/split-manifest.json")
            .and_then(|f| serde_json::from_slice(&f.data).ok())
            .unwrap_or_default();
        let split_loader = Site::iter().find_map(|p| {
            p.strip_prefix("pkg/")
                .filter(|n| n.starts_with("__wasm_split.") && n.ends_with(".js"))
                .map(str::to_owned)
        });
        Assets {
            hash,
            has_wasm,
            split_manifest,
            split_loader,
        }
    }

    /// The output name the page shell uses for the build's files: `hearth.<hash>`.
    pub fn output_name(&self) -> String {
        format!("{OUTPUT_NAME}.{}", self.hash)
    }

    /// The response for an embedded file at `path` (URL path), or `None` if there is none.
    pub fn serve(&self, path: &str, request_headers: &HeaderMap) -> Option<Response> {
        let path = path.trim_start_matches('/');
        if path.is_empty()
            || path.split('/').any(|seg| seg == ".." || seg.is_empty())
            || path.contains('\\')
        {
            return None;
        }
        let cache = match path.starts_with("pkg/") && path.contains(&self.hash) {
            true => IMMUTABLE,
            false => REVALIDATE,
        };
        let (path, original) = [Some(path.to_owned()), wasm_alias(path)]
            .into_iter()
            .flatten()
            .find_map(|p| Site::get(&p).map(|f| (p, f)))?;
        let mime = original.metadata.mimetype().to_owned();

        let accepted = accepted_encodings(request_headers);
        let (file, encoding) = [("br", ".br"), ("gzip", ".gz")]
            .into_iter()
            .filter(|(name, _)| accepted.contains(name))
            .find_map(|(name, ext)| Site::get(&format!("{path}{ext}")).map(|f| (f, Some(name))))
            .unwrap_or((original, None));

        let etag = format!(
            "\"{}{}\"",
            &hex::encode(file.metadata.sha256_hash())[..16],
            encoding.map(|e| format!("-{e}")).unwrap_or_default()
        );
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        if let Ok(v) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, v);
        }
        if request_headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
        {
            return Some((StatusCode::NOT_MODIFIED, headers).into_response());
        }
        if let Ok(v) = HeaderValue::from_str(&mime) {
            headers.insert(header::CONTENT_TYPE, v);
        }
        if let Some(encoding) = encoding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        Some((headers, Body::from(file.data.into_owned())).into_response())
    }
}

/// The build's hash, if `path` is the build's file `pkg/hearth.<12 hex digits><ext>`.
fn build_hash(path: &str, ext: &str) -> Option<String> {
    let hash = path
        .strip_prefix("pkg/")?
        .strip_prefix(OUTPUT_NAME)?
        .strip_prefix('.')?
        .strip_suffix(ext)?;
    (hash.len() == 12 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hash.to_owned())
}

/// leptos names the wasm `<name>_bg.wasm` unless told otherwise at build time; the build
/// writes `<name>.wasm`: each name also answers for the other.
fn wasm_alias(path: &str) -> Option<String> {
    match path.strip_suffix("_bg.wasm") {
        Some(stem) => Some(format!("{stem}.wasm")),
        None => path
            .strip_suffix(".wasm")
            .map(|stem| format!("{stem}_bg.wasm")),
    }
}

/// The content codings the client accepts (`q=0` means refused).
fn accepted_encodings(headers: &HeaderMap) -> Vec<&str> {
    let Some(value) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return Vec::new();
    };
    value
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next()?;
            let refused = parts
                .any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0));
            (!refused).then_some(coding)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_codings_are_not_accepted() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, br;q=0, deflate;q=0.5"),
        );
        assert_eq!(accepted_encodings(&h), ["gzip", "deflate"]);
    }

    #[test]
    fn each_wasm_name_answers_for_the_other() {
        assert_eq!(
            wasm_alias("pkg/hearth_bg.wasm").as_deref(),
            Some("pkg/hearth.wasm")
        );
        assert_eq!(
            wasm_alias("pkg/hearth.wasm").as_deref(),
            Some("pkg/hearth_bg.wasm")
        );
        assert_eq!(wasm_alias("pkg/hearth.js"), None);
    }

    #[test]
    fn the_build_hash_is_read_from_the_main_files_name_only() {
        assert_eq!(
            build_hash("pkg/hearth.0123456789ab.wasm", ".wasm").as_deref(),
            Some("0123456789ab")
        );
        for other in [
            "pkg/hearth.wasm",
            "pkg/hearth.0123456789ab.js",
            "pkg/hearth.0123456789.wasm",
            "pkg/hearth.0123456789ag.wasm",
            "hearth.0123456789ab.wasm",
            "pkg/split_x.0123456789ab.wasm",
        ] {
            assert_eq!(build_hash(other, ".wasm"), None, "{other}");
        }
    }

    #[test]
    fn traversal_and_empty_paths_are_never_served() {
        let assets = Assets {
            hash: "abc".into(),
            has_wasm: false,
            split_manifest: HashMap::new(),
            split_loader: None,
        };
        for p in [
            "/",
            "/../Cargo.toml",
            "/pkg/../../etc/passwd",
            "/pkg//x",
            "/a\\b",
        ] {
            assert!(assets.serve(p, &HeaderMap::new()).is_none(), "{p}");
        }
    }
}
