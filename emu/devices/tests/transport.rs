//! The virtio-mmio transport: identification, feature negotiation, the status
//! state machine, queue registers, interrupts and notification suppression.

mod common;

use common::*;
use vf_devices::memory::{GuestAddress, GuestMemory};
use vf_devices::virtio::blk::{Blk, MemBlock, VIRTIO_BLK_F_FLUSH};
use vf_devices::virtio::console::Console;
use vf_devices::virtio::mmio::{reg, MAGIC, VENDOR_ID};
use vf_devices::virtio::{
    status, VirtioMmio, INTERRUPT_USED_BUFFER, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC,
    VIRTIO_F_VERSION_1,
};
use vf_devices::MmioDevice;

fn blk() -> VirtioMmio<Blk<MemBlock>> {
    VirtioMmio::new(Blk::new(MemBlock::new(vec![0; 8192], false)))
}

#[test]
fn identification_registers() {
    let mut d = blk();
    assert_eq!(rd(&mut d, reg::MAGIC_VALUE), MAGIC);
    assert_eq!(rd(&mut d, reg::VERSION), 2);
    assert_eq!(rd(&mut d, reg::DEVICE_ID), 2);
    assert_eq!(rd(&mut d, reg::VENDOR_ID), VENDOR_ID);
    let f = device_features(&mut d);
    assert_ne!(f & VIRTIO_F_VERSION_1, 0);
    assert_ne!(f & VIRTIO_F_INDIRECT_DESC, 0);
    assert_ne!(f & VIRTIO_F_EVENT_IDX, 0);
    assert_ne!(f & VIRTIO_BLK_F_FLUSH, 0);
    // No shared memory regions: length reads as -1.
    assert_eq!(rd(&mut d, reg::SHM_LEN_LOW), u32::MAX);
    assert_eq!(rd(&mut d, reg::SHM_LEN_HIGH), u32::MAX);
    // Queue 1 does not exist on a block device.
    wr(&mut d, reg::QUEUE_SEL, 1);
    assert_eq!(rd(&mut d, reg::QUEUE_NUM_MAX), 0);
    wr(&mut d, reg::QUEUE_SEL, 0);
    assert_eq!(rd(&mut d, reg::QUEUE_NUM_MAX), 256);
    // Registers take 32-bit aligned accesses only; config space takes more.
    assert_eq!(d.read(reg::MAGIC_VALUE, 1), None);
    assert_eq!(d.read(reg::MAGIC_VALUE + 2, 4), None);
    assert!(!d.write(reg::STATUS, 8, 1));
    assert_eq!(d.read(reg::CONFIG, 8), Some(16)); // capacity in sectors
    assert_eq!(d.read(reg::CONFIG, 1), Some(16));
    assert_eq!(d.read(reg::CONFIG, 3), None);
    assert_eq!(d.read(0x1000, 4), None);
}

#[test]
fn features_ok_requires_version_1_and_a_subset() {
    let mut d = blk();
    wr(&mut d, reg::STATUS, status::ACKNOWLEDGE);
    wr(&mut d, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER);
    // Without VERSION_1: refused.
    write_driver_features(&mut d, VIRTIO_BLK_F_FLUSH);
    wr(
        &mut d,
        reg::STATUS,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
    );
    assert_eq!(
        rd(&mut d, reg::STATUS),
        status::ACKNOWLEDGE | status::DRIVER
    );
    // A feature the device does not offer: refused.
    write_driver_features(&mut d, VIRTIO_F_VERSION_1 | 1 << 40);
    wr(
        &mut d,
        reg::STATUS,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
    );
    assert_eq!(rd(&mut d, reg::STATUS) & status::FEATURES_OK, 0);
    // A proper subset: accepted.
    write_driver_features(&mut d, VIRTIO_F_VERSION_1 | VIRTIO_BLK_F_FLUSH);
    wr(
        &mut d,
        reg::STATUS,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
    );
    assert_ne!(rd(&mut d, reg::STATUS) & status::FEATURES_OK, 0);
    // Features are frozen after FEATURES_OK.
    write_driver_features(&mut d, VIRTIO_F_VERSION_1);
    assert_eq!(d.driver_features(), VIRTIO_F_VERSION_1 | VIRTIO_BLK_F_FLUSH);
}

#[test]
fn status_bits_in_order_and_never_cleared() {
    let mut d = blk();
    // DRIVER without ACKNOWLEDGE, DRIVER_OK without FEATURES_OK: ignored.
    wr(&mut d, reg::STATUS, status::DRIVER);
    assert_eq!(rd(&mut d, reg::STATUS), 0);
    wr(
        &mut d,
        reg::STATUS,
        status::ACKNOWLEDGE | status::DRIVER | status::DRIVER_OK,
    );
    assert_eq!(
        rd(&mut d, reg::STATUS),
        status::ACKNOWLEDGE | status::DRIVER
    );
    // Features cannot be written before DRIVER.
    let mut e = blk();
    write_driver_features(&mut e, VIRTIO_F_VERSION_1);
    assert_eq!(e.driver_features(), 0);
    // Clearing a bit is not possible except by reset; the driver cannot set
    // DEVICE_NEEDS_RESET.
    wr(
        &mut d,
        reg::STATUS,
        status::ACKNOWLEDGE | status::DEVICE_NEEDS_RESET,
    );
    assert_eq!(
        rd(&mut d, reg::STATUS),
        status::ACKNOWLEDGE | status::DRIVER
    );
    wr(&mut d, reg::STATUS, status::FAILED);
    assert_eq!(
        rd(&mut d, reg::STATUS),
        status::ACKNOWLEDGE | status::DRIVER | status::FAILED
    );
    wr(&mut d, reg::STATUS, 0);
    assert_eq!(rd(&mut d, reg::STATUS), 0);
}

#[test]
fn no_processing_before_driver_ok_and_reset_clears_queues() {
    let mut mem = ram();
    let mut d = blk();
    wr(&mut d, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER);
    write_driver_features(&mut d, VIRTIO_F_VERSION_1);
    wr(
        &mut d,
        reg::STATUS,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
    );
    let mut q = MockQueue::new(RAM_BASE, 8);
    setup_queue(&mut d, 0, &q);
    // Queue registers are frozen while the queue is ready.
    wr(&mut d, reg::QUEUE_NUM, 4);
    assert_eq!(d.queues()[0].size(), 8);
    let hdr = DATA_BASE;
    mem.write_u32(GuestAddress(hdr), 8).unwrap(); // GET_ID
    let h = q.add_chain(&mut mem, &[(hdr, 16, false), (hdr + 64, 21, true)]);
    q.publish(&mut mem, h);
    kick(&mut d, &mut mem, 0);
    assert_eq!(q.used_idx(&mem), 0, "served before DRIVER_OK");
    wr(
        &mut d,
        reg::STATUS,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK,
    );
    // The notification latched before DRIVER_OK is served now.
    d.poll(&mut mem);
    assert_eq!(q.take_used(&mem), vec![(u32::from(h), 21)]);
    assert!(d.irq_level());
    wr(&mut d, reg::STATUS, 0);
    assert!(!d.irq_level());
    assert!(!d.queues()[0].ready());
    assert_eq!(d.driver_features(), 0);
}

#[test]
fn queue_ready_with_bad_size_needs_reset() {
    let mut d = blk();
    wr(&mut d, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER);
    write_driver_features(&mut d, VIRTIO_F_VERSION_1);
    wr(
        &mut d,
        reg::STATUS,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
    );
    wr(&mut d, reg::QUEUE_SEL, 0);
    wr(&mut d, reg::QUEUE_NUM, 12); // not a power of two
    wr(&mut d, reg::QUEUE_READY, 1);
    assert_eq!(rd(&mut d, reg::QUEUE_READY), 0);
    assert_ne!(rd(&mut d, reg::STATUS) & status::DEVICE_NEEDS_RESET, 0);
}

#[test]
fn interrupts_and_ack() {
    let mut mem = ram();
    let mut d = VirtioMmio::new(Console::new(Vec::new()));
    let mut qs = bring_up(&mut d, 0, 8);
    let buf = DATA_BASE;
    mem.write(GuestAddress(buf), b"hi").unwrap();
    let h = qs[1].add_chain(&mut mem, &[(buf, 2, false)]);
    qs[1].publish(&mut mem, h);
    kick(&mut d, &mut mem, 1);
    assert_eq!(d.device().backend(), b"hi");
    assert_eq!(rd(&mut d, reg::INTERRUPT_STATUS), INTERRUPT_USED_BUFFER);
    assert!(d.irq_level());
    wr(&mut d, reg::INTERRUPT_ACK, INTERRUPT_USED_BUFFER);
    assert!(!d.irq_level());
    // A poll with nothing new raises nothing.
    d.poll(&mut mem);
    assert!(!d.irq_level());
}

#[test]
fn no_interrupt_flag_suppresses_without_event_idx() {
    let mut mem = ram();
    let mut d = VirtioMmio::new(Console::new(Vec::new()));
    let mut qs = bring_up(&mut d, 0, 8);
    qs[1].set_avail_flags(&mut mem, 1);
    let h = qs[1].add_chain(&mut mem, &[(DATA_BASE, 1, false)]);
    qs[1].publish(&mut mem, h);
    kick(&mut d, &mut mem, 1);
    assert_eq!(qs[1].take_used(&mem).len(), 1);
    assert!(!d.irq_level());
}

#[test]
fn event_idx_used_event_and_avail_event() {
    let mut mem = ram();
    let mut d = VirtioMmio::new(Console::new(Vec::new()));
    let mut qs = bring_up(&mut d, VIRTIO_F_EVENT_IDX, 8);
    assert_ne!(d.driver_features() & VIRTIO_F_EVENT_IDX, 0);
    // The driver wants an interrupt only after the third used buffer
    // (used_event = 2).
    qs[1].set_used_event(&mut mem, 2);
    for k in 0..3u16 {
        let h = qs[1].add_chain(&mut mem, &[(DATA_BASE, 1, false)]);
        qs[1].publish(&mut mem, h);
        kick(&mut d, &mut mem, 1);
        // The device asks to be notified about the next avail entry.
        assert_eq!(qs[1].avail_event(&mem), k + 1);
        assert_eq!(d.irq_level(), k == 2, "after buffer {k}");
    }
    assert_eq!(qs[1].take_used(&mem).len(), 3);
}

#[test]
fn devices_behind_one_object_safe_trait() {
    use vf_devices::virtio::rng::{EntropyError, EntropySource, Rng};
    use vf_devices::virtio::VirtioTransport;
    struct Ones;
    impl EntropySource for Ones {
        fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
            buf.fill(1);
            Ok(())
        }
    }
    let mut mem = ram();
    let mut devs: Vec<Box<dyn VirtioTransport>> = vec![
        Box::new(blk()),
        Box::new(VirtioMmio::new(Console::new(Vec::new()))),
        Box::new(VirtioMmio::new(Rng::new(Ones))),
    ];
    let ids: Vec<u32> = devs.iter().map(|d| d.device_id()).collect();
    assert_eq!(ids, [2, 3, 4]);
    // Bring the entropy device up by registers alone, then post a buffer.
    let d = &mut devs[2];
    let w = |d: &mut Box<dyn VirtioTransport>, off: u64, v: u64| assert!(d.write(off, 4, v));
    w(d, reg::STATUS, 3);
    w(d, reg::DRIVER_FEATURES_SEL, 1);
    w(d, reg::DRIVER_FEATURES, 1); // VERSION_1
    w(d, reg::STATUS, 11);
    let mut q = MockQueue::new(RAM_BASE, 4);
    for (off, v) in [
        (reg::QUEUE_NUM, 4),
        (reg::QUEUE_DESC_LOW, q.desc),
        (reg::QUEUE_DRIVER_LOW, q.avail),
        (reg::QUEUE_DEVICE_LOW, q.used),
        (reg::QUEUE_READY, 1),
    ] {
        w(d, off, v & 0xffff_ffff);
    }
    w(d, reg::STATUS, 15);
    let h = q.add_chain(&mut mem, &[(DATA_BASE, 8, true)]);
    q.publish(&mut mem, h);
    w(d, reg::QUEUE_NOTIFY, 0);
    assert!(d.has_notification());
    d.poll_dyn(&mut mem);
    assert!(!d.has_notification());
    assert!(d.irq_level());
    assert_eq!(q.take_used(&mem), vec![(u32::from(h), 8)]);
    assert_eq!(
        mem.read_u64(GuestAddress(DATA_BASE)).unwrap(),
        0x0101_0101_0101_0101
    );
}

#[test]
fn empty_slot_reads_as_device_zero() {
    use vf_devices::virtio::{EmptySlot, VirtioTransport};
    let mut e = EmptySlot;
    assert_eq!(e.read(reg::MAGIC_VALUE, 4), Some(u64::from(MAGIC)));
    assert_eq!(e.read(reg::VERSION, 4), Some(2));
    assert_eq!(e.read(reg::DEVICE_ID, 4), Some(0));
    assert_eq!(e.read(reg::QUEUE_NUM_MAX, 4), Some(0));
    assert_eq!(e.read(reg::CONFIG, 1), Some(0));
    assert_eq!(e.read(reg::VERSION, 2), None);
    assert!(e.write(reg::STATUS, 4, 1));
    assert_eq!(e.read(reg::STATUS, 4), Some(0));
    assert!(!e.write(0x1000, 4, 0));
    assert!(!VirtioTransport::irq_level(&e));
}

#[test]
fn device_area_is_initialised_when_the_queue_goes_live() {
    let mut mem = ram();
    // Garbage where the used ring will be.
    mem.as_mut_slice()[..0x20000].fill(0xee);
    let mut d = VirtioMmio::new(Console::new(Vec::new()));
    let mut qs = bring_up(&mut d, VIRTIO_F_EVENT_IDX, 8);
    // The driver's own avail rings are set up; the device area is not.
    for q in &mut qs {
        q.set_avail_flags(&mut mem, 0);
        q.set_avail_idx(&mut mem, 0);
        q.set_used_event(&mut mem, 0);
    }
    d.poll(&mut mem);
    assert_eq!(d.last_error(), None);
    for q in &qs {
        assert_eq!(mem.read_u16(GuestAddress(q.used)).unwrap(), 0, "flags");
        assert_eq!(q.used_idx(&mem), 0);
        assert_eq!(q.avail_event(&mem), 0);
    }
    let h = qs[1].add_chain(&mut mem, &[(DATA_BASE, 1, false)]);
    qs[1].publish(&mut mem, h);
    kick(&mut d, &mut mem, 1);
    assert_eq!(qs[1].take_used(&mem), vec![(u32::from(h), 0)]);
    assert!(d.irq_level());
}
