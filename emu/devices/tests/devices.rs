//! The console, block and entropy devices driven through the queue mock.

mod common;

use common::*;
use vf_devices::memory::{GuestAddress, GuestMemory, RamRegion};
use vf_devices::virtio::blk::{
    Blk, BlkStats, MemBlock, RequestError, VIRTIO_BLK_F_RO, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK,
    VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN,
    VIRTIO_BLK_T_OUT,
};
use vf_devices::virtio::console::{Console, INPUT_CAPACITY};
use vf_devices::virtio::mmio::reg;
use vf_devices::virtio::rng::{EntropyError, EntropySource, Rng, MAX_BYTES_PER_REQUEST};
use vf_devices::virtio::{VirtioMmio, INTERRUPT_CONFIG_CHANGE, VIRTIO_F_INDIRECT_DESC};
use vf_devices::MmioDevice;

const HDR: u64 = DATA_BASE;
const DATA: u64 = DATA_BASE + 0x1000;
const STATUS: u64 = DATA_BASE + 0x800;

fn disk(sectors: usize, ro: bool) -> VirtioMmio<Blk<MemBlock>> {
    let data = (0..sectors * 512).map(|i| (i / 512) as u8).collect();
    VirtioMmio::new(Blk::new(MemBlock::new(data, ro)))
}

fn header(mem: &mut RamRegion, ty: u32, sector: u64) {
    mem.write_u32(GuestAddress(HDR), ty).unwrap();
    mem.write_u32(GuestAddress(HDR + 4), 0).unwrap();
    mem.write_u64(GuestAddress(HDR + 8), sector).unwrap();
    mem.write(GuestAddress(STATUS), &[0xff]).unwrap();
}

fn status_byte(mem: &RamRegion) -> u8 {
    let mut b = [0];
    mem.read(GuestAddress(STATUS), &mut b).unwrap();
    b[0]
}

#[test]
fn blk_reads_and_writes_sectors() {
    let mut mem = ram();
    let mut d = disk(64, false);
    let mut qs = bring_up(&mut d, 0, 16);
    let q = &mut qs[0];
    // Read sectors 3 and 4 into two data buffers.
    header(&mut mem, VIRTIO_BLK_T_IN, 3);
    let h = q.add_chain(
        &mut mem,
        &[
            (HDR, 16, false),
            (DATA, 512, true),
            (DATA + 4096, 512, true),
            (STATUS, 1, true),
        ],
    );
    q.publish(&mut mem, h);
    kick(&mut d, &mut mem, 0);
    assert_eq!(q.take_used(&mem), vec![(u32::from(h), 1025)]);
    assert_eq!(status_byte(&mem), VIRTIO_BLK_S_OK);
    let mut b = [0u8; 512];
    mem.read(GuestAddress(DATA), &mut b).unwrap();
    assert!(b.iter().all(|&x| x == 3));
    mem.read(GuestAddress(DATA + 4096), &mut b).unwrap();
    assert!(b.iter().all(|&x| x == 4));
    // Write 2 sectors at sector 10 from one buffer, then flush.
    mem.write(GuestAddress(DATA), &[0xab; 1024]).unwrap();
    header(&mut mem, VIRTIO_BLK_T_OUT, 10);
    let h = q.add_chain(
        &mut mem,
        &[(HDR, 16, false), (DATA, 1024, false), (STATUS, 1, true)],
    );
    q.publish(&mut mem, h);
    kick(&mut d, &mut mem, 0);
    assert_eq!(q.take_used(&mem), vec![(u32::from(h), 1)]);
    assert_eq!(status_byte(&mem), VIRTIO_BLK_S_OK);
    let data = d.device().backend().data();
    assert!(data[10 * 512..12 * 512].iter().all(|&x| x == 0xab));
    assert!(data[12 * 512..13 * 512].iter().all(|&x| x == 12));
    header(&mut mem, VIRTIO_BLK_T_FLUSH, 0);
    let h = q.add_chain(&mut mem, &[(HDR, 16, false), (STATUS, 1, true)]);
    q.publish(&mut mem, h);
    kick(&mut d, &mut mem, 0);
    assert_eq!(status_byte(&mem), VIRTIO_BLK_S_OK);
    assert_eq!(d.device().stats().ok, 3);
}

#[test]
fn blk_config_get_id_and_large_transfers() {
    let mut mem = ram();
    let mut d = disk(512, false);
    assert_eq!(d.read(reg::CONFIG, 8), Some(512));
    assert_eq!(d.read(reg::CONFIG + 12, 4), Some(254)); // seg_max
    assert_eq!(d.read(reg::CONFIG + 20, 4), Some(512)); // blk_size
    d.device_mut().set_id(b"disk-0");
    let mut qs = bring_up(&mut d, 0, 16);
    header(&mut mem, VIRTIO_BLK_T_GET_ID, 0);
    let h = qs[0].add_chain(
        &mut mem,
        &[(HDR, 16, false), (DATA, 20, true), (STATUS, 1, true)],
    );
    qs[0].publish(&mut mem, h);
    kick(&mut d, &mut mem, 0);
    assert_eq!(qs[0].take_used(&mem), vec![(u32::from(h), 21)]);
    let mut id = [0u8; 20];
    mem.read(GuestAddress(DATA), &mut id).unwrap();
    assert_eq!(&id[..7], b"disk-0\0");
    // A 200 KiB read crosses the bounce buffer several times.
    header(&mut mem, VIRTIO_BLK_T_IN, 100);
    let h = qs[0].add_chain(
        &mut mem,
        &[(HDR, 16, false), (DATA, 400 * 512, true), (STATUS, 1, true)],
    );
    qs[0].publish(&mut mem, h);
    kick(&mut d, &mut mem, 0);
    assert_eq!(status_byte(&mem), VIRTIO_BLK_S_OK);
    let mut b = vec![0u8; 400 * 512];
    mem.read(GuestAddress(DATA), &mut b).unwrap();
    for (i, s) in b.chunks(512).enumerate() {
        assert!(
            s.iter().all(|&x| x == (100 + i) as u8),
            "sector {}",
            100 + i
        );
    }
}

#[test]
fn blk_bad_requests_get_error_status() {
    let mut mem = ram();
    let mut d = disk(8, false);
    let mut qs = bring_up(&mut d, 0, 16);
    let mut run =
        |mem: &mut RamRegion, d: &mut VirtioMmio<Blk<MemBlock>>, ty, sector, data: (u32, bool)| {
            header(mem, ty, sector);
            let h = qs[0].add_chain(
                mem,
                &[(HDR, 16, false), (DATA, data.0, data.1), (STATUS, 1, true)],
            );
            qs[0].publish(mem, h);
            kick(d, mem, 0);
            assert_eq!(qs[0].take_used(mem).len(), 1);
            status_byte(mem)
        };
    // Past the end, straddling the end, a sector number that overflows.
    assert_eq!(
        run(&mut mem, &mut d, VIRTIO_BLK_T_IN, 8, (512, true)),
        VIRTIO_BLK_S_IOERR
    );
    assert_eq!(
        run(&mut mem, &mut d, VIRTIO_BLK_T_OUT, 7, (1024, false)),
        VIRTIO_BLK_S_IOERR
    );
    assert_eq!(
        run(&mut mem, &mut d, VIRTIO_BLK_T_IN, u64::MAX / 2, (512, true)),
        VIRTIO_BLK_S_IOERR
    );
    // Not a multiple of 512.
    assert_eq!(
        run(&mut mem, &mut d, VIRTIO_BLK_T_IN, 0, (100, true)),
        VIRTIO_BLK_S_IOERR
    );
    assert_eq!(
        d.device().stats().last_error,
        Some(RequestError::Unaligned(100))
    );
    // Unknown type.
    assert_eq!(
        run(&mut mem, &mut d, 77, 0, (512, true)),
        VIRTIO_BLK_S_UNSUPP
    );
    assert_eq!(
        d.device().stats(),
        BlkStats {
            ok: 0,
            failed: 5,
            last_error: Some(RequestError::Unsupported(77))
        }
    );
    // A header shorter than 16 bytes: IOERR in the status byte.
    let h = qs[0].add_chain(&mut mem, &[(HDR, 8, false), (STATUS, 1, true)]);
    qs[0].publish(&mut mem, h);
    mem.write(GuestAddress(STATUS), &[0xff]).unwrap();
    kick(&mut d, &mut mem, 0);
    assert_eq!(qs[0].take_used(&mem), vec![(u32::from(h), 1)]);
    assert_eq!(status_byte(&mem), VIRTIO_BLK_S_IOERR);
    // No writable byte at all: nothing can be reported; used with 0 bytes.
    let h = qs[0].add_chain(&mut mem, &[(HDR, 16, false)]);
    qs[0].publish(&mut mem, h);
    kick(&mut d, &mut mem, 0);
    assert_eq!(qs[0].take_used(&mem), vec![(u32::from(h), 0)]);
    // The disk was never modified.
    assert!(d.device().backend().data()[7 * 512..]
        .iter()
        .all(|&x| x == 7));
}

#[test]
fn blk_read_only() {
    let mut mem = ram();
    let mut d = disk(8, true);
    assert_ne!(device_features(&mut d) & VIRTIO_BLK_F_RO, 0);
    let mut qs = bring_up(&mut d, VIRTIO_BLK_F_RO, 16);
    header(&mut mem, VIRTIO_BLK_T_OUT, 0);
    let h = qs[0].add_chain(
        &mut mem,
        &[(HDR, 16, false), (DATA, 512, false), (STATUS, 1, true)],
    );
    qs[0].publish(&mut mem, h);
    kick(&mut d, &mut mem, 0);
    assert_eq!(status_byte(&mem), VIRTIO_BLK_S_IOERR);
    assert_eq!(d.device().stats().last_error, Some(RequestError::ReadOnly));
    assert!(d.device().backend().data()[..512].iter().all(|&x| x == 0));
}

#[test]
fn blk_indirect_descriptors() {
    let mut mem = ram();
    let mut d = disk(16, false);
    let mut qs = bring_up(&mut d, VIRTIO_F_INDIRECT_DESC, 4);
    header(&mut mem, VIRTIO_BLK_T_IN, 5);
    let table = DATA_BASE + 0x10_0000;
    let h = qs[0].add_indirect(
        &mut mem,
        table,
        &[
            (HDR, 16, false),
            (DATA, 512, true),
            (DATA + 512, 512, true),
            (STATUS, 1, true),
        ],
    );
    qs[0].publish(&mut mem, h);
    kick(&mut d, &mut mem, 0);
    assert_eq!(qs[0].take_used(&mem), vec![(u32::from(h), 1025)]);
    assert_eq!(status_byte(&mem), VIRTIO_BLK_S_OK);
    let mut b = [0u8; 1024];
    mem.read(GuestAddress(DATA), &mut b).unwrap();
    assert!(b[..512].iter().all(|&x| x == 5) && b[512..].iter().all(|&x| x == 6));
}

#[test]
fn blk_many_requests_wrap_the_rings() {
    let mut mem = ram();
    let mut d = disk(64, false);
    let mut qs = bring_up(&mut d, 0, 4);
    for round in 0..100u64 {
        let sector = round % 64;
        header(&mut mem, VIRTIO_BLK_T_IN, sector);
        let h = qs[0].add_chain(
            &mut mem,
            &[(HDR, 16, false), (DATA, 512, true), (STATUS, 1, true)],
        );
        qs[0].publish(&mut mem, h);
        kick(&mut d, &mut mem, 0);
        assert_eq!(qs[0].take_used(&mem), vec![(u32::from(h), 513)]);
        let mut b = [0u8; 512];
        mem.read(GuestAddress(DATA), &mut b).unwrap();
        assert!(b.iter().all(|&x| x == sector as u8));
    }
}

#[test]
fn console_transmit_and_receive() {
    let mut mem = ram();
    let mut d = VirtioMmio::new(Console::new(Vec::new()));
    let mut qs = bring_up(&mut d, 0, 8);
    // Guest output in two buffers of one chain, then one more chain.
    mem.write(GuestAddress(DATA), b"hello, ").unwrap();
    mem.write(GuestAddress(DATA + 100), b"world").unwrap();
    let h = qs[1].add_chain(&mut mem, &[(DATA, 7, false), (DATA + 100, 5, false)]);
    qs[1].publish(&mut mem, h);
    kick(&mut d, &mut mem, 1);
    assert_eq!(d.device().backend(), b"hello, world");
    assert_eq!(qs[1].take_used(&mem), vec![(u32::from(h), 0)]);
    // Input before any receive buffer waits.
    assert_eq!(d.device_mut().push_input(b"abcdef"), 6);
    d.poll(&mut mem);
    assert_eq!(d.device().pending_input(), 6);
    // A 4-byte buffer takes 4 bytes, the next one the rest.
    let h1 = qs[0].add_chain(&mut mem, &[(DATA + 0x200, 4, true)]);
    qs[0].publish(&mut mem, h1);
    let h2 = qs[0].add_chain(&mut mem, &[(DATA + 0x300, 64, true)]);
    qs[0].publish(&mut mem, h2);
    kick(&mut d, &mut mem, 0);
    assert_eq!(
        qs[0].take_used(&mem),
        vec![(u32::from(h1), 4), (u32::from(h2), 2)]
    );
    let mut b = [0u8; 4];
    mem.read(GuestAddress(DATA + 0x200), &mut b).unwrap();
    assert_eq!(&b, b"abcd");
    mem.read(GuestAddress(DATA + 0x300), &mut b[..2]).unwrap();
    assert_eq!(&b[..2], b"ef");
    // A posted buffer stays available until input arrives.
    let h3 = qs[0].add_chain(&mut mem, &[(DATA + 0x400, 64, true)]);
    qs[0].publish(&mut mem, h3);
    kick(&mut d, &mut mem, 0);
    assert!(qs[0].take_used(&mem).is_empty());
    d.device_mut().push_input(b"z");
    d.poll(&mut mem);
    assert_eq!(qs[0].take_used(&mem), vec![(u32::from(h3), 1)]);
    assert!(d.irq_level());
}

#[test]
fn console_input_buffer_is_capped() {
    let mut d = VirtioMmio::new(Console::new(Vec::new()));
    let big = vec![b'x'; INPUT_CAPACITY + 100];
    assert_eq!(d.device_mut().push_input(&big), INPUT_CAPACITY);
    assert_eq!(d.device_mut().push_input(b"more"), 0);
}

#[test]
fn console_size_change_raises_config_interrupt() {
    let mut mem = ram();
    let mut d = VirtioMmio::new(Console::new(Vec::new()));
    assert_eq!(d.read(reg::CONFIG, 2), Some(80));
    assert_eq!(d.read(reg::CONFIG + 2, 2), Some(25));
    bring_up(&mut d, 1, 8);
    let gen0 = rd(&mut d, reg::CONFIG_GENERATION);
    d.device_mut().set_size(132, 43);
    d.poll(&mut mem);
    assert_eq!(ack(&mut d), INTERRUPT_CONFIG_CHANGE);
    assert_ne!(rd(&mut d, reg::CONFIG_GENERATION), gen0);
    assert_eq!(rd(&mut d, reg::CONFIG), 132 | 43 << 16);
    // The same size again changes nothing.
    d.device_mut().set_size(132, 43);
    d.poll(&mut mem);
    assert!(!d.irq_level());
    // Emergency write.
    assert!(d.write(reg::CONFIG + 8, 4, u64::from(b'!')));
    assert_eq!(d.device().backend(), b"!");
}

/// A counting "entropy" source that can be told to fail.
struct Counter {
    next: u8,
    fail: bool,
}

impl EntropySource for Counter {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        if self.fail {
            return Err(EntropyError("test failure".into()));
        }
        for b in buf {
            *b = self.next;
            self.next = self.next.wrapping_add(1);
        }
        Ok(())
    }
}

#[test]
fn rng_fills_and_caps() {
    let mut mem = ram();
    let mut d = VirtioMmio::new(Rng::new(Counter {
        next: 0,
        fail: false,
    }));
    assert_eq!(rd(&mut d, reg::DEVICE_ID), 4);
    let mut qs = bring_up(&mut d, 0, 8);
    let h = qs[0].add_chain(&mut mem, &[(DATA, 300, true), (DATA + 0x1000, 300, true)]);
    qs[0].publish(&mut mem, h);
    kick(&mut d, &mut mem, 0);
    assert_eq!(qs[0].take_used(&mem), vec![(u32::from(h), 600)]);
    let mut b = [0u8; 300];
    mem.read(GuestAddress(DATA + 0x1000), &mut b).unwrap();
    assert_eq!(b[0], 44); // 300 mod 256
                          // A huge buffer gets at most the cap.
    let h = qs[0].add_chain(&mut mem, &[(DATA, 1 << 20, true)]);
    qs[0].publish(&mut mem, h);
    kick(&mut d, &mut mem, 0);
    assert_eq!(
        qs[0].take_used(&mem),
        vec![(u32::from(h), MAX_BYTES_PER_REQUEST)]
    );
    // A failing source returns what it has (nothing).
    let mut d = VirtioMmio::new(Rng::new(Counter {
        next: 0,
        fail: true,
    }));
    let mut qs = bring_up(&mut d, 0, 8);
    let h = qs[0].add_chain(&mut mem, &[(DATA, 16, true)]);
    qs[0].publish(&mut mem, h);
    kick(&mut d, &mut mem, 0);
    assert_eq!(qs[0].take_used(&mem), vec![(u32::from(h), 0)]);
    assert_eq!(d.device().failures(), 1);
}

#[test]
fn console_transmit_is_capped_per_chain() {
    use vf_devices::virtio::console::MAX_TRANSMIT_BYTES;
    let mut mem = ram();
    let mut d = VirtioMmio::new(Console::new(Vec::new()));
    let mut qs = bring_up(&mut d, 0, 8);
    // Four descriptors naming the same 512 KiB: 2 MiB of "output".
    let half = 512 * 1024;
    let h = qs[1].add_chain(&mut mem, &[(DATA_BASE, half, false); 4]);
    qs[1].publish(&mut mem, h);
    kick(&mut d, &mut mem, 1);
    assert_eq!(qs[1].take_used(&mem), vec![(u32::from(h), 0)]);
    assert_eq!(d.device().backend().len() as u64, MAX_TRANSMIT_BYTES);
}
