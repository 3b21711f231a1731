//! Local persistence: a home saved to a store (IndexedDB in the browser; `MemPersist` here) and
//! a "reload" (a new `SyncHome` over the same store) loses nothing, offline changes included.

use std::sync::atomic::{AtomicI64, Ordering};

use futures_executor::block_on;
use vf_devices::p9::testing::{Session, ROOT};
use vf_devices::p9::wire::{Reply, Request};
use vf_devices::p9::{open_flags, Completion};
use vfsync_core::LocalTree as _;
use vfsync_home::Connector as _;
use vfsync_home::{HomeConfig, HomeDriver, MemConnector, MemPersist, Persist, SyncHome};

static CLOCK: AtomicI64 = AtomicI64::new(1_700_000_000_000_000_000);

/// A clock that moves 1 ms per reading.
fn clock() -> i64 {
    CLOCK.fetch_add(1_000_000, Ordering::Relaxed)
}

type Home = Session<SyncHome<MemConnector>>;

fn accounts() -> MemConnector {
    let mut c = MemConnector::new();
    c.add_user("alice", "correct horse", 1000).unwrap();
    c
}

fn home<P: Persist>(c: &MemConnector, p: P) -> (Home, HomeDriver<MemConnector, P>) {
    let (fs, d) = SyncHome::with_persist(c.clone(), p, HomeConfig::new(clock));
    (Session::start(fs), d)
}

fn call<P: Persist>(
    s: &mut Home,
    d: &HomeDriver<MemConnector, P>,
    req: Request,
) -> Result<Reply, u32> {
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

fn read_all<P: Persist>(
    s: &mut Home,
    d: &HomeDriver<MemConnector, P>,
    fid: u32,
) -> Result<Vec<u8>, u32> {
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

fn ctl<P: Persist>(s: &mut Home, d: &HomeDriver<MemConnector, P>, cmd: &str) -> String {
    let fid = 500;
    s.walk(ROOT, fid, &[".vfsync", "ctl"]).unwrap();
    s.lopen(fid, open_flags::O_RDWR).unwrap();
    assert_eq!(s.write(fid, 0, cmd.as_bytes()), Ok(cmd.len() as u32));
    let out = read_all(s, d, fid).unwrap();
    s.clunk(fid).unwrap();
    String::from_utf8(out).unwrap()
}

fn get<P: Persist>(
    s: &mut Home,
    d: &HomeDriver<MemConnector, P>,
    path: &[&str],
) -> Result<Vec<u8>, u32> {
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
    let _ = s.clunk(fid);
    r
}

fn exists(s: &mut Home, path: &[&str]) -> bool {
    // A partial walk answers with fewer qids and creates no fid.
    s.walk(ROOT, 950, path).is_ok() && s.clunk(950).is_ok()
}

fn put<P: Persist>(s: &mut Home, d: &HomeDriver<MemConnector, P>, path: &[&str], data: &[u8]) {
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

fn remove(s: &mut Home, dir: &[&str], name: &str) {
    let fid = 900;
    s.walk(ROOT, fid, dir).unwrap();
    s.unlinkat(fid, name, 0).unwrap();
    s.clunk(fid).unwrap();
}

/// Puts alice's starting files on the server, as another vfsync client would.
fn seed(c: &MemConnector) {
    let (remote, keys) = block_on(c.connect("alice", b"correct horse")).unwrap();
    let tree = vfsync_core::MemTree::new();
    block_on(tree.mkdir("docs", 0o755)).unwrap();
    tree.write("docs/a.txt", b"alpha-original");
    tree.write("docs/big.bin", &vec![7u8; 300_000]);
    tree.write("old.txt", b"to be deleted");
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

/// Runs the save the driver queues on its tick.
fn save<P: Persist>(d: &HomeDriver<MemConnector, P>) {
    assert!(d.tick(), "a save is due after changes");
    block_on(d.run());
}

#[test]
fn a_reload_loses_nothing_including_changes_made_offline() {
    let c = accounts();
    seed(&c);
    let store = MemPersist::new();
    let (mut s, d) = home(&c, store.clone());
    assert_eq!(
        ctl(&mut s, &d, "login alice\ncorrect horse\n"),
        "ok: signed in as alice\n"
    );
    // Fetched (cached) content, and synced changes.
    assert_eq!(
        get(&mut s, &d, &["alice", "docs", "a.txt"]).unwrap(),
        b"alpha-original"
    );
    put(
        &mut s,
        &d,
        &["alice", "synced.txt"],
        b"synced before the outage",
    );
    assert!(ctl(&mut s, &d, "sync\n").starts_with("ok: "));
    // The server goes away; the guest keeps working.
    c.set_unreachable(true);
    put(
        &mut s,
        &d,
        &["alice", "docs", "a.txt"],
        b"alpha-edited-offline",
    );
    put(
        &mut s,
        &d,
        &["alice", "offline.txt"],
        b"written while the server was down",
    );
    remove(&mut s, &["alice"], "old.txt");
    let r = ctl(&mut s, &d, "sync\n");
    assert!(r.starts_with("error: server unreachable"), "{r}");
    assert!(!d.saved(), "changes since the last save");
    save(&d);
    assert!(d.saved(), "the store holds the home as it is");
    assert!(!store.snapshot().is_empty());
    // The page reloads: everything in memory is gone.
    drop((s, d));

    // The server is back; the same user signs in on a new home over the same store.
    c.set_unreachable(false);
    let (mut s, d) = home(&c, store.clone());
    assert_eq!(
        ctl(&mut s, &d, "login alice\ncorrect horse\n"),
        "ok: signed in as alice\n"
    );
    assert_eq!(
        get(&mut s, &d, &["alice", "docs", "a.txt"]).unwrap(),
        b"alpha-edited-offline"
    );
    assert_eq!(
        get(&mut s, &d, &["alice", "offline.txt"]).unwrap(),
        b"written while the server was down"
    );
    assert_eq!(
        get(&mut s, &d, &["alice", "synced.txt"]).unwrap(),
        b"synced before the outage"
    );
    assert!(!exists(&mut s, &["alice", "old.txt"]));
    assert!(
        ctl(&mut s, &d, "status\n").contains("pending no"),
        "the sign-in synced the saved changes"
    );

    // A third home without any local store sees the offline work on the server.
    let (fs, d3) = SyncHome::new(c.clone(), HomeConfig::new(clock));
    let mut s3 = Session::start(fs);
    assert_eq!(
        ctl(&mut s3, &d3, "login alice\ncorrect horse\n"),
        "ok: signed in as alice\n"
    );
    assert_eq!(
        get(&mut s3, &d3, &["alice", "docs", "a.txt"]).unwrap(),
        b"alpha-edited-offline"
    );
    assert_eq!(
        get(&mut s3, &d3, &["alice", "offline.txt"]).unwrap(),
        b"written while the server was down"
    );
    assert!(!exists(&mut s3, &["alice", "old.txt"]));
    assert_eq!(
        get(&mut s3, &d3, &["alice", "docs", "big.bin"]).unwrap(),
        vec![7u8; 300_000]
    );
}

#[test]
fn cached_contents_come_back_without_the_server() {
    let c = accounts();
    seed(&c);
    let store = MemPersist::new();
    let (mut s, d) = home(&c, store.clone());
    ctl(&mut s, &d, "login alice\ncorrect horse\n");
    assert_eq!(
        get(&mut s, &d, &["alice", "docs", "big.bin"]).unwrap(),
        vec![7u8; 300_000]
    );
    save(&d);
    assert!(!d.tick(), "nothing changed since the save");
    drop((s, d));

    let (mut s, d) = home(&c, store.clone());
    ctl(&mut s, &d, "login alice\ncorrect horse\n");
    // The blobs on the server are gone: the content can only come from the store.
    let remote = c.remote("alice").unwrap();
    for id in remote.blob_ids() {
        remote.set_blob(&id, b"garbage".to_vec());
    }
    assert_eq!(
        get(&mut s, &d, &["alice", "docs", "big.bin"]).unwrap(),
        vec![7u8; 300_000]
    );
    // Never fetched, so still on the (now broken) server: a clear failure, not wrong data.
    assert!(get(&mut s, &d, &["alice", "old.txt"]).is_err());
}

#[test]
fn the_store_holds_no_plaintext_and_a_tampered_store_falls_back_to_the_server() {
    let c = accounts();
    seed(&c);
    let store = MemPersist::new();
    let (mut s, d) = home(&c, store.clone());
    ctl(&mut s, &d, "login alice\ncorrect horse\n");
    get(&mut s, &d, &["alice", "docs", "a.txt"]).unwrap();
    put(
        &mut s,
        &d,
        &["alice", "Secret-Name.txt"],
        b"secret-content-xyz",
    );
    save(&d);
    let saved = store.snapshot();
    for (k, v) in &saved {
        assert!(k.starts_with("alice/"), "{k}");
        for needle in [
            &b"secret-content-xyz"[..],
            b"Secret-Name",
            b"alpha-original",
            b"docs/a.txt",
        ] {
            assert!(
                !v.windows(needle.len()).any(|w| w == needle),
                "{k} holds plaintext"
            );
        }
    }
    let ok = ctl(&mut s, &d, "sync\n");
    assert!(ok.starts_with("ok: "), "{ok}");
    save(&d);
    drop((s, d));

    // Flip a byte of the root record: it no longer opens.
    let mut meta = store.snapshot()["alice/meta"].clone();
    let n = meta.len();
    meta[n - 1] ^= 1;
    store.set("alice/meta", meta);
    let (mut s, d) = home(&c, store.clone());
    assert_eq!(
        ctl(&mut s, &d, "login alice\ncorrect horse\n"),
        "ok: signed in as alice\n"
    );
    let st = ctl(&mut s, &d, "status\n");
    assert!(
        st.contains("last-error local storage: local copy unreadable"),
        "{st}"
    );
    // The synced state is on the server, so nothing is lost.
    assert_eq!(
        get(&mut s, &d, &["alice", "Secret-Name.txt"]).unwrap(),
        b"secret-content-xyz"
    );
}

#[test]
fn a_forced_sign_out_discards_the_saved_copy_and_a_broken_store_is_reported() {
    let c = accounts();
    seed(&c);
    let store = MemPersist::new();
    let (mut s, d) = home(&c, store.clone());
    ctl(&mut s, &d, "login alice\ncorrect horse\n");
    put(&mut s, &d, &["alice", "scratch.txt"], b"throw me away");
    c.set_unreachable(true);
    save(&d);
    assert!(ctl(&mut s, &d, "logout\n").starts_with("error: server unreachable"));
    assert!(ctl(&mut s, &d, "logout force\n").starts_with("ok: signed out alice"));
    assert!(
        store.snapshot().is_empty(),
        "discarded changes must not come back"
    );
    c.set_unreachable(false);
    ctl(&mut s, &d, "login alice\ncorrect horse\n");
    assert!(!exists(&mut s, &["alice", "scratch.txt"]));

    store.set_broken(true);
    put(&mut s, &d, &["alice", "more.txt"], b"x");
    save(&d);
    let st = ctl(&mut s, &d, "status\n");
    assert!(st.contains("last-error local storage: "), "{st}");
    store.set_broken(false);
    assert!(d.tick(), "a failed save is retried");
    block_on(d.run());
    let st = ctl(&mut s, &d, "status\n");
    assert!(!st.contains("last-error local storage"), "{st}");
}
