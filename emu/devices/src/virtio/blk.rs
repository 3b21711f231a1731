//! virtio-blk (device id 2, virtio 1.2 section 5.2) over a [`BlockBackend`].
//!
//! Requests: `VIRTIO_BLK_T_IN` (read), `OUT` (write), `FLUSH`, `GET_ID`;
//! anything else gets `VIRTIO_BLK_S_UNSUPP`. A request is parsed and
//! validated into a [`Request`] (header in the readable part, status byte as
//! the last writable byte, data lengths multiples of 512, sector range inside
//! the disk) and only then executed. Data moves through one reusable bounce
//! buffer of [`BOUNCE_SIZE`] bytes, so requests allocate nothing.
//!
//! Config space (little-endian): `capacity: u64` at 0 (512-byte sectors),
//! `size_max: u32` at 8, `seg_max: u32` at 12, geometry (zero) at 16,
//! `blk_size: u32` at 20; the rest reads as zero.

use thiserror::Error;

use crate::memory::GuestMemory;

use super::queue::{DescChain, Queue, QueueError};
use super::{read_config_bytes, VirtioDevice};

/// The virtio device id.
pub const DEVICE_ID: u32 = 2;
/// Feature: `size_max` is valid.
pub const VIRTIO_BLK_F_SIZE_MAX: u64 = 1 << 1;
/// Feature: `seg_max` is valid.
pub const VIRTIO_BLK_F_SEG_MAX: u64 = 1 << 2;
/// Feature: the device is read-only.
pub const VIRTIO_BLK_F_RO: u64 = 1 << 5;
/// Feature: `blk_size` is valid.
pub const VIRTIO_BLK_F_BLK_SIZE: u64 = 1 << 6;
/// Feature: the flush command exists.
pub const VIRTIO_BLK_F_FLUSH: u64 = 1 << 9;

/// Request type: read.
pub const VIRTIO_BLK_T_IN: u32 = 0;
/// Request type: write.
pub const VIRTIO_BLK_T_OUT: u32 = 1;
/// Request type: flush.
pub const VIRTIO_BLK_T_FLUSH: u32 = 4;
/// Request type: get the device id string.
pub const VIRTIO_BLK_T_GET_ID: u32 = 8;
/// Status: success.
pub const VIRTIO_BLK_S_OK: u8 = 0;
/// Status: I/O error (also bad requests and writes to a read-only disk).
pub const VIRTIO_BLK_S_IOERR: u8 = 1;
/// Status: unsupported request type.
pub const VIRTIO_BLK_S_UNSUPP: u8 = 2;

/// The sector size of the protocol.
pub const SECTOR_SIZE: u64 = 512;
/// The size of the request queue.
pub const QUEUE_SIZE: u16 = 256;
/// `seg_max`: data segments per request (the queue less header and status).
pub const SEG_MAX: u32 = QUEUE_SIZE as u32 - 2;
/// `size_max`: the largest data segment.
pub const SIZE_MAX: u32 = 1 << 20;
/// The bounce buffer between guest memory and the backend.
pub const BOUNCE_SIZE: usize = 64 * 1024;
/// The length of the `GET_ID` string.
pub const ID_LEN: usize = 20;

/// A block storage failure.
#[derive(Debug, Error)]
pub enum BlockError {
    /// An access past the end of the disk.
    #[error("access of {len} bytes at offset {offset} is past the end of a {capacity}-byte disk")]
    OutOfRange {
        /// The byte offset.
        offset: u64,
        /// The length.
        len: u64,
        /// The disk size in bytes.
        capacity: u64,
    },
    /// A write to a read-only disk.
    #[error("the disk is read-only")]
    ReadOnly,
    /// The host storage failed.
    #[error(transparent)]
    Host(Box<dyn std::error::Error + Send + Sync>),
}

/// Host storage behind a virtio-blk device.
pub trait BlockBackend {
    /// The size in bytes (the device exposes `len / 512` sectors).
    fn len(&self) -> u64;
    /// Whether the disk is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether writes are refused (sets `VIRTIO_BLK_F_RO`).
    fn read_only(&self) -> bool;
    /// Fills `buf` from byte `offset`.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError>;
    /// Writes `buf` at byte `offset`.
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<(), BlockError>;
    /// Makes completed writes durable.
    fn flush(&mut self) -> Result<(), BlockError>;
}

/// A disk held in memory (tests, the browser).
#[derive(Debug, Clone)]
pub struct MemBlock {
    data: Vec<u8>,
    read_only: bool,
}

impl MemBlock {
    /// A disk with these contents.
    pub fn new(data: Vec<u8>, read_only: bool) -> MemBlock {
        MemBlock { data, read_only }
    }
    /// The contents.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    fn range(&self, offset: u64, len: usize) -> Result<std::ops::Range<usize>, BlockError> {
        let bad = BlockError::OutOfRange {
            offset,
            len: len as u64,
            capacity: self.data.len() as u64,
        };
        let start = usize::try_from(offset).map_err(|_| bad)?;
        match start.checked_add(len) {
            Some(end) if end <= self.data.len() => Ok(start..end),
            _ => Err(BlockError::OutOfRange {
                offset,
                len: len as u64,
                capacity: self.data.len() as u64,
            }),
        }
    }
}

impl BlockBackend for MemBlock {
    fn len(&self) -> u64 {
        self.data.len() as u64
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        let r = self.range(offset, buf.len())?;
        buf.copy_from_slice(&self.data[r]);
        Ok(())
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<(), BlockError> {
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        let r = self.range(offset, buf.len())?;
        self.data[r].copy_from_slice(buf);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        Ok(())
    }
}

/// A parsed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Read `len` bytes from byte `offset` into the writable data.
    Read {
        /// Byte offset on the disk.
        offset: u64,
        /// Data length (a multiple of 512).
        len: u32,
    },
    /// Write `len` bytes of readable data at byte `offset`.
    Write {
        /// Byte offset on the disk.
        offset: u64,
        /// Data length (a multiple of 512).
        len: u32,
    },
    /// Flush.
    Flush,
    /// Write up to 20 bytes of id string into `len` writable data bytes.
    GetId {
        /// Room for the id.
        len: u32,
    },
}

/// Why a request fails (the guest sees the status byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The chain has no room for a header or status byte.
    #[error("request chain too short: {readable} readable, {writable} writable bytes")]
    Malformed {
        /// Readable bytes.
        readable: u32,
        /// Writable bytes.
        writable: u32,
    },
    /// A data length that is not a multiple of 512.
    #[error("data length {0} is not a multiple of 512")]
    Unaligned(u32),
    /// Sectors past the end of the disk.
    #[error("sector {sector} + {len} bytes is past the end of the disk")]
    OutOfRange {
        /// The first sector.
        sector: u64,
        /// The data length.
        len: u32,
    },
    /// A write to a read-only disk.
    #[error("write to a read-only disk")]
    ReadOnly,
    /// An unknown request type.
    #[error("unsupported request type {0}")]
    Unsupported(u32),
}

impl RequestError {
    fn status(self) -> u8 {
        match self {
            RequestError::Unsupported(_) => VIRTIO_BLK_S_UNSUPP,
            _ => VIRTIO_BLK_S_IOERR,
        }
    }
}

/// Parses and validates the request in `chain` against a disk of
/// `capacity` bytes.
pub fn parse_request<M: GuestMemory + ?Sized>(
    mem: &M,
    chain: &DescChain,
    capacity: u64,
    read_only: bool,
) -> Result<Request, RequestError> {
    let readable = chain.readable_len();
    let writable = chain.writable_len();
    let malformed = RequestError::Malformed { readable, writable };
    if readable < 16 || writable < 1 {
        return Err(malformed);
    }
    let mut hdr = [0u8; 16];
    if chain.read_at(mem, 0, &mut hdr) != Ok(16) {
        return Err(malformed);
    }
    let ty = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
    let sector = u64::from_le_bytes([
        hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13], hdr[14], hdr[15],
    ]);
    let data = |len: u32| -> Result<u64, RequestError> {
        if u64::from(len) % SECTOR_SIZE != 0 {
            return Err(RequestError::Unaligned(len));
        }
        let oob = RequestError::OutOfRange { sector, len };
        let offset = sector.checked_mul(SECTOR_SIZE).ok_or(oob)?;
        let end = offset.checked_add(u64::from(len)).ok_or(oob)?;
        if end > capacity {
            return Err(oob);
        }
        Ok(offset)
    };
    match ty {
        VIRTIO_BLK_T_IN => {
            let len = writable - 1;
            Ok(Request::Read {
                offset: data(len)?,
                len,
            })
        }
        VIRTIO_BLK_T_OUT => {
            if read_only {
                return Err(RequestError::ReadOnly);
            }
            let len = readable - 16;
            Ok(Request::Write {
                offset: data(len)?,
                len,
            })
        }
        VIRTIO_BLK_T_FLUSH => Ok(Request::Flush),
        VIRTIO_BLK_T_GET_ID => Ok(Request::GetId { len: writable - 1 }),
        other => Err(RequestError::Unsupported(other)),
    }
}

/// Counters for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlkStats {
    /// Requests completed with `VIRTIO_BLK_S_OK`.
    pub ok: u64,
    /// Requests that failed (bad request or backend error).
    pub failed: u64,
    /// The last failure, if it was a bad request.
    pub last_error: Option<RequestError>,
}

/// The virtio-blk device model.
#[derive(Debug)]
pub struct Blk<B> {
    backend: B,
    id: [u8; ID_LEN],
    chain: DescChain,
    bounce: Vec<u8>,
    stats: BlkStats,
}

impl<B: BlockBackend> Blk<B> {
    /// A disk over `backend` with id string "vfsync".
    pub fn new(backend: B) -> Blk<B> {
        let mut id = [0u8; ID_LEN];
        id[..6].copy_from_slice(b"vfsync");
        Blk {
            backend,
            id,
            chain: DescChain::new(),
            bounce: vec![0; BOUNCE_SIZE],
            stats: BlkStats::default(),
        }
    }

    /// Sets the `GET_ID` string (truncated to 20 bytes; NUL-padded).
    pub fn set_id(&mut self, id: &[u8]) {
        self.id = [0; ID_LEN];
        let n = id.len().min(ID_LEN);
        self.id[..n].copy_from_slice(&id[..n]);
    }

    /// The storage.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The storage, mutably.
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    /// Counters.
    pub fn stats(&self) -> BlkStats {
        self.stats
    }

    /// The disk size in bytes as the guest sees it (whole sectors).
    pub fn capacity(&self) -> u64 {
        self.backend.len() / SECTOR_SIZE * SECTOR_SIZE
    }

    fn config(&self) -> [u8; 24] {
        let mut c = [0u8; 24];
        c[0..8].copy_from_slice(&(self.capacity() / SECTOR_SIZE).to_le_bytes());
        c[8..12].copy_from_slice(&SIZE_MAX.to_le_bytes());
        c[12..16].copy_from_slice(&SEG_MAX.to_le_bytes());
        c[20..24].copy_from_slice(&(SECTOR_SIZE as u32).to_le_bytes());
        c
    }

    /// Executes a parsed request; returns the data bytes written to the
    /// guest and the status.
    fn execute<M: GuestMemory + ?Sized>(&mut self, mem: &mut M, req: Request) -> (u32, u8) {
        let chain = &self.chain;
        let bounce = &mut self.bounce[..];
        match req {
            Request::Read { offset, len } => {
                let mut done = 0u32;
                while done < len {
                    let n = ((len - done) as usize).min(bounce.len());
                    if self
                        .backend
                        .read_at(offset + u64::from(done), &mut bounce[..n])
                        .is_err()
                    {
                        return (done, VIRTIO_BLK_S_IOERR);
                    }
                    if chain.write_at(mem, u64::from(done), &bounce[..n]) != Ok(n) {
                        return (done, VIRTIO_BLK_S_IOERR);
                    }
                    done += n as u32;
                }
                (len, VIRTIO_BLK_S_OK)
            }
            Request::Write { offset, len } => {
                let mut done = 0u32;
                while done < len {
                    let n = ((len - done) as usize).min(bounce.len());
                    if chain.read_at(mem, 16 + u64::from(done), &mut bounce[..n]) != Ok(n) {
                        return (0, VIRTIO_BLK_S_IOERR);
                    }
                    if self
                        .backend
                        .write_at(offset + u64::from(done), &bounce[..n])
                        .is_err()
                    {
                        return (0, VIRTIO_BLK_S_IOERR);
                    }
                    done += n as u32;
                }
                (0, VIRTIO_BLK_S_OK)
            }
            Request::Flush => match self.backend.flush() {
                Ok(()) => (0, VIRTIO_BLK_S_OK),
                Err(_) => (0, VIRTIO_BLK_S_IOERR),
            },
            Request::GetId { len } => {
                let n = (len as usize).min(ID_LEN);
                match chain.write_at(mem, 0, &self.id[..n]) {
                    Ok(k) if k == n => (n as u32, VIRTIO_BLK_S_OK),
                    _ => (0, VIRTIO_BLK_S_IOERR),
                }
            }
        }
    }
}

impl<B: BlockBackend> VirtioDevice for Blk<B> {
    fn device_id(&self) -> u32 {
        DEVICE_ID
    }

    fn features(&self) -> u64 {
        let ro = if self.backend.read_only() {
            VIRTIO_BLK_F_RO
        } else {
            0
        };
        VIRTIO_BLK_F_SIZE_MAX
            | VIRTIO_BLK_F_SEG_MAX
            | VIRTIO_BLK_F_BLK_SIZE
            | VIRTIO_BLK_F_FLUSH
            | ro
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        read_config_bytes(&self.config(), offset, data);
    }

    fn reset(&mut self) {}

    fn process<M: GuestMemory + ?Sized>(
        &mut self,
        queues: &mut [Queue],
        notified: u64,
        mem: &mut M,
    ) -> Result<(), QueueError> {
        let Some(q) = queues.get_mut(0) else {
            return Ok(());
        };
        if notified & 1 == 0 {
            return Ok(());
        }
        let capacity = self.capacity();
        let read_only = self.backend.read_only();
        while q.next_request(mem, &mut self.chain)? {
            let (written, status) = match parse_request(mem, &self.chain, capacity, read_only) {
                Ok(req) => self.execute(mem, req),
                Err(e) => {
                    self.stats.last_error = Some(e);
                    (0, e.status())
                }
            };
            if status == VIRTIO_BLK_S_OK {
                self.stats.ok += 1;
            } else {
                self.stats.failed += 1;
            }
            let total = if self.chain.writable_len() >= 1 {
                // The status byte is the last writable byte.
                let at = u64::from(self.chain.writable_len() - 1);
                if self.chain.write_at(mem, at, &[status]) == Ok(1) {
                    written + 1
                } else {
                    written
                }
            } else {
                0
            };
            q.add_used(mem, self.chain.head(), total)?;
        }
        Ok(())
    }
}
