//! Throughput of the virtqueue path: virtio-blk reads through the queue
//! (descriptor parsing, bounce buffer, used ring), and small console writes.
//! Run with `cargo bench -p vf-devices --bench virtqueue`; it prints figures
//! and asserts nothing about time.

use std::time::Instant;

use vf_devices::memory::{GuestAddress, GuestMemory, RamRegion};
use vf_devices::virtio::blk::{Blk, MemBlock, VIRTIO_BLK_T_IN};
use vf_devices::virtio::console::Console;
use vf_devices::virtio::mmio::reg;
use vf_devices::virtio::{VirtioDevice, VirtioMmio, VIRTIO_F_VERSION_1};
use vf_devices::MmioDevice;

const RAM: u64 = 0x8000_0000;
const QSIZE: u16 = 128;

fn w<D: VirtioDevice>(d: &mut VirtioMmio<D>, off: u64, v: u64) {
    assert!(d.write(off, 4, v));
}

/// Brings queue `q` up with its rings at RAM + 0x10000 * q.
fn bring_up<D: VirtioDevice>(d: &mut VirtioMmio<D>, queues: u32) {
    w(d, reg::STATUS, 3);
    w(d, reg::DRIVER_FEATURES_SEL, 1);
    w(d, reg::DRIVER_FEATURES, VIRTIO_F_VERSION_1 >> 32);
    w(d, reg::STATUS, 11);
    for q in 0..queues {
        let base = RAM + 0x10000 * u64::from(q);
        w(d, reg::QUEUE_SEL, u64::from(q));
        w(d, reg::QUEUE_NUM, u64::from(QSIZE));
        w(d, reg::QUEUE_DESC_LOW, base);
        w(d, reg::QUEUE_DRIVER_LOW, base + 0x1000);
        w(d, reg::QUEUE_DEVICE_LOW, base + 0x2000);
        w(d, reg::QUEUE_READY, 1);
    }
    w(d, reg::STATUS, 15);
}

fn desc(mem: &mut RamRegion, table: u64, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
    let at = table + 16 * u64::from(i);
    mem.write_u64(GuestAddress(at), addr).unwrap();
    mem.write_u32(GuestAddress(at + 8), len).unwrap();
    mem.write_u16(GuestAddress(at + 12), flags).unwrap();
    mem.write_u16(GuestAddress(at + 14), next).unwrap();
}

fn main() {
    let mut mem = RamRegion::new(GuestAddress(RAM), 64 << 20).unwrap();

    // virtio-blk: 64 KiB reads, one request per notify.
    let disk = vec![0x5au8; 32 << 20];
    let mut d = VirtioMmio::new(Blk::new(MemBlock::new(disk, false)));
    bring_up(&mut d, 1);
    let (hdr, data, st) = (RAM + 0x100000, RAM + 0x200000, RAM + 0x180000);
    mem.write_u32(GuestAddress(hdr), VIRTIO_BLK_T_IN).unwrap();
    desc(&mut mem, RAM, 0, hdr, 16, 1, 1);
    desc(&mut mem, RAM, 1, data, 65536, 3, 2);
    desc(&mut mem, RAM, 2, st, 1, 2, 0);
    let n = 20_000u32;
    let start = Instant::now();
    for i in 0..n {
        let sector = u64::from(i % 400) * 128;
        mem.write_u64(GuestAddress(hdr + 8), sector).unwrap();
        let slot = u64::from(i as u16 % QSIZE);
        mem.write_u16(GuestAddress(RAM + 0x1000 + 4 + 2 * slot), 0)
            .unwrap();
        mem.write_u16(GuestAddress(RAM + 0x1002), (i + 1) as u16)
            .unwrap();
        w(&mut d, reg::QUEUE_NOTIFY, 0);
        d.poll(&mut mem);
        w(&mut d, reg::INTERRUPT_ACK, 3);
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(d.device().stats().ok, u64::from(n));
    println!(
        "virtio-blk 64 KiB reads: {:.0} requests/s, {:.0} MiB/s",
        f64::from(n) / secs,
        f64::from(n) * 64.0 / 1024.0 / secs
    );

    // virtio-console: 1-byte writes, one per notify (Linux's hvc pattern).
    let mut c = VirtioMmio::new(Console::new(Vec::with_capacity(1 << 20)));
    bring_up(&mut c, 2);
    let tx = RAM + 0x10000;
    desc(&mut mem, tx, 0, data, 1, 0, 0);
    let n = 200_000u32;
    let start = Instant::now();
    for i in 0..n {
        let slot = u64::from(i as u16 % QSIZE);
        mem.write_u16(GuestAddress(tx + 0x1000 + 4 + 2 * slot), 0)
            .unwrap();
        mem.write_u16(GuestAddress(tx + 0x1002), (i + 1) as u16)
            .unwrap();
        w(&mut c, reg::QUEUE_NOTIFY, 1);
        c.poll(&mut mem);
        w(&mut c, reg::INTERRUPT_ACK, 3);
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(c.device().backend().len(), n as usize);
    println!(
        "virtio-console 1-byte writes: {:.0} requests/s",
        f64::from(n) / secs
    );
}
