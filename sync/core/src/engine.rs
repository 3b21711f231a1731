//! The sync engine: update (server to disk), commit (disk to server), status, log and restore
//! (docs/sync-format.md section 7).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashSet};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::chunk;
use crate::crypto::{BlobKind, RepoKeys};
use crate::error::{Error, LocalError, RemoteError, Result};
use crate::id::BlobId;
use crate::local::{LocalEntry, LocalKind, LocalTree};
use crate::manifest::{check_path, parent, same, Entry, EntryKind, Manifest};
use crate::remote::{HeadWrite, Remote, StoredHead};
use crate::state::{CacheEntry, JournalKind, Pending, State};

/// A local file whose mtime is closer than this to the start of a scan is not cached, so a
/// change within the file system's mtime granularity is never missed (section 7.2).
const RACY_NS: i64 = 2_000_000_000;
/// Plaintext bytes of blobs held in memory at once while uploading.
const UPLOAD_BATCH: usize = 64 << 20;
/// Ids per `missing_blobs` request (the API's limit).
const MISSING_BATCH: usize = 10_000;

/// Knobs of a sync run.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Requests in flight at once (uploads, downloads).
    pub concurrency: usize,
    /// Update-and-commit rounds before giving up with [`Error::StaleHead`].
    pub max_attempts: u32,
    /// Test hook: fail with [`Error::CrashInjected`] at the N-th step (a local change, an upload,
    /// a head write or a state save), leaving everything as a killed process would.
    pub crash_after: Option<u64>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            concurrency: 8,
            max_attempts: 100,
            crash_after: None,
        }
    }
}

/// Progress events, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Uploading is about to start: plaintext bytes of the files involved.
    UploadStart { blobs: u64, bytes: u64 },
    /// A blob of this many plaintext bytes was uploaded.
    Uploaded { bytes: u64 },
    /// Downloading is about to start.
    DownloadStart { files: u64, bytes: u64 },
    /// This many plaintext bytes were downloaded and written.
    Downloaded { bytes: u64 },
    /// The transfer phase ended.
    TransferEnd,
}

/// Receives [`Progress`] events; `()` ignores them.
pub trait Observer {
    /// One event.
    fn progress(&self, _event: Progress) {}
}

impl Observer for () {}

/// Why a local entry was renamed aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ConflictReason {
    /// Changed both locally and on the server; the server's version took the name.
    BothChanged,
    /// Deleted on the server but modified locally; kept under the new name.
    DeletedOnServer,
    /// Changed on disk while the sync ran; kept under the new name.
    ChangedDuringSync,
    /// A non-empty directory stood where the server has a file or symlink.
    DirInTheWay,
    /// `restore` put an older version in its place.
    Restored,
}

/// A local entry renamed so that nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The path the entry had.
    pub path: String,
    /// Its new path (`path.N`).
    pub renamed_to: String,
    /// Why.
    pub reason: ConflictReason,
}

/// What a sync run did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// The version the checkout is at now (0: the repository has no head).
    pub version: u64,
    /// Entries written locally from the server (files, symlinks, directories).
    pub downloaded: Vec<String>,
    /// Entries deleted locally because the server deleted them.
    pub deleted_locally: Vec<String>,
    /// Directories deleted on the server but kept because they hold local additions.
    pub kept: Vec<String>,
    /// Local entries renamed aside.
    pub conflicts: Vec<Conflict>,
    /// Entries added or changed on the server by the commit.
    pub uploaded: Vec<String>,
    /// Entries deleted on the server by the commit.
    pub deleted_remotely: Vec<String>,
    /// Whether a new head was written.
    pub committed: bool,
    /// Blobs and stored bytes uploaded (content and manifest).
    pub blobs_uploaded: u64,
    /// Stored (encrypted, padded) bytes uploaded.
    pub bytes_uploaded: u64,
    /// Stored bytes downloaded.
    pub bytes_downloaded: u64,
    /// Update-and-commit rounds used.
    pub attempts: u32,
}

/// The head record (section 6).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HeadRecord {
    format: u64,
    revision: u64,
    manifest: Vec<BlobId>,
    manifest_size: u64,
    #[serde(default)]
    time: u64,
    #[serde(default)]
    entries: u64,
}

/// Opens and checks a head (section 6): authenticated under its version, format 1, and the
/// revision it names is the version it is stored under.
fn open_head_record(keys: &RepoKeys, h: &StoredHead) -> Result<HeadRecord> {
    let pt = keys.open_head(h.version, &h.data)?;
    let rec: HeadRecord = serde_json::from_slice(&pt).map_err(|e| Error::Format {
        what: "head",
        detail: e.to_string(),
    })?;
    if rec.format != 1 {
        return Err(Error::FormatVersion(rec.format));
    }
    if rec.revision != h.version {
        return Err(Error::Format {
            what: "head",
            detail: format!("revision {} stored as version {}", rec.revision, h.version),
        });
    }
    Ok(rec)
}

/// Downloads and authenticates blobs of one repository, counting stored bytes.
struct Reader<'a, R> {
    remote: &'a R,
    keys: &'a RepoKeys,
    concurrency: usize,
    bytes_down: &'a Cell<u64>,
}

impl<R: Remote> Reader<'_, R> {
    async fn blob(&self, kind: BlobKind, id: &BlobId) -> Result<Vec<u8>> {
        let stored = self.remote.get_blob(id).await?;
        self.bytes_down
            .set(self.bytes_down.get() + stored.len() as u64);
        self.keys.open_blob(kind, id, &stored)
    }

    /// The manifest a head names, checked against the head's `manifest_size` (section 5.2).
    async fn manifest(&self, rec: &HeadRecord) -> Result<Manifest> {
        let pieces: Vec<Vec<u8>> = stream::iter(rec.manifest.iter())
            .map(|id| self.blob(BlobKind::Manifest, id))
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        let bytes = pieces.concat();
        if bytes.len() as u64 != rec.manifest_size {
            return Err(Error::Format {
                what: "head",
                detail: format!(
                    "manifest of {} bytes, head says {}",
                    bytes.len(),
                    rec.manifest_size
                ),
            });
        }
        Manifest::decode(&bytes)
    }

    /// A file's content from its blobs, checked against the manifest's size.
    async fn content(&self, path: &str, size: u64, blobs: &[BlobId]) -> Result<Vec<u8>> {
        let pieces: Vec<Vec<u8>> = stream::iter(blobs.iter())
            .map(|id| self.blob(BlobKind::Content, id))
            .buffered(self.concurrency.min(4))
            .try_collect()
            .await?;
        let data = pieces.concat();
        if data.len() as u64 != size {
            return Err(Error::Format {
                what: "manifest",
                detail: format!(
                    "{path}: blobs hold {} bytes, the manifest says {size}",
                    data.len()
                ),
            });
        }
        Ok(data)
    }
}

/// The repository's current head version and its manifest, both authenticated (sections 5
/// and 6): `(0, empty manifest)` when no head has been written yet. Tampering, a head of
/// another version or repository, and a manifest that does not match its head are errors.
///
/// Rollback detection needs the highest version seen before: a caller that keeps one MUST
/// refuse a returned version lower than it ([`Error::Rollback`]); `sync` does this itself.
pub async fn head_manifest<R: Remote>(remote: &R, keys: &RepoKeys) -> Result<(u64, Manifest)> {
    let Some(h) = remote.get_head().await? else {
        return Ok((0, Manifest::default()));
    };
    let rec = open_head_record(keys, &h)?;
    let down = Cell::new(0);
    let reader = Reader {
        remote,
        keys,
        concurrency: 8,
        bytes_down: &down,
    };
    Ok((h.version, reader.manifest(&rec).await?))
}

/// The manifest of revision `version` (the head or a kept older one), authenticated;
/// [`Error::RevisionNotFound`] if the server no longer has it.
pub async fn revision_manifest<R: Remote>(
    remote: &R,
    keys: &RepoKeys,
    version: u64,
) -> Result<Manifest> {
    let h = remote
        .get_revision(version)
        .await?
        .ok_or(Error::RevisionNotFound(version))?;
    let rec = open_head_record(keys, &h)?;
    let down = Cell::new(0);
    let reader = Reader {
        remote,
        keys,
        concurrency: 8,
        bytes_down: &down,
    };
    reader.manifest(&rec).await
}

/// The content of the file `path` of a manifest, every blob authenticated and the total checked
/// against the manifest's size. [`Error::Format`] if `path` is not a file of `manifest`.
pub async fn file_content<R: Remote>(
    remote: &R,
    keys: &RepoKeys,
    manifest: &Manifest,
    path: &str,
) -> Result<Vec<u8>> {
    let Some(Entry {
        kind: EntryKind::File { size, blobs },
        ..
    }) = manifest.entries.get(path)
    else {
        return Err(Error::Format {
            what: "manifest",
            detail: format!("{path}: not a file of this revision"),
        });
    };
    blobs_content(remote, keys, path, *size, blobs).await
}

/// The content of a file given its size and blob ids (as in a manifest [`EntryKind::File`]),
/// every blob authenticated and the total checked against `size`; `path` names it in errors.
pub async fn blobs_content<R: Remote>(
    remote: &R,
    keys: &RepoKeys,
    path: &str,
    size: u64,
    blobs: &[BlobId],
) -> Result<Vec<u8>> {
    let down = Cell::new(0);
    let reader = Reader {
        remote,
        keys,
        concurrency: 4,
        bytes_down: &down,
    };
    reader.content(path, size, blobs).await
}

struct Ctx<'a, R, T> {
    remote: &'a R,
    keys: &'a RepoKeys,
    tree: &'a T,
    opts: &'a SyncOptions,
    obs: &'a dyn Observer,
    steps: Cell<u64>,
    bytes_down: Cell<u64>,
    /// The journal found by `load_state`: the revision an interrupted update was applying.
    pending: RefCell<Option<Pending>>,
}

/// The result of scanning the disk.
struct Scan {
    entries: Manifest,
    stats: BTreeMap<String, LocalEntry>,
    cache: BTreeMap<String, CacheEntry>,
}

impl<'a, R: Remote, T: LocalTree> Ctx<'a, R, T> {
    fn new(
        remote: &'a R,
        keys: &'a RepoKeys,
        tree: &'a T,
        opts: &'a SyncOptions,
        obs: &'a dyn Observer,
    ) -> Self {
        Ctx {
            remote,
            keys,
            tree,
            opts,
            obs,
            steps: Cell::new(0),
            bytes_down: Cell::new(0),
            pending: RefCell::new(None),
        }
    }

    fn conc(&self) -> usize {
        self.opts.concurrency.clamp(1, 64)
    }

    /// Counts one step that changes something outside memory (crash injection point).
    fn step(&self) -> Result<()> {
        let n = self.steps.get() + 1;
        self.steps.set(n);
        if self.opts.crash_after == Some(n) {
            return Err(Error::CrashInjected(n));
        }
        Ok(())
    }

    /// The saved state and base; a journal it holds is kept for [`Ctx::recover`].
    async fn load_state(&self) -> Result<(State, Manifest)> {
        match self.tree.load_state().await? {
            None => Ok((
                State {
                    format: 1,
                    ..State::default()
                },
                Manifest::default(),
            )),
            Some(bytes) => {
                let (state, base, pending) = State::decode_journal(&bytes)?;
                *self.pending.borrow_mut() = pending;
                Ok((state, base))
            }
        }
    }

    /// Saves the state with `base` as its base and no journal.
    async fn save_state(&self, state: &State, base: &Manifest) -> Result<()> {
        self.step()?;
        self.tree.save_state(&state.encode(base)).await?;
        Ok(())
    }

    /// Saves the journal of an update about to change the disk or of a commit about to write
    /// a head (section 7.5): the base it starts from and the revision `(version, manifest)`.
    async fn save_journal(
        &self,
        state: &State,
        base: &Manifest,
        kind: JournalKind,
        (version, manifest): (u64, &Manifest),
    ) -> Result<()> {
        self.step()?;
        self.tree
            .save_state(&state.encode_journal(base, Some((kind, version, manifest))))
            .await?;
        Ok(())
    }

    /// Keeps a commit journal only if the server holds its revision: the version `rv` with
    /// manifest `rm` is the head, an older one is read from the revision history (section 7.5).
    /// A head write that never happened or lost its race leaves a journal that must not become
    /// the base; an update journal's revision came from the server, so it is always kept.
    async fn check_commit_journal(&self, rv: u64, rm: &Manifest) -> Result<()> {
        let Some(p) = self.pending.borrow_mut().take() else {
            return Ok(());
        };
        let held = match p.kind {
            JournalKind::Update => true,
            JournalKind::Commit if p.version == rv => p.manifest == *rm,
            JournalKind::Commit if p.version < rv => {
                match revision_manifest(self.remote, self.keys, p.version).await {
                    Ok(m) => m == p.manifest,
                    // Expired: without the journal the worst case is a conflict copy.
                    Err(Error::RevisionNotFound(_)) => false,
                    Err(e) => return Err(e),
                }
            }
            JournalKind::Commit => false,
        };
        if held {
            *self.pending.borrow_mut() = Some(p);
        }
        Ok(())
    }

    /// Finishes the bookkeeping of an interrupted update (section 7.5): every path whose local
    /// entry equals the journaled revision's (absence included) was written, deleted or
    /// already matched by it, so that revision's entry becomes its base entry. The journal is
    /// consumed; the next update or the next save records the result.
    fn recover(&self, base: &mut Manifest, local: &Manifest) {
        let Some(p) = self.pending.borrow_mut().take() else {
            return;
        };
        let (b, l, r) = (&mut base.entries, &local.entries, &p.manifest.entries);
        let paths: BTreeSet<String> = b.keys().chain(r.keys()).cloned().collect();
        for path in paths {
            let (ll, rr) = (l.get(&path), r.get(&path));
            if same(b.get(&path), rr) || !same(ll, rr) {
                continue;
            }
            match rr {
                Some(e) => {
                    b.insert(path, e.clone());
                }
                None => {
                    b.remove(&path);
                }
            }
        }
    }

    /// Reads the disk into a manifest, hashing files the cache does not vouch for (section 7.2).
    async fn scan(&self, state: &State) -> Result<Scan> {
        let started = self.tree.now();
        let mut list = self.tree.list().await?;
        list.sort_by(|a, b| a.path.cmp(&b.path));
        let mut entries = Manifest::default();
        let mut stats = BTreeMap::new();
        let mut cache = BTreeMap::new();
        for e in list {
            check_path(&e.path)?;
            if let Some(par) = parent(&e.path) {
                if !entries.entries.get(par).is_some_and(Entry::is_dir) {
                    return Err(LocalError::Io {
                        op: "list",
                        path: e.path.clone(),
                        detail: "listed without its parent directory".into(),
                    }
                    .into());
                }
            }
            let kind = match e.kind {
                LocalKind::Dir => EntryKind::Dir,
                LocalKind::Symlink => EntryKind::Symlink {
                    target: e.target.clone().unwrap_or_default(),
                },
                LocalKind::File => {
                    let cached = state
                        .cache
                        .get(&e.path)
                        .filter(|c| c.size == e.size && c.mtime == e.mtime && c.mode == e.mode)
                        .map(|c| c.blobs.clone());
                    let blobs = match cached {
                        Some(b) => b,
                        None => {
                            let data = self.tree.read_file(&e.path).await?;
                            if data.len() as u64 != e.size {
                                return Err(Error::ChangedDuringSync(e.path.clone()));
                            }
                            chunk::split(&data)
                                .iter()
                                .map(|p| self.keys.blob_id(BlobKind::Content, p))
                                .collect()
                        }
                    };
                    if e.mtime.saturating_add(RACY_NS) < started {
                        cache.insert(
                            e.path.clone(),
                            CacheEntry {
                                size: e.size,
                                mtime: e.mtime,
                                mode: e.mode,
                                blobs: blobs.clone(),
                            },
                        );
                    }
                    EntryKind::File {
                        size: e.size,
                        blobs,
                    }
                }
            };
            let mode = if e.kind == LocalKind::Symlink {
                0
            } else {
                e.mode & 0o7777
            };
            entries.entries.insert(
                e.path.clone(),
                Entry {
                    kind,
                    mode,
                    mtime: e.mtime,
                },
            );
            stats.insert(e.path.clone(), e);
        }
        Ok(Scan {
            entries,
            stats,
            cache,
        })
    }

    fn open_head(&self, h: &StoredHead) -> Result<HeadRecord> {
        open_head_record(self.keys, h)
    }

    fn reader(&self) -> Reader<'_, R> {
        Reader {
            remote: self.remote,
            keys: self.keys,
            concurrency: self.conc(),
            bytes_down: &self.bytes_down,
        }
    }

    async fn load_manifest(&self, rec: &HeadRecord) -> Result<Manifest> {
        self.reader().manifest(rec).await
    }

    /// The server's head version and manifest, checked against rollback (section 7.3).
    async fn fetch_remote(&self, state: &State, base: &Manifest) -> Result<(u64, Manifest)> {
        match self.remote.get_head().await? {
            None if state.seen > 0 => Err(Error::Rollback {
                seen: state.seen,
                got: 0,
            }),
            None => Ok((0, Manifest::default())),
            Some(h) => {
                if h.version < state.seen {
                    return Err(Error::Rollback {
                        seen: state.seen,
                        got: h.version,
                    });
                }
                let rec = self.open_head(&h)?;
                if h.version == state.version {
                    return Ok((h.version, base.clone()));
                }
                Ok((h.version, self.load_manifest(&rec).await?))
            }
        }
    }

    /// The smallest free `path.N` (section 7.3).
    async fn free_name(&self, path: &str, taken: &RefCell<BTreeSet<String>>) -> Result<String> {
        for n in 1..=1_000_000u32 {
            let name = format!("{path}.{n}");
            if taken.borrow().contains(&name) || self.tree.stat(&name).await?.is_some() {
                continue;
            }
            taken.borrow_mut().insert(name.clone());
            return Ok(name);
        }
        Err(LocalError::Io {
            op: "rename",
            path: path.into(),
            detail: "no free conflict name".into(),
        }
        .into())
    }

    async fn rename_aside(
        &self,
        path: &str,
        reason: ConflictReason,
        taken: &RefCell<BTreeSet<String>>,
        conflicts: &RefCell<Vec<Conflict>>,
    ) -> Result<()> {
        let to = self.free_name(path, taken).await?;
        self.step()?;
        self.tree.rename(path, &to).await?;
        conflicts.borrow_mut().push(Conflict {
            path: path.into(),
            renamed_to: to,
            reason,
        });
        Ok(())
    }

    /// Whether the local file at `path` still looks as it did in the scan.
    async fn unchanged(&self, path: &str, scanned: &LocalEntry) -> Result<bool> {
        Ok(match self.tree.stat(path).await? {
            Some(now) => {
                now.kind == scanned.kind && now.size == scanned.size && now.mtime == scanned.mtime
            }
            None => false,
        })
    }

    async fn download_file(&self, path: &str, entry: &Entry) -> Result<Vec<u8>> {
        let EntryKind::File { size, blobs } = &entry.kind else {
            unreachable!("only files are downloaded")
        };
        self.reader().content(path, *size, blobs).await
    }

    /// Update: apply the server's changes to the disk (section 7.3). Returns the scan of the
    /// disk if nothing local changed (so commit can reuse it).
    async fn update(
        &self,
        state: &mut State,
        base: &mut Manifest,
        report: &mut SyncReport,
    ) -> Result<Option<Scan>> {
        let scan = self.scan(state).await?;
        let (rv, rm) = self.fetch_remote(state, base).await?;
        self.check_commit_journal(rv, &rm).await?;
        self.recover(base, &scan.entries);
        let (b, l, r) = (&base.entries, &scan.entries.entries, &rm.entries);
        let paths: BTreeSet<String> = b.keys().chain(l.keys()).chain(r.keys()).cloned().collect();
        let mut apply = Vec::new();
        let mut conflicted = Vec::new();
        for p in &paths {
            let (bb, ll, rr) = (b.get(p), l.get(p), r.get(p));
            if same(ll, rr) {
                continue;
            }
            if same(ll, bb) {
                apply.push(p.clone());
                continue;
            }
            if same(rr, bb) {
                continue;
            }
            match ll {
                None => apply.push(p.clone()),
                Some(e) if e.is_dir() && rr.is_none() => {}
                Some(_) => {
                    let why = if rr.is_none() {
                        ConflictReason::DeletedOnServer
                    } else {
                        ConflictReason::BothChanged
                    };
                    conflicted.push((p.clone(), why));
                    apply.push(p.clone());
                }
            }
        }
        if !apply.is_empty() || !conflicted.is_empty() {
            // The journal, before the first local change: a run killed from here on is
            // finished by the next one (section 7.5). The cache forgets the paths to change.
            let mut journal = state.clone();
            journal.seen = journal.seen.max(rv);
            for p in &apply {
                journal.cache.remove(p);
            }
            self.save_journal(&journal, base, JournalKind::Update, (rv, &rm))
                .await?;
        }
        let taken = RefCell::new(paths);
        let conflicts = RefCell::new(Vec::new());
        let mut local = scan.stats.clone();
        let mut changed_disk = false;

        // 1. Conflict renames.
        for (p, why) in &conflicted {
            self.rename_aside(p, *why, &taken, &conflicts).await?;
            local.remove(p);
            changed_disk = true;
        }
        // 2. Deletions of files and symlinks; collect directory work and writes.
        let (mut rmdirs, mut mkdirs, mut writes) = (Vec::new(), Vec::new(), Vec::new());
        for p in &apply {
            let want = r.get(p);
            let have = local.get(p).map(|e| e.kind);
            match (have, want.map(|w| &w.kind)) {
                (Some(LocalKind::Dir), Some(EntryKind::Dir)) | (None, None) => {}
                (Some(LocalKind::Dir), _) => rmdirs.push(p.clone()),
                (Some(_), None) | (Some(_), Some(EntryKind::Dir)) => {
                    changed_disk = true;
                    if self.unchanged(p, &local[p]).await? {
                        self.step()?;
                        self.tree.remove_file(p).await?;
                        report.deleted_locally.push(p.clone());
                    } else {
                        self.rename_aside(p, ConflictReason::ChangedDuringSync, &taken, &conflicts)
                            .await?;
                    }
                    local.remove(p);
                }
                _ => {}
            }
            match want.map(|w| &w.kind) {
                Some(EntryKind::Dir) if have != Some(LocalKind::Dir) => mkdirs.push(p.clone()),
                Some(EntryKind::File { .. }) | Some(EntryKind::Symlink { .. }) => {
                    writes.push(p.clone())
                }
                _ => {}
            }
        }
        // 3. Directories, deepest first; a non-empty one is kept or moved aside.
        rmdirs.sort_by(|a, b| b.cmp(a));
        for p in &rmdirs {
            changed_disk = true;
            self.step()?;
            let removed = match self.tree.remove_dir(p).await {
                Ok(removed) => removed,
                Err(LocalError::NotFound(_)) => true,
                Err(e) => return Err(e.into()),
            };
            if removed {
                report.deleted_locally.push(p.clone());
            } else if r.get(p).is_none() {
                report.kept.push(p.clone());
            } else {
                self.rename_aside(p, ConflictReason::DirInTheWay, &taken, &conflicts)
                    .await?;
            }
            local.remove(p);
        }
        // A file or symlink standing where the server needs a directory moves aside.
        for p in mkdirs.iter().chain(writes.iter()) {
            let mut at = 0;
            while let Some(i) = p[at..].find('/') {
                let anc = &p[..at + i];
                at += i + 1;
                if local.get(anc).is_some_and(|e| e.kind != LocalKind::Dir) {
                    changed_disk = true;
                    self.rename_aside(anc, ConflictReason::BothChanged, &taken, &conflicts)
                        .await?;
                    local.remove(anc);
                }
            }
        }
        // 4. New directories, parents first.
        mkdirs.sort();
        for p in &mkdirs {
            changed_disk = true;
            self.step()?;
            self.tree.mkdir(p, r[p].mode).await?;
            report.downloaded.push(p.clone());
        }
        // 5. Files and symlinks.
        let total: u64 = writes
            .iter()
            .map(|p| match &r[p].kind {
                EntryKind::File { size, .. } => *size,
                _ => 0,
            })
            .sum();
        if !writes.is_empty() {
            changed_disk = true;
            self.obs.progress(Progress::DownloadStart {
                files: writes.len() as u64,
                bytes: total,
            });
        }
        let local = &local;
        let (taken, conflicts) = (&taken, &conflicts);
        let written: Vec<(String, Option<CacheEntry>)> = stream::iter(writes.iter())
            .map(|p| async move {
                let want = &r[p];
                let data = match &want.kind {
                    EntryKind::File { .. } => Some(self.download_file(p, want).await?),
                    _ => None,
                };
                if let Some(have) = local.get(p) {
                    if have.kind != LocalKind::Dir && !self.unchanged(p, have).await? {
                        self.rename_aside(p, ConflictReason::ChangedDuringSync, taken, conflicts)
                            .await?;
                    }
                }
                self.step()?;
                let mut cached = None;
                match (&want.kind, data) {
                    (EntryKind::File { blobs, .. }, Some(data)) => {
                        self.tree
                            .write_file(p, &data, want.mode, want.mtime)
                            .await?;
                        self.obs.progress(Progress::Downloaded {
                            bytes: data.len() as u64,
                        });
                        if let Some(st) = self.tree.stat(p).await? {
                            if st.mtime.saturating_add(RACY_NS) < self.tree.now() {
                                cached = Some(CacheEntry {
                                    size: st.size,
                                    mtime: st.mtime,
                                    mode: st.mode,
                                    blobs: blobs.clone(),
                                });
                            }
                        }
                    }
                    (EntryKind::Symlink { target }, _) => {
                        self.tree.write_symlink(p, target).await?
                    }
                    _ => unreachable!("writes holds files and symlinks"),
                }
                Ok::<_, Error>((p.clone(), cached))
            })
            .buffer_unordered(self.conc())
            .try_collect()
            .await?;
        if !writes.is_empty() {
            self.obs.progress(Progress::TransferEnd);
        }
        let mut cache = scan.cache.clone();
        for p in report
            .deleted_locally
            .iter()
            .chain(conflicts.borrow().iter().map(|c| &c.path))
        {
            cache.remove(p);
        }
        for (p, c) in written {
            cache.remove(&p);
            if let Some(c) = c {
                cache.insert(p.clone(), c);
            }
            report.downloaded.push(p);
        }
        report.downloaded.sort();
        report.conflicts.extend(conflicts.take());
        report.bytes_downloaded += self.bytes_down.replace(0);
        // The base becomes the server's revision; local changes stay local changes.
        state.version = rv;
        state.seen = state.seen.max(rv);
        state.cache = cache;
        *base = rm;
        self.save_state(state, base).await?;
        report.version = rv;
        Ok(if changed_disk { None } else { Some(scan) })
    }

    /// Uploads the blobs of `files` (paths of `m`) that are in `missing` (section 7.4, step 2).
    async fn upload_content(
        &self,
        m: &Manifest,
        files: &[&String],
        missing: &HashSet<BlobId>,
        report: &mut SyncReport,
    ) -> Result<()> {
        let mut done: HashSet<BlobId> = HashSet::new();
        let mut batch: Vec<(BlobId, Vec<u8>)> = Vec::new();
        let mut batch_bytes = 0usize;
        let total: u64 = files
            .iter()
            .filter_map(|p| match &m.entries[*p].kind {
                EntryKind::File { size, blobs } if blobs.iter().any(|b| missing.contains(b)) => {
                    Some(*size)
                }
                _ => None,
            })
            .sum();
        self.obs.progress(Progress::UploadStart {
            blobs: missing.len() as u64,
            bytes: total,
        });
        for (i, p) in files.iter().enumerate() {
            let EntryKind::File { blobs, .. } = &m.entries[*p].kind else {
                continue;
            };
            if blobs
                .iter()
                .all(|b| !missing.contains(b) || done.contains(b))
            {
                continue;
            }
            let data = self.tree.read_file(p).await?;
            let pieces = chunk::split(&data);
            if pieces.len() != blobs.len() {
                return Err(Error::ChangedDuringSync((*p).clone()));
            }
            for (piece, id) in pieces.iter().zip(blobs) {
                if self.keys.blob_id(BlobKind::Content, piece) != *id {
                    return Err(Error::ChangedDuringSync((*p).clone()));
                }
                if missing.contains(id) && done.insert(*id) {
                    batch_bytes += piece.len();
                    batch.push((*id, piece.to_vec()));
                }
            }
            if batch_bytes >= UPLOAD_BATCH || i + 1 == files.len() {
                self.put_blobs(BlobKind::Content, std::mem::take(&mut batch), report)
                    .await?;
                batch_bytes = 0;
            }
        }
        self.put_blobs(BlobKind::Content, batch, report).await?;
        self.obs.progress(Progress::TransferEnd);
        Ok(())
    }

    async fn put_blobs(
        &self,
        kind: BlobKind,
        blobs: Vec<(BlobId, Vec<u8>)>,
        report: &mut SyncReport,
    ) -> Result<()> {
        let sizes: Vec<u64> = stream::iter(blobs)
            .map(|(id, plain)| async move {
                let (sealed_id, sealed) = self.keys.seal_blob(kind, &plain)?;
                debug_assert_eq!(sealed_id, id);
                let n = sealed.len() as u64;
                self.step()?;
                self.remote.put_blob(&id, sealed).await?;
                // Progress counts the files' bytes (UploadStart's total), not the manifest's.
                if kind == BlobKind::Content {
                    self.obs.progress(Progress::Uploaded {
                        bytes: plain.len() as u64,
                    });
                }
                Ok::<_, Error>(n)
            })
            .buffer_unordered(self.conc())
            .try_collect()
            .await?;
        report.blobs_uploaded += sizes.len() as u64;
        report.bytes_uploaded += sizes.iter().sum::<u64>();
        Ok(())
    }

    async fn missing(&self, ids: Vec<BlobId>) -> Result<HashSet<BlobId>> {
        let mut out = HashSet::new();
        for batch in ids.chunks(MISSING_BATCH) {
            out.extend(self.remote.missing_blobs(batch).await?);
        }
        Ok(out)
    }

    /// Commit: upload the disk's changes and swap the head (section 7.4). `Ok(false)`: stale.
    async fn commit(
        &self,
        state: &mut State,
        base: &mut Manifest,
        scan: Scan,
        report: &mut SyncReport,
    ) -> Result<bool> {
        let m = scan.entries;
        let changed_owned: Vec<String> = m
            .entries
            .iter()
            .filter(|(p, e)| !same(base.entries.get(*p), Some(e)))
            .map(|(p, _)| p.clone())
            .collect();
        let changed: Vec<&String> = changed_owned.iter().collect();
        let deleted: Vec<String> = base
            .entries
            .keys()
            .filter(|p| !m.entries.contains_key(*p))
            .cloned()
            .collect();
        if changed.is_empty() && deleted.is_empty() {
            if state.cache != scan.cache {
                state.cache = scan.cache;
                self.save_state(state, base).await?;
            }
            return Ok(true);
        }
        // Content blobs the base does not already reference.
        let known: HashSet<&BlobId> = base
            .entries
            .values()
            .filter_map(|e| match &e.kind {
                EntryKind::File { blobs, .. } => Some(blobs.iter()),
                _ => None,
            })
            .flatten()
            .collect();
        let mut new_ids: Vec<BlobId> = changed
            .iter()
            .filter_map(|p| match &m.entries[*p].kind {
                EntryKind::File { blobs, .. } => {
                    Some(blobs.iter().filter(|b| !known.contains(b)).copied())
                }
                _ => None,
            })
            .flatten()
            .collect();
        new_ids.sort();
        new_ids.dedup();
        let missing = self.missing(new_ids).await?;
        self.upload_content(&m, &changed, &missing, report).await?;
        // The manifest, then the head.
        let encoded = m.encode();
        let mut pieces = Vec::new();
        let mut ids = Vec::new();
        for piece in chunk::split(&encoded) {
            let id = self.keys.blob_id(BlobKind::Manifest, piece);
            ids.push(id);
            pieces.push((id, piece.to_vec()));
        }
        let missing = self.missing(ids.clone()).await?;
        pieces.retain(|(id, _)| missing.contains(id));
        self.put_blobs(BlobKind::Manifest, pieces, report).await?;
        let version = state.version + 1;
        let rec = HeadRecord {
            format: 1,
            revision: version,
            manifest: ids,
            manifest_size: encoded.len() as u64,
            time: (self.tree.now().max(0) / 1_000_000_000) as u64,
            entries: m.entries.len() as u64,
        };
        let sealed = self
            .keys
            .seal_head(version, &serde_json::to_vec(&rec).expect("head serializes"))?;
        // The journal: a run killed after the head is written and before the state is saved
        // finds its own revision on the server and takes it as its base (section 7.5).
        self.save_journal(state, base, JournalKind::Commit, (version, &m))
            .await?;
        self.step()?;
        match self.remote.put_head(state.version, sealed).await? {
            HeadWrite::Stale(_) => Ok(false),
            HeadWrite::Written(v) if v != version => Err(RemoteError::Protocol(format!(
                "head written as version {v}, expected {version}"
            ))
            .into()),
            HeadWrite::Written(v) => {
                state.version = v;
                state.seen = state.seen.max(v);
                state.cache = scan.cache;
                *base = m;
                self.save_state(state, base).await?;
                report.committed = true;
                report.version = v;
                report.uploaded = changed_owned;
                report.deleted_remotely = deleted;
                Ok(true)
            }
        }
    }
}

/// Brings the checkout and the server in line: update from the server, then commit local
/// changes, retrying after a lost compare-and-swap (section 7).
pub async fn sync<R: Remote, T: LocalTree>(
    remote: &R,
    keys: &RepoKeys,
    tree: &T,
    opts: &SyncOptions,
    obs: &dyn Observer,
) -> Result<SyncReport> {
    let ctx = Ctx::new(remote, keys, tree, opts, obs);
    let (mut state, mut base) = ctx.load_state().await?;
    let mut report = SyncReport::default();
    for attempt in 1..=opts.max_attempts.max(1) {
        report.attempts = attempt;
        let scan = match ctx.update(&mut state, &mut base, &mut report).await? {
            Some(scan) => scan,
            None => ctx.scan(&state).await?,
        };
        if ctx.commit(&mut state, &mut base, scan, &mut report).await? {
            report.version = state.version;
            report.bytes_downloaded += ctx.bytes_down.replace(0);
            return Ok(report);
        }
    }
    Err(Error::StaleHead {
        attempts: opts.max_attempts.max(1),
    })
}

/// Applies the server's changes to the checkout without committing local ones.
pub async fn update<R: Remote, T: LocalTree>(
    remote: &R,
    keys: &RepoKeys,
    tree: &T,
    opts: &SyncOptions,
    obs: &dyn Observer,
) -> Result<SyncReport> {
    let ctx = Ctx::new(remote, keys, tree, opts, obs);
    let (mut state, mut base) = ctx.load_state().await?;
    let mut report = SyncReport {
        attempts: 1,
        ..SyncReport::default()
    };
    ctx.update(&mut state, &mut base, &mut report).await?;
    Ok(report)
}

/// Local changes not yet committed, and how far the server is ahead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The version of the checkout's base.
    pub base_version: u64,
    /// The server's current version.
    pub head_version: u64,
    /// New local entries.
    pub added: Vec<String>,
    /// Changed local entries.
    pub modified: Vec<String>,
    /// Entries deleted locally.
    pub deleted: Vec<String>,
}

/// Compares the disk with the base and reads the server's head version (authenticated).
pub async fn status<R: Remote, T: LocalTree>(
    remote: &R,
    keys: &RepoKeys,
    tree: &T,
) -> Result<Status> {
    let opts = SyncOptions::default();
    let ctx = Ctx::new(remote, keys, tree, &opts, &());
    let (state, mut base) = ctx.load_state().await?;
    let scan = ctx.scan(&state).await?;
    let commit_journal = matches!(
        &*ctx.pending.borrow(),
        Some(p) if p.kind == JournalKind::Commit
    );
    if commit_journal {
        let (rv, rm) = ctx.fetch_remote(&state, &base).await?;
        ctx.check_commit_journal(rv, &rm).await?;
    }
    ctx.recover(&mut base, &scan.entries);
    let mut st = Status {
        base_version: state.version,
        ..Status::default()
    };
    for (p, e) in &scan.entries.entries {
        match base.entries.get(p) {
            None => st.added.push(p.clone()),
            Some(b) if !b.same(e) => st.modified.push(p.clone()),
            _ => {}
        }
    }
    st.deleted = base
        .entries
        .keys()
        .filter(|p| !scan.entries.entries.contains_key(*p))
        .cloned()
        .collect();
    st.head_version = match remote.get_head().await? {
        None if state.seen > 0 => {
            return Err(Error::Rollback {
                seen: state.seen,
                got: 0,
            })
        }
        None => 0,
        Some(h) if h.version < state.seen => {
            return Err(Error::Rollback {
                seen: state.seen,
                got: h.version,
            })
        }
        Some(h) => {
            ctx.open_head(&h)?;
            h.version
        }
    };
    Ok(st)
}

/// One line of `vfsync log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The revision's version.
    pub version: u64,
    /// When the server stored it (Unix seconds).
    pub time: u64,
    /// The number of entries of its manifest (`None` if the revision was not opened).
    pub entries: Option<u64>,
}

/// The server's revisions, newest first; the `open` newest are opened (authenticated) to count
/// their entries.
pub async fn log<R: Remote>(remote: &R, keys: &RepoKeys, open: usize) -> Result<Vec<LogEntry>> {
    let mut out = Vec::new();
    for (i, info) in remote.revisions().await?.into_iter().enumerate() {
        let mut entries = None;
        if i < open {
            if let Some(h) = remote.get_revision(info.version).await? {
                entries = Some(open_head_record(keys, &h)?.entries);
            }
        }
        out.push(LogEntry {
            version: info.version,
            time: info.time,
            entries,
        });
    }
    Ok(out)
}

/// What `restore` did.
#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    /// Entries written from the revision.
    pub restored: Vec<String>,
    /// Entries that already matched.
    pub unchanged: usize,
    /// Local entries moved aside to make room.
    pub renamed: Vec<Conflict>,
}

/// Writes the entries of revision `version` at or under `path` (all if `None`) to the disk,
/// moving differing local entries aside; nothing is deleted (section 7.6). The next sync
/// commits the result.
pub async fn restore<R: Remote, T: LocalTree>(
    remote: &R,
    keys: &RepoKeys,
    tree: &T,
    version: u64,
    path: Option<&str>,
    opts: &SyncOptions,
) -> Result<RestoreReport> {
    let ctx = Ctx::new(remote, keys, tree, opts, &());
    let h = remote
        .get_revision(version)
        .await?
        .ok_or(Error::RevisionNotFound(version))?;
    let rec = ctx.open_head(&h)?;
    let m = ctx.load_manifest(&rec).await?;
    let path = path.map(|p| p.trim_matches('/')).filter(|p| !p.is_empty());
    let selected: Vec<(&String, &Entry)> = m
        .entries
        .iter()
        .filter(|(p, _)| match path {
            None => true,
            Some(root) => {
                p.as_str() == root
                    || p.strip_prefix(root)
                        .is_some_and(|rest| rest.starts_with('/'))
            }
        })
        .collect();
    if let Some(root) = path {
        if selected.is_empty() {
            return Err(Error::PathNotInRevision {
                path: root.into(),
                version,
            });
        }
    }
    let taken = RefCell::new(m.entries.keys().cloned().collect::<BTreeSet<String>>());
    let conflicts = RefCell::new(Vec::new());
    let mut report = RestoreReport::default();
    for (p, e) in selected {
        // Parents of the restore root may be missing locally; create them.
        let local = tree.stat(p).await?;
        let matches = match (&local, &e.kind) {
            (None, _) => false,
            (Some(l), EntryKind::Dir) => l.kind == LocalKind::Dir,
            (Some(l), EntryKind::Symlink { target }) => {
                l.kind == LocalKind::Symlink && l.target.as_ref() == Some(target)
            }
            (Some(l), EntryKind::File { size, blobs }) => {
                l.kind == LocalKind::File && l.size == *size && {
                    let data = tree.read_file(p).await?;
                    let ids: Vec<BlobId> = chunk::split(&data)
                        .iter()
                        .map(|c| keys.blob_id(BlobKind::Content, c))
                        .collect();
                    ids == *blobs
                }
            }
        };
        if matches {
            report.unchanged += 1;
            continue;
        }
        if local.is_some() {
            ctx.rename_aside(p, ConflictReason::Restored, &taken, &conflicts)
                .await?;
        }
        ctx.step()?;
        match &e.kind {
            EntryKind::Dir => tree.mkdir(p, e.mode).await?,
            EntryKind::Symlink { target } => tree.write_symlink(p, target).await?,
            EntryKind::File { .. } => {
                let data = ctx.download_file(p, e).await?;
                tree.write_file(p, &data, e.mode, e.mtime).await?;
            }
        }
        report.restored.push(p.clone());
    }
    report.renamed = conflicts.take();
    Ok(report)
}
