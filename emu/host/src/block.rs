//! File-backed block storage: a disk image on the host as a
//! [`BlockBackend`] for virtio-blk.
//!
//! Three modes ([`BlockMode`]):
//!
//! - [`BlockMode::CopyOnWrite`] (the default): the image is opened read-only
//!   and never modified. Guest writes go to an in-memory overlay of dirty
//!   [`CHUNK_SIZE`]-byte chunks, which reads consult first; the overlay grows
//!   at most to the size of the image and is lost when the machine stops.
//! - [`BlockMode::ReadWrite`] (`--rw`): the image is opened read-write and
//!   written through; flush is `fsync` (data only).
//! - [`BlockMode::ReadOnly`]: the guest sees a read-only disk.
//!
//! The disk size is the file size at open; the guest sees whole 512-byte
//! sectors (a ragged tail is not addressable). Every error carries the file
//! name.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;
use vf_devices::virtio::blk::{BlockBackend, BlockError};

/// The granularity of the copy-on-write overlay.
pub const CHUNK_SIZE: usize = 4096;

/// How the image file is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlockMode {
    /// Writes stay in memory; the file is never modified.
    #[default]
    CopyOnWrite,
    /// Writes go to the file.
    ReadWrite,
    /// The guest cannot write.
    ReadOnly,
}

/// A disk image failure, naming the file.
#[derive(Debug, Error)]
pub enum FileBlockError {
    /// The image could not be opened or its size read.
    #[error("cannot open disk image {}: {source}", path.display())]
    Open {
        /// The image.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A read failed.
    #[error("cannot read {len} bytes at offset {offset} of disk image {}: {source}", path.display())]
    Read {
        /// The image.
        path: PathBuf,
        /// Byte offset.
        offset: u64,
        /// Length.
        len: usize,
        /// The cause.
        source: io::Error,
    },
    /// A write failed.
    #[error("cannot write {len} bytes at offset {offset} of disk image {}: {source}", path.display())]
    Write {
        /// The image.
        path: PathBuf,
        /// Byte offset.
        offset: u64,
        /// Length.
        len: usize,
        /// The cause.
        source: io::Error,
    },
    /// `fsync` failed.
    #[error("cannot flush disk image {}: {source}", path.display())]
    Flush {
        /// The image.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// An access past the end of the image.
    #[error("access of {len} bytes at offset {offset} is past the end of disk image {} ({size} bytes)", path.display())]
    OutOfRange {
        /// The image.
        path: PathBuf,
        /// Byte offset.
        offset: u64,
        /// Length.
        len: usize,
        /// The image size.
        size: u64,
    },
    /// A write to an image opened read-only.
    #[error("disk image {} is read-only", path.display())]
    ReadOnly {
        /// The image.
        path: PathBuf,
    },
}

impl From<FileBlockError> for BlockError {
    fn from(e: FileBlockError) -> BlockError {
        BlockError::Host(Box::new(e))
    }
}

/// A disk image file as a block device.
#[derive(Debug)]
pub struct FileBlock {
    file: File,
    path: PathBuf,
    len: u64,
    mode: BlockMode,
    /// Copy-on-write chunks, by chunk index.
    overlay: HashMap<u64, Box<[u8; CHUNK_SIZE]>>,
}

impl FileBlock {
    /// Opens the image at `path` in `mode` (read-write only for
    /// [`BlockMode::ReadWrite`]).
    pub fn open(path: impl AsRef<Path>, mode: BlockMode) -> Result<FileBlock, FileBlockError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| FileBlockError::Open {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(mode == BlockMode::ReadWrite)
            .open(&path)
            .map_err(open_err)?;
        let meta = file.metadata().map_err(open_err)?;
        if !meta.is_file() {
            return Err(open_err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        Ok(FileBlock {
            file,
            path,
            len: meta.len(),
            mode,
            overlay: HashMap::new(),
        })
    }

    /// The image file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mode it was opened in.
    pub fn mode(&self) -> BlockMode {
        self.mode
    }

    /// Bytes held in the copy-on-write overlay.
    pub fn overlay_bytes(&self) -> usize {
        self.overlay.len() * CHUNK_SIZE
    }

    fn check(&self, offset: u64, len: usize) -> Result<(), FileBlockError> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(FileBlockError::OutOfRange {
                path: self.path.clone(),
                offset,
                len,
                size: self.len,
            }),
        }
    }

    fn file_read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), FileBlockError> {
        let r = self
            .file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(buf));
        r.map_err(|source| FileBlockError::Read {
            path: self.path.clone(),
            offset,
            len: buf.len(),
            source,
        })
    }

    fn file_write(&mut self, offset: u64, buf: &[u8]) -> Result<(), FileBlockError> {
        let r = self
            .file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.write_all(buf));
        r.map_err(|source| FileBlockError::Write {
            path: self.path.clone(),
            offset,
            len: buf.len(),
            source,
        })
    }

    /// Reads `buf.len()` bytes at `offset`: the file, then overlay chunks on
    /// top.
    pub fn read_bytes(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), FileBlockError> {
        self.check(offset, buf.len())?;
        self.file_read(offset, buf)?;
        if self.overlay.is_empty() || buf.is_empty() {
            return Ok(());
        }
        let chunk = CHUNK_SIZE as u64;
        let end = offset + buf.len() as u64;
        for c in offset / chunk..end.div_ceil(chunk) {
            let Some(data) = self.overlay.get(&c) else {
                continue;
            };
            let c_start = c * chunk;
            let from = offset.max(c_start);
            let to = end.min(c_start + chunk);
            buf[(from - offset) as usize..(to - offset) as usize]
                .copy_from_slice(&data[(from - c_start) as usize..(to - c_start) as usize]);
        }
        Ok(())
    }

    /// Writes `buf` at `offset` per the mode.
    pub fn write_bytes(&mut self, offset: u64, buf: &[u8]) -> Result<(), FileBlockError> {
        self.check(offset, buf.len())?;
        match self.mode {
            BlockMode::ReadOnly => Err(FileBlockError::ReadOnly {
                path: self.path.clone(),
            }),
            BlockMode::ReadWrite => self.file_write(offset, buf),
            BlockMode::CopyOnWrite if buf.is_empty() => Ok(()),
            BlockMode::CopyOnWrite => {
                let chunk = CHUNK_SIZE as u64;
                let end = offset + buf.len() as u64;
                for c in offset / chunk..end.div_ceil(chunk) {
                    let c_start = c * chunk;
                    let from = offset.max(c_start);
                    let to = end.min(c_start + chunk);
                    if !self.overlay.contains_key(&c) {
                        // Fill the new chunk from the file (the part of it
                        // inside the image), unless it is overwritten whole.
                        let mut fresh = Box::new([0u8; CHUNK_SIZE]);
                        if from != c_start || to != c_start + chunk {
                            let valid = (self.len.min(c_start + chunk) - c_start) as usize;
                            self.file_read(c_start, &mut fresh[..valid])?;
                        }
                        self.overlay.insert(c, fresh);
                    }
                    let data = self.overlay.get_mut(&c).expect("inserted above");
                    data[(from - c_start) as usize..(to - c_start) as usize]
                        .copy_from_slice(&buf[(from - offset) as usize..(to - offset) as usize]);
                }
                Ok(())
            }
        }
    }

    /// Makes written data durable (read-write mode: `fsync`; otherwise
    /// nothing to do).
    pub fn sync(&mut self) -> Result<(), FileBlockError> {
        if self.mode == BlockMode::ReadWrite {
            self.file
                .sync_data()
                .map_err(|source| FileBlockError::Flush {
                    path: self.path.clone(),
                    source,
                })?;
        }
        Ok(())
    }
}

impl BlockBackend for FileBlock {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_only(&self) -> bool {
        self.mode == BlockMode::ReadOnly
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        Ok(self.read_bytes(offset, buf)?)
    }

    fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<(), BlockError> {
        Ok(self.write_bytes(offset, buf)?)
    }

    fn flush(&mut self) -> Result<(), BlockError> {
        Ok(self.sync()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image of `len` bytes where byte i is `i * 7 % 251`.
    fn image(dir: &tempfile::TempDir, len: usize) -> PathBuf {
        let p = dir.path().join("disk.img");
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&p, data).unwrap();
        p
    }

    fn expected(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn copy_on_write_never_touches_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = image(&dir, 5 * CHUNK_SIZE + 700);
        let mut d = FileBlock::open(&p, BlockMode::CopyOnWrite).unwrap();
        assert_eq!(d.len(), 5 * CHUNK_SIZE as u64 + 700);
        let mut want = expected(5 * CHUNK_SIZE + 700);
        // A write straddling chunks 0 and 1, one filling chunk 3 exactly, one
        // at the ragged tail.
        let writes: [(u64, usize); 3] = [
            (4000, 200),
            (3 * CHUNK_SIZE as u64, CHUNK_SIZE),
            (5 * CHUNK_SIZE as u64 + 600, 100),
        ];
        for (k, &(off, len)) in writes.iter().enumerate() {
            let data = vec![0xa0 + k as u8; len];
            d.write_at(off, &data).unwrap();
            want[off as usize..off as usize + len].copy_from_slice(&data);
        }
        assert_eq!(d.overlay_bytes(), 4 * CHUNK_SIZE);
        // An empty write creates no chunk.
        d.write_at(2 * CHUNK_SIZE as u64 + 5, &[]).unwrap();
        assert_eq!(d.overlay_bytes(), 4 * CHUNK_SIZE);
        let mut all = vec![0u8; want.len()];
        d.read_at(0, &mut all).unwrap();
        assert_eq!(all, want);
        // Reads of parts, across overlay and file chunks.
        let mut part = vec![0u8; 9000];
        d.read_at(3000, &mut part).unwrap();
        assert_eq!(part, want[3000..12000]);
        d.flush().unwrap();
        drop(d);
        assert_eq!(std::fs::read(&p).unwrap(), expected(5 * CHUNK_SIZE + 700));
    }

    #[test]
    fn read_write_goes_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = image(&dir, 4 * CHUNK_SIZE);
        let mut d = FileBlock::open(&p, BlockMode::ReadWrite).unwrap();
        d.write_at(1000, &[9; 3000]).unwrap();
        d.flush().unwrap();
        assert_eq!(d.overlay_bytes(), 0);
        let mut b = [0u8; 3000];
        d.read_at(1000, &mut b).unwrap();
        assert_eq!(b, [9; 3000]);
        drop(d);
        let mut want = expected(4 * CHUNK_SIZE);
        want[1000..4000].fill(9);
        assert_eq!(std::fs::read(&p).unwrap(), want);
    }

    #[test]
    fn read_only_and_range_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = image(&dir, 2048);
        let mut d = FileBlock::open(&p, BlockMode::ReadOnly).unwrap();
        assert!(d.read_only());
        let e = d.write_bytes(0, &[1]).unwrap_err();
        assert!(matches!(e, FileBlockError::ReadOnly { .. }));
        assert!(e.to_string().contains("disk.img"), "{e}");
        let e = d.read_bytes(2000, &mut [0; 100]).unwrap_err();
        assert!(matches!(
            e,
            FileBlockError::OutOfRange {
                offset: 2000,
                len: 100,
                size: 2048,
                ..
            }
        ));
        assert!(e.to_string().contains("disk.img"), "{e}");
        assert!(d.read_bytes(u64::MAX, &mut [0; 2]).is_err());
        // Through the device trait the error keeps its message.
        let e = d.write_at(0, &[1]).unwrap_err();
        assert!(e.to_string().contains("disk.img"), "{e}");
        let missing = dir.path().join("nope.img");
        let e = FileBlock::open(&missing, BlockMode::CopyOnWrite).unwrap_err();
        assert!(matches!(e, FileBlockError::Open { .. }));
        assert!(e.to_string().contains("nope.img"), "{e}");
        let e = FileBlock::open(dir.path(), BlockMode::CopyOnWrite).unwrap_err();
        assert!(matches!(e, FileBlockError::Open { .. }), "{e}");
    }

    #[test]
    fn copy_on_write_opens_a_read_only_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = image(&dir, 4096);
        let mut perms = std::fs::metadata(&p).unwrap().permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(&p, perms).unwrap();
        let mut d = FileBlock::open(&p, BlockMode::CopyOnWrite).unwrap();
        d.write_at(0, &[5; 512]).unwrap();
        let mut b = [0u8; 512];
        d.read_at(0, &mut b).unwrap();
        assert_eq!(b, [5; 512]);
    }

    #[test]
    fn serves_a_virtio_blk_device() {
        use vf_devices::virtio::blk::Blk;
        let dir = tempfile::tempdir().unwrap();
        let p = image(&dir, 8 * 512 + 100);
        let blk = Blk::new(FileBlock::open(&p, BlockMode::CopyOnWrite).unwrap());
        // The ragged tail is not addressable.
        assert_eq!(blk.capacity(), 8 * 512);
    }
}
