//! The devices of the vfsync machine: CLINT, PLIC, HTIF and virtio-mmio with
//! its console, block, 9p and entropy devices.
//!
//! Devices have no I/O of their own: host services (console, block storage,
//! the 9p file system, clock, entropy) come in through traits, so the same
//! models run natively and in the browser.

pub mod clint;
pub mod htif;
pub mod memory;
pub mod p9;
pub mod plic;
pub mod virtio;

/// A device's register window as the bus sees it. Offsets are relative to the
/// start of the window; `size` is 1, 2, 4 or 8 bytes.
pub trait MmioDevice {
    /// Reads `size` bytes at `offset`, or `None` for an access the device
    /// rejects (the bus turns that into an access fault).
    fn read(&mut self, offset: u64, size: u8) -> Option<u64>;
    /// Writes the low `size` bytes of `value` at `offset`; `false` for an
    /// access the device rejects.
    fn write(&mut self, offset: u64, size: u8, value: u64) -> bool;
}
