//! Test tooling: a client session that encodes requests and decodes replies,
//! a backend wrapper that defers operations, and a conformance suite any
//! [`FileSystem`] can be run through (the in-memory one here, the host
//! directory one in `vf-host`). Failed checks panic, as in a test.

use std::collections::HashMap;

use super::fs::{
    mode, open_flags, qid_type, Attr, DirEntry, Errno, FileSystem, FsError, FsResult, Owner, Qid,
    SetAttr, StatFs, AT_REMOVEDIR,
};
use super::server::{Completion, Config, Handled, Server};
use super::wire::{msg, parse_dirents, setattr, Lock, Reply, Request, NOFID};

/// A 9P client session against a [`Server`] in the same process.
pub struct Session<F: FileSystem> {
    pub server: Server<F>,
    next_tag: u16,
}

/// The fid every [`Session::start`] attaches as the root.
pub const ROOT: u32 = 0;

impl<F: FileSystem> Session<F> {
    /// A session over `fs` that has not sent Tversion yet.
    pub fn new(fs: F, config: Config) -> Self {
        Session {
            server: Server::new(fs, config),
            next_tag: 1,
        }
    }

    /// A session with msize negotiated (512 KiB) and the root attached as
    /// fid [`ROOT`] for user 1000.
    pub fn start(fs: F) -> Self {
        let mut s = Self::new(fs, Config::default());
        let v = s.call(Request::Version {
            msize: 512 * 1024,
            version: b"9P2000.L".to_vec(),
        });
        assert!(matches!(v, Ok(Reply::Version { .. })), "{v:?}");
        let a = s.call(Request::Attach {
            fid: ROOT,
            afid: NOFID,
            uname: b"user".to_vec(),
            aname: Vec::new(),
            n_uname: 1000,
        });
        assert!(
            matches!(a, Ok(Reply::Qid(q)) if q.kind == qid_type::DIR),
            "{a:?}"
        );
        s
    }

    /// A fresh tag (never NOTAG).
    pub fn tag(&mut self) -> u16 {
        let t = self.next_tag;
        self.next_tag = if t >= 0xfffe { 1 } else { t + 1 };
        t
    }

    /// Sends raw bytes; returns the decoded reply, or `None` if parked.
    pub fn raw(&mut self, token: u64, bytes: &[u8]) -> Option<(u16, Reply)> {
        match self.server.handle(token, bytes) {
            Handled::Reply(r) => {
                assert!(r.len() <= self.server.config().max_msize as usize);
                Some(Reply::parse(&r).expect("the server's replies parse"))
            }
            Handled::Pending => None,
        }
    }

    /// Sends a request and waits for its reply (polling a parked request up
    /// to 1000 times); `Err(errno)` for Rlerror.
    pub fn call(&mut self, req: Request) -> Result<Reply, u32> {
        let tag = self.tag();
        let bytes = req.encode(tag);
        let token = u64::from(tag);
        let (rtag, reply) = match self.raw(token, &bytes) {
            Some(r) => r,
            None => self.wait(token),
        };
        assert_eq!(rtag, tag, "reply tag");
        match reply {
            Reply::Lerror(e) => Err(e),
            r => Ok(r),
        }
    }

    /// Polls until the parked request `token` completes.
    pub fn wait(&mut self, token: u64) -> (u16, Reply) {
        for _ in 0..1000 {
            for Completion { token: t, reply } in self.server.poll() {
                if t == token {
                    let reply = reply.expect("not flushed");
                    return Reply::parse(&reply).expect("the server's replies parse");
                }
            }
        }
        panic!("request {token} never completed");
    }

    /// Walks `names` from `fid` to `newfid`.
    pub fn walk(&mut self, fid: u32, newfid: u32, names: &[&str]) -> Result<Vec<Qid>, u32> {
        let names = names.iter().map(|n| n.as_bytes().to_vec()).collect();
        match self.call(Request::Walk { fid, newfid, names })? {
            Reply::Walk(q) => Ok(q),
            r => panic!("unexpected {r:?}"),
        }
    }

    /// Opens `fid` with `flags`.
    pub fn lopen(&mut self, fid: u32, flags: u32) -> Result<Qid, u32> {
        match self.call(Request::Lopen { fid, flags })? {
            Reply::Open { qid, .. } => Ok(qid),
            r => panic!("unexpected {r:?}"),
        }
    }

    /// Creates `name` in directory fid `fid`, which becomes the open file.
    pub fn lcreate(&mut self, fid: u32, name: &str, flags: u32, perm: u32) -> Result<Qid, u32> {
        let req = Request::Lcreate {
            fid,
            name: name.into(),
            flags,
            mode: perm,
            gid: 1000,
        };
        match self.call(req)? {
            Reply::Open { qid, .. } => Ok(qid),
            r => panic!("unexpected {r:?}"),
        }
    }

    pub fn read(&mut self, fid: u32, offset: u64, count: u32) -> Result<Vec<u8>, u32> {
        match self.call(Request::Read { fid, offset, count })? {
            Reply::Data(d) => Ok(d),
            r => panic!("unexpected {r:?}"),
        }
    }

    pub fn write(&mut self, fid: u32, offset: u64, data: &[u8]) -> Result<u32, u32> {
        match self.call(Request::Write {
            fid,
            offset,
            data: data.to_vec(),
        })? {
            Reply::Write(n) => Ok(n),
            r => panic!("unexpected {r:?}"),
        }
    }

    pub fn clunk(&mut self, fid: u32) -> Result<(), u32> {
        self.call(Request::Clunk { fid }).map(|_| ())
    }

    pub fn getattr(&mut self, fid: u32) -> Result<Attr, u32> {
        match self.call(Request::Getattr { fid, mask: 0x3fff })? {
            Reply::Getattr { attr, .. } => Ok(attr),
            r => panic!("unexpected {r:?}"),
        }
    }

    pub fn mkdir(&mut self, dfid: u32, name: &str, perm: u32) -> Result<Qid, u32> {
        match self.call(Request::Mkdir {
            dfid,
            name: name.into(),
            mode: perm,
            gid: 1000,
        })? {
            Reply::Qid(q) => Ok(q),
            r => panic!("unexpected {r:?}"),
        }
    }

    pub fn symlink(&mut self, dfid: u32, name: &str, target: &str) -> Result<Qid, u32> {
        let req = Request::Symlink {
            fid: dfid,
            name: name.into(),
            target: target.into(),
            gid: 0,
        };
        match self.call(req)? {
            Reply::Qid(q) => Ok(q),
            r => panic!("unexpected {r:?}"),
        }
    }

    pub fn readlink(&mut self, fid: u32) -> Result<Vec<u8>, u32> {
        match self.call(Request::Readlink { fid })? {
            Reply::Readlink(t) => Ok(t),
            r => panic!("unexpected {r:?}"),
        }
    }

    pub fn renameat(&mut self, od: u32, on: &str, nd: u32, nn: &str) -> Result<(), u32> {
        let req = Request::Renameat {
            olddirfid: od,
            oldname: on.into(),
            newdirfid: nd,
            newname: nn.into(),
        };
        self.call(req).map(|_| ())
    }

    pub fn unlinkat(&mut self, dfid: u32, name: &str, flags: u32) -> Result<(), u32> {
        self.call(Request::Unlinkat {
            dfid,
            name: name.into(),
            flags,
        })
        .map(|_| ())
    }

    /// Reads a whole directory with Treaddir calls of `count` bytes.
    pub fn readdir_all(&mut self, fid: u32, count: u32) -> Result<Vec<DirEntry>, u32> {
        let mut all = Vec::new();
        let mut offset = 0;
        for _ in 0..100_000 {
            let data = match self.call(Request::Readdir { fid, offset, count })? {
                Reply::Data(d) => d,
                r => panic!("unexpected {r:?}"),
            };
            assert!(data.len() <= count as usize);
            let entries = parse_dirents(&data).expect("dirents parse");
            let Some(last) = entries.last() else {
                return Ok(all);
            };
            offset = last.offset;
            all.extend(entries);
        }
        panic!("readdir does not end");
    }

    /// Writes a whole new file `name` in directory fid `dir`.
    pub fn put(&mut self, dir: u32, name: &str, data: &[u8]) {
        let f = 9000;
        self.walk(dir, f, &[]).expect("clone");
        self.lcreate(f, name, open_flags::O_WRONLY, 0o644)
            .expect("create");
        assert_eq!(self.write(f, 0, data), Ok(data.len() as u32));
        self.clunk(f).expect("clunk");
    }

    /// Reads the whole file at `path` from the root.
    pub fn get(&mut self, path: &[&str]) -> Result<Vec<u8>, u32> {
        let f = 9001;
        self.walk(ROOT, f, path)?;
        let r = self
            .lopen(f, open_flags::O_RDONLY)
            .and_then(|_| self.read(f, 0, 1 << 20));
        self.clunk(f).expect("clunk");
        r
    }
}

/// A backend wrapper that models data arriving late: the first time an
/// operation is seen (keyed by its kind, name and offset) it answers
/// [`FsError::Pending`] `delay` times, then that operation is "ready" and
/// passes straight through from then on.
pub struct Deferring<F> {
    pub inner: F,
    delay: u32,
    /// Deferrals left per operation.
    seen: HashMap<(&'static str, Vec<u8>, u64), u32>,
    /// Operations deferred so far.
    pub deferred: u64,
}

impl<F> Deferring<F> {
    pub fn new(inner: F, delay: u32) -> Self {
        Deferring {
            inner,
            delay,
            seen: HashMap::new(),
            deferred: 0,
        }
    }

    /// Changes the delay and forgets which operations were ready.
    pub fn set_delay(&mut self, delay: u32) {
        self.delay = delay;
        self.seen.clear();
    }

    fn gate(&mut self, op: &'static str, name: &[u8], n: u64) -> FsResult<()> {
        let left = self
            .seen
            .entry((op, name.to_vec(), n))
            .or_insert(self.delay);
        if *left > 0 {
            *left -= 1;
            self.deferred += 1;
            return Err(FsError::Pending);
        }
        Ok(())
    }
}

impl<F: FileSystem> FileSystem for Deferring<F> {
    type Node = F::Node;
    type File = F::File;
    fn root(&mut self, aname: &[u8]) -> FsResult<F::Node> {
        self.inner.root(aname)
    }
    fn lookup(&mut self, dir: &F::Node, name: &[u8]) -> FsResult<F::Node> {
        self.gate("lookup", name, 0)?;
        self.inner.lookup(dir, name)
    }
    fn getattr(&mut self, node: &F::Node) -> FsResult<Attr> {
        self.inner.getattr(node)
    }
    fn setattr(&mut self, node: &F::Node, set: &SetAttr) -> FsResult<()> {
        self.gate("setattr", b"", set.size.unwrap_or(0))?;
        self.inner.setattr(node, set)
    }
    fn open(&mut self, node: &F::Node, flags: u32) -> FsResult<F::File> {
        self.gate("open", b"", u64::from(flags))?;
        self.inner.open(node, flags)
    }
    fn create(
        &mut self,
        dir: &F::Node,
        name: &[u8],
        flags: u32,
        perm: u32,
        owner: Owner,
    ) -> FsResult<(F::Node, F::File)> {
        self.gate("create", name, 0)?;
        self.inner.create(dir, name, flags, perm, owner)
    }
    fn read(&mut self, file: &mut F::File, offset: u64, buf: &mut [u8]) -> FsResult<usize> {
        self.gate("read", b"", offset)?;
        self.inner.read(file, offset, buf)
    }
    fn write(&mut self, file: &mut F::File, offset: u64, data: &[u8]) -> FsResult<usize> {
        self.gate("write", data, offset)?;
        self.inner.write(file, offset, data)
    }
    fn readdir(&mut self, dir: &mut F::File, cookie: u64, max: usize) -> FsResult<Vec<DirEntry>> {
        self.gate("readdir", b"", cookie)?;
        self.inner.readdir(dir, cookie, max)
    }
    fn fsync(&mut self, file: &mut F::File, datasync: bool) -> FsResult<()> {
        self.gate("fsync", b"", 0)?;
        self.inner.fsync(file, datasync)
    }
    fn release(&mut self, file: F::File) {
        self.inner.release(file)
    }
    fn mkdir(&mut self, dir: &F::Node, name: &[u8], perm: u32, owner: Owner) -> FsResult<Qid> {
        self.gate("mkdir", name, 0)?;
        self.inner.mkdir(dir, name, perm, owner)
    }
    fn symlink(
        &mut self,
        dir: &F::Node,
        name: &[u8],
        target: &[u8],
        owner: Owner,
    ) -> FsResult<Qid> {
        self.gate("symlink", name, 0)?;
        self.inner.symlink(dir, name, target, owner)
    }
    fn mknod(
        &mut self,
        dir: &F::Node,
        name: &[u8],
        m: u32,
        rdev: u64,
        owner: Owner,
    ) -> FsResult<Qid> {
        self.gate("mknod", name, 0)?;
        self.inner.mknod(dir, name, m, rdev, owner)
    }
    fn link(&mut self, dir: &F::Node, name: &[u8], target: &F::Node) -> FsResult<()> {
        self.gate("link", name, 0)?;
        self.inner.link(dir, name, target)
    }
    fn readlink(&mut self, node: &F::Node) -> FsResult<Vec<u8>> {
        self.gate("readlink", b"", 0)?;
        self.inner.readlink(node)
    }
    fn rename(&mut self, od: &F::Node, on: &[u8], nd: &F::Node, nn: &[u8]) -> FsResult<()> {
        self.gate("rename", on, 0)?;
        self.inner.rename(od, on, nd, nn)
    }
    fn unlink(&mut self, dir: &F::Node, name: &[u8], flags: u32) -> FsResult<()> {
        self.gate("unlink", name, 0)?;
        self.inner.unlink(dir, name, flags)
    }
    fn statfs(&mut self, node: &F::Node) -> FsResult<StatFs> {
        self.gate("statfs", b"", 0)?;
        self.inner.statfs(node)
    }
}

const E: fn(Errno) -> Result<Reply, u32> = |e| Err(e.0);

/// Runs every message of the protocol against a fresh file system from
/// `make` and checks the replies. The backend must start empty.
pub fn conformance<F: FileSystem>(make: impl Fn() -> F) {
    version_and_attach(&make);
    files(&make);
    walks(&make);
    directories(&make);
    links_and_renames(&make);
    attributes(&make);
    misc(&make);
}

fn version_and_attach<F: FileSystem>(make: &impl Fn() -> F) {
    let mut s = Session::new(make(), Config::default());
    let attach = Request::Attach {
        fid: 1,
        afid: NOFID,
        uname: vec![],
        aname: vec![],
        n_uname: 0,
    };
    assert_eq!(
        s.call(attach.clone()),
        E(Errno::EPROTO),
        "attach before version"
    );
    let r = s.call(Request::Version {
        msize: 1 << 20,
        version: b"9P2000.L".to_vec(),
    });
    assert_eq!(
        r,
        Ok(Reply::Version {
            msize: 512 * 1024,
            version: b"9P2000.L".to_vec()
        })
    );
    let r = s.call(Request::Version {
        msize: 8192,
        version: b"9P2000.u".to_vec(),
    });
    assert_eq!(
        r,
        Ok(Reply::Version {
            msize: 8192,
            version: b"unknown".to_vec()
        })
    );
    assert_eq!(
        s.call(Request::Version {
            msize: 100,
            version: b"9P2000.L".to_vec()
        }),
        E(Errno::EINVAL)
    );
    let r = s.call(Request::Version {
        msize: 8192,
        version: b"9P2000.L".to_vec(),
    });
    assert_eq!(
        r,
        Ok(Reply::Version {
            msize: 8192,
            version: b"9P2000.L".to_vec()
        })
    );
    assert_eq!(s.server.msize(), 8192);
    assert!(matches!(s.call(attach.clone()), Ok(Reply::Qid(q)) if q.kind == qid_type::DIR));
    assert_eq!(s.call(attach), E(Errno::EBADF), "fid in use");
    assert_eq!(s.call(Request::Auth { afid: 5 }), E(Errno::EOPNOTSUPP));
    // A new Tversion clunks every fid.
    s.call(Request::Version {
        msize: 8192,
        version: b"9P2000.L".to_vec(),
    })
    .unwrap();
    assert_eq!(s.server.fid_count(), 0);
    assert_eq!(s.getattr(1), Err(Errno::EBADF.0));
}

fn files<F: FileSystem>(make: &impl Fn() -> F) {
    use open_flags::*;
    let mut s = Session::start(make());
    // Create, write, read back.
    s.walk(ROOT, 1, &[]).unwrap();
    let q = s.lcreate(1, "a.txt", O_RDWR, 0o640).unwrap();
    assert_eq!(q.kind, qid_type::FILE);
    assert_eq!(s.write(1, 0, b"hello world"), Ok(11));
    assert_eq!(s.read(1, 6, 100), Ok(b"world".to_vec()));
    assert_eq!(s.read(1, 11, 100), Ok(vec![]));
    assert_eq!(s.read(1, 1 << 40, 100), Ok(vec![]));
    let a = s.getattr(1).unwrap();
    assert_eq!((a.mode, a.size, a.nlink), (mode::S_IFREG | 0o640, 11, 1));
    assert_eq!(a.qid.path, q.path);
    assert_eq!(
        s.call(Request::Fsync {
            fid: 1,
            datasync: 0
        }),
        Ok(Reply::Empty(msg::TFSYNC + 1))
    );
    s.clunk(1).unwrap();
    assert_eq!(s.clunk(1), Err(Errno::EBADF.0));
    // Creating an existing name fails; the directory fid stays unopened.
    s.walk(ROOT, 2, &[]).unwrap();
    assert_eq!(s.lcreate(2, "a.txt", O_RDWR, 0o600), Err(Errno::EEXIST.0));
    assert_eq!(
        s.lcreate(2, "bad/name", O_RDWR, 0o600),
        Err(Errno::EINVAL.0)
    );
    assert_eq!(s.lcreate(2, "..", O_RDWR, 0o600), Err(Errno::EINVAL.0));
    s.clunk(2).unwrap();
    // Same file, same qid path; open modes are enforced.
    let w = s.walk(ROOT, 3, &["a.txt"]).unwrap();
    assert_eq!(w[0].path, q.path);
    assert_eq!(
        s.read(3, 0, 10),
        Err(Errno::EBADF.0),
        "read of an unopened fid"
    );
    s.lopen(3, O_RDONLY).unwrap();
    assert_eq!(s.lopen(3, O_RDONLY), Err(Errno::EBADF.0), "opened twice");
    assert_eq!(
        s.write(3, 0, b"x"),
        Err(Errno::EBADF.0),
        "write to a read-only fid"
    );
    assert_eq!(
        s.walk(3, 4, &[]),
        Err(Errno::EBADF.0),
        "walk from an open fid"
    );
    s.clunk(3).unwrap();
    // O_APPEND writes at the end whatever the offset; O_TRUNC empties.
    s.walk(ROOT, 5, &["a.txt"]).unwrap();
    s.lopen(5, O_WRONLY | O_APPEND).unwrap();
    assert_eq!(s.write(5, 0, b"!"), Ok(1));
    s.clunk(5).unwrap();
    assert_eq!(s.get(&["a.txt"]), Ok(b"hello world!".to_vec()));
    s.walk(ROOT, 5, &["a.txt"]).unwrap();
    s.lopen(5, O_WRONLY | O_TRUNC).unwrap();
    s.clunk(5).unwrap();
    assert_eq!(s.get(&["a.txt"]), Ok(vec![]));
    // Large I/O near msize, sparse writes read back as zeros.
    let big: Vec<u8> = (0..400_000u32).map(|i| (i * 7 % 251) as u8).collect();
    s.walk(ROOT, 6, &[]).unwrap();
    s.lcreate(6, "big", O_RDWR, 0o600).unwrap();
    assert_eq!(s.write(6, 0, &big), Ok(big.len() as u32));
    assert_eq!(s.write(6, 1_000_000, b"end"), Ok(3));
    let back = s.read(6, 0, 1 << 30).unwrap();
    assert_eq!(back.len(), 512 * 1024 - 11, "a read is clamped to msize");
    assert_eq!(&back[..big.len()], &big[..]);
    assert!(back[big.len()..].iter().all(|&b| b == 0));
    assert_eq!(s.read(6, 999_999, 10), Ok(b"\0end".to_vec()));
    // A write larger than msize cannot even be sent.
    let huge = Request::Write {
        fid: 6,
        offset: 0,
        data: vec![0; 512 * 1024],
    }
    .encode(77);
    assert_eq!(s.raw(77, &huge), Some((77, Reply::Lerror(Errno::EINVAL.0))));
    s.clunk(6).unwrap();
    // Tremove removes and clunks, even when it fails.
    s.walk(ROOT, 7, &["big"]).unwrap();
    assert_eq!(
        s.call(Request::Remove { fid: 7 }),
        Ok(Reply::Empty(msg::TREMOVE + 1))
    );
    assert_eq!(s.getattr(7), Err(Errno::EBADF.0));
    assert_eq!(s.walk(ROOT, 7, &["big"]), Err(Errno::ENOENT.0));
    s.walk(ROOT, 8, &[]).unwrap();
    assert!(
        s.call(Request::Remove { fid: 8 }).is_err(),
        "removing the root"
    );
    assert_eq!(s.getattr(8), Err(Errno::EBADF.0));
}

fn walks<F: FileSystem>(make: &impl Fn() -> F) {
    let mut s = Session::start(make());
    s.mkdir(ROOT, "a", 0o755).unwrap();
    s.walk(ROOT, 1, &["a"]).unwrap();
    s.mkdir(1, "b", 0o755).unwrap();
    s.walk(1, 2, &["b"]).unwrap();
    s.put(2, "c", b"deep");
    let root = s.getattr(ROOT).unwrap().qid;
    let q = s.walk(ROOT, 3, &["a", "b", "c"]).unwrap();
    assert_eq!(q.len(), 3);
    assert_eq!(q[0].kind, qid_type::DIR);
    assert_eq!(q[2].kind, qid_type::FILE);
    // Partial walk: qids of the names found, newfid not created.
    let q = s.walk(ROOT, 4, &["a", "b", "nope", "c"]).unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(s.getattr(4), Err(Errno::EBADF.0));
    // A walk whose first name fails is an error.
    assert_eq!(s.walk(ROOT, 4, &["nope"]), Err(Errno::ENOENT.0));
    assert_eq!(
        s.walk(ROOT, 4, &["a", "b", "c", "d"]).map(|q| q.len()),
        Ok(3),
        "through a file"
    );
    // `..` never leaves the root.
    let q = s.walk(ROOT, 5, &["..", "..", "a", "..", ".."]).unwrap();
    assert_eq!(q.last().unwrap().path, root.path);
    assert_eq!(s.getattr(5).unwrap().qid.path, root.path);
    // 16 names are allowed, 17 are not.
    let names: Vec<&str> = std::iter::repeat_n("..", 16).collect();
    assert_eq!(s.walk(ROOT, 6, &names).map(|q| q.len()), Ok(16));
    let names: Vec<&str> = std::iter::repeat_n("..", 17).collect();
    assert_eq!(s.walk(ROOT, 7, &names), Err(Errno::EINVAL.0));
    // Walking fid onto itself replaces it; newfid in use is refused.
    s.walk(ROOT, 8, &["a"]).unwrap();
    s.walk(8, 8, &["b"]).unwrap();
    assert_eq!(
        s.getattr(8).unwrap().qid.path,
        s.getattr(2).unwrap().qid.path
    );
    assert_eq!(s.walk(ROOT, 8, &["a"]), Err(Errno::EBADF.0));
    assert_eq!(s.walk(99, 100, &[]), Err(Errno::EBADF.0), "unknown fid");
    assert_eq!(s.walk(ROOT, 9, &["x/y"]), Err(Errno::ENOENT.0));
}

fn directories<F: FileSystem>(make: &impl Fn() -> F) {
    use open_flags::*;
    let mut s = Session::start(make());
    let dq = s.mkdir(ROOT, "d", 0o750).unwrap();
    assert_eq!(dq.kind, qid_type::DIR);
    assert_eq!(s.mkdir(ROOT, "d", 0o750), Err(Errno::EEXIST.0));
    s.walk(ROOT, 1, &["d"]).unwrap();
    for i in 0..60 {
        s.put(1, &format!("file-with-a-longish-name-{i:03}"), b"x");
    }
    s.mkdir(1, "sub", 0o700).unwrap();
    s.symlink(1, "ln", "file-with-a-longish-name-000").unwrap();
    s.walk(ROOT, 2, &["d"]).unwrap();
    s.lopen(2, O_RDONLY | O_DIRECTORY).unwrap();
    // Small buffers force many calls; the offsets resume exactly.
    let all = s.readdir_all(2, 200).unwrap();
    let mut names: Vec<String> = all
        .iter()
        .map(|e| String::from_utf8_lossy(&e.name).into())
        .collect();
    names.sort();
    assert_eq!(names.len(), 64, "{names:?}");
    names.dedup();
    assert_eq!(names.len(), 64, "no duplicates");
    assert!(names.contains(&".".to_string()) && names.contains(&"..".to_string()));
    let kind = |n: &str| all.iter().find(|e| e.name == n.as_bytes()).unwrap().kind;
    assert_eq!(
        (
            kind("sub"),
            kind("ln"),
            kind("file-with-a-longish-name-007")
        ),
        (4, 10, 8)
    );
    assert_eq!(
        all.iter().find(|e| e.name == b".").unwrap().qid.path,
        dq.path
    );
    // Cookies stay valid while entries are removed mid-listing.
    let first = s
        .call(Request::Readdir {
            fid: 2,
            offset: 0,
            count: 300,
        })
        .unwrap();
    let Reply::Data(d) = first else { panic!() };
    let part = parse_dirents(&d).unwrap();
    let seen: Vec<Vec<u8>> = part.iter().map(|e| e.name.clone()).collect();
    for i in 30..40 {
        s.unlinkat(1, &format!("file-with-a-longish-name-{i:03}"), 0)
            .unwrap();
    }
    let mut rest = Vec::new();
    let mut off = part.last().unwrap().offset;
    loop {
        let Ok(Reply::Data(d)) = s.call(Request::Readdir {
            fid: 2,
            offset: off,
            count: 4096,
        }) else {
            panic!()
        };
        let e = parse_dirents(&d).unwrap();
        let Some(l) = e.last() else { break };
        off = l.offset;
        rest.extend(e.into_iter().map(|e| e.name));
    }
    assert_eq!(seen.len() + rest.len(), 54, "each surviving entry once");
    assert!(rest.iter().all(|n| !seen.contains(n)));
    // Readdir of an unopened fid, read of a directory.
    assert!(s
        .call(Request::Readdir {
            fid: 1,
            offset: 0,
            count: 4096
        })
        .is_err());
    assert_eq!(s.lopen(1, O_WRONLY), Err(Errno::EISDIR.0));
    // Unlink rules.
    assert_eq!(s.unlinkat(ROOT, "d", 0), Err(Errno::EISDIR.0));
    assert_eq!(s.unlinkat(ROOT, "d", AT_REMOVEDIR), Err(Errno::ENOTEMPTY.0));
    assert_eq!(s.unlinkat(1, "ln", AT_REMOVEDIR), Err(Errno::ENOTDIR.0));
    assert_eq!(s.unlinkat(1, "missing", 0), Err(Errno::ENOENT.0));
    assert_eq!(
        s.unlinkat(1, "ln", 0x1),
        Err(Errno::EINVAL.0),
        "unknown flag"
    );
    s.unlinkat(1, "sub", AT_REMOVEDIR).unwrap();
    assert_eq!(s.walk(1, 3, &["sub"]), Err(Errno::ENOENT.0));
    // Mknod of a fifo.
    let r = s.call(Request::Mknod {
        dfid: 1,
        name: b"fifo".to_vec(),
        mode: mode::S_IFIFO | 0o600,
        major: 0,
        minor: 0,
        gid: 0,
    });
    assert!(matches!(r, Ok(Reply::Qid(_))), "{r:?}");
    s.walk(1, 4, &["fifo"]).unwrap();
    assert_eq!(s.getattr(4).unwrap().mode, mode::S_IFIFO | 0o600);
}

fn links_and_renames<F: FileSystem>(make: &impl Fn() -> F) {
    use open_flags::*;
    let mut s = Session::start(make());
    s.put(ROOT, "f", b"content");
    s.mkdir(ROOT, "d", 0o755).unwrap();
    s.walk(ROOT, 1, &["d"]).unwrap();
    s.walk(ROOT, 2, &["f"]).unwrap();
    let fq = s.getattr(2).unwrap().qid;
    // Hard link.
    assert!(s
        .call(Request::Link {
            dfid: 1,
            fid: 2,
            name: b"hard".to_vec()
        })
        .is_ok());
    assert_eq!(s.getattr(2).unwrap().nlink, 2);
    assert_eq!(s.get(&["d", "hard"]), Ok(b"content".to_vec()));
    assert_eq!(s.walk(1, 3, &["hard"]).unwrap()[0].path, fq.path);
    assert_eq!(
        s.call(Request::Link {
            dfid: ROOT,
            fid: 1,
            name: b"dirlink".to_vec()
        }),
        E(Errno::EPERM)
    );
    // Symlink: created and read, never followed by a walk or open.
    let sq = s.symlink(ROOT, "sl", "d/hard").unwrap();
    assert_eq!(sq.kind, qid_type::SYMLINK);
    s.walk(ROOT, 4, &["sl"]).unwrap();
    assert_eq!(s.readlink(4), Ok(b"d/hard".to_vec()));
    assert_eq!(s.getattr(4).unwrap().mode & mode::S_IFMT, mode::S_IFLNK);
    assert!(s.lopen(4, O_RDONLY).is_err(), "opening a symlink");
    assert_eq!(
        s.walk(ROOT, 5, &["sl", "x"]).map(|q| q.len()),
        Ok(1),
        "no walk through a symlink"
    );
    assert_eq!(s.readlink(2), Err(Errno::EINVAL.0), "readlink of a file");
    // Renameat: the qid path follows the file; replacing a file works.
    s.renameat(ROOT, "f", 1, "moved").unwrap();
    assert_eq!(s.walk(ROOT, 6, &["f"]), Err(Errno::ENOENT.0));
    assert_eq!(s.walk(1, 6, &["moved"]).unwrap()[0].path, fq.path);
    s.put(ROOT, "other", b"other");
    s.renameat(ROOT, "other", 1, "moved").unwrap();
    assert_eq!(s.get(&["d", "moved"]), Ok(b"other".to_vec()));
    assert_eq!(
        s.get(&["d", "hard"]),
        Ok(b"content".to_vec()),
        "the old file lives on"
    );
    // Directory rename rules.
    s.mkdir(1, "inner", 0o755).unwrap();
    assert_eq!(
        s.renameat(ROOT, "d", 1, "x"),
        Err(Errno::EINVAL.0),
        "into itself"
    );
    s.mkdir(ROOT, "e", 0o755).unwrap();
    assert_eq!(s.renameat(ROOT, "e", ROOT, "d"), Err(Errno::ENOTEMPTY.0));
    assert_eq!(s.renameat(ROOT, "e", 1, "moved"), Err(Errno::ENOTDIR.0));
    assert_eq!(s.renameat(ROOT, "missing", ROOT, "z"), Err(Errno::ENOENT.0));
    // Trename moves the fid's file, and the fid follows.
    s.walk(ROOT, 7, &["e"]).unwrap();
    assert!(s
        .call(Request::Rename {
            fid: 7,
            dfid: 1,
            name: b"e2".to_vec()
        })
        .is_ok());
    assert!(s.walk(1, 8, &["e2"]).is_ok());
    assert!(s
        .call(Request::Rename {
            fid: 7,
            dfid: ROOT,
            name: b"e3".to_vec()
        })
        .is_ok());
    assert!(s.walk(ROOT, 9, &["e3"]).is_ok());
    assert_eq!(
        s.call(Request::Rename {
            fid: ROOT,
            dfid: ROOT,
            name: b"r".to_vec()
        }),
        E(Errno::EBUSY)
    );
}

fn attributes<F: FileSystem>(make: &impl Fn() -> F) {
    let mut s = Session::start(make());
    s.put(ROOT, "f", b"0123456789");
    s.walk(ROOT, 1, &["f"]).unwrap();
    let set = |valid, mode, size, atime, mtime| Request::Setattr {
        fid: 1,
        valid,
        mode,
        uid: 0,
        gid: 0,
        size,
        atime,
        mtime,
    };
    use setattr::*;
    s.call(set(MODE, 0o600, 0, (0, 0), (0, 0))).unwrap();
    s.call(set(SIZE, 0, 4, (0, 0), (0, 0))).unwrap();
    s.call(set(
        ATIME | ATIME_SET | MTIME | MTIME_SET,
        0,
        0,
        (1_000_000, 5),
        (2_000_000, 7),
    ))
    .unwrap();
    let a = s.getattr(1).unwrap();
    assert_eq!(a.mode, mode::S_IFREG | 0o600);
    assert_eq!(a.size, 4);
    assert_eq!(
        (a.atime.sec, a.atime.nsec, a.mtime.sec, a.mtime.nsec),
        (1_000_000, 5, 2_000_000, 7)
    );
    assert_eq!(s.get(&["f"]), Ok(b"0123".to_vec()));
    s.call(set(SIZE, 0, 8, (0, 0), (0, 0))).unwrap();
    assert_eq!(s.get(&["f"]), Ok(b"0123\0\0\0\0".to_vec()));
    s.call(set(MTIME, 0, 0, (0, 0), (0, 0))).unwrap();
    assert!(
        s.getattr(1).unwrap().mtime.sec != 2_000_000,
        "MTIME without MTIME_SET means now"
    );
    assert_eq!(
        s.call(set(MTIME | MTIME_SET, 0, 0, (0, 0), (5, 1_000_000_000))),
        E(Errno::EINVAL)
    );
    assert!(
        s.call(Request::Setattr {
            fid: ROOT,
            valid: SIZE,
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            atime: (0, 0),
            mtime: (0, 0)
        })
        .is_err(),
        "truncating a directory"
    );
    let r = s.call(Request::Statfs { fid: ROOT }).unwrap();
    let Reply::Statfs(st) = r else {
        panic!("{r:?}")
    };
    assert!(st.bsize > 0 && st.namelen >= 255 && st.bfree <= st.blocks);
}

fn misc<F: FileSystem>(make: &impl Fn() -> F) {
    let mut s = Session::start(make());
    s.put(ROOT, "f", b"x");
    s.walk(ROOT, 1, &["f"]).unwrap();
    assert_eq!(
        s.call(Request::Fsync {
            fid: 1,
            datasync: 1
        }),
        E(Errno::EBADF),
        "fsync of an unopened fid"
    );
    let lock = Lock {
        kind: 1,
        flags: 0,
        start: 0,
        length: 0,
        proc_id: 42,
        client_id: b"guest".to_vec(),
    };
    assert_eq!(
        s.call(Request::Lock {
            fid: 1,
            lock: lock.clone()
        }),
        Ok(Reply::Lock(0))
    );
    assert_eq!(
        s.call(Request::GetLock {
            fid: 1,
            lock: lock.clone()
        }),
        Ok(Reply::GetLock {
            kind: 2,
            start: 0,
            length: 0,
            proc_id: 42,
            client_id: b"guest".to_vec()
        })
    );
    assert_eq!(
        s.call(Request::Lock {
            fid: 1,
            lock: Lock { kind: 9, ..lock }
        }),
        E(Errno::EINVAL)
    );
    assert_eq!(
        s.call(Request::XattrWalk {
            fid: 1,
            newfid: 2,
            name: b"user.x".to_vec()
        }),
        E(Errno::ENODATA)
    );
    assert_eq!(
        s.call(Request::XattrWalk {
            fid: 1,
            newfid: 2,
            name: vec![]
        }),
        E(Errno::EOPNOTSUPP)
    );
    assert_eq!(
        s.call(Request::XattrCreate {
            fid: 1,
            name: b"user.x".to_vec(),
            size: 1,
            flags: 0
        }),
        E(Errno::EOPNOTSUPP)
    );
    assert_eq!(
        s.call(Request::Getattr { fid: 77, mask: 0 }),
        E(Errno::EBADF)
    );
    // An unknown message type.
    let mut unknown = Request::Clunk { fid: 1 }.encode(9);
    unknown[4] = 200;
    assert_eq!(
        s.raw(9, &unknown),
        Some((9, Reply::Lerror(Errno::EOPNOTSUPP.0)))
    );
    // Flush of a tag that is not outstanding is answered at once.
    assert_eq!(
        s.call(Request::Flush { oldtag: 4242 }),
        Ok(Reply::Empty(msg::TFLUSH + 1))
    );
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(u64);
impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// A random but plausible request: right type, mostly small fids, names
/// from a tiny alphabet, so that many of them succeed and build state.
pub fn random_request(rng: &mut Rng) -> Request {
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
            count: rng.next_u64() as u32,
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
            valid: rng.next_u64() as u32 & 0x1ff,
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
            mode: rng.next_u64() as u32,
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

/// Sends `steps` random, partly corrupted messages per seed to a server over
/// `make(seed)` (msize 8192, 6 fids, 4 parked requests) and checks that
/// every reply parses, fits msize, and that every parked request completes
/// exactly once.
pub fn fuzz<F: FileSystem>(
    make: impl Fn(u64) -> F,
    seeds: core::ops::RangeInclusive<u64>,
    steps: u64,
) {
    for seed in seeds {
        let mut rng = Rng::new(seed);
        let fs = make(seed);
        let mut server = Server::new(
            fs,
            Config {
                max_msize: 8192,
                max_fids: 6,
                max_pending: 4,
            },
        );
        let mut outstanding = std::collections::HashSet::new();
        for step in 0..steps {
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
                    bytes[i] = rng.next_u64() as u8;
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
