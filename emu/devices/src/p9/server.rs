//! The 9P2000.L server: fid table, request dispatch, parked requests.

use std::collections::{HashMap, VecDeque};

use super::fs::{
    Errno, FileSystem, FsError, FsResult, Owner, Qid, SetAttr, SetTime, Timespec, AT_REMOVEDIR,
};
use super::wire::{
    msg, peek_header, rlerror, setattr, Header, Request, WireError, Writer, GETATTR_BASIC,
    IOHDR_LEN, MIN_MSIZE, NOTAG,
};

/// Limits of a [`Server`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The largest msize the server accepts in Tversion (the client may ask
    /// for less). At least 4096.
    pub max_msize: u32,
    /// The most fids a client may hold at once. Linux keeps a fid per
    /// cached dentry (and per user), so this is generous; with the host
    /// backend each fid is an open descriptor (see `HostFs::raise_fd_limit`).
    pub max_fids: usize,
    /// The most requests that may be parked at once; beyond it a deferred
    /// request fails with `EAGAIN`.
    pub max_pending: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_msize: 512 * 1024,
            max_fids: 65536,
            max_pending: 128,
        }
    }
}

/// What [`Server::handle`] did with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    /// The reply message, to be written to the request's buffers now.
    Reply(Vec<u8>),
    /// The request is parked; its reply comes from a later [`Server::poll`].
    Pending,
}

/// A parked request that finished.
#[derive(Debug, PartialEq, Eq)]
pub struct Completion {
    /// The token given to [`Server::handle`].
    pub token: u64,
    /// The reply, or `None` if the request was cancelled by Tflush (no reply
    /// is due; the transport returns its buffers with nothing written).
    pub reply: Option<Vec<u8>>,
}

/// The longest name the server accepts in a path component.
const NAME_MAX: usize = 255;
/// An encoded Rreaddir entry without its name: `qid[13] offset[8] type[1] len[2]`.
const MIN_DIRENT: usize = 24;
/// "No user" in Tattach's n_uname.
const NONUNAME: u32 = 0xffff_ffff;

/// What a fid points at.
struct Fid<F: FileSystem> {
    node: F::Node,
    qid: Qid,
    /// The directory and name this fid was reached by (for Trename and
    /// Tremove), as (directory node, directory qid path, name).
    origin: Option<(F::Node, u64, Vec<u8>)>,
    /// The open file, after Tlopen/Tlcreate.
    open: Option<F::File>,
    /// The user of the attach this fid descends from.
    uid: u32,
}

/// A request waiting for the backend.
struct Parked {
    token: u64,
    tag: u16,
    req: Request,
}

/// A 9P2000.L server over the backend `F`.
pub struct Server<F: FileSystem> {
    fs: F,
    config: Config,
    /// Negotiated message size; 0 before Tversion.
    msize: u32,
    fids: HashMap<u32, Fid<F>>,
    parked: VecDeque<Parked>,
    /// Completions of flushed requests, handed out by the next poll.
    cancelled: Vec<Completion>,
}

/// A request's outcome: a reply, or a backend failure (errno or pending).
type Outcome = FsResult<Vec<u8>>;

fn err<T>(e: Errno) -> FsResult<T> {
    Err(FsError::Errno(e))
}

/// Checks a name that a new directory entry would get.
fn entry_name(name: &[u8]) -> FsResult<()> {
    if name.len() > NAME_MAX {
        return err(Errno::ENAMETOOLONG);
    }
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        return err(Errno::EINVAL);
    }
    Ok(())
}

/// Checks a Twalk name (`.` and `..` allowed).
fn walk_name(name: &[u8]) -> FsResult<()> {
    if name.len() > NAME_MAX {
        return err(Errno::ENAMETOOLONG);
    }
    if name.is_empty() || name.contains(&b'/') || name.contains(&0) {
        return err(Errno::ENOENT);
    }
    Ok(())
}

/// Linux's `makedev`.
fn makedev(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (u64::from(major), u64::from(minor));
    ((ma & 0xffff_f000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffff_ff00) << 12) | (mi & 0xff)
}

impl<F: FileSystem> Server<F> {
    /// A server over `fs`. Until Tversion, every other message is refused
    /// with `EPROTO`.
    pub fn new(fs: F, config: Config) -> Self {
        let config = Config {
            max_msize: config.max_msize.max(MIN_MSIZE),
            ..config
        };
        Server {
            fs,
            config,
            msize: 0,
            fids: HashMap::new(),
            parked: VecDeque::new(),
            cancelled: Vec::new(),
        }
    }

    /// The backend.
    pub fn fs(&self) -> &F {
        &self.fs
    }

    /// The backend, mutably (e.g. to deliver downloaded data).
    pub fn fs_mut(&mut self) -> &mut F {
        &mut self.fs
    }

    /// The limits.
    pub fn config(&self) -> Config {
        self.config
    }

    /// The negotiated msize (0 before Tversion).
    pub fn msize(&self) -> u32 {
        self.msize
    }

    /// How many fids are in use.
    pub fn fid_count(&self) -> usize {
        self.fids.len()
    }

    /// How many requests are parked.
    pub fn pending(&self) -> usize {
        self.parked.len()
    }

    /// Forgets the session, as after a device reset: every fid is clunked
    /// and parked requests are dropped without completions (their buffers
    /// belong to the old queue). The next message must be Tversion.
    pub fn reset(&mut self) {
        for (_, fid) in self.fids.drain() {
            if let Some(file) = fid.open {
                self.fs.release(file);
            }
        }
        self.parked.clear();
        self.cancelled.clear();
        self.msize = 0;
    }

    /// Handles one request message (the whole message, size field
    /// included); `token` identifies it in a later [`Completion`].
    pub fn handle(&mut self, token: u64, request: &[u8]) -> Handled {
        let limit = if self.msize == 0 {
            self.config.max_msize
        } else {
            self.msize
        };
        let (Header { tag, .. }, req) = match Request::parse(request, limit) {
            Ok(parsed) => parsed,
            Err(e) => {
                let tag = peek_header(request).map_or(NOTAG, |h| h.tag);
                let errno = match e {
                    WireError::UnknownType(_) => Errno::EOPNOTSUPP,
                    _ => Errno::EINVAL,
                };
                return Handled::Reply(rlerror(tag, errno.0));
            }
        };
        match req {
            Request::Version { msize, version } => {
                Handled::Reply(self.version(tag, msize, &version))
            }
            _ if self.msize == 0 => Handled::Reply(rlerror(tag, Errno::EPROTO.0)),
            Request::Flush { oldtag } => {
                let found = self.parked.iter().position(|p| p.tag == oldtag);
                if let Some(p) = found.and_then(|i| self.parked.remove(i)) {
                    self.cancelled.push(Completion {
                        token: p.token,
                        reply: None,
                    });
                }
                Handled::Reply(Writer::new(msg::TFLUSH + 1, tag).finish())
            }
            _ if self.parked.iter().any(|p| p.tag == tag) => {
                // A tag may not be reused while its request is outstanding.
                Handled::Reply(rlerror(tag, Errno::EINVAL.0))
            }
            req => match self.execute(tag, &req) {
                Ok(reply) => Handled::Reply(reply),
                Err(FsError::Errno(e)) => Handled::Reply(rlerror(tag, e.0)),
                Err(FsError::Pending) if self.parked.len() >= self.config.max_pending => {
                    Handled::Reply(rlerror(tag, Errno::EAGAIN.0))
                }
                Err(FsError::Pending) => {
                    self.parked.push_back(Parked { token, tag, req });
                    Handled::Pending
                }
            },
        }
    }

    /// Retries parked requests and returns those that finished (or were
    /// flushed), in arrival order.
    pub fn poll(&mut self) -> Vec<Completion> {
        let mut done = std::mem::take(&mut self.cancelled);
        for _ in 0..self.parked.len() {
            let Some(p) = self.parked.pop_front() else {
                break;
            };
            match self.execute(p.tag, &p.req) {
                Ok(reply) => done.push(Completion {
                    token: p.token,
                    reply: Some(reply),
                }),
                Err(FsError::Errno(e)) => done.push(Completion {
                    token: p.token,
                    reply: Some(rlerror(p.tag, e.0)),
                }),
                Err(FsError::Pending) => self.parked.push_back(p),
            }
        }
        done
    }

    /// Tversion: negotiates msize and resets the session.
    fn version(&mut self, tag: u16, msize: u32, version: &[u8]) -> Vec<u8> {
        if msize < MIN_MSIZE {
            return rlerror(tag, Errno::EINVAL.0);
        }
        // A new session: every fid is clunked and every parked request
        // aborted (no reply is due for them).
        for (_, fid) in self.fids.drain() {
            if let Some(file) = fid.open {
                self.fs.release(file);
            }
        }
        for p in self.parked.drain(..) {
            self.cancelled.push(Completion {
                token: p.token,
                reply: None,
            });
        }
        let msize = msize.min(self.config.max_msize);
        let mut w = Writer::new(msg::TVERSION + 1, tag);
        w.u32(msize);
        if version.starts_with(b"9P2000.L") {
            self.msize = msize;
            w.str(b"9P2000.L");
        } else {
            self.msize = 0;
            w.str(b"unknown");
        }
        w.finish()
    }

    fn fid(&self, fid: u32) -> FsResult<&Fid<F>> {
        self.fids.get(&fid).ok_or(FsError::Errno(Errno::EBADF))
    }

    fn fid_mut(&mut self, fid: u32) -> FsResult<&mut Fid<F>> {
        self.fids.get_mut(&fid).ok_or(FsError::Errno(Errno::EBADF))
    }

    /// A fid that is not open (walkable, a directory to create in, ...).
    fn node(&self, fid: u32) -> FsResult<&Fid<F>> {
        let f = self.fid(fid)?;
        if f.open.is_some() {
            return err(Errno::EBADF);
        }
        Ok(f)
    }

    /// Checks that `newfid` can be added.
    fn new_fid_ok(&self, newfid: u32) -> FsResult<()> {
        if self.fids.contains_key(&newfid) {
            return err(Errno::EBADF);
        }
        if self.fids.len() >= self.config.max_fids {
            return err(Errno::ENFILE);
        }
        Ok(())
    }

    /// The open file of `fid`, with the server's split borrows.
    fn open_file(&mut self, fid: u32) -> FsResult<(&mut F, &mut F::File)> {
        let f = self
            .fids
            .get_mut(&fid)
            .ok_or(FsError::Errno(Errno::EBADF))?;
        match f.open.as_mut() {
            Some(file) => Ok((&mut self.fs, file)),
            None => err(Errno::EBADF),
        }
    }

    fn qid_reply(kind: u8, tag: u16, qid: &Qid) -> Vec<u8> {
        let mut w = Writer::new(kind, tag);
        w.qid(qid);
        w.finish()
    }

    fn empty(kind: u8, tag: u16) -> Vec<u8> {
        Writer::new(kind, tag).finish()
    }

    /// The bytes of data a reply may carry after its 11-byte header.
    fn io_limit(&self, count: u32) -> usize {
        count.min(self.msize.saturating_sub(IOHDR_LEN)) as usize
    }

    fn owner(&self, fid: u32, gid: u32) -> FsResult<Owner> {
        Ok(Owner {
            uid: self.fid(fid)?.uid,
            gid,
        })
    }

    /// Executes a parsed request (other than Tversion/Tflush).
    fn execute(&mut self, tag: u16, req: &Request) -> Outcome {
        match req {
            Request::Version { .. } | Request::Flush { .. } => err(Errno::EINVAL),
            Request::Auth { .. } => err(Errno::EOPNOTSUPP),
            Request::Attach {
                fid,
                afid: _,
                uname: _,
                aname,
                n_uname,
            } => {
                self.new_fid_ok(*fid)?;
                let node = self.fs.root(aname)?;
                let qid = self.fs.getattr(&node)?.qid;
                let uid = if *n_uname == NONUNAME { 0 } else { *n_uname };
                self.fids.insert(
                    *fid,
                    Fid {
                        node,
                        qid,
                        origin: None,
                        open: None,
                        uid,
                    },
                );
                Ok(Self::qid_reply(msg::TATTACH + 1, tag, &qid))
            }
            Request::Walk { fid, newfid, names } => self.walk(tag, *fid, *newfid, names),
            Request::Lopen { fid, flags } => {
                let f = self.node(*fid)?;
                let (node, qid) = (f.node.clone(), f.qid);
                let file = self.fs.open(&node, *flags)?;
                self.fid_mut(*fid)?.open = Some(file);
                let mut w = Writer::new(msg::TLOPEN + 1, tag);
                w.qid(&qid).u32(0);
                Ok(w.finish())
            }
            Request::Lcreate {
                fid,
                name,
                flags,
                mode,
                gid,
            } => {
                entry_name(name)?;
                let f = self.node(*fid)?;
                let (dir, dir_path) = (f.node.clone(), f.qid.path);
                let owner = self.owner(*fid, *gid)?;
                let (node, file) = self.fs.create(&dir, name, *flags, *mode, owner)?;
                let qid = match self.fs.getattr(&node) {
                    Ok(a) => a.qid,
                    Err(e) => {
                        self.fs.release(file);
                        return Err(e);
                    }
                };
                let f = self.fid_mut(*fid)?;
                f.node = node;
                f.qid = qid;
                f.origin = Some((dir, dir_path, name.clone()));
                f.open = Some(file);
                let mut w = Writer::new(msg::TLCREATE + 1, tag);
                w.qid(&qid).u32(0);
                Ok(w.finish())
            }
            Request::Read { fid, offset, count } => {
                let n = self.io_limit(*count);
                let (fs, file) = self.open_file(*fid)?;
                let mut out = vec![0u8; IOHDR_LEN as usize + n];
                let got = fs
                    .read(file, *offset, &mut out[IOHDR_LEN as usize..])?
                    .min(n);
                out.truncate(IOHDR_LEN as usize + got);
                let size = out.len() as u32;
                out[..4].copy_from_slice(&size.to_le_bytes());
                out[4] = msg::TREAD + 1;
                out[5..7].copy_from_slice(&tag.to_le_bytes());
                out[7..11].copy_from_slice(&(got as u32).to_le_bytes());
                Ok(out)
            }
            Request::Write { fid, offset, data } => {
                let (fs, file) = self.open_file(*fid)?;
                let n = fs.write(file, *offset, data)?.min(data.len());
                let mut w = Writer::new(msg::TWRITE + 1, tag);
                w.u32(n as u32);
                Ok(w.finish())
            }
            Request::Clunk { fid } => {
                let f = self.fids.remove(fid).ok_or(FsError::Errno(Errno::EBADF))?;
                if let Some(file) = f.open {
                    self.fs.release(file);
                }
                Ok(Self::empty(msg::TCLUNK + 1, tag))
            }
            Request::Remove { fid } => {
                let f = self.fid(*fid)?;
                let result = match &f.origin {
                    Some((dir, _, name)) => {
                        let flags = if f.qid.kind & super::fs::qid_type::DIR != 0 {
                            AT_REMOVEDIR
                        } else {
                            0
                        };
                        let (dir, name) = (dir.clone(), name.clone());
                        self.fs.unlink(&dir, &name, flags)
                    }
                    // The root, or a fid reached through `..`.
                    None => err(Errno::EBUSY),
                };
                if result == Err(FsError::Pending) {
                    return Err(FsError::Pending);
                }
                // Tremove clunks the fid whether or not the removal worked.
                if let Some(f) = self.fids.remove(fid) {
                    if let Some(file) = f.open {
                        self.fs.release(file);
                    }
                }
                result?;
                Ok(Self::empty(msg::TREMOVE + 1, tag))
            }
            Request::Statfs { fid } => {
                let node = self.fid(*fid)?.node.clone();
                let s = self.fs.statfs(&node)?;
                let mut w = Writer::new(msg::TSTATFS + 1, tag);
                w.u32(s.fs_type)
                    .u32(s.bsize)
                    .u64(s.blocks)
                    .u64(s.bfree)
                    .u64(s.bavail);
                w.u64(s.files).u64(s.ffree).u64(s.fsid).u32(s.namelen);
                Ok(w.finish())
            }
            Request::Symlink {
                fid,
                name,
                target,
                gid,
            } => {
                entry_name(name)?;
                if target.is_empty() || target.contains(&0) {
                    return err(Errno::EINVAL);
                }
                let dir = self.node(*fid)?.node.clone();
                let owner = self.owner(*fid, *gid)?;
                let qid = self.fs.symlink(&dir, name, target, owner)?;
                Ok(Self::qid_reply(msg::TSYMLINK + 1, tag, &qid))
            }
            Request::Mknod {
                dfid,
                name,
                mode,
                major,
                minor,
                gid,
            } => {
                entry_name(name)?;
                let dir = self.node(*dfid)?.node.clone();
                let owner = self.owner(*dfid, *gid)?;
                let qid = self
                    .fs
                    .mknod(&dir, name, *mode, makedev(*major, *minor), owner)?;
                Ok(Self::qid_reply(msg::TMKNOD + 1, tag, &qid))
            }
            Request::Rename { fid, dfid, name } => {
                entry_name(name)?;
                let (old_dir, old_path, old_name) = self
                    .fid(*fid)?
                    .origin
                    .clone()
                    .ok_or(FsError::Errno(Errno::EBUSY))?;
                let d = self.fid(*dfid)?;
                let (new_dir, new_path) = (d.node.clone(), d.qid.path);
                self.fs.rename(&old_dir, &old_name, &new_dir, name)?;
                self.moved(old_path, &old_name, &new_dir, new_path, name);
                Ok(Self::empty(msg::TRENAME + 1, tag))
            }
            Request::Readlink { fid } => {
                let node = self.fid(*fid)?.node.clone();
                let target = self.fs.readlink(&node)?;
                if target.len() > u16::MAX as usize || target.len() + 9 > self.msize as usize {
                    return err(Errno::ENAMETOOLONG);
                }
                let mut w = Writer::new(msg::TREADLINK + 1, tag);
                w.str(&target);
                Ok(w.finish())
            }
            Request::Getattr { fid, mask: _ } => {
                let node = self.fid(*fid)?.node.clone();
                let a = self.fs.getattr(&node)?;
                let mut w = Writer::new(msg::TGETATTR + 1, tag);
                w.u64(GETATTR_BASIC)
                    .qid(&a.qid)
                    .u32(a.mode)
                    .u32(a.uid)
                    .u32(a.gid);
                w.u64(a.nlink)
                    .u64(a.rdev)
                    .u64(a.size)
                    .u64(a.blksize)
                    .u64(a.blocks);
                for t in [a.atime, a.mtime, a.ctime, Timespec::default()] {
                    w.u64(t.sec).u64(t.nsec);
                }
                w.u64(0).u64(0); // gen, data_version
                Ok(w.finish())
            }
            Request::Setattr {
                fid,
                valid,
                mode,
                uid,
                gid,
                size,
                atime,
                mtime,
            } => {
                let node = self.fid(*fid)?.node.clone();
                let time =
                    |set: bool, explicit: bool, (sec, nsec): (u64, u64)| -> FsResult<SetTime> {
                        Ok(match (set, explicit) {
                            (false, _) => SetTime::Omit,
                            (true, false) => SetTime::Now,
                            (true, true) if nsec >= 1_000_000_000 => return err(Errno::EINVAL),
                            (true, true) => SetTime::At(Timespec { sec, nsec }),
                        })
                    };
                let v = *valid;
                let set = SetAttr {
                    mode: (v & setattr::MODE != 0).then_some(*mode),
                    uid: (v & setattr::UID != 0).then_some(*uid),
                    gid: (v & setattr::GID != 0).then_some(*gid),
                    size: (v & setattr::SIZE != 0).then_some(*size),
                    atime: time(v & setattr::ATIME != 0, v & setattr::ATIME_SET != 0, *atime)?,
                    mtime: time(v & setattr::MTIME != 0, v & setattr::MTIME_SET != 0, *mtime)?,
                };
                self.fs.setattr(&node, &set)?;
                Ok(Self::empty(msg::TSETATTR + 1, tag))
            }
            Request::XattrWalk { fid, name, .. } => {
                self.fid(*fid)?;
                // No extended attributes: a named one does not exist, and
                // listing them is not supported.
                err(if name.is_empty() {
                    Errno::EOPNOTSUPP
                } else {
                    Errno::ENODATA
                })
            }
            Request::XattrCreate { fid, .. } => {
                self.fid(*fid)?;
                err(Errno::EOPNOTSUPP)
            }
            Request::Readdir { fid, offset, count } => {
                let room = self.io_limit(*count);
                let max = room / (MIN_DIRENT + 1) + 1;
                let (fs, file) = self.open_file(*fid)?;
                let entries = fs.readdir(file, *offset, max)?;
                let mut w = Writer::new(msg::TREADDIR + 1, tag);
                w.u32(0);
                let mut used = 0usize;
                for e in &entries {
                    let name = &e.name[..e.name.len().min(NAME_MAX)];
                    let len = MIN_DIRENT + name.len();
                    if used + len > room {
                        break;
                    }
                    used += len;
                    w.qid(&e.qid).u64(e.offset).u8(e.kind).str(name);
                }
                if used == 0 && !entries.is_empty() {
                    // Not even one entry fits in the client's buffer.
                    return err(Errno::EINVAL);
                }
                let mut out = w.finish();
                out[7..11].copy_from_slice(&(used as u32).to_le_bytes());
                Ok(out)
            }
            Request::Fsync { fid, datasync } => {
                let (fs, file) = self.open_file(*fid)?;
                fs.fsync(file, *datasync != 0)?;
                Ok(Self::empty(msg::TFSYNC + 1, tag))
            }
            Request::Lock { fid, lock } => {
                self.fid(*fid)?;
                if lock.kind > 2 {
                    return err(Errno::EINVAL);
                }
                let mut w = Writer::new(msg::TLOCK + 1, tag);
                w.u8(0); // P9_LOCK_SUCCESS
                Ok(w.finish())
            }
            Request::GetLock { fid, lock } => {
                self.fid(*fid)?;
                if lock.kind > 2 {
                    return err(Errno::EINVAL);
                }
                let mut w = Writer::new(msg::TGETLOCK + 1, tag);
                w.u8(2)
                    .u64(lock.start)
                    .u64(lock.length)
                    .u32(lock.proc_id)
                    .str(&lock.client_id);
                Ok(w.finish())
            }
            Request::Link { dfid, fid, name } => {
                entry_name(name)?;
                let dir = self.node(*dfid)?.node.clone();
                let target = self.fid(*fid)?.node.clone();
                self.fs.link(&dir, name, &target)?;
                Ok(Self::empty(msg::TLINK + 1, tag))
            }
            Request::Mkdir {
                dfid,
                name,
                mode,
                gid,
            } => {
                entry_name(name)?;
                let dir = self.node(*dfid)?.node.clone();
                let owner = self.owner(*dfid, *gid)?;
                let qid = self.fs.mkdir(&dir, name, *mode, owner)?;
                Ok(Self::qid_reply(msg::TMKDIR + 1, tag, &qid))
            }
            Request::Renameat {
                olddirfid,
                oldname,
                newdirfid,
                newname,
            } => {
                entry_name(oldname)?;
                entry_name(newname)?;
                let o = self.fid(*olddirfid)?;
                let (old_dir, old_path) = (o.node.clone(), o.qid.path);
                let n = self.fid(*newdirfid)?;
                let (new_dir, new_path) = (n.node.clone(), n.qid.path);
                self.fs.rename(&old_dir, oldname, &new_dir, newname)?;
                self.moved(old_path, oldname, &new_dir, new_path, newname);
                Ok(Self::empty(msg::TRENAMEAT + 1, tag))
            }
            Request::Unlinkat { dfid, name, flags } => {
                entry_name(name)?;
                if flags & !AT_REMOVEDIR != 0 {
                    return err(Errno::EINVAL);
                }
                let dir = self.node(*dfid)?.node.clone();
                self.fs.unlink(&dir, name, *flags)?;
                Ok(Self::empty(msg::TUNLINKAT + 1, tag))
            }
        }
    }

    /// Twalk: clone or walk `fid` to `newfid`; a partial walk answers the
    /// qids of the names that were found and leaves `newfid` unused.
    fn walk(&mut self, tag: u16, fid: u32, newfid: u32, names: &[Vec<u8>]) -> Outcome {
        let f = self.node(fid)?;
        let (mut node, mut qid, mut origin, uid) = (f.node.clone(), f.qid, f.origin.clone(), f.uid);
        if newfid != fid {
            self.new_fid_ok(newfid)?;
        }
        let mut qids = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let step = walk_name(name).and_then(|()| {
                let next = self.fs.lookup(&node, name)?;
                let next_qid = self.fs.getattr(&next)?.qid;
                Ok((next, next_qid))
            });
            match step {
                Ok((next, next_qid)) => {
                    origin = match name.as_slice() {
                        b"." => origin,
                        b".." => None,
                        _ => Some((node.clone(), qid.path, name.clone())),
                    };
                    node = next;
                    qid = next_qid;
                    qids.push(qid);
                }
                Err(FsError::Pending) => return Err(FsError::Pending),
                Err(e) if i == 0 => return Err(e),
                Err(_) => break,
            }
        }
        if qids.len() == names.len() {
            let open = None;
            if let Some(old) = self.fids.insert(
                newfid,
                Fid {
                    node,
                    qid,
                    origin,
                    open,
                    uid,
                },
            ) {
                debug_assert!(old.open.is_none(), "walked fids are never open");
            }
        }
        let mut w = Writer::new(msg::TWALK + 1, tag);
        w.u16(qids.len() as u16);
        for q in &qids {
            w.qid(q);
        }
        Ok(w.finish())
    }

    /// Updates the origin of fids reached as `old_path/old_name` after a rename.
    fn moved(
        &mut self,
        old_path: u64,
        old_name: &[u8],
        new_dir: &F::Node,
        new_path: u64,
        new_name: &[u8],
    ) {
        for f in self.fids.values_mut() {
            if let Some((_, p, n)) = &f.origin {
                if *p == old_path && n.as_slice() == old_name {
                    f.origin = Some((new_dir.clone(), new_path, new_name.to_vec()));
                }
            }
        }
    }
}
