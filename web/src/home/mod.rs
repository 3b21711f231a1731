//! The synced home in the browser (docs/vflogin.md, issue 6): the guest's `/home` is a
//! [`vfsync_home::SyncHome`] served by the worker as the 9p share tagged `home`; sign-in, key
//! derivation, encryption and all traffic with the storage server run in the worker, through
//! vfsync-core's HTTP client over `fetch` ([`fetch::FetchTransport`]).
//!
//! | module | what | where |
//! |---|---|---|
//! | [`server`] | which storage server: `?sync=URL`, else the config's `sync`, else the page's origin | both |
//! | [`status`] | the sync state shown on the page ([`status::SyncStatus`]) and its parser | both |
//! | [`shared`] | the home shared by the 9p server and the worker ([`shared::SharedHome`]), control commands | both |
//! | `fetch` | the `fetch` transport (gloo-net) for vfsync-core's HTTP client | wasm32 |
//! | `idb` | IndexedDB as the home's local store: unsynced changes survive a reload | wasm32 |
//! | `driver` | the worker side: the 9p device, jobs, the 1 s tick, status messages | wasm32 |
//! | `panel` | the page side: the `#sync-status` panel | wasm32 |
//!
//! The modules without browser types build and are tested natively.

pub mod server;
pub mod shared;
pub mod status;

pub use status::SyncStatus;

#[cfg(target_arch = "wasm32")]
pub mod driver;
#[cfg(target_arch = "wasm32")]
pub mod fetch;
#[cfg(target_arch = "wasm32")]
pub mod idb;
#[cfg(target_arch = "wasm32")]
pub mod panel;

/// The mount tag of the home's 9p share (the guest's init mounts it at `/home`).
pub const HOME_TAG: &str = "home";

/// What the page tells the worker about the home (inside
/// [`ToWorker::Home`](crate::proto::ToWorker::Home), tagged by `home`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "home", rename_all = "snake_case")]
pub enum HomeRequest {
    /// The page's URL (sent before `boot`): its origin and `?sync=` choose the server.
    Page {
        /// `location.href` of the page.
        url: String,
    },
    /// The page was hidden or is being closed: sync now if changes are pending.
    Hidden,
}

/// The board's 9p share entry for the home: one virtio slot after the drives.
pub fn share() -> vf_board::config::Share {
    vf_board::config::Share {
        index: 0,
        file: std::path::PathBuf::from(HOME_TAG),
        tag: HOME_TAG.to_owned(),
    }
}

/// The `?sync=` parameter of a page URL, if any.
pub fn sync_param(page_url: &str) -> Option<String> {
    url::Url::parse(page_url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "sync")
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{FromWorker, ToWorker};

    #[test]
    fn home_messages_round_trip() {
        for r in [
            HomeRequest::Page {
                url: "http://127.0.0.1:1/?sync=http://s".into(),
            },
            HomeRequest::Hidden,
        ] {
            let m = ToWorker::Home(r);
            assert_eq!(ToWorker::decode(&m.encode()).unwrap(), m);
        }
        assert_eq!(
            ToWorker::Home(HomeRequest::Hidden).encode(),
            r#"{"type":"home","home":"hidden"}"#
        );
        let s = status::SyncStatus {
            server: "http://s".into(),
            user: Some("alice".into()),
            last_sync: Some(5),
            version: Some(2),
            pending: true,
            not_fetched: 7,
            busy: false,
            error: Some("x".into()),
            saved: true,
        };
        let m = FromWorker::Sync(s);
        let text = m.encode();
        assert!(
            text.starts_with(r#"{"type":"sync","server":"http://s","user":"alice""#),
            "{text}"
        );
        assert_eq!(FromWorker::decode(&text).unwrap(), m);
        assert!(ToWorker::decode(r#"{"type":"home","home":"reboot"}"#).is_err());
    }

    #[test]
    fn the_sync_parameter() {
        assert_eq!(
            sync_param("http://p/?config=a&sync=http%3A%2F%2Fs%3A9").as_deref(),
            Some("http://s:9")
        );
        assert_eq!(sync_param("http://p/?config=a"), None);
        assert_eq!(sync_param("nonsense"), None);
    }

    #[test]
    fn the_share_is_tagged_home() {
        assert_eq!(share().tag, "home");
    }
}
