//! The site (wasm, JS, CSS, `public/`) embedded in the binary and served from memory.
//!
//! The build's files are addressed as `/pkg/hearth.<hash>.<ext>`, where `<hash>` is taken
//! from their contents at start-up: those URLs are cached for a year; any other asset is
//! revalidated by ETag. Precompressed `.br`/`.gz` variants are served when accepted.
//! Never reads the filesystem in a release build, and never serves a path with `..`.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;
use sha2::{Digest, Sha256};

#[derive(Embed)]
#[folder = "../target/site/"]
#[allow_missing = true]
struct Site;

/// The name the build gives the site's JS, wasm and CSS (`xtask`).
const OUTPUT_NAME: &str = "hearth";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub struct Assets {
    /// A digest of the build's JS, wasm and CSS; part of their URLs.
    hash: String,
    /// `.<hash>`, as it appears in those URLs.
    hashed_infix: String,
    /// Whether the hydration wasm is embedded (a binary built without `make build` lacks it).
    pub has_wasm: bool,
}

impl Assets {
    pub fn load() -> Assets {
        let mut digest = Sha256::new();
        let mut has_wasm = false;
        for ext in ["js", "wasm", "css"] {
            for file in [format!("pkg/{OUTPUT_NAME}.{ext}"), format!("pkg/{OUTPUT_NAME}_bg.{ext}")] {
                if let Some(found) = Site::get(&file) {
                    has_wasm |= ext == "wasm";
                    digest.update(found.metadata.sha256_hash());
                }
            }
        }
        Assets::new(hex::encode(digest.finalize())[..12].to_owned(), has_wasm)
    }

    fn new(hash: String, has_wasm: bool) -> Assets {
        Assets { hashed_infix: format!(".{hash}"), hash, has_wasm }
    }

    /// The output name the page shell uses for the build's files: `hearth.<hash>`.
    pub fn output_name(&self) -> String {
        format!("{OUTPUT_NAME}.{}", self.hash)
    }

    /// The response for an embedded file at `path` (URL path), or `None` if there is none.
    pub fn serve(&self, path: &str, request_headers: &HeaderMap) -> Option<Response> {
        let path = path.trim_start_matches('/');
        if path.is_empty() || path.split('/').any(|seg| seg == ".." || seg.is_empty()) || path.contains('\\') {
            return None;
        }
        let (path, cache) = match path.starts_with("pkg/") && path.contains(&self.hashed_infix) {
            true => (path.replacen(&self.hashed_infix, "", 1), IMMUTABLE),
            false => (path.to_owned(), REVALIDATE),
        };
        let (path, original) =
            [Some(path.clone()), wasm_alias(&path)].into_iter().flatten().find_map(|p| Site::get(&p).map(|f| (p, f)))?;
        let mime = original.metadata.mimetype().to_owned();

        let accepted = accepted_encodings(request_headers);
        let (file, encoding) = [("br", ".br"), ("gzip", ".gz")]
            .into_iter()
            .filter(|(name, _)| accepted.contains(name))
            .find_map(|(name, ext)| Site::get(&format!("{path}{ext}")).map(|f| (f, Some(name))))
            .unwrap_or((original, None));

        let etag = format!("\"{}{}\"", &hex::encode(file.metadata.sha256_hash())[..16], encoding.map(|e| format!("-{e}")).unwrap_or_default());
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        if let Ok(v) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, v);
        }
        if request_headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
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

/// leptos names the wasm `<name>_bg.wasm` unless told otherwise at build time; the build
/// writes `<name>.wasm`: each name also answers for the other.
fn wasm_alias(path: &str) -> Option<String> {
    match path.strip_suffix("_bg.wasm") {
        Some(stem) => Some(format!("{stem}.wasm")),
        None => path.strip_suffix(".wasm").map(|stem| format!("{stem}_bg.wasm")),
    }
}

/// The content codings the client accepts (`q=0` means refused).
fn accepted_encodings(headers: &HeaderMap) -> Vec<&str> {
    let Some(value) = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else { return Vec::new() };
    value
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next()?;
            let refused = parts.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0));
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
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, br;q=0, deflate;q=0.5"));
        assert_eq!(accepted_encodings(&h), ["gzip", "deflate"]);
    }

    #[test]
    fn each_wasm_name_answers_for_the_other() {
        assert_eq!(wasm_alias("pkg/hearth_bg.wasm").as_deref(), Some("pkg/hearth.wasm"));
        assert_eq!(wasm_alias("pkg/hearth.wasm").as_deref(), Some("pkg/hearth_bg.wasm"));
        assert_eq!(wasm_alias("pkg/hearth.js"), None);
    }

    #[test]
    fn traversal_and_empty_paths_are_never_served() {
        let assets = Assets::new("abc".into(), false);
        for p in ["/", "/../Cargo.toml", "/pkg/../../etc/passwd", "/pkg//x", "/a\\b"] {
            assert!(assets.serve(p, &HeaderMap::new()).is_none(), "{p}");
        }
    }
}
