//! The 9P2000.L server against the in-memory backend: every message,
//! deferred completion and Tflush, and malformed input.

use vf_devices::p9::testing::{conformance, Deferring, Session, ROOT};
use vf_devices::p9::wire::{msg, Reply, Request, NOFID};
use vf_devices::p9::{open_flags, Config, Errno, Handled, MemFs, Server};

#[test]
fn conformance_memfs() {
    conformance(MemFs::new);
}

#[test]
fn conformance_with_every_operation_deferred() {
    // The same suite passes when each backend operation first answers
    // "not ready" twice: parked requests are retried by poll.
    conformance(|| Deferring::new(MemFs::new(), 2));
}

/// A session over a backend that defers each operation `delay` times.
fn deferring(delay: u32) -> Session<Deferring<MemFs>> {
    let mut s = Session::start(Deferring::new(MemFs::new(), 0));
    s.put(ROOT, "f", b"data");
    s.walk(ROOT, 1, &["f"]).unwrap();
    s.lopen(1, open_flags::O_RDWR).unwrap();
    s.server.fs_mut().set_delay(delay);
    s
}

#[test]
fn parked_requests_complete_in_poll_while_others_proceed() {
    let mut s = deferring(3);
    let read = Request::Read {
        fid: 1,
        offset: 0,
        count: 100,
    }
    .encode(10);
    assert_eq!(s.server.handle(100, &read), Handled::Pending);
    assert_eq!(s.server.pending(), 1);
    // A request that needs no deferred operation is answered meanwhile.
    let getattr = Request::Getattr { fid: 1, mask: 0 }.encode(11);
    let Handled::Reply(r) = s.server.handle(101, &getattr) else {
        panic!("getattr parked")
    };
    assert!(matches!(Reply::parse(&r), Ok((11, Reply::Getattr { .. }))));
    // Two polls are not enough (deferred three times), the third is.
    assert!(s.server.poll().is_empty());
    assert!(s.server.poll().is_empty());
    let done = s.server.poll();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].token, 100);
    let reply = Reply::parse(done[0].reply.as_ref().unwrap()).unwrap();
    assert_eq!(reply, (10, Reply::Data(b"data".to_vec())));
    assert_eq!(s.server.pending(), 0);
    assert!(s.server.poll().is_empty(), "exactly one completion");
}

#[test]
fn several_requests_in_flight_complete_in_order() {
    let mut s = deferring(1);
    for i in 0..5u16 {
        let w = Request::Write {
            fid: 1,
            offset: u64::from(i),
            data: vec![b'A' + i as u8],
        }
        .encode(20 + i);
        assert_eq!(s.server.handle(u64::from(i), &w), Handled::Pending);
    }
    let done = s.server.poll();
    let tokens: Vec<u64> = done.iter().map(|c| c.token).collect();
    assert_eq!(tokens, vec![0, 1, 2, 3, 4]);
    for (i, c) in done.iter().enumerate() {
        assert_eq!(
            Reply::parse(c.reply.as_ref().unwrap()).unwrap(),
            (20 + i as u16, Reply::Write(1))
        );
    }
    s.server.fs_mut().set_delay(0);
    assert_eq!(s.get(&["f"]), Ok(b"ABCDE".to_vec()));
}

#[test]
fn flush_cancels_a_parked_request_without_effect() {
    let mut s = deferring(5);
    let write = Request::Write {
        fid: 1,
        offset: 0,
        data: b"XXXX".to_vec(),
    }
    .encode(30);
    assert_eq!(s.server.handle(7, &write), Handled::Pending);
    assert!(s.server.poll().is_empty());
    // A new request may not reuse an outstanding tag.
    let dup = Request::Getattr { fid: 1, mask: 0 }.encode(30);
    assert_eq!(
        s.server.handle(8, &dup),
        Handled::Reply(vf_devices::p9::wire::rlerror(30, Errno::EINVAL.0))
    );
    let flush = Request::Flush { oldtag: 30 }.encode(31);
    let Handled::Reply(r) = s.server.handle(9, &flush) else {
        panic!()
    };
    assert_eq!(
        Reply::parse(&r).unwrap(),
        (31, Reply::Empty(msg::TFLUSH + 1))
    );
    // The flushed request completes with no reply and is never retried.
    let done = s.server.poll();
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].token, done[0].reply.is_none()), (7, true));
    assert_eq!(s.server.pending(), 0);
    s.server.fs_mut().set_delay(0);
    assert_eq!(
        s.get(&["f"]),
        Ok(b"data".to_vec()),
        "the flushed write had no effect"
    );
    // The tag is free again.
    assert!(matches!(
        s.raw(10, &Request::Clunk { fid: 1 }.encode(30)),
        Some((30, Reply::Empty(_)))
    ));
}

#[test]
fn tversion_aborts_parked_requests_and_parking_is_bounded() {
    let mut s = Session::new(
        Deferring::new(MemFs::new(), 0),
        Config {
            max_pending: 2,
            ..Config::default()
        },
    );
    s.call(Request::Version {
        msize: 8192,
        version: b"9P2000.L".to_vec(),
    })
    .unwrap();
    s.call(Request::Attach {
        fid: 0,
        afid: NOFID,
        uname: vec![],
        aname: vec![],
        n_uname: 0,
    })
    .unwrap();
    s.server.fs_mut().set_delay(100);
    let stat = |tag| Request::Statfs { fid: 0 }.encode(tag);
    assert_eq!(s.server.handle(1, &stat(1)), Handled::Pending);
    assert_eq!(s.server.handle(2, &stat(2)), Handled::Pending);
    let Handled::Reply(r) = s.server.handle(3, &stat(3)) else {
        panic!("third parked")
    };
    assert_eq!(
        Reply::parse(&r).unwrap(),
        (3, Reply::Lerror(Errno::EAGAIN.0))
    );
    let v = Request::Version {
        msize: 8192,
        version: b"9P2000.L".to_vec(),
    }
    .encode(0xffff);
    assert!(matches!(s.server.handle(4, &v), Handled::Reply(_)));
    let done = s.server.poll();
    let mut tokens: Vec<(u64, bool)> = done.iter().map(|c| (c.token, c.reply.is_none())).collect();
    tokens.sort();
    assert_eq!(tokens, vec![(1, true), (2, true)]);
    assert_eq!(s.server.pending(), 0);
}

#[test]
fn fid_table_is_bounded() {
    let mut s = Session::new(
        MemFs::new(),
        Config {
            max_fids: 4,
            ..Config::default()
        },
    );
    s.call(Request::Version {
        msize: 8192,
        version: b"9P2000.L".to_vec(),
    })
    .unwrap();
    s.call(Request::Attach {
        fid: 0,
        afid: NOFID,
        uname: vec![],
        aname: vec![],
        n_uname: 0,
    })
    .unwrap();
    for fid in 1..4 {
        s.walk(0, fid, &[]).unwrap();
    }
    assert_eq!(s.walk(0, 4, &[]), Err(Errno::ENFILE.0));
    s.clunk(3).unwrap();
    assert!(s.walk(0, 4, &[]).is_ok());
}

#[test]
fn malformed_headers_get_errors() {
    let mut s = Session::start(MemFs::new());
    // Too short for a header: NOTAG.
    for bytes in [&[][..], &[1, 0, 0][..], &[7, 0, 0, 0, 100, 1][..]] {
        assert_eq!(
            s.raw(0, bytes),
            Some((0xffff, Reply::Lerror(Errno::EINVAL.0)))
        );
    }
    let good = Request::Getattr { fid: ROOT, mask: 0 }.encode(5);
    // Size field disagrees with the bytes.
    let mut bad = good.clone();
    bad[0] += 1;
    assert_eq!(s.raw(0, &bad), Some((5, Reply::Lerror(Errno::EINVAL.0))));
    // Truncated body (size field adjusted).
    let mut short = good[..good.len() - 3].to_vec();
    short[0] -= 3;
    assert_eq!(s.raw(0, &short), Some((5, Reply::Lerror(Errno::EINVAL.0))));
    // Trailing bytes.
    let mut long = good.clone();
    long.push(0);
    long[0] += 1;
    assert_eq!(s.raw(0, &long), Some((5, Reply::Lerror(Errno::EINVAL.0))));
    // A string length running past the end, a huge Twrite count, 65535 walk names.
    let mut walk = Request::Walk {
        fid: 0,
        newfid: 1,
        names: vec![b"abc".to_vec()],
    }
    .encode(6);
    walk[15] = 0xff;
    assert_eq!(s.raw(0, &walk), Some((6, Reply::Lerror(Errno::EINVAL.0))));
    let mut walk = Request::Walk {
        fid: 0,
        newfid: 1,
        names: vec![],
    }
    .encode(6);
    walk[15..17].copy_from_slice(&[0xff, 0xff]);
    assert_eq!(s.raw(0, &walk), Some((6, Reply::Lerror(Errno::EINVAL.0))));
    let mut write = Request::Write {
        fid: 0,
        offset: 0,
        data: vec![1, 2, 3],
    }
    .encode(7);
    write[19..23].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(s.raw(0, &write), Some((7, Reply::Lerror(Errno::EINVAL.0))));
    // A Tread count far beyond msize is clamped, not allocated.
    s.put(ROOT, "f", b"abc");
    s.walk(ROOT, 1, &["f"]).unwrap();
    s.lopen(1, open_flags::O_RDONLY).unwrap();
    assert_eq!(s.read(1, 0, u32::MAX), Ok(b"abc".to_vec()));
    // Names with '/', NUL or empty are refused.
    assert_eq!(s.mkdir(ROOT, "", 0o755), Err(Errno::EINVAL.0));
    assert_eq!(s.mkdir(ROOT, "a\0b", 0o755), Err(Errno::EINVAL.0));
    assert_eq!(
        s.mkdir(ROOT, &"n".repeat(256), 0o755),
        Err(Errno::ENAMETOOLONG.0)
    );
    assert!(s.mkdir(ROOT, &"n".repeat(255), 0o755).is_ok());
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random but plausible request: right type, mostly small fids, names
/// from a tiny alphabet, so that many of them succeed and build state.
fn random_request(rng: &mut Rng) -> Request {
    let fid = |r: &mut Rng| r.below(8) as u32;
    let name = |r: &mut Rng| -> Vec<u8> {
        let names: [&[u8]; 7] = [b"a", b"b", b"..", b".", b"c/d", b"", b"long"];
        names[r.below(7) as usize].to_vec()
    };
    match rng.below(20) {
        0 => Request::Walk {
            fid: fid(rng),
            newfid: fid(rng),
            names: (0..rng.below(4)).map(|_| name(rng)).collect(),
        },
        1 => Request::Lopen {
            fid: fid(rng),
            flags: rng.below(4) as u32 | (rng.below(2) as u32 * 0o1000),
        },
        2 => Request::Lcreate {
            fid: fid(rng),
            name: name(rng),
            flags: 2,
            mode: 0o644,
            gid: 0,
        },
        3 => Request::Read {
            fid: fid(rng),
            offset: rng.below(100),
            count: rng.next() as u32,
        },
        4 => Request::Write {
            fid: fid(rng),
            offset: rng.below(1 << 20),
            data: vec![7; rng.below(300) as usize],
        },
        5 => Request::Clunk { fid: fid(rng) },
        6 => Request::Mkdir {
            dfid: fid(rng),
            name: name(rng),
            mode: 0o755,
            gid: 0,
        },
        7 => Request::Readdir {
            fid: fid(rng),
            offset: rng.below(8),
            count: rng.below(200) as u32,
        },
        8 => Request::Renameat {
            olddirfid: fid(rng),
            oldname: name(rng),
            newdirfid: fid(rng),
            newname: name(rng),
        },
        9 => Request::Unlinkat {
            dfid: fid(rng),
            name: name(rng),
            flags: if rng.below(2) == 0 { 0 } else { 0x200 },
        },
        10 => Request::Symlink {
            fid: fid(rng),
            name: name(rng),
            target: name(rng),
            gid: 0,
        },
        11 => Request::Link {
            dfid: fid(rng),
            fid: fid(rng),
            name: name(rng),
        },
        12 => Request::Rename {
            fid: fid(rng),
            dfid: fid(rng),
            name: name(rng),
        },
        13 => Request::Remove { fid: fid(rng) },
        14 => Request::Setattr {
            fid: fid(rng),
            valid: rng.next() as u32 & 0x1ff,
            mode: 0o600,
            uid: 0,
            gid: 0,
            size: rng.below(5000),
            atime: (1, 2),
            mtime: (3, rng.below(2_000_000_000)),
        },
        15 => Request::Getattr {
            fid: fid(rng),
            mask: 0x7ff,
        },
        16 => Request::Readlink { fid: fid(rng) },
        17 => Request::Flush {
            oldtag: rng.below(4) as u16,
        },
        18 => Request::Mknod {
            dfid: fid(rng),
            name: name(rng),
            mode: rng.next() as u32,
            major: 1,
            minor: 2,
            gid: 0,
        },
        _ => Request::Fsync {
            fid: fid(rng),
            datasync: 0,
        },
    }
}

#[test]
fn randomized_messages_never_panic() {
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let fs = Deferring::new(MemFs::with_capacity(1 << 20), (seed % 3) as u32);
        let mut server = Server::new(
            fs,
            Config {
                max_msize: 8192,
                max_fids: 6,
                max_pending: 4,
            },
        );
        let mut outstanding = std::collections::HashSet::new();
        for step in 0..200u64 {
            let tag = rng.below(6) as u16;
            let mut bytes = if step == 0 {
                Request::Version {
                    msize: 8192,
                    version: b"9P2000.L".to_vec(),
                }
                .encode(0xffff)
            } else if step == 1 {
                Request::Attach {
                    fid: 0,
                    afid: NOFID,
                    uname: vec![],
                    aname: vec![],
                    n_uname: 0,
                }
                .encode(tag)
            } else {
                random_request(&mut rng).encode(tag)
            };
            // Corrupt some messages: flip bytes, cut, extend, or fix the size after.
            match rng.below(6) {
                0 if bytes.len() > 4 => {
                    let i = rng.below(bytes.len() as u64) as usize;
                    bytes[i] = rng.next() as u8;
                }
                1 => bytes.truncate(rng.below(bytes.len() as u64 + 1) as usize),
                2 => {
                    let cut = rng.below(bytes.len() as u64 + 1) as usize;
                    bytes.truncate(cut.max(4));
                    let n = bytes.len() as u32;
                    bytes[..4].copy_from_slice(&n.to_le_bytes());
                }
                _ => {}
            }
            match server.handle(step, &bytes) {
                Handled::Reply(r) => {
                    assert!(
                        r.len() <= 8192,
                        "seed {seed} step {step}: reply of {} bytes",
                        r.len()
                    );
                    Reply::parse(&r).unwrap_or_else(|e| panic!("seed {seed} step {step}: {e}"));
                }
                Handled::Pending => {
                    outstanding.insert(step);
                }
            }
            if rng.below(3) == 0 {
                for c in server.poll() {
                    assert!(
                        outstanding.remove(&c.token),
                        "seed {seed}: completion for {}",
                        c.token
                    );
                    if let Some(r) = c.reply {
                        assert!(r.len() <= 8192);
                        Reply::parse(&r).unwrap();
                    }
                }
            }
        }
        for _ in 0..20 {
            for c in server.poll() {
                assert!(
                    outstanding.remove(&c.token),
                    "seed {seed}: stray completion"
                );
            }
        }
        assert!(
            outstanding.is_empty(),
            "seed {seed}: {} requests never completed",
            outstanding.len()
        );
        assert!(server.fid_count() <= 6);
    }
}

#[test]
fn requests_round_trip_through_the_parser() {
    let mut rng = Rng(42);
    for _ in 0..2000 {
        let req = random_request(&mut rng);
        let bytes = req.encode(3);
        let (h, parsed) = Request::parse(&bytes, 1 << 20).unwrap();
        assert_eq!((h.tag, h.kind, parsed), (3, req.kind(), req));
    }
}
