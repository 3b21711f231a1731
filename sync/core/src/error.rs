//! The error types of the crate: one enum for the engine, one for each side's trait.

use crate::id::BlobId;

/// Result alias of the crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in vfsync-core. Messages are one line, meant for the user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The wrapped repository key did not authenticate under the password's key.
    #[error("wrong password")]
    WrongPassword,
    /// A stored blob failed authentication or its id check (tampered, swapped, truncated...).
    #[error("blob {0} failed authentication (the server's copy was modified or replaced)")]
    BlobAuth(BlobId),
    /// The head did not authenticate for the version the server gave it.
    #[error("the head of version {0} failed authentication (modified, or replayed under another version)")]
    HeadAuth(u64),
    /// The server presented a head older than one this checkout has already seen.
    #[error("rollback detected: the server's head is version {got}, but this checkout has already seen version {seen}")]
    Rollback { seen: u64, got: u64 },
    /// Compare-and-swap of the head kept failing.
    #[error("stale head: other clients kept updating the repository ({attempts} attempts)")]
    StaleHead { attempts: u32 },
    /// A format version this implementation does not know.
    #[error("unsupported format version {0} (this vfsync knows version 1)")]
    FormatVersion(u64),
    /// Authenticated data that breaks a format rule (section 5.1 and others).
    #[error("invalid {what}: {detail}")]
    Format { what: &'static str, detail: String },
    /// Unsupported or unsafe key-derivation parameters.
    #[error("bad kdf parameters: {0}")]
    Kdf(String),
    /// The system random generator failed.
    #[error("random generator failed: {0}")]
    Random(String),
    /// A revision the server does not have (expired or never written).
    #[error("revision {0} not found on the server")]
    RevisionNotFound(u64),
    /// `restore` was asked for a path the revision does not contain.
    #[error("{path} is not in revision {version}")]
    PathNotInRevision { path: String, version: u64 },
    /// A local file changed while it was being synchronised; running again picks the change up.
    #[error("{0} changed during the sync; run vfsync again")]
    ChangedDuringSync(String),
    /// The transport failed.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The local tree failed.
    #[error(transparent)]
    Local(#[from] LocalError),
    /// A test-only crash injection point was reached (`SyncOptions::crash_after`).
    #[error("injected crash after {0} steps")]
    CrashInjected(u64),
}

/// Errors of a [`crate::Remote`] implementation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// The object does not exist (blob, revision, repository, user).
    #[error("not found on the server: {0}")]
    NotFound(String),
    /// Authentication failed (bad token, wrong login secret).
    #[error("not authorized: {0}")]
    Unauthorized(String),
    /// The user's storage quota is exhausted.
    #[error("quota exceeded on the server")]
    QuotaExceeded,
    /// The server rejected an object as too large.
    #[error("the server rejected {0} as too large")]
    TooLarge(String),
    /// The server could not be reached.
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// Any other server answer that breaks the API contract.
    #[error("server error: {0}")]
    Protocol(String),
}

/// Errors of a [`crate::LocalTree`] implementation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalError {
    /// The path does not exist.
    #[error("{0}: no such file or directory")]
    NotFound(String),
    /// The target of a create-only operation exists.
    #[error("{0}: already exists")]
    Exists(String),
    /// Any other failure, with the operation and the system's message.
    #[error("{op} {path}: {detail}")]
    Io {
        op: &'static str,
        path: String,
        detail: String,
    },
}
