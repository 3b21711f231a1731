//! A driver-side virtqueue mock: builds descriptor tables and avail rings in
//! a fake guest RAM, brings a device up through its MMIO registers, and reads
//! the used ring back. Shared by the integration tests.

#![allow(dead_code)]

use vf_devices::memory::{GuestAddress, GuestMemory, RamRegion};
use vf_devices::virtio::mmio::reg;
use vf_devices::virtio::{status, VirtioDevice, VirtioMmio, VIRTIO_F_VERSION_1};
use vf_devices::MmioDevice;

/// Where fake guest RAM starts.
pub const RAM_BASE: u64 = 0x8000_0000;
/// Its size.
pub const RAM_SIZE: usize = 4 << 20;
/// Where data buffers are handed out from (queues live below).
pub const DATA_BASE: u64 = RAM_BASE + (1 << 20);

pub fn ram() -> RamRegion {
    RamRegion::new(GuestAddress(RAM_BASE), RAM_SIZE).unwrap()
}

pub const F_NEXT: u16 = 1;
pub const F_WRITE: u16 = 2;
pub const F_INDIRECT: u16 = 4;

/// One descriptor as the driver writes it.
#[derive(Clone, Copy, Debug)]
pub struct Desc {
    pub addr: u64,
    pub len: u32,
    pub flags: u16,
    pub next: u16,
}

/// The driver's side of one split queue in fake RAM.
pub struct MockQueue {
    pub size: u16,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
    next_free: u16,
    avail_idx: u16,
    used_seen: u16,
}

impl MockQueue {
    /// A queue of `size` entries with its rings laid out from `base`.
    pub fn new(base: u64, size: u16) -> MockQueue {
        let n = u64::from(size);
        let desc = base;
        let avail = desc + 16 * n;
        let used = (avail + 6 + 2 * n + 3) & !3;
        MockQueue {
            size,
            desc,
            avail,
            used,
            next_free: 0,
            avail_idx: 0,
            used_seen: 0,
        }
    }

    pub fn write_desc(&self, mem: &mut RamRegion, table: u64, i: u16, d: Desc) {
        let at = GuestAddress(table + 16 * u64::from(i));
        mem.write_u64(at, d.addr).unwrap();
        mem.write_u32(GuestAddress(at.0 + 8), d.len).unwrap();
        mem.write_u16(GuestAddress(at.0 + 12), d.flags).unwrap();
        mem.write_u16(GuestAddress(at.0 + 14), d.next).unwrap();
    }

    /// Writes a chain of `(addr, len, writable)` buffers into free
    /// descriptors and returns its head (not yet published).
    pub fn add_chain(&mut self, mem: &mut RamRegion, bufs: &[(u64, u32, bool)]) -> u16 {
        let head = self.next_free % self.size;
        for (k, &(addr, len, w)) in bufs.iter().enumerate() {
            let i = (self.next_free + k as u16) % self.size;
            let last = k + 1 == bufs.len();
            let flags = if w { F_WRITE } else { 0 } | if last { 0 } else { F_NEXT };
            let next = (i + 1) % self.size;
            self.write_desc(
                mem,
                self.desc,
                i,
                Desc {
                    addr,
                    len,
                    flags,
                    next,
                },
            );
        }
        self.next_free = self.next_free.wrapping_add(bufs.len() as u16);
        head
    }

    /// Writes an indirect table of `bufs` at `table` and one descriptor
    /// pointing at it; returns the head.
    pub fn add_indirect(
        &mut self,
        mem: &mut RamRegion,
        table: u64,
        bufs: &[(u64, u32, bool)],
    ) -> u16 {
        for (k, &(addr, len, w)) in bufs.iter().enumerate() {
            let last = k + 1 == bufs.len();
            let flags = if w { F_WRITE } else { 0 } | if last { 0 } else { F_NEXT };
            self.write_desc(
                mem,
                table,
                k as u16,
                Desc {
                    addr,
                    len,
                    flags,
                    next: k as u16 + 1,
                },
            );
        }
        let head = self.next_free % self.size;
        let d = Desc {
            addr: table,
            len: 16 * bufs.len() as u32,
            flags: F_INDIRECT,
            next: 0,
        };
        self.write_desc(mem, self.desc, head, d);
        self.next_free = self.next_free.wrapping_add(1);
        head
    }

    /// Puts `head` on the avail ring and publishes the new index.
    pub fn publish(&mut self, mem: &mut RamRegion, head: u16) {
        let slot = u64::from(self.avail_idx % self.size);
        mem.write_u16(GuestAddress(self.avail + 4 + 2 * slot), head)
            .unwrap();
        self.avail_idx = self.avail_idx.wrapping_add(1);
        mem.write_u16(GuestAddress(self.avail + 2), self.avail_idx)
            .unwrap();
    }

    /// Sets the avail index directly (for hostile tests).
    pub fn set_avail_idx(&mut self, mem: &mut RamRegion, idx: u16) {
        self.avail_idx = idx;
        mem.write_u16(GuestAddress(self.avail + 2), idx).unwrap();
    }

    pub fn set_avail_flags(&self, mem: &mut RamRegion, flags: u16) {
        mem.write_u16(GuestAddress(self.avail), flags).unwrap();
    }

    /// Sets `used_event` (at the end of the avail ring).
    pub fn set_used_event(&self, mem: &mut RamRegion, v: u16) {
        let at = self.avail + 4 + 2 * u64::from(self.size);
        mem.write_u16(GuestAddress(at), v).unwrap();
    }

    /// Reads `avail_event` (at the end of the used ring).
    pub fn avail_event(&self, mem: &RamRegion) -> u16 {
        let at = self.used + 4 + 8 * u64::from(self.size);
        mem.read_u16(GuestAddress(at)).unwrap()
    }

    pub fn used_idx(&self, mem: &RamRegion) -> u16 {
        mem.read_u16(GuestAddress(self.used + 2)).unwrap()
    }

    /// Used elements `(id, len)` added since the last call.
    pub fn take_used(&mut self, mem: &RamRegion) -> Vec<(u32, u32)> {
        let idx = self.used_idx(mem);
        let mut out = Vec::new();
        while self.used_seen != idx {
            let slot = u64::from(self.used_seen % self.size);
            let at = self.used + 4 + 8 * slot;
            let id = mem.read_u32(GuestAddress(at)).unwrap();
            let len = mem.read_u32(GuestAddress(at + 4)).unwrap();
            out.push((id, len));
            self.used_seen = self.used_seen.wrapping_add(1);
        }
        out
    }
}

pub fn rd<D: VirtioDevice>(dev: &mut VirtioMmio<D>, off: u64) -> u32 {
    dev.read(off, 4).expect("register read") as u32
}

pub fn wr<D: VirtioDevice>(dev: &mut VirtioMmio<D>, off: u64, v: u32) {
    assert!(dev.write(off, 4, u64::from(v)), "register write {off:#x}");
}

pub fn device_features<D: VirtioDevice>(dev: &mut VirtioMmio<D>) -> u64 {
    wr(dev, reg::DEVICE_FEATURES_SEL, 0);
    let lo = rd(dev, reg::DEVICE_FEATURES);
    wr(dev, reg::DEVICE_FEATURES_SEL, 1);
    let hi = rd(dev, reg::DEVICE_FEATURES);
    u64::from(lo) | (u64::from(hi) << 32)
}

pub fn write_driver_features<D: VirtioDevice>(dev: &mut VirtioMmio<D>, f: u64) {
    wr(dev, reg::DRIVER_FEATURES_SEL, 0);
    wr(dev, reg::DRIVER_FEATURES, f as u32);
    wr(dev, reg::DRIVER_FEATURES_SEL, 1);
    wr(dev, reg::DRIVER_FEATURES, (f >> 32) as u32);
}

/// Configures queue `i` with the layout of `q`.
pub fn setup_queue<D: VirtioDevice>(dev: &mut VirtioMmio<D>, i: u32, q: &MockQueue) {
    wr(dev, reg::QUEUE_SEL, i);
    assert!(rd(dev, reg::QUEUE_NUM_MAX) >= u32::from(q.size));
    wr(dev, reg::QUEUE_NUM, u32::from(q.size));
    for (lo, a) in [
        (reg::QUEUE_DESC_LOW, q.desc),
        (reg::QUEUE_DRIVER_LOW, q.avail),
        (reg::QUEUE_DEVICE_LOW, q.used),
    ] {
        wr(dev, lo, a as u32);
        wr(dev, lo + 4, (a >> 32) as u32);
    }
    wr(dev, reg::QUEUE_READY, 1);
    assert_eq!(rd(dev, reg::QUEUE_READY), 1);
}

/// Brings the device to DRIVER_OK with `features` (VERSION_1 is added) and
/// queues of `size` entries laid out one after another from `RAM_BASE`.
pub fn bring_up<D: VirtioDevice>(
    dev: &mut VirtioMmio<D>,
    features: u64,
    size: u16,
) -> Vec<MockQueue> {
    wr(dev, reg::STATUS, 0);
    wr(dev, reg::STATUS, status::ACKNOWLEDGE);
    wr(dev, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER);
    let offered = device_features(dev);
    let f = (features | VIRTIO_F_VERSION_1) & offered;
    write_driver_features(dev, f);
    wr(
        dev,
        reg::STATUS,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
    );
    assert_ne!(
        rd(dev, reg::STATUS) & status::FEATURES_OK,
        0,
        "features refused"
    );
    let n = dev.device().queue_max_sizes().len();
    let mut queues = Vec::new();
    for i in 0..n {
        let q = MockQueue::new(RAM_BASE + 0x10000 * i as u64, size);
        setup_queue(dev, i as u32, &q);
        queues.push(q);
    }
    wr(
        dev,
        reg::STATUS,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK,
    );
    assert_ne!(rd(dev, reg::STATUS) & status::DRIVER_OK, 0);
    queues
}

/// Notifies queue `i` and lets the device run.
pub fn kick<D: VirtioDevice>(dev: &mut VirtioMmio<D>, mem: &mut RamRegion, i: u32) {
    wr(dev, reg::QUEUE_NOTIFY, i);
    dev.poll(mem);
}

/// Acknowledges all interrupts; returns the status that was pending.
pub fn ack<D: VirtioDevice>(dev: &mut VirtioMmio<D>) -> u32 {
    let s = rd(dev, reg::INTERRUPT_STATUS);
    wr(dev, reg::INTERRUPT_ACK, s);
    s
}

/// A small deterministic generator (xorshift64*), for fuzz-style tests.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
