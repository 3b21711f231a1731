//! [`SyncHome`], the 9p file system, and [`HomeDriver`], which runs its network jobs.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::rc::Rc;

use vf_devices::p9::{
    open_flags, Attr, DirEntry, Errno, FileSystem, FsError, FsResult, MemFile, MemFs, Owner, Qid,
    SetAttr, SetTime, StatFs,
};
use vfsync_core::state::{CacheEntry, State};
use vfsync_core::{BlobId, BlobKind, EntryKind, Manifest, Remote, RepoKeys, SyncOptions};
use zeroize::{Zeroize, Zeroizing};

use crate::connect::Connector;
use crate::ctl::{self, Command, MAX_COMMAND};
use crate::persist::{
    self, chunk_key, chunk_prefix, meta_key, seal_chunks, seal_root, Content, NoPersist, Persist,
    SnapEntry, SnapKind, Snapshot,
};
use crate::tree::{ns_to_ts, ts_to_ns, HomeTree};
use crate::HomeError;

/// Knobs of a home.
#[derive(Debug, Clone, Copy)]
pub struct HomeConfig {
    /// Bytes of file data held in memory at most (fetched and written files).
    pub capacity: u64,
    /// The host syncs on its own once no change happened for this long (nanoseconds).
    pub settle_ns: i64,
    /// The wall clock, nanoseconds since the Unix epoch (a plain `fn` so that it works in the
    /// browser, where `SystemTime` does not).
    pub clock: fn() -> i64,
}

impl HomeConfig {
    /// 256 MiB of data, auto-sync 3 s after the last change, the given clock.
    pub fn new(clock: fn() -> i64) -> Self {
        HomeConfig {
            capacity: 256 << 20,
            settle_ns: 3_000_000_000,
            clock,
        }
    }
}

/// A file whose content is still on the server.
#[derive(Debug, Clone)]
pub(crate) struct Lazy {
    pub size: u64,
    pub blobs: Vec<BlobId>,
}

/// A signed-in user.
pub(crate) struct Login<R> {
    pub user: String,
    pub home: u64,
    pub remote: Rc<R>,
    pub keys: Rc<RepoKeys>,
}

enum Job {
    Login {
        handle: u64,
        user: String,
        password: Zeroizing<Vec<u8>>,
    },
    Sync {
        handle: Option<u64>,
    },
    Logout {
        handle: u64,
        force: bool,
    },
    Fetch(u64),
    Save,
}

/// One open handle of the control file: the command bytes written so far and the reply.
#[derive(Default)]
struct CtlHandle {
    input: Vec<u8>,
    busy: bool,
    out: Vec<u8>,
    pos: usize,
}

impl Drop for CtlHandle {
    fn drop(&mut self) {
        self.input.zeroize();
    }
}

/// State shared by the file system, its driver and the engine's view of the tree.
pub(crate) struct Inner<R> {
    pub fs: MemFs,
    pub root: u64,
    vfsync_dir: u64,
    ctl: u64,
    pub login: Option<Login<R>>,
    pub lazy: HashMap<u64, Lazy>,
    fetch_failed: HashMap<u64, Errno>,
    fetching: Vec<u64>,
    jobs: VecDeque<Job>,
    handles: HashMap<u64, CtlHandle>,
    next_handle: u64,
    pub state: Option<Vec<u8>>,
    /// When the guest last changed something in the home (None: nothing unsynced).
    changed_at: Option<i64>,
    sync_queued: bool,
    last_sync: Option<(i64, u64)>,
    last_error: Option<String>,
    pub config: HomeConfig,
    /// Chunk ids in the local store of each file whose content is unchanged since it was saved.
    persisted_files: HashMap<u64, Vec<BlobId>>,
    /// Files whose content changed while a save was running.
    changed_during_save: HashSet<u64>,
    /// Chunks known to be in the local store (None: not listed yet).
    stored_chunks: Option<HashSet<BlobId>>,
    saving: bool,
    /// Something changed since the last save to the local store.
    save_dirty: bool,
    save_queued: bool,
}

impl<R> Inner<R> {
    fn in_home(&self, dir: u64) -> bool {
        dir != self.root && dir != self.vfsync_dir
    }

    fn touch(&mut self) {
        self.changed_at = Some((self.config.clock)());
        self.save_dirty = true;
    }

    /// The content of `ino` changed (its saved chunks no longer describe it).
    fn content_changed(&mut self, ino: u64) {
        self.persisted_files.remove(&ino);
        if self.saving {
            self.changed_during_save.insert(ino);
        }
        self.touch();
    }

    fn reply(&mut self, handle: u64, text: String) {
        if let Some(h) = self.handles.get_mut(&handle) {
            h.busy = false;
            h.out = text.into_bytes();
            h.pos = 0;
        }
    }

    /// Takes a complete command out of a handle's input and queues or answers it.
    fn ctl_input(&mut self, handle: u64) -> Result<(), Errno> {
        {
            let h = self.handles.get_mut(&handle).ok_or(Errno::EBADF)?;
            let parsed = ctl::parse(&h.input);
            let cmd = match parsed {
                Ok(None) => return Ok(()),
                Ok(Some((cmd, used))) => {
                    let extra = h.input.len() > used;
                    h.input.zeroize();
                    h.input.clear();
                    if extra {
                        // One reply per handle: a second command must wait for the first.
                        self.reply(handle, "error: one command at a time per handle\n".into());
                        return Ok(());
                    }
                    cmd
                }
                Err(e) => {
                    h.input.zeroize();
                    h.input.clear();
                    self.reply(handle, format!("error: {e}\n"));
                    return Ok(());
                }
            };
            let h = self.handles.get_mut(&handle).ok_or(Errno::EBADF)?;
            h.busy = true;
            h.out.clear();
            h.pos = 0;
            match cmd {
                Command::Status => {
                    let text = self.status_text();
                    self.reply(handle, text);
                }
                Command::Login { user, password } => self.jobs.push_back(Job::Login {
                    handle,
                    user,
                    password,
                }),
                Command::Sync => {
                    self.sync_queued = true;
                    self.jobs.push_back(Job::Sync {
                        handle: Some(handle),
                    })
                }
                Command::Logout { force } => self.jobs.push_back(Job::Logout { handle, force }),
            }
        }
        Ok(())
    }

    fn status_text(&self) -> String {
        let mut s = String::new();
        match &self.login {
            None => s.push_str("user -\n"),
            Some(l) => {
                let _ = writeln!(s, "user {}", l.user);
            }
        }
        match self.last_sync {
            Some((t, v)) => {
                let _ = writeln!(s, "last-sync {} version {v}", t / 1_000_000_000);
            }
            None => s.push_str("last-sync never\n"),
        }
        let _ = writeln!(
            s,
            "pending {}",
            if self.changed_at.is_some() {
                "yes"
            } else {
                "no"
            }
        );
        let _ = writeln!(s, "not-fetched {}", self.lazy.len());
        if let Some(e) = &self.last_error {
            let _ = writeln!(s, "last-error {e}");
        }
        s
    }

    /// Whether `ino` can be read now; queues its download if not.
    fn ensure_fetched(&mut self, ino: u64) -> FsResult<()> {
        if let Some(e) = self.fetch_failed.remove(&ino) {
            return Err(e.into());
        }
        if !self.lazy.contains_key(&ino) {
            return Ok(());
        }
        if !self.fetching.contains(&ino) {
            self.fetching.push(ino);
            self.jobs.push_back(Job::Fetch(ino));
        }
        Err(FsError::Pending)
    }

    /// Removes the signed-in user's tree and keys.
    fn forget(&mut self) {
        if let Some(l) = self.login.take() {
            let name = l.user.clone().into_bytes();
            remove_tree(&mut self.fs, self.root, &name);
        }
        self.lazy.clear();
        self.fetch_failed.clear();
        self.fetching.clear();
        self.jobs
            .retain(|j| !matches!(j, Job::Fetch(_) | Job::Sync { handle: None } | Job::Save));
        self.persisted_files.clear();
        self.changed_during_save.clear();
        self.stored_chunks = None;
        self.save_dirty = false;
        self.save_queued = false;
        self.state = None;
        self.changed_at = None;
        self.last_sync = None;
        self.last_error = None;
    }
}

/// Removes `dir/name` and everything below it (bounded by the tree, which is finite).
pub(crate) fn remove_tree(fs: &mut MemFs, dir: u64, name: &[u8]) {
    let Ok(node) = fs.lookup(&dir, name) else {
        return;
    };
    let is_dir = fs
        .getattr(&node)
        .is_ok_and(|a| a.mode & vf_devices::p9::mode::S_IFMT == vf_devices::p9::mode::S_IFDIR);
    if is_dir {
        for child in list_names(fs, node) {
            remove_tree(fs, node, &child);
        }
        let _ = fs.unlink(&dir, name, vf_devices::p9::AT_REMOVEDIR);
    } else {
        let _ = fs.unlink(&dir, name, 0);
    }
}

/// The names in directory `dir` (without `.` and `..`).
pub(crate) fn list_names(fs: &mut MemFs, dir: u64) -> Vec<Vec<u8>> {
    let mut names = Vec::new();
    let Ok(mut f) = fs.open(&dir, open_flags::O_RDONLY | open_flags::O_DIRECTORY) else {
        return names;
    };
    let mut cookie = 0;
    // Each round returns at least one entry or ends, and a directory is finite: the bound is a
    // second guard, not the expected exit.
    for _ in 0..1_000_000 {
        let Ok(batch) = fs.readdir(&mut f, cookie, 256) else {
            break;
        };
        let Some(last) = batch.last() else {
            break;
        };
        cookie = last.offset;
        names.extend(
            batch
                .into_iter()
                .map(|e| e.name)
                .filter(|n| n != b"." && n != b".."),
        );
    }
    fs.release(f);
    names
}

/// The guest's synced home, served as a 9p file system. Create it with [`SyncHome::new`],
/// which also returns the [`HomeDriver`] that runs its jobs.
pub struct SyncHome<C: Connector> {
    inner: Rc<RefCell<Inner<C::Remote>>>,
}

/// An open file of the home.
pub enum HomeFile {
    /// A file or directory of the tree, and its node.
    Mem(MemFile, u64),
    /// A handle of the control file.
    Ctl(u64),
}

/// Runs the home's network jobs (sign-in, downloads, sync, sign-out). The host polls
/// [`HomeDriver::run`] whenever [`HomeDriver::has_work`] says so, then calls the 9p server's
/// `poll()`; it calls [`HomeDriver::tick`] every second or so for the automatic sync.
pub struct HomeDriver<C: Connector, P: Persist = NoPersist> {
    inner: Rc<RefCell<Inner<C::Remote>>>,
    connector: Rc<C>,
    persist: Rc<P>,
}

impl<C: Connector, P: Persist> Clone for HomeDriver<C, P> {
    fn clone(&self) -> Self {
        HomeDriver {
            inner: self.inner.clone(),
            connector: self.connector.clone(),
            persist: self.persist.clone(),
        }
    }
}

const ROOT_OWNER: Owner = Owner { uid: 0, gid: 0 };

impl<C: Connector> SyncHome<C> {
    /// A signed-out home and its driver, without local persistence.
    pub fn new(connector: C, config: HomeConfig) -> (SyncHome<C>, HomeDriver<C>) {
        Self::with_persist(connector, NoPersist, config)
    }

    /// A signed-out home and its driver, which keeps each signed-in user's home (unsynced
    /// changes, fetched contents, the engine state) in `persist`, sealed with the user's keys,
    /// and finds it again at the next sign-in of that user (see [`crate::persist`]).
    pub fn with_persist<P: Persist>(
        connector: C,
        persist: P,
        config: HomeConfig,
    ) -> (SyncHome<C>, HomeDriver<C, P>) {
        let mut fs = MemFs::with_capacity(config.capacity);
        let clock = config.clock;
        fs.set_clock(move || ns_to_ts(clock()));
        let root = fs.root(b"").expect("MemFs has a root");
        let _ = fs.setattr(
            &root,
            &SetAttr {
                mode: Some(0o755),
                ..SetAttr::default()
            },
        );
        fs.mkdir(&root, b".vfsync", 0o700, ROOT_OWNER)
            .expect("fresh MemFs takes a directory");
        let vfsync_dir = fs.lookup(&root, b".vfsync").expect("just made");
        let (ctl, f) = fs
            .create(&vfsync_dir, b"ctl", open_flags::O_RDWR, 0o600, ROOT_OWNER)
            .expect("fresh MemFs takes a file");
        fs.release(f);
        let inner = Rc::new(RefCell::new(Inner {
            fs,
            root,
            vfsync_dir,
            ctl,
            login: None,
            lazy: HashMap::new(),
            fetch_failed: HashMap::new(),
            fetching: Vec::new(),
            jobs: VecDeque::new(),
            handles: HashMap::new(),
            next_handle: 1,
            state: None,
            changed_at: None,
            sync_queued: false,
            last_sync: None,
            last_error: None,
            config,
            persisted_files: HashMap::new(),
            changed_during_save: HashSet::new(),
            stored_chunks: None,
            saving: false,
            save_dirty: false,
            save_queued: false,
        }));
        let driver = HomeDriver {
            inner: inner.clone(),
            connector: Rc::new(connector),
            persist: Rc::new(persist),
        };
        (SyncHome { inner }, driver)
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<String> {
        self.inner.borrow().login.as_ref().map(|l| l.user.clone())
    }

    /// Files whose content has not been fetched yet.
    pub fn not_fetched(&self) -> usize {
        self.inner.borrow().lazy.len()
    }
}

impl<C: Connector> FileSystem for SyncHome<C> {
    type Node = u64;
    type File = HomeFile;

    fn root(&mut self, aname: &[u8]) -> FsResult<u64> {
        self.inner.borrow_mut().fs.root(aname)
    }

    fn lookup(&mut self, dir: &u64, name: &[u8]) -> FsResult<u64> {
        self.inner.borrow_mut().fs.lookup(dir, name)
    }

    fn getattr(&mut self, node: &u64) -> FsResult<Attr> {
        let mut inner = self.inner.borrow_mut();
        let mut a = inner.fs.getattr(node)?;
        if let Some(l) = inner.lazy.get(node) {
            a.size = l.size;
            a.blocks = l.size.div_ceil(512);
        }
        Ok(a)
    }

    fn setattr(&mut self, node: &u64, set: &SetAttr) -> FsResult<()> {
        let mut inner = self.inner.borrow_mut();
        let inner = &mut *inner;
        if *node == inner.ctl {
            // Truncating the control file (a shell's `>`) is accepted and means nothing.
            return Ok(());
        }
        if *node == inner.root || *node == inner.vfsync_dir {
            return Err(Errno::EPERM.into());
        }
        if let Some(size) = set.size {
            if size == 0 {
                inner.lazy.remove(node);
            } else {
                inner.ensure_fetched(*node)?;
            }
        }
        inner.fs.setattr(node, set)?;
        if set.size.is_some() {
            inner.content_changed(*node);
        } else {
            inner.touch();
        }
        Ok(())
    }

    fn open(&mut self, node: &u64, flags: u32) -> FsResult<HomeFile> {
        let mut inner = self.inner.borrow_mut();
        if *node == inner.ctl {
            let h = inner.next_handle;
            inner.next_handle += 1;
            inner.handles.insert(h, CtlHandle::default());
            return Ok(HomeFile::Ctl(h));
        }
        let writes = flags & open_flags::O_ACCMODE != open_flags::O_RDONLY;
        if writes && flags & open_flags::O_TRUNC != 0 && inner.lazy.contains_key(node) {
            // Replaced wholesale: no need to fetch the old content.
            let f = inner.fs.open(node, flags)?;
            inner.lazy.remove(node);
            inner.content_changed(*node);
            return Ok(HomeFile::Mem(f, *node));
        }
        inner.ensure_fetched(*node)?;
        let f = inner.fs.open(node, flags)?;
        if writes && flags & open_flags::O_TRUNC != 0 {
            inner.content_changed(*node);
        }
        Ok(HomeFile::Mem(f, *node))
    }

    fn create(
        &mut self,
        dir: &u64,
        name: &[u8],
        flags: u32,
        mode: u32,
        owner: Owner,
    ) -> FsResult<(u64, HomeFile)> {
        let mut inner = self.inner.borrow_mut();
        if !inner.in_home(*dir) {
            return Err(Errno::EACCES.into());
        }
        let (n, f) = inner.fs.create(dir, name, flags, mode, owner)?;
        inner.content_changed(n);
        Ok((n, HomeFile::Mem(f, n)))
    }

    fn read(&mut self, file: &mut HomeFile, offset: u64, buf: &mut [u8]) -> FsResult<usize> {
        let mut inner = self.inner.borrow_mut();
        match file {
            HomeFile::Mem(f, _) => inner.fs.read(f, offset, buf),
            // The control file is a stream: replies are read from where the last read ended,
            // whatever the offset (the kernel's offset counts the command bytes written too).
            HomeFile::Ctl(h) => {
                let h = inner.handles.get_mut(h).ok_or(Errno::EBADF)?;
                if h.busy {
                    return Err(FsError::Pending);
                }
                let rest = &h.out[h.pos.min(h.out.len())..];
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                h.pos += n;
                Ok(n)
            }
        }
    }

    fn write(&mut self, file: &mut HomeFile, offset: u64, data: &[u8]) -> FsResult<usize> {
        let mut inner = self.inner.borrow_mut();
        match file {
            HomeFile::Mem(f, node) => {
                let n = inner.fs.write(f, offset, data)?;
                inner.content_changed(*node);
                Ok(n)
            }
            HomeFile::Ctl(h) => {
                let handle = *h;
                let hd = inner.handles.get_mut(&handle).ok_or(Errno::EBADF)?;
                if hd.busy {
                    return Err(Errno::EBUSY.into());
                }
                if hd.input.len().saturating_add(data.len()) > MAX_COMMAND + 2 {
                    hd.input.zeroize();
                    hd.input.clear();
                    return Err(Errno::EINVAL.into());
                }
                hd.input.extend_from_slice(data);
                inner.ctl_input(handle)?;
                Ok(data.len())
            }
        }
    }

    fn readdir(&mut self, dir: &mut HomeFile, cookie: u64, max: usize) -> FsResult<Vec<DirEntry>> {
        match dir {
            HomeFile::Mem(f, _) => self.inner.borrow_mut().fs.readdir(f, cookie, max),
            HomeFile::Ctl(_) => Err(Errno::ENOTDIR.into()),
        }
    }

    fn fsync(&mut self, file: &mut HomeFile, datasync: bool) -> FsResult<()> {
        match file {
            HomeFile::Mem(f, _) => self.inner.borrow_mut().fs.fsync(f, datasync),
            HomeFile::Ctl(_) => Ok(()),
        }
    }

    fn release(&mut self, file: HomeFile) {
        let mut inner = self.inner.borrow_mut();
        match file {
            HomeFile::Mem(f, _) => inner.fs.release(f),
            HomeFile::Ctl(h) => {
                inner.handles.remove(&h);
            }
        }
    }

    fn mkdir(&mut self, dir: &u64, name: &[u8], mode: u32, owner: Owner) -> FsResult<Qid> {
        let mut inner = self.inner.borrow_mut();
        if !inner.in_home(*dir) {
            return Err(Errno::EACCES.into());
        }
        let q = inner.fs.mkdir(dir, name, mode, owner)?;
        inner.touch();
        Ok(q)
    }

    fn symlink(&mut self, dir: &u64, name: &[u8], target: &[u8], owner: Owner) -> FsResult<Qid> {
        let mut inner = self.inner.borrow_mut();
        if !inner.in_home(*dir) {
            return Err(Errno::EACCES.into());
        }
        let q = inner.fs.symlink(dir, name, target, owner)?;
        inner.touch();
        Ok(q)
    }

    fn mknod(
        &mut self,
        dir: &u64,
        name: &[u8],
        mode: u32,
        rdev: u64,
        owner: Owner,
    ) -> FsResult<Qid> {
        let mut inner = self.inner.borrow_mut();
        if !inner.in_home(*dir) {
            return Err(Errno::EACCES.into());
        }
        // Device nodes, fifos and sockets live only here: vfsync does not sync them.
        inner.fs.mknod(dir, name, mode, rdev, owner)
    }

    fn link(&mut self, _dir: &u64, _name: &[u8], _target: &u64) -> FsResult<()> {
        // A synced tree has no hard links (the manifest would store two independent files).
        Err(Errno::EPERM.into())
    }

    fn readlink(&mut self, node: &u64) -> FsResult<Vec<u8>> {
        self.inner.borrow_mut().fs.readlink(node)
    }

    fn rename(&mut self, od: &u64, on: &[u8], nd: &u64, nn: &[u8]) -> FsResult<()> {
        let mut inner = self.inner.borrow_mut();
        if !inner.in_home(*od) || !inner.in_home(*nd) {
            return Err(Errno::EACCES.into());
        }
        inner.fs.rename(od, on, nd, nn)?;
        inner.touch();
        Ok(())
    }

    fn unlink(&mut self, dir: &u64, name: &[u8], flags: u32) -> FsResult<()> {
        let mut inner = self.inner.borrow_mut();
        if !inner.in_home(*dir) {
            return Err(Errno::EACCES.into());
        }
        let node = inner.fs.lookup(dir, name)?;
        inner.fs.unlink(dir, name, flags)?;
        inner.lazy.remove(&node);
        inner.content_changed(node);
        Ok(())
    }

    fn statfs(&mut self, node: &u64) -> FsResult<StatFs> {
        self.inner.borrow_mut().fs.statfs(node)
    }
}

/// A file's content from its blobs, checked against its size.
pub(crate) async fn fetch_content<R: Remote>(
    remote: &R,
    keys: &RepoKeys,
    lazy: &Lazy,
) -> Result<Vec<u8>, HomeError> {
    let mut data = Vec::new();
    for id in &lazy.blobs {
        let stored = remote.get_blob(id).await?;
        data.extend(keys.open_blob(BlobKind::Content, id, &stored)?);
        if data.len() as u64 > lazy.size {
            break;
        }
    }
    if data.len() as u64 != lazy.size {
        return Err(vfsync_core::Error::Format {
            what: "file",
            detail: format!(
                "{} bytes of content, manifest says {}",
                data.len(),
                lazy.size
            ),
        }
        .into());
    }
    Ok(data)
}

/// Builds `/USER` from the manifest: directories, symlinks and empty placeholders for files
/// (their content is fetched on first open). Returns the home's inode and the engine state that
/// vouches for every placeholder (so the first sync reads nothing).
fn build_tree<R>(
    inner: &mut Inner<R>,
    user: &str,
    version: u64,
    manifest: &Manifest,
) -> FsResult<u64> {
    let fs = &mut inner.fs;
    fs.mkdir(&inner.root, user.as_bytes(), 0o755, ROOT_OWNER)?;
    let home = fs.lookup(&inner.root, user.as_bytes())?;
    let mut dirs: BTreeMap<&str, u64> = BTreeMap::new();
    let mut cache = BTreeMap::new();
    // Byte order puts every parent before its children.
    for (path, entry) in &manifest.entries {
        let (dir, name) = match path.rsplit_once('/') {
            Some((p, n)) => (*dirs.get(p).ok_or(Errno::ENOENT)?, n),
            None => (home, path.as_str()),
        };
        match &entry.kind {
            EntryKind::Dir => {
                fs.mkdir(&dir, name.as_bytes(), entry.mode & 0o7777, ROOT_OWNER)?;
                dirs.insert(path, fs.lookup(&dir, name.as_bytes())?);
            }
            EntryKind::Symlink { target } => {
                fs.symlink(&dir, name.as_bytes(), target.as_bytes(), ROOT_OWNER)?;
            }
            EntryKind::File { size, blobs } => {
                let (ino, f) = fs.create(
                    &dir,
                    name.as_bytes(),
                    open_flags::O_WRONLY,
                    entry.mode & 0o7777,
                    ROOT_OWNER,
                )?;
                fs.release(f);
                fs.setattr(
                    &ino,
                    &SetAttr {
                        mtime: SetTime::At(ns_to_ts(entry.mtime)),
                        ..SetAttr::default()
                    },
                )?;
                let a = fs.getattr(&ino)?;
                if *size > 0 {
                    inner.lazy.insert(
                        ino,
                        Lazy {
                            size: *size,
                            blobs: blobs.clone(),
                        },
                    );
                }
                cache.insert(
                    path.clone(),
                    CacheEntry {
                        size: *size,
                        mtime: ts_to_ns(a.mtime),
                        mode: a.mode & 0o7777,
                        blobs: blobs.clone(),
                    },
                );
            }
        }
    }
    let state = State {
        format: 1,
        version,
        seen: version,
        base: Vec::new(),
        cache,
    };
    inner.state = Some(state.encode(manifest));
    Ok(home)
}

fn report_text(r: &vfsync_core::SyncReport) -> String {
    let mut s = format!(
        "ok: version {}, {} uploaded, {} downloaded, {} deleted here, {} deleted on the server, {} conflicts\n",
        r.version,
        r.uploaded.len(),
        r.downloaded.len(),
        r.deleted_locally.len(),
        r.deleted_remotely.len(),
        r.conflicts.len()
    );
    for p in &r.uploaded {
        let _ = writeln!(s, "up {p}");
    }
    for p in &r.downloaded {
        let _ = writeln!(s, "down {p}");
    }
    for p in &r.deleted_locally {
        let _ = writeln!(s, "deleted {p}");
    }
    for p in &r.deleted_remotely {
        let _ = writeln!(s, "deleted-on-server {p}");
    }
    for p in &r.kept {
        let _ = writeln!(s, "kept {p}");
    }
    for c in &r.conflicts {
        let _ = writeln!(s, "conflict {} -> {}", c.path, c.renamed_to);
    }
    s
}

impl<C: Connector, P: Persist> HomeDriver<C, P> {
    /// Whether jobs are queued (the host should poll [`HomeDriver::run`]).
    pub fn has_work(&self) -> bool {
        !self.inner.borrow().jobs.is_empty()
    }

    /// Queues the automatic sync when the guest changed the home and then left it alone for
    /// the settle time, and (with persistence) a save to the local store when anything
    /// changed since the last one. Returns whether it queued a job. Call it about once a
    /// second.
    pub fn tick(&self) -> bool {
        let mut inner = self.inner.borrow_mut();
        let now = (inner.config.clock)();
        let due = inner.login.is_some()
            && !inner.sync_queued
            && inner
                .changed_at
                .is_some_and(|t| now.saturating_sub(t) >= inner.config.settle_ns);
        if due {
            inner.sync_queued = true;
            inner.jobs.push_back(Job::Sync { handle: None });
        }
        let save = self.persist.enabled()
            && inner.login.is_some()
            && inner.save_dirty
            && !inner.save_queued;
        if save {
            inner.save_queued = true;
            inner.jobs.push_back(Job::Save);
        }
        due || save
    }

    /// Queues a sync of the signed-in home now (e.g. when the page is about to close); a
    /// no-op when signed out or when one is queued already. Returns whether it queued one.
    pub fn sync_now(&self) -> bool {
        let mut inner = self.inner.borrow_mut();
        if inner.login.is_none() || inner.sync_queued {
            return false;
        }
        inner.sync_queued = true;
        inner.jobs.push_back(Job::Sync { handle: None });
        true
    }

    /// Whether the local store (persistence) holds the signed-in home as it is now: nothing
    /// changed since the last save, and no save is queued or running. False when signed out
    /// or without persistence.
    pub fn saved(&self) -> bool {
        let inner = self.inner.borrow();
        self.persist.enabled()
            && inner.login.is_some()
            && !inner.save_dirty
            && !inner.save_queued
            && !inner.saving
    }

    /// Whether the signed-in home has changes the server has not seen.
    pub fn pending(&self) -> bool {
        self.inner.borrow().changed_at.is_some()
    }

    /// Runs the queued jobs, one after the other, until none is left. Never holds a borrow of
    /// the file system across an await, so the 9p server keeps serving meanwhile.
    pub async fn run(&self) {
        loop {
            let job = self.inner.borrow_mut().jobs.pop_front();
            let Some(job) = job else {
                return;
            };
            match job {
                Job::Login {
                    handle,
                    user,
                    password,
                } => {
                    let text = match self.login(&user, &password).await {
                        Ok(()) => format!("ok: signed in as {user}\n"),
                        Err(e) => format!("error: {e}\n"),
                    };
                    drop(password);
                    self.inner.borrow_mut().reply(handle, text);
                }
                Job::Sync { handle } => {
                    let text = match self.sync().await {
                        Ok(r) => report_text(&r),
                        Err(e) => format!("error: {e}\n"),
                    };
                    if let Some(h) = handle {
                        self.inner.borrow_mut().reply(h, text);
                    }
                }
                Job::Logout { handle, force } => {
                    let text = self.logout(force).await;
                    self.inner.borrow_mut().reply(handle, text);
                }
                Job::Fetch(ino) => self.fetch(ino).await,
                Job::Save => {
                    self.inner.borrow_mut().save_queued = false;
                    let res = self.save().await;
                    let mut inner = self.inner.borrow_mut();
                    match res {
                        Err(e) => inner.last_error = Some(e.to_string()),
                        Ok(()) => {
                            if inner
                                .last_error
                                .as_deref()
                                .is_some_and(|e| e.starts_with("local storage: "))
                            {
                                inner.last_error = None;
                            }
                        }
                    }
                }
            }
        }
    }

    async fn logout(&self, force: bool) -> String {
        let res = if force {
            Ok(None)
        } else {
            self.sync().await.map(Some)
        };
        let user = self.inner.borrow().login.as_ref().map(|l| l.user.clone());
        let Some(user) = user else {
            return format!("error: {}\n", HomeError::NotSignedIn);
        };
        let r = match res {
            Err(e) => {
                return format!(
                    "error: {e} (still signed in; `vflogout -f` signs out and discards unsynced changes)\n"
                )
            }
            Ok(r) => r,
        };
        if self.persist.enabled() {
            // Keep the synced home for the next sign-in; a forced sign-out discards it (its
            // unsynced changes must not come back).
            let kept = if force {
                persist::forget(&*self.persist, &user).await
            } else {
                self.save().await
            };
            if let Err(e) = kept {
                // Signing out still happens: the server has everything (or the user asked to
                // discard it).
                self.inner.borrow_mut().last_error = Some(e.to_string());
            }
        }
        let mut inner = self.inner.borrow_mut();
        let mut t = format!("ok: signed out {user}\n");
        if let Some(r) = r {
            t.push_str(&report_text(&r));
        }
        inner.forget();
        t
    }

    async fn login(&self, user: &str, password: &[u8]) -> Result<(), HomeError> {
        if let Some(l) = &self.inner.borrow().login {
            return Err(HomeError::AlreadySignedIn(l.user.clone()));
        }
        let (remote, keys) = self.connector.connect(user, password).await?;
        let saved = if self.persist.enabled() {
            match self.load_saved(&keys, user).await {
                Ok(s) => s,
                Err(e) => {
                    // Unreadable: start from the server (the store is rewritten at the next
                    // save) and say so in `status`.
                    self.inner.borrow_mut().last_error = Some(e.to_string());
                    None
                }
            }
        } else {
            None
        };
        let restored = saved.is_some();
        let fresh = match saved {
            Some(_) => None,
            None => Some(vfsync_core::engine::head_manifest(&remote, &keys).await?),
        };
        {
            let mut inner = self.inner.borrow_mut();
            if let Some(l) = &inner.login {
                return Err(HomeError::AlreadySignedIn(l.user.clone()));
            }
            let built = match (&saved, &fresh) {
                (Some((snap, contents)), _) => restore_tree(&mut inner, user, snap, contents),
                (None, Some((version, manifest))) => {
                    build_tree(&mut inner, user, *version, manifest)
                }
                (None, None) => unreachable!("either saved or fetched"),
            };
            let home = match built {
                Ok(h) => h,
                Err(e) => {
                    let root = inner.root;
                    remove_tree(&mut inner.fs, root, user.as_bytes());
                    inner.lazy.clear();
                    inner.persisted_files.clear();
                    inner.state = None;
                    return Err(HomeError::Local(errno(e)));
                }
            };
            inner.login = Some(crate::home::Login {
                user: user.to_owned(),
                home,
                remote: Rc::new(remote),
                keys: Rc::new(keys),
            });
            let now = (inner.config.clock)();
            match (&saved, &fresh) {
                (Some((snap, _)), _) => {
                    inner.changed_at = snap.pending.then_some(now);
                    inner.save_dirty = false;
                }
                (_, Some((version, _))) => {
                    inner.last_sync = Some((now, *version));
                    inner.changed_at = None;
                    inner.save_dirty = true;
                }
                _ => {}
            }
        }
        if restored {
            // Bring the saved home up to date with the server and send what was not synced;
            // if the server fails now, the changes stay pending (and saved).
            let _ = self.sync().await;
        }
        Ok(())
    }

    /// The saved home of `user`: the snapshot and the contents of its local files.
    async fn load_saved(
        &self,
        keys: &RepoKeys,
        user: &str,
    ) -> Result<Option<(Snapshot, HashMap<String, (Vec<BlobId>, Vec<u8>)>)>, HomeError> {
        let Some((snap, _)) = persist::load(&*self.persist, keys, user).await? else {
            return Ok(None);
        };
        if snap.state.is_none() {
            return Ok(None);
        }
        let mut contents = HashMap::new();
        for e in &snap.entries {
            if let SnapKind::File {
                size,
                content: Content::Local(ids),
            } = &e.kind
            {
                let data = persist::read_chunks(&*self.persist, keys, user, ids, *size).await?;
                if data.len() as u64 != *size {
                    return Err(HomeError::Persist(format!(
                        "local copy unreadable: {} has {} bytes, the record says {size}",
                        e.path,
                        data.len()
                    )));
                }
                contents.insert(e.path.clone(), (ids.clone(), data));
            }
        }
        Ok(Some((snap, contents)))
    }

    /// Saves the signed-in home to the local store: new chunks, then the root record, then
    /// removes chunks nothing refers to any more.
    async fn save(&self) -> Result<(), HomeError> {
        let (user, keys, root, new_chunks, new_files, referenced) = {
            let mut inner = self.inner.borrow_mut();
            let Some(l) = &inner.login else {
                return Ok(());
            };
            let (user, keys, home) = (l.user.clone(), l.keys.clone(), l.home);
            inner.saving = true;
            inner.changed_during_save.clear();
            inner.save_dirty = false;
            let snap = snapshot(&mut inner, &keys, home);
            match snap {
                Ok((root, new_chunks, new_files, referenced)) => {
                    (user, keys, root, new_chunks, new_files, referenced)
                }
                Err(e) => {
                    inner.saving = false;
                    inner.save_dirty = true;
                    return Err(e);
                }
            }
        };
        let _ = keys;
        let res = self
            .write_snapshot(&user, root, new_chunks, &referenced)
            .await;
        let mut inner = self.inner.borrow_mut();
        inner.saving = false;
        let changed = std::mem::take(&mut inner.changed_during_save);
        match res {
            Ok(()) => {
                for (ino, ids) in new_files {
                    if !changed.contains(&ino) {
                        inner.persisted_files.insert(ino, ids);
                    }
                }
                Ok(())
            }
            Err(e) => {
                inner.save_dirty = true;
                inner.stored_chunks = None;
                Err(e)
            }
        }
    }

    async fn write_snapshot(
        &self,
        user: &str,
        root: Vec<u8>,
        new_chunks: Vec<(BlobId, Vec<u8>)>,
        referenced: &HashSet<BlobId>,
    ) -> Result<(), HomeError> {
        let known = self.inner.borrow_mut().stored_chunks.take();
        let mut stored = match known {
            Some(s) => s,
            None => {
                let prefix = chunk_prefix(user);
                self.persist
                    .keys(&prefix)
                    .await?
                    .iter()
                    .filter_map(|k| k.strip_prefix(&prefix)?.parse::<BlobId>().ok())
                    .collect()
            }
        };
        for (id, data) in new_chunks {
            if stored.contains(&id) {
                continue;
            }
            self.persist.put(&chunk_key(user, &id), data).await?;
            stored.insert(id);
        }
        self.persist.put(&meta_key(user), root).await?;
        let unused: Vec<BlobId> = stored.difference(referenced).copied().collect();
        for id in unused {
            self.persist.delete(&chunk_key(user, &id)).await?;
            stored.remove(&id);
        }
        self.inner.borrow_mut().stored_chunks = Some(stored);
        Ok(())
    }

    async fn sync(&self) -> Result<vfsync_core::SyncReport, HomeError> {
        let (tree, changed) = {
            let mut inner = self.inner.borrow_mut();
            inner.sync_queued = false;
            let Some(l) = &inner.login else {
                return Err(HomeError::NotSignedIn);
            };
            let home = l.home;
            vouch_for_lazy_files(&mut inner, home);
            let Some(l) = &inner.login else {
                return Err(HomeError::NotSignedIn);
            };
            (
                HomeTree {
                    inner: self.inner.clone(),
                    home: l.home,
                    remote: l.remote.clone(),
                    keys: l.keys.clone(),
                },
                inner.changed_at,
            )
        };
        let res = vfsync_core::sync(
            &*tree.remote,
            &tree.keys,
            &tree,
            &SyncOptions::default(),
            &(),
        )
        .await;
        let mut inner = self.inner.borrow_mut();
        // The engine state changed (and maybe the tree), even when it failed half-way.
        inner.save_dirty = true;
        match res {
            Ok(r) => {
                if inner.changed_at == changed {
                    inner.changed_at = None;
                }
                inner.last_sync = Some(((inner.config.clock)(), r.version));
                inner.last_error = None;
                Ok(r)
            }
            Err(e) => {
                inner.last_error = Some(e.to_string());
                Err(e.into())
            }
        }
    }

    async fn fetch(&self, ino: u64) {
        let (lazy, remote, keys) = {
            let inner = self.inner.borrow();
            let (Some(lazy), Some(l)) = (inner.lazy.get(&ino), inner.login.as_ref()) else {
                drop(inner);
                self.inner.borrow_mut().fetching.retain(|&i| i != ino);
                return;
            };
            (lazy.clone(), l.remote.clone(), l.keys.clone())
        };
        let res = fetch_content(&*remote, &keys, &lazy).await;
        let mut inner = self.inner.borrow_mut();
        inner.fetching.retain(|&i| i != ino);
        // The file may have been replaced, removed or signed out meanwhile.
        if !inner
            .lazy
            .get(&ino)
            .is_some_and(|l| l.blobs == lazy.blobs && l.size == lazy.size)
        {
            return;
        }
        let stored = res.map_err(|e| {
            inner.last_error = Some(e.to_string());
            Errno::EIO
        });
        let stored = stored.and_then(|data| {
            let fs = &mut inner.fs;
            let mtime = fs.getattr(&ino).map_err(errno)?.mtime;
            let mut f = fs
                .open(&ino, open_flags::O_WRONLY | open_flags::O_TRUNC)
                .map_err(errno)?;
            let written = fs.write(&mut f, 0, &data);
            fs.release(f);
            written.map_err(errno)?;
            fs.setattr(
                &ino,
                &SetAttr {
                    mtime: SetTime::At(mtime),
                    ..SetAttr::default()
                },
            )
            .map_err(errno)
        });
        match stored {
            Ok(()) => {
                inner.lazy.remove(&ino);
                // Fetched content is kept in the local store too (not a guest change).
                inner.persisted_files.remove(&ino);
                inner.save_dirty = true;
            }
            Err(e) => {
                inner.fetch_failed.insert(ino, e);
            }
        }
    }
}

/// Puts every file not fetched yet into the engine's hash cache with its manifest blobs: its
/// content is by definition what the server has, so the engine never needs to download it
/// to hash it (it would otherwise for a file whose mtime was too recent to be cached).
fn vouch_for_lazy_files<R>(inner: &mut Inner<R>, home: u64) {
    if inner.lazy.is_empty() {
        return;
    }
    if inner.state.is_none() {
        return;
    }
    let mut vouched = Vec::new();
    let mut stack = vec![(String::new(), home, 0usize)];
    let mut left = inner.lazy.len();
    'walk: while let Some((prefix, dir, depth)) = stack.pop() {
        for name in list_names(&mut inner.fs, dir) {
            let Ok(name) = String::from_utf8(name) else {
                continue;
            };
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let Ok(node) = inner
                .fs
                .lookup(&dir, path.rsplit('/').next().unwrap_or("").as_bytes())
            else {
                continue;
            };
            let Ok(a) = inner.fs.getattr(&node) else {
                continue;
            };
            if a.mode & vf_devices::p9::mode::S_IFMT == vf_devices::p9::mode::S_IFDIR {
                if depth < 256 {
                    stack.push((path, node, depth + 1));
                }
            } else if let Some(l) = inner.lazy.get(&node) {
                vouched.push((
                    path,
                    CacheEntry {
                        size: l.size,
                        mtime: ts_to_ns(a.mtime),
                        mode: a.mode & vf_devices::p9::mode::PERM,
                        blobs: l.blobs.clone(),
                    },
                ));
                left -= 1;
                if left == 0 {
                    break 'walk;
                }
            }
        }
    }
    if let Some(state) = inner
        .state
        .as_deref()
        .and_then(|s| with_cache_entries(s, vouched))
    {
        inner.state = Some(state);
    }
}

/// The saved engine state `state` with `entries` added to its hash cache; the journal of an
/// interrupted update it holds is written back as it was (dropping it would turn that
/// update's files into conflicts at the next sync). None if `state` does not parse.
fn with_cache_entries(state: &[u8], entries: Vec<(String, CacheEntry)>) -> Option<Vec<u8>> {
    let (mut state, base, pending) = State::decode_journal(state).ok()?;
    state.cache.extend(entries);
    Some(state.encode_journal(
        &base,
        pending.as_ref().map(|p| (p.kind, p.version, &p.manifest)),
    ))
}

/// The tree of the signed-in home as a snapshot: the sealed root record, the sealed chunks
/// not known to be stored, the chunk ids of files sealed now, and every chunk the snapshot
/// refers to.
#[allow(clippy::type_complexity)]
fn snapshot<R>(
    inner: &mut Inner<R>,
    keys: &RepoKeys,
    home: u64,
) -> Result<
    (
        Vec<u8>,
        Vec<(BlobId, Vec<u8>)>,
        Vec<(u64, Vec<BlobId>)>,
        HashSet<BlobId>,
    ),
    HomeError,
> {
    let mut entries = Vec::new();
    let mut new_chunks = Vec::new();
    let mut new_files = Vec::new();
    let mut referenced = HashSet::new();
    let mut stack = vec![(String::new(), home, 0usize)];
    while let Some((prefix, dir, depth)) = stack.pop() {
        for name in list_names(&mut inner.fs, dir) {
            let Ok(name) = String::from_utf8(name) else {
                continue; // not representable in a manifest: stays local
            };
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let node = inner.fs.lookup(&dir, name.as_bytes()).map_err(local)?;
            let a = inner.fs.getattr(&node).map_err(local)?;
            let kind = match a.mode & vf_devices::p9::mode::S_IFMT {
                vf_devices::p9::mode::S_IFDIR => {
                    if depth < 256 {
                        stack.push((path.clone(), node, depth + 1));
                    }
                    SnapKind::Dir
                }
                vf_devices::p9::mode::S_IFLNK => {
                    let t = inner.fs.readlink(&node).map_err(local)?;
                    SnapKind::Symlink(String::from_utf8_lossy(&t).into_owned())
                }
                vf_devices::p9::mode::S_IFREG => {
                    if let Some(l) = inner.lazy.get(&node) {
                        SnapKind::File {
                            size: l.size,
                            content: Content::Server(l.blobs.clone()),
                        }
                    } else {
                        let ids = match inner.persisted_files.get(&node) {
                            Some(ids) => ids.clone(),
                            None => {
                                let data = read_node(&mut inner.fs, node, a.size)?;
                                let (ids, sealed) = seal_chunks(keys, &data)?;
                                new_chunks.extend(sealed);
                                new_files.push((node, ids.clone()));
                                ids
                            }
                        };
                        referenced.extend(ids.iter().copied());
                        SnapKind::File {
                            size: a.size,
                            content: Content::Local(ids),
                        }
                    }
                }
                _ => continue, // device nodes, fifos, sockets stay local
            };
            entries.push(SnapEntry {
                path,
                mode: a.mode & vf_devices::p9::mode::PERM,
                mtime: ts_to_ns(a.mtime),
                kind,
            });
        }
    }
    let tree = serde_json::to_vec(&entries).expect("the tree serializes");
    let (tree_ids, sealed) = seal_chunks(keys, &tree)?;
    new_chunks.extend(sealed);
    referenced.extend(tree_ids.iter().copied());
    let state_ids = match &inner.state {
        Some(s) => {
            let (ids, sealed) = seal_chunks(keys, s)?;
            new_chunks.extend(sealed);
            referenced.extend(ids.iter().copied());
            Some(ids)
        }
        None => None,
    };
    let root = seal_root(keys, tree_ids, state_ids, inner.changed_at.is_some())?;
    Ok((root, new_chunks, new_files, referenced))
}

fn local(e: FsError) -> HomeError {
    HomeError::Local(errno(e))
}

/// The whole content of a file of the tree.
fn read_node(fs: &mut MemFs, node: u64, size: u64) -> Result<Vec<u8>, HomeError> {
    let mut f = fs.open(&node, open_flags::O_RDONLY).map_err(local)?;
    let mut data = vec![0u8; usize::try_from(size).unwrap_or(usize::MAX)];
    let mut done = 0;
    while done < data.len() {
        match fs.read(&mut f, done as u64, &mut data[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) => {
                fs.release(f);
                return Err(local(e));
            }
        }
    }
    fs.release(f);
    data.truncate(done);
    Ok(data)
}

/// Builds `/USER` from a saved snapshot: local files get their saved content, the others stay
/// lazy; the engine state is the saved one.
fn restore_tree<R>(
    inner: &mut Inner<R>,
    user: &str,
    snap: &Snapshot,
    contents: &HashMap<String, (Vec<BlobId>, Vec<u8>)>,
) -> FsResult<u64> {
    let fs = &mut inner.fs;
    fs.mkdir(&inner.root, user.as_bytes(), 0o755, ROOT_OWNER)?;
    let home = fs.lookup(&inner.root, user.as_bytes())?;
    let mut dirs: HashMap<&str, u64> = HashMap::new();
    let mut dir_times = Vec::new();
    for e in &snap.entries {
        let (dir, name) = match e.path.rsplit_once('/') {
            Some((p, n)) => (*dirs.get(p).ok_or(Errno::ENOENT)?, n),
            None => (home, e.path.as_str()),
        };
        if name.is_empty() || name == "." || name == ".." {
            return Err(Errno::EINVAL.into());
        }
        match &e.kind {
            SnapKind::Dir => {
                fs.mkdir(&dir, name.as_bytes(), e.mode & 0o7777, ROOT_OWNER)?;
                let n = fs.lookup(&dir, name.as_bytes())?;
                dirs.insert(&e.path, n);
                dir_times.push((n, e.mtime));
            }
            SnapKind::Symlink(target) => {
                fs.symlink(&dir, name.as_bytes(), target.as_bytes(), ROOT_OWNER)?;
            }
            SnapKind::File { size, content } => {
                let (ino, mut f) = fs.create(
                    &dir,
                    name.as_bytes(),
                    open_flags::O_WRONLY,
                    e.mode & 0o7777,
                    ROOT_OWNER,
                )?;
                let w = match content {
                    Content::Local(_) => match contents.get(&e.path) {
                        Some((ids, data)) => {
                            inner.persisted_files.insert(ino, ids.clone());
                            fs.write(&mut f, 0, data).map(|_| ())
                        }
                        None => Err(Errno::EIO.into()),
                    },
                    Content::Server(blobs) => {
                        if *size > 0 {
                            inner.lazy.insert(
                                ino,
                                Lazy {
                                    size: *size,
                                    blobs: blobs.clone(),
                                },
                            );
                        }
                        Ok(())
                    }
                };
                fs.release(f);
                w?;
                fs.setattr(
                    &ino,
                    &SetAttr {
                        mode: Some(e.mode & 0o7777),
                        mtime: SetTime::At(ns_to_ts(e.mtime)),
                        ..SetAttr::default()
                    },
                )?;
            }
        }
    }
    // Directory times last: creating their entries touched them.
    for (n, mtime) in dir_times {
        fs.setattr(
            &n,
            &SetAttr {
                mtime: SetTime::At(ns_to_ts(mtime)),
                ..SetAttr::default()
            },
        )?;
    }
    inner.state = snap.state.clone();
    Ok(home)
}

/// The errno of a [`MemFs`] failure (it never defers).
pub(crate) fn errno(e: FsError) -> Errno {
    match e {
        FsError::Errno(e) => e,
        FsError::Pending => Errno::EAGAIN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfsync_core::state::{JournalKind, Pending};
    use vfsync_core::Entry;

    fn manifest(dirs: &[&str]) -> Manifest {
        let mut m = Manifest::default();
        for d in dirs {
            m.entries.insert(
                d.to_string(),
                Entry {
                    kind: EntryKind::Dir,
                    mode: 0o755,
                    mtime: 7,
                },
            );
        }
        m
    }

    #[test]
    fn vouching_for_lazy_files_keeps_an_interrupted_updates_journal() {
        let state = State {
            format: 1,
            version: 2,
            seen: 3,
            ..State::default()
        };
        let (base, next) = (manifest(&["a"]), manifest(&["a", "b"]));
        let saved = state.encode_journal(&base, Some((JournalKind::Commit, 3, &next)));
        let entry = CacheEntry {
            size: 10,
            mtime: 11,
            mode: 0o644,
            blobs: Vec::new(),
        };
        let out = with_cache_entries(&saved, vec![("a/f".into(), entry)]).unwrap();
        let (s, b, pending) = State::decode_journal(&out).unwrap();
        assert_eq!((s.version, s.seen), (2, 3));
        assert_eq!(b, base);
        assert_eq!(
            s.cache.get("a/f").map(|e| (e.size, e.mtime)),
            Some((10, 11))
        );
        assert_eq!(
            pending,
            Some(Pending {
                kind: JournalKind::Commit,
                version: 3,
                manifest: next
            })
        );
        // Without a journal none appears, and a state that does not parse is left alone.
        let plain = with_cache_entries(&state.encode(&base), Vec::new()).unwrap();
        assert_eq!(State::decode_journal(&plain).unwrap().2, None);
        assert!(with_cache_entries(b"not json", Vec::new()).is_none());
    }
}
