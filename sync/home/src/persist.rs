//! Local persistence of a signed-in home: unsynced changes and fetched contents survive a
//! reload of the host (the browser keeps them in IndexedDB), sealed with the user's keys.
//!
//! The home writes to a [`Persist`] store, a flat key-value map of byte strings:
//!
//! | key | value |
//! |---|---|
//! | `USER/meta` | the snapshot's root record: 32-byte id, then the record sealed as a manifest blob |
//! | `USER/c/ID` | one chunk (at most [`CHUNK`] bytes of a file, or of the snapshot's tree or engine state), sealed as a content blob; `ID` is its blob id in hex |
//!
//! Everything is sealed with the repository keys of the user's home (the keys vfsync-core
//! derives from the master key; the same AES-GCM blob sealing as on the server, with the id
//! a keyed hash of the plaintext), so the store holds no plaintext of a file, a name or a key,
//! and a modified record fails authentication. Only the user names appear in clear (as key
//! prefixes).
//!
//! The root record lists the chunks of the tree snapshot (every entry with its kind, mode,
//! mtime and where its content is: chunks in the store, or blobs still on the server) and of
//! the engine state (docs/sync-format.md section 7.1: base manifest, seen version, hash cache).
//! A save writes the new chunks first, then the root record, then deletes chunks no longer
//! referenced; a crash in between leaves the previous or the new snapshot, never a mix (and
//! at worst unreferenced chunks, which the next save deletes).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use vfsync_core::{BlobId, BlobKind, RepoKeys};

use crate::HomeError;

/// Largest piece a value is cut into before sealing (the sealing limit is 15 MiB).
pub const CHUNK: usize = 4 << 20;

/// Why the local store failed (the host's message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("local storage: {0}")]
pub struct PersistError(pub String);

/// A host's local store for homes: a flat map from string keys to byte strings (IndexedDB in
/// the browser). Operations are async and need not be `Send`. A write that returned `Ok`
/// must survive a reload of the host.
#[allow(async_fn_in_trait)]
pub trait Persist {
    /// The value of `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PersistError>;
    /// Stores `value` under `key` (replacing any value).
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), PersistError>;
    /// Removes `key` (absent keys are fine).
    async fn delete(&self, key: &str) -> Result<(), PersistError>;
    /// All keys that start with `prefix`, in any order.
    async fn keys(&self, prefix: &str) -> Result<Vec<String>, PersistError>;
    /// Whether this store keeps anything (the home skips building snapshots otherwise).
    fn enabled(&self) -> bool {
        true
    }
}

/// No persistence: nothing is stored, nothing is found (the native `vfvm`, whose process
/// syncs before it exits).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPersist;

impl Persist for NoPersist {
    async fn get(&self, _key: &str) -> Result<Option<Vec<u8>>, PersistError> {
        Ok(None)
    }
    async fn put(&self, _key: &str, _value: Vec<u8>) -> Result<(), PersistError> {
        Ok(())
    }
    async fn delete(&self, _key: &str) -> Result<(), PersistError> {
        Ok(())
    }
    async fn keys(&self, _prefix: &str) -> Result<Vec<String>, PersistError> {
        Ok(Vec::new())
    }
    fn enabled(&self) -> bool {
        false
    }
}

/// An in-memory store (tests; clones share the map, like two page loads sharing IndexedDB).
#[derive(Debug, Default, Clone)]
pub struct MemPersist {
    map: Rc<RefCell<BTreeMap<String, Vec<u8>>>>,
    broken: Rc<std::cell::Cell<bool>>,
}

impl MemPersist {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything stored (to look for plaintext, or to tamper with).
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.map.borrow().clone()
    }

    /// Replaces a stored value.
    pub fn set(&self, key: &str, value: Vec<u8>) {
        self.map.borrow_mut().insert(key.to_owned(), value);
    }

    /// Makes every later operation fail (a full or broken disk) until switched off.
    pub fn set_broken(&self, on: bool) {
        self.broken.set(on);
    }

    fn check(&self) -> Result<(), PersistError> {
        if self.broken.get() {
            return Err(PersistError("the in-memory store is switched off".into()));
        }
        Ok(())
    }
}

impl Persist for MemPersist {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PersistError> {
        self.check()?;
        Ok(self.map.borrow().get(key).cloned())
    }
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), PersistError> {
        self.check()?;
        self.map.borrow_mut().insert(key.to_owned(), value);
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), PersistError> {
        self.check()?;
        self.map.borrow_mut().remove(key);
        Ok(())
    }
    async fn keys(&self, prefix: &str) -> Result<Vec<String>, PersistError> {
        self.check()?;
        Ok(self
            .map
            .borrow()
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    }
}

impl<P: Persist + ?Sized> Persist for Rc<P> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PersistError> {
        (**self).get(key).await
    }
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), PersistError> {
        (**self).put(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), PersistError> {
        (**self).delete(key).await
    }
    async fn keys(&self, prefix: &str) -> Result<Vec<String>, PersistError> {
        (**self).keys(prefix).await
    }
    fn enabled(&self) -> bool {
        (**self).enabled()
    }
}

/// Where a file's content is in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Content {
    /// Not fetched: these blobs on the server.
    Server(Vec<BlobId>),
    /// These chunks in the local store.
    Local(Vec<BlobId>),
}

/// One entry of a snapshot's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SnapKind {
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink(String),
    /// A regular file.
    File { size: u64, content: Content },
}

/// One entry of a snapshot's tree; parents come before their children.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SnapEntry {
    pub path: String,
    pub mode: u32,
    pub mtime: i64,
    pub kind: SnapKind,
}

/// The sealed root record of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Root {
    format: u32,
    /// Chunks of the JSON list of [`SnapEntry`].
    tree: Vec<BlobId>,
    /// Chunks of the engine state (absent before the first sign-in finished).
    state: Option<Vec<BlobId>>,
    /// Whether the tree has changes the server has not seen.
    pending: bool,
}

/// A decoded snapshot.
pub(crate) struct Snapshot {
    pub entries: Vec<SnapEntry>,
    pub state: Option<Vec<u8>>,
    pub pending: bool,
}

pub(crate) fn meta_key(user: &str) -> String {
    format!("{user}/meta")
}

pub(crate) fn chunk_prefix(user: &str) -> String {
    format!("{user}/c/")
}

pub(crate) fn chunk_key(user: &str, id: &BlobId) -> String {
    format!("{user}/c/{id}")
}

fn format_err(detail: String) -> HomeError {
    HomeError::Persist(format!("local copy unreadable: {detail}"))
}

impl From<PersistError> for HomeError {
    fn from(e: PersistError) -> Self {
        HomeError::Persist(e.0)
    }
}

/// Sealed chunks, each with its id.
pub(crate) type Sealed = Vec<(BlobId, Vec<u8>)>;

/// Seals `data` in chunks: their ids, and the sealed chunks to store.
pub(crate) fn seal_chunks(
    keys: &RepoKeys,
    data: &[u8],
) -> Result<(Vec<BlobId>, Sealed), HomeError> {
    let mut ids = Vec::new();
    let mut sealed = Vec::new();
    for piece in data.chunks(CHUNK) {
        let (id, s) = keys.seal_blob(BlobKind::Content, piece)?;
        ids.push(id);
        sealed.push((id, s));
    }
    Ok((ids, sealed))
}

/// Reads and opens chunks; `limit` caps the total (a record cannot claim more than that).
pub(crate) async fn read_chunks<P: Persist>(
    store: &P,
    keys: &RepoKeys,
    user: &str,
    ids: &[BlobId],
    limit: u64,
) -> Result<Vec<u8>, HomeError> {
    let mut out = Vec::new();
    for id in ids {
        let stored = store
            .get(&chunk_key(user, id))
            .await?
            .ok_or_else(|| format_err(format!("chunk {id} is missing")))?;
        let plain = keys
            .open_blob(BlobKind::Content, id, &stored)
            .map_err(|e| format_err(e.to_string()))?;
        out.extend_from_slice(&plain);
        if out.len() as u64 > limit {
            return Err(format_err("a record is longer than it says".into()));
        }
    }
    Ok(out)
}

/// Encodes the root record, sealed: its id (32 bytes), then the sealed bytes.
pub(crate) fn seal_root(
    keys: &RepoKeys,
    tree: Vec<BlobId>,
    state: Option<Vec<BlobId>>,
    pending: bool,
) -> Result<Vec<u8>, HomeError> {
    let root = Root {
        format: 1,
        tree,
        state,
        pending,
    };
    let json = serde_json::to_vec(&root).expect("the root record serializes");
    let (id, sealed) = keys.seal_blob(BlobKind::Manifest, &json)?;
    let mut out = id.0.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Loads the snapshot of `user`, if the store has one.
pub(crate) async fn load<P: Persist>(
    store: &P,
    keys: &RepoKeys,
    user: &str,
) -> Result<Option<(Snapshot, Vec<BlobId>)>, HomeError> {
    let Some(raw) = store.get(&meta_key(user)).await? else {
        return Ok(None);
    };
    if raw.len() < 32 {
        return Err(format_err("root record too short".into()));
    }
    let id = BlobId(raw[..32].try_into().expect("32 bytes"));
    let plain = keys
        .open_blob(BlobKind::Manifest, &id, &raw[32..])
        .map_err(|e| format_err(e.to_string()))?;
    let root: Root = serde_json::from_slice(&plain).map_err(|e| format_err(e.to_string()))?;
    if root.format != 1 {
        return Err(format_err(format!("record format {}", root.format)));
    }
    const LIMIT: u64 = vfsync_core::manifest::MAX_MANIFEST_BYTES as u64 * 2;
    let tree = read_chunks(store, keys, user, &root.tree, LIMIT).await?;
    let entries: Vec<SnapEntry> =
        serde_json::from_slice(&tree).map_err(|e| format_err(e.to_string()))?;
    let state = match &root.state {
        Some(ids) => Some(read_chunks(store, keys, user, ids, LIMIT).await?),
        None => None,
    };
    let mut referenced: Vec<BlobId> = root.tree.clone();
    referenced.extend(root.state.iter().flatten().copied());
    for e in &entries {
        if let SnapKind::File {
            content: Content::Local(ids),
            ..
        } = &e.kind
        {
            referenced.extend(ids.iter().copied());
        }
    }
    Ok(Some((
        Snapshot {
            entries,
            state,
            pending: root.pending,
        },
        referenced,
    )))
}

/// Deletes everything stored for `user`.
pub(crate) async fn forget<P: Persist>(store: &P, user: &str) -> Result<(), HomeError> {
    store.delete(&meta_key(user)).await?;
    for k in store.keys(&chunk_prefix(user)).await? {
        store.delete(&k).await?;
    }
    Ok(())
}
