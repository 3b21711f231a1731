//! Which storage server the home talks to.
//!
//! In order: the page's `?sync=URL` parameter, the VM config's `sync` key, the page's own
//! origin (the page is normally served by `vfsync-server --web dist`, which also answers the
//! API). A relative value is resolved against the page's URL (docs/vm-config.md, `sync`). The
//! result is the server's base URL (`/api/v1/...` is appended to it), without a trailing `/`,
//! query or fragment.

use url::Url;

/// Why a server URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerUrlError {
    /// Not a URL (even relative to where it came from).
    #[error("{from} = {value:?} is not a URL: {reason}")]
    NotAUrl {
        /// Where the value came from (`?sync`, the config's `sync`, the page).
        from: &'static str,
        /// The value.
        value: String,
        /// The parser's message.
        reason: String,
    },
    /// Not http or https.
    #[error("{from} = {value:?}: the storage server must be an http or https URL")]
    Scheme {
        /// Where the value came from.
        from: &'static str,
        /// The value.
        value: String,
    },
}

fn resolve(from: &'static str, value: &str, base: Option<&Url>) -> Result<String, ServerUrlError> {
    let parsed = match base {
        Some(b) => b.join(value),
        None => Url::parse(value),
    };
    let mut u = parsed.map_err(|e| ServerUrlError::NotAUrl {
        from,
        value: value.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(ServerUrlError::Scheme {
            from,
            value: value.to_owned(),
        });
    }
    u.set_query(None);
    u.set_fragment(None);
    Ok(u.as_str().trim_end_matches('/').to_owned())
}

/// The storage server's base URL. `page` is the page's URL, `param` the value of its `?sync=`
/// parameter, `config` the config's `sync` value. Empty values count as absent.
pub fn server_url(
    page: &str,
    param: Option<&str>,
    config: Option<&str>,
) -> Result<String, ServerUrlError> {
    let page_url = Url::parse(page).map_err(|e| ServerUrlError::NotAUrl {
        from: "the page's URL",
        value: page.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(page_url.scheme(), "http" | "https") {
        return Err(ServerUrlError::Scheme {
            from: "the page's URL",
            value: page.to_owned(),
        });
    }
    if let Some(p) = param.filter(|s| !s.is_empty()) {
        return resolve("?sync", p, Some(&page_url));
    }
    if let Some(c) = config.filter(|s| !s.is_empty()) {
        return resolve("the config's sync", c, Some(&page_url));
    }
    let origin = page_url.origin().ascii_serialization();
    resolve("the page's origin", &origin, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "http://127.0.0.1:8080/index.html?config=x.json#top";

    #[test]
    fn the_page_origin_by_default() {
        assert_eq!(
            server_url(PAGE, None, None).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            server_url("https://example.org/a/b/", Some(""), Some("")).unwrap(),
            "https://example.org"
        );
    }

    #[test]
    fn the_parameter_wins_then_the_config() {
        assert_eq!(
            server_url(PAGE, Some("https://s.example/v/?x=1"), Some("http://c")).unwrap(),
            "https://s.example/v"
        );
        assert_eq!(
            server_url(PAGE, None, Some("http://c.example:99/")).unwrap(),
            "http://c.example:99"
        );
        // Relative values are relative to the page.
        assert_eq!(
            server_url(PAGE, None, Some("store/")).unwrap(),
            "http://127.0.0.1:8080/store"
        );
        assert_eq!(
            server_url(PAGE, None, Some("/")).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            server_url(PAGE, Some("/store"), None).unwrap(),
            "http://127.0.0.1:8080/store"
        );
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(
            server_url(PAGE, Some("ftp://x/"), None),
            Err(ServerUrlError::Scheme {
                from: "?sync",
                value: "ftp://x/".into()
            })
        );
        assert!(matches!(
            server_url(PAGE, None, Some("http://[::1")),
            Err(ServerUrlError::NotAUrl {
                from: "the config's sync",
                ..
            })
        ));
        assert!(matches!(
            server_url("not a url", None, None),
            Err(ServerUrlError::NotAUrl { .. })
        ));
        assert!(matches!(
            server_url("file:///tmp/index.html", None, None),
            Err(ServerUrlError::Scheme { .. })
        ));
    }
}
