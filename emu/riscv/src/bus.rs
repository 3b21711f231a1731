//! The physical bus beyond RAM: MMIO devices. Only the slow path of the hart
//! (a TLB miss on a non-RAM page, or an access inside an MMIO overlay) calls
//! it, so a generic parameter (or a trait object inside it) is fine here.

/// The physical address space outside RAM, as the board wires it.
pub trait Bus {
    /// Reads `size` (1, 2, 4 or 8) bytes at physical address `paddr`;
    /// `None` raises an access fault.
    fn read(&mut self, paddr: u64, size: u8) -> Option<u64>;
    /// Writes the low `size` bytes of `value`; `false` raises an access fault.
    fn write(&mut self, paddr: u64, size: u8, value: u64) -> bool;
    /// Polled after every bus write: `true` makes [`crate::Hart::run`] return
    /// [`crate::Stop::Bus`] after the current instruction, so the board can act
    /// on a device's state change (an exit request, a new interrupt line level).
    fn take_stop(&mut self) -> bool {
        false
    }
}

/// A bus with nothing on it: every access faults.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoBus;

impl Bus for NoBus {
    fn read(&mut self, _paddr: u64, _size: u8) -> Option<u64> {
        None
    }
    fn write(&mut self, _paddr: u64, _size: u8, _value: u64) -> bool {
        false
    }
}
