//! A host directory served as a 9p file system ([`HostFs`], Linux only).
//!
//! # Confinement
//!
//! The guest must never reach a host file outside the shared directory. So
//! the backend never resolves a guest path as a whole:
//!
//! - every node is an `O_PATH` file descriptor, and a lookup is one
//!   `openat(dir, name, O_PATH | O_NOFOLLOW)` of a single component (names
//!   with `/` or NUL, empty names and `.`/`..` as entry names are refused), so
//!   a symlink is opened as itself and never followed, whatever it points to
//!   (`/etc`, `../..`, an absolute path);
//! - `..` of the root is the root, and any other `..` is checked by walking
//!   up from the result until the root is met (a directory that another host
//!   process moved out of the tree is refused with `EACCES`);
//! - creating, removing, renaming and linking use the `*at` calls on a
//!   directory descriptor plus a single validated name, so none of them can
//!   name anything outside the directory descriptor they are given;
//! - opening, `chmod`, `truncate` and `link` use the node's own descriptor
//!   (re-opened through `/proc/self/fd`, which names that very inode, never
//!   a path), and only for regular files and directories: a symlink node is
//!   never opened;
//! - device nodes cannot be created (a guest could otherwise make a host
//!   device reachable in the shared tree); fifos and sockets can.
//!
//! # Ownership and set-id bits
//!
//! Files belong to the host user running the emulator. The guest's owners
//! are not applied on the host (a guest could otherwise, with a host
//! emulator running as root, plant files owned by any host user), and its
//! set-user-id and set-group-id bits are dropped (no set-id programs reach
//! the host from a guest). A guest `chown` succeeds without effect; the
//! guest sees the host's owners.
//!
//! Host errors are reported with their own errno values (the host is
//! Linux, so they are the guest's too).

use std::ffi::OsStr;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, RawDir, SeekFrom};
use vf_devices::p9::{
    mode, open_flags, Attr, DirEntry, Errno, FileSystem, FsError, FsResult, Owner, Qid, SetAttr,
    SetTime, StatFs, Timespec, AT_REMOVEDIR,
};

/// How many directory levels a `..` check climbs at most.
const MAX_DEPTH: usize = 4096;
/// Longest entry name.
const NAME_MAX: usize = 255;
/// Permission bits the guest may set on the host: no set-id bits.
const HOST_PERM: u32 = 0o1777;

fn errno(e: rustix::io::Errno) -> FsError {
    FsError::Errno(Errno(e.raw_os_error().unsigned_abs()))
}

/// A node: an `O_PATH` descriptor of a file, directory or symlink inside the
/// shared tree.
#[derive(Clone, Debug)]
pub struct HostNode {
    fd: Arc<OwnedFd>,
}

/// An open file or directory.
#[derive(Debug)]
pub struct HostFile {
    fd: OwnedFd,
}

/// A host directory as a [`FileSystem`].
#[derive(Debug)]
pub struct HostFs {
    root: HostNode,
    root_id: (u64, u64),
}

/// `(st_dev, st_ino)`.
fn identity(st: &rfs::Stat) -> (u64, u64) {
    let s = Stat::from(st);
    (s.dev, s.ino)
}

/// The fields of `struct stat` we use, in fixed types (their C types vary
/// between architectures).
struct Stat {
    dev: u64,
    ino: u64,
    mode: u32,
    nlink: u64,
    uid: u32,
    gid: u32,
    rdev: u64,
    size: u64,
    blksize: u64,
    blocks: u64,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
}

#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
impl From<&rfs::Stat> for Stat {
    fn from(s: &rfs::Stat) -> Self {
        let ts = |sec: i64, nsec: i64| Timespec {
            sec: u64::try_from(sec).unwrap_or(0),
            nsec: u64::try_from(nsec).unwrap_or(0),
        };
        Stat {
            dev: s.st_dev as u64,
            ino: s.st_ino as u64,
            mode: s.st_mode as u32,
            nlink: s.st_nlink as u64,
            uid: s.st_uid as u32,
            gid: s.st_gid as u32,
            rdev: s.st_rdev as u64,
            size: u64::try_from(s.st_size as i64).unwrap_or(0),
            blksize: u64::try_from(s.st_blksize as i64).unwrap_or(0),
            blocks: u64::try_from(s.st_blocks as i64).unwrap_or(0),
            atime: ts(s.st_atime as i64, s.st_atime_nsec as i64),
            mtime: ts(s.st_mtime as i64, s.st_mtime_nsec as i64),
            ctime: ts(s.st_ctime as i64, s.st_ctime_nsec as i64),
        }
    }
}

/// Checks a name that is looked up, created or removed in a directory.
fn entry_name(name: &[u8]) -> FsResult<&OsStr> {
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG.into());
    }
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        return Err(Errno::EINVAL.into());
    }
    Ok(OsStr::from_bytes(name))
}

/// The `/proc/self/fd` path that names the inode of `fd` itself.
fn proc_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

fn path_flags() -> OFlags {
    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

impl HostFs {
    /// Serves the directory at `root`.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        let fd = rfs::open(
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let root_id = identity(&rfs::fstat(&fd)?);
        Ok(HostFs {
            root: HostNode { fd: Arc::new(fd) },
            root_id,
        })
    }

    /// Raises this process's open-file limit to its hard limit: every fid
    /// the guest holds is an open descriptor, and the usual soft limit of
    /// 1024 is too low for a busy guest. Returns the new limit.
    pub fn raise_fd_limit() -> std::io::Result<u64> {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let lim = getrlimit(Resource::Nofile);
        let new = Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        setrlimit(Resource::Nofile, new)?;
        Ok(new.current.unwrap_or(u64::MAX))
    }

    fn stat(node: &HostNode) -> FsResult<Stat> {
        rfs::fstat(&*node.fd).map(|s| Stat::from(&s)).map_err(errno)
    }

    fn qid(&self, st: &Stat) -> Qid {
        // Inode numbers are unique per device; mix in the device for files
        // on other file systems mounted inside the tree.
        let path = if st.dev == self.root_id.0 {
            st.ino
        } else {
            st.ino ^ st.dev.rotate_left(40)
        };
        Qid {
            kind: Qid::kind_for_mode(st.mode),
            version: (st.mtime.sec as u32) ^ (st.mtime.nsec as u32),
            path,
        }
    }

    /// Opens a single entry of `dir` as a node without following it.
    fn open_entry(dir: &HostNode, name: &OsStr) -> FsResult<HostNode> {
        let fd = rfs::openat(&*dir.fd, name, path_flags(), Mode::empty()).map_err(errno)?;
        Ok(HostNode { fd: Arc::new(fd) })
    }

    /// The parent of `dir`, which must not leave the tree.
    fn parent(&self, dir: &HostNode) -> FsResult<HostNode> {
        let id = identity(&rfs::fstat(&*dir.fd).map_err(errno)?);
        if id == self.root_id {
            return Ok(self.root.clone());
        }
        let flags = path_flags() | OFlags::DIRECTORY;
        let parent = rfs::openat(&*dir.fd, "..", flags, Mode::empty()).map_err(errno)?;
        // Climb from the parent until the root is met: the parent is inside.
        let mut cur = rfs::openat(&parent, ".", flags, Mode::empty()).map_err(errno)?;
        for _ in 0..MAX_DEPTH {
            let id = identity(&rfs::fstat(&cur).map_err(errno)?);
            if id == self.root_id {
                return Ok(HostNode {
                    fd: Arc::new(parent),
                });
            }
            let up = rfs::openat(&cur, "..", flags, Mode::empty()).map_err(errno)?;
            if identity(&rfs::fstat(&up).map_err(errno)?) == id {
                break; // the host's root directory: the tree was left
            }
            cur = up;
        }
        Err(Errno::EACCES.into())
    }

    /// Re-opens a regular file or directory node for I/O.
    fn reopen(node: &HostNode, flags: OFlags) -> FsResult<OwnedFd> {
        let st = Self::stat(node)?;
        match st.mode & mode::S_IFMT {
            mode::S_IFREG | mode::S_IFDIR => {}
            mode::S_IFLNK => return Err(Errno::ELOOP.into()),
            _ => return Err(Errno::ENXIO.into()),
        }
        rfs::open(proc_path(&*node.fd), flags | OFlags::CLOEXEC, Mode::empty()).map_err(errno)
    }

    fn attr_of(&self, dir: &HostNode, name: &OsStr) -> FsResult<Qid> {
        let st = rfs::statat(&*dir.fd, name, AtFlags::SYMLINK_NOFOLLOW).map_err(errno)?;
        Ok(self.qid(&Stat::from(&st)))
    }

    /// Gives the just-made entry `name` of type `kind` exactly the guest's
    /// permission bits (the guest already applied its umask; the host's
    /// must not apply again), and returns its qid. The entry is opened
    /// without following; if it is no longer of type `kind` (swapped by
    /// another host process), nothing is changed.
    fn finish_new(&self, dir: &HostNode, name: &OsStr, kind: u32, perm: u32) -> FsResult<Qid> {
        let fd = rfs::openat(&*dir.fd, name, path_flags(), Mode::empty()).map_err(errno)?;
        let st = Stat::from(&rfs::fstat(&fd).map_err(errno)?);
        if st.mode & mode::S_IFMT == kind && st.mode & mode::PERM != perm & HOST_PERM {
            rfs::chmod(proc_path(&fd), Mode::from_bits_truncate(perm & HOST_PERM))
                .map_err(errno)?;
        }
        Ok(self.qid(&st))
    }
}

/// Linux open flags a guest may pass through to the host.
fn host_open_flags(flags: u32) -> OFlags {
    let keep = open_flags::O_ACCMODE
        | open_flags::O_TRUNC
        | open_flags::O_APPEND
        | open_flags::O_DIRECTORY
        | 0o10000 // O_DSYNC
        | 0o4010000; // O_SYNC
    OFlags::from_bits_truncate(flags & keep) | OFlags::NOCTTY
}

fn to_rustix_time(t: SetTime) -> rfs::Timespec {
    match t {
        SetTime::Omit => rfs::Timespec {
            tv_sec: 0,
            tv_nsec: rfs::UTIME_OMIT,
        },
        SetTime::Now => rfs::Timespec {
            tv_sec: 0,
            tv_nsec: rfs::UTIME_NOW,
        },
        SetTime::At(t) => rfs::Timespec {
            tv_sec: i64::try_from(t.sec).unwrap_or(i64::MAX),
            tv_nsec: t.nsec as _,
        },
    }
}

impl FileSystem for HostFs {
    type Node = HostNode;
    type File = HostFile;

    fn root(&mut self, _aname: &[u8]) -> FsResult<HostNode> {
        Ok(self.root.clone())
    }

    fn lookup(&mut self, dir: &HostNode, name: &[u8]) -> FsResult<HostNode> {
        match name {
            b"." => Ok(dir.clone()),
            b".." => self.parent(dir),
            _ => Self::open_entry(dir, entry_name(name)?),
        }
    }

    fn getattr(&mut self, node: &HostNode) -> FsResult<Attr> {
        let st = Self::stat(node)?;
        Ok(Attr {
            qid: self.qid(&st),
            mode: st.mode,
            uid: st.uid,
            gid: st.gid,
            nlink: st.nlink,
            rdev: st.rdev,
            size: st.size,
            blksize: st.blksize,
            blocks: st.blocks,
            atime: st.atime,
            mtime: st.mtime,
            ctime: st.ctime,
        })
    }

    fn setattr(&mut self, node: &HostNode, set: &SetAttr) -> FsResult<()> {
        let st = Self::stat(node)?;
        let kind = st.mode & mode::S_IFMT;
        if let Some(size) = set.size {
            match kind {
                mode::S_IFREG => {}
                mode::S_IFDIR => return Err(Errno::EISDIR.into()),
                _ => return Err(Errno::EINVAL.into()),
            }
            let fd = Self::reopen(node, OFlags::WRONLY)?;
            rfs::ftruncate(&fd, size).map_err(errno)?;
        }
        if let Some(m) = set.mode {
            if kind == mode::S_IFLNK {
                return Err(Errno::EOPNOTSUPP.into());
            }
            let path = proc_path(&*node.fd);
            rfs::chmod(path, Mode::from_bits_truncate(m & HOST_PERM)).map_err(errno)?;
        }
        // set.uid / set.gid: not applied on the host (see the module docs).
        if set.atime != SetTime::Omit || set.mtime != SetTime::Omit {
            let times = rfs::Timestamps {
                last_access: to_rustix_time(set.atime),
                last_modification: to_rustix_time(set.mtime),
            };
            rfs::utimensat(&*node.fd, "", &times, AtFlags::EMPTY_PATH).map_err(errno)?;
        }
        Ok(())
    }

    fn open(&mut self, node: &HostNode, flags: u32) -> FsResult<HostFile> {
        let fd = Self::reopen(node, host_open_flags(flags))?;
        Ok(HostFile { fd })
    }

    fn create(
        &mut self,
        dir: &HostNode,
        name: &[u8],
        flags: u32,
        perm: u32,
        _owner: Owner,
    ) -> FsResult<(HostNode, HostFile)> {
        let name = entry_name(name)?;
        let flags = host_open_flags(flags & !open_flags::O_DIRECTORY)
            | OFlags::CREATE
            | OFlags::EXCL
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC;
        let fd = rfs::openat(
            &*dir.fd,
            name,
            flags,
            Mode::from_bits_truncate(perm & HOST_PERM),
        )
        .map_err(errno)?;
        // Exactly the guest's bits (its umask is applied, the host's is not).
        rfs::fchmod(&fd, Mode::from_bits_truncate(perm & HOST_PERM)).map_err(errno)?;
        let node = rfs::open(
            proc_path(&fd),
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        Ok((HostNode { fd: Arc::new(node) }, HostFile { fd }))
    }

    fn read(&mut self, file: &mut HostFile, offset: u64, buf: &mut [u8]) -> FsResult<usize> {
        rustix::io::pread(&file.fd, buf, offset).map_err(errno)
    }

    fn write(&mut self, file: &mut HostFile, offset: u64, data: &[u8]) -> FsResult<usize> {
        // With O_APPEND, Linux's pwrite appends whatever the offset.
        rustix::io::pwrite(&file.fd, data, offset).map_err(errno)
    }

    fn readdir(&mut self, dir: &mut HostFile, cookie: u64, max: usize) -> FsResult<Vec<DirEntry>> {
        let pos = i64::try_from(cookie).map_err(|_| Errno::EINVAL)?;
        rfs::seek(&dir.fd, SeekFrom::Start(pos as u64)).map_err(errno)?;
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 16 * 1024];
        let mut raw = RawDir::new(&dir.fd, &mut buf);
        let mut out = Vec::new();
        while out.len() < max {
            let Some(entry) = raw.next() else { break };
            let entry = entry.map_err(errno)?;
            let ft = entry.file_type();
            let (kind, dtype) = match ft {
                FileType::Directory => (vf_devices::p9::qid_type::DIR, 4),
                FileType::Symlink => (vf_devices::p9::qid_type::SYMLINK, 10),
                FileType::RegularFile => (0, 8),
                FileType::Fifo => (0, 1),
                FileType::CharacterDevice => (0, 2),
                FileType::BlockDevice => (0, 6),
                FileType::Socket => (0, 12),
                _ => (0, 0),
            };
            out.push(DirEntry {
                qid: Qid {
                    kind,
                    version: 0,
                    path: entry.ino(),
                },
                offset: entry.next_entry_cookie(),
                kind: dtype,
                name: entry.file_name().to_bytes().to_vec(),
            });
        }
        Ok(out)
    }

    fn fsync(&mut self, file: &mut HostFile, datasync: bool) -> FsResult<()> {
        if datasync {
            rfs::fdatasync(&file.fd).map_err(errno)
        } else {
            rfs::fsync(&file.fd).map_err(errno)
        }
    }

    fn release(&mut self, file: HostFile) {
        drop(file);
    }

    fn mkdir(&mut self, dir: &HostNode, name: &[u8], perm: u32, _owner: Owner) -> FsResult<Qid> {
        let name = entry_name(name)?;
        rfs::mkdirat(&*dir.fd, name, Mode::from_bits_truncate(perm & HOST_PERM)).map_err(errno)?;
        self.finish_new(dir, name, mode::S_IFDIR, perm)
    }

    fn symlink(
        &mut self,
        dir: &HostNode,
        name: &[u8],
        target: &[u8],
        _owner: Owner,
    ) -> FsResult<Qid> {
        let name = entry_name(name)?;
        if target.is_empty() || target.contains(&0) {
            return Err(Errno::EINVAL.into());
        }
        // The target is stored as text; the server never follows it.
        rfs::symlinkat(OsStr::from_bytes(target), &*dir.fd, name).map_err(errno)?;
        self.attr_of(dir, name)
    }

    fn mknod(
        &mut self,
        dir: &HostNode,
        name: &[u8],
        m: u32,
        _rdev: u64,
        _owner: Owner,
    ) -> FsResult<Qid> {
        let name = entry_name(name)?;
        let ft = match m & mode::S_IFMT {
            mode::S_IFIFO => FileType::Fifo,
            mode::S_IFSOCK => FileType::Socket,
            0 | mode::S_IFREG => FileType::RegularFile,
            // No host device nodes from the guest.
            mode::S_IFCHR | mode::S_IFBLK => return Err(Errno::EPERM.into()),
            _ => return Err(Errno::EINVAL.into()),
        };
        let perm = Mode::from_bits_truncate(m & HOST_PERM);
        rfs::mknodat(&*dir.fd, name, ft, perm, 0).map_err(errno)?;
        let kind = match m & mode::S_IFMT {
            0 => mode::S_IFREG,
            k => k,
        };
        self.finish_new(dir, name, kind, m)
    }

    fn link(&mut self, dir: &HostNode, name: &[u8], target: &HostNode) -> FsResult<()> {
        let name = entry_name(name)?;
        let st = Self::stat(target)?;
        if st.mode & mode::S_IFMT == mode::S_IFDIR {
            return Err(Errno::EPERM.into());
        }
        // linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc name of
        // the descriptor with AT_SYMLINK_FOLLOW links the very same inode.
        rfs::linkat(
            rfs::CWD,
            proc_path(&*target.fd),
            &*dir.fd,
            name,
            AtFlags::SYMLINK_FOLLOW,
        )
        .map_err(errno)
    }

    fn readlink(&mut self, node: &HostNode) -> FsResult<Vec<u8>> {
        if Self::stat(node)?.mode & mode::S_IFMT != mode::S_IFLNK {
            return Err(Errno::EINVAL.into());
        }
        rfs::readlinkat(&*node.fd, "", Vec::new())
            .map(|c| c.into_bytes())
            .map_err(errno)
    }

    fn rename(
        &mut self,
        old_dir: &HostNode,
        old_name: &[u8],
        new_dir: &HostNode,
        new_name: &[u8],
    ) -> FsResult<()> {
        let (old_name, new_name) = (entry_name(old_name)?, entry_name(new_name)?);
        rfs::renameat(&*old_dir.fd, old_name, &*new_dir.fd, new_name).map_err(errno)
    }

    fn unlink(&mut self, dir: &HostNode, name: &[u8], flags: u32) -> FsResult<()> {
        let name = entry_name(name)?;
        let flags = if flags & AT_REMOVEDIR != 0 {
            AtFlags::REMOVEDIR
        } else {
            AtFlags::empty()
        };
        rfs::unlinkat(&*dir.fd, name, flags).map_err(errno)
    }

    #[allow(clippy::unnecessary_cast)]
    fn statfs(&mut self, node: &HostNode) -> FsResult<StatFs> {
        let s = rfs::fstatfs(&*node.fd).map_err(errno)?;
        Ok(StatFs {
            fs_type: s.f_type as u32,
            bsize: s.f_bsize as u32,
            blocks: s.f_blocks as u64,
            bfree: s.f_bfree as u64,
            bavail: s.f_bavail as u64,
            files: s.f_files as u64,
            ffree: s.f_ffree as u64,
            fsid: self.root_id.0,
            namelen: s.f_namelen as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_keep_their_errno() {
        assert_eq!(
            errno(rustix::io::Errno::NOTEMPTY),
            FsError::Errno(Errno::ENOTEMPTY)
        );
    }
}
