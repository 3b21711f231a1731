//! The static page (`--web DIR`, docs/sync-api.md section 4): files served by tower-http's
//! `ServeDir`, with the headers a page of WebAssembly needs added here.
//!
//! - `Content-Type`: `.wasm` is `application/wasm` (required by
//!   `WebAssembly.instantiateStreaming`), `.js` and `.mjs` are `text/javascript` (required for
//!   module scripts and workers).
//! - Caching: a file whose name carries a content hash (`NAME-<16 hex digits>.EXT` or
//!   `NAME-<16 hex>_bg.wasm`, as Trunk names its outputs) never changes under that name:
//!   `Cache-Control: public, max-age=31536000, immutable`. Everything else (`index.html`, the
//!   worker's fixed names, images) is `no-cache`: the browser keeps it but revalidates each use,
//!   with an `ETag` (`If-None-Match` → 304) and `Last-Modified` (`If-Modified-Since` → 304).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// `Cache-Control` of files whose name holds a content hash.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of every other static file.
pub const REVALIDATE: &str = "no-cache";

/// The file under `dir` that a request for `path` serves, if `path` is a plain one: `/` and
/// the checkout URLs `/u/USER/REPO` serve `index.html`, a path ending in `/` its `index.html`.
/// Percent-escapes are decoded; a path with an empty, `.` or `..` component, a backslash or a
/// NUL gives `None` (the file server then answers it, with an error).
pub fn file_for(dir: &Path, path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let rel = decoded.strip_prefix('/')?;
    let segments: Vec<&str> = rel.split('/').collect();
    if matches!(segments.as_slice(), ["u", user, repo] if !user.is_empty() && !repo.is_empty()) {
        return Some(dir.join("index.html"));
    }
    let mut out = dir.to_path_buf();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() && i == last {
            out.push("index.html");
            break;
        }
        if seg.is_empty() || *seg == "." || *seg == ".." || seg.contains(['\\', '\0']) {
            return None;
        }
        out.push(seg);
    }
    Some(out)
}

/// Whether a file name carries a content hash: `-` then 16 lowercase hex digits, then `.` or
/// `_` (e.g. `vf-page-adf6d124b1b46dda.js`, `vf-page-adf6d124b1b46dda_bg.wasm`).
pub fn is_hashed(name: &str) -> bool {
    name.match_indices('-').any(|(i, _)| {
        let rest = &name[i + 1..];
        rest.len() > 16
            && rest.as_bytes()[..16]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            && matches!(rest.as_bytes()[16], b'.' | b'_')
    })
}

/// The `Content-Type` this module insists on for a file name, if any.
fn forced_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1;
    match ext {
        "wasm" => Some("application/wasm"),
        "js" | "mjs" => Some("text/javascript"),
        _ => None,
    }
}

/// A strong validator from the file's size and modification time (nanoseconds).
fn etag(meta: &std::fs::Metadata) -> Option<HeaderValue> {
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    HeaderValue::from_str(&format!("\"{:x}-{:x}\"", meta.len(), mtime.as_nanos())).ok()
}

/// Whether an `If-None-Match` value names `tag` (or is `*`); weak tags compare by their value.
fn none_match_hits(if_none_match: &HeaderValue, tag: &HeaderValue) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    let want = tag.to_str().unwrap_or_default();
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == want)
}

/// Middleware around the file server: ETags, conditional requests on them, caching headers and
/// content types (see the module documentation).
pub async fn static_headers(
    State(dir): State<Arc<PathBuf>>,
    mut req: Request,
    next: Next,
) -> Response {
    let file = file_for(&dir, req.uri().path());
    let name = file
        .as_ref()
        .and_then(|f| f.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let meta = match &file {
        Some(f) => tokio::fs::metadata(f).await.ok().filter(|m| m.is_file()),
        None => None,
    };
    let tag = meta.as_ref().and_then(etag);
    let cache = HeaderValue::from_static(if is_hashed(&name) {
        IMMUTABLE
    } else {
        REVALIDATE
    });
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    if let (Some(tag), true) = (&tag, read) {
        if let Some(inm) = req.headers().get(header::IF_NONE_MATCH) {
            if none_match_hits(inm, tag) {
                let mut resp = StatusCode::NOT_MODIFIED.into_response();
                resp.headers_mut().insert(header::ETAG, tag.clone());
                resp.headers_mut().insert(header::CACHE_CONTROL, cache);
                return resp;
            }
            // An If-None-Match that does not match overrides If-Modified-Since (RFC 9110
            // section 13.2.2): the file server must send the file.
            req.headers_mut().remove(header::IF_MODIFIED_SINCE);
        }
    }
    let mut resp = next.run(req).await;
    let status = resp.status();
    let h = resp.headers_mut();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        if let Some(tag) = tag {
            h.insert(header::ETAG, tag);
        }
        h.insert(header::CACHE_CONTROL, cache);
        if status.is_success() {
            if let Some(ct) = forced_type(&name) {
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            }
        }
    } else {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_files() {
        let d = Path::new("/srv/web");
        let f = |p: &str| file_for(d, p).map(|p| p.to_string_lossy().into_owned());
        assert_eq!(f("/").as_deref(), Some("/srv/web/index.html"));
        assert_eq!(f("/u/alice/home").as_deref(), Some("/srv/web/index.html"));
        assert_eq!(f("/app.wasm").as_deref(), Some("/srv/web/app.wasm"));
        assert_eq!(f("/xterm/").as_deref(), Some("/srv/web/xterm/index.html"));
        assert_eq!(f("/a%20b.js").as_deref(), Some("/srv/web/a b.js"));
        for bad in [
            "/../etc/passwd",
            "/a/../../x",
            "/%2e%2e/x",
            "/a//b",
            "/./a",
            "/a%5cb",
            "/a%00b",
            "/%ff",
            "relative",
        ] {
            assert_eq!(f(bad), None, "{bad}");
        }
    }

    #[test]
    fn hashed_names() {
        for yes in [
            "vf-page-adf6d124b1b46dda.js",
            "vf-page-adf6d124b1b46dda_bg.wasm",
            "page-9ba225172e274061.css",
        ] {
            assert!(is_hashed(yes), "{yes}");
        }
        for no in [
            "index.html",
            "vf-worker.js",
            "vf-worker_bg.wasm",
            "a-adf6d124b1b46dd.js",
            "a-ADF6D124B1B46DDA.js",
            "a-adf6d124b1b46ddag.js",
            "a-adf6d124b1b46dda",
        ] {
            assert!(!is_hashed(no), "{no}");
        }
    }

    #[test]
    fn if_none_match() {
        let tag = HeaderValue::from_static("\"5-10\"");
        let hit = |v: &'static str| none_match_hits(&HeaderValue::from_static(v), &tag);
        assert!(hit("\"5-10\""));
        assert!(hit("W/\"5-10\""));
        assert!(hit("\"x\", \"5-10\""));
        assert!(hit("*"));
        assert!(!hit("\"5-11\""));
        assert!(!hit(""));
    }
}
