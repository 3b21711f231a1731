//! vflogin: the guest's end-to-end-encrypted, synced home directory (docs/vflogin.md).
//!
//! The host serves [`SyncHome`] as a 9p file system (tag `home`, mounted at `/home` by the
//! guest's init). Before sign-in its root holds only `.vfsync/ctl`, the control file the guest's
//! `vflogin`, `vfsync` and `vflogout` scripts talk to. Sign-in derives the keys and fetches the
//! manifest through vfsync-core (in the host: the guest never sees a key); then `/USER` appears
//! with the whole tree's metadata, and file contents are fetched on first open. Writes land in
//! memory and are committed by vfsync-core's sync engine, on `vfsync` or a few seconds after
//! changes settle.
//!
//! Nothing here blocks or spawns: file-system operations that need the network queue a job and
//! answer [`FsError::Pending`](vf_devices::p9::FsError::Pending); the host runs the jobs with
//! [`HomeDriver::run`] (an async fn it polls on its executor) and then calls the 9p server's
//! `poll()` so that parked requests complete. The browser, which has no threads, does the same.

mod connect;
mod ctl;
mod home;
pub mod persist;
mod tree;

pub use connect::{Connector, HttpConnector, MemConnector, Shared, Switched, HOME_REPO};
pub use ctl::{Command, MAX_COMMAND};
pub use home::{HomeConfig, HomeDriver, HomeFile, SyncHome};
pub use persist::{MemPersist, NoPersist, Persist, PersistError};
pub use tree::HomeTree;

/// Everything that can go wrong in the home; messages are one line, shown to the guest's user
/// after `error: `.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// The password did not unwrap the user's key.
    #[error("wrong password")]
    WrongPassword,
    /// The server has no such user.
    #[error("unknown user {0}")]
    UnknownUser(String),
    /// The server could not be reached.
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// A user is signed in already.
    #[error("already signed in as {0}")]
    AlreadySignedIn(String),
    /// The command needs a signed-in user.
    #[error("not signed in")]
    NotSignedIn,
    /// A control-file command that does not parse.
    #[error("bad command: {0}")]
    BadCommand(String),
    /// The local tree refused an operation while building the home.
    #[error("local file system: {0}")]
    Local(vf_devices::p9::Errno),
    /// The host's local store failed, or what it holds does not open.
    #[error("local storage: {0}")]
    Persist(String),
    /// vfsync-core failed (format, crypto, transport, sync engine).
    #[error(transparent)]
    Sync(#[from] vfsync_core::Error),
}

impl From<vfsync_core::RemoteError> for HomeError {
    fn from(e: vfsync_core::RemoteError) -> Self {
        match e {
            vfsync_core::RemoteError::Unreachable(m) => HomeError::Unreachable(m),
            e => HomeError::Sync(e.into()),
        }
    }
}
