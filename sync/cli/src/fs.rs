//! The checkout's directory on disk as a [`LocalTree`] (docs/sync-format.md section 7.1).

use std::cell::Cell;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vfsync_core::{LocalEntry, LocalError, LocalKind, LocalTree};

/// The private directory of a checkout.
pub const PRIVATE: &str = ".vfsync";

/// A checkout directory.
pub struct FsTree {
    root: PathBuf,
    counter: Cell<u64>,
}

fn io_err(op: &'static str, path: &str, e: io::Error) -> LocalError {
    match e.kind() {
        io::ErrorKind::NotFound => LocalError::NotFound(path.into()),
        io::ErrorKind::AlreadyExists => LocalError::Exists(path.into()),
        _ => LocalError::Io {
            op,
            path: path.into(),
            detail: e.to_string(),
        },
    }
}

fn ns(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

fn from_ns(t: i64) -> SystemTime {
    if t >= 0 {
        UNIX_EPOCH + Duration::from_nanos(t as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(t.unsigned_abs())
    }
}

impl FsTree {
    /// The checkout rooted at `root`; removes leftovers of interrupted writes.
    pub fn open(root: &Path) -> io::Result<Self> {
        let tmp = root.join(PRIVATE).join("tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        Ok(FsTree {
            root: root.to_path_buf(),
            counter: Cell::new(0),
        })
    }

    fn abs(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }

    fn tmp_path(&self) -> PathBuf {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        self.root
            .join(PRIVATE)
            .join("tmp")
            .join(format!("{}-{n}", std::process::id()))
    }

    fn entry(path: String, md: &fs::Metadata, target: Option<String>) -> Option<LocalEntry> {
        let ft = md.file_type();
        let kind = if ft.is_symlink() {
            LocalKind::Symlink
        } else if ft.is_dir() {
            LocalKind::Dir
        } else if ft.is_file() {
            LocalKind::File
        } else {
            return None;
        };
        Some(LocalEntry {
            path,
            kind,
            size: if kind == LocalKind::File { md.len() } else { 0 },
            mode: md.permissions().mode() & 0o7777,
            mtime: md.modified().map(ns).unwrap_or(0),
            target,
        })
    }

    fn stat_abs(&self, path: &str) -> Result<Option<LocalEntry>, LocalError> {
        let abs = self.abs(path);
        let md = match fs::symlink_metadata(&abs) {
            Ok(md) => md,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("stat", path, e)),
        };
        let target = if md.file_type().is_symlink() {
            let t = fs::read_link(&abs).map_err(|e| io_err("readlink", path, e))?;
            Some(
                t.into_os_string()
                    .into_string()
                    .map_err(|_| LocalError::Io {
                        op: "readlink",
                        path: path.into(),
                        detail: "the symlink target is not UTF-8".into(),
                    })?,
            )
        } else {
            None
        };
        Ok(Self::entry(path.into(), &md, target))
    }

    fn walk(&self, rel: &str, out: &mut Vec<LocalEntry>) -> Result<(), LocalError> {
        let dir = if rel.is_empty() {
            self.root.clone()
        } else {
            self.abs(rel)
        };
        let rd = fs::read_dir(&dir).map_err(|e| io_err("list", rel, e))?;
        for item in rd {
            let item = item.map_err(|e| io_err("list", rel, e))?;
            let name = item.file_name().into_string().map_err(|n| LocalError::Io {
                op: "list",
                path: format!("{rel}/{}", n.to_string_lossy()),
                detail: "the file name is not UTF-8".into(),
            })?;
            if rel.is_empty() && name == PRIVATE {
                continue;
            }
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if let Some(e) = self.stat_abs(&path)? {
                let is_dir = e.kind == LocalKind::Dir;
                out.push(e);
                if is_dir {
                    self.walk(&path, out)?;
                }
            }
        }
        Ok(())
    }

    fn make_parents(&self, path: &str) -> Result<(), LocalError> {
        if let Some(parent) = self.abs(path).parent() {
            fs::create_dir_all(parent).map_err(|e| io_err("mkdir", path, e))?;
        }
        Ok(())
    }

    fn refuse_dir(&self, path: &str) -> Result<(), LocalError> {
        if let Some(e) = self.stat_abs(path)? {
            if e.kind == LocalKind::Dir {
                return Err(LocalError::Io {
                    op: "write",
                    path: path.into(),
                    detail: "is a directory".into(),
                });
            }
        }
        Ok(())
    }

    fn sync_dir(&self, path: &str) {
        if let Some(parent) = self.abs(path).parent() {
            if let Ok(d) = fs::File::open(parent) {
                let _ = d.sync_all();
            }
        }
    }
}

impl LocalTree for FsTree {
    async fn list(&self) -> Result<Vec<LocalEntry>, LocalError> {
        let mut out = Vec::new();
        self.walk("", &mut out)?;
        Ok(out)
    }

    async fn stat(&self, path: &str) -> Result<Option<LocalEntry>, LocalError> {
        self.stat_abs(path)
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, LocalError> {
        fs::read(self.abs(path)).map_err(|e| io_err("read", path, e))
    }

    async fn write_file(
        &self,
        path: &str,
        data: &[u8],
        mode: u32,
        mtime: i64,
    ) -> Result<(), LocalError> {
        self.refuse_dir(path)?;
        self.make_parents(path)?;
        let tmp = self.tmp_path();
        let res = (|| -> io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(data)?;
            f.set_permissions(fs::Permissions::from_mode(mode & 0o7777))?;
            f.set_modified(from_ns(mtime))?;
            f.sync_all()?;
            fs::rename(&tmp, self.abs(path))
        })();
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp);
            return Err(io_err("write", path, e));
        }
        self.sync_dir(path);
        Ok(())
    }

    async fn write_symlink(&self, path: &str, target: &str) -> Result<(), LocalError> {
        self.refuse_dir(path)?;
        self.make_parents(path)?;
        let tmp = self.tmp_path();
        std::os::unix::fs::symlink(target, &tmp)
            .and_then(|()| fs::rename(&tmp, self.abs(path)))
            .map_err(|e| io_err("symlink", path, e))?;
        self.sync_dir(path);
        Ok(())
    }

    async fn mkdir(&self, path: &str, mode: u32) -> Result<(), LocalError> {
        let abs = self.abs(path);
        match fs::symlink_metadata(&abs) {
            Ok(md) if md.is_dir() => return Ok(()),
            Ok(_) => return Err(LocalError::Exists(path.into())),
            Err(_) => {}
        }
        fs::create_dir_all(&abs).map_err(|e| io_err("mkdir", path, e))?;
        fs::set_permissions(&abs, fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|e| io_err("chmod", path, e))
    }

    async fn remove_file(&self, path: &str) -> Result<(), LocalError> {
        fs::remove_file(self.abs(path)).map_err(|e| io_err("remove", path, e))
    }

    async fn remove_dir(&self, path: &str) -> Result<bool, LocalError> {
        match fs::remove_dir(self.abs(path)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => Ok(false),
            Err(e) => Err(io_err("rmdir", path, e)),
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), LocalError> {
        if self.stat_abs(to)?.is_some() {
            return Err(LocalError::Exists(to.into()));
        }
        self.make_parents(to)?;
        fs::rename(self.abs(from), self.abs(to)).map_err(|e| io_err("rename", from, e))?;
        self.sync_dir(to);
        Ok(())
    }

    fn now(&self) -> i64 {
        ns(SystemTime::now())
    }

    async fn load_state(&self) -> Result<Option<Vec<u8>>, LocalError> {
        match fs::read(self.root.join(PRIVATE).join("state.json")) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", ".vfsync/state.json", e)),
        }
    }

    async fn save_state(&self, data: &[u8]) -> Result<(), LocalError> {
        write_atomic(&self.root.join(PRIVATE).join("state.json"), data)
            .map_err(|e| io_err("write", ".vfsync/state.json", e))
    }
}

/// Writes a file atomically: temporary file, flush, rename, flush the directory.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(d) = path.parent().and_then(|p| fs::File::open(p).ok()) {
        let _ = d.sync_all();
    }
    Ok(())
}
