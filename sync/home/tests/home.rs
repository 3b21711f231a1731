//! The home driven through real 9P messages, against vfsync-core's in-memory server.

use std::sync::atomic::{AtomicI64, Ordering};

use futures_executor::block_on;
use vf_devices::p9::testing::{Session, ROOT};
use vf_devices::p9::wire::{Reply, Request};
use vf_devices::p9::{open_flags, Completion};
use vfsync_core::LocalTree as _;
use vfsync_home::Connector as _;
use vfsync_home::{HomeConfig, HomeDriver, MemConnector, SyncHome};

const ENOENT: u32 = 2;
const EACCES: u32 = 13;

static CLOCK: AtomicI64 = AtomicI64::new(1_700_000_000_000_000_000);

/// A clock that moves 1 ms per reading, so every change gets a new mtime.
fn clock() -> i64 {
    CLOCK.fetch_add(1_000_000, Ordering::Relaxed)
}

type Home = Session<SyncHome<MemConnector>>;
type Driver = HomeDriver<MemConnector>;

fn accounts() -> MemConnector {
    let mut c = MemConnector::new();
    c.add_user("alice", "correct horse", 1000).unwrap();
    c.add_user("bob", "hunter2", 1000).unwrap();
    c
}

fn home(c: &MemConnector, clock: fn() -> i64) -> (Home, Driver) {
    let (fs, d) = SyncHome::new(c.clone(), HomeConfig::new(clock));
    (Session::start(fs), d)
}

/// Sends a request; if the home parks it, runs the driver's jobs and polls until it completes.
fn call(s: &mut Home, d: &Driver, req: Request) -> Result<Reply, u32> {
    let tag = s.tag();
    let token = u64::from(tag);
    let reply = match s.raw(token, &req.encode(tag)) {
        Some((_, r)) => r,
        None => {
            let mut got = None;
            for _ in 0..10 {
                assert!(d.has_work(), "a parked request with no job to wait for");
                block_on(d.run());
                if let Some(Completion { reply, .. }) =
                    s.server.poll().into_iter().find(|c| c.token == token)
                {
                    got = Some(Reply::parse(&reply.expect("not flushed")).unwrap().1);
                    break;
                }
            }
            got.expect("the request completed after the jobs ran")
        }
    };
    match reply {
        Reply::Lerror(e) => Err(e),
        r => Ok(r),
    }
}

fn read_all(s: &mut Home, d: &Driver, fid: u32) -> Result<Vec<u8>, u32> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let offset = out.len() as u64;
        match call(
            s,
            d,
            Request::Read {
                fid,
                offset,
                count: 65536,
            },
        )? {
            Reply::Data(b) if b.is_empty() => return Ok(out),
            Reply::Data(b) => out.extend(b),
            r => panic!("unexpected {r:?}"),
        }
    }
    panic!("read does not end")
}

/// Writes a command to a fresh handle of the control file and returns the reply text.
fn ctl(s: &mut Home, d: &Driver, cmd: &str) -> String {
    let fid = 500;
    s.walk(ROOT, fid, &[".vfsync", "ctl"]).unwrap();
    s.lopen(fid, open_flags::O_RDWR).unwrap();
    assert_eq!(s.write(fid, 0, cmd.as_bytes()), Ok(cmd.len() as u32));
    let out = read_all(s, d, fid).unwrap();
    s.clunk(fid).unwrap();
    String::from_utf8(out).unwrap()
}

fn get(s: &mut Home, d: &Driver, path: &[&str]) -> Result<Vec<u8>, u32> {
    let fid = 600;
    s.walk(ROOT, fid, path)?;
    let r = call(
        s,
        d,
        Request::Lopen {
            fid,
            flags: open_flags::O_RDONLY,
        },
    )
    .and_then(|_| read_all(s, d, fid));
    s.clunk(fid).unwrap();
    r
}

fn put(s: &mut Home, d: &Driver, path: &[&str], data: &[u8]) {
    let fid = 700;
    let (name, dir) = path.split_last().unwrap();
    s.walk(ROOT, fid, dir).unwrap();
    if s.walk(fid, 701, &[name]).is_ok() {
        s.clunk(701).unwrap();
        s.clunk(fid).unwrap();
        s.walk(ROOT, fid, path).unwrap();
        let flags = open_flags::O_WRONLY | open_flags::O_TRUNC;
        call(s, d, Request::Lopen { fid, flags }).unwrap();
    } else {
        s.lcreate(fid, name, open_flags::O_WRONLY, 0o644).unwrap();
    }
    assert_eq!(s.write(fid, 0, data), Ok(data.len() as u32));
    s.clunk(fid).unwrap();
}

fn names(s: &mut Home, path: &[&str]) -> Vec<String> {
    let fid = 800;
    s.walk(ROOT, fid, path).unwrap();
    s.lopen(fid, open_flags::O_RDONLY | open_flags::O_DIRECTORY)
        .unwrap();
    let mut v: Vec<String> = s
        .readdir_all(fid, 4096)
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8(e.name).unwrap())
        .filter(|n| n != "." && n != "..")
        .collect();
    s.clunk(fid).unwrap();
    v.sort();
    v
}

/// Puts alice's starting files on the server with the engine, as another vfsync client would.
fn seed(c: &MemConnector) {
    let (remote, keys) = block_on(c.connect("alice", b"correct horse")).unwrap();
    let tree = vfsync_core::MemTree::new();
    block_on(tree.mkdir("docs", 0o755)).unwrap();
    tree.write("docs/a.txt", b"alpha");
    tree.write("b.txt", &vec![7u8; 300_000]);
    block_on(tree.write_symlink("link", "docs/a.txt")).unwrap();
    let r = block_on(vfsync_core::sync(
        &remote,
        &keys,
        &tree,
        &Default::default(),
        &(),
    ))
    .unwrap();
    assert!(r.committed);
}

fn login_alice(s: &mut Home, d: &Driver) {
    assert_eq!(
        ctl(s, d, "login alice\ncorrect horse\n"),
        "ok: signed in as alice\n"
    );
}

#[test]
fn sign_in_failures_are_one_line_and_leave_the_root_empty() {
    let c = accounts();
    let (mut s, d) = home(&c, clock);
    assert_eq!(names(&mut s, &[]), [".vfsync"]);
    assert_eq!(
        ctl(&mut s, &d, "login alice\nwrong\n"),
        "error: wrong password\n"
    );
    assert_eq!(
        ctl(&mut s, &d, "login carol\npw\n"),
        "error: unknown user carol\n"
    );
    c.set_unreachable(true);
    let r = ctl(&mut s, &d, "login alice\ncorrect horse\n");
    assert!(r.starts_with("error: server unreachable"), "{r}");
    assert_eq!(r.lines().count(), 1);
    assert!(ctl(&mut s, &d, "frobnicate\n").starts_with("error: bad command"));
    assert_eq!(ctl(&mut s, &d, "sync\n"), "error: not signed in\n");
    assert_eq!(names(&mut s, &[]), [".vfsync"]);
    assert!(ctl(&mut s, &d, "status\n").starts_with("user -\n"));
    // The root and the control directory are not the guest's to change.
    s.walk(ROOT, 1, &[]).unwrap();
    assert_eq!(s.lcreate(1, "x", open_flags::O_WRONLY, 0o644), Err(EACCES));
    assert_eq!(s.mkdir(ROOT, "alice", 0o755), Err(EACCES));
    assert_eq!(s.unlinkat(ROOT, ".vfsync", 0x200), Err(EACCES));
}

#[test]
fn the_tree_appears_and_contents_arrive_on_first_open() {
    let c = accounts();
    seed(&c);
    let (mut s, d) = home(&c, clock);
    login_alice(&mut s, &d);
    assert_eq!(names(&mut s, &[]), [".vfsync", "alice"]);
    assert_eq!(names(&mut s, &["alice"]), ["b.txt", "docs", "link"]);
    assert_eq!(names(&mut s, &["alice", "docs"]), ["a.txt"]);
    // Metadata is local: sizes are right before any content was fetched.
    s.walk(ROOT, 2, &["alice", "b.txt"]).unwrap();
    assert_eq!(s.getattr(2).unwrap().size, 300_000);
    assert_eq!(s.server.fs().not_fetched(), 2);
    let remote = c.remote("alice").unwrap();
    let blobs_before = remote.blob_ids().len();
    // The first open parks until the driver fetched the content.
    let tag = s.tag();
    let open = Request::Lopen {
        fid: 2,
        flags: open_flags::O_RDONLY,
    };
    assert!(s.raw(u64::from(tag), &open.encode(tag)).is_none());
    assert!(d.has_work());
    block_on(d.run());
    let done = s.server.poll();
    assert_eq!(done.len(), 1);
    assert!(matches!(
        Reply::parse(done[0].reply.as_ref().unwrap()).unwrap().1,
        Reply::Open { .. }
    ));
    assert_eq!(read_all(&mut s, &d, 2).unwrap(), vec![7u8; 300_000]);
    assert_eq!(s.server.fs().not_fetched(), 1);
    assert_eq!(
        get(&mut s, &d, &["alice", "docs", "a.txt"]).unwrap(),
        b"alpha"
    );
    assert_eq!(s.server.fs().not_fetched(), 0);
    s.walk(ROOT, 3, &["alice", "link"]).unwrap();
    assert_eq!(s.readlink(3).unwrap(), b"docs/a.txt");
    // Reading uploads nothing, and a sync right after moves nothing.
    let r = ctl(&mut s, &d, "sync\n");
    assert!(
        r.starts_with("ok: version 1, 0 uploaded, 0 downloaded"),
        "{r}"
    );
    assert_eq!(remote.blob_ids().len(), blobs_before);
}

#[test]
fn the_first_sync_after_sign_in_downloads_nothing() {
    let c = accounts();
    seed(&c);
    let (mut s, d) = home(&c, clock);
    login_alice(&mut s, &d);
    let r = ctl(&mut s, &d, "sync\n");
    assert!(
        r.starts_with("ok: version 1, 0 uploaded, 0 downloaded"),
        "{r}"
    );
    assert_eq!(s.server.fs().not_fetched(), 2, "sync fetched contents");
}

#[test]
fn writes_sync_up_and_another_home_sees_them() {
    let c = accounts();
    seed(&c);
    let (mut s, d) = home(&c, clock);
    login_alice(&mut s, &d);
    put(&mut s, &d, &["alice", "new.txt"], b"fresh");
    put(&mut s, &d, &["alice", "docs", "a.txt"], b"ALPHA v2");
    s.walk(ROOT, 4, &["alice"]).unwrap();
    s.mkdir(4, "music", 0o755).unwrap();
    assert_eq!(s.unlinkat(4, "b.txt", 0), Ok(()));
    assert!(ctl(&mut s, &d, "status\n").contains("pending yes"));
    let r = ctl(&mut s, &d, "sync\n");
    assert!(r.starts_with("ok: version 2, "), "{r}");
    for line in [
        "up new.txt",
        "up docs/a.txt",
        "up music",
        "deleted-on-server b.txt",
    ] {
        assert!(r.lines().any(|l| l == line), "{line} missing from {r}");
    }
    assert!(ctl(&mut s, &d, "status\n").contains("pending no"));

    let (mut s2, d2) = home(&c, clock);
    login_alice(&mut s2, &d2);
    assert_eq!(
        names(&mut s2, &["alice"]),
        ["docs", "link", "music", "new.txt"]
    );
    assert_eq!(get(&mut s2, &d2, &["alice", "new.txt"]).unwrap(), b"fresh");
    assert_eq!(
        get(&mut s2, &d2, &["alice", "docs", "a.txt"]).unwrap(),
        b"ALPHA v2"
    );
    // The first home picks up a change made by the second.
    put(&mut s2, &d2, &["alice", "new.txt"], b"from two");
    assert!(ctl(&mut s2, &d2, "sync\n").contains("\nup new.txt\n"));
    let r = ctl(&mut s, &d, "sync\n");
    assert!(r.lines().any(|l| l == "down new.txt"), "{r}");
    assert_eq!(get(&mut s, &d, &["alice", "new.txt"]).unwrap(), b"from two");
}

#[test]
fn changed_on_both_sides_renames_the_guests_file() {
    let c = accounts();
    seed(&c);
    let (mut a, da) = home(&c, clock);
    let (mut b, db) = home(&c, clock);
    login_alice(&mut a, &da);
    login_alice(&mut b, &db);
    put(&mut a, &da, &["alice", "docs", "a.txt"], b"from a");
    put(&mut b, &db, &["alice", "docs", "a.txt"], b"from b");
    assert!(ctl(&mut a, &da, "sync\n").starts_with("ok: version 2"));
    let r = ctl(&mut b, &db, "sync\n");
    assert!(
        r.lines()
            .any(|l| l == "conflict docs/a.txt -> docs/a.txt.1"),
        "{r}"
    );
    assert_eq!(
        get(&mut b, &db, &["alice", "docs", "a.txt"]).unwrap(),
        b"from a"
    );
    assert_eq!(
        get(&mut b, &db, &["alice", "docs", "a.txt.1"]).unwrap(),
        b"from b"
    );
    // The renamed copy was committed too: the first home gets it.
    let r = ctl(&mut a, &da, "sync\n");
    assert!(r.lines().any(|l| l == "down docs/a.txt.1"), "{r}");
}

#[test]
fn sign_out_syncs_and_forgets_the_tree() {
    let c = accounts();
    seed(&c);
    let (mut s, d) = home(&c, clock);
    login_alice(&mut s, &d);
    assert_eq!(
        ctl(&mut s, &d, "login bob\nhunter2\n"),
        "error: already signed in as alice\n"
    );
    put(&mut s, &d, &["alice", "last.txt"], b"bye");
    let r = ctl(&mut s, &d, "logout\n");
    assert!(r.starts_with("ok: signed out alice\n"), "{r}");
    assert!(r.lines().any(|l| l == "up last.txt"), "{r}");
    assert_eq!(names(&mut s, &[]), [".vfsync"]);
    assert_eq!(s.walk(ROOT, 9, &["alice"]), Err(ENOENT));
    assert!(ctl(&mut s, &d, "status\n").starts_with("user -\n"));
    assert_eq!(s.server.fs().user(), None);
    // Another user can sign in now, and alice's file really reached the server.
    assert_eq!(
        ctl(&mut s, &d, "login bob\nhunter2\n"),
        "ok: signed in as bob\n"
    );
    assert_eq!(names(&mut s, &["bob"]), Vec::<String>::new());
    assert!(ctl(&mut s, &d, "logout force\n").starts_with("ok: signed out bob"));
    login_alice(&mut s, &d);
    assert_eq!(get(&mut s, &d, &["alice", "last.txt"]).unwrap(), b"bye");
}

static SLOW: AtomicI64 = AtomicI64::new(1_800_000_000_000_000_000);

fn slow_clock() -> i64 {
    SLOW.load(Ordering::Relaxed)
}

#[test]
fn the_host_syncs_on_its_own_once_changes_settle() {
    let c = accounts();
    seed(&c);
    let (mut s, d) = home(&c, slow_clock);
    login_alice(&mut s, &d);
    assert!(!d.tick(), "nothing changed yet");
    SLOW.fetch_add(5_000_000_000, Ordering::Relaxed);
    put(&mut s, &d, &["alice", "auto.txt"], b"by itself");
    SLOW.fetch_add(1_000_000_000, Ordering::Relaxed);
    assert!(!d.tick(), "changes have not settled");
    SLOW.fetch_add(3_000_000_000, Ordering::Relaxed);
    assert!(d.tick());
    assert!(!d.tick(), "queued once");
    block_on(d.run());
    assert!(ctl(&mut s, &d, "status\n").contains("pending no"));
    let (mut s2, d2) = home(&c, clock);
    login_alice(&mut s2, &d2);
    assert_eq!(
        get(&mut s2, &d2, &["alice", "auto.txt"]).unwrap(),
        b"by itself"
    );
}

#[test]
fn a_reply_is_a_stream_and_commands_may_arrive_in_pieces() {
    let c = accounts();
    let (mut s, d) = home(&c, clock);
    let fid = 50;
    s.walk(ROOT, fid, &[".vfsync", "ctl"]).unwrap();
    s.lopen(fid, open_flags::O_RDWR).unwrap();
    s.write(fid, 0, b"login al").unwrap();
    s.write(fid, 8, b"ice\ncorrect ").unwrap();
    // Nothing to read until the command is complete.
    assert_eq!(read_all(&mut s, &d, fid).unwrap(), b"");
    s.write(fid, 20, b"horse\n").unwrap();
    // One byte at a time, as a shell's `read` does, at the offset the kernel keeps.
    let mut got = Vec::new();
    for i in 0..100u64 {
        match call(
            &mut s,
            &d,
            Request::Read {
                fid,
                offset: 26 + i,
                count: 1,
            },
        )
        .unwrap()
        {
            Reply::Data(b) if b.is_empty() => break,
            Reply::Data(b) => got.extend(b),
            r => panic!("{r:?}"),
        }
    }
    assert_eq!(got, b"ok: signed in as alice\n");
    s.clunk(fid).unwrap();
}

/// Signs alice in and fetches her files through the `FileSystem` trait directly.
fn signed_in_fs(c: &MemConnector) -> SyncHome<MemConnector> {
    use vf_devices::p9::{FileSystem, FsError};
    let (mut fs, d) = SyncHome::new(c.clone(), HomeConfig::new(clock));
    let root = fs.root(b"").unwrap();
    let dir = fs.lookup(&root, b".vfsync").unwrap();
    let ctl = fs.lookup(&dir, b"ctl").unwrap();
    let mut h = fs.open(&ctl, open_flags::O_RDWR).unwrap();
    fs.write(&mut h, 0, b"login alice\ncorrect horse\n")
        .unwrap();
    block_on(d.run());
    let mut buf = [0u8; 64];
    let n = fs.read(&mut h, 0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"ok: signed in as alice\n");
    fs.release(h);
    let home = fs.lookup(&root, b"alice").unwrap();
    let docs = fs.lookup(&home, b"docs").unwrap();
    for node in [
        fs.lookup(&home, b"b.txt").unwrap(),
        fs.lookup(&docs, b"a.txt").unwrap(),
    ] {
        assert_eq!(
            fs.open(&node, open_flags::O_RDONLY).err(),
            Some(FsError::Pending)
        );
        block_on(d.run());
        let f = fs.open(&node, open_flags::O_RDONLY).unwrap();
        fs.release(f);
    }
    assert_eq!(fs.not_fetched(), 0);
    fs
}

#[test]
fn random_9p_traffic_never_panics_the_home() {
    let c = accounts();
    seed(&c);
    vf_devices::p9::testing::fuzz(
        |seed| {
            if seed % 2 == 1 {
                signed_in_fs(&c)
            } else {
                SyncHome::new(c.clone(), HomeConfig::new(clock)).0
            }
        },
        0..=7,
        400,
    );
}

#[test]
fn two_commands_in_one_write_are_refused() {
    let c = accounts();
    let (mut s, d) = home(&c, clock);
    assert_eq!(
        ctl(&mut s, &d, "status\nsync\n"),
        "error: one command at a time per handle\n"
    );
    assert!(!d.has_work());
}
