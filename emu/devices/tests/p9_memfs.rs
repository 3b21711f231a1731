//! Semantics of the in-memory backend beyond the shared conformance suite:
//! ownership, device numbers, the content budget, open-but-unlinked files,
//! directory moves and time stamps.

use vf_devices::p9::testing::{Session, ROOT};
use vf_devices::p9::wire::{setattr, Reply, Request};
use vf_devices::p9::{mode, open_flags, Errno, MemFs, Timespec};

#[test]
fn ownership_comes_from_the_attach_and_the_request_gid() {
    let mut s = Session::start(MemFs::new());
    s.mkdir(ROOT, "d", 0o755).unwrap();
    s.walk(ROOT, 1, &["d"]).unwrap();
    let a = s.getattr(1).unwrap();
    assert_eq!(
        (a.uid, a.gid),
        (1000, 1000),
        "uid from n_uname, gid from Tmkdir"
    );
    let chown = Request::Setattr {
        fid: 1,
        valid: setattr::UID | setattr::GID,
        mode: 0,
        uid: 5,
        gid: 6,
        size: 0,
        atime: (0, 0),
        mtime: (0, 0),
    };
    s.call(chown).unwrap();
    let a = s.getattr(1).unwrap();
    assert_eq!((a.uid, a.gid, a.mode), (5, 6, mode::S_IFDIR | 0o755));
}

#[test]
fn device_nodes_keep_their_numbers() {
    let mut s = Session::start(MemFs::new());
    let req = Request::Mknod {
        dfid: ROOT,
        name: b"tty".to_vec(),
        mode: mode::S_IFCHR | 0o620,
        major: 4,
        minor: 1,
        gid: 5,
    };
    assert!(matches!(s.call(req), Ok(Reply::Qid(_))));
    s.walk(ROOT, 1, &["tty"]).unwrap();
    let a = s.getattr(1).unwrap();
    assert_eq!(a.mode, mode::S_IFCHR | 0o620);
    assert_eq!(a.rdev, (4 << 8) | 1, "Linux makedev(4, 1)");
    assert_eq!(s.lopen(1, open_flags::O_RDONLY), Err(Errno::ENXIO.0));
    let bad = Request::Mknod {
        dfid: ROOT,
        name: b"x".to_vec(),
        mode: 0o170000,
        major: 0,
        minor: 0,
        gid: 0,
    };
    assert_eq!(s.call(bad), Err(Errno::EINVAL.0));
}

#[test]
fn the_content_budget_is_enforced_and_released() {
    let mut s = Session::start(MemFs::with_capacity(10_000));
    s.walk(ROOT, 1, &[]).unwrap();
    s.lcreate(1, "f", open_flags::O_RDWR, 0o644).unwrap();
    assert_eq!(s.write(1, 0, &[1; 8000]), Ok(8000));
    assert_eq!(s.write(1, 8000, &[1; 4000]), Err(Errno::ENOSPC.0));
    assert_eq!(s.write(1, u64::MAX - 1, &[1; 4]), Err(Errno::EFBIG.0));
    assert_eq!(
        s.write(1, 1 << 40, &[1]),
        Err(Errno::ENOSPC.0),
        "no huge sparse allocation"
    );
    let grow = Request::Setattr {
        fid: 1,
        valid: setattr::SIZE,
        mode: 0,
        uid: 0,
        gid: 0,
        size: 1 << 50,
        atime: (0, 0),
        mtime: (0, 0),
    };
    assert_eq!(s.call(grow), Err(Errno::ENOSPC.0));
    assert_eq!(s.server.fs().used_bytes(), 8000);
    s.clunk(1).unwrap();
    s.unlinkat(ROOT, "f", 0).unwrap();
    assert_eq!(s.server.fs().used_bytes(), 0);
    let Ok(Reply::Statfs(st)) = s.call(Request::Statfs { fid: ROOT }) else {
        panic!()
    };
    assert_eq!(st.bfree, 10_000 / 4096);
}

#[test]
fn an_unlinked_open_file_lives_until_closed() {
    let mut s = Session::start(MemFs::new());
    s.walk(ROOT, 1, &[]).unwrap();
    s.lcreate(1, "tmp", open_flags::O_RDWR, 0o600).unwrap();
    s.write(1, 0, b"still here").unwrap();
    s.unlinkat(ROOT, "tmp", 0).unwrap();
    assert_eq!(s.walk(ROOT, 2, &["tmp"]), Err(Errno::ENOENT.0));
    assert_eq!(s.read(1, 0, 100), Ok(b"still here".to_vec()));
    assert_eq!(s.getattr(1).unwrap().nlink, 0);
    s.clunk(1).unwrap();
    assert_eq!(s.server.fs().used_bytes(), 0, "freed on the last close");
}

#[test]
fn hard_links_share_contents_and_counts() {
    let mut s = Session::start(MemFs::new());
    s.put(ROOT, "a", b"one");
    s.walk(ROOT, 1, &["a"]).unwrap();
    s.call(Request::Link {
        dfid: ROOT,
        fid: 1,
        name: b"b".to_vec(),
    })
    .unwrap();
    s.walk(ROOT, 2, &["b"]).unwrap();
    s.lopen(2, open_flags::O_WRONLY | open_flags::O_APPEND)
        .unwrap();
    s.write(2, 0, b" two").unwrap();
    assert_eq!(s.get(&["a"]), Ok(b"one two".to_vec()));
    s.unlinkat(ROOT, "a", 0).unwrap();
    assert_eq!(s.getattr(2).unwrap().nlink, 1);
    assert_eq!(s.get(&["b"]), Ok(b"one two".to_vec()));
}

#[test]
fn moving_a_directory_moves_its_dotdot_and_link_counts() {
    let mut s = Session::start(MemFs::new());
    s.mkdir(ROOT, "x", 0o755).unwrap();
    s.mkdir(ROOT, "y", 0o755).unwrap();
    s.walk(ROOT, 1, &["x"]).unwrap();
    s.walk(ROOT, 2, &["y"]).unwrap();
    s.mkdir(1, "sub", 0o755).unwrap();
    assert_eq!(s.getattr(1).unwrap().nlink, 3);
    s.renameat(1, "sub", 2, "sub").unwrap();
    assert_eq!(
        (s.getattr(1).unwrap().nlink, s.getattr(2).unwrap().nlink),
        (2, 3)
    );
    let y = s.getattr(2).unwrap().qid;
    let q = s.walk(2, 3, &["sub", ".."]).unwrap();
    assert_eq!(q[1].path, y.path);
    assert_eq!(s.getattr(ROOT).unwrap().nlink, 4);
}

#[test]
fn time_stamps_follow_the_clock() {
    let mut fs = MemFs::new();
    fs.set_clock(|| Timespec {
        sec: 1_700_000_000,
        nsec: 42,
    });
    let mut s = Session::start(fs);
    s.put(ROOT, "f", b"x");
    s.walk(ROOT, 1, &["f"]).unwrap();
    let a = s.getattr(1).unwrap();
    assert_eq!(
        (a.mtime.sec, a.mtime.nsec, a.ctime.sec),
        (1_700_000_000, 42, 1_700_000_000)
    );
    let root = s.getattr(ROOT).unwrap();
    assert_eq!(
        root.mtime.sec, 1_700_000_000,
        "creating updates the directory"
    );
}

#[test]
fn qid_versions_change_with_contents() {
    let mut s = Session::start(MemFs::new());
    s.walk(ROOT, 1, &[]).unwrap();
    let q0 = s.lcreate(1, "f", open_flags::O_RDWR, 0o644).unwrap();
    s.write(1, 0, b"a").unwrap();
    let q1 = s.getattr(1).unwrap().qid;
    assert_eq!(q0.path, q1.path);
    assert_ne!(q0.version, q1.version);
}
