//! Guest physical memory as devices see it: a bounds-checked access trait
//! keyed by a [`GuestAddress`] newtype.
//!
//! Every device that does DMA (the virtqueues) reaches guest RAM only through
//! [`GuestMemory`]. An access that leaves RAM is an error carrying the bad
//! address, never a host panic and never an access outside the region.
//!
//! The trait is deliberately small: an implementation supplies
//! [`GuestMemory::read`], [`GuestMemory::write`] and
//! [`GuestMemory::check_range`]; the little-endian object helpers are
//! provided. [`RamRegion`] is a plain implementation (a base address and a
//! boxed byte slice) for tests and for a board that keeps RAM of its own.

use thiserror::Error;

/// A guest physical address. There is deliberately no `+`/`-`: arithmetic
/// goes through the checked methods, so an overflow is a value, not a wrap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GuestAddress(pub u64);

impl GuestAddress {
    /// The raw address.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// `self + offset`, or `None` on overflow.
    pub const fn checked_add(self, offset: u64) -> Option<GuestAddress> {
        match self.0.checked_add(offset) {
            Some(a) => Some(GuestAddress(a)),
            None => None,
        }
    }

    /// `self - other` as a byte offset, or `None` if `other > self`.
    pub const fn checked_offset_from(self, other: GuestAddress) -> Option<u64> {
        self.0.checked_sub(other.0)
    }

    /// Whether the address is a multiple of `align` (a power of two).
    pub const fn is_aligned(self, align: u64) -> bool {
        align.is_power_of_two() && self.0 & (align - 1) == 0
    }
}

impl std::fmt::Display for GuestAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// A failed guest memory access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MemoryError {
    /// `len` bytes at `addr` are not all inside guest RAM.
    #[error("guest access of {len} bytes at {addr} is outside guest RAM")]
    OutOfRange {
        /// The first byte of the access.
        addr: GuestAddress,
        /// The length of the access.
        len: u64,
    },
    /// `addr + len` overflows the 64-bit address space.
    #[error("guest access of {len} bytes at {addr} overflows the address space")]
    Overflow {
        /// The first byte of the access.
        addr: GuestAddress,
        /// The length of the access.
        len: u64,
    },
}

/// The result of a guest memory access.
pub type Result<T> = std::result::Result<T, MemoryError>;

/// Bounds-checked access to guest physical memory.
///
/// An access either happens completely or not at all: implementations must
/// check the whole range before touching any byte.
pub trait GuestMemory {
    /// Fills `buf` from guest memory at `addr`.
    fn read(&self, addr: GuestAddress, buf: &mut [u8]) -> Result<()>;

    /// Writes `buf` to guest memory at `addr`.
    fn write(&mut self, addr: GuestAddress, buf: &[u8]) -> Result<()>;

    /// `Ok` if `len` bytes at `addr` are all guest RAM (a zero-length range
    /// is checked as its start address being inside or at the end of RAM).
    fn check_range(&self, addr: GuestAddress, len: u64) -> Result<()>;

    /// Reads a little-endian `u16`.
    fn read_u16(&self, addr: GuestAddress) -> Result<u16> {
        let mut b = [0; 2];
        self.read(addr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// Reads a little-endian `u32`.
    fn read_u32(&self, addr: GuestAddress) -> Result<u32> {
        let mut b = [0; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Reads a little-endian `u64`.
    fn read_u64(&self, addr: GuestAddress) -> Result<u64> {
        let mut b = [0; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes a little-endian `u16`.
    fn write_u16(&mut self, addr: GuestAddress, v: u16) -> Result<()> {
        self.write(addr, &v.to_le_bytes())
    }

    /// Writes a little-endian `u32`.
    fn write_u32(&mut self, addr: GuestAddress, v: u32) -> Result<()> {
        self.write(addr, &v.to_le_bytes())
    }

    /// Writes a little-endian `u64`.
    fn write_u64(&mut self, addr: GuestAddress, v: u64) -> Result<()> {
        self.write(addr, &v.to_le_bytes())
    }
}

impl<M: GuestMemory + ?Sized> GuestMemory for &mut M {
    fn read(&self, addr: GuestAddress, buf: &mut [u8]) -> Result<()> {
        (**self).read(addr, buf)
    }
    fn write(&mut self, addr: GuestAddress, buf: &[u8]) -> Result<()> {
        (**self).write(addr, buf)
    }
    fn check_range(&self, addr: GuestAddress, len: u64) -> Result<()> {
        (**self).check_range(addr, len)
    }
}

/// One contiguous region of guest RAM: `size` bytes starting at `base`.
#[derive(Clone)]
pub struct RamRegion {
    base: GuestAddress,
    bytes: Box<[u8]>,
}

impl std::fmt::Debug for RamRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RamRegion")
            .field("base", &self.base)
            .field("size", &self.bytes.len())
            .finish()
    }
}

impl RamRegion {
    /// A zeroed region of `size` bytes at `base`, or `None` if the region
    /// would extend past the end of the 64-bit address space.
    pub fn new(base: GuestAddress, size: usize) -> Option<RamRegion> {
        base.checked_add(u64::try_from(size).ok()?)?;
        Some(RamRegion {
            base,
            bytes: vec![0; size].into_boxed_slice(),
        })
    }

    /// The first address of the region.
    pub fn base(&self) -> GuestAddress {
        self.base
    }

    /// The size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The whole region as bytes (for loaders and tests).
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// The whole region as mutable bytes (for loaders and tests).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    fn range(&self, addr: GuestAddress, len: u64) -> Result<std::ops::Range<usize>> {
        region_range(self.base, self.bytes.len(), addr, len)
    }
}

/// The index range of `len` bytes at `addr` in a region of `size` bytes at
/// `base`, checked.
fn region_range(
    base: GuestAddress,
    size: usize,
    addr: GuestAddress,
    len: u64,
) -> Result<std::ops::Range<usize>> {
    let end = addr
        .checked_add(len)
        .ok_or(MemoryError::Overflow { addr, len })?;
    let bad = MemoryError::OutOfRange { addr, len };
    let start = addr.checked_offset_from(base).ok_or(bad)?;
    let end = end.checked_offset_from(base).ok_or(bad)?;
    if end > size as u64 {
        return Err(bad);
    }
    // Both fit in usize: they are at most the slice length.
    Ok(start as usize..end as usize)
}

/// Guest RAM borrowed from its owner (e.g. the hart's RAM buffer) for the
/// duration of a device poll. It records the span of guest addresses
/// written, so the owner can invalidate anything it caches about those
/// bytes (decoded instructions, reservations).
#[derive(Debug)]
pub struct SliceMemory<'a> {
    base: GuestAddress,
    bytes: &'a mut [u8],
    dirty: Option<(u64, u64)>,
}

impl<'a> SliceMemory<'a> {
    /// `bytes` as guest RAM starting at `base`.
    pub fn new(base: GuestAddress, bytes: &'a mut [u8]) -> SliceMemory<'a> {
        SliceMemory {
            base,
            bytes,
            dirty: None,
        }
    }

    /// The smallest span `(first address, length)` covering every write so
    /// far, or `None` if nothing was written.
    pub fn dirty(&self) -> Option<(GuestAddress, u64)> {
        self.dirty.map(|(lo, hi)| (GuestAddress(lo), hi - lo))
    }
}

impl GuestMemory for SliceMemory<'_> {
    fn read(&self, addr: GuestAddress, buf: &mut [u8]) -> Result<()> {
        let r = region_range(self.base, self.bytes.len(), addr, buf.len() as u64)?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }

    fn write(&mut self, addr: GuestAddress, buf: &[u8]) -> Result<()> {
        let r = region_range(self.base, self.bytes.len(), addr, buf.len() as u64)?;
        self.bytes[r].copy_from_slice(buf);
        if !buf.is_empty() {
            // In range, so `addr + len` does not overflow.
            let (lo, hi) = (addr.0, addr.0 + buf.len() as u64);
            self.dirty = Some(match self.dirty {
                Some((a, b)) => (a.min(lo), b.max(hi)),
                None => (lo, hi),
            });
        }
        Ok(())
    }

    fn check_range(&self, addr: GuestAddress, len: u64) -> Result<()> {
        region_range(self.base, self.bytes.len(), addr, len).map(|_| ())
    }
}

impl GuestMemory for RamRegion {
    fn read(&self, addr: GuestAddress, buf: &mut [u8]) -> Result<()> {
        let r = self.range(addr, buf.len() as u64)?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }

    fn write(&mut self, addr: GuestAddress, buf: &[u8]) -> Result<()> {
        let r = self.range(addr, buf.len() as u64)?;
        self.bytes[r].copy_from_slice(buf);
        Ok(())
    }

    fn check_range(&self, addr: GuestAddress, len: u64) -> Result<()> {
        self.range(addr, len).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_arithmetic_is_checked() {
        assert_eq!(GuestAddress(5).checked_add(3), Some(GuestAddress(8)));
        assert_eq!(GuestAddress(u64::MAX).checked_add(1), None);
        assert_eq!(
            GuestAddress(8).checked_offset_from(GuestAddress(5)),
            Some(3)
        );
        assert_eq!(GuestAddress(5).checked_offset_from(GuestAddress(8)), None);
        assert!(GuestAddress(0x1000).is_aligned(16));
        assert!(!GuestAddress(0x1002).is_aligned(4));
        assert!(!GuestAddress(0x1000).is_aligned(3));
    }

    #[test]
    fn ram_region_reads_and_writes_inside() {
        let mut ram = RamRegion::new(GuestAddress(0x8000_0000), 0x100).unwrap();
        ram.write_u32(GuestAddress(0x8000_0010), 0xdead_beef)
            .unwrap();
        assert_eq!(
            ram.read_u32(GuestAddress(0x8000_0010)).unwrap(),
            0xdead_beef
        );
        assert_eq!(ram.read_u16(GuestAddress(0x8000_0012)).unwrap(), 0xdead);
        ram.write_u64(GuestAddress(0x8000_00f8), u64::MAX).unwrap();
        assert_eq!(ram.read_u64(GuestAddress(0x8000_00f8)).unwrap(), u64::MAX);
        assert_eq!(ram.as_slice()[0x10], 0xef);
        ram.check_range(GuestAddress(0x8000_0100), 0).unwrap();
    }

    #[test]
    fn ram_region_rejects_outside_and_overflow() {
        let mut ram = RamRegion::new(GuestAddress(0x1000), 0x100).unwrap();
        let below = GuestAddress(0xfff);
        assert_eq!(
            ram.read_u16(below),
            Err(MemoryError::OutOfRange {
                addr: below,
                len: 2
            })
        );
        let straddle = GuestAddress(0x10fe);
        assert_eq!(
            ram.write_u32(straddle, 1),
            Err(MemoryError::OutOfRange {
                addr: straddle,
                len: 4
            })
        );
        // The failed write touched nothing.
        assert_eq!(&ram.as_slice()[0xfe..], &[0, 0]);
        let top = GuestAddress(u64::MAX - 1);
        assert_eq!(
            ram.read_u32(top),
            Err(MemoryError::Overflow { addr: top, len: 4 })
        );
        assert!(ram.check_range(GuestAddress(0x1000), 0x101).is_err());
        assert!(RamRegion::new(GuestAddress(u64::MAX), 2).is_none());
    }

    #[test]
    fn slice_memory_checks_and_tracks_writes() {
        let mut backing = vec![0u8; 0x100];
        let mut m = SliceMemory::new(GuestAddress(0x1000), &mut backing);
        assert_eq!(m.dirty(), None);
        m.write_u32(GuestAddress(0x1010), 7).unwrap();
        m.write_u16(GuestAddress(0x1080), 9).unwrap();
        assert_eq!(m.dirty(), Some((GuestAddress(0x1010), 0x72)));
        assert_eq!(m.read_u32(GuestAddress(0x1010)).unwrap(), 7);
        assert!(m.write_u32(GuestAddress(0x10fe), 1).is_err());
        assert!(m.read_u16(GuestAddress(0xfff)).is_err());
        // A failed write leaves the dirty span alone.
        assert_eq!(m.dirty(), Some((GuestAddress(0x1010), 0x72)));
        assert_eq!(backing[0x80], 9);
    }
}
