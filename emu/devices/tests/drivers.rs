//! The block and console devices driven by an independent guest driver: the
//! `virtio-drivers` crate (rcore-os), through its `Hal` and `Transport`
//! traits implemented over a fake guest RAM and our virtio-mmio transport.
//!
//! Memory model. Each test thread owns one fake guest RAM: a page-aligned
//! heap allocation of [`RAM_PAGES`] pages at guest physical [`RAM_BASE`],
//! with a page allocator. The driver reaches it only through the raw pointers
//! `dma_alloc` hands out (and bounce pages behind `share`); the device reaches
//! it only through [`ThreadRam`], which copies with raw pointers. No Rust
//! reference into the fake RAM is ever created, and everything runs on one
//! thread, so the two sides never alias a reference or race.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::cell::RefCell;
use std::ptr::{self, NonNull};
use std::rc::Rc;

use virtio_drivers::device::blk::VirtIOBlk;
use virtio_drivers::device::console::{Size, VirtIOConsole};
use virtio_drivers::device::rng::VirtIORng;
use virtio_drivers::device::virtio_9p::VirtIO9p;
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::{BufferDirection, Error, Hal, PhysAddr, PAGE_SIZE};
use zerocopy::{FromBytes, Immutable, IntoBytes};

use vf_devices::memory::{GuestAddress, GuestMemory, MemoryError};
use vf_devices::p9::{Config, MemFs};
use vf_devices::virtio::blk::{Blk, MemBlock};
use vf_devices::virtio::console::Console;
use vf_devices::virtio::mmio::reg;
use vf_devices::virtio::p9::P9;
use vf_devices::virtio::rng::{EntropyError, EntropySource, Rng, MAX_BYTES_PER_REQUEST};
use vf_devices::virtio::{VirtioDevice, VirtioMmio, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC};
use vf_devices::MmioDevice;

/// Guest physical address of the fake RAM.
const RAM_BASE: u64 = 0x8000_0000;
/// Its size in pages (8 MiB).
const RAM_PAGES: usize = 2048;
const RAM_BYTES: usize = RAM_PAGES * PAGE_SIZE;

/// One thread's fake guest RAM and its page allocator.
struct FakeRam {
    base: NonNull<u8>,
    used: Vec<bool>,
}

impl FakeRam {
    fn layout() -> Layout {
        Layout::from_size_align(RAM_BYTES, PAGE_SIZE).expect("valid layout")
    }

    fn new() -> FakeRam {
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { alloc_zeroed(Self::layout()) };
        FakeRam {
            base: NonNull::new(p).expect("fake RAM allocation failed"),
            used: vec![false; RAM_PAGES],
        }
    }

    /// First fit for `pages` contiguous pages; returns the first page index.
    fn alloc(&mut self, pages: usize) -> usize {
        let pages = pages.max(1);
        let mut run = 0;
        for i in 0..RAM_PAGES {
            run = if self.used[i] { 0 } else { run + 1 };
            if run == pages {
                let first = i + 1 - pages;
                self.used[first..=i].fill(true);
                return first;
            }
        }
        panic!("fake guest RAM exhausted ({pages} pages wanted)");
    }

    fn free(&mut self, first: usize, pages: usize) {
        self.used[first..first + pages.max(1)].fill(false);
    }
}

impl Drop for FakeRam {
    fn drop(&mut self) {
        // SAFETY: `base` came from `alloc_zeroed` with this layout and is
        // freed once, here.
        unsafe { dealloc(self.base.as_ptr(), Self::layout()) }
    }
}

thread_local! {
    static RAM: RefCell<FakeRam> = RefCell::new(FakeRam::new());
}

fn ram_base() -> NonNull<u8> {
    RAM.with(|r| r.borrow().base)
}

fn page_of(paddr: PhysAddr) -> usize {
    ((paddr - RAM_BASE) as usize) / PAGE_SIZE
}

/// The device's view of this thread's fake RAM.
struct ThreadRam;

impl ThreadRam {
    /// The byte offset of `len` bytes at `addr`, if all inside the RAM.
    fn offset(addr: GuestAddress, len: u64) -> Result<usize, MemoryError> {
        let bad = MemoryError::OutOfRange { addr, len };
        let off = addr
            .checked_offset_from(GuestAddress(RAM_BASE))
            .ok_or(bad)?;
        let end = off.checked_add(len).ok_or(bad)?;
        if end > RAM_BYTES as u64 {
            return Err(bad);
        }
        Ok(off as usize)
    }
}

impl GuestMemory for ThreadRam {
    fn read(&self, addr: GuestAddress, buf: &mut [u8]) -> Result<(), MemoryError> {
        let off = Self::offset(addr, buf.len() as u64)?;
        // SAFETY: `off + buf.len()` is within the RAM allocation (checked
        // above). The fake RAM is only ever accessed through raw pointers on
        // this thread (see the module docs), so no reference aliases the
        // source, and `buf` is a distinct Rust allocation.
        unsafe {
            ptr::copy_nonoverlapping(ram_base().as_ptr().add(off), buf.as_mut_ptr(), buf.len())
        }
        Ok(())
    }

    fn write(&mut self, addr: GuestAddress, buf: &[u8]) -> Result<(), MemoryError> {
        let off = Self::offset(addr, buf.len() as u64)?;
        // SAFETY: as in `read`, with source and destination swapped.
        unsafe { ptr::copy_nonoverlapping(buf.as_ptr(), ram_base().as_ptr().add(off), buf.len()) }
        Ok(())
    }

    fn check_range(&self, addr: GuestAddress, len: u64) -> Result<(), MemoryError> {
        Self::offset(addr, len).map(|_| ())
    }
}

/// The driver's HAL over the fake RAM.
struct TestHal;

// SAFETY: `dma_alloc` returns page-aligned pointers (the RAM is page-aligned
// and pages are whole) to zeroed pages inside the live RAM allocation, owned
// by the caller alone until `dma_dealloc` (the page allocator never hands a
// page out twice). `share` copies into such pages and `unshare` copies back
// and frees them. The RAM lives as long as the thread, which outlives every
// driver a test creates.
unsafe impl Hal for TestHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let first = RAM.with(|r| r.borrow_mut().alloc(pages));
        // SAFETY: pages `first..first + pages` lie inside the allocation.
        let p = unsafe { ram_base().as_ptr().add(first * PAGE_SIZE) };
        // SAFETY: `p` points at `pages` whole pages inside the allocation that
        // nobody else uses.
        unsafe { ptr::write_bytes(p, 0, pages.max(1) * PAGE_SIZE) };
        let paddr = RAM_BASE + (first * PAGE_SIZE) as u64;
        (
            paddr,
            NonNull::new(p).expect("inside a non-null allocation"),
        )
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        RAM.with(|r| r.borrow_mut().free(page_of(paddr), pages));
        0
    }

    unsafe fn mmio_phys_to_virt(_paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        unreachable!("the MMIO transport here never maps device memory")
    }

    unsafe fn share(buffer: NonNull<[u8]>, direction: BufferDirection) -> PhysAddr {
        let len = buffer.len();
        let (paddr, bounce) = Self::dma_alloc(len.div_ceil(PAGE_SIZE), direction);
        if direction != BufferDirection::DeviceToDriver {
            // SAFETY: the caller guarantees `buffer` is valid for `len` bytes
            // and not accessed elsewhere during the call; `bounce` has room
            // for `len` bytes and is a different allocation.
            unsafe { ptr::copy_nonoverlapping(buffer.as_ptr() as *const u8, bounce.as_ptr(), len) };
        }
        paddr
    }

    unsafe fn unshare(paddr: PhysAddr, buffer: NonNull<[u8]>, direction: BufferDirection) {
        let len = buffer.len();
        if direction != BufferDirection::DriverToDevice {
            // SAFETY: `paddr` came from `share` for this buffer, so its bounce
            // pages hold `len` bytes inside the RAM; the caller guarantees
            // `buffer` is valid for writes of `len` bytes.
            unsafe {
                let src = ram_base().as_ptr().add((paddr - RAM_BASE) as usize);
                ptr::copy_nonoverlapping(src, buffer.as_ptr() as *mut u8, len);
            }
        }
        RAM.with(|r| r.borrow_mut().free(page_of(paddr), len.div_ceil(PAGE_SIZE)));
    }
}

/// `virtio-drivers`' transport over our virtio-mmio registers. `notify`
/// lets the device run at once, as a trap to the emulator would.
struct TestTransport<D: VirtioDevice> {
    dev: Rc<RefCell<VirtioMmio<D>>>,
}

impl<D: VirtioDevice> TestTransport<D> {
    fn r(&self, off: u64) -> u32 {
        self.dev.borrow_mut().read(off, 4).expect("register read") as u32
    }
    fn w(&mut self, off: u64, v: u32) {
        assert!(self.dev.borrow_mut().write(off, 4, u64::from(v)));
    }
}

impl<D: VirtioDevice> Transport for TestTransport<D> {
    fn device_type(&self) -> DeviceType {
        DeviceType::try_from(self.r(reg::DEVICE_ID)).expect("known device type")
    }

    fn read_device_features(&mut self) -> u64 {
        self.w(reg::DEVICE_FEATURES_SEL, 0);
        let lo = self.r(reg::DEVICE_FEATURES);
        self.w(reg::DEVICE_FEATURES_SEL, 1);
        u64::from(lo) | u64::from(self.r(reg::DEVICE_FEATURES)) << 32
    }

    fn write_driver_features(&mut self, f: u64) {
        self.w(reg::DRIVER_FEATURES_SEL, 0);
        self.w(reg::DRIVER_FEATURES, f as u32);
        self.w(reg::DRIVER_FEATURES_SEL, 1);
        self.w(reg::DRIVER_FEATURES, (f >> 32) as u32);
    }

    fn max_queue_size(&mut self, queue: u16) -> u32 {
        self.w(reg::QUEUE_SEL, u32::from(queue));
        self.r(reg::QUEUE_NUM_MAX)
    }

    fn notify(&mut self, queue: u16) {
        self.w(reg::QUEUE_NOTIFY, u32::from(queue));
        self.dev.borrow_mut().poll(&mut ThreadRam);
    }

    fn get_status(&self) -> DeviceStatus {
        DeviceStatus::from_bits_retain(self.r(reg::STATUS))
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.w(reg::STATUS, status.bits());
    }

    fn set_guest_page_size(&mut self, _guest_page_size: u32) {}

    fn requires_legacy_layout(&self) -> bool {
        false
    }

    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        desc: PhysAddr,
        driver: PhysAddr,
        device: PhysAddr,
    ) {
        self.w(reg::QUEUE_SEL, u32::from(queue));
        self.w(reg::QUEUE_NUM, size);
        for (low, a) in [
            (reg::QUEUE_DESC_LOW, desc),
            (reg::QUEUE_DRIVER_LOW, driver),
            (reg::QUEUE_DEVICE_LOW, device),
        ] {
            self.w(low, a as u32);
            self.w(low + 4, (a >> 32) as u32);
        }
        self.w(reg::QUEUE_READY, 1);
    }

    fn queue_unset(&mut self, queue: u16) {
        self.w(reg::QUEUE_SEL, u32::from(queue));
        self.w(reg::QUEUE_READY, 0);
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        self.w(reg::QUEUE_SEL, u32::from(queue));
        self.r(reg::QUEUE_READY) != 0
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        let s = self.r(reg::INTERRUPT_STATUS);
        self.w(reg::INTERRUPT_ACK, s);
        InterruptStatus::from_bits_retain(s)
    }

    fn read_config_generation(&self) -> u32 {
        self.r(reg::CONFIG_GENERATION)
    }

    fn read_config_space<T: FromBytes + IntoBytes>(
        &self,
        offset: usize,
    ) -> virtio_drivers::Result<T> {
        let mut v = T::new_zeroed();
        let bytes = v.as_mut_bytes();
        let at = reg::CONFIG + offset as u64;
        let mut dev = self.dev.borrow_mut();
        // One access of the natural width when there is one, else bytes.
        if matches!(bytes.len(), 1 | 2 | 4 | 8) && offset % bytes.len() == 0 {
            let x = dev
                .read(at, bytes.len() as u8)
                .ok_or(Error::ConfigSpaceTooSmall)?;
            let n = bytes.len();
            bytes.copy_from_slice(&x.to_le_bytes()[..n]);
        } else {
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = dev
                    .read(at + i as u64, 1)
                    .ok_or(Error::ConfigSpaceTooSmall)? as u8;
            }
        }
        Ok(v)
    }

    fn write_config_space<T: IntoBytes + Immutable>(
        &mut self,
        offset: usize,
        value: T,
    ) -> virtio_drivers::Result<()> {
        let bytes = value.as_bytes();
        let at = reg::CONFIG + offset as u64;
        let mut dev = self.dev.borrow_mut();
        if matches!(bytes.len(), 1 | 2 | 4 | 8) && offset % bytes.len() == 0 {
            let mut b = [0u8; 8];
            b[..bytes.len()].copy_from_slice(bytes);
            if !dev.write(at, bytes.len() as u8, u64::from_le_bytes(b)) {
                return Err(Error::ConfigSpaceTooSmall);
            }
        } else {
            for (i, &b) in bytes.iter().enumerate() {
                if !dev.write(at + i as u64, 1, u64::from(b)) {
                    return Err(Error::ConfigSpaceTooSmall);
                }
            }
        }
        Ok(())
    }
}

fn pattern(sectors: usize) -> Vec<u8> {
    (0..sectors * 512)
        .map(|i| (i / 512 * 7 + i % 512) as u8)
        .collect()
}

fn blk_device(sectors: usize, ro: bool) -> Rc<RefCell<VirtioMmio<Blk<MemBlock>>>> {
    let mut blk = Blk::new(MemBlock::new(pattern(sectors), ro));
    blk.set_id(b"vfsync-test-disk");
    Rc::new(RefCell::new(VirtioMmio::new(blk)))
}

#[test]
fn virtio_drivers_blk_reads_writes_flushes() {
    let dev = blk_device(128, false);
    let transport = TestTransport { dev: dev.clone() };
    let mut drv = VirtIOBlk::<TestHal, _>::new(transport).expect("driver init");
    assert_eq!(drv.capacity(), 128);
    // The driver took the ring features, so requests use indirect tables.
    let ring = VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX;
    assert_eq!(dev.borrow().driver_features() & ring, ring);
    assert!(!drv.readonly());
    let mut id = [0u8; 20];
    assert_eq!(drv.device_id(&mut id).unwrap(), 16);
    assert_eq!(&id[..16], b"vfsync-test-disk");

    let want = pattern(128);
    let mut one = [0u8; 512];
    drv.read_blocks(9, &mut one).unwrap();
    assert_eq!(&one[..], &want[9 * 512..10 * 512]);
    let mut many = vec![0u8; 64 * 512];
    drv.read_blocks(32, &mut many).unwrap();
    assert_eq!(&many[..], &want[32 * 512..96 * 512]);

    let data: Vec<u8> = (0..3 * 512).map(|i| (i * 31 % 251) as u8).collect();
    drv.write_blocks(100, &data).unwrap();
    drv.flush().unwrap();
    let mut back = vec![0u8; 3 * 512];
    drv.read_blocks(100, &mut back).unwrap();
    assert_eq!(back, data);
    {
        let d = dev.borrow();
        let disk = d.device().backend().data();
        assert_eq!(&disk[100 * 512..103 * 512], &data[..]);
        assert_eq!(&disk[103 * 512..], &want[103 * 512..]);
        assert_eq!(d.device().stats().failed, 0);
        assert_eq!(d.queues()[0].stats().bad_chains, 0);
    }

    // Past the end: the device reports IOERR, the driver an I/O error.
    assert_eq!(drv.read_blocks(128, &mut one), Err(Error::IoError));
    assert_eq!(drv.read_blocks(127, &mut [0u8; 1024]), Err(Error::IoError));
    // The interrupt line went up; acknowledging it brings it down.
    assert!(dev.borrow().irq_level());
    drv.ack_interrupt();
    assert!(!dev.borrow().irq_level());
    // The driver's requests still work after the errors.
    drv.read_blocks(0, &mut one).unwrap();
    assert_eq!(&one[..], &want[..512]);
}

#[test]
fn virtio_drivers_blk_read_only() {
    let dev = blk_device(8, true);
    let mut drv = VirtIOBlk::<TestHal, _>::new(TestTransport { dev: dev.clone() }).unwrap();
    assert!(drv.readonly());
    assert_eq!(drv.write_blocks(0, &[1u8; 512]), Err(Error::IoError));
    let mut b = [0u8; 512];
    drv.read_blocks(0, &mut b).unwrap();
    assert_eq!(&b[..], &pattern(8)[..512]);
}

#[test]
fn virtio_drivers_console_send_receive_resize() {
    let dev = Rc::new(RefCell::new(VirtioMmio::new(Console::new(Vec::new()))));
    let mut drv = VirtIOConsole::<TestHal, _>::new(TestTransport { dev: dev.clone() }).unwrap();
    assert_eq!(
        drv.size().unwrap(),
        Some(Size {
            columns: 80,
            rows: 25
        })
    );

    drv.send_bytes(b"hello, ").unwrap();
    for &b in b"world\n" {
        drv.send(b).unwrap();
    }
    assert_eq!(dev.borrow().device().backend(), b"hello, world\n");

    // Nothing typed yet.
    assert_eq!(drv.recv(true).unwrap(), None);
    {
        let mut d = dev.borrow_mut();
        assert_eq!(d.device_mut().push_input(b"ls -l\n"), 6);
        d.poll(&mut ThreadRam);
        assert!(d.irq_level());
    }
    assert!(drv.ack_interrupt().unwrap());
    let mut got = Vec::new();
    while let Some(c) = drv.recv(true).unwrap() {
        got.push(c);
    }
    assert_eq!(got, b"ls -l\n");

    // More input than one receive buffer (a page): the driver re-posts
    // buffers as it reads and gets every byte, in order.
    let big: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    {
        let mut d = dev.borrow_mut();
        assert_eq!(d.device_mut().push_input(&big), big.len());
        d.poll(&mut ThreadRam);
    }
    let mut got = Vec::new();
    for _ in 0..big.len() * 2 {
        match drv.recv(true).unwrap() {
            Some(c) => got.push(c),
            None => break,
        }
    }
    assert_eq!(got, big);

    // A resize shows up in config space with a config interrupt.
    {
        let mut d = dev.borrow_mut();
        d.device_mut().set_size(120, 50);
        d.poll(&mut ThreadRam);
    }
    assert_eq!(
        drv.size().unwrap(),
        Some(Size {
            columns: 120,
            rows: 50
        })
    );
    assert!(dev.borrow().interrupt_status() & 2 != 0);

    drv.emergency_write(b'!').unwrap();
    assert_eq!(dev.borrow().device().backend().last(), Some(&b'!'));
}

/// A deterministic "entropy" stream for the test.
struct Counter(u8);

impl EntropySource for Counter {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        for b in buf {
            *b = self.0;
            self.0 = self.0.wrapping_add(1);
        }
        Ok(())
    }
}

#[test]
fn virtio_drivers_rng() {
    let dev = Rc::new(RefCell::new(VirtioMmio::new(Rng::new(Counter(0)))));
    let mut drv = VirtIORng::<TestHal, _>::new(TestTransport { dev: dev.clone() }).unwrap();
    let mut buf = [0u8; 300];
    assert_eq!(drv.request_entropy(&mut buf).unwrap(), 300);
    assert!(buf.iter().enumerate().all(|(i, &b)| b == i as u8));
    // One request never gets more than the cap.
    let mut big = vec![0u8; MAX_BYTES_PER_REQUEST as usize * 2];
    assert_eq!(
        drv.request_entropy(&mut big).unwrap(),
        MAX_BYTES_PER_REQUEST as usize
    );
}

/// A 9P message: size[4] type[1] tag[2] body.
fn p9_msg(kind: u8, tag: u16, body: &[u8]) -> Vec<u8> {
    let mut m = (7 + body.len() as u32).to_le_bytes().to_vec();
    m.push(kind);
    m.extend_from_slice(&tag.to_le_bytes());
    m.extend_from_slice(body);
    m
}

#[test]
fn virtio_drivers_9p() {
    let p9 = P9::new(MemFs::new(), Config::default(), "vfsync-home").unwrap();
    let dev = Rc::new(RefCell::new(VirtioMmio::new(p9)));
    let mut drv = VirtIO9p::<TestHal, _>::new(TestTransport { dev: dev.clone() }).unwrap();
    assert_eq!(drv.mount_tag(), "vfsync-home");
    // Tversion: msize 8192, "9P2000.L".
    let mut body = 8192u32.to_le_bytes().to_vec();
    body.extend_from_slice(&8u16.to_le_bytes());
    body.extend_from_slice(b"9P2000.L");
    let mut resp = [0u8; 256];
    let n = drv.request(&p9_msg(100, 0xffff, &body), &mut resp).unwrap() as usize;
    assert_eq!(resp[4], 101, "Rversion");
    assert_eq!(&resp[n - 8..n], b"9P2000.L");
    // Tattach fid 0 with no afid, then Tstatfs on it.
    let mut body = 0u32.to_le_bytes().to_vec();
    body.extend_from_slice(&u32::MAX.to_le_bytes());
    body.extend_from_slice(&[4, 0, b'r', b'o', b'o', b't', 0, 0]);
    body.extend_from_slice(&0u32.to_le_bytes());
    drv.request(&p9_msg(104, 1, &body), &mut resp).unwrap();
    assert_eq!((resp[4], resp[5]), (105, 1), "Rattach");
    drv.request(&p9_msg(8, 2, &0u32.to_le_bytes()), &mut resp)
        .unwrap();
    assert_eq!((resp[4], resp[5]), (9, 2), "Rstatfs");
    // A fid that was never attached gets Rlerror.
    drv.request(&p9_msg(8, 3, &7u32.to_le_bytes()), &mut resp)
        .unwrap();
    assert_eq!((resp[4], resp[5]), (7, 3), "Rlerror");
    assert_eq!(dev.borrow().device().stats().replies, 4);
}
