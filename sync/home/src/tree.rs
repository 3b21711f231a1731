//! [`HomeTree`]: the signed-in user's tree as vfsync-core's sync engine sees it.

use std::cell::RefCell;
use std::rc::Rc;

use vf_devices::p9::{
    mode, open_flags, Attr, Errno, FileSystem, Owner, SetAttr, SetTime, Timespec,
};
use vfsync_core::{LocalEntry, LocalError, LocalKind, LocalTree, Remote, RepoKeys};

use crate::home::{errno, fetch_content, list_names, Inner};

/// Nanoseconds since the epoch as a 9p time (times before 1970 become the epoch).
pub(crate) fn ns_to_ts(ns: i64) -> Timespec {
    let ns = u64::try_from(ns).unwrap_or(0);
    Timespec {
        sec: ns / 1_000_000_000,
        nsec: ns % 1_000_000_000,
    }
}

/// A 9p time as nanoseconds since the epoch (saturating).
pub(crate) fn ts_to_ns(t: Timespec) -> i64 {
    i64::try_from(t.sec)
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::try_from(t.nsec.min(999_999_999)).unwrap_or(0))
}

const OWNER: Owner = Owner { uid: 0, gid: 0 };
/// Deepest directory nesting the engine's listing descends into.
const MAX_DEPTH: usize = 256;

/// The signed-in user's home, for the sync engine: paths are relative to `/USER`; files not
/// fetched yet are read from the server when the engine needs their bytes.
pub struct HomeTree<R> {
    pub(crate) inner: Rc<RefCell<Inner<R>>>,
    pub(crate) home: u64,
    pub(crate) remote: Rc<R>,
    pub(crate) keys: Rc<RepoKeys>,
}

fn io(op: &'static str, path: &str, e: Errno) -> LocalError {
    if e == Errno::ENOENT {
        LocalError::NotFound(path.to_owned())
    } else if e == Errno::EEXIST {
        LocalError::Exists(path.to_owned())
    } else {
        LocalError::Io {
            op,
            path: path.to_owned(),
            detail: format!("{e}"),
        }
    }
}

impl<R> HomeTree<R> {
    fn resolve(&self, inner: &mut Inner<R>, path: &str) -> Result<u64, Errno> {
        let mut node = self.home;
        for c in path.split('/').filter(|c| !c.is_empty()) {
            node = inner.fs.lookup(&node, c.as_bytes()).map_err(errno)?;
        }
        Ok(node)
    }

    /// The parent directory of `path` (created with its ancestors if `create`) and the name.
    fn parent<'p>(
        &self,
        inner: &mut Inner<R>,
        path: &'p str,
        create: bool,
    ) -> Result<(u64, &'p str), Errno> {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let mut node = self.home;
        for c in dir.split('/').filter(|c| !c.is_empty()) {
            node = match inner.fs.lookup(&node, c.as_bytes()) {
                Ok(n) => n,
                Err(_) if create => {
                    inner
                        .fs
                        .mkdir(&node, c.as_bytes(), 0o755, OWNER)
                        .map_err(errno)?;
                    inner.fs.lookup(&node, c.as_bytes()).map_err(errno)?
                }
                Err(e) => return Err(errno(e)),
            };
        }
        Ok((node, name))
    }

    fn entry(inner: &mut Inner<R>, path: String, node: u64, a: &Attr) -> Option<LocalEntry> {
        let kind = match a.mode & mode::S_IFMT {
            mode::S_IFREG => LocalKind::File,
            mode::S_IFDIR => LocalKind::Dir,
            mode::S_IFLNK => LocalKind::Symlink,
            _ => return None,
        };
        let size = match kind {
            LocalKind::File => inner.lazy.get(&node).map_or(a.size, |l| l.size),
            _ => 0,
        };
        let target = match kind {
            LocalKind::Symlink => inner
                .fs
                .readlink(&node)
                .ok()
                .map(|t| String::from_utf8_lossy(&t).into_owned()),
            _ => None,
        };
        Some(LocalEntry {
            path,
            kind,
            size,
            mode: a.mode & mode::PERM,
            mtime: ts_to_ns(a.mtime),
            target,
        })
    }

    /// Replaces whatever is at `path` (not a directory) by nothing.
    fn clear(
        &self,
        inner: &mut Inner<R>,
        dir: u64,
        name: &str,
        path: &str,
    ) -> Result<(), LocalError> {
        if let Ok(old) = inner.fs.lookup(&dir, name.as_bytes()) {
            let a = inner
                .fs
                .getattr(&old)
                .map_err(|e| io("stat", path, errno(e)))?;
            if a.mode & mode::S_IFMT == mode::S_IFDIR {
                return Err(io("replace", path, Errno::EISDIR));
            }
            inner
                .fs
                .unlink(&dir, name.as_bytes(), 0)
                .map_err(|e| io("replace", path, errno(e)))?;
            inner.lazy.remove(&old);
        }
        Ok(())
    }
}

impl<R: Remote> LocalTree for HomeTree<R> {
    async fn list(&self) -> Result<Vec<LocalEntry>, LocalError> {
        let mut inner = self.inner.borrow_mut();
        let mut out = Vec::new();
        let mut stack = vec![(String::new(), self.home, 0usize)];
        while let Some((prefix, dir, depth)) = stack.pop() {
            for name in list_names(&mut inner.fs, dir) {
                let Ok(name) = String::from_utf8(name) else {
                    continue; // not representable in a manifest: stays local
                };
                if prefix.is_empty() && name == ".vfsync" {
                    continue;
                }
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}/{name}")
                };
                let node = inner
                    .fs
                    .lookup(&dir, name.as_bytes())
                    .map_err(|e| io("list", &path, errno(e)))?;
                let a = inner
                    .fs
                    .getattr(&node)
                    .map_err(|e| io("list", &path, errno(e)))?;
                if let Some(e) = Self::entry(&mut inner, path.clone(), node, &a) {
                    if e.kind == LocalKind::Dir {
                        if depth >= MAX_DEPTH {
                            return Err(io("list", &path, Errno::ELOOP));
                        }
                        stack.push((path, node, depth + 1));
                    }
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    async fn stat(&self, path: &str) -> Result<Option<LocalEntry>, LocalError> {
        let mut inner = self.inner.borrow_mut();
        let node = match self.resolve(&mut inner, path) {
            Ok(n) => n,
            Err(e) if e == Errno::ENOENT || e == Errno::ENOTDIR => return Ok(None),
            Err(e) => return Err(io("stat", path, e)),
        };
        let a = inner
            .fs
            .getattr(&node)
            .map_err(|e| io("stat", path, errno(e)))?;
        Ok(Self::entry(&mut inner, path.to_owned(), node, &a))
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, LocalError> {
        let lazy = {
            let mut inner = self.inner.borrow_mut();
            let node = self
                .resolve(&mut inner, path)
                .map_err(|e| io("read", path, e))?;
            match inner.lazy.get(&node) {
                Some(l) => l.clone(),
                None => {
                    let size = inner
                        .fs
                        .getattr(&node)
                        .map_err(|e| io("read", path, errno(e)))?
                        .size;
                    let mut f = inner
                        .fs
                        .open(&node, open_flags::O_RDONLY)
                        .map_err(|e| io("read", path, errno(e)))?;
                    let mut data = vec![0u8; usize::try_from(size).unwrap_or(usize::MAX)];
                    let mut done = 0;
                    while done < data.len() {
                        match inner.fs.read(&mut f, done as u64, &mut data[done..]) {
                            Ok(0) => break,
                            Ok(n) => done += n,
                            Err(e) => {
                                inner.fs.release(f);
                                return Err(io("read", path, errno(e)));
                            }
                        }
                    }
                    inner.fs.release(f);
                    data.truncate(done);
                    return Ok(data);
                }
            }
        };
        fetch_content(&*self.remote, &self.keys, &lazy)
            .await
            .map_err(|e| LocalError::Io {
                op: "fetch",
                path: path.to_owned(),
                detail: e.to_string(),
            })
    }

    async fn write_file(
        &self,
        path: &str,
        data: &[u8],
        mode: u32,
        mtime: i64,
    ) -> Result<(), LocalError> {
        // Single-threaded and with no await below: no reader can see a partial file.
        let mut inner = self.inner.borrow_mut();
        let (dir, name) = self
            .parent(&mut inner, path, true)
            .map_err(|e| io("write", path, e))?;
        self.clear(&mut inner, dir, name, path)?;
        let (node, mut f) = inner
            .fs
            .create(
                &dir,
                name.as_bytes(),
                open_flags::O_WRONLY,
                mode & 0o7777,
                OWNER,
            )
            .map_err(|e| io("write", path, errno(e)))?;
        let w = inner.fs.write(&mut f, 0, data);
        inner.fs.release(f);
        w.map_err(|e| io("write", path, errno(e)))?;
        inner
            .fs
            .setattr(
                &node,
                &SetAttr {
                    mode: Some(mode & 0o7777),
                    mtime: SetTime::At(ns_to_ts(mtime)),
                    ..SetAttr::default()
                },
            )
            .map_err(|e| io("write", path, errno(e)))
    }

    async fn write_symlink(&self, path: &str, target: &str) -> Result<(), LocalError> {
        let mut inner = self.inner.borrow_mut();
        let (dir, name) = self
            .parent(&mut inner, path, true)
            .map_err(|e| io("symlink", path, e))?;
        self.clear(&mut inner, dir, name, path)?;
        inner
            .fs
            .symlink(&dir, name.as_bytes(), target.as_bytes(), OWNER)
            .map(|_| ())
            .map_err(|e| io("symlink", path, errno(e)))
    }

    async fn mkdir(&self, path: &str, mode: u32) -> Result<(), LocalError> {
        let mut inner = self.inner.borrow_mut();
        let (dir, name) = self
            .parent(&mut inner, path, true)
            .map_err(|e| io("mkdir", path, e))?;
        match inner.fs.mkdir(&dir, name.as_bytes(), mode & 0o7777, OWNER) {
            Ok(_) => Ok(()),
            Err(e) if errno(e) == Errno::EEXIST => {
                let n = inner
                    .fs
                    .lookup(&dir, name.as_bytes())
                    .map_err(|e| io("mkdir", path, errno(e)))?;
                let a = inner
                    .fs
                    .getattr(&n)
                    .map_err(|e| io("mkdir", path, errno(e)))?;
                if a.mode & mode::S_IFMT == mode::S_IFDIR {
                    Ok(())
                } else {
                    Err(io("mkdir", path, Errno::EEXIST))
                }
            }
            Err(e) => Err(io("mkdir", path, errno(e))),
        }
    }

    async fn remove_file(&self, path: &str) -> Result<(), LocalError> {
        let mut inner = self.inner.borrow_mut();
        let (dir, name) = self
            .parent(&mut inner, path, false)
            .map_err(|e| io("remove", path, e))?;
        let node = inner
            .fs
            .lookup(&dir, name.as_bytes())
            .map_err(|e| io("remove", path, errno(e)))?;
        inner
            .fs
            .unlink(&dir, name.as_bytes(), 0)
            .map_err(|e| io("remove", path, errno(e)))?;
        inner.lazy.remove(&node);
        Ok(())
    }

    async fn remove_dir(&self, path: &str) -> Result<bool, LocalError> {
        let mut inner = self.inner.borrow_mut();
        let (dir, name) = self
            .parent(&mut inner, path, false)
            .map_err(|e| io("rmdir", path, e))?;
        match inner
            .fs
            .unlink(&dir, name.as_bytes(), vf_devices::p9::AT_REMOVEDIR)
        {
            Ok(()) => Ok(true),
            Err(e) if errno(e) == Errno::ENOTEMPTY => Ok(false),
            Err(e) => Err(io("rmdir", path, errno(e))),
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), LocalError> {
        let mut inner = self.inner.borrow_mut();
        let (fd, fname) = self
            .parent(&mut inner, from, false)
            .map_err(|e| io("rename", from, e))?;
        let (td, tname) = self
            .parent(&mut inner, to, true)
            .map_err(|e| io("rename", to, e))?;
        if inner.fs.lookup(&td, tname.as_bytes()).is_ok() {
            return Err(LocalError::Exists(to.to_owned()));
        }
        inner
            .fs
            .rename(&fd, fname.as_bytes(), &td, tname.as_bytes())
            .map_err(|e| io("rename", from, errno(e)))
    }

    fn now(&self) -> i64 {
        (self.inner.borrow().config.clock)()
    }

    async fn load_state(&self) -> Result<Option<Vec<u8>>, LocalError> {
        Ok(self.inner.borrow().state.clone())
    }

    async fn save_state(&self, data: &[u8]) -> Result<(), LocalError> {
        self.inner.borrow_mut().state = Some(data.to_vec());
        Ok(())
    }
}
