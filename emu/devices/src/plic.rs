//! The platform-level interrupt controller (RISC-V PLIC specification 1.0.0).
//!
//! Sources `1..=num_sources` (at most [`MAX_SOURCES`]; source 0 means "no
//! interrupt"), [`PRIORITY_MAX`] + 1 priority levels, and two contexts:
//! context 0 is hart 0 in M-mode (it drives `mip.MEIP`) and context 1 is
//! hart 0 in S-mode (it drives `mip.SEIP`).
//!
//! Register layout (offsets in the MMIO window, all 32-bit registers):
//!
//! | offset | register |
//! |---|---|
//! | `0x000000 + 4*s` | priority of source `s` (source 0 reads 0) |
//! | `0x001000 + 4*w` | pending bits of sources `32*w .. 32*w+31` (read-only) |
//! | `0x002000 + 0x80*c + 4*w` | enable bits of context `c` |
//! | `0x200000 + 0x1000*c` | priority threshold of context `c` |
//! | `0x200004 + 0x1000*c` | claim (read) / complete (write) of context `c` |
//!
//! Every source is level-triggered. Its gateway forwards a request while the
//! line is high and the source is not in service: the pending bit follows the
//! line level (it is withdrawn if the line drops before a claim, so a device
//! the guest has already serviced raises no spurious interrupt). A claim
//! clears the pending bit and puts the source in service; while in service no
//! new request is forwarded. A completion ends service and, if the line is
//! still high, makes the source pending again.

use crate::MmioDevice;

/// The largest supported number of sources (ids `1..=63`).
pub const MAX_SOURCES: u32 = 63;
/// The highest priority; priorities are `0..=PRIORITY_MAX` and 0 never interrupts.
pub const PRIORITY_MAX: u32 = 7;
/// The number of contexts (hart 0 M-mode, hart 0 S-mode).
pub const NUM_CONTEXTS: usize = 2;
/// The context of hart 0 in M-mode.
pub const CONTEXT_M: usize = 0;
/// The context of hart 0 in S-mode.
pub const CONTEXT_S: usize = 1;
/// The conventional size of the PLIC's MMIO window.
pub const MMIO_SIZE: u64 = 0x400_0000;

const PENDING_BASE: u64 = 0x1000;
const ENABLE_BASE: u64 = 0x2000;
const ENABLE_STRIDE: u64 = 0x80;
const CONTEXT_BASE: u64 = 0x20_0000;
const CONTEXT_STRIDE: u64 = 0x1000;

/// A PLIC with up to 63 level-triggered sources and two contexts.
#[derive(Debug, Clone)]
pub struct Plic {
    num_sources: u32,
    /// Priority of each source; index 0 is unused.
    priority: [u32; MAX_SOURCES as usize + 1],
    /// Current line level of each source (bit `s`).
    level: u64,
    /// Pending bits as the gateways forwarded them (bit `s`).
    pending: u64,
    /// Sources claimed and not yet completed (bit `s`).
    in_service: u64,
    enable: [u64; NUM_CONTEXTS],
    threshold: [u32; NUM_CONTEXTS],
}

impl Plic {
    /// A PLIC with sources `1..=num_sources`, clamped to [`MAX_SOURCES`].
    /// Everything starts at zero: no priorities, enables or thresholds.
    pub fn new(num_sources: u32) -> Plic {
        Plic {
            num_sources: num_sources.min(MAX_SOURCES),
            priority: [0; MAX_SOURCES as usize + 1],
            level: 0,
            pending: 0,
            in_service: 0,
            enable: [0; NUM_CONTEXTS],
            threshold: [0; NUM_CONTEXTS],
        }
    }

    /// The number of sources (the device tree's `riscv,ndev`).
    pub fn num_sources(&self) -> u32 {
        self.num_sources
    }

    /// Mask of the bits of valid source ids.
    fn valid_mask(&self) -> u64 {
        // Bits 1..=num_sources; num_sources <= 63 so the shift is in range.
        ((1u64 << self.num_sources) - 1) << 1
    }

    /// Drives the interrupt line of `source`. Ids outside `1..=num_sources`
    /// are ignored.
    pub fn set_level(&mut self, source: u32, high: bool) {
        if source == 0 || source > self.num_sources {
            return;
        }
        let bit = 1u64 << source;
        if high {
            self.level |= bit;
            if self.in_service & bit == 0 {
                self.pending |= bit;
            }
        } else {
            self.level &= !bit;
            self.pending &= !bit;
        }
    }

    /// The highest-priority source that is pending, enabled for `ctx` and
    /// above its threshold (ties go to the lowest id), or 0.
    fn best(&self, ctx: usize) -> u32 {
        let mut cand = self.pending & self.enable[ctx] & self.valid_mask();
        let mut best = 0;
        let mut best_prio = self.threshold[ctx];
        while cand != 0 {
            let s = cand.trailing_zeros();
            cand &= cand - 1;
            let p = self.priority[s as usize];
            if p > best_prio {
                best = s;
                best_prio = p;
            }
        }
        best
    }

    /// Whether context `ctx` has an interrupt to take (false for an unknown
    /// context).
    pub fn context_pending(&self, ctx: usize) -> bool {
        ctx < NUM_CONTEXTS && self.best(ctx) != 0
    }

    /// The level of hart 0's `mip.MEIP` (context 0).
    pub fn meip(&self) -> bool {
        self.context_pending(CONTEXT_M)
    }

    /// The level of hart 0's `mip.SEIP` (context 1).
    pub fn seip(&self) -> bool {
        self.context_pending(CONTEXT_S)
    }

    /// Claims the best interrupt of `ctx` (what a read of its claim register
    /// does): returns its id, or 0 if there is none.
    pub fn claim(&mut self, ctx: usize) -> u32 {
        if ctx >= NUM_CONTEXTS {
            return 0;
        }
        let s = self.best(ctx);
        if s != 0 {
            let bit = 1u64 << s;
            self.pending &= !bit;
            self.in_service |= bit;
        }
        s
    }

    /// Completes `source` for `ctx` (what a write of its claim register does).
    /// A completion for a source not enabled in `ctx` is ignored, as the
    /// specification says.
    pub fn complete(&mut self, ctx: usize, source: u32) {
        if ctx >= NUM_CONTEXTS || source == 0 || source > self.num_sources {
            return;
        }
        let bit = 1u64 << source;
        if self.enable[ctx] & bit == 0 {
            return;
        }
        self.in_service &= !bit;
        if self.level & bit != 0 {
            self.pending |= bit;
        }
    }

    fn read_reg(&mut self, offset: u64) -> u32 {
        match offset {
            0..PENDING_BASE => {
                let s = offset / 4;
                if s >= 1 && s <= u64::from(self.num_sources) {
                    self.priority[s as usize]
                } else {
                    0
                }
            }
            PENDING_BASE..ENABLE_BASE => match offset - PENDING_BASE {
                0 => self.pending as u32,
                4 => (self.pending >> 32) as u32,
                _ => 0,
            },
            ENABLE_BASE..CONTEXT_BASE => {
                let rel = offset - ENABLE_BASE;
                let ctx = (rel / ENABLE_STRIDE) as usize;
                if ctx >= NUM_CONTEXTS {
                    return 0;
                }
                match rel % ENABLE_STRIDE {
                    0 => self.enable[ctx] as u32,
                    4 => (self.enable[ctx] >> 32) as u32,
                    _ => 0,
                }
            }
            _ => {
                let rel = offset - CONTEXT_BASE;
                let ctx = (rel / CONTEXT_STRIDE) as usize;
                if ctx >= NUM_CONTEXTS {
                    return 0;
                }
                match rel % CONTEXT_STRIDE {
                    0 => self.threshold[ctx],
                    4 => self.claim(ctx),
                    _ => 0,
                }
            }
        }
    }

    fn write_reg(&mut self, offset: u64, value: u32) {
        match offset {
            0..PENDING_BASE => {
                let s = offset / 4;
                if s >= 1 && s <= u64::from(self.num_sources) {
                    self.priority[s as usize] = value.min(PRIORITY_MAX);
                }
            }
            // Pending bits are read-only.
            PENDING_BASE..ENABLE_BASE => {}
            ENABLE_BASE..CONTEXT_BASE => {
                let rel = offset - ENABLE_BASE;
                let ctx = (rel / ENABLE_STRIDE) as usize;
                if ctx >= NUM_CONTEXTS {
                    return;
                }
                let e = &mut self.enable[ctx];
                match rel % ENABLE_STRIDE {
                    0 => *e = (*e & !0xffff_ffff) | u64::from(value),
                    4 => *e = (*e & 0xffff_ffff) | (u64::from(value) << 32),
                    _ => {}
                }
                *e &= ((1u64 << self.num_sources) - 1) << 1;
            }
            _ => {
                let rel = offset - CONTEXT_BASE;
                let ctx = (rel / CONTEXT_STRIDE) as usize;
                if ctx >= NUM_CONTEXTS {
                    return;
                }
                match rel % CONTEXT_STRIDE {
                    0 => self.threshold[ctx] = value.min(PRIORITY_MAX),
                    4 => self.complete(ctx, value),
                    _ => {}
                }
            }
        }
    }
}

impl MmioDevice for Plic {
    /// 32-bit aligned accesses only; anything else inside the window is
    /// rejected. Unimplemented registers read as zero and ignore writes.
    fn read(&mut self, offset: u64, size: u8) -> Option<u64> {
        if size != 4 || offset % 4 != 0 || offset >= MMIO_SIZE {
            return None;
        }
        Some(u64::from(self.read_reg(offset)))
    }

    fn write(&mut self, offset: u64, size: u8, value: u64) -> bool {
        if size != 4 || offset % 4 != 0 || offset >= MMIO_SIZE {
            return false;
        }
        self.write_reg(offset, value as u32);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: &mut Plic, off: u64, v: u32) {
        assert!(p.write(off, 4, u64::from(v)));
    }
    fn r(p: &mut Plic, off: u64) -> u32 {
        p.read(off, 4).unwrap() as u32
    }

    /// Sources 1..=3 with priorities 1, 2, 3, all enabled for S-mode.
    fn setup() -> Plic {
        let mut p = Plic::new(31);
        for s in 1..=3 {
            w(&mut p, 4 * s, s as u32);
        }
        w(&mut p, 0x2080, 0b1110);
        p
    }

    #[test]
    fn registers_read_back() {
        let mut p = Plic::new(63);
        w(&mut p, 4 * 5, 6);
        assert_eq!(r(&mut p, 4 * 5), 6);
        w(&mut p, 4 * 5, 100);
        assert_eq!(r(&mut p, 4 * 5), PRIORITY_MAX);
        // Source 0 is hardwired.
        w(&mut p, 0, 5);
        assert_eq!(r(&mut p, 0), 0);
        w(&mut p, 0x2000, 0xffff_ffff);
        assert_eq!(r(&mut p, 0x2000), 0xffff_fffe);
        w(&mut p, 0x2004, 0xffff_ffff);
        assert_eq!(r(&mut p, 0x2004), 0xffff_ffff);
        w(&mut p, 0x20_1000, 3);
        assert_eq!(r(&mut p, 0x20_1000), 3);
        assert_eq!(r(&mut p, 0x20_0000), 0);
        // Wrong sizes and misaligned offsets are rejected.
        assert_eq!(p.read(0x20_0000, 8), None);
        assert_eq!(p.read(2, 4), None);
        assert!(!p.write(0x2000, 1, 0));
        // Fewer sources: enables beyond them stay clear.
        let mut q = Plic::new(10);
        w(&mut q, 0x2000, 0xffff_ffff);
        assert_eq!(r(&mut q, 0x2000), 0x7fe);
        w(&mut q, 4 * 11, 3);
        assert_eq!(r(&mut q, 4 * 11), 0);
    }

    #[test]
    fn claim_picks_highest_priority_then_lowest_id() {
        let mut p = setup();
        assert!(!p.seip());
        p.set_level(1, true);
        p.set_level(3, true);
        assert_eq!(r(&mut p, 0x1000), 0b1010);
        assert!(p.seip());
        assert!(!p.meip(), "not enabled for M-mode");
        assert_eq!(r(&mut p, 0x20_1004), 3);
        assert_eq!(r(&mut p, 0x20_1004), 1);
        assert_eq!(r(&mut p, 0x20_1004), 0);
        // Equal priorities: the lower id wins.
        let mut p = setup();
        w(&mut p, 4, 2);
        p.set_level(2, true);
        p.set_level(1, true);
        assert_eq!(p.claim(CONTEXT_S), 1);
    }

    #[test]
    fn threshold_masks_and_priority_zero_never_interrupts() {
        let mut p = setup();
        p.set_level(2, true);
        w(&mut p, 0x20_1000, 2);
        assert!(!p.seip());
        assert_eq!(r(&mut p, 0x20_1004), 0);
        w(&mut p, 0x20_1000, 1);
        assert!(p.seip());
        w(&mut p, 0x20_1000, 0);
        w(&mut p, 8, 0);
        assert!(!p.seip());
    }

    #[test]
    fn level_gateway_semantics() {
        let mut p = setup();
        p.set_level(2, true);
        assert_eq!(p.claim(CONTEXT_S), 2);
        // In service: the still-high line does not re-pend.
        assert!(!p.seip());
        assert_eq!(r(&mut p, 0x1000), 0);
        // Completion with the line still high re-pends it.
        w(&mut p, 0x20_1004, 2);
        assert!(p.seip());
        assert_eq!(p.claim(CONTEXT_S), 2);
        // The device is serviced (line drops), then completion: nothing pends.
        p.set_level(2, false);
        p.complete(CONTEXT_S, 2);
        assert!(!p.seip());
        // A line that drops before the claim withdraws the request.
        p.set_level(1, true);
        p.set_level(1, false);
        assert_eq!(p.claim(CONTEXT_S), 0);
    }

    #[test]
    fn completion_of_source_not_enabled_is_ignored() {
        let mut p = setup();
        p.set_level(3, true);
        assert_eq!(p.claim(CONTEXT_S), 3);
        // Context 0 does not enable source 3: its completion is ignored.
        w(&mut p, 0x20_0004, 3);
        assert!(!p.seip());
        w(&mut p, 0x20_1004, 3);
        assert!(p.seip());
    }

    #[test]
    fn contexts_are_independent() {
        let mut p = setup();
        w(&mut p, 0x2000, 1 << 5);
        w(&mut p, 4 * 5, 1);
        p.set_level(5, true);
        assert!(p.meip());
        assert!(!p.seip());
        assert_eq!(r(&mut p, 0x20_0004), 5);
        assert!(!p.meip());
        // Out-of-range sources and contexts are ignored.
        p.set_level(0, true);
        p.set_level(64, true);
        assert!(!p.context_pending(7));
        assert_eq!(p.claim(9), 0);
    }
}
