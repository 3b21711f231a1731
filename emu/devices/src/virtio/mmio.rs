//! The virtio-mmio transport, version 2 (virtio 1.2 section 4.2.2).
//!
//! Registers below `0x100` take 32-bit aligned accesses only (4.2.2.2: "The
//! driver MUST only use 32 bit wide and aligned reads and writes to access the
//! control registers"); other accesses there are rejected. The config space at
//! `0x100` takes 8, 16, 32 and 64-bit accesses. Write-only registers read as
//! zero; writes to read-only registers are ignored.
//!
//! Status rules enforced here (2.1, 3.1.1, 4.2.3.1):
//! - writing 0 resets the device;
//! - the driver cannot clear bits except by a reset, nor set
//!   `DEVICE_NEEDS_RESET`;
//! - `DRIVER` needs `ACKNOWLEDGE`; `FEATURES_OK` needs `DRIVER` and is
//!   refused (left clear) unless the driver's features are a subset of the
//!   offered ones and include `VIRTIO_F_VERSION_1`; `DRIVER_OK` needs
//!   `FEATURES_OK`. A bit set out of order is ignored;
//! - features can be written only between `DRIVER` and `FEATURES_OK`; queue
//!   registers only while that queue is not ready;
//! - buffers are processed only after `DRIVER_OK`.
//!
//! A queue error (bad ring, avail index jump) sets `DEVICE_NEEDS_RESET` and,
//! as 2.1.2 requires once `DRIVER_OK` is set, raises a configuration change
//! interrupt; the device then does nothing until reset.
//!
//! Queue notifications are latched by [`crate::MmioDevice::write`] (it has no
//! access to guest memory) and served by [`VirtioMmio::poll`].

use crate::memory::{GuestAddress, GuestMemory};
use crate::MmioDevice;

use super::queue::{Queue, QueueError};
use super::{
    status, VirtioDevice, INTERRUPT_CONFIG_CHANGE, INTERRUPT_USED_BUFFER, TRANSPORT_FEATURES,
    VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1,
};

/// `MagicValue`: "virt" in little-endian.
pub const MAGIC: u32 = 0x7472_6976;
/// `Version`: the modern layout.
pub const VERSION: u32 = 2;
/// `VendorID` we report ("VFSY").
pub const VENDOR_ID: u32 = 0x5953_4656;
/// The size of a virtio-mmio window (registers plus config space).
pub const MMIO_SIZE: u64 = 0x1000;

/// Register offsets (section 4.2.2).
pub mod reg {
    #![allow(missing_docs)]
    pub const MAGIC_VALUE: u64 = 0x000;
    pub const VERSION: u64 = 0x004;
    pub const DEVICE_ID: u64 = 0x008;
    pub const VENDOR_ID: u64 = 0x00c;
    pub const DEVICE_FEATURES: u64 = 0x010;
    pub const DEVICE_FEATURES_SEL: u64 = 0x014;
    pub const DRIVER_FEATURES: u64 = 0x020;
    pub const DRIVER_FEATURES_SEL: u64 = 0x024;
    pub const QUEUE_SEL: u64 = 0x030;
    pub const QUEUE_NUM_MAX: u64 = 0x034;
    pub const QUEUE_NUM: u64 = 0x038;
    pub const QUEUE_READY: u64 = 0x044;
    pub const QUEUE_NOTIFY: u64 = 0x050;
    pub const INTERRUPT_STATUS: u64 = 0x060;
    pub const INTERRUPT_ACK: u64 = 0x064;
    pub const STATUS: u64 = 0x070;
    pub const QUEUE_DESC_LOW: u64 = 0x080;
    pub const QUEUE_DESC_HIGH: u64 = 0x084;
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
    pub const SHM_SEL: u64 = 0x0ac;
    pub const SHM_LEN_LOW: u64 = 0x0b0;
    pub const SHM_LEN_HIGH: u64 = 0x0b4;
    pub const SHM_BASE_LOW: u64 = 0x0b8;
    pub const SHM_BASE_HIGH: u64 = 0x0bc;
    pub const QUEUE_RESET: u64 = 0x0c0;
    pub const CONFIG_GENERATION: u64 = 0x0fc;
    pub const CONFIG: u64 = 0x100;
}

/// A virtio device behind the virtio-mmio version 2 register interface.
#[derive(Debug)]
pub struct VirtioMmio<D> {
    device: D,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    queues: Vec<Queue>,
    interrupt_status: u32,
    config_generation: u32,
    /// Queues notified since the last poll (bit per queue, queues 0..63).
    notified: u64,
    /// Whether the rings were checked against RAM since DRIVER_OK.
    rings_checked: bool,
    last_error: Option<QueueError>,
}

impl<D: VirtioDevice> VirtioMmio<D> {
    /// Wraps `device` (at most 64 queues are used).
    pub fn new(device: D) -> VirtioMmio<D> {
        let queues = device
            .queue_max_sizes()
            .iter()
            .take(64)
            .map(|&m| Queue::new(m))
            .collect();
        VirtioMmio {
            device,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            queues,
            interrupt_status: 0,
            config_generation: 0,
            notified: 0,
            rings_checked: false,
            last_error: None,
        }
    }

    /// The device model.
    pub fn device(&self) -> &D {
        &self.device
    }

    /// The device model, mutably (host-side input, resize, ...; call
    /// [`VirtioMmio::poll`] afterwards).
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }

    /// The device status register.
    pub fn status(&self) -> u32 {
        self.status
    }

    /// The features the device offers.
    pub fn device_features(&self) -> u64 {
        self.device.features() | TRANSPORT_FEATURES
    }

    /// The features the driver accepted.
    pub fn driver_features(&self) -> u64 {
        self.driver_features
    }

    /// The queues (for diagnostics and tests).
    pub fn queues(&self) -> &[Queue] {
        &self.queues
    }

    /// The queue error that put the device into `DEVICE_NEEDS_RESET`, if any.
    pub fn last_error(&self) -> Option<QueueError> {
        self.last_error
    }

    /// The interrupt line for the PLIC: high while `InterruptStatus` is not 0.
    pub fn irq_level(&self) -> bool {
        self.interrupt_status != 0
    }

    /// `InterruptStatus`.
    pub fn interrupt_status(&self) -> u32 {
        self.interrupt_status
    }

    /// Whether a queue notification waits for [`VirtioMmio::poll`].
    pub fn has_notification(&self) -> bool {
        self.notified != 0
    }

    fn live(&self) -> bool {
        self.status & status::DRIVER_OK != 0 && self.status & status::DEVICE_NEEDS_RESET == 0
    }

    fn fail(&mut self, e: QueueError) {
        self.last_error = Some(e);
        self.status |= status::DEVICE_NEEDS_RESET;
        if self.status & status::DRIVER_OK != 0 {
            self.interrupt_status |= INTERRUPT_CONFIG_CHANGE;
        }
    }

    /// Serves latched queue notifications and host-side work against guest
    /// memory, then updates `InterruptStatus`. Call it after every store to
    /// the window and whenever host-side input arrived (console input, 9p
    /// backend progress); it is cheap when there is nothing to do.
    pub fn poll<M: GuestMemory + ?Sized>(&mut self, mem: &mut M) {
        if self.device.take_config_changed() {
            self.config_generation = self.config_generation.wrapping_add(1);
            if self.status & status::DRIVER_OK != 0 {
                self.interrupt_status |= INTERRUPT_CONFIG_CHANGE;
            }
        }
        if !self.live() {
            return;
        }
        if !self.rings_checked {
            for i in 0..self.queues.len() {
                let q = &self.queues[i];
                if let Err(e) = q.check_rings(mem).and_then(|()| q.publish_device_area(mem)) {
                    self.fail(e);
                    return;
                }
            }
            self.rings_checked = true;
        }
        let notified = std::mem::take(&mut self.notified);
        if let Err(e) = self.device.process(&mut self.queues, notified, mem) {
            self.fail(e);
            return;
        }
        for i in 0..self.queues.len() {
            match self.queues[i].needs_notification(mem) {
                Ok(true) => self.interrupt_status |= INTERRUPT_USED_BUFFER,
                Ok(false) => {}
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
        if self.device.take_config_changed() {
            self.config_generation = self.config_generation.wrapping_add(1);
            self.interrupt_status |= INTERRUPT_CONFIG_CHANGE;
        }
    }

    fn reset(&mut self) {
        self.status = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.queue_sel = 0;
        self.interrupt_status = 0;
        self.notified = 0;
        self.rings_checked = false;
        self.last_error = None;
        for q in &mut self.queues {
            q.reset();
        }
        self.device.reset();
    }

    fn write_status(&mut self, value: u32) {
        if value == 0 {
            self.reset();
            return;
        }
        let old = self.status;
        // The driver may only add bits, and never DEVICE_NEEDS_RESET.
        let mut new = (value & !status::DEVICE_NEEDS_RESET) | old;
        let added = new & !old;
        let refuse = |new: &mut u32, bit: u32, ok: bool| {
            if added & bit != 0 && !ok {
                *new &= !bit;
            }
        };
        let ack = new & status::ACKNOWLEDGE != 0;
        refuse(&mut new, status::DRIVER, ack);
        let features_ok = new & status::DRIVER != 0
            && self.driver_features & !self.device_features() == 0
            && self.driver_features & VIRTIO_F_VERSION_1 != 0;
        refuse(&mut new, status::FEATURES_OK, features_ok);
        let have_features_ok = new & status::FEATURES_OK != 0;
        refuse(&mut new, status::DRIVER_OK, have_features_ok);
        self.status = new;
        if added & new & status::DRIVER_OK != 0 {
            let f = self.driver_features;
            for q in &mut self.queues {
                q.set_features(f & VIRTIO_F_INDIRECT_DESC != 0, f & VIRTIO_F_EVENT_IDX != 0);
            }
            self.rings_checked = false;
            self.device.activate(f);
            // Notifications latched before DRIVER_OK are served now.
            self.notified = u64::MAX >> (64 - self.queues.len().clamp(1, 64));
        }
    }

    fn selected_queue(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    /// A queue register write is allowed while the queue is not ready.
    fn queue_writable(&mut self) -> Option<&mut Queue> {
        self.selected_queue().filter(|q| !q.ready())
    }

    fn read_reg(&mut self, offset: u64) -> u32 {
        match offset {
            reg::MAGIC_VALUE => MAGIC,
            reg::VERSION => VERSION,
            reg::DEVICE_ID => self.device.device_id(),
            reg::VENDOR_ID => VENDOR_ID,
            reg::DEVICE_FEATURES => match self.device_features_sel {
                0 => self.device_features() as u32,
                1 => (self.device_features() >> 32) as u32,
                _ => 0,
            },
            reg::QUEUE_NUM_MAX => self.selected_queue().map_or(0, |q| u32::from(q.max_size())),
            reg::QUEUE_READY => self.selected_queue().map_or(0, |q| u32::from(q.ready())),
            reg::INTERRUPT_STATUS => self.interrupt_status,
            reg::STATUS => self.status,
            // No shared memory regions: length -1 (4.2.2.1).
            reg::SHM_LEN_LOW | reg::SHM_LEN_HIGH | reg::SHM_BASE_LOW | reg::SHM_BASE_HIGH => {
                u32::MAX
            }
            reg::CONFIG_GENERATION => self.config_generation,
            _ => 0,
        }
    }

    fn write_reg(&mut self, offset: u64, value: u32) {
        let set_low = |a: GuestAddress| GuestAddress((a.0 & !0xffff_ffff) | u64::from(value));
        let set_high =
            |a: GuestAddress| GuestAddress((a.0 & 0xffff_ffff) | (u64::from(value) << 32));
        match offset {
            reg::DEVICE_FEATURES_SEL => self.device_features_sel = value,
            reg::DRIVER_FEATURES => {
                let negotiating =
                    self.status & status::DRIVER != 0 && self.status & status::FEATURES_OK == 0;
                if negotiating {
                    match self.driver_features_sel {
                        0 => {
                            self.driver_features =
                                (self.driver_features & !0xffff_ffff) | u64::from(value)
                        }
                        1 => {
                            self.driver_features =
                                (self.driver_features & 0xffff_ffff) | (u64::from(value) << 32)
                        }
                        _ => {}
                    }
                }
            }
            reg::DRIVER_FEATURES_SEL => self.driver_features_sel = value,
            reg::QUEUE_SEL => self.queue_sel = value,
            reg::QUEUE_NUM => {
                if let Some(q) = self.queue_writable() {
                    q.set_size(u16::try_from(value).unwrap_or(0));
                }
            }
            reg::QUEUE_READY => {
                let result = match self.selected_queue() {
                    Some(q) => q.set_ready(value & 1 != 0),
                    None => Ok(()),
                };
                self.rings_checked = false;
                if let Err(e) = result {
                    self.fail(e);
                }
            }
            // Section 4.2.3.3: the value is the queue index.
            reg::QUEUE_NOTIFY if (value as usize) < self.queues.len() => {
                self.notified |= 1 << value;
            }
            reg::INTERRUPT_ACK => self.interrupt_status &= !value,
            reg::STATUS => self.write_status(value),
            reg::QUEUE_DESC_LOW => {
                if let Some(q) = self.queue_writable() {
                    q.set_desc_table(set_low(q.desc_table()));
                }
            }
            reg::QUEUE_DESC_HIGH => {
                if let Some(q) = self.queue_writable() {
                    q.set_desc_table(set_high(q.desc_table()));
                }
            }
            reg::QUEUE_DRIVER_LOW => {
                if let Some(q) = self.queue_writable() {
                    q.set_avail_ring(set_low(q.avail_ring()));
                }
            }
            reg::QUEUE_DRIVER_HIGH => {
                if let Some(q) = self.queue_writable() {
                    q.set_avail_ring(set_high(q.avail_ring()));
                }
            }
            reg::QUEUE_DEVICE_LOW => {
                if let Some(q) = self.queue_writable() {
                    q.set_used_ring(set_low(q.used_ring()));
                }
            }
            reg::QUEUE_DEVICE_HIGH => {
                if let Some(q) = self.queue_writable() {
                    q.set_used_ring(set_high(q.used_ring()));
                }
            }
            _ => {}
        }
    }
}

impl<D: VirtioDevice> MmioDevice for VirtioMmio<D> {
    fn read(&mut self, offset: u64, size: u8) -> Option<u64> {
        if offset < reg::CONFIG {
            if size != 4 || offset % 4 != 0 {
                return None;
            }
            return Some(u64::from(self.read_reg(offset)));
        }
        if offset >= MMIO_SIZE || !matches!(size, 1 | 2 | 4 | 8) {
            return None;
        }
        let mut b = [0u8; 8];
        self.device
            .read_config(offset - reg::CONFIG, &mut b[..usize::from(size)]);
        Some(u64::from_le_bytes(b))
    }

    fn write(&mut self, offset: u64, size: u8, value: u64) -> bool {
        if offset < reg::CONFIG {
            if size != 4 || offset % 4 != 0 {
                return false;
            }
            self.write_reg(offset, value as u32);
            return true;
        }
        if offset >= MMIO_SIZE || !matches!(size, 1 | 2 | 4 | 8) {
            return false;
        }
        let b = value.to_le_bytes();
        self.device
            .write_config(offset - reg::CONFIG, &b[..usize::from(size)]);
        true
    }
}

/// An object-safe view of any [`VirtioMmio`], for a board that keeps its
/// virtio devices in one list (`Vec<Box<dyn VirtioTransport>>`). MMIO
/// accesses go through the [`MmioDevice`] supertrait.
pub trait VirtioTransport: MmioDevice {
    /// The virtio device id.
    fn device_id(&self) -> u32;
    /// [`VirtioMmio::poll`] with dynamically dispatched memory.
    fn poll_dyn(&mut self, mem: &mut dyn GuestMemory);
    /// [`VirtioMmio::irq_level`].
    fn irq_level(&self) -> bool;
    /// [`VirtioMmio::has_notification`].
    fn has_notification(&self) -> bool;
}

impl<D: VirtioDevice> VirtioTransport for VirtioMmio<D> {
    fn device_id(&self) -> u32 {
        self.device.device_id()
    }
    fn poll_dyn(&mut self, mem: &mut dyn GuestMemory) {
        self.poll(mem);
    }
    fn irq_level(&self) -> bool {
        VirtioMmio::irq_level(self)
    }
    fn has_notification(&self) -> bool {
        VirtioMmio::has_notification(self)
    }
}

/// An unoccupied virtio-mmio slot: magic, version 2 and device id 0 ("the
/// device is not present", section 4.2.2.1), everything else zero, writes
/// ignored.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptySlot;

impl MmioDevice for EmptySlot {
    fn read(&mut self, offset: u64, size: u8) -> Option<u64> {
        if offset < reg::CONFIG {
            if size != 4 || offset % 4 != 0 {
                return None;
            }
            return Some(u64::from(match offset {
                reg::MAGIC_VALUE => MAGIC,
                reg::VERSION => VERSION,
                reg::VENDOR_ID => VENDOR_ID,
                _ => 0,
            }));
        }
        (offset < MMIO_SIZE && matches!(size, 1 | 2 | 4 | 8)).then_some(0)
    }

    fn write(&mut self, offset: u64, size: u8, _value: u64) -> bool {
        if offset < reg::CONFIG {
            size == 4 && offset % 4 == 0
        } else {
            offset < MMIO_SIZE && matches!(size, 1 | 2 | 4 | 8)
        }
    }
}

impl VirtioTransport for EmptySlot {
    fn device_id(&self) -> u32 {
        0
    }
    fn poll_dyn(&mut self, _mem: &mut dyn GuestMemory) {}
    fn irq_level(&self) -> bool {
        false
    }
    fn has_notification(&self) -> bool {
        false
    }
}
