//! What the worker runs, one time slice at a time, and how it paces it.
//!
//! The worker calls [`Guest::run_slice`] repeatedly, yielding to its event
//! loop between slices so that input and resize messages are seen. A slice
//! ends early when the guest waits; the worker then sleeps until the guest's
//! next timer is due or input arrives, so an idle guest costs almost no CPU.

use crate::input::{InputQueue, LOOPBACK_BYTES_PER_SLICE};

/// Wall-clock length the worker aims for per slice, in milliseconds.
pub const TARGET_SLICE_MS: f64 = 10.0;
/// Instructions of the first slice (then adapted to [`TARGET_SLICE_MS`]).
pub const INITIAL_SLICE_INSNS: u64 = 1 << 20;
/// Bounds of the adapted slice length, in instructions.
pub const MIN_SLICE_INSNS: u64 = 1 << 14;
/// Upper bound of the adapted slice length.
pub const MAX_SLICE_INSNS: u64 = 1 << 28;
/// A guest timer due sooner than this is not worth a sleep: keep running.
pub const MIN_SLEEP_MS: f64 = 1.0;

/// How a slice ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SliceEnd {
    /// The budget ran out; the guest wants to go on.
    Continue,
    /// The guest waits for an interrupt; its next timer is due in this many
    /// milliseconds (None: no timer, only input can wake it).
    Wait(Option<f64>),
    /// The guest has stopped for good.
    Stopped,
}

/// A machine the worker can run in slices.
pub trait Guest {
    /// Runs at most `budget` instructions. Console input is taken from
    /// `input` as far as the guest's device accepts it; console output is
    /// appended to `output`.
    fn run_slice(&mut self, budget: u64, input: &mut InputQueue, output: &mut Vec<u8>) -> SliceEnd;
    /// The terminal has a new size (reaches the guest as its console size).
    fn resize(&mut self, cols: u16, rows: u16);
    /// Instructions executed so far.
    fn insns(&self) -> u64;
}

/// The next slice length: scaled so a slice takes about [`TARGET_SLICE_MS`],
/// changing by at most a factor of 2 at a time, within bounds. `ms` is the
/// duration of a slice that ran `ran` instructions.
pub fn next_budget(current: u64, ran: u64, ms: f64) -> u64 {
    if ran == 0 || !ms.is_finite() || ms <= 0.0 {
        return current.clamp(MIN_SLICE_INSNS, MAX_SLICE_INSNS);
    }
    let ideal = ran as f64 * TARGET_SLICE_MS / ms;
    let lo = current as f64 / 2.0;
    let hi = current as f64 * 2.0;
    (ideal.clamp(lo, hi) as u64).clamp(MIN_SLICE_INSNS, MAX_SLICE_INSNS)
}

/// How long the worker sleeps after a slice ended with `end`: None = run the
/// next slice at once; Some(None) = until input; Some(Some(ms)) = that long
/// or until input.
pub fn sleep_after(end: SliceEnd, input_waiting: bool) -> Option<Option<f64>> {
    match end {
        SliceEnd::Continue => None,
        SliceEnd::Wait(_) if input_waiting => None,
        SliceEnd::Wait(Some(ms)) if ms < MIN_SLEEP_MS => None,
        SliceEnd::Wait(t) => Some(t),
        SliceEnd::Stopped => Some(None),
    }
}

/// The loopback console: a stand-in guest that echoes input as output,
/// taking at most [`LOOPBACK_BYTES_PER_SLICE`] bytes per slice (as a guest
/// draining a small device buffer would), with CR echoed as CR LF. It counts
/// one "instruction" per byte. It tests the page, the worker and the input
/// queue; it is not an emulator.
#[derive(Debug, Default)]
pub struct Loopback {
    bytes: u64,
    size: (u16, u16),
}

impl Loopback {
    /// A new loopback console.
    pub fn new() -> Self {
        Self::default()
    }
    /// The last size reported by [`Guest::resize`].
    pub fn size(&self) -> (u16, u16) {
        self.size
    }
}

impl Guest for Loopback {
    fn run_slice(
        &mut self,
        _budget: u64,
        input: &mut InputQueue,
        output: &mut Vec<u8>,
    ) -> SliceEnd {
        let mut n = 0;
        input.drain_into(|b| {
            let take = b.len().min(LOOPBACK_BYTES_PER_SLICE - n);
            for &c in &b[..take] {
                output.push(c);
                if c == b'\r' {
                    output.push(b'\n');
                }
            }
            n += take;
            take
        });
        self.bytes += n as u64;
        if input.is_empty() {
            SliceEnd::Wait(None)
        } else {
            SliceEnd::Continue
        }
    }
    fn resize(&mut self, cols: u16, rows: u16) {
        self.size = (cols, rows);
    }
    fn insns(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_adapt_towards_the_target() {
        // Too slow: 40 ms for 1M → halve (bounded step).
        assert_eq!(next_budget(1 << 20, 1 << 20, 40.0), 1 << 19);
        // A bit fast: 8 ms → grow by 10/8.
        assert_eq!(next_budget(1 << 20, 1 << 20, 8.0), (1u64 << 20) * 10 / 8);
        // Nothing ran (the guest waited at once): keep the length.
        assert_eq!(next_budget(5 << 20, 0, 0.0), 5 << 20);
        // Bounds hold.
        assert_eq!(
            next_budget(MAX_SLICE_INSNS, MAX_SLICE_INSNS, 0.001),
            MAX_SLICE_INSNS
        );
        assert_eq!(next_budget(MIN_SLICE_INSNS, 1, 1000.0), MIN_SLICE_INSNS);
        assert_eq!(next_budget(1000, 1000, f64::NAN), MIN_SLICE_INSNS);
    }

    #[test]
    fn sleeping_policy() {
        assert_eq!(sleep_after(SliceEnd::Continue, false), None);
        assert_eq!(
            sleep_after(SliceEnd::Wait(Some(50.0)), false),
            Some(Some(50.0))
        );
        assert_eq!(sleep_after(SliceEnd::Wait(Some(50.0)), true), None);
        assert_eq!(sleep_after(SliceEnd::Wait(Some(0.2)), false), None);
        assert_eq!(sleep_after(SliceEnd::Wait(None), false), Some(None));
        assert_eq!(sleep_after(SliceEnd::Stopped, true), Some(None));
    }

    #[test]
    fn loopback_echoes_everything_in_order() {
        let mut g = Loopback::new();
        let mut q = InputQueue::new();
        let text: Vec<u8> = (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect();
        q.push(&text).unwrap();
        q.push(b"\r").unwrap();
        let mut out = Vec::new();
        let mut slices = 0;
        while g.run_slice(0, &mut q, &mut out) == SliceEnd::Continue {
            slices += 1;
            assert!(slices < 100);
        }
        assert_eq!(slices, 1001 / LOOPBACK_BYTES_PER_SLICE);
        assert_eq!(&out[..1000], &text[..]);
        assert_eq!(&out[1000..], b"\r\n");
        assert_eq!(g.insns(), 1001);
        g.resize(100, 40);
        assert_eq!(g.size(), (100, 40));
    }
}
