//! An in-memory file system: the backend for tests and for the browser's
//! plain 9p shares. Directories, regular files, symlinks, device nodes,
//! hard links, rename, permission bits, ownership and time stamps; a byte
//! budget keeps a guest from exhausting host memory.

use std::collections::{BTreeMap, HashMap};

use super::fs::{
    dtype_for_mode, mode, open_flags, Attr, DirEntry, Errno, FileSystem, FsResult, Owner, Qid,
    SetAttr, SetTime, StatFs, Timespec, AT_REMOVEDIR,
};

/// The inode number of the root directory.
const ROOT: u64 = 1;
/// Readdir cookies of `.` and `..`; real entries get cookies above these.
const COOKIE_DOT: u64 = 1;
const COOKIE_DOTDOT: u64 = 2;
/// Longest name a directory accepts.
const NAME_MAX: usize = 255;
/// Longest symlink text.
const SYMLINK_MAX: usize = 4095;

enum Content {
    File(Vec<u8>),
    Dir(Dir),
    Symlink(Vec<u8>),
    /// Device node, fifo or socket: only attributes.
    Special,
}

struct Dir {
    parent: u64,
    /// cookie -> (name, inode); cookies grow with each insertion, so
    /// iteration from a cookie is stable across removals.
    entries: BTreeMap<u64, (Vec<u8>, u64)>,
    names: HashMap<Vec<u8>, u64>,
    next_cookie: u64,
}

impl Dir {
    fn new(parent: u64) -> Self {
        Dir {
            parent,
            entries: BTreeMap::new(),
            names: HashMap::new(),
            next_cookie: COOKIE_DOTDOT + 1,
        }
    }
    fn get(&self, name: &[u8]) -> Option<u64> {
        self.names.get(name).map(|c| self.entries[c].1)
    }
    fn insert(&mut self, name: &[u8], ino: u64) {
        let cookie = self.next_cookie;
        self.next_cookie += 1;
        self.entries.insert(cookie, (name.to_vec(), ino));
        self.names.insert(name.to_vec(), cookie);
    }
    fn remove(&mut self, name: &[u8]) -> Option<u64> {
        let cookie = self.names.remove(name)?;
        self.entries.remove(&cookie).map(|(_, ino)| ino)
    }
}

struct Inode {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    rdev: u64,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
    version: u32,
    /// Open files on this inode: it outlives its last link while open.
    open: u32,
    content: Content,
}

impl Inode {
    fn size(&self) -> u64 {
        match &self.content {
            Content::File(d) => d.len() as u64,
            Content::Symlink(t) => t.len() as u64,
            Content::Dir(d) => d.entries.len() as u64 + 2,
            Content::Special => 0,
        }
    }
    fn is_dir(&self) -> bool {
        matches!(self.content, Content::Dir(_))
    }
}

/// An open file of a [`MemFs`].
#[derive(Debug)]
pub struct MemFile {
    ino: u64,
    flags: u32,
}

/// The in-memory file system. Nodes are inode numbers.
pub struct MemFs {
    inodes: HashMap<u64, Inode>,
    next_ino: u64,
    /// Bytes of file and symlink contents stored, and the budget for them.
    used: u64,
    capacity: u64,
    max_inodes: usize,
    clock: Box<dyn FnMut() -> Timespec + Send>,
    tick: u64,
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new()
    }
}

impl MemFs {
    /// An empty tree (a root directory, mode 0755, owned by 0:0) with a
    /// 256 MiB content budget and a logical clock.
    pub fn new() -> Self {
        Self::with_capacity(256 << 20)
    }

    /// An empty tree whose file contents may use at most `capacity` bytes.
    pub fn with_capacity(capacity: u64) -> Self {
        let mut inodes = HashMap::new();
        inodes.insert(
            ROOT,
            Inode {
                mode: mode::S_IFDIR | 0o755,
                uid: 0,
                gid: 0,
                nlink: 2,
                rdev: 0,
                atime: Timespec::default(),
                mtime: Timespec::default(),
                ctime: Timespec::default(),
                version: 0,
                open: 0,
                content: Content::Dir(Dir::new(ROOT)),
            },
        );
        MemFs {
            inodes,
            next_ino: ROOT + 1,
            used: 0,
            capacity,
            max_inodes: 1 << 20,
            clock: Box::new(Timespec::default),
            tick: 0,
        }
    }

    /// Uses `clock` for time stamps (e.g. the host's or the browser's wall
    /// clock). Without one, time stamps come from a logical clock that
    /// advances one nanosecond per change.
    pub fn set_clock(&mut self, clock: impl FnMut() -> Timespec + Send + 'static) {
        self.clock = Box::new(clock);
    }

    /// Bytes of content stored.
    pub fn used_bytes(&self) -> u64 {
        self.used
    }

    fn now(&mut self) -> Timespec {
        let t = (self.clock)();
        if t != Timespec::default() {
            return t;
        }
        self.tick += 1;
        Timespec {
            sec: self.tick / 1_000_000_000,
            nsec: self.tick % 1_000_000_000,
        }
    }

    fn inode(&self, ino: u64) -> FsResult<&Inode> {
        self.inodes.get(&ino).ok_or(Errno::ESTALE.into())
    }

    fn inode_mut(&mut self, ino: u64) -> FsResult<&mut Inode> {
        self.inodes.get_mut(&ino).ok_or(Errno::ESTALE.into())
    }

    fn dir(&self, ino: u64) -> FsResult<&Dir> {
        match &self.inode(ino)?.content {
            Content::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR.into()),
        }
    }

    fn dir_mut(&mut self, ino: u64) -> FsResult<&mut Dir> {
        match &mut self.inode_mut(ino)?.content {
            Content::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR.into()),
        }
    }

    fn qid_of(ino: u64, inode: &Inode) -> Qid {
        Qid {
            kind: Qid::kind_for_mode(inode.mode),
            version: inode.version,
            path: ino,
        }
    }

    fn check_name(name: &[u8]) -> FsResult<()> {
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG.into());
        }
        if name.is_empty()
            || name == b"."
            || name == b".."
            || name.contains(&b'/')
            || name.contains(&0)
        {
            return Err(Errno::EINVAL.into());
        }
        Ok(())
    }

    /// Adds a new inode as `name` in `dir`.
    fn add(
        &mut self,
        dir: u64,
        name: &[u8],
        mode_bits: u32,
        owner: Owner,
        rdev: u64,
        content: Content,
    ) -> FsResult<u64> {
        Self::check_name(name)?;
        if self.dir(dir)?.get(name).is_some() {
            return Err(Errno::EEXIST.into());
        }
        if self.inodes.len() >= self.max_inodes {
            return Err(Errno::ENOSPC.into());
        }
        let bytes = match &content {
            Content::Symlink(t) => t.len() as u64,
            _ => 0,
        };
        self.reserve(bytes)?;
        let is_dir = matches!(content, Content::Dir(_));
        let now = self.now();
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(
            ino,
            Inode {
                mode: mode_bits,
                uid: owner.uid,
                gid: owner.gid,
                nlink: if is_dir { 2 } else { 1 },
                rdev,
                atime: now,
                mtime: now,
                ctime: now,
                version: 0,
                open: 0,
                content,
            },
        );
        self.dir_mut(dir)?.insert(name, ino);
        let parent = self.inode_mut(dir)?;
        if is_dir {
            parent.nlink += 1;
        }
        parent.mtime = now;
        parent.ctime = now;
        parent.version = parent.version.wrapping_add(1);
        Ok(ino)
    }

    fn reserve(&mut self, bytes: u64) -> FsResult<()> {
        match self.used.checked_add(bytes) {
            Some(u) if u <= self.capacity => {
                self.used = u;
                Ok(())
            }
            _ => Err(Errno::ENOSPC.into()),
        }
    }

    /// Drops an inode that has no links and no open files left.
    fn maybe_free(&mut self, ino: u64) {
        let Some(inode) = self.inodes.get(&ino) else {
            return;
        };
        let dead = if inode.is_dir() {
            inode.nlink <= 1
        } else {
            inode.nlink == 0
        };
        if !(dead && inode.open == 0 && ino != ROOT) {
            return;
        }
        let freed = match self.inodes.remove(&ino).map(|i| i.content) {
            Some(Content::File(d)) => d.len() as u64,
            Some(Content::Symlink(t)) => t.len() as u64,
            _ => 0,
        };
        self.used = self.used.saturating_sub(freed);
    }

    /// Whether `ancestor` is `ino` or one of its ancestors.
    fn is_ancestor(&self, ancestor: u64, mut ino: u64) -> bool {
        for _ in 0..self.inodes.len() + 1 {
            if ino == ancestor {
                return true;
            }
            match self.dir(ino) {
                Ok(d) if d.parent != ino => ino = d.parent,
                _ => return false,
            }
        }
        false
    }

    fn set_size(&mut self, ino: u64, size: u64) -> FsResult<()> {
        let old = match &self.inode(ino)?.content {
            Content::File(d) => d.len() as u64,
            Content::Dir(_) => return Err(Errno::EISDIR.into()),
            _ => return Err(Errno::EINVAL.into()),
        };
        if size > old {
            self.reserve(size - old)?;
        } else {
            self.used = self.used.saturating_sub(old - size);
        }
        let now = self.now();
        let inode = self.inode_mut(ino)?;
        if let Content::File(d) = &mut inode.content {
            let len = usize::try_from(size).map_err(|_| Errno::EFBIG)?;
            d.resize(len, 0);
        }
        inode.mtime = now;
        inode.ctime = now;
        inode.version = inode.version.wrapping_add(1);
        Ok(())
    }
}

impl FileSystem for MemFs {
    type Node = u64;
    type File = MemFile;

    fn root(&mut self, _aname: &[u8]) -> FsResult<u64> {
        Ok(ROOT)
    }

    fn lookup(&mut self, dir: &u64, name: &[u8]) -> FsResult<u64> {
        let d = self.dir(*dir)?;
        match name {
            b"." => Ok(*dir),
            b".." => Ok(d.parent),
            _ => {
                if name.len() > NAME_MAX {
                    return Err(Errno::ENAMETOOLONG.into());
                }
                d.get(name).ok_or(Errno::ENOENT.into())
            }
        }
    }

    fn getattr(&mut self, node: &u64) -> FsResult<Attr> {
        let inode = self.inode(*node)?;
        let size = inode.size();
        Ok(Attr {
            qid: Self::qid_of(*node, inode),
            mode: inode.mode,
            uid: inode.uid,
            gid: inode.gid,
            nlink: inode.nlink,
            rdev: inode.rdev,
            size,
            blksize: 4096,
            blocks: size.div_ceil(512),
            atime: inode.atime,
            mtime: inode.mtime,
            ctime: inode.ctime,
        })
    }

    fn setattr(&mut self, node: &u64, set: &SetAttr) -> FsResult<()> {
        self.inode(*node)?;
        if let Some(size) = set.size {
            self.set_size(*node, size)?;
        }
        let now = self.now();
        let inode = self.inode_mut(*node)?;
        if let Some(m) = set.mode {
            inode.mode = (inode.mode & mode::S_IFMT) | (m & mode::PERM);
        }
        if let Some(uid) = set.uid {
            inode.uid = uid;
        }
        if let Some(gid) = set.gid {
            inode.gid = gid;
        }
        match set.atime {
            SetTime::Omit => {}
            SetTime::Now => inode.atime = now,
            SetTime::At(t) => inode.atime = t,
        }
        match set.mtime {
            SetTime::Omit => {}
            SetTime::Now => inode.mtime = now,
            SetTime::At(t) => inode.mtime = t,
        }
        inode.ctime = now;
        Ok(())
    }

    fn open(&mut self, node: &u64, flags: u32) -> FsResult<MemFile> {
        let inode = self.inode(*node)?;
        let acc = flags & open_flags::O_ACCMODE;
        match &inode.content {
            Content::Dir(_) if acc != open_flags::O_RDONLY => return Err(Errno::EISDIR.into()),
            Content::Symlink(_) => return Err(Errno::ELOOP.into()),
            Content::Special => return Err(Errno::ENXIO.into()),
            _ if flags & open_flags::O_DIRECTORY != 0 && !inode.is_dir() => {
                return Err(Errno::ENOTDIR.into())
            }
            _ => {}
        }
        if flags & open_flags::O_TRUNC != 0 && acc != open_flags::O_RDONLY && !inode.is_dir() {
            self.set_size(*node, 0)?;
        }
        self.inode_mut(*node)?.open += 1;
        Ok(MemFile { ino: *node, flags })
    }

    fn create(
        &mut self,
        dir: &u64,
        name: &[u8],
        flags: u32,
        mode_bits: u32,
        owner: Owner,
    ) -> FsResult<(u64, MemFile)> {
        let ino = self.add(
            *dir,
            name,
            mode::S_IFREG | (mode_bits & mode::PERM),
            owner,
            0,
            Content::File(Vec::new()),
        )?;
        let file = self.open(
            &ino,
            flags & !(open_flags::O_TRUNC | open_flags::O_DIRECTORY),
        )?;
        Ok((ino, file))
    }

    fn read(&mut self, file: &mut MemFile, offset: u64, buf: &mut [u8]) -> FsResult<usize> {
        if file.flags & open_flags::O_ACCMODE == open_flags::O_WRONLY {
            return Err(Errno::EBADF.into());
        }
        match &self.inode(file.ino)?.content {
            Content::File(d) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(d.len());
                let n = buf.len().min(d.len() - start);
                buf[..n].copy_from_slice(&d[start..start + n]);
                Ok(n)
            }
            Content::Dir(_) => Err(Errno::EISDIR.into()),
            _ => Err(Errno::EINVAL.into()),
        }
    }

    fn write(&mut self, file: &mut MemFile, offset: u64, data: &[u8]) -> FsResult<usize> {
        if file.flags & open_flags::O_ACCMODE == open_flags::O_RDONLY {
            return Err(Errno::EBADF.into());
        }
        let len = match &self.inode(file.ino)?.content {
            Content::File(d) => d.len() as u64,
            Content::Dir(_) => return Err(Errno::EISDIR.into()),
            _ => return Err(Errno::EINVAL.into()),
        };
        let offset = if file.flags & open_flags::O_APPEND != 0 {
            len
        } else {
            offset
        };
        let end = offset.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
        if end > len {
            self.reserve(end - len)?;
        }
        let now = self.now();
        let inode = self.inode_mut(file.ino)?;
        if let Content::File(d) = &mut inode.content {
            let (start, end) = (offset as usize, end as usize);
            if end > d.len() {
                d.resize(end, 0);
            }
            d[start..end].copy_from_slice(data);
        }
        inode.mtime = now;
        inode.ctime = now;
        inode.version = inode.version.wrapping_add(1);
        Ok(data.len())
    }

    fn readdir(&mut self, dir: &mut MemFile, cookie: u64, max: usize) -> FsResult<Vec<DirEntry>> {
        let d = self.dir(dir.ino)?;
        let mut out = Vec::new();
        let entry = |fs: &Self, ino: u64, name: &[u8], offset: u64| -> Option<DirEntry> {
            let inode = fs.inodes.get(&ino)?;
            Some(DirEntry {
                qid: Self::qid_of(ino, inode),
                offset,
                kind: dtype_for_mode(inode.mode),
                name: name.to_vec(),
            })
        };
        if cookie < COOKIE_DOT && out.len() < max {
            out.extend(entry(self, dir.ino, b".", COOKIE_DOT));
        }
        if cookie < COOKIE_DOTDOT && out.len() < max {
            out.extend(entry(self, d.parent, b"..", COOKIE_DOTDOT));
        }
        for (&c, (name, ino)) in d.entries.range(cookie.max(COOKIE_DOTDOT) + 1..) {
            if out.len() >= max {
                break;
            }
            out.extend(entry(self, *ino, name, c));
        }
        Ok(out)
    }

    fn fsync(&mut self, file: &mut MemFile, _datasync: bool) -> FsResult<()> {
        self.inode(file.ino)?;
        Ok(())
    }

    fn release(&mut self, file: MemFile) {
        if let Some(inode) = self.inodes.get_mut(&file.ino) {
            inode.open = inode.open.saturating_sub(1);
        }
        self.maybe_free(file.ino);
    }

    fn mkdir(&mut self, dir: &u64, name: &[u8], mode_bits: u32, owner: Owner) -> FsResult<Qid> {
        let ino = self.add(
            *dir,
            name,
            mode::S_IFDIR | (mode_bits & mode::PERM),
            owner,
            0,
            Content::Dir(Dir::new(*dir)),
        )?;
        Ok(Self::qid_of(ino, self.inode(ino)?))
    }

    fn symlink(&mut self, dir: &u64, name: &[u8], target: &[u8], owner: Owner) -> FsResult<Qid> {
        if target.is_empty() || target.contains(&0) {
            return Err(Errno::EINVAL.into());
        }
        if target.len() > SYMLINK_MAX {
            return Err(Errno::ENAMETOOLONG.into());
        }
        let ino = self.add(
            *dir,
            name,
            mode::S_IFLNK | 0o777,
            owner,
            0,
            Content::Symlink(target.to_vec()),
        )?;
        Ok(Self::qid_of(ino, self.inode(ino)?))
    }

    fn mknod(
        &mut self,
        dir: &u64,
        name: &[u8],
        mode_bits: u32,
        rdev: u64,
        owner: Owner,
    ) -> FsResult<Qid> {
        let (content, rdev) = match mode_bits & mode::S_IFMT {
            mode::S_IFCHR | mode::S_IFBLK => (Content::Special, rdev),
            mode::S_IFIFO | mode::S_IFSOCK => (Content::Special, 0),
            0 | mode::S_IFREG => (Content::File(Vec::new()), 0),
            _ => return Err(Errno::EINVAL.into()),
        };
        let ty = match mode_bits & mode::S_IFMT {
            0 => mode::S_IFREG,
            t => t,
        };
        let ino = self.add(
            *dir,
            name,
            ty | (mode_bits & mode::PERM),
            owner,
            rdev,
            content,
        )?;
        Ok(Self::qid_of(ino, self.inode(ino)?))
    }

    fn link(&mut self, dir: &u64, name: &[u8], target: &u64) -> FsResult<()> {
        Self::check_name(name)?;
        let t = self.inode(*target)?;
        if t.is_dir() {
            return Err(Errno::EPERM.into());
        }
        if t.nlink == 0 {
            return Err(Errno::ENOENT.into());
        }
        if self.dir(*dir)?.get(name).is_some() {
            return Err(Errno::EEXIST.into());
        }
        self.dir_mut(*dir)?.insert(name, *target);
        let now = self.now();
        let t = self.inode_mut(*target)?;
        t.nlink += 1;
        t.ctime = now;
        let d = self.inode_mut(*dir)?;
        d.mtime = now;
        d.ctime = now;
        Ok(())
    }

    fn readlink(&mut self, node: &u64) -> FsResult<Vec<u8>> {
        match &self.inode(*node)?.content {
            Content::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL.into()),
        }
    }

    fn rename(
        &mut self,
        old_dir: &u64,
        old_name: &[u8],
        new_dir: &u64,
        new_name: &[u8],
    ) -> FsResult<()> {
        Self::check_name(old_name)?;
        Self::check_name(new_name)?;
        let src = self.dir(*old_dir)?.get(old_name).ok_or(Errno::ENOENT)?;
        self.dir(*new_dir)?;
        let src_is_dir = self.inode(src)?.is_dir();
        if src_is_dir && self.is_ancestor(src, *new_dir) {
            return Err(Errno::EINVAL.into());
        }
        if let Some(dst) = self.dir(*new_dir)?.get(new_name) {
            if dst == src {
                return Ok(());
            }
            let dst_inode = self.inode(dst)?;
            match (src_is_dir, dst_inode.is_dir()) {
                (true, false) => return Err(Errno::ENOTDIR.into()),
                (false, true) => return Err(Errno::EISDIR.into()),
                (true, true) if !self.dir(dst)?.entries.is_empty() => {
                    return Err(Errno::ENOTEMPTY.into())
                }
                _ => {}
            }
            self.unlink(new_dir, new_name, if src_is_dir { AT_REMOVEDIR } else { 0 })?;
        }
        let now = self.now();
        self.dir_mut(*old_dir)?.remove(old_name);
        self.dir_mut(*new_dir)?.insert(new_name, src);
        if src_is_dir {
            self.dir_mut(src)?.parent = *new_dir;
            self.inode_mut(*old_dir)?.nlink -= 1;
            self.inode_mut(*new_dir)?.nlink += 1;
        }
        for d in [*old_dir, *new_dir] {
            let inode = self.inode_mut(d)?;
            inode.mtime = now;
            inode.ctime = now;
            inode.version = inode.version.wrapping_add(1);
        }
        self.inode_mut(src)?.ctime = now;
        Ok(())
    }

    fn unlink(&mut self, dir: &u64, name: &[u8], flags: u32) -> FsResult<()> {
        Self::check_name(name)?;
        let ino = self.dir(*dir)?.get(name).ok_or(Errno::ENOENT)?;
        let inode = self.inode(ino)?;
        if flags & AT_REMOVEDIR != 0 {
            if !inode.is_dir() {
                return Err(Errno::ENOTDIR.into());
            }
            if !self.dir(ino)?.entries.is_empty() {
                return Err(Errno::ENOTEMPTY.into());
            }
        } else if inode.is_dir() {
            return Err(Errno::EISDIR.into());
        }
        let now = self.now();
        self.dir_mut(*dir)?.remove(name);
        let is_dir = {
            let inode = self.inode_mut(ino)?;
            inode.ctime = now;
            if inode.is_dir() {
                inode.nlink = 0;
                true
            } else {
                inode.nlink -= 1;
                false
            }
        };
        let d = self.inode_mut(*dir)?;
        if is_dir {
            d.nlink -= 1;
        }
        d.mtime = now;
        d.ctime = now;
        d.version = d.version.wrapping_add(1);
        self.maybe_free(ino);
        Ok(())
    }

    fn statfs(&mut self, _node: &u64) -> FsResult<StatFs> {
        let bsize = 4096u64;
        let blocks = self.capacity / bsize;
        let free = (self.capacity - self.used) / bsize;
        Ok(StatFs {
            fs_type: 0x0102_1997, // V9FS_MAGIC
            bsize: bsize as u32,
            blocks,
            bfree: free,
            bavail: free,
            files: self.max_inodes as u64,
            ffree: (self.max_inodes - self.inodes.len()) as u64,
            fsid: 0,
            namelen: NAME_MAX as u32,
        })
    }
}
