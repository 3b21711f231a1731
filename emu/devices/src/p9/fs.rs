//! The file-system backend interface the 9P2000.L server is generic over.
//!
//! The trait speaks in node handles (`FileSystem::Node`, what a fid points
//! at) and open-file handles (`FileSystem::File`, what `Tlopen`/`Tlcreate`
//! produce), never in host paths, so it can be implemented in the browser
//! (an in-memory tree), over a host directory (`vf-host`'s `p9fs`), or over a
//! synced encrypted store whose contents arrive from the network.
//!
//! # Deferred completion
//!
//! Every operation returns [`FsResult`]. `Err(FsError::Pending)` means "not
//! ready yet": the backend has started whatever it needs (a download, say)
//! and the server keeps the request parked, calling the *same* operation with
//! the *same* arguments again on a later [`Server::poll`](super::Server::poll)
//! until it answers `Ok` or an errno. An operation that answers `Pending`
//! MUST NOT have had any visible effect (like `EAGAIN`), so that retrying it
//! is safe and a flushed request can simply be dropped: the backend is not
//! told, it just is not asked again (work it started, e.g. a download, may
//! finish and serve a later request). The transport drives retries by
//! calling [`Server::poll`](super::Server::poll); a backend that knows when
//! data arrives can let its embedder know, so it polls then.

use core::fmt;

/// A Linux errno value, as carried by `Rlerror`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub u32);

impl Errno {
    pub const EPERM: Errno = Errno(1);
    pub const ENOENT: Errno = Errno(2);
    pub const EIO: Errno = Errno(5);
    pub const ENXIO: Errno = Errno(6);
    pub const E2BIG: Errno = Errno(7);
    pub const EBADF: Errno = Errno(9);
    pub const EAGAIN: Errno = Errno(11);
    pub const ENOMEM: Errno = Errno(12);
    pub const EACCES: Errno = Errno(13);
    pub const EFAULT: Errno = Errno(14);
    pub const EBUSY: Errno = Errno(16);
    pub const EEXIST: Errno = Errno(17);
    pub const EXDEV: Errno = Errno(18);
    pub const ENODEV: Errno = Errno(19);
    pub const ENOTDIR: Errno = Errno(20);
    pub const EISDIR: Errno = Errno(21);
    pub const EINVAL: Errno = Errno(22);
    pub const ENFILE: Errno = Errno(23);
    pub const EMFILE: Errno = Errno(24);
    pub const EFBIG: Errno = Errno(27);
    pub const ENOSPC: Errno = Errno(28);
    pub const ESPIPE: Errno = Errno(29);
    pub const EROFS: Errno = Errno(30);
    pub const EMLINK: Errno = Errno(31);
    pub const ERANGE: Errno = Errno(34);
    pub const ENAMETOOLONG: Errno = Errno(36);
    pub const ENOSYS: Errno = Errno(38);
    pub const ENOTEMPTY: Errno = Errno(39);
    pub const ELOOP: Errno = Errno(40);
    pub const ENODATA: Errno = Errno(61);
    pub const EPROTO: Errno = Errno(71);
    pub const EBADMSG: Errno = Errno(74);
    pub const EOVERFLOW: Errno = Errno(75);
    pub const EOPNOTSUPP: Errno = Errno(95);
    pub const ESTALE: Errno = Errno(116);
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({})", self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Linux errno {}", self.0)
    }
}

impl std::error::Error for Errno {}

/// The failure of a backend operation.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum FsError {
    /// A definite failure, sent to the guest as `Rlerror`.
    #[error("{0}")]
    Errno(Errno),
    /// Not ready yet: retry later (see the module documentation).
    #[error("not ready yet")]
    Pending,
}

impl From<Errno> for FsError {
    fn from(e: Errno) -> Self {
        FsError::Errno(e)
    }
}

/// What every backend operation returns.
pub type FsResult<T> = Result<T, FsError>;

/// `qid.type` bits (9P): directory, append-only, exclusive, mount, auth,
/// temporary, symlink; a plain file is 0.
pub mod qid_type {
    pub const DIR: u8 = 0x80;
    pub const APPEND: u8 = 0x40;
    pub const EXCL: u8 = 0x20;
    pub const MOUNT: u8 = 0x10;
    pub const AUTH: u8 = 0x08;
    pub const TMP: u8 = 0x04;
    pub const SYMLINK: u8 = 0x02;
    pub const FILE: u8 = 0x00;
}

/// Linux `st_mode` file-type bits.
pub mod mode {
    pub const S_IFMT: u32 = 0o170000;
    pub const S_IFSOCK: u32 = 0o140000;
    pub const S_IFLNK: u32 = 0o120000;
    pub const S_IFREG: u32 = 0o100000;
    pub const S_IFBLK: u32 = 0o060000;
    pub const S_IFDIR: u32 = 0o040000;
    pub const S_IFCHR: u32 = 0o020000;
    pub const S_IFIFO: u32 = 0o010000;
    /// Permission and set-id/sticky bits.
    pub const PERM: u32 = 0o7777;
}

/// The server's unique identification of a file: `path` is stable for the
/// file's lifetime (an inode number), `version` changes when its contents do.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Qid {
    pub kind: u8,
    pub version: u32,
    pub path: u64,
}

impl Qid {
    /// The qid type bits for a Linux `st_mode`.
    pub fn kind_for_mode(st_mode: u32) -> u8 {
        match st_mode & mode::S_IFMT {
            mode::S_IFDIR => qid_type::DIR,
            mode::S_IFLNK => qid_type::SYMLINK,
            _ => qid_type::FILE,
        }
    }
}

/// A point in time: seconds and nanoseconds since the Unix epoch.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, PartialOrd, Ord)]
pub struct Timespec {
    pub sec: u64,
    pub nsec: u64,
}

/// The attributes `Rgetattr` reports.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Attr {
    pub qid: Qid,
    /// Linux `st_mode`: type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

/// How `Tsetattr` sets a time stamp.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum SetTime {
    /// Leave it alone.
    #[default]
    Omit,
    /// The current time (the backend's clock).
    Now,
    /// This time.
    At(Timespec),
}

/// The changes a `Tsetattr` asks for; `None`/`Omit` fields stay unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SetAttr {
    /// Permission bits only (the type cannot change).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Truncate or extend to this size.
    pub size: Option<u64>,
    pub atime: SetTime,
    pub mtime: SetTime,
}

/// One directory entry as `Treaddir` returns it. `offset` is the cookie
/// that, passed back to `readdir`, continues *after* this entry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DirEntry {
    pub qid: Qid,
    pub offset: u64,
    /// Linux `d_type` (DT_DIR = 4, DT_REG = 8, DT_LNK = 10, ...).
    pub kind: u8,
    pub name: Vec<u8>,
}

/// Linux `d_type` for a `st_mode`.
pub fn dtype_for_mode(st_mode: u32) -> u8 {
    match st_mode & mode::S_IFMT {
        mode::S_IFIFO => 1,
        mode::S_IFCHR => 2,
        mode::S_IFDIR => 4,
        mode::S_IFBLK => 6,
        mode::S_IFREG => 8,
        mode::S_IFLNK => 10,
        mode::S_IFSOCK => 12,
        _ => 0,
    }
}

/// What `Rstatfs` reports (Linux `struct statfs`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct StatFs {
    pub fs_type: u32,
    pub bsize: u32,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub fsid: u64,
    pub namelen: u32,
}

/// The owner new files get: the attaching user and the gid the client asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// Linux open flags the server passes to [`FileSystem::open`] and
/// [`FileSystem::create`] (9P2000.L sends Linux's own values).
pub mod open_flags {
    pub const O_ACCMODE: u32 = 0o3;
    pub const O_RDONLY: u32 = 0o0;
    pub const O_WRONLY: u32 = 0o1;
    pub const O_RDWR: u32 = 0o2;
    pub const O_CREAT: u32 = 0o100;
    pub const O_EXCL: u32 = 0o200;
    pub const O_TRUNC: u32 = 0o1000;
    pub const O_APPEND: u32 = 0o2000;
    pub const O_DIRECTORY: u32 = 0o200000;
}

/// `flags` of [`FileSystem::unlink`]: remove a directory (`AT_REMOVEDIR`).
pub const AT_REMOVEDIR: u32 = 0x200;

/// A file-system backend. Names are single path components (never empty,
/// never containing `/` or NUL; `.` and `..` only reach [`lookup`](Self::lookup)).
/// All operations may answer [`FsError::Pending`] (see the module docs).
pub trait FileSystem {
    /// A reference to a file, directory or symlink (what a fid holds). Cheap
    /// to clone; dropping the last clone releases it.
    type Node: Clone;
    /// An open file or directory (what an opened fid holds).
    type File;

    /// The root of the tree served under the attach name `aname`.
    fn root(&mut self, aname: &[u8]) -> FsResult<Self::Node>;
    /// The child `name` of directory `dir`. `.` is `dir`; `..` is its parent,
    /// and the parent of the root is the root: a lookup never leaves the tree.
    fn lookup(&mut self, dir: &Self::Node, name: &[u8]) -> FsResult<Self::Node>;
    /// Attributes of `node` (including its qid).
    fn getattr(&mut self, node: &Self::Node) -> FsResult<Attr>;
    /// Changes attributes of `node`.
    fn setattr(&mut self, node: &Self::Node, set: &SetAttr) -> FsResult<()>;
    /// Opens `node` with Linux open `flags` (`O_CREAT`/`O_EXCL` are ignored).
    fn open(&mut self, node: &Self::Node, flags: u32) -> FsResult<Self::File>;
    /// Creates and opens the regular file `name` in `dir` with permission
    /// bits `mode`; fails with `EEXIST` if it exists.
    fn create(
        &mut self,
        dir: &Self::Node,
        name: &[u8],
        flags: u32,
        mode: u32,
        owner: Owner,
    ) -> FsResult<(Self::Node, Self::File)>;
    /// Reads into `buf` at `offset`; 0 at end of file.
    fn read(&mut self, file: &mut Self::File, offset: u64, buf: &mut [u8]) -> FsResult<usize>;
    /// Writes `data` at `offset` (at the end for a file opened `O_APPEND`);
    /// returns the bytes written.
    fn write(&mut self, file: &mut Self::File, offset: u64, data: &[u8]) -> FsResult<usize>;
    /// Up to `max` entries of the open directory `dir`, starting after the
    /// entry whose `offset` was `cookie` (0 = from the start, including `.`
    /// and `..`). Cookies stay valid while the directory is open, whatever
    /// happens to other entries. An empty vector is the end.
    fn readdir(&mut self, dir: &mut Self::File, cookie: u64, max: usize)
        -> FsResult<Vec<DirEntry>>;
    /// Flushes `file` to stable storage.
    fn fsync(&mut self, file: &mut Self::File, datasync: bool) -> FsResult<()>;
    /// Closes an open file (`Tclunk` of an opened fid). Cannot be deferred.
    fn release(&mut self, file: Self::File);
    /// Creates directory `name` in `dir`.
    fn mkdir(&mut self, dir: &Self::Node, name: &[u8], mode: u32, owner: Owner) -> FsResult<Qid>;
    /// Creates symlink `name` in `dir` whose text is `target` (stored, never
    /// followed by the server).
    fn symlink(
        &mut self,
        dir: &Self::Node,
        name: &[u8],
        target: &[u8],
        owner: Owner,
    ) -> FsResult<Qid>;
    /// Creates a device node, fifo or socket `name` in `dir`; `mode` holds
    /// the type and permission bits, `rdev` the Linux device number.
    fn mknod(
        &mut self,
        dir: &Self::Node,
        name: &[u8],
        mode: u32,
        rdev: u64,
        owner: Owner,
    ) -> FsResult<Qid>;
    /// Makes `name` in `dir` a hard link to `target` (not a directory).
    fn link(&mut self, dir: &Self::Node, name: &[u8], target: &Self::Node) -> FsResult<()>;
    /// The text of symlink `node`.
    fn readlink(&mut self, node: &Self::Node) -> FsResult<Vec<u8>>;
    /// Renames `old_dir/old_name` to `new_dir/new_name` (replacing a
    /// compatible target, like Linux `rename`).
    fn rename(
        &mut self,
        old_dir: &Self::Node,
        old_name: &[u8],
        new_dir: &Self::Node,
        new_name: &[u8],
    ) -> FsResult<()>;
    /// Removes `name` from `dir`; `flags` is 0 or [`AT_REMOVEDIR`].
    fn unlink(&mut self, dir: &Self::Node, name: &[u8], flags: u32) -> FsResult<()>;
    /// File-system statistics.
    fn statfs(&mut self, node: &Self::Node) -> FsResult<StatFs>;
}
