//! Hostile guests: every malformed descriptor chain and ring the queue
//! rejects, and random bytes as rings and tables for many seeds. Nothing here
//! may panic or touch memory outside guest RAM.

mod common;

use common::*;
use vf_devices::memory::{GuestAddress, GuestMemory, RamRegion};
use vf_devices::virtio::blk::{Blk, MemBlock, VIRTIO_BLK_T_IN};
use vf_devices::virtio::console::Console;
use vf_devices::virtio::mmio::reg;
use vf_devices::virtio::queue::{DescChain, Queue, QueueStats, MAX_INDIRECT_DESCRIPTORS};
use vf_devices::virtio::rng::{EntropyError, EntropySource, Rng};
use vf_devices::virtio::{
    status, ChainError, QueueError, VirtioMmio, INTERRUPT_CONFIG_CHANGE, VIRTIO_F_EVENT_IDX,
    VIRTIO_F_INDIRECT_DESC,
};
use vf_devices::MmioDevice;

const SIZE: u16 = 8;
const TABLE: u64 = DATA_BASE + 0x8000;

/// A ready queue of 8 at RAM_BASE with the mock for it.
fn queue(indirect: bool) -> (Queue, MockQueue) {
    let m = MockQueue::new(RAM_BASE, SIZE);
    let mut q = Queue::new(SIZE);
    q.set_desc_table(GuestAddress(m.desc));
    q.set_avail_ring(GuestAddress(m.avail));
    q.set_used_ring(GuestAddress(m.used));
    q.set_features(indirect, false);
    q.set_ready(true).unwrap();
    (q, m)
}

fn desc(addr: u64, len: u32, flags: u16, next: u16) -> Desc {
    Desc {
        addr,
        len,
        flags,
        next,
    }
}

/// Publishes a chain starting at descriptor `head` (already written), pops
/// it, and expects it rejected with `want` and returned with 0 bytes.
fn expect_bad(mem: &mut RamRegion, q: &mut Queue, m: &mut MockQueue, head: u16, want: ChainError) {
    let before = q.stats().bad_chains;
    m.publish(mem, head);
    let mut chain = DescChain::new();
    assert_eq!(q.next_request(mem, &mut chain), Ok(false));
    assert_eq!(q.stats().bad_chains, before + 1);
    assert_eq!(q.stats().last_chain_error, Some(want));
    assert_eq!(m.take_used(mem), vec![(u32::from(head), 0)]);
}

#[test]
fn good_chain_parses_into_segments() {
    let mut mem = ram();
    let (mut q, mut m) = queue(false);
    let h = m.add_chain(
        &mut mem,
        &[
            (DATA_BASE, 10, false),
            (DATA_BASE + 100, 20, true),
            (DATA_BASE + 200, 0, true),
        ],
    );
    m.publish(&mut mem, h);
    let mut c = DescChain::new();
    assert_eq!(q.next_request(&mut mem, &mut c), Ok(true));
    assert_eq!(c.head(), h);
    assert_eq!(c.readable_len(), 10);
    assert_eq!(c.writable_len(), 20);
    assert_eq!(c.readable().len(), 1);
    assert_eq!(c.writable().len(), 2);
    // Reads stop at the readable part, writes at the writable part.
    let mut b = [0u8; 32];
    assert_eq!(c.read_at(&mem, 4, &mut b), Ok(6));
    assert_eq!(c.write_at(&mut mem, 15, &[1; 10]), Ok(5));
    assert_eq!(q.stats(), QueueStats::default());
}

#[test]
fn descriptor_loop() {
    let mut mem = ram();
    let (mut q, mut m) = queue(false);
    m.write_desc(&mut mem, m.desc, 0, desc(DATA_BASE, 1, F_NEXT, 1));
    m.write_desc(&mut mem, m.desc, 1, desc(DATA_BASE, 1, F_NEXT, 0));
    expect_bad(
        &mut mem,
        &mut q,
        &mut m,
        0,
        ChainError::TooLong { limit: 8 },
    );
    // A self-loop too.
    m.write_desc(&mut mem, m.desc, 2, desc(DATA_BASE, 1, F_NEXT, 2));
    expect_bad(
        &mut mem,
        &mut q,
        &mut m,
        2,
        ChainError::TooLong { limit: 8 },
    );
}

#[test]
fn next_index_outside_the_table() {
    let mut mem = ram();
    let (mut q, mut m) = queue(false);
    m.write_desc(&mut mem, m.desc, 0, desc(DATA_BASE, 1, F_NEXT, 8));
    expect_bad(
        &mut mem,
        &mut q,
        &mut m,
        0,
        ChainError::IndexOutOfRange { index: 8, size: 8 },
    );
}

#[test]
fn buffers_outside_ram() {
    let mut mem = ram();
    let (mut q, mut m) = queue(false);
    let end = RAM_BASE + RAM_SIZE as u64;
    for (addr, len) in [(end - 4, 8u32), (0x1000, 4), (u64::MAX - 2, 16), (end, 1)] {
        m.write_desc(&mut mem, m.desc, 3, desc(addr, len, F_WRITE, 0));
        m.publish(&mut mem, 3);
        let mut c = DescChain::new();
        assert_eq!(q.next_request(&mut mem, &mut c), Ok(false));
        assert!(
            matches!(q.stats().last_chain_error, Some(ChainError::Memory(_))),
            "{addr:#x}+{len}: {:?}",
            q.stats().last_chain_error
        );
        assert_eq!(m.take_used(&mem), vec![(3, 0)]);
    }
    assert_eq!(q.stats().bad_chains, 4);
}

#[test]
fn readable_after_writable() {
    let mut mem = ram();
    let (mut q, mut m) = queue(false);
    let h = m.add_chain(&mut mem, &[(DATA_BASE, 4, true), (DATA_BASE + 8, 4, false)]);
    expect_bad(&mut mem, &mut q, &mut m, h, ChainError::WrongDirection);
}

#[test]
fn total_length_overflow() {
    let mut mem = RamRegion::new(GuestAddress(0), 1 << 20).unwrap();
    let m = MockQueue::new(0, SIZE);
    let mut q = Queue::new(SIZE);
    q.set_desc_table(GuestAddress(m.desc));
    q.set_avail_ring(GuestAddress(m.avail));
    q.set_used_ring(GuestAddress(m.used));
    q.set_ready(true).unwrap();
    // Two buffers whose lengths add up past u32::MAX. A 4 GiB RAM is too
    // big for a test, so this memory claims every range is RAM (the
    // buffers are never accessed: the length check rejects the chain).
    struct HugeRam(RamRegion);
    impl GuestMemory for HugeRam {
        fn read(&self, a: GuestAddress, b: &mut [u8]) -> vf_devices::memory::Result<()> {
            self.0.read(a, b)
        }
        fn write(&mut self, a: GuestAddress, b: &[u8]) -> vf_devices::memory::Result<()> {
            self.0.write(a, b)
        }
        fn check_range(&self, _: GuestAddress, _: u64) -> vf_devices::memory::Result<()> {
            Ok(())
        }
    }
    let mut m = m;
    let h = m.add_chain(&mut mem, &[(0x1000, u32::MAX, true), (0x2000, 1, true)]);
    m.publish(&mut mem, h);
    let mut huge = HugeRam(mem);
    let mut c = DescChain::new();
    assert_eq!(q.next_request(&mut huge, &mut c), Ok(false));
    assert_eq!(q.stats().last_chain_error, Some(ChainError::LengthOverflow));
}

#[test]
fn indirect_cases() {
    let mut mem = ram();
    // Not negotiated.
    let (mut q, mut m) = queue(false);
    let h = m.add_indirect(&mut mem, TABLE, &[(DATA_BASE, 4, true)]);
    expect_bad(
        &mut mem,
        &mut q,
        &mut m,
        h,
        ChainError::IndirectNotNegotiated,
    );

    let (mut q, mut m) = queue(true);
    // Nested: an indirect descriptor inside the table.
    m.write_desc(&mut mem, TABLE, 0, desc(TABLE + 0x100, 16, F_INDIRECT, 0));
    m.write_desc(&mut mem, m.desc, 0, desc(TABLE, 16, F_INDIRECT, 0));
    expect_bad(&mut mem, &mut q, &mut m, 0, ChainError::NestedIndirect);
    // INDIRECT together with NEXT.
    m.write_desc(&mut mem, TABLE, 0, desc(DATA_BASE, 4, 0, 0));
    m.write_desc(&mut mem, m.desc, 0, desc(TABLE, 16, F_INDIRECT | F_NEXT, 1));
    expect_bad(&mut mem, &mut q, &mut m, 0, ChainError::IndirectWithNext);
    // Table lengths: zero, ragged, too many entries.
    for len in [0u32, 20, 16 * (MAX_INDIRECT_DESCRIPTORS + 1)] {
        m.write_desc(&mut mem, m.desc, 0, desc(TABLE, len, F_INDIRECT, 0));
        expect_bad(
            &mut mem,
            &mut q,
            &mut m,
            0,
            ChainError::BadIndirectLength { len },
        );
    }
    // The table itself outside RAM.
    let end = RAM_BASE + RAM_SIZE as u64;
    m.write_desc(&mut mem, m.desc, 0, desc(end - 16, 32, F_INDIRECT, 0));
    m.publish(&mut mem, 0);
    let mut c = DescChain::new();
    assert_eq!(q.next_request(&mut mem, &mut c), Ok(false));
    assert!(matches!(
        q.stats().last_chain_error,
        Some(ChainError::Memory(_))
    ));
    m.take_used(&mem);
    // A loop inside the table, and a next index past its end.
    m.write_desc(&mut mem, TABLE, 0, desc(DATA_BASE, 4, F_NEXT, 1));
    m.write_desc(&mut mem, TABLE, 1, desc(DATA_BASE, 4, F_NEXT, 0));
    m.write_desc(&mut mem, m.desc, 0, desc(TABLE, 32, F_INDIRECT, 0));
    expect_bad(
        &mut mem,
        &mut q,
        &mut m,
        0,
        ChainError::TooLong { limit: 2 },
    );
    m.write_desc(&mut mem, TABLE, 1, desc(DATA_BASE, 4, F_NEXT, 2));
    expect_bad(
        &mut mem,
        &mut q,
        &mut m,
        0,
        ChainError::IndexOutOfRange { index: 2, size: 2 },
    );
    // Direction is checked inside tables as well.
    m.write_desc(&mut mem, TABLE, 0, desc(DATA_BASE, 4, F_WRITE | F_NEXT, 1));
    m.write_desc(&mut mem, TABLE, 1, desc(DATA_BASE, 4, 0, 0));
    expect_bad(&mut mem, &mut q, &mut m, 0, ChainError::WrongDirection);
    // After all that, a good request still works.
    let h = m.add_indirect(
        &mut mem,
        TABLE,
        &[(DATA_BASE, 4, false), (DATA_BASE + 8, 4, true)],
    );
    m.publish(&mut mem, h);
    assert_eq!(q.next_request(&mut mem, &mut c), Ok(true));
    assert_eq!((c.readable_len(), c.writable_len()), (4, 4));
}

#[test]
fn avail_index_jump_needs_reset() {
    let mut mem = ram();
    let (mut q, mut m) = queue(false);
    m.set_avail_idx(&mut mem, SIZE + 1);
    let mut c = DescChain::new();
    assert_eq!(
        q.next_request(&mut mem, &mut c),
        Err(QueueError::AvailIdxJump {
            avail_idx: SIZE + 1,
            next_avail: 0,
            size: SIZE
        })
    );
    // Through the transport: DEVICE_NEEDS_RESET and a config interrupt,
    // then nothing more is processed until a reset.
    let mut d = VirtioMmio::new(Console::new(Vec::new()));
    let mut qs = bring_up(&mut d, 0, SIZE);
    qs[1].set_avail_idx(&mut mem, 200);
    kick(&mut d, &mut mem, 1);
    assert_ne!(rd(&mut d, reg::STATUS) & status::DEVICE_NEEDS_RESET, 0);
    assert_eq!(rd(&mut d, reg::INTERRUPT_STATUS), INTERRUPT_CONFIG_CHANGE);
    assert!(matches!(
        d.last_error(),
        Some(QueueError::AvailIdxJump { .. })
    ));
    qs[1].set_avail_idx(&mut mem, 0);
    let h = qs[1].add_chain(&mut mem, &[(DATA_BASE, 1, false)]);
    qs[1].publish(&mut mem, h);
    kick(&mut d, &mut mem, 1);
    assert_eq!(qs[1].used_idx(&mem), 0);
    // A reset and a fresh bring-up recover.
    let mut qs = bring_up(&mut d, 0, SIZE);
    qs[1].set_avail_idx(&mut mem, 0);
    mem.write_u16(GuestAddress(qs[1].used + 2), 0).unwrap();
    let h = qs[1].add_chain(&mut mem, &[(DATA_BASE, 1, false)]);
    qs[1].publish(&mut mem, h);
    kick(&mut d, &mut mem, 1);
    assert_eq!(qs[1].take_used(&mem).len(), 1);
    assert_eq!(rd(&mut d, reg::STATUS) & status::DEVICE_NEEDS_RESET, 0);
}

#[test]
fn head_outside_the_table_needs_reset() {
    let mut mem = ram();
    let (mut q, mut m) = queue(false);
    m.publish(&mut mem, SIZE);
    let mut c = DescChain::new();
    assert_eq!(
        q.next_request(&mut mem, &mut c),
        Err(QueueError::HeadOutOfRange {
            head: SIZE,
            size: SIZE
        })
    );
}

#[test]
fn rings_outside_ram_need_reset() {
    let mut mem = ram();
    let mut d = VirtioMmio::new(Console::new(Vec::new()));
    wr(&mut d, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER);
    write_driver_features(&mut d, vf_devices::virtio::VIRTIO_F_VERSION_1);
    wr(
        &mut d,
        reg::STATUS,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
    );
    // The used ring runs past the end of RAM.
    let mut m = MockQueue::new(RAM_BASE, 8);
    m.used = RAM_BASE + RAM_SIZE as u64 - 16;
    setup_queue(&mut d, 1, &m);
    wr(
        &mut d,
        reg::STATUS,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK,
    );
    d.poll(&mut mem);
    assert_ne!(d.status() & status::DEVICE_NEEDS_RESET, 0);
    assert!(matches!(d.last_error(), Some(QueueError::Memory(_))));
}

struct Zeros;
impl EntropySource for Zeros {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        buf.fill(0);
        Ok(())
    }
}

/// Fills the queue area with random bytes, with a bias towards plausible
/// values (small indices, addresses inside RAM, real flag bits) so the
/// parser gets deep, then runs each device. It must never panic; afterwards
/// guest RAM outside its bounds was never touched (RamRegion would have
/// refused), and the device is either fine or in DEVICE_NEEDS_RESET.
fn fuzz_device<D: vf_devices::virtio::VirtioDevice>(
    mut make: impl FnMut() -> VirtioMmio<D>,
    seeds: u64,
) {
    let mut mem = ram();
    let (mut used, mut bad) = (0u64, 0u64);
    for seed in 1..=seeds {
        let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut d = make();
        let features = if seed % 2 == 0 {
            VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX
        } else {
            0
        };
        let size = 1u16 << rng.below(5);
        let qs = bring_up(&mut d, features, size);
        // Random bytes over all rings and the data area start.
        let span = 0x10000 * qs.len();
        rng.fill(&mut mem.as_mut_slice()[..span]);
        rng.fill(&mut mem.as_mut_slice()[(DATA_BASE - RAM_BASE) as usize..][..0x10000]);
        // Bias: rewrite some descriptors with plausible fields.
        for q in &qs {
            for i in 0..size {
                if rng.below(2) == 0 {
                    let addr = match rng.below(4) {
                        0 => rng.next_u64(),
                        1 => RAM_BASE + RAM_SIZE as u64 - rng.below(64),
                        _ => DATA_BASE + rng.below(0x10000),
                    };
                    let len = match rng.below(3) {
                        0 => rng.next_u64() as u32,
                        _ => rng.below(1024) as u32,
                    };
                    let flags = rng.below(8) as u16;
                    let next = rng.below(u64::from(size) + 2) as u16;
                    q.write_desc(
                        &mut mem,
                        q.desc,
                        i,
                        Desc {
                            addr,
                            len,
                            flags,
                            next,
                        },
                    );
                }
            }
            // A plausible avail index most of the time.
            if rng.below(4) != 0 {
                let idx = rng.below(u64::from(size) + 1) as u16;
                mem.write_u16(GuestAddress(q.avail + 2), idx).unwrap();
                for s in 0..size {
                    let head = rng.below(u64::from(size) + 1) as u16;
                    mem.write_u16(GuestAddress(q.avail + 4 + 2 * u64::from(s)), head)
                        .unwrap();
                }
            }
        }
        for round in 0..3 {
            for i in 0..qs.len() as u32 {
                kick(&mut d, &mut mem, i);
            }
            // Random register writes too (the transport must hold up).
            if round == 1 {
                let off = rng.below(0x200) & !3;
                let _ = d.write(off, 4, rng.next_u64());
                d.poll(&mut mem);
            }
        }
        // DEVICE_NEEDS_RESET is set exactly when a queue error was recorded.
        let st = d.status();
        assert_eq!(
            st & status::DEVICE_NEEDS_RESET != 0,
            d.last_error().is_some(),
            "seed {seed}"
        );
        // Every used element the device wrote names a head inside its table.
        for (q, mq) in d.queues().iter().zip(&qs) {
            used += u64::from(q.next_used());
            bad += q.stats().bad_chains;
            let written = q.next_used().min(q.size());
            for slot in 0..u64::from(written) {
                let id = mem.read_u32(GuestAddress(mq.used + 4 + 8 * slot)).unwrap();
                assert!(id < u32::from(q.size()), "seed {seed}: used id {id}");
            }
        }
    }
    // The inputs reached both good and bad chains.
    assert!(used > seeds / 4, "only {used} requests completed");
    assert!(bad > seeds / 4, "only {bad} bad chains");
}

#[test]
fn fuzz_blk() {
    fuzz_device(
        || {
            let mut data = vec![0u8; 64 * 512];
            data[0] = VIRTIO_BLK_T_IN as u8;
            VirtioMmio::new(Blk::new(MemBlock::new(data, false)))
        },
        600,
    );
}

#[test]
fn fuzz_console() {
    fuzz_device(
        || {
            let mut c = Console::new(Vec::new());
            c.push_input(&[7; 3000]);
            VirtioMmio::new(c)
        },
        600,
    );
}

#[test]
fn fuzz_9p() {
    use vf_devices::p9::{Config, MemFs};
    use vf_devices::virtio::p9::P9;
    fuzz_device(
        || VirtioMmio::new(P9::new(MemFs::new(), Config::default(), "fuzz").unwrap()),
        400,
    );
}

#[test]
fn fuzz_rng() {
    fuzz_device(|| VirtioMmio::new(Rng::new(Zeros)), 400);
}

/// Random bytes straight into the queue parser, with no bias at all.
#[test]
fn fuzz_raw_queue() {
    let mut mem = ram();
    let mut chain = DescChain::new();
    for seed in 1..=2000u64 {
        let mut rng = XorShift(seed | 1 << 40);
        rng.fill(&mut mem.as_mut_slice()[..0x2000]);
        let size = 1u16 << rng.below(8);
        let mut q = Queue::new(size);
        q.set_desc_table(GuestAddress(RAM_BASE));
        q.set_avail_ring(GuestAddress(RAM_BASE + 0x1000));
        q.set_used_ring(GuestAddress(RAM_BASE + 0x1800));
        q.set_features(seed % 2 == 0, seed % 3 == 0);
        q.set_ready(true).unwrap();
        for _ in 0..=size {
            match q.next_request(&mut mem, &mut chain) {
                Ok(true) => {
                    let mut b = [0u8; 64];
                    let _ = chain.read_at(&mem, 0, &mut b);
                    let _ = chain.write_at(&mut mem, 0, &b);
                    q.add_used(&mut mem, chain.head(), 1).unwrap();
                }
                Ok(false) | Err(_) => break,
            }
        }
        let _ = q.needs_notification(&mem);
    }
}

/// Random register traffic (any offset, size and value) interleaved with
/// polls over random RAM: the transport must hold up, and its invariants
/// (DEVICE_NEEDS_RESET iff an error was recorded, interrupt line = status
/// not zero) must hold after every step.
#[test]
fn fuzz_mmio_registers() {
    let mut mem = ram();
    let mut rng = XorShift(0x5eed);
    rng.fill(&mut mem.as_mut_slice()[..0x40000]);
    let mut devs: Vec<Box<dyn vf_devices::virtio::VirtioTransport>> = vec![
        Box::new(VirtioMmio::new(Blk::new(MemBlock::new(
            vec![0; 4096],
            false,
        )))),
        Box::new(VirtioMmio::new(Console::new(Vec::new()))),
        Box::new(VirtioMmio::new(Rng::new(Zeros))),
        Box::new(VirtioMmio::new(
            vf_devices::virtio::p9::P9::new(
                vf_devices::p9::MemFs::new(),
                vf_devices::p9::Config::default(),
                "fuzz",
            )
            .unwrap(),
        )),
    ];
    let mut reached_driver_ok = 0;
    for step in 0..60_000u32 {
        let d = &mut devs[(step % 4) as usize];
        if step % 500 < 4 {
            // Now and then a proper bring-up, so the random traffic also
            // hits live devices.
            let w = |d: &mut Box<dyn vf_devices::virtio::VirtioTransport>, off: u64, v: u64| {
                assert!(d.write(off, 4, v));
            };
            w(d, reg::STATUS, 0);
            w(d, reg::STATUS, 3);
            w(d, reg::DRIVER_FEATURES_SEL, 1);
            w(d, reg::DRIVER_FEATURES, 1);
            w(d, reg::STATUS, 11);
            for q in 0..2 {
                w(d, reg::QUEUE_SEL, q);
                w(d, reg::QUEUE_NUM, 1 << rng.below(4));
                w(d, reg::QUEUE_DESC_LOW, RAM_BASE + (rng.below(0x30) << 12));
                w(d, reg::QUEUE_DRIVER_LOW, RAM_BASE + (rng.below(0x30) << 12));
                w(d, reg::QUEUE_DEVICE_LOW, RAM_BASE + (rng.below(0x30) << 12));
                w(d, reg::QUEUE_READY, 1);
            }
            w(d, reg::STATUS, 15);
        }
        // Mostly registers, sometimes config space and beyond the window.
        let off = match rng.below(8) {
            0 => rng.below(0x2000),
            1 => 0x100 + rng.below(0x20),
            _ => rng.below(0x100) & !3,
        };
        let size = [1u8, 2, 4, 4, 4, 8][rng.below(6) as usize];
        // Values biased towards what a driver writes.
        let value = match rng.below(4) {
            0 => rng.next_u64(),
            1 => rng.below(16),
            2 => RAM_BASE + (rng.below(0x40) << 12),
            _ => [1u64, 3, 11, 15][rng.below(4) as usize],
        };
        if rng.below(2) == 0 {
            let _ = d.read(off, size);
        } else {
            let _ = d.write(off, size, value);
        }
        if rng.below(4) == 0 {
            d.poll_dyn(&mut mem);
        }
        let st = d.read(reg::STATUS, 4).unwrap() as u32;
        if st & status::DRIVER_OK != 0 {
            reached_driver_ok += 1;
        }
        let isr = d.read(reg::INTERRUPT_STATUS, 4).unwrap();
        assert_eq!(d.irq_level(), isr != 0, "step {step}");
        assert_eq!(d.read(reg::MAGIC_VALUE, 4), Some(0x7472_6976));
    }
    assert!(
        reached_driver_ok > 0,
        "the random traffic never brought a device up"
    );
}
