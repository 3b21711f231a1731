//! The machine's time base: `mtime` (the CLINT register, the `time` CSR and
//! the Sstc comparison) counts at [`TIMEBASE_HZ`] and follows either the
//! host clock or the number of instructions executed.
//!
//! - [`TimeMode::Host`]: `mtime` = nanoseconds since the machine was made ×
//!   10 MHz, read from a [`HostClock`] (the native runner uses [`StdClock`];
//!   a web page passes `performance.now()`).
//! - [`TimeMode::Deterministic`]: `mtime` = instructions executed /
//!   [`INSNS_PER_TICK`] (the guest believes it runs at 100 MIPS). When the
//!   hart idles in WFI, time jumps to the next timer deadline, so a run
//!   without host input is the same instruction for instruction every time.
//!
//! In both modes a guest write of `mtime` (through the CLINT, M mode only)
//! is adopted as an offset.

use crate::fdt::TIMEBASE_HZ;

/// Instructions per `mtime` tick in [`TimeMode::Deterministic`]: 10 ticks
/// per microsecond, so 100 instructions per microsecond (100 MIPS).
pub const INSNS_PER_TICK: u64 = 10;

/// Nanoseconds per `mtime` tick (10 MHz).
const NS_PER_TICK: u64 = 1_000_000_000 / TIMEBASE_HZ as u64;

/// A monotonic host clock.
pub trait HostClock {
    /// Nanoseconds since some fixed point; never decreases.
    fn now_ns(&self) -> u64;
}

/// The host's monotonic clock ([`std::time::Instant`]), counting from its creation.
#[derive(Clone, Copy, Debug)]
pub struct StdClock {
    start: std::time::Instant,
}

impl StdClock {
    /// A clock that reads 0 now.
    pub fn new() -> Self {
        StdClock {
            start: std::time::Instant::now(),
        }
    }
}

impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

impl HostClock for StdClock {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Where `mtime` comes from.
pub enum TimeMode {
    /// The host clock: the guest's clock runs at wall-clock speed.
    Host(Box<dyn HostClock>),
    /// The instruction count ([`INSNS_PER_TICK`]): reproducible runs.
    Deterministic,
}

impl std::fmt::Debug for TimeMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimeMode::Host(_) => f.write_str("Host"),
            TimeMode::Deterministic => f.write_str("Deterministic"),
        }
    }
}

/// The machine clock: a [`TimeMode`] plus the offset that guest writes of
/// `mtime` and idle skips add.
#[derive(Debug)]
pub struct Clock {
    mode: TimeMode,
    offset: u64,
}

impl Clock {
    /// A clock reading 0 at instruction 0 / now.
    pub fn new(mode: TimeMode) -> Self {
        Clock { mode, offset: 0 }
    }

    /// Whether time follows the instruction count.
    pub fn is_deterministic(&self) -> bool {
        matches!(self.mode, TimeMode::Deterministic)
    }

    fn raw(&self, insns: u64) -> u64 {
        match &self.mode {
            TimeMode::Host(c) => c.now_ns() / NS_PER_TICK,
            TimeMode::Deterministic => insns / INSNS_PER_TICK,
        }
    }

    /// `mtime` after `insns` instructions.
    pub fn now(&self, insns: u64) -> u64 {
        self.raw(insns).wrapping_add(self.offset)
    }

    /// Makes `now(insns)` read `value` (a guest write of `mtime`).
    pub fn set(&mut self, insns: u64, value: u64) {
        self.offset = value.wrapping_sub(self.raw(insns));
    }

    /// In deterministic mode, moves time forward to `deadline` (an idle hart
    /// sleeping until its timer); the host clock moves by itself.
    pub fn skip_to(&mut self, insns: u64, deadline: u64) {
        if self.is_deterministic() {
            let now = self.now(insns);
            if deadline > now {
                self.offset = self.offset.wrapping_add(deadline - now);
            }
        }
    }

    /// Instructions until `mtime` reaches `deadline` in deterministic mode
    /// (`None` with the host clock, or if it is already there).
    pub fn insns_until(&self, insns: u64, deadline: u64) -> Option<u64> {
        if !self.is_deterministic() {
            return None;
        }
        let now = self.now(insns);
        if deadline <= now {
            return None;
        }
        // The first instruction count at which now() >= deadline.
        let ticks = deadline - now;
        let into_tick = insns % INSNS_PER_TICK;
        Some(
            ticks
                .saturating_mul(INSNS_PER_TICK)
                .saturating_sub(into_tick),
        )
    }

    /// The host time span of `ticks` of `mtime`.
    pub fn ticks_to_duration(ticks: u64) -> std::time::Duration {
        std::time::Duration::from_nanos(ticks.saturating_mul(NS_PER_TICK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    struct FakeClock(Rc<Cell<u64>>);
    impl HostClock for FakeClock {
        fn now_ns(&self) -> u64 {
            self.0.get()
        }
    }

    #[test]
    fn deterministic_time_follows_instructions() {
        let mut c = Clock::new(TimeMode::Deterministic);
        assert_eq!(c.now(0), 0);
        assert_eq!(c.now(99), 9);
        assert_eq!(c.now(100), 10);
        assert_eq!(c.insns_until(95, 10), Some(5));
        assert_eq!(c.now(95 + 5), 10);
        assert_eq!(c.insns_until(100, 10), None);
        c.skip_to(100, 1000);
        assert_eq!(c.now(100), 1000);
        assert_eq!(c.now(110), 1001);
        c.skip_to(110, 5); // never backwards
        assert_eq!(c.now(110), 1001);
        c.set(110, 7);
        assert_eq!(c.now(110), 7);
        assert_eq!(c.now(130), 9);
    }

    #[test]
    fn host_time_follows_the_host_clock() {
        let ns = Rc::new(Cell::new(0));
        let mut c = Clock::new(TimeMode::Host(Box::new(FakeClock(ns.clone()))));
        ns.set(1_000_000); // 1 ms = 10_000 ticks
        assert_eq!(c.now(123), 10_000);
        assert_eq!(c.insns_until(0, 20_000), None);
        c.skip_to(0, 50_000); // no effect: the host clock moves by itself
        assert_eq!(c.now(0), 10_000);
        c.set(0, 5);
        ns.set(2_000_000);
        assert_eq!(c.now(0), 10_005);
        assert_eq!(
            Clock::ticks_to_duration(10_000),
            std::time::Duration::from_millis(1)
        );
    }
}
