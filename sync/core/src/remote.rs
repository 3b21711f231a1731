//! The server side of the engine: a repository's blobs, head and revisions (docs/sync-api.md).

use crate::error::RemoteError;
use crate::id::BlobId;

/// A head (or an older revision) as the server stores it: its version and opaque data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHead {
    /// The server's version of this head (1 for the first).
    pub version: u64,
    /// The sealed head record (section 6).
    pub data: Vec<u8>,
}

/// The outcome of a head compare-and-swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadWrite {
    /// Written; the new version.
    Written(u64),
    /// Someone else wrote first; the server's current version.
    Stale(u64),
}

/// One entry of the server's revision list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevisionInfo {
    /// The revision's version.
    pub version: u64,
    /// When it was written (Unix seconds, server clock).
    pub time: u64,
    /// Size of its sealed head.
    pub size: u64,
}

/// One repository on a storage server, as seen by a logged-in client.
///
/// Implementations: `MemRemote` (in memory, with tamper hooks, for tests), the HTTP client of the
/// `vfsync` command, and later the browser's fetch client. The futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Remote {
    /// The current head, or `None` when the repository has none yet (version 0).
    async fn get_head(&self) -> Result<Option<StoredHead>, RemoteError>;
    /// Compare-and-swap: writes `data` as version `expected + 1` if the current version is
    /// `expected` (0 when there is no head yet).
    async fn put_head(&self, expected: u64, data: Vec<u8>) -> Result<HeadWrite, RemoteError>;
    /// A stored blob's bytes; [`RemoteError::NotFound`] if absent.
    async fn get_blob(&self, id: &BlobId) -> Result<Vec<u8>, RemoteError>;
    /// Stores a blob (create-only: an existing blob is kept, and that is success).
    async fn put_blob(&self, id: &BlobId, data: Vec<u8>) -> Result<(), RemoteError>;
    /// Those of `ids` the server does not store (callers send at most 10,000 at a time).
    async fn missing_blobs(&self, ids: &[BlobId]) -> Result<Vec<BlobId>, RemoteError>;
    /// The revisions the server keeps, newest first (the head included).
    async fn revisions(&self) -> Result<Vec<RevisionInfo>, RemoteError>;
    /// One revision, or `None` if it expired or never existed.
    async fn get_revision(&self, version: u64) -> Result<Option<StoredHead>, RemoteError>;
}

impl<T: Remote + ?Sized> Remote for &T {
    async fn get_head(&self) -> Result<Option<StoredHead>, RemoteError> {
        (**self).get_head().await
    }
    async fn put_head(&self, expected: u64, data: Vec<u8>) -> Result<HeadWrite, RemoteError> {
        (**self).put_head(expected, data).await
    }
    async fn get_blob(&self, id: &BlobId) -> Result<Vec<u8>, RemoteError> {
        (**self).get_blob(id).await
    }
    async fn put_blob(&self, id: &BlobId, data: Vec<u8>) -> Result<(), RemoteError> {
        (**self).put_blob(id, data).await
    }
    async fn missing_blobs(&self, ids: &[BlobId]) -> Result<Vec<BlobId>, RemoteError> {
        (**self).missing_blobs(ids).await
    }
    async fn revisions(&self) -> Result<Vec<RevisionInfo>, RemoteError> {
        (**self).revisions().await
    }
    async fn get_revision(&self, version: u64) -> Result<Option<StoredHead>, RemoteError> {
        (**self).get_revision(version).await
    }
}
