//! virtio-9p (device id 9): the transport glue between a virtqueue and the
//! 9P2000.L [`Server`].
//!
//! Each request chain carries one whole 9P message in its readable part and
//! room for the reply in its writable part. The message is handed to the
//! server with a token naming the chain; an immediate reply is written back
//! at once, a deferred one ([`Handled::Pending`]) keeps the chain in flight
//! until [`Server::poll`] completes it, so any number of requests (up to the
//! queue size) can be outstanding and complete in any order.
//!
//! Config space: `tag_len: u16` at 0, then `tag_len` bytes of mount tag
//! (feature `VIRTIO_9P_MOUNT_TAG`).
//!
//! A request longer than the server's maximum msize, or a reply that does not
//! fit the chain's writable part, returns the chain with nothing written
//! (the guest's 9p client sees an I/O error for that request).

use thiserror::Error;

use crate::memory::GuestMemory;
use crate::p9::{Config, FileSystem, Handled, Server};

use super::queue::{DescChain, Queue, QueueError};
use super::{read_config_bytes, VirtioDevice};

/// The virtio device id.
pub const DEVICE_ID: u32 = 9;
/// Feature: the config space holds a mount tag.
pub const VIRTIO_9P_MOUNT_TAG: u64 = 1 << 0;
/// The longest mount tag accepted.
pub const MAX_TAG_LEN: usize = 255;
/// The size of the request queue.
pub const QUEUE_SIZE: u16 = 128;

/// Errors building a 9p device.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum P9DeviceError {
    /// The mount tag is empty or longer than [`MAX_TAG_LEN`].
    #[error("mount tag of {0} bytes must be 1..=255 bytes")]
    BadTag(usize),
}

/// Counters for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct P9Stats {
    /// Requests answered.
    pub replies: u64,
    /// Requests returned with nothing written (too long, reply did not fit,
    /// flushed, guest memory error).
    pub dropped: u64,
    /// Replies that arrived later than their request.
    pub deferred: u64,
}

/// The virtio-9p device model.
pub struct P9<F: FileSystem> {
    server: Server<F>,
    config: Vec<u8>,
    chain: DescChain,
    /// The request message being handed to the server (reused).
    request: Vec<u8>,
    /// Chains waiting for a deferred reply, with their tokens.
    in_flight: Vec<(u64, DescChain)>,
    /// Spare chains, so parking a request allocates nothing once warm.
    spare: Vec<DescChain>,
    /// Bumped on reset: completions of an earlier epoch are ignored.
    epoch: u64,
    stats: P9Stats,
}

impl<F: FileSystem> P9<F> {
    /// A 9p device exporting `fs` under mount tag `tag`.
    pub fn new(fs: F, server_config: Config, tag: &str) -> Result<P9<F>, P9DeviceError> {
        let t = tag.as_bytes();
        if t.is_empty() || t.len() > MAX_TAG_LEN {
            return Err(P9DeviceError::BadTag(t.len()));
        }
        let mut config = Vec::with_capacity(2 + t.len());
        config.extend_from_slice(&(t.len() as u16).to_le_bytes());
        config.extend_from_slice(t);
        Ok(P9 {
            server: Server::new(fs, server_config),
            config,
            chain: DescChain::new(),
            request: Vec::new(),
            in_flight: Vec::new(),
            spare: Vec::new(),
            epoch: 0,
            stats: P9Stats::default(),
        })
    }

    /// The 9p server.
    pub fn server(&self) -> &Server<F> {
        &self.server
    }

    /// The 9p server, mutably (e.g. to reach its file system).
    pub fn server_mut(&mut self) -> &mut Server<F> {
        &mut self.server
    }

    /// Requests waiting for a deferred reply.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Counters.
    pub fn stats(&self) -> P9Stats {
        self.stats
    }

    fn token(&self, head: u16) -> u64 {
        (self.epoch << 16) | u64::from(head)
    }

    /// Writes `reply` into `chain` and returns the used length (0 if it does
    /// not fit or guest memory failed).
    fn write_reply<M: GuestMemory + ?Sized>(
        stats: &mut P9Stats,
        mem: &mut M,
        chain: &DescChain,
        reply: &[u8],
    ) -> u32 {
        let fits = u32::try_from(reply.len()).is_ok_and(|n| n <= chain.writable_len());
        if fits && chain.write_at(mem, 0, reply) == Ok(reply.len()) {
            stats.replies += 1;
            reply.len() as u32
        } else {
            stats.dropped += 1;
            0
        }
    }

    fn take_requests<M: GuestMemory + ?Sized>(
        &mut self,
        q: &mut Queue,
        mem: &mut M,
    ) -> Result<(), QueueError> {
        let max = self.server.config().max_msize;
        while q.next_request(mem, &mut self.chain)? {
            let head = self.chain.head();
            let len = self.chain.readable_len();
            if len > max {
                self.stats.dropped += 1;
                q.add_used(mem, head, 0)?;
                continue;
            }
            self.request.resize(len as usize, 0);
            if self.chain.read_at(mem, 0, &mut self.request) != Ok(len as usize) {
                self.stats.dropped += 1;
                q.add_used(mem, head, 0)?;
                continue;
            }
            let token = self.token(head);
            match self.server.handle(token, &self.request) {
                Handled::Reply(reply) => {
                    let n = Self::write_reply(&mut self.stats, mem, &self.chain, &reply);
                    q.add_used(mem, head, n)?;
                }
                Handled::Pending => {
                    let spare = self.spare.pop().unwrap_or_default();
                    let parked = std::mem::replace(&mut self.chain, spare);
                    self.in_flight.push((token, parked));
                }
            }
        }
        Ok(())
    }

    fn complete<M: GuestMemory + ?Sized>(
        &mut self,
        q: &mut Queue,
        mem: &mut M,
    ) -> Result<(), QueueError> {
        if self.in_flight.is_empty() && self.server.pending() == 0 {
            return Ok(());
        }
        for done in self.server.poll() {
            let Some(i) = self.in_flight.iter().position(|(t, _)| *t == done.token) else {
                // A request from before a reset, or an unknown token.
                continue;
            };
            let (_, chain) = self.in_flight.swap_remove(i);
            let n = match &done.reply {
                Some(reply) => {
                    self.stats.deferred += 1;
                    Self::write_reply(&mut self.stats, mem, &chain, reply)
                }
                None => {
                    self.stats.dropped += 1;
                    0
                }
            };
            q.add_used(mem, chain.head(), n)?;
            self.spare.push(chain);
        }
        Ok(())
    }
}

impl<F: FileSystem> VirtioDevice for P9<F> {
    fn device_id(&self) -> u32 {
        DEVICE_ID
    }

    fn features(&self) -> u64 {
        VIRTIO_9P_MOUNT_TAG
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        read_config_bytes(&self.config, offset, data);
    }

    fn reset(&mut self) {
        // Chains in flight belong to the old queue; forget them. Their
        // completions, if the server still produces them, carry an old epoch.
        self.epoch = self.epoch.wrapping_add(1) & 0xffff_ffff_ffff;
        // The server's parked requests belong to the old driver too: drop them
        // so they are not retried against a file system the new driver never
        // attached to.
        self.server.reset();
        while let Some((_, c)) = self.in_flight.pop() {
            self.spare.push(c);
        }
    }

    fn process<M: GuestMemory + ?Sized>(
        &mut self,
        queues: &mut [Queue],
        notified: u64,
        mem: &mut M,
    ) -> Result<(), QueueError> {
        let Some(q) = queues.get_mut(0) else {
            return Ok(());
        };
        if notified & 1 != 0 {
            self.take_requests(q, mem)?;
        }
        self.complete(q, mem)
    }
}
