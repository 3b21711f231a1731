//! The virtio-9p glue: config space, immediate replies, requests deferred by
//! the file system and completed later and out of order, Tflush, replies that
//! do not fit, and reset with requests in flight.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use vf_devices::memory::{GuestAddress, GuestMemory, RamRegion};
use vf_devices::p9::{
    Attr, Config, DirEntry, FileSystem, FsError, FsResult, MemFs, Owner, Qid, SetAttr, StatFs,
};
use vf_devices::virtio::mmio::reg;
use vf_devices::virtio::p9::{P9DeviceError, P9, VIRTIO_9P_MOUNT_TAG};
use vf_devices::virtio::VirtioMmio;
use vf_devices::MmioDevice;

/// MemFs whose `getattr` answers `Pending` while the gate is closed.
struct GatedFs {
    inner: MemFs,
    open: Rc<Cell<bool>>,
}

type Node = <MemFs as FileSystem>::Node;
type File = <MemFs as FileSystem>::File;

impl FileSystem for GatedFs {
    type Node = Node;
    type File = File;
    fn root(&mut self, aname: &[u8]) -> FsResult<Node> {
        self.inner.root(aname)
    }
    fn lookup(&mut self, dir: &Node, name: &[u8]) -> FsResult<Node> {
        self.inner.lookup(dir, name)
    }
    fn getattr(&mut self, node: &Node) -> FsResult<Attr> {
        if !self.open.get() {
            return Err(FsError::Pending);
        }
        self.inner.getattr(node)
    }
    fn setattr(&mut self, node: &Node, set: &SetAttr) -> FsResult<()> {
        self.inner.setattr(node, set)
    }
    fn open(&mut self, node: &Node, flags: u32) -> FsResult<File> {
        self.inner.open(node, flags)
    }
    fn create(
        &mut self,
        dir: &Node,
        name: &[u8],
        flags: u32,
        mode: u32,
        owner: Owner,
    ) -> FsResult<(Node, File)> {
        self.inner.create(dir, name, flags, mode, owner)
    }
    fn read(&mut self, file: &mut File, offset: u64, buf: &mut [u8]) -> FsResult<usize> {
        self.inner.read(file, offset, buf)
    }
    fn write(&mut self, file: &mut File, offset: u64, data: &[u8]) -> FsResult<usize> {
        self.inner.write(file, offset, data)
    }
    fn readdir(&mut self, dir: &mut File, cookie: u64, max: usize) -> FsResult<Vec<DirEntry>> {
        self.inner.readdir(dir, cookie, max)
    }
    fn fsync(&mut self, file: &mut File, datasync: bool) -> FsResult<()> {
        self.inner.fsync(file, datasync)
    }
    fn release(&mut self, file: File) {
        self.inner.release(file)
    }
    fn mkdir(&mut self, dir: &Node, name: &[u8], mode: u32, owner: Owner) -> FsResult<Qid> {
        self.inner.mkdir(dir, name, mode, owner)
    }
    fn symlink(&mut self, dir: &Node, name: &[u8], target: &[u8], owner: Owner) -> FsResult<Qid> {
        self.inner.symlink(dir, name, target, owner)
    }
    fn mknod(
        &mut self,
        dir: &Node,
        name: &[u8],
        mode: u32,
        rdev: u64,
        owner: Owner,
    ) -> FsResult<Qid> {
        self.inner.mknod(dir, name, mode, rdev, owner)
    }
    fn link(&mut self, dir: &Node, name: &[u8], target: &Node) -> FsResult<()> {
        self.inner.link(dir, name, target)
    }
    fn readlink(&mut self, node: &Node) -> FsResult<Vec<u8>> {
        self.inner.readlink(node)
    }
    fn rename(&mut self, od: &Node, on: &[u8], nd: &Node, nn: &[u8]) -> FsResult<()> {
        self.inner.rename(od, on, nd, nn)
    }
    fn unlink(&mut self, dir: &Node, name: &[u8], flags: u32) -> FsResult<()> {
        self.inner.unlink(dir, name, flags)
    }
    fn statfs(&mut self, node: &Node) -> FsResult<StatFs> {
        self.inner.statfs(node)
    }
}

/// A 9P message: size[4] type[1] tag[2] body.
fn msg(kind: u8, tag: u16, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&(7 + body.len() as u32).to_le_bytes());
    m.push(kind);
    m.extend_from_slice(&tag.to_le_bytes());
    m.extend_from_slice(body);
    m
}

fn s(v: &[u8]) -> Vec<u8> {
    let mut o = (v.len() as u16).to_le_bytes().to_vec();
    o.extend_from_slice(v);
    o
}

fn tversion() -> Vec<u8> {
    let mut b = 8192u32.to_le_bytes().to_vec();
    b.extend(s(b"9P2000.L"));
    msg(100, 0xffff, &b)
}

fn tattach(tag: u16, fid: u32) -> Vec<u8> {
    let mut b = fid.to_le_bytes().to_vec();
    b.extend(u32::MAX.to_le_bytes()); // afid: none
    b.extend(s(b"root"));
    b.extend(s(b""));
    b.extend(0u32.to_le_bytes());
    msg(104, tag, &b)
}

fn tgetattr(tag: u16, fid: u32) -> Vec<u8> {
    let mut b = fid.to_le_bytes().to_vec();
    b.extend(0x3fffu64.to_le_bytes());
    msg(24, tag, &b)
}

fn tstatfs(tag: u16, fid: u32) -> Vec<u8> {
    msg(8, tag, &fid.to_le_bytes())
}

fn tflush(tag: u16, oldtag: u16) -> Vec<u8> {
    msg(108, tag, &oldtag.to_le_bytes())
}

struct Rig {
    mem: RamRegion,
    dev: VirtioMmio<P9<GatedFs>>,
    q: MockQueue,
    gate: Rc<Cell<bool>>,
    /// Next free request/reply area.
    next: u64,
}

impl Rig {
    fn new() -> Rig {
        let gate = Rc::new(Cell::new(true));
        let fs = GatedFs {
            inner: MemFs::new(),
            open: gate.clone(),
        };
        let mut dev = VirtioMmio::new(P9::new(fs, Config::default(), "vfsync").unwrap());
        let q = bring_up(&mut dev, 0, 16).remove(0);
        Rig {
            mem: ram(),
            dev,
            q,
            gate,
            next: DATA_BASE,
        }
    }

    /// Posts `req` with `room` reply bytes; returns (head, reply address).
    fn send(&mut self, req: &[u8], room: u32) -> (u16, u64) {
        let (at, reply) = (self.next, self.next + 0x2000);
        self.next += 0x4000;
        self.mem.write(GuestAddress(at), req).unwrap();
        let h = self.q.add_chain(
            &mut self.mem,
            &[(at, req.len() as u32, false), (reply, room, true)],
        );
        self.q.publish(&mut self.mem, h);
        kick(&mut self.dev, &mut self.mem, 0);
        (h, reply)
    }

    /// The reply's (type, tag) at `at`.
    fn reply(&self, at: u64) -> (u8, u16) {
        let mut b = [0u8; 7];
        self.mem.read(GuestAddress(at), &mut b).unwrap();
        (b[4], u16::from_le_bytes([b[5], b[6]]))
    }

    fn reply_len(&self, at: u64) -> u32 {
        self.mem.read_u32(GuestAddress(at)).unwrap()
    }
}

#[test]
fn config_space_holds_the_mount_tag() {
    let mut d = VirtioMmio::new(P9::new(MemFs::new(), Config::default(), "hostshare").unwrap());
    assert_eq!(rd(&mut d, reg::DEVICE_ID), 9);
    assert_ne!(device_features(&mut d) & VIRTIO_9P_MOUNT_TAG, 0);
    assert_eq!(d.read(reg::CONFIG, 2), Some(9));
    let tag: Vec<u8> = (0..9)
        .map(|i| d.read(reg::CONFIG + 2 + i, 1).unwrap() as u8)
        .collect();
    assert_eq!(tag, b"hostshare");
    assert_eq!(d.read(reg::CONFIG + 11, 1), Some(0));
    assert!(matches!(
        P9::new(MemFs::new(), Config::default(), ""),
        Err(P9DeviceError::BadTag(0))
    ));
    let long = "x".repeat(256);
    assert!(P9::new(MemFs::new(), Config::default(), &long).is_err());
}

#[test]
fn immediate_replies() {
    let mut r = Rig::new();
    let (h, at) = r.send(&tversion(), 256);
    let used = r.q.take_used(&r.mem);
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].0, u32::from(h));
    assert_eq!(r.reply(at), (101, 0xffff)); // Rversion
    assert_eq!(used[0].1, r.reply_len(at));
    let (_, at) = r.send(&tattach(1, 1), 256);
    assert_eq!(r.reply(at), (105, 1)); // Rattach
    assert!(r.dev.irq_level());
}

#[test]
fn deferred_requests_complete_later_and_out_of_order() {
    let mut r = Rig::new();
    r.send(&tversion(), 256);
    r.send(&tattach(1, 1), 256);
    r.q.take_used(&r.mem);
    r.gate.set(false);
    let (h_a, at_a) = r.send(&tgetattr(10, 1), 512);
    let (h_b, at_b) = r.send(&tgetattr(11, 1), 512);
    assert!(r.q.take_used(&r.mem).is_empty(), "getattr must wait");
    assert_eq!(r.dev.device().in_flight(), 2);
    // A request that does not need getattr overtakes them.
    let (h_c, at_c) = r.send(&tstatfs(12, 1), 512);
    assert_eq!(
        r.q.take_used(&r.mem),
        vec![(u32::from(h_c), r.reply_len(at_c))]
    );
    assert_eq!(r.reply(at_c), (9, 12)); // Rstatfs
                                        // Still gated: polling changes nothing.
    r.dev.poll(&mut r.mem);
    assert!(r.q.take_used(&r.mem).is_empty());
    // Open the gate: both complete at the next poll.
    r.gate.set(true);
    r.dev.poll(&mut r.mem);
    let used = r.q.take_used(&r.mem);
    assert_eq!(
        used,
        vec![
            (u32::from(h_a), r.reply_len(at_a)),
            (u32::from(h_b), r.reply_len(at_b))
        ]
    );
    assert_eq!(r.reply(at_a), (25, 10)); // Rgetattr
    assert_eq!(r.reply(at_b), (25, 11));
    assert_eq!(r.dev.device().in_flight(), 0);
    assert_eq!(r.dev.device().stats().deferred, 2);
}

#[test]
fn flushed_request_returns_empty() {
    let mut r = Rig::new();
    r.send(&tversion(), 256);
    r.send(&tattach(1, 1), 256);
    r.q.take_used(&r.mem);
    r.gate.set(false);
    let (h_a, _) = r.send(&tgetattr(20, 1), 512);
    let (h_f, at_f) = r.send(&tflush(21, 20), 64);
    let used = r.q.take_used(&r.mem);
    // The Rflush came back; the flushed request comes back empty (now or at
    // the next poll), never with a reply.
    assert!(used.contains(&(u32::from(h_f), r.reply_len(at_f))));
    assert_eq!(r.reply(at_f), (109, 21));
    let mut all = used;
    r.dev.poll(&mut r.mem);
    all.extend(r.q.take_used(&r.mem));
    assert!(all.contains(&(u32::from(h_a), 0)), "{all:?}");
    r.gate.set(true);
    r.dev.poll(&mut r.mem);
    assert!(r.q.take_used(&r.mem).is_empty());
}

#[test]
fn reply_that_does_not_fit_is_dropped() {
    let mut r = Rig::new();
    // Rversion is 7 + 4 + 2 + 8 = 21 bytes; offer 10.
    let (h, _) = r.send(&tversion(), 10);
    assert_eq!(r.q.take_used(&r.mem), vec![(u32::from(h), 0)]);
    assert_eq!(r.dev.device().stats().dropped, 1);
    // Garbage gets an error reply, not a panic.
    let (h, at) = r.send(&[3, 0, 0, 0, 1], 64);
    let used = r.q.take_used(&r.mem);
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].0, u32::from(h));
    assert_eq!(used[0].1, r.reply_len(at));
    assert_eq!(r.reply(at).0, 7); // Rlerror
}

#[test]
fn reset_forgets_requests_in_flight() {
    let mut r = Rig::new();
    r.send(&tversion(), 256);
    r.send(&tattach(1, 1), 256);
    r.gate.set(false);
    r.send(&tgetattr(30, 1), 512);
    assert_eq!(r.dev.device().in_flight(), 1);
    wr(&mut r.dev, reg::STATUS, 0);
    assert_eq!(r.dev.device().in_flight(), 0);
    // A late completion of the old request goes nowhere.
    r.gate.set(true);
    let mut q = bring_up(&mut r.dev, 0, 16).remove(0);
    mem_clear_used(&mut r.mem, &q);
    r.dev.poll(&mut r.mem);
    assert!(q.take_used(&r.mem).is_empty());
}

fn mem_clear_used(mem: &mut RamRegion, q: &MockQueue) {
    mem.write_u16(GuestAddress(q.used + 2), 0).unwrap();
    mem.write_u16(GuestAddress(q.avail + 2), 0).unwrap();
}

/// Linux's zero-copy requests split a message over several buffers: the
/// Twrite payload in readable pages after the header, the Rread payload in
/// writable pages after an 11-byte header buffer.
#[test]
fn messages_split_across_segments() {
    let mut r = Rig::new();
    r.send(&tversion(), 256);
    r.send(&tattach(1, 1), 256);
    // Twalk fid 1 -> fid 2 (clone), Tlcreate "f" on fid 2.
    let mut walk = 1u32.to_le_bytes().to_vec();
    walk.extend(2u32.to_le_bytes());
    walk.extend(0u16.to_le_bytes());
    let (_, at) = r.send(&msg(110, 3, &walk), 256);
    assert_eq!(r.reply(at), (111, 3));
    let mut create = 2u32.to_le_bytes().to_vec();
    create.extend(s(b"f"));
    create.extend(2u32.to_le_bytes()); // O_RDWR
    create.extend(0o644u32.to_le_bytes());
    create.extend(0u32.to_le_bytes());
    let (_, at) = r.send(&msg(14, 4, &create), 256);
    assert_eq!(r.reply(at), (15, 4));

    // Twrite of 6000 bytes: header in one buffer, payload in two.
    let payload: Vec<u8> = (0..6000u32).map(|i| (i % 253) as u8).collect();
    let mut hdr = 2u32.to_le_bytes().to_vec();
    hdr.extend(0u64.to_le_bytes());
    hdr.extend((payload.len() as u32).to_le_bytes());
    let mut twrite = msg(118, 5, &hdr);
    let total = twrite.len() + payload.len();
    twrite[..4].copy_from_slice(&(total as u32).to_le_bytes());
    let base = DATA_BASE + 0x10_0000;
    r.mem.write(GuestAddress(base), &twrite).unwrap();
    r.mem
        .write(GuestAddress(base + 0x1000), &payload[..4000])
        .unwrap();
    r.mem
        .write(GuestAddress(base + 0x3000), &payload[4000..])
        .unwrap();
    let reply = base + 0x5000;
    let h = r.q.add_chain(
        &mut r.mem,
        &[
            (base, twrite.len() as u32, false),
            (base + 0x1000, 4000, false),
            (base + 0x3000, 2000, false),
            (reply, 64, true),
        ],
    );
    r.q.publish(&mut r.mem, h);
    r.q.take_used(&r.mem);
    kick(&mut r.dev, &mut r.mem, 0);
    assert_eq!(r.q.take_used(&r.mem), vec![(u32::from(h), 11)]);
    assert_eq!(r.reply(reply), (119, 5)); // Rwrite
    assert_eq!(r.mem.read_u32(GuestAddress(reply + 7)).unwrap(), 6000);

    // Tread of 6000 bytes into an 11-byte header buffer and two pages.
    let mut tread = 2u32.to_le_bytes().to_vec();
    tread.extend(0u64.to_le_bytes());
    tread.extend(6000u32.to_le_bytes());
    let tread = msg(116, 6, &tread);
    let (rq, rh, p1, p2) = (base + 0x8000, base + 0x9000, base + 0xa000, base + 0xc000);
    r.mem.write(GuestAddress(rq), &tread).unwrap();
    let h = r.q.add_chain(
        &mut r.mem,
        &[
            (rq, tread.len() as u32, false),
            (rh, 11, true),
            (p1, 4096, true),
            (p2, 4096, true),
        ],
    );
    r.q.publish(&mut r.mem, h);
    kick(&mut r.dev, &mut r.mem, 0);
    assert_eq!(r.q.take_used(&r.mem), vec![(u32::from(h), 11 + 6000)]);
    assert_eq!(r.reply(rh), (117, 6)); // Rread
    assert_eq!(r.mem.read_u32(GuestAddress(rh + 7)).unwrap(), 6000);
    let mut got = vec![0u8; 6000];
    r.mem.read(GuestAddress(p1), &mut got[..4096]).unwrap();
    r.mem.read(GuestAddress(p2), &mut got[4096..]).unwrap();
    assert_eq!(got, payload);
}

#[test]
fn completion_after_the_queue_was_disabled() {
    let mut r = Rig::new();
    r.send(&tversion(), 256);
    r.send(&tattach(1, 1), 256);
    r.gate.set(false);
    r.send(&tgetattr(40, 1), 512);
    assert_eq!(r.dev.device().in_flight(), 1);
    // The driver disables the queue and zeroes its size, then the reply
    // arrives: it has nowhere to go and is dropped, without a panic.
    wr(&mut r.dev, reg::QUEUE_SEL, 0);
    wr(&mut r.dev, reg::QUEUE_READY, 0);
    wr(&mut r.dev, reg::QUEUE_NUM, 0);
    r.gate.set(true);
    let before = r.q.used_idx(&r.mem);
    r.dev.poll(&mut r.mem);
    assert_eq!(r.dev.device().in_flight(), 0);
    assert_eq!(r.q.used_idx(&r.mem), before);
    assert_eq!(r.dev.last_error(), None);
}
