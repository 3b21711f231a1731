//! The 9P2000.L wire format: message type numbers, a bounds-checked reader,
//! a writer, and the typed requests the server executes.
//!
//! Every message is `size[4] type[1] tag[2] body`, little-endian; strings
//! are `len[2] bytes`; a qid is `type[1] version[4] path[8]`.
//! [`Request::parse`] validates a whole message (declared size equal to the
//! bytes given and not above msize, every field present, no trailing bytes,
//! counts and string lengths within limits) before anything is executed.

use thiserror::Error;

use super::fs::Qid;

/// Message type numbers (T = request, R = reply = T + 1).
pub mod msg {
    pub const RLERROR: u8 = 7;
    pub const TSTATFS: u8 = 8;
    pub const TLOPEN: u8 = 12;
    pub const TLCREATE: u8 = 14;
    pub const TSYMLINK: u8 = 16;
    pub const TMKNOD: u8 = 18;
    pub const TRENAME: u8 = 20;
    pub const TREADLINK: u8 = 22;
    pub const TGETATTR: u8 = 24;
    pub const TSETATTR: u8 = 26;
    pub const TXATTRWALK: u8 = 30;
    pub const TXATTRCREATE: u8 = 32;
    pub const TREADDIR: u8 = 40;
    pub const TFSYNC: u8 = 50;
    pub const TLOCK: u8 = 52;
    pub const TGETLOCK: u8 = 54;
    pub const TLINK: u8 = 70;
    pub const TMKDIR: u8 = 72;
    pub const TRENAMEAT: u8 = 74;
    pub const TUNLINKAT: u8 = 76;
    pub const TVERSION: u8 = 100;
    pub const TAUTH: u8 = 102;
    pub const TATTACH: u8 = 104;
    pub const TFLUSH: u8 = 108;
    pub const TWALK: u8 = 110;
    pub const TREAD: u8 = 116;
    pub const TWRITE: u8 = 118;
    pub const TCLUNK: u8 = 120;
    pub const TREMOVE: u8 = 122;
}

/// The tag of Tversion (and of replies to messages whose tag is unreadable).
pub const NOTAG: u16 = 0xffff;
/// "No fid" (Tattach's afid when there is no authentication).
pub const NOFID: u32 = 0xffff_ffff;
/// The most names one Twalk may carry (9P's MAXWELEM).
pub const MAXWELEM: usize = 16;
/// Size of the header `size[4] type[1] tag[2]`.
pub const HEADER_LEN: usize = 7;
/// Bytes of Rread/Rreaddir before the data (header + `count[4]`): a Tread
/// count is clamped to msize minus this.
pub const IOHDR_LEN: u32 = 11;
/// Smallest msize the server accepts.
pub const MIN_MSIZE: u32 = 4096;

/// `Tsetattr` valid bits.
pub mod setattr {
    pub const MODE: u32 = 0x1;
    pub const UID: u32 = 0x2;
    pub const GID: u32 = 0x4;
    pub const SIZE: u32 = 0x8;
    pub const ATIME: u32 = 0x10;
    pub const MTIME: u32 = 0x20;
    pub const CTIME: u32 = 0x40;
    pub const ATIME_SET: u32 = 0x80;
    pub const MTIME_SET: u32 = 0x100;
}

/// `Rgetattr` valid mask for the basic fields (mode .. blocks).
pub const GETATTR_BASIC: u64 = 0x7ff;

/// A message that cannot be parsed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WireError {
    #[error("message of {have} bytes is shorter than its header")]
    NoHeader { have: usize },
    #[error("declared size {declared} differs from the {actual} bytes received")]
    SizeMismatch { declared: u32, actual: usize },
    #[error("message of {size} bytes exceeds msize {msize}")]
    TooLarge { size: usize, msize: u32 },
    #[error("field at offset {offset} needs {need} bytes, message has {have}")]
    Truncated {
        offset: usize,
        need: usize,
        have: usize,
    },
    #[error("{extra} bytes after the last field of message type {kind}")]
    Trailing { kind: u8, extra: usize },
    #[error("Twalk with {0} names (at most 16)")]
    TooManyNames(u16),
    #[error("Twrite count {count} but {have} data bytes")]
    BadCount { count: u32, have: usize },
    #[error("unknown message type {0}")]
    UnknownType(u8),
}

/// A bounds-checked little-endian reader over a message body.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.remaining() < n {
            return Err(WireError::Truncated {
                offset: self.pos,
                need: n,
                have: self.buf.len(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// A string `len[2] bytes` (any bytes; names are checked by the server).
    pub fn str(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u16()? as usize;
        self.bytes(n)
    }
    pub fn qid(&mut self) -> Result<Qid, WireError> {
        Ok(Qid {
            kind: self.u8()?,
            version: self.u32()?,
            path: self.u64()?,
        })
    }
}

/// A little-endian message writer. [`Writer::finish`] fills in the size.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// Starts a message of type `kind` with `tag`.
    pub fn new(kind: u8, tag: u16) -> Self {
        let mut w = Writer {
            buf: Vec::with_capacity(64),
        };
        w.u32(0).u8(kind).u16(tag);
        w
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Raw bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    /// A string; the caller keeps it within 65535 bytes (longer is cut).
    pub fn str(&mut self, v: &[u8]) -> &mut Self {
        let n = v.len().min(u16::MAX as usize);
        self.u16(n as u16).bytes(&v[..n])
    }
    pub fn qid(&mut self, q: &Qid) -> &mut Self {
        self.u8(q.kind).u32(q.version).u64(q.path)
    }
    /// Bytes written so far (header included).
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    /// The message with its size field filled in.
    pub fn finish(mut self) -> Vec<u8> {
        let n = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.buf[..4].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

/// An `Rlerror` message.
pub fn rlerror(tag: u16, errno: u32) -> Vec<u8> {
    let mut w = Writer::new(msg::RLERROR, tag);
    w.u32(errno);
    w.finish()
}

/// A lock request's fields (Tlock / Tgetlock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    pub kind: u8,
    pub flags: u32,
    pub start: u64,
    pub length: u64,
    pub proc_id: u32,
    pub client_id: Vec<u8>,
}

/// A validated request body. Names are raw bytes, as on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Version {
        msize: u32,
        version: Vec<u8>,
    },
    Auth {
        afid: u32,
    },
    Attach {
        fid: u32,
        afid: u32,
        uname: Vec<u8>,
        aname: Vec<u8>,
        n_uname: u32,
    },
    Flush {
        oldtag: u16,
    },
    Walk {
        fid: u32,
        newfid: u32,
        names: Vec<Vec<u8>>,
    },
    Lopen {
        fid: u32,
        flags: u32,
    },
    Lcreate {
        fid: u32,
        name: Vec<u8>,
        flags: u32,
        mode: u32,
        gid: u32,
    },
    Read {
        fid: u32,
        offset: u64,
        count: u32,
    },
    Write {
        fid: u32,
        offset: u64,
        data: Vec<u8>,
    },
    Clunk {
        fid: u32,
    },
    Remove {
        fid: u32,
    },
    Statfs {
        fid: u32,
    },
    Symlink {
        fid: u32,
        name: Vec<u8>,
        target: Vec<u8>,
        gid: u32,
    },
    Mknod {
        dfid: u32,
        name: Vec<u8>,
        mode: u32,
        major: u32,
        minor: u32,
        gid: u32,
    },
    Rename {
        fid: u32,
        dfid: u32,
        name: Vec<u8>,
    },
    Readlink {
        fid: u32,
    },
    Getattr {
        fid: u32,
        mask: u64,
    },
    Setattr {
        fid: u32,
        valid: u32,
        mode: u32,
        uid: u32,
        gid: u32,
        size: u64,
        atime: (u64, u64),
        mtime: (u64, u64),
    },
    XattrWalk {
        fid: u32,
        newfid: u32,
        name: Vec<u8>,
    },
    XattrCreate {
        fid: u32,
        name: Vec<u8>,
        size: u64,
        flags: u32,
    },
    Readdir {
        fid: u32,
        offset: u64,
        count: u32,
    },
    Fsync {
        fid: u32,
        datasync: u32,
    },
    Lock {
        fid: u32,
        lock: Lock,
    },
    GetLock {
        fid: u32,
        lock: Lock,
    },
    Link {
        dfid: u32,
        fid: u32,
        name: Vec<u8>,
    },
    Mkdir {
        dfid: u32,
        name: Vec<u8>,
        mode: u32,
        gid: u32,
    },
    Renameat {
        olddirfid: u32,
        oldname: Vec<u8>,
        newdirfid: u32,
        newname: Vec<u8>,
    },
    Unlinkat {
        dfid: u32,
        name: Vec<u8>,
        flags: u32,
    },
}

/// The header of a message: its type and tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: u8,
    pub tag: u16,
}

/// Reads the header of `bytes` if there is one (for error replies).
pub fn peek_header(bytes: &[u8]) -> Option<Header> {
    (bytes.len() >= HEADER_LEN).then(|| Header {
        kind: bytes[4],
        tag: u16::from_le_bytes([bytes[5], bytes[6]]),
    })
}

impl Request {
    /// Parses a whole message of at most `msize` bytes.
    pub fn parse(bytes: &[u8], msize: u32) -> Result<(Header, Request), WireError> {
        let header = peek_header(bytes).ok_or(WireError::NoHeader { have: bytes.len() })?;
        let declared = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if declared as usize != bytes.len() {
            return Err(WireError::SizeMismatch {
                declared,
                actual: bytes.len(),
            });
        }
        if bytes.len() > msize as usize {
            return Err(WireError::TooLarge {
                size: bytes.len(),
                msize,
            });
        }
        let mut r = Reader::new(&bytes[HEADER_LEN..]);
        let req = Self::parse_body(header.kind, &mut r)?;
        if r.remaining() != 0 {
            return Err(WireError::Trailing {
                kind: header.kind,
                extra: r.remaining(),
            });
        }
        Ok((header, req))
    }

    fn parse_body(kind: u8, r: &mut Reader<'_>) -> Result<Request, WireError> {
        use msg::*;
        let s = |r: &mut Reader<'_>| r.str().map(<[u8]>::to_vec);
        Ok(match kind {
            TVERSION => Request::Version {
                msize: r.u32()?,
                version: s(r)?,
            },
            TAUTH => {
                let afid = r.u32()?;
                s(r)?;
                s(r)?;
                r.u32()?;
                Request::Auth { afid }
            }
            TATTACH => Request::Attach {
                fid: r.u32()?,
                afid: r.u32()?,
                uname: s(r)?,
                aname: s(r)?,
                n_uname: r.u32()?,
            },
            TFLUSH => Request::Flush { oldtag: r.u16()? },
            TWALK => {
                let fid = r.u32()?;
                let newfid = r.u32()?;
                let n = r.u16()?;
                if n as usize > MAXWELEM {
                    return Err(WireError::TooManyNames(n));
                }
                let mut names = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    names.push(s(r)?);
                }
                Request::Walk { fid, newfid, names }
            }
            TLOPEN => Request::Lopen {
                fid: r.u32()?,
                flags: r.u32()?,
            },
            TLCREATE => Request::Lcreate {
                fid: r.u32()?,
                name: s(r)?,
                flags: r.u32()?,
                mode: r.u32()?,
                gid: r.u32()?,
            },
            TREAD => Request::Read {
                fid: r.u32()?,
                offset: r.u64()?,
                count: r.u32()?,
            },
            TWRITE => {
                let fid = r.u32()?;
                let offset = r.u64()?;
                let count = r.u32()?;
                if count as usize != r.remaining() {
                    return Err(WireError::BadCount {
                        count,
                        have: r.remaining(),
                    });
                }
                Request::Write {
                    fid,
                    offset,
                    data: r.bytes(count as usize)?.to_vec(),
                }
            }
            TCLUNK => Request::Clunk { fid: r.u32()? },
            TREMOVE => Request::Remove { fid: r.u32()? },
            TSTATFS => Request::Statfs { fid: r.u32()? },
            TSYMLINK => Request::Symlink {
                fid: r.u32()?,
                name: s(r)?,
                target: s(r)?,
                gid: r.u32()?,
            },
            TMKNOD => Request::Mknod {
                dfid: r.u32()?,
                name: s(r)?,
                mode: r.u32()?,
                major: r.u32()?,
                minor: r.u32()?,
                gid: r.u32()?,
            },
            TRENAME => Request::Rename {
                fid: r.u32()?,
                dfid: r.u32()?,
                name: s(r)?,
            },
            TREADLINK => Request::Readlink { fid: r.u32()? },
            TGETATTR => Request::Getattr {
                fid: r.u32()?,
                mask: r.u64()?,
            },
            TSETATTR => Request::Setattr {
                fid: r.u32()?,
                valid: r.u32()?,
                mode: r.u32()?,
                uid: r.u32()?,
                gid: r.u32()?,
                size: r.u64()?,
                atime: (r.u64()?, r.u64()?),
                mtime: (r.u64()?, r.u64()?),
            },
            TXATTRWALK => Request::XattrWalk {
                fid: r.u32()?,
                newfid: r.u32()?,
                name: s(r)?,
            },
            TXATTRCREATE => Request::XattrCreate {
                fid: r.u32()?,
                name: s(r)?,
                size: r.u64()?,
                flags: r.u32()?,
            },
            TREADDIR => Request::Readdir {
                fid: r.u32()?,
                offset: r.u64()?,
                count: r.u32()?,
            },
            TFSYNC => Request::Fsync {
                fid: r.u32()?,
                datasync: r.u32()?,
            },
            TLOCK => Request::Lock {
                fid: r.u32()?,
                lock: Lock {
                    kind: r.u8()?,
                    flags: r.u32()?,
                    start: r.u64()?,
                    length: r.u64()?,
                    proc_id: r.u32()?,
                    client_id: s(r)?,
                },
            },
            TGETLOCK => Request::GetLock {
                fid: r.u32()?,
                lock: Lock {
                    kind: r.u8()?,
                    flags: 0,
                    start: r.u64()?,
                    length: r.u64()?,
                    proc_id: r.u32()?,
                    client_id: s(r)?,
                },
            },
            TLINK => Request::Link {
                dfid: r.u32()?,
                fid: r.u32()?,
                name: s(r)?,
            },
            TMKDIR => Request::Mkdir {
                dfid: r.u32()?,
                name: s(r)?,
                mode: r.u32()?,
                gid: r.u32()?,
            },
            TRENAMEAT => Request::Renameat {
                olddirfid: r.u32()?,
                oldname: s(r)?,
                newdirfid: r.u32()?,
                newname: s(r)?,
            },
            TUNLINKAT => Request::Unlinkat {
                dfid: r.u32()?,
                name: s(r)?,
                flags: r.u32()?,
            },
            other => return Err(WireError::UnknownType(other)),
        })
    }
}

impl Request {
    /// Encodes the request as a message with `tag` (the client's side; used
    /// by tests and tools). Strings longer than 65535 bytes are cut.
    pub fn encode(&self, tag: u16) -> Vec<u8> {
        let mut w = Writer::new(self.kind(), tag);
        match self {
            Request::Version { msize, version } => w.u32(*msize).str(version),
            Request::Auth { afid } => w.u32(*afid).str(b"").str(b"").u32(NOFID),
            Request::Attach {
                fid,
                afid,
                uname,
                aname,
                n_uname,
            } => w.u32(*fid).u32(*afid).str(uname).str(aname).u32(*n_uname),
            Request::Flush { oldtag } => w.u16(*oldtag),
            Request::Walk { fid, newfid, names } => {
                w.u32(*fid)
                    .u32(*newfid)
                    .u16(names.len().min(u16::MAX as usize) as u16);
                for n in names {
                    w.str(n);
                }
                &mut w
            }
            Request::Lopen { fid, flags } => w.u32(*fid).u32(*flags),
            Request::Lcreate {
                fid,
                name,
                flags,
                mode,
                gid,
            } => w.u32(*fid).str(name).u32(*flags).u32(*mode).u32(*gid),
            Request::Read { fid, offset, count } => w.u32(*fid).u64(*offset).u32(*count),
            Request::Write { fid, offset, data } => {
                w.u32(*fid).u64(*offset).u32(data.len() as u32).bytes(data)
            }
            Request::Clunk { fid } | Request::Remove { fid } | Request::Statfs { fid } => {
                w.u32(*fid)
            }
            Request::Readlink { fid } => w.u32(*fid),
            Request::Symlink {
                fid,
                name,
                target,
                gid,
            } => w.u32(*fid).str(name).str(target).u32(*gid),
            Request::Mknod {
                dfid,
                name,
                mode,
                major,
                minor,
                gid,
            } => w
                .u32(*dfid)
                .str(name)
                .u32(*mode)
                .u32(*major)
                .u32(*minor)
                .u32(*gid),
            Request::Rename { fid, dfid, name } => w.u32(*fid).u32(*dfid).str(name),
            Request::Getattr { fid, mask } => w.u32(*fid).u64(*mask),
            Request::Setattr {
                fid,
                valid,
                mode,
                uid,
                gid,
                size,
                atime,
                mtime,
            } => w
                .u32(*fid)
                .u32(*valid)
                .u32(*mode)
                .u32(*uid)
                .u32(*gid)
                .u64(*size)
                .u64(atime.0)
                .u64(atime.1)
                .u64(mtime.0)
                .u64(mtime.1),
            Request::XattrWalk { fid, newfid, name } => w.u32(*fid).u32(*newfid).str(name),
            Request::XattrCreate {
                fid,
                name,
                size,
                flags,
            } => w.u32(*fid).str(name).u64(*size).u32(*flags),
            Request::Readdir { fid, offset, count } => w.u32(*fid).u64(*offset).u32(*count),
            Request::Fsync { fid, datasync } => w.u32(*fid).u32(*datasync),
            Request::Lock { fid, lock } => w
                .u32(*fid)
                .u8(lock.kind)
                .u32(lock.flags)
                .u64(lock.start)
                .u64(lock.length)
                .u32(lock.proc_id)
                .str(&lock.client_id),
            Request::GetLock { fid, lock } => w
                .u32(*fid)
                .u8(lock.kind)
                .u64(lock.start)
                .u64(lock.length)
                .u32(lock.proc_id)
                .str(&lock.client_id),
            Request::Link { dfid, fid, name } => w.u32(*dfid).u32(*fid).str(name),
            Request::Mkdir {
                dfid,
                name,
                mode,
                gid,
            } => w.u32(*dfid).str(name).u32(*mode).u32(*gid),
            Request::Renameat {
                olddirfid,
                oldname,
                newdirfid,
                newname,
            } => w.u32(*olddirfid).str(oldname).u32(*newdirfid).str(newname),
            Request::Unlinkat { dfid, name, flags } => w.u32(*dfid).str(name).u32(*flags),
        };
        w.finish()
    }

    /// The message type of this request.
    pub fn kind(&self) -> u8 {
        use msg::*;
        match self {
            Request::Version { .. } => TVERSION,
            Request::Auth { .. } => TAUTH,
            Request::Attach { .. } => TATTACH,
            Request::Flush { .. } => TFLUSH,
            Request::Walk { .. } => TWALK,
            Request::Lopen { .. } => TLOPEN,
            Request::Lcreate { .. } => TLCREATE,
            Request::Read { .. } => TREAD,
            Request::Write { .. } => TWRITE,
            Request::Clunk { .. } => TCLUNK,
            Request::Remove { .. } => TREMOVE,
            Request::Statfs { .. } => TSTATFS,
            Request::Symlink { .. } => TSYMLINK,
            Request::Mknod { .. } => TMKNOD,
            Request::Rename { .. } => TRENAME,
            Request::Readlink { .. } => TREADLINK,
            Request::Getattr { .. } => TGETATTR,
            Request::Setattr { .. } => TSETATTR,
            Request::XattrWalk { .. } => TXATTRWALK,
            Request::XattrCreate { .. } => TXATTRCREATE,
            Request::Readdir { .. } => TREADDIR,
            Request::Fsync { .. } => TFSYNC,
            Request::Lock { .. } => TLOCK,
            Request::GetLock { .. } => TGETLOCK,
            Request::Link { .. } => TLINK,
            Request::Mkdir { .. } => TMKDIR,
            Request::Renameat { .. } => TRENAMEAT,
            Request::Unlinkat { .. } => TUNLINKAT,
        }
    }
}

/// A decoded reply (the client's side; used by tests and tools).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Lerror(u32),
    Version {
        msize: u32,
        version: Vec<u8>,
    },
    /// Rattach, Rmkdir, Rsymlink, Rmknod.
    Qid(Qid),
    Walk(Vec<Qid>),
    /// Rlopen, Rlcreate.
    Open {
        qid: Qid,
        iounit: u32,
    },
    /// Rread, Rreaddir (the raw data).
    Data(Vec<u8>),
    Write(u32),
    Readlink(Vec<u8>),
    Getattr {
        valid: u64,
        attr: super::fs::Attr,
    },
    Statfs(super::fs::StatFs),
    Lock(u8),
    GetLock {
        kind: u8,
        start: u64,
        length: u64,
        proc_id: u32,
        client_id: Vec<u8>,
    },
    /// Any reply without a body (Rclunk, Rflush, Rsetattr, ...): its type.
    Empty(u8),
}

impl Reply {
    /// Decodes a reply message into its tag and body.
    pub fn parse(bytes: &[u8]) -> Result<(u16, Reply), WireError> {
        let header = peek_header(bytes).ok_or(WireError::NoHeader { have: bytes.len() })?;
        let declared = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if declared as usize != bytes.len() {
            return Err(WireError::SizeMismatch {
                declared,
                actual: bytes.len(),
            });
        }
        let mut r = Reader::new(&bytes[HEADER_LEN..]);
        let k = header.kind;
        let reply = match k.wrapping_sub(1) {
            _ if k == msg::RLERROR => Reply::Lerror(r.u32()?),
            msg::TVERSION => Reply::Version {
                msize: r.u32()?,
                version: r.str()?.to_vec(),
            },
            msg::TATTACH | msg::TMKDIR | msg::TSYMLINK | msg::TMKNOD => Reply::Qid(r.qid()?),
            msg::TWALK => {
                let n = r.u16()?;
                let mut q = Vec::new();
                for _ in 0..n {
                    q.push(r.qid()?);
                }
                Reply::Walk(q)
            }
            msg::TLOPEN | msg::TLCREATE => Reply::Open {
                qid: r.qid()?,
                iounit: r.u32()?,
            },
            msg::TREAD | msg::TREADDIR => {
                let n = r.u32()?;
                Reply::Data(r.bytes(n as usize)?.to_vec())
            }
            msg::TWRITE => Reply::Write(r.u32()?),
            msg::TREADLINK => Reply::Readlink(r.str()?.to_vec()),
            msg::TGETATTR => {
                let valid = r.u64()?;
                let qid = r.qid()?;
                let mut a = super::fs::Attr {
                    qid,
                    mode: r.u32()?,
                    uid: r.u32()?,
                    gid: r.u32()?,
                    nlink: r.u64()?,
                    rdev: r.u64()?,
                    size: r.u64()?,
                    blksize: r.u64()?,
                    blocks: r.u64()?,
                    ..Default::default()
                };
                let mut t = || -> Result<super::fs::Timespec, WireError> {
                    Ok(super::fs::Timespec {
                        sec: r.u64()?,
                        nsec: r.u64()?,
                    })
                };
                a.atime = t()?;
                a.mtime = t()?;
                a.ctime = t()?;
                t()?;
                r.u64()?;
                r.u64()?;
                Reply::Getattr { valid, attr: a }
            }
            msg::TSTATFS => Reply::Statfs(super::fs::StatFs {
                fs_type: r.u32()?,
                bsize: r.u32()?,
                blocks: r.u64()?,
                bfree: r.u64()?,
                bavail: r.u64()?,
                files: r.u64()?,
                ffree: r.u64()?,
                fsid: r.u64()?,
                namelen: r.u32()?,
            }),
            msg::TLOCK => Reply::Lock(r.u8()?),
            msg::TGETLOCK => Reply::GetLock {
                kind: r.u8()?,
                start: r.u64()?,
                length: r.u64()?,
                proc_id: r.u32()?,
                client_id: r.str()?.to_vec(),
            },
            _ => Reply::Empty(k),
        };
        if r.remaining() != 0 {
            return Err(WireError::Trailing {
                kind: k,
                extra: r.remaining(),
            });
        }
        Ok((header.tag, reply))
    }
}

/// Decodes the entries of an Rreaddir's data: (qid, offset, type, name).
pub fn parse_dirents(data: &[u8]) -> Result<Vec<super::fs::DirEntry>, WireError> {
    let mut r = Reader::new(data);
    let mut out = Vec::new();
    while r.remaining() > 0 {
        out.push(super::fs::DirEntry {
            qid: r.qid()?,
            offset: r.u64()?,
            kind: r.u8()?,
            name: r.str()?.to_vec(),
        });
    }
    Ok(out)
}
