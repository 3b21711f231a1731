//! The 9P2000.L server against the in-memory backend: every message,
//! deferred completion and Tflush, and malformed input.

use vf_devices::p9::testing::{conformance, fuzz, random_request, Deferring, Rng, Session, ROOT};
use vf_devices::p9::wire::{msg, Reply, Request, NOFID};
use vf_devices::p9::{open_flags, Config, Errno, Handled, MemFs};

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

#[test]
fn randomized_messages_never_panic() {
    // 300 seeds x 200 messages, a third of them corrupted, against a
    // backend that defers some operations.
    fuzz(
        |seed| Deferring::new(MemFs::with_capacity(1 << 20), (seed % 3) as u32),
        1..=300,
        200,
    );
}

#[test]
fn requests_round_trip_through_the_parser() {
    let mut rng = Rng::new(42);
    for _ in 0..2000 {
        let req = random_request(&mut rng);
        let bytes = req.encode(3);
        let (h, parsed) = Request::parse(&bytes, 1 << 20).unwrap();
        assert_eq!((h.tag, h.kind, parsed), (3, req.kind(), req));
    }
}

#[test]
fn reset_forgets_fids_and_parked_requests() {
    let mut s = deferring(10);
    let read = Request::Read {
        fid: 1,
        offset: 0,
        count: 10,
    }
    .encode(3);
    assert_eq!(s.server.handle(1, &read), Handled::Pending);
    s.server.reset();
    assert_eq!(
        (s.server.pending(), s.server.fid_count(), s.server.msize()),
        (0, 0, 0)
    );
    assert!(
        s.server.poll().is_empty(),
        "no completions for a dead queue"
    );
    assert_eq!(s.getattr(ROOT), Err(Errno::EPROTO.0), "Tversion first");
    s.server.fs_mut().set_delay(0);
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
    assert_eq!(s.get(&["f"]), Ok(b"data".to_vec()));
}
