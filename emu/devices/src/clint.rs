//! The core-local interruptor (CLINT) of one hart, with spike's register map:
//! `msip` at 0x0 (4 bytes), `mtimecmp` at 0x4000 (8 bytes), `mtime` at 0xbff8
//! (8 bytes). 4-byte halves of the 64-bit registers are accepted.
//!
//! The device keeps no clock of its own: the board sets [`Clint::set_mtime`]
//! from its time source and reads [`Clint::mtip`] / [`Clint::msip`] to drive
//! the hart's MTIP/MSIP lines. A guest write of `mtime` is recorded and
//! reported by [`Clint::take_mtime_write`] so the board can adopt it.

use crate::MmioDevice;

/// Size of the CLINT register window.
pub const CLINT_SIZE: u64 = 0x10000;
const MSIP: u64 = 0x0;
const MTIMECMP: u64 = 0x4000;
const MTIME: u64 = 0xbff8;

/// One hart's CLINT.
#[derive(Clone, Debug)]
pub struct Clint {
    msip: bool,
    mtimecmp: u64,
    mtime: u64,
    mtime_written: Option<u64>,
    changed: bool,
}

impl Default for Clint {
    fn default() -> Self {
        Clint {
            msip: false,
            mtimecmp: u64::MAX,
            mtime: 0,
            mtime_written: None,
            changed: false,
        }
    }
}

fn merge(old: u64, off_in_reg: u64, size: u8, value: u64) -> Option<u64> {
    match (off_in_reg, size) {
        (0, 8) => Some(value),
        (0, 4) => Some((old & !0xffff_ffff) | (value & 0xffff_ffff)),
        (4, 4) => Some((old & 0xffff_ffff) | (value << 32)),
        _ => None,
    }
}

fn extract(v: u64, off_in_reg: u64, size: u8) -> Option<u64> {
    match (off_in_reg, size) {
        (0, 8) => Some(v),
        (0, 4) => Some(v & 0xffff_ffff),
        (4, 4) => Some(v >> 32),
        _ => None,
    }
}

impl Clint {
    /// A CLINT with msip clear and mtimecmp at its maximum (no timer interrupt).
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets mtime (the board's clock).
    pub fn set_mtime(&mut self, t: u64) {
        self.mtime = t;
    }
    /// The current mtime.
    pub fn mtime(&self) -> u64 {
        self.mtime
    }
    /// The current mtimecmp.
    pub fn mtimecmp(&self) -> u64 {
        self.mtimecmp
    }
    /// The machine timer interrupt line: mtime >= mtimecmp.
    pub fn mtip(&self) -> bool {
        self.mtime >= self.mtimecmp
    }
    /// The machine software interrupt line.
    pub fn msip(&self) -> bool {
        self.msip
    }
    /// A value the guest wrote to mtime since the last call.
    pub fn take_mtime_write(&mut self) -> Option<u64> {
        self.mtime_written.take()
    }
    /// Whether a register that drives a line changed since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }
}

impl MmioDevice for Clint {
    fn read(&mut self, offset: u64, size: u8) -> Option<u64> {
        match offset {
            MSIP if size == 4 => Some(self.msip as u64),
            MTIMECMP..=0x4007 => extract(self.mtimecmp, offset - MTIMECMP, size),
            MTIME..=0xbfff => extract(self.mtime, offset - MTIME, size),
            _ if offset < CLINT_SIZE && offset % size.max(1) as u64 == 0 => Some(0),
            _ => None,
        }
    }

    fn write(&mut self, offset: u64, size: u8, value: u64) -> bool {
        match offset {
            MSIP if size == 4 => {
                self.msip = value & 1 != 0;
                self.changed = true;
                true
            }
            MTIMECMP..=0x4007 => match merge(self.mtimecmp, offset - MTIMECMP, size, value) {
                Some(v) => {
                    self.mtimecmp = v;
                    self.changed = true;
                    true
                }
                None => false,
            },
            MTIME..=0xbfff => match merge(self.mtime, offset - MTIME, size, value) {
                Some(v) => {
                    self.mtime = v;
                    self.mtime_written = Some(v);
                    self.changed = true;
                    true
                }
                None => false,
            },
            _ if offset < CLINT_SIZE => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_compare_and_halves() {
        let mut c = Clint::new();
        assert!(!c.mtip());
        assert!(c.write(MTIMECMP, 4, 100));
        assert!(c.write(MTIMECMP + 4, 4, 0));
        assert_eq!(c.read(MTIMECMP, 8), Some(100));
        assert!(c.take_changed());
        c.set_mtime(99);
        assert!(!c.mtip());
        c.set_mtime(100);
        assert!(c.mtip());
        assert_eq!(c.read(MTIME + 4, 4), Some(0));
        assert_eq!(c.read(MTIME, 4), Some(100));
    }

    #[test]
    fn msip_and_bad_accesses() {
        let mut c = Clint::new();
        assert!(c.write(MSIP, 4, 1));
        assert!(c.msip());
        assert_eq!(c.read(MSIP, 4), Some(1));
        assert!(c.write(MSIP, 4, 2));
        assert!(!c.msip());
        assert_eq!(c.read(MTIMECMP + 2, 4), None);
        assert!(!c.write(MTIMECMP + 1, 1, 0));
        assert_eq!(c.read(CLINT_SIZE, 4), None);
    }

    #[test]
    fn guest_mtime_write_is_reported() {
        let mut c = Clint::new();
        assert!(c.write(MTIME, 8, 1234));
        assert_eq!(c.take_mtime_write(), Some(1234));
        assert_eq!(c.take_mtime_write(), None);
    }
}
