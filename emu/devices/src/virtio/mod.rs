//! virtio 1.2 over MMIO (modern, version 2 register layout only) and its
//! devices: console, block, entropy and 9p.
//!
//! - [`queue`]: the split virtqueue, validating guest descriptors into
//!   [`DescChain`]s (parse, then execute);
//! - [`mmio`]: the virtio-mmio transport [`VirtioMmio`], an
//!   [`crate::MmioDevice`] generic over a [`VirtioDevice`];
//! - [`console`], [`blk`], [`rng`], [`p9`]: the devices, each generic over a
//!   host trait ([`console::ConsoleBackend`], [`blk::BlockBackend`],
//!   [`rng::EntropySource`], [`crate::p9::FileSystem`]).
//!
//! # How a board drives a device
//!
//! - Map each [`VirtioMmio`] at a [`mmio::MMIO_SIZE`] (4 KiB) window; the
//!   device tree node is `compatible = "virtio,mmio"` with one PLIC
//!   interrupt. Guest loads/stores to the window go to
//!   [`crate::MmioDevice::read`]/[`crate::MmioDevice::write`].
//! - Device DMA goes through [`crate::memory::GuestMemory`]; over RAM the
//!   board owns as a byte slice, [`crate::memory::SliceMemory`] does it and
//!   reports the span written (to invalidate cached decoded instructions).
//! - Call [`VirtioMmio::poll`] right after every store to the window (a
//!   `QueueNotify` is served there; Linux's console driver busy-waits for its
//!   transmit buffer to come back, so this must be synchronous) and whenever
//!   host-side state changed: console input pushed, console resized, a 9p
//!   backend made progress. Polling with nothing to do is cheap.
//! - After each poll (and each store, since `InterruptACK` lowers it) feed
//!   [`VirtioMmio::irq_level`] to [`crate::plic::Plic::set_level`], then the
//!   PLIC's `meip()`/`seip()` to the hart's `mip`.
//!
//! ```
//! use vf_devices::memory::{GuestAddress, RamRegion};
//! use vf_devices::virtio::{blk::{Blk, MemBlock}, VirtioMmio};
//! use vf_devices::MmioDevice;
//! let mut ram = RamRegion::new(GuestAddress(0x8000_0000), 1 << 20).unwrap();
//! let mut dev = VirtioMmio::new(Blk::new(MemBlock::new(vec![0; 4096], false)));
//! // Guest loads and stores to the window go to `MmioDevice::read/write`.
//! assert_eq!(dev.read(0, 4), Some(0x7472_6976));
//! // After a store to the window (QueueNotify) and whenever host-side input
//! // arrived, let the device run against guest RAM:
//! dev.poll(&mut ram);
//! // Then feed the interrupt line to the PLIC.
//! let _level: bool = dev.irq_level();
//! ```

pub mod blk;
pub mod console;
pub mod mmio;
pub mod p9;
pub mod queue;
pub mod rng;

pub use mmio::{EmptySlot, VirtioMmio, VirtioTransport};
pub use queue::{ChainError, DescChain, Queue, QueueError};

use crate::memory::GuestMemory;

/// Feature bit: indirect descriptors (section 2.7.5.3).
pub const VIRTIO_F_INDIRECT_DESC: u64 = 1 << 28;
/// Feature bit: `used_event`/`avail_event` (section 2.7.7).
pub const VIRTIO_F_EVENT_IDX: u64 = 1 << 29;
/// Feature bit: a modern (virtio 1.x) device. Required here.
pub const VIRTIO_F_VERSION_1: u64 = 1 << 32;
/// The ring and version features every device of ours offers.
pub const TRANSPORT_FEATURES: u64 =
    VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX | VIRTIO_F_VERSION_1;

/// Device status bits (section 2.1).
pub mod status {
    /// The guest has noticed the device.
    pub const ACKNOWLEDGE: u32 = 1;
    /// The guest knows how to drive the device.
    pub const DRIVER: u32 = 2;
    /// The driver is ready.
    pub const DRIVER_OK: u32 = 4;
    /// Feature negotiation is complete.
    pub const FEATURES_OK: u32 = 8;
    /// The device hit an error and needs a reset.
    pub const DEVICE_NEEDS_RESET: u32 = 64;
    /// The guest gave up on the device.
    pub const FAILED: u32 = 128;
}

/// `InterruptStatus` bit: a used buffer notification.
pub const INTERRUPT_USED_BUFFER: u32 = 1;
/// `InterruptStatus` bit: a configuration change notification.
pub const INTERRUPT_CONFIG_CHANGE: u32 = 2;

/// The device-specific half of a virtio device; [`VirtioMmio`] is the
/// transport half.
pub trait VirtioDevice {
    /// The virtio device id (2 block, 3 console, 4 entropy, 9 9p).
    fn device_id(&self) -> u32;

    /// Device-specific feature bits offered (the transport adds
    /// [`TRANSPORT_FEATURES`]).
    fn features(&self) -> u64;

    /// The maximum size of each queue; the length is the number of queues.
    fn queue_max_sizes(&self) -> &[u16];

    /// Reads config-space bytes at `offset`; bytes past the config space
    /// read as zero.
    fn read_config(&self, offset: u64, data: &mut [u8]);

    /// Writes config-space bytes at `offset` (most devices ignore writes).
    fn write_config(&mut self, _offset: u64, _data: &[u8]) {}

    /// The driver set `DRIVER_OK` with these negotiated features.
    fn activate(&mut self, _features: u64) {}

    /// The driver reset the device: drop requests in flight and return to the
    /// initial state (host-side state such as a console's pending input is
    /// kept).
    fn reset(&mut self);

    /// Runs the device: serve queues whose bit is set in `notified` (bit `i`
    /// for queue `i`) and any host-side work (console input, deferred 9p
    /// replies). Called only while the device is live (`DRIVER_OK`, no
    /// `DEVICE_NEEDS_RESET`). A [`QueueError`] puts the device into
    /// `DEVICE_NEEDS_RESET`.
    fn process<M: GuestMemory + ?Sized>(
        &mut self,
        queues: &mut [Queue],
        notified: u64,
        mem: &mut M,
    ) -> Result<(), QueueError>;

    /// Whether the config space changed since the last call (the transport
    /// then bumps `ConfigGeneration` and raises a config interrupt).
    fn take_config_changed(&mut self) -> bool {
        false
    }
}

/// Copies a little-endian config structure window: `data` gets the bytes of
/// `config` at `offset`, zero past its end.
pub(crate) fn read_config_bytes(config: &[u8], offset: u64, data: &mut [u8]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b = offset
            .checked_add(i as u64)
            .and_then(|o| usize::try_from(o).ok())
            .and_then(|o| config.get(o).copied())
            .unwrap_or(0);
    }
}
