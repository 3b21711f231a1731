//! The local side of the engine: the checkout's directory tree and its private state.

use crate::error::LocalError;

/// The type of a local entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
}

/// What [`LocalTree::list`] and [`LocalTree::stat`] report for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEntry {
    /// Relative path, components separated by `/`.
    pub path: String,
    /// File, directory or symlink.
    pub kind: LocalKind,
    /// Size in bytes (files; 0 otherwise).
    pub size: u64,
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime: i64,
    /// The target of a symlink.
    pub target: Option<String>,
}

/// A checkout's directory, as the engine needs it. Paths are relative, `/`-separated and have
/// been checked by the engine (no `..`, never inside `.vfsync`).
///
/// Implementations: `MemTree` (in memory, for tests), the `vfsync` command's directory on disk,
/// and later the guest's 9p home in the browser. The futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait LocalTree {
    /// Every entry below the root, recursively, except the private `.vfsync` directory.
    /// Symlinks are reported, not followed. Other types (sockets, devices) are left out.
    async fn list(&self) -> Result<Vec<LocalEntry>, LocalError>;
    /// One entry, or `None` if the path does not exist (a symlink is not followed).
    async fn stat(&self, path: &str) -> Result<Option<LocalEntry>, LocalError>;
    /// A file's whole content.
    async fn read_file(&self, path: &str) -> Result<Vec<u8>, LocalError>;
    /// Atomically creates or replaces the file (or symlink) at `path` with `data`, `mode` and
    /// `mtime`: write a temporary file, flush it, rename it into place. Missing parent
    /// directories are created. A reader never sees a partial file.
    async fn write_file(
        &self,
        path: &str,
        data: &[u8],
        mode: u32,
        mtime: i64,
    ) -> Result<(), LocalError>;
    /// Atomically creates or replaces the symlink (or file) at `path`; parents are created.
    async fn write_symlink(&self, path: &str, target: &str) -> Result<(), LocalError>;
    /// Creates a directory and its missing parents; an existing directory is success.
    async fn mkdir(&self, path: &str, mode: u32) -> Result<(), LocalError>;
    /// Removes a file or symlink.
    async fn remove_file(&self, path: &str) -> Result<(), LocalError>;
    /// Removes an empty directory: `Ok(false)` (and nothing changes) if it is not empty.
    async fn remove_dir(&self, path: &str) -> Result<bool, LocalError>;
    /// Renames an entry; `to` must not exist ([`LocalError::Exists`]).
    async fn rename(&self, from: &str, to: &str) -> Result<(), LocalError>;
    /// The current time in nanoseconds since the Unix epoch (the local clock that sets mtimes).
    fn now(&self) -> i64;
    /// The saved engine state, or `None` before the first sync.
    async fn load_state(&self) -> Result<Option<Vec<u8>>, LocalError>;
    /// Atomically replaces the saved engine state (temporary file, flush, rename).
    async fn save_state(&self, data: &[u8]) -> Result<(), LocalError>;
}
