//! In-memory implementations of [`Remote`] and [`LocalTree`], for tests and experiments.
//! `MemRemote` has tamper hooks that play a hostile server; `MemTree` is a directory in memory.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::{LocalError, RemoteError};
use crate::id::BlobId;
use crate::local::{LocalEntry, LocalKind, LocalTree};
use crate::remote::{HeadWrite, Remote, RevisionInfo, StoredHead};

/// A future that is pending once, so concurrent tasks on one thread interleave.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[derive(Default)]
struct RemoteInner {
    blobs: BTreeMap<BlobId, Vec<u8>>,
    revisions: BTreeMap<u64, Vec<u8>>,
    /// A head served instead of the real one (a replaying server).
    served_head: Option<StoredHead>,
}

/// One repository of an in-memory server.
#[derive(Default)]
pub struct MemRemote {
    inner: RefCell<RemoteInner>,
    interleave: Cell<bool>,
    quota: Cell<Option<usize>>,
    blob_puts: Cell<u64>,
    bytes_put: Cell<u64>,
}

impl MemRemote {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    /// When on, every operation yields once before it runs, so that several engines polled
    /// together on one thread interleave their requests like concurrent clients.
    pub fn set_interleave(&self, on: bool) {
        self.interleave.set(on);
    }

    /// Caps the total stored blob bytes; beyond it `put_blob` fails with `QuotaExceeded`.
    pub fn set_quota(&self, bytes: Option<usize>) {
        self.quota.set(bytes);
    }

    async fn pause(&self) {
        if self.interleave.get() {
            YieldOnce(false).await;
        }
    }

    /// The ids of all stored blobs.
    pub fn blob_ids(&self) -> Vec<BlobId> {
        self.inner.borrow().blobs.keys().copied().collect()
    }

    /// A stored blob's bytes.
    pub fn blob(&self, id: &BlobId) -> Option<Vec<u8>> {
        self.inner.borrow().blobs.get(id).cloned()
    }

    /// Replaces a stored blob's bytes (a hostile server or a disk fault).
    pub fn set_blob(&self, id: &BlobId, data: Vec<u8>) {
        self.inner.borrow_mut().blobs.insert(*id, data);
    }

    /// Number of `put_blob` calls that stored a new blob, and their bytes.
    pub fn upload_counts(&self) -> (u64, u64) {
        (self.blob_puts.get(), self.bytes_put.get())
    }

    /// The real current head.
    pub fn head(&self) -> Option<StoredHead> {
        let inner = self.inner.borrow();
        inner.revisions.iter().next_back().map(|(v, d)| StoredHead {
            version: *v,
            data: d.clone(),
        })
    }

    /// Makes `get_head` return this instead of the real head (`None` restores honesty).
    pub fn serve_head(&self, head: Option<StoredHead>) {
        self.inner.borrow_mut().served_head = head;
    }

    /// Every byte the server stores (blobs and heads), for plaintext scans.
    pub fn all_bytes(&self) -> Vec<Vec<u8>> {
        let inner = self.inner.borrow();
        inner
            .blobs
            .values()
            .chain(inner.revisions.values())
            .cloned()
            .collect()
    }
}

impl Remote for MemRemote {
    async fn get_head(&self) -> Result<Option<StoredHead>, RemoteError> {
        self.pause().await;
        if let Some(h) = self.inner.borrow().served_head.clone() {
            return Ok(Some(h));
        }
        Ok(self.head())
    }

    async fn put_head(&self, expected: u64, data: Vec<u8>) -> Result<HeadWrite, RemoteError> {
        self.pause().await;
        let mut inner = self.inner.borrow_mut();
        let current = inner.revisions.keys().next_back().copied().unwrap_or(0);
        if current != expected {
            return Ok(HeadWrite::Stale(current));
        }
        if data.len() > 1 << 20 {
            return Err(RemoteError::TooLarge("head".into()));
        }
        inner.revisions.insert(current + 1, data);
        Ok(HeadWrite::Written(current + 1))
    }

    async fn get_blob(&self, id: &BlobId) -> Result<Vec<u8>, RemoteError> {
        self.pause().await;
        self.blob(id)
            .ok_or_else(|| RemoteError::NotFound(format!("blob {id}")))
    }

    async fn put_blob(&self, id: &BlobId, data: Vec<u8>) -> Result<(), RemoteError> {
        self.pause().await;
        let mut inner = self.inner.borrow_mut();
        if inner.blobs.contains_key(id) {
            return Ok(());
        }
        if data.len() > crate::crypto::MAX_STORED_BLOB {
            return Err(RemoteError::TooLarge(format!("blob {id}")));
        }
        if let Some(q) = self.quota.get() {
            let used: usize = inner.blobs.values().map(Vec::len).sum();
            if used + data.len() > q {
                return Err(RemoteError::QuotaExceeded);
            }
        }
        self.blob_puts.set(self.blob_puts.get() + 1);
        self.bytes_put.set(self.bytes_put.get() + data.len() as u64);
        inner.blobs.insert(*id, data);
        Ok(())
    }

    async fn missing_blobs(&self, ids: &[BlobId]) -> Result<Vec<BlobId>, RemoteError> {
        self.pause().await;
        let inner = self.inner.borrow();
        Ok(ids
            .iter()
            .filter(|id| !inner.blobs.contains_key(id))
            .copied()
            .collect())
    }

    async fn revisions(&self) -> Result<Vec<RevisionInfo>, RemoteError> {
        self.pause().await;
        let inner = self.inner.borrow();
        Ok(inner
            .revisions
            .iter()
            .rev()
            .map(|(v, d)| RevisionInfo {
                version: *v,
                time: 1_700_000_000 + v,
                size: d.len() as u64,
            })
            .collect())
    }

    async fn get_revision(&self, version: u64) -> Result<Option<StoredHead>, RemoteError> {
        self.pause().await;
        let inner = self.inner.borrow();
        Ok(inner.revisions.get(&version).map(|d| StoredHead {
            version,
            data: d.clone(),
        }))
    }
}

#[derive(Debug, Clone)]
enum Node {
    File(Vec<u8>),
    Dir,
    Symlink(String),
}

#[derive(Debug, Clone)]
struct MemNode {
    node: Node,
    mode: u32,
    mtime: i64,
}

/// A directory tree in memory. Its clock advances by one second on every change, so every
/// write gets a new mtime.
#[derive(Default)]
pub struct MemTree {
    nodes: RefCell<BTreeMap<String, MemNode>>,
    state: RefCell<Option<Vec<u8>>>,
    clock: Cell<i64>,
}

fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

impl MemTree {
    /// An empty tree.
    pub fn new() -> Self {
        let t = Self::default();
        t.clock.set(1_700_000_000_000_000_000);
        t
    }

    fn tick(&self) -> i64 {
        self.clock.set(self.clock.get() + 1_000_000_000);
        self.clock.get()
    }

    fn make_parents(
        &self,
        nodes: &mut BTreeMap<String, MemNode>,
        path: &str,
    ) -> Result<(), LocalError> {
        for p in parents(path) {
            match nodes.get(p) {
                Some(MemNode {
                    node: Node::Dir, ..
                }) => {}
                Some(_) => {
                    return Err(LocalError::Io {
                        op: "mkdir",
                        path: p.into(),
                        detail: "not a directory".into(),
                    })
                }
                None => {
                    let mtime = self.tick();
                    nodes.insert(
                        p.into(),
                        MemNode {
                            node: Node::Dir,
                            mode: 0o755,
                            mtime,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    fn put(&self, path: &str, node: Node, mode: u32, mtime: Option<i64>) -> Result<(), LocalError> {
        let mut nodes = self.nodes.borrow_mut();
        self.make_parents(&mut nodes, path)?;
        if let Some(MemNode {
            node: Node::Dir, ..
        }) = nodes.get(path)
        {
            return Err(LocalError::Io {
                op: "write",
                path: path.into(),
                detail: "is a directory".into(),
            });
        }
        let mtime = mtime.unwrap_or_else(|| self.tick());
        self.tick();
        nodes.insert(path.into(), MemNode { node, mode, mtime });
        Ok(())
    }

    /// Test helper: writes a file as a user would (parents created, new mtime).
    pub fn write(&self, path: &str, data: &[u8]) {
        self.put(path, Node::File(data.to_vec()), 0o644, None)
            .expect("MemTree::write");
    }

    /// Test helper: a file's content.
    pub fn read(&self, path: &str) -> Option<Vec<u8>> {
        match self.nodes.borrow().get(path) {
            Some(MemNode {
                node: Node::File(d),
                ..
            }) => Some(d.clone()),
            _ => None,
        }
    }

    /// Test helper: removes an entry and everything below it.
    pub fn remove_all(&self, path: &str) {
        let prefix = format!("{path}/");
        self.nodes
            .borrow_mut()
            .retain(|p, _| p != path && !p.starts_with(&prefix));
        self.tick();
    }

    /// Test helper: all paths with their file contents (`None` for directories and symlinks).
    pub fn snapshot(&self) -> BTreeMap<String, Option<Vec<u8>>> {
        self.nodes
            .borrow()
            .iter()
            .map(|(p, n)| {
                let c = match &n.node {
                    Node::File(d) => Some(d.clone()),
                    Node::Dir => None,
                    Node::Symlink(t) => Some(format!("-> {t}").into_bytes()),
                };
                (p.clone(), c)
            })
            .collect()
    }

    fn entry(path: &str, n: &MemNode) -> LocalEntry {
        let (kind, size, target) = match &n.node {
            Node::File(d) => (LocalKind::File, d.len() as u64, None),
            Node::Dir => (LocalKind::Dir, 0, None),
            Node::Symlink(t) => (LocalKind::Symlink, 0, Some(t.clone())),
        };
        LocalEntry {
            path: path.into(),
            kind,
            size,
            mode: n.mode,
            mtime: n.mtime,
            target,
        }
    }
}

impl LocalTree for MemTree {
    async fn list(&self) -> Result<Vec<LocalEntry>, LocalError> {
        Ok(self
            .nodes
            .borrow()
            .iter()
            .map(|(p, n)| Self::entry(p, n))
            .collect())
    }

    async fn stat(&self, path: &str) -> Result<Option<LocalEntry>, LocalError> {
        Ok(self.nodes.borrow().get(path).map(|n| Self::entry(path, n)))
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, LocalError> {
        match self.nodes.borrow().get(path) {
            Some(MemNode {
                node: Node::File(d),
                ..
            }) => Ok(d.clone()),
            Some(_) => Err(LocalError::Io {
                op: "read",
                path: path.into(),
                detail: "not a file".into(),
            }),
            None => Err(LocalError::NotFound(path.into())),
        }
    }

    async fn write_file(
        &self,
        path: &str,
        data: &[u8],
        mode: u32,
        mtime: i64,
    ) -> Result<(), LocalError> {
        self.put(path, Node::File(data.to_vec()), mode, Some(mtime))
    }

    async fn write_symlink(&self, path: &str, target: &str) -> Result<(), LocalError> {
        self.put(path, Node::Symlink(target.into()), 0, None)
    }

    async fn mkdir(&self, path: &str, mode: u32) -> Result<(), LocalError> {
        let mut nodes = self.nodes.borrow_mut();
        self.make_parents(&mut nodes, path)?;
        match nodes.get(path) {
            Some(MemNode {
                node: Node::Dir, ..
            }) => Ok(()),
            Some(_) => Err(LocalError::Exists(path.into())),
            None => {
                let mtime = self.tick();
                nodes.insert(
                    path.into(),
                    MemNode {
                        node: Node::Dir,
                        mode,
                        mtime,
                    },
                );
                Ok(())
            }
        }
    }

    async fn remove_file(&self, path: &str) -> Result<(), LocalError> {
        let mut nodes = self.nodes.borrow_mut();
        match nodes.get(path) {
            Some(MemNode {
                node: Node::Dir, ..
            }) => Err(LocalError::Io {
                op: "remove",
                path: path.into(),
                detail: "is a directory".into(),
            }),
            Some(_) => {
                nodes.remove(path);
                self.tick();
                Ok(())
            }
            None => Err(LocalError::NotFound(path.into())),
        }
    }

    async fn remove_dir(&self, path: &str) -> Result<bool, LocalError> {
        let mut nodes = self.nodes.borrow_mut();
        match nodes.get(path) {
            Some(MemNode {
                node: Node::Dir, ..
            }) => {
                let prefix = format!("{path}/");
                if nodes
                    .range(prefix.clone()..)
                    .next()
                    .is_some_and(|(p, _)| p.starts_with(&prefix))
                {
                    return Ok(false);
                }
                nodes.remove(path);
                self.tick();
                Ok(true)
            }
            Some(_) => Err(LocalError::Io {
                op: "rmdir",
                path: path.into(),
                detail: "not a directory".into(),
            }),
            None => Err(LocalError::NotFound(path.into())),
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), LocalError> {
        let mut nodes = self.nodes.borrow_mut();
        if nodes.contains_key(to) {
            return Err(LocalError::Exists(to.into()));
        }
        if !nodes.contains_key(from) {
            return Err(LocalError::NotFound(from.into()));
        }
        self.make_parents(&mut nodes, to)?;
        let prefix = format!("{from}/");
        let moved: BTreeSet<String> = nodes
            .keys()
            .filter(|p| *p == from || p.starts_with(&prefix))
            .cloned()
            .collect();
        for p in moved {
            let n = nodes.remove(&p).expect("listed");
            nodes.insert(format!("{to}{}", &p[from.len()..]), n);
        }
        self.tick();
        Ok(())
    }

    fn now(&self) -> i64 {
        self.clock.get()
    }

    async fn load_state(&self) -> Result<Option<Vec<u8>>, LocalError> {
        Ok(self.state.borrow().clone())
    }

    async fn save_state(&self, data: &[u8]) -> Result<(), LocalError> {
        *self.state.borrow_mut() = Some(data.to_vec());
        Ok(())
    }
}
