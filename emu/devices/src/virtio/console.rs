//! virtio-console (device id 3, virtio 1.2 section 5.3): one port, no
//! multiport.
//!
//! - receiveq (queue 0): host input. [`Console::push_input`] queues bytes in
//!   a buffer capped at [`INPUT_CAPACITY`]; they are delivered when the guest
//!   has posted receive buffers (at the next [`super::VirtioMmio::poll`]).
//! - transmitq (queue 1): guest output, handed to the [`ConsoleBackend`].
//! - `VIRTIO_CONSOLE_F_SIZE`: `cols`/`rows` in config space;
//!   [`Console::set_size`] changes them and raises a config-change interrupt.
//! - `VIRTIO_CONSOLE_F_EMERG_WRITE`: a write to `emerg_wr` outputs one byte.
//!
//! Config space: `cols: u16` at 0, `rows: u16` at 2, `max_nr_ports: u32` at
//! 4, `emerg_wr: u32` at 8 (little-endian).

use std::collections::VecDeque;

use crate::memory::GuestMemory;

use super::queue::{DescChain, Queue, QueueError};
use super::{read_config_bytes, VirtioDevice};

/// The virtio device id.
pub const DEVICE_ID: u32 = 3;
/// Feature bit: `cols` and `rows` are valid.
pub const VIRTIO_CONSOLE_F_SIZE: u64 = 1 << 0;
/// Feature bit: `emerg_wr` is supported.
pub const VIRTIO_CONSOLE_F_EMERG_WRITE: u64 = 1 << 2;
/// The most host input bytes buffered before [`Console::push_input`] refuses
/// more.
pub const INPUT_CAPACITY: usize = 64 * 1024;
/// The size of each queue.
pub const QUEUE_SIZE: u16 = 128;
/// The most output bytes taken from one transmit chain; the rest of a longer
/// chain is ignored. (A chain can name the same guest memory many times
/// over, up to 4 GiB; this bounds the host's work per request.)
pub const MAX_TRANSMIT_BYTES: u64 = 1 << 20;

const RECEIVEQ: usize = 0;
const TRANSMITQ: usize = 1;
const CHUNK: usize = 512;

/// Where guest console output goes.
pub trait ConsoleBackend {
    /// Takes bytes the guest wrote.
    fn write(&mut self, data: &[u8]);
}

impl ConsoleBackend for Vec<u8> {
    fn write(&mut self, data: &[u8]) {
        self.extend_from_slice(data);
    }
}

/// The virtio-console device model.
#[derive(Debug)]
pub struct Console<B> {
    backend: B,
    cols: u16,
    rows: u16,
    input: VecDeque<u8>,
    config_changed: bool,
    chain: DescChain,
}

impl<B: ConsoleBackend> Console<B> {
    /// A console with an 80x25 size writing to `backend`.
    pub fn new(backend: B) -> Console<B> {
        Console {
            backend,
            cols: 80,
            rows: 25,
            input: VecDeque::new(),
            config_changed: false,
            chain: DescChain::new(),
        }
    }

    /// The output sink.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The output sink, mutably.
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    /// Queues host input for the guest; returns how many bytes were taken
    /// (fewer than `data.len()` when the buffer is full). Delivery happens at
    /// the next poll.
    pub fn push_input(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(INPUT_CAPACITY - self.input.len());
        self.input.extend(&data[..n]);
        n
    }

    /// Bytes of input not yet delivered to the guest.
    pub fn pending_input(&self) -> usize {
        self.input.len()
    }

    /// The terminal size (columns, rows).
    pub fn size(&self) -> (u16, u16) {
        (self.cols, self.rows)
    }

    /// Changes the terminal size; the guest gets a config-change interrupt at
    /// the next poll if it changed.
    pub fn set_size(&mut self, cols: u16, rows: u16) {
        if (cols, rows) != (self.cols, self.rows) {
            self.cols = cols;
            self.rows = rows;
            self.config_changed = true;
        }
    }

    fn config(&self) -> [u8; 12] {
        let mut c = [0u8; 12];
        c[0..2].copy_from_slice(&self.cols.to_le_bytes());
        c[2..4].copy_from_slice(&self.rows.to_le_bytes());
        c[4..8].copy_from_slice(&1u32.to_le_bytes());
        c
    }

    fn transmit<M: GuestMemory + ?Sized>(
        &mut self,
        q: &mut Queue,
        mem: &mut M,
    ) -> Result<(), QueueError> {
        let mut buf = [0u8; CHUNK];
        while q.next_request(mem, &mut self.chain)? {
            let mut off = 0u64;
            while off < MAX_TRANSMIT_BYTES {
                let want = (MAX_TRANSMIT_BYTES - off).min(CHUNK as u64) as usize;
                match self.chain.read_at(mem, off, &mut buf[..want]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        self.backend.write(&buf[..n]);
                        off += n as u64;
                    }
                }
            }
            q.add_used(mem, self.chain.head(), 0)?;
        }
        Ok(())
    }

    fn receive<M: GuestMemory + ?Sized>(
        &mut self,
        q: &mut Queue,
        mem: &mut M,
    ) -> Result<(), QueueError> {
        while !self.input.is_empty() && q.next_request(mem, &mut self.chain)? {
            let mut written = 0u32;
            while !self.input.is_empty() && written < self.chain.writable_len() {
                let (a, _) = self.input.as_slices();
                let room = (self.chain.writable_len() - written) as usize;
                let n = a.len().min(room);
                match self.chain.write_at(mem, u64::from(written), &a[..n]) {
                    Ok(k) if k > 0 => {
                        self.input.drain(..k);
                        written += k as u32;
                    }
                    _ => break,
                }
            }
            q.add_used(mem, self.chain.head(), written)?;
        }
        Ok(())
    }
}

impl<B: ConsoleBackend> VirtioDevice for Console<B> {
    fn device_id(&self) -> u32 {
        DEVICE_ID
    }

    fn features(&self) -> u64 {
        VIRTIO_CONSOLE_F_SIZE | VIRTIO_CONSOLE_F_EMERG_WRITE
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE]
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        read_config_bytes(&self.config(), offset, data);
    }

    fn write_config(&mut self, offset: u64, data: &[u8]) {
        // emerg_wr: the low byte of a write at offset 8 is output.
        if offset == 8 {
            if let Some(&b) = data.first() {
                self.backend.write(&[b]);
            }
        }
    }

    fn reset(&mut self) {}

    fn process<M: GuestMemory + ?Sized>(
        &mut self,
        queues: &mut [Queue],
        _notified: u64,
        mem: &mut M,
    ) -> Result<(), QueueError> {
        // Both queues are cheap to look at; serve them whether or not they
        // were notified (input arrives without a notification).
        if let Some(q) = queues.get_mut(TRANSMITQ) {
            self.transmit(q, mem)?;
        }
        if let Some(q) = queues.get_mut(RECEIVEQ) {
            self.receive(q, mem)?;
        }
        Ok(())
    }

    fn take_config_changed(&mut self) -> bool {
        std::mem::take(&mut self.config_changed)
    }
}
