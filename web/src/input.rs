//! Console input waiting for the guest.
//!
//! The guest's console device takes input into a small buffer; a paste can be
//! far larger. The worker keeps everything typed or pasted here, in order,
//! and hands it to the device as the guest drains it, so no byte is lost.

use std::collections::VecDeque;

/// Most bytes waiting at once (a paste larger than this is refused whole).
pub const MAX_PENDING_INPUT: usize = 16 << 20;

/// Bytes the loopback console takes per slice (a small device buffer).
pub const LOOPBACK_BYTES_PER_SLICE: usize = 64;

/// Input refused because the queue would exceed [`MAX_PENDING_INPUT`].
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("console input of {offered} bytes refused: {pending} bytes already wait (limit {MAX_PENDING_INPUT})")]
pub struct InputOverflow {
    /// Bytes offered.
    pub offered: usize,
    /// Bytes already waiting.
    pub pending: usize,
}

/// A FIFO of console input bytes.
#[derive(Debug, Default)]
pub struct InputQueue {
    bytes: VecDeque<u8>,
}

impl InputQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `data` whole, or refuses it whole.
    pub fn push(&mut self, data: &[u8]) -> Result<(), InputOverflow> {
        if data.len() > MAX_PENDING_INPUT - self.bytes.len() {
            return Err(InputOverflow {
                offered: data.len(),
                pending: self.bytes.len(),
            });
        }
        self.bytes.extend(data);
        Ok(())
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Offers the waiting bytes, oldest first, to `sink`, which returns how
    /// many of the offered bytes it took (at most their number); those are
    /// removed. Returns the number taken.
    pub fn drain_into(&mut self, mut sink: impl FnMut(&[u8]) -> usize) -> usize {
        let mut taken = 0;
        // At most two contiguous pieces (the deque's ring halves).
        for _ in 0..2 {
            let (front, _) = self.bytes.as_slices();
            let len = front.len();
            if len == 0 {
                break;
            }
            let n = sink(front).min(len);
            self.bytes.drain(..n);
            taken += n;
            if n < len {
                break;
            }
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_paste_arrives_intact_through_a_small_buffer() {
        let paste: Vec<u8> = (0..10_240u32).map(|i| (i * 7 + i / 255) as u8).collect();
        let mut q = InputQueue::new();
        q.push(b"cat > /tmp/p\n").unwrap();
        q.push(&paste).unwrap();
        let mut got = Vec::new();
        let mut rounds = 0;
        while !q.is_empty() {
            rounds += 1;
            assert!(rounds < 10_000, "queue does not drain");
            q.drain_into(|b| {
                let n = b.len().min(LOOPBACK_BYTES_PER_SLICE);
                got.extend_from_slice(&b[..n]);
                n
            });
        }
        assert_eq!(&got[..13], b"cat > /tmp/p\n");
        assert_eq!(&got[13..], &paste[..]);
    }

    #[test]
    fn a_full_guest_takes_nothing() {
        let mut q = InputQueue::new();
        q.push(b"abc").unwrap();
        assert_eq!(q.drain_into(|_| 0), 0);
        assert_eq!(q.len(), 3);
        // A sink that claims more than offered takes only what was offered.
        assert_eq!(q.drain_into(|_| 99), 3);
        assert!(q.is_empty());
    }

    #[test]
    fn overflow_is_refused_whole() {
        let mut q = InputQueue::new();
        q.push(&vec![1; MAX_PENDING_INPUT - 1]).unwrap();
        let e = q.push(b"ab").unwrap_err();
        assert_eq!(
            e,
            InputOverflow {
                offered: 2,
                pending: MAX_PENDING_INPUT - 1
            }
        );
        assert_eq!(q.len(), MAX_PENDING_INPUT - 1);
        q.push(b"a").unwrap();
    }
}
