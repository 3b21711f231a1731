//! The host-target interface (HTIF) of spike and the RISC-V test suites: a
//! `tohost` and a `fromhost` 64-bit word. This device sees them as one window:
//! `tohost` at offset 0, `fromhost` at offset 8 (the board maps the two
//! symbols' addresses onto those offsets).
//!
//! A write to tohost is `dev << 56 | cmd << 48 | payload`:
//! - device 0, command 0, odd payload: exit with status `payload >> 1`;
//! - device 1, command 1: write the byte `payload & 0xff` to the console, and
//!   acknowledge with `fromhost = 1 << 56 | 1 << 48 | 0x100 | byte`.
//!
//! Everything else is recorded as [`HtifEvent::Unsupported`]. After acting,
//! tohost reads 0 again. A 32-bit hart writes tohost in two halves, low then
//! high: the device acts when the high half completes the value (or on a
//! single 8-byte write).

use crate::MmioDevice;

/// Console output buffered by the device is capped at this many bytes
/// between two [`Htif::take_output`] calls (extra bytes are dropped).
pub const MAX_BUFFERED_OUTPUT: usize = 1 << 20;

/// What the guest asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HtifEvent {
    /// Exit with this status (0 = pass).
    Exit(u64),
    /// A command this device does not implement (the raw tohost value).
    Unsupported(u64),
}

/// The HTIF device.
#[derive(Clone, Debug, Default)]
pub struct Htif {
    tohost: u64,
    fromhost: u64,
    out: Vec<u8>,
    event: Option<HtifEvent>,
}

impl Htif {
    /// A device with both words zero.
    pub fn new() -> Self {
        Self::default()
    }
    /// Console bytes written since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
    /// The first exit or unsupported request since the last call.
    pub fn take_event(&mut self) -> Option<HtifEvent> {
        self.event.take()
    }
    /// Whether an event waits to be taken.
    pub fn has_event(&self) -> bool {
        self.event.is_some()
    }

    fn command(&mut self, v: u64) {
        if v == 0 {
            return;
        }
        let dev = v >> 56;
        let cmd = (v >> 48) & 0xff;
        let payload = v & 0xffff_ffff_ffff;
        match (dev, cmd) {
            (0, 0) if payload & 1 == 1 => self.set_event(HtifEvent::Exit(payload >> 1)),
            (1, 1) => {
                if self.out.len() < MAX_BUFFERED_OUTPUT {
                    self.out.push(payload as u8);
                }
                self.fromhost = (1 << 56) | (1 << 48) | 0x100 | (payload & 0xff);
            }
            _ => self.set_event(HtifEvent::Unsupported(v)),
        }
        self.tohost = 0;
    }

    fn set_event(&mut self, e: HtifEvent) {
        if self.event.is_none() {
            self.event = Some(e);
        }
    }
}

impl MmioDevice for Htif {
    fn read(&mut self, offset: u64, size: u8) -> Option<u64> {
        let word = match offset & !7 {
            0 => self.tohost,
            8 => self.fromhost,
            _ => return None,
        };
        match (offset & 7, size) {
            (0, 8) => Some(word),
            (0, 4) => Some(word & 0xffff_ffff),
            (4, 4) => Some(word >> 32),
            _ => None,
        }
    }

    fn write(&mut self, offset: u64, size: u8, value: u64) -> bool {
        match (offset, size) {
            (0, 8) => self.command(value),
            (0, 4) => self.tohost = (self.tohost & !0xffff_ffff) | (value & 0xffff_ffff),
            (4, 4) => {
                let v = (self.tohost & 0xffff_ffff) | (value << 32);
                self.command(v);
            }
            (8, 8) => self.fromhost = value,
            (8, 4) => self.fromhost = (self.fromhost & !0xffff_ffff) | (value & 0xffff_ffff),
            (12, 4) => self.fromhost = (self.fromhost & 0xffff_ffff) | (value << 32),
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        let mut h = Htif::new();
        assert!(h.write(0, 8, 1));
        assert_eq!(h.take_event(), Some(HtifEvent::Exit(0)));
        assert!(h.write(0, 8, (7 << 1) | 1));
        assert_eq!(h.take_event(), Some(HtifEvent::Exit(7)));
        assert_eq!(h.read(0, 8), Some(0));
    }

    #[test]
    fn halves_act_on_the_high_write() {
        let mut h = Htif::new();
        // putchar('A') from a 32-bit hart: low half first.
        assert!(h.write(0, 4, b'A' as u64));
        assert_eq!(h.take_event(), None);
        assert!(h.take_output().is_empty());
        assert!(h.write(4, 4, 0x0101_0000));
        assert_eq!(h.take_output(), b"A");
        assert_eq!(h.read(8, 8), Some((1 << 56) | (1 << 48) | 0x100 | 0x41));
        assert!(h.write(8, 8, 0));
        assert_eq!(h.read(12, 4), Some(0));
    }

    #[test]
    fn unsupported_and_bad_offsets() {
        let mut h = Htif::new();
        assert!(h.write(0, 8, 0x8000_1000)); // a syscall block pointer (even payload)
        assert_eq!(h.take_event(), Some(HtifEvent::Unsupported(0x8000_1000)));
        assert!(!h.write(2, 2, 0));
        assert_eq!(h.read(16, 8), None);
        assert_eq!(h.read(1, 4), None);
    }
}
