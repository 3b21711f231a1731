//! vfsync: the end-to-end-encrypted repository format, its crypto and the sync engine.
//!
//! The format is specified in `docs/sync-format.md`; the section numbers in comments refer to it.
//! The crate has no I/O of its own: the server is reached through the [`Remote`] trait and the
//! local directory through the [`LocalTree`] trait, so the same engine runs in the `vfsync`
//! command (tokio + reqwest + std::fs) and in a browser (fetch + the guest's 9p home). It builds
//! for `wasm32-unknown-unknown`.
//!
//! Layers, bottom up: [`crypto`] (keys, blob and head sealing), [`manifest`] (the tree),
//! [`chunk`] (content-defined chunking), [`remote`] / [`local`] (the two sides), [`engine`]
//! (update, commit, status, log, restore).

pub mod chunk;
pub mod client;
pub mod crypto;
pub mod engine;
pub mod error;
pub mod id;
pub mod local;
pub mod manifest;
pub mod mem;
pub mod remote;
pub mod state;

pub use client::{Client, HttpRemote, SignInError, Transport};
pub use crypto::{BlobKind, KdfParams, MasterKey, PasswordKey, RepoKeys, MIN_ITERATIONS};
pub use engine::{
    log, restore, status, sync, update, Conflict, ConflictReason, LogEntry, Observer, Progress,
    RestoreReport, Status, SyncOptions, SyncReport,
};
pub use error::{Error, LocalError, RemoteError, Result};
pub use id::BlobId;
pub use local::{LocalEntry, LocalKind, LocalTree};
pub use manifest::{Entry, EntryKind, Manifest};
pub use mem::{MemRemote, MemTree};
pub use remote::{HeadWrite, Remote, RevisionInfo, StoredHead};

/// The format version this crate reads and writes (docs/sync-format.md section 2).
pub const FORMAT_VERSION: u8 = 1;
