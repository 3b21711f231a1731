//! The device side of a split virtqueue (virtio 1.2 section 2.7).
//!
//! Everything in the rings comes from the guest and is untrusted. A queue
//! error is one of two kinds:
//!
//! - a bad *descriptor chain* (a loop, a chain longer than the queue, an
//!   index or buffer outside the table or RAM, a nested indirect table, a
//!   readable descriptor after a writable one, a total length over 2^32 − 1):
//!   the request fails alone. [`Queue::next_request`] returns such a chain to
//!   the used ring with 0 bytes written, counts it in [`QueueStats`] and goes
//!   on with the next one;
//! - a bad *queue* (its rings outside RAM, an avail index more than the queue
//!   size ahead, a head index outside the table): [`QueueError`] is returned
//!   and the transport sets `DEVICE_NEEDS_RESET` (section 2.1.2).
//!
//! A chain is validated once, when it is popped, into a [`DescChain`] (a list
//! of checked guest segments); the device then executes against that. The
//! segment list is reused, so the steady state allocates nothing.
//!
//! Memory ordering: we are single-threaded with the guest, so the spec's
//! barriers reduce to ordering the accesses: the avail index is read before
//! the ring entries and descriptors it publishes; a used element is written
//! before the used index that publishes it; the driver's event index is read
//! after the used index is written.

use std::num::Wrapping;

use thiserror::Error;

use crate::memory::{GuestAddress, GuestMemory, MemoryError};

/// Descriptor flag: the chain continues at `next`.
pub const VIRTQ_DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the buffer is device-writable.
pub const VIRTQ_DESC_F_WRITE: u16 = 2;
/// Descriptor flag: the buffer is a table of indirect descriptors.
pub const VIRTQ_DESC_F_INDIRECT: u16 = 4;
/// Avail ring flag: the driver asks for no used-buffer notifications.
pub const VIRTQ_AVAIL_F_NO_INTERRUPT: u16 = 1;
/// The largest split queue size (section 2.7: "Queue Size ... 32768").
pub const MAX_QUEUE_SIZE: u16 = 32768;
/// The most descriptors an indirect table may hold here. Linux sizes its
/// tables by the scatter-gather list (at most a few hundred entries).
pub const MAX_INDIRECT_DESCRIPTORS: u32 = 1024;

const DESC_SIZE: u64 = 16;

/// Why a descriptor chain was rejected. The request fails; the queue goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ChainError {
    /// A `next` field (or indirect index) points outside its table.
    #[error("descriptor index {index} is outside a table of {size}")]
    IndexOutOfRange {
        /// The bad index.
        index: u16,
        /// The table size.
        size: u32,
    },
    /// The chain visits more descriptors than its table holds: a loop.
    #[error("descriptor chain longer than its table of {limit} (a loop?)")]
    TooLong {
        /// The table size.
        limit: u32,
    },
    /// An indirect table inside an indirect table (2.7.5.3.1).
    #[error("nested indirect descriptor table")]
    NestedIndirect,
    /// An indirect descriptor that also has `NEXT` set (2.7.5.3.1).
    #[error("indirect descriptor with NEXT set")]
    IndirectWithNext,
    /// `VIRTQ_DESC_F_INDIRECT` without `VIRTIO_F_INDIRECT_DESC` negotiated.
    #[error("indirect descriptor but VIRTIO_F_INDIRECT_DESC was not negotiated")]
    IndirectNotNegotiated,
    /// An indirect table whose length is 0, not a multiple of 16, or over
    /// [`MAX_INDIRECT_DESCRIPTORS`] entries.
    #[error("indirect table of {len} bytes is empty, ragged or too large")]
    BadIndirectLength {
        /// The table length in bytes.
        len: u32,
    },
    /// A device-readable descriptor after a device-writable one (2.7.4.2).
    #[error("readable descriptor after a writable one")]
    WrongDirection,
    /// The readable or writable bytes add up past `u32::MAX`.
    #[error("descriptor chain length overflows 32 bits")]
    LengthOverflow,
    /// A buffer or table is not inside guest RAM.
    #[error("buffer outside guest RAM: {0}")]
    Memory(#[from] MemoryError),
}

/// A queue-level failure: the device needs a reset (2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum QueueError {
    /// The avail index moved more than the queue size past what was consumed.
    #[error("avail index {avail_idx} is more than {size} ahead of {next_avail}")]
    AvailIdxJump {
        /// The driver's avail index.
        avail_idx: u16,
        /// The next entry the device would consume.
        next_avail: u16,
        /// The queue size.
        size: u16,
    },
    /// An avail ring entry names a head outside the descriptor table.
    #[error("avail ring head {head} is outside a queue of {size}")]
    HeadOutOfRange {
        /// The bad head.
        head: u16,
        /// The queue size.
        size: u16,
    },
    /// The queue size is not a power of two in `1..=max`, or a ring is
    /// misaligned.
    #[error("queue size {size} (max {max}) or ring alignment is invalid")]
    BadLayout {
        /// The size the driver chose.
        size: u16,
        /// The device's maximum.
        max: u16,
    },
    /// A ring is not inside guest RAM.
    #[error("virtqueue ring outside guest RAM: {0}")]
    Memory(#[from] MemoryError),
}

/// One validated guest buffer of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Guest address of the first byte.
    pub addr: GuestAddress,
    /// Length in bytes.
    pub len: u32,
}

/// A validated descriptor chain: readable segments, then writable ones.
/// Every segment was checked to lie inside guest RAM when the chain was
/// parsed.
#[derive(Debug, Clone, Default)]
pub struct DescChain {
    head: u16,
    segments: Vec<Segment>,
    first_writable: usize,
    readable_len: u32,
    writable_len: u32,
}

impl DescChain {
    /// An empty chain; its segment list grows to the largest chain seen and
    /// is then reused.
    pub fn new() -> DescChain {
        DescChain::default()
    }

    /// The head descriptor index (what goes into the used ring).
    pub fn head(&self) -> u16 {
        self.head
    }

    /// Total device-readable bytes.
    pub fn readable_len(&self) -> u32 {
        self.readable_len
    }

    /// Total device-writable bytes.
    pub fn writable_len(&self) -> u32 {
        self.writable_len
    }

    /// The readable segments, in order.
    pub fn readable(&self) -> &[Segment] {
        &self.segments[..self.first_writable]
    }

    /// The writable segments, in order.
    pub fn writable(&self) -> &[Segment] {
        &self.segments[self.first_writable..]
    }

    fn clear(&mut self, head: u16) {
        self.head = head;
        self.segments.clear();
        self.first_writable = 0;
        self.readable_len = 0;
        self.writable_len = 0;
    }

    /// Copies readable bytes starting `offset` bytes into the readable part
    /// into `buf`; returns how many were copied (fewer at the end).
    pub fn read_at<M: GuestMemory + ?Sized>(
        &self,
        mem: &M,
        mut offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, MemoryError> {
        let mut done = 0;
        for seg in self.readable() {
            if done == buf.len() {
                break;
            }
            let len = u64::from(seg.len);
            if offset >= len {
                offset -= len;
                continue;
            }
            let n = ((len - offset) as usize).min(buf.len() - done);
            let addr = seg.addr.checked_add(offset).ok_or(MemoryError::Overflow {
                addr: seg.addr,
                len: offset,
            })?;
            mem.read(addr, &mut buf[done..done + n])?;
            done += n;
            offset = 0;
        }
        Ok(done)
    }

    /// Copies `buf` into the writable part starting `offset` bytes in;
    /// returns how many bytes fitted.
    pub fn write_at<M: GuestMemory + ?Sized>(
        &self,
        mem: &mut M,
        mut offset: u64,
        buf: &[u8],
    ) -> Result<usize, MemoryError> {
        let mut done = 0;
        for seg in self.writable() {
            if done == buf.len() {
                break;
            }
            let len = u64::from(seg.len);
            if offset >= len {
                offset -= len;
                continue;
            }
            let n = ((len - offset) as usize).min(buf.len() - done);
            let addr = seg.addr.checked_add(offset).ok_or(MemoryError::Overflow {
                addr: seg.addr,
                len: offset,
            })?;
            mem.write(addr, &buf[done..done + n])?;
            done += n;
            offset = 0;
        }
        Ok(done)
    }

    /// Appends one descriptor's buffer, checking direction, RAM and length.
    fn push<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
        addr: u64,
        len: u32,
        writable: bool,
    ) -> Result<(), ChainError> {
        let addr = GuestAddress(addr);
        mem.check_range(addr, u64::from(len))?;
        if writable {
            self.writable_len = self
                .writable_len
                .checked_add(len)
                .ok_or(ChainError::LengthOverflow)?;
        } else {
            if self.writable_len != 0 || self.segments.len() > self.first_writable {
                return Err(ChainError::WrongDirection);
            }
            self.readable_len = self
                .readable_len
                .checked_add(len)
                .ok_or(ChainError::LengthOverflow)?;
            self.first_writable += 1;
        }
        self.segments.push(Segment { addr, len });
        Ok(())
    }
}

/// One raw descriptor as read from the guest.
#[derive(Debug, Clone, Copy)]
struct Desc {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

fn read_desc<M: GuestMemory + ?Sized>(
    mem: &M,
    table: GuestAddress,
    index: u16,
) -> Result<Desc, MemoryError> {
    let at = table
        .checked_add(u64::from(index) * DESC_SIZE)
        .ok_or(MemoryError::Overflow {
            addr: table,
            len: u64::from(index) * DESC_SIZE,
        })?;
    let mut b = [0u8; 16];
    mem.read(at, &mut b)?;
    Ok(Desc {
        addr: u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        len: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        flags: u16::from_le_bytes([b[12], b[13]]),
        next: u16::from_le_bytes([b[14], b[15]]),
    })
}

/// Counters of what went wrong on a queue (for tests and diagnostics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Chains rejected and returned with 0 bytes written.
    pub bad_chains: u64,
    /// The most recent chain error.
    pub last_chain_error: Option<ChainError>,
}

/// The device's view of one split virtqueue: the registers the driver set
/// through the transport and the device's ring positions.
#[derive(Debug, Clone)]
pub struct Queue {
    max_size: u16,
    size: u16,
    ready: bool,
    desc_table: GuestAddress,
    avail_ring: GuestAddress,
    used_ring: GuestAddress,
    indirect: bool,
    event_idx: bool,
    next_avail: Wrapping<u16>,
    next_used: Wrapping<u16>,
    /// The used index when the driver was last considered for a
    /// notification.
    signalled_used: Wrapping<u16>,
    /// Used entries added since then.
    added: u32,
    stats: QueueStats,
}

impl Queue {
    /// A queue of at most `max_size` entries (clamped to `1..=32768`), reset.
    pub fn new(max_size: u16) -> Queue {
        let max_size = max_size.clamp(1, MAX_QUEUE_SIZE);
        Queue {
            max_size,
            size: max_size,
            ready: false,
            desc_table: GuestAddress(0),
            avail_ring: GuestAddress(0),
            used_ring: GuestAddress(0),
            indirect: false,
            event_idx: false,
            next_avail: Wrapping(0),
            next_used: Wrapping(0),
            signalled_used: Wrapping(0),
            added: 0,
            stats: QueueStats::default(),
        }
    }

    /// Back to the state after [`Queue::new`] (a device reset).
    pub fn reset(&mut self) {
        *self = Queue::new(self.max_size);
    }

    /// The device's maximum size (`QueueNumMax`).
    pub fn max_size(&self) -> u16 {
        self.max_size
    }
    /// The size the driver chose (`QueueNum`).
    pub fn size(&self) -> u16 {
        self.size
    }
    /// Sets `QueueNum` (validated when the queue is made ready).
    pub fn set_size(&mut self, size: u16) {
        self.size = size;
    }
    /// `QueueReady`.
    pub fn ready(&self) -> bool {
        self.ready
    }
    /// The descriptor table address.
    pub fn desc_table(&self) -> GuestAddress {
        self.desc_table
    }
    /// The driver area (avail ring) address.
    pub fn avail_ring(&self) -> GuestAddress {
        self.avail_ring
    }
    /// The device area (used ring) address.
    pub fn used_ring(&self) -> GuestAddress {
        self.used_ring
    }
    /// Sets the descriptor table address.
    pub fn set_desc_table(&mut self, a: GuestAddress) {
        self.desc_table = a;
    }
    /// Sets the driver area (avail ring) address.
    pub fn set_avail_ring(&mut self, a: GuestAddress) {
        self.avail_ring = a;
    }
    /// Sets the device area (used ring) address.
    pub fn set_used_ring(&mut self, a: GuestAddress) {
        self.used_ring = a;
    }
    /// Error counters.
    pub fn stats(&self) -> QueueStats {
        self.stats
    }
    /// The next avail ring position the device will consume.
    pub fn next_avail(&self) -> u16 {
        self.next_avail.0
    }
    /// The used index the device has published.
    pub fn next_used(&self) -> u16 {
        self.next_used.0
    }

    /// Applies the negotiated ring features (`VIRTIO_F_INDIRECT_DESC`,
    /// `VIRTIO_F_EVENT_IDX`).
    pub fn set_features(&mut self, indirect: bool, event_idx: bool) {
        self.indirect = indirect;
        self.event_idx = event_idx;
    }

    /// Checks the layout (size a power of two within the maximum, rings
    /// aligned as section 2.7 requires) without touching memory.
    pub fn check_layout(&self) -> Result<(), QueueError> {
        let ok = self.size != 0
            && self.size <= self.max_size
            && self.size.is_power_of_two()
            && self.desc_table.is_aligned(16)
            && self.avail_ring.is_aligned(2)
            && self.used_ring.is_aligned(4);
        if ok {
            Ok(())
        } else {
            Err(QueueError::BadLayout {
                size: self.size,
                max: self.max_size,
            })
        }
    }

    /// Sets `QueueReady`. Making a queue ready validates its layout; on
    /// error it stays not ready.
    pub fn set_ready(&mut self, ready: bool) -> Result<(), QueueError> {
        if ready {
            self.check_layout()?;
        }
        self.ready = ready;
        Ok(())
    }

    /// Checks that all three rings lie in guest RAM.
    pub fn check_rings<M: GuestMemory + ?Sized>(&self, mem: &M) -> Result<(), QueueError> {
        let n = u64::from(self.size);
        mem.check_range(self.desc_table, n * DESC_SIZE)?;
        mem.check_range(self.avail_ring, 6 + 2 * n)?;
        mem.check_range(self.used_ring, 6 + 8 * n)?;
        Ok(())
    }

    /// Writes the device-owned fields of the used ring from the device's
    /// state: `flags` 0 (notifications wanted), `idx`, and with
    /// `VIRTIO_F_EVENT_IDX` `avail_event`. Done when a queue goes live, so a
    /// driver that did not zero the ring memory still sees consistent
    /// values.
    pub fn publish_device_area<M: GuestMemory + ?Sized>(
        &self,
        mem: &mut M,
    ) -> Result<(), QueueError> {
        if !self.ready {
            return Ok(());
        }
        mem.write_u16(self.used_ring, 0)?;
        let idx = self.ring_addr(self.used_ring, 2, 0)?;
        mem.write_u16(idx, self.next_used.0)?;
        if self.event_idx {
            let at = self.ring_addr(self.used_ring, 4, 8 * u64::from(self.size))?;
            mem.write_u16(at, self.next_avail.0)?;
        }
        Ok(())
    }

    fn avail_idx<M: GuestMemory + ?Sized>(&self, mem: &M) -> Result<Wrapping<u16>, QueueError> {
        let at = self.ring_addr(self.avail_ring, 2, 0)?;
        Ok(Wrapping(mem.read_u16(at)?))
    }

    /// `base + header + elem * i`, checked.
    fn ring_addr(
        &self,
        base: GuestAddress,
        header: u64,
        off: u64,
    ) -> Result<GuestAddress, QueueError> {
        base.checked_add(header + off)
            .ok_or(QueueError::Memory(MemoryError::Overflow {
                addr: base,
                len: header + off,
            }))
    }

    /// How many avail entries wait to be consumed (validated against the
    /// queue size).
    pub fn pending<M: GuestMemory + ?Sized>(&self, mem: &M) -> Result<u16, QueueError> {
        if !self.ready {
            return Ok(0);
        }
        let idx = self.avail_idx(mem)?;
        let n = (idx - self.next_avail).0;
        if n > self.size {
            return Err(QueueError::AvailIdxJump {
                avail_idx: idx.0,
                next_avail: self.next_avail.0,
                size: self.size,
            });
        }
        Ok(n)
    }

    /// Pops the next available chain into `chain`, validated. Bad chains are
    /// returned to the used ring with 0 bytes written and skipped. `Ok(false)`
    /// when the queue is empty or not ready; then, with `VIRTIO_F_EVENT_IDX`,
    /// `avail_event` is set so the driver notifies on its next buffer.
    pub fn next_request<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &mut M,
        chain: &mut DescChain,
    ) -> Result<bool, QueueError> {
        let mut pending = self.pending(mem)?;
        while pending > 0 {
            let slot = u64::from(self.next_avail.0 % self.size);
            let at = self.ring_addr(self.avail_ring, 4, 2 * slot)?;
            let head = mem.read_u16(at)?;
            if head >= self.size {
                return Err(QueueError::HeadOutOfRange {
                    head,
                    size: self.size,
                });
            }
            self.next_avail += 1;
            pending -= 1;
            match self.parse_chain(mem, head, chain) {
                Ok(()) => return Ok(true),
                Err(e) => {
                    self.stats.bad_chains += 1;
                    self.stats.last_chain_error = Some(e);
                    self.add_used(mem, head, 0)?;
                }
            }
        }
        if self.ready && self.event_idx {
            // avail_event sits after the used ring elements.
            let at = self.ring_addr(self.used_ring, 4, 8 * u64::from(self.size))?;
            mem.write_u16(at, self.next_avail.0)?;
        }
        Ok(false)
    }

    /// Walks and validates the chain starting at `head` (which is < size).
    fn parse_chain<M: GuestMemory + ?Sized>(
        &self,
        mem: &M,
        head: u16,
        chain: &mut DescChain,
    ) -> Result<(), ChainError> {
        chain.clear(head);
        let size = u32::from(self.size);
        let mut index = head;
        // A chain in the table visits each descriptor at most once.
        let mut ttl = size;
        loop {
            if ttl == 0 {
                return Err(ChainError::TooLong { limit: size });
            }
            ttl -= 1;
            let d = read_desc(mem, self.desc_table, index)?;
            if d.flags & VIRTQ_DESC_F_INDIRECT != 0 {
                if !self.indirect {
                    return Err(ChainError::IndirectNotNegotiated);
                }
                if d.flags & VIRTQ_DESC_F_NEXT != 0 {
                    return Err(ChainError::IndirectWithNext);
                }
                return self.parse_indirect(mem, d, chain);
            }
            chain.push(mem, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE != 0)?;
            if d.flags & VIRTQ_DESC_F_NEXT == 0 {
                return Ok(());
            }
            if u32::from(d.next) >= size {
                return Err(ChainError::IndexOutOfRange {
                    index: d.next,
                    size,
                });
            }
            index = d.next;
        }
    }

    /// Walks an indirect table (section 2.7.5.3). The write flag of the
    /// descriptor that points at the table is ignored, as the spec says.
    fn parse_indirect<M: GuestMemory + ?Sized>(
        &self,
        mem: &M,
        d: Desc,
        chain: &mut DescChain,
    ) -> Result<(), ChainError> {
        let n = d.len / DESC_SIZE as u32;
        if d.len == 0 || d.len % DESC_SIZE as u32 != 0 || n > MAX_INDIRECT_DESCRIPTORS {
            return Err(ChainError::BadIndirectLength { len: d.len });
        }
        let table = GuestAddress(d.addr);
        mem.check_range(table, u64::from(d.len))?;
        let mut index = 0u16;
        let mut ttl = n;
        loop {
            if ttl == 0 {
                return Err(ChainError::TooLong { limit: n });
            }
            ttl -= 1;
            let e = read_desc(mem, table, index)?;
            if e.flags & VIRTQ_DESC_F_INDIRECT != 0 {
                return Err(ChainError::NestedIndirect);
            }
            chain.push(mem, e.addr, e.len, e.flags & VIRTQ_DESC_F_WRITE != 0)?;
            if e.flags & VIRTQ_DESC_F_NEXT == 0 {
                return Ok(());
            }
            if u32::from(e.next) >= n {
                return Err(ChainError::IndexOutOfRange {
                    index: e.next,
                    size: n,
                });
            }
            index = e.next;
        }
    }

    /// Puts `head` on the used ring with `len` bytes written: the element
    /// first, then the index that publishes it. On a queue the driver has
    /// disabled (not ready) the buffer is dropped: there is no ring to put it
    /// on.
    pub fn add_used<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &mut M,
        head: u16,
        len: u32,
    ) -> Result<(), QueueError> {
        if !self.ready || self.size == 0 {
            return Ok(());
        }
        let slot = u64::from(self.next_used.0 % self.size);
        let at = self.ring_addr(self.used_ring, 4, 8 * slot)?;
        let mut elem = [0u8; 8];
        elem[..4].copy_from_slice(&u32::from(head).to_le_bytes());
        elem[4..].copy_from_slice(&len.to_le_bytes());
        mem.write(at, &elem)?;
        self.next_used += 1;
        let idx = self.ring_addr(self.used_ring, 2, 0)?;
        mem.write_u16(idx, self.next_used.0)?;
        self.added = self.added.saturating_add(1);
        Ok(())
    }

    /// Whether the driver wants a used-buffer notification for what was
    /// added since the last call (section 2.7.7.2: `used_event` with
    /// `VIRTIO_F_EVENT_IDX`, else the `NO_INTERRUPT` avail flag).
    pub fn needs_notification<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
    ) -> Result<bool, QueueError> {
        if self.added == 0 || !self.ready {
            return Ok(false);
        }
        let old = self.signalled_used;
        let new = self.next_used;
        let added = self.added;
        self.signalled_used = new;
        self.added = 0;
        if self.event_idx {
            // More than 2^16 entries since the last check: certainly crossed.
            if added >= 1 << 16 {
                return Ok(true);
            }
            let at = self.ring_addr(self.avail_ring, 4, 2 * u64::from(self.size))?;
            let used_event = Wrapping(mem.read_u16(at)?);
            // vring_need_event: the event index lies in (old, new].
            Ok((new - used_event - Wrapping(1)).0 < (new - old).0)
        } else {
            let flags = mem.read_u16(self.avail_ring)?;
            Ok(flags & VIRTQ_AVAIL_F_NO_INTERRUPT == 0)
        }
    }
}
