//! vfsync-server: the storage server of vfsync.
//!
//! The HTTP API is specified in docs/sync-api.md; running and operating the server in
//! docs/server.md. The server stores only ciphertext and a slow hash of each user's login secret.
//!
//! Layers: [`names`] validates every name and id that reaches storage; [`store::Store`] is the one
//! storage trait with an embedded and an S3 implementation; [`auth`] does secrets, sessions and
//! invitations; [`api`] is the axum router; [`web`] adds the page's headers to static files.

pub mod api;
pub mod auth;
pub mod error;
pub mod names;
pub mod store;
pub mod web;

use std::sync::atomic::{AtomicU64, Ordering};

pub use api::{router, serve, AppState, Config};
pub use error::{ApiError, StoreError};

/// The server's version, reported by `GET /api/v1/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where the server gets the time (Unix seconds); tests use [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> u64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that moves only when told to.
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(start: u64) -> Self {
        Self(AtomicU64::new(start))
    }
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
