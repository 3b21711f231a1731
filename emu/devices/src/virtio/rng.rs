//! virtio-rng, the entropy device (device id 4, virtio 1.2 section 5.4).
//!
//! One queue (requestq) of device-writable buffers, each filled from an
//! [`EntropySource`], at most [`MAX_BYTES_PER_REQUEST`] bytes per request so
//! one guest buffer cannot make the host generate unbounded data. No config
//! space, no feature bits.

use thiserror::Error;

use crate::memory::GuestMemory;

use super::queue::{DescChain, Queue, QueueError};
use super::VirtioDevice;

/// The virtio device id.
pub const DEVICE_ID: u32 = 4;
/// The most bytes returned for one request.
pub const MAX_BYTES_PER_REQUEST: u32 = 64 * 1024;
/// The size of the request queue.
pub const QUEUE_SIZE: u16 = 64;

const CHUNK: usize = 256;

/// The host's entropy failed.
#[derive(Debug, Error)]
#[error("entropy source failed: {0}")]
pub struct EntropyError(pub String);

/// Where random bytes come from (the OS generator natively,
/// `crypto.getRandomValues` in the browser, a fixed stream in tests).
pub trait EntropySource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError>;
}

/// The virtio-rng device model.
#[derive(Debug)]
pub struct Rng<E> {
    source: E,
    chain: DescChain,
    failures: u64,
}

impl<E: EntropySource> Rng<E> {
    /// An entropy device drawing from `source`.
    pub fn new(source: E) -> Rng<E> {
        Rng {
            source,
            chain: DescChain::new(),
            failures: 0,
        }
    }

    /// The entropy source.
    pub fn source(&self) -> &E {
        &self.source
    }

    /// How many requests got fewer bytes because the source failed.
    pub fn failures(&self) -> u64 {
        self.failures
    }
}

impl<E: EntropySource> VirtioDevice for Rng<E> {
    fn device_id(&self) -> u32 {
        DEVICE_ID
    }

    fn features(&self) -> u64 {
        0
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn read_config(&self, _offset: u64, data: &mut [u8]) {
        data.fill(0);
    }

    fn reset(&mut self) {}

    fn process<M: GuestMemory + ?Sized>(
        &mut self,
        queues: &mut [Queue],
        notified: u64,
        mem: &mut M,
    ) -> Result<(), QueueError> {
        let Some(q) = queues.get_mut(0) else {
            return Ok(());
        };
        if notified & 1 == 0 {
            return Ok(());
        }
        let mut buf = [0u8; CHUNK];
        while q.next_request(mem, &mut self.chain)? {
            let want = self.chain.writable_len().min(MAX_BYTES_PER_REQUEST);
            let mut done = 0u32;
            while done < want {
                let n = ((want - done) as usize).min(CHUNK);
                if self.source.fill(&mut buf[..n]).is_err() {
                    self.failures += 1;
                    break;
                }
                match self.chain.write_at(mem, u64::from(done), &buf[..n]) {
                    Ok(k) if k == n => done += n as u32,
                    _ => break,
                }
            }
            q.add_used(mem, self.chain.head(), done)?;
        }
        Ok(())
    }
}
