//! A 9P2000.L file server: the protocol half of the virtio-9p device.
//!
//! The server turns request messages (whole 9P messages: `size[4] type[1]
//! tag[2] ...`, little-endian) into reply messages. It is generic over a
//! [`FileSystem`] backend ([`MemFs`] in memory; `vf_host::p9fs` for a host
//! directory) and has no I/O of its own.
//!
//! # Using it (the transport's side)
//!
//! ```
//! use vf_devices::p9::{Config, Handled, MemFs, Server};
//! let mut server = Server::new(MemFs::new(), Config::default());
//! // For each request taken from the virtqueue, with a token of the
//! // transport's choosing (e.g. the descriptor head index):
//! let tversion = [19, 0, 0, 0, 100, 0xff, 0xff, 0x00, 0x20, 0, 0,
//!                 8, 0, b'9', b'P', b'2', b'0', b'0', b'0'];
//! match server.handle(7, &tversion) {
//!     Handled::Reply(bytes) => { /* write bytes to the chain, push it used */ }
//!     Handled::Pending => { /* keep chain 7; it completes in poll() */ }
//! }
//! // Later (e.g. when the backend signals progress, or every device tick):
//! for done in server.poll() {
//!     // done.token: the chain; done.reply: Some(bytes) to write, or None
//!     // if the request was flushed (return the chain with 0 bytes written).
//! }
//! ```
//!
//! Rules the transport can rely on:
//! - every `handle(token, ..)` that answers [`Handled::Pending`] yields
//!   exactly one [`Completion`] with that token from a later [`Server::poll`]
//!   (unless [`Server::reset`] is called first: a device reset drops parked
//!   requests without completions, since their buffers belong to the old
//!   queue);
//! - `poll` does the backend work of parked requests, so the transport calls
//!   it whenever [`Server::pending`] is non-zero and it gets a chance (each
//!   device tick, or when the backend reports progress);
//! - a reply is never longer than the negotiated msize (at most
//!   [`Config::max_msize`]);
//! - malformed input never panics: it gets an `Rlerror` (or, when not even a
//!   tag can be read, an `Rlerror` with tag `NOTAG`).
//!
//! # Deferred requests and Tflush
//!
//! When the backend answers [`FsError::Pending`] the request is parked;
//! [`Server::poll`] retries parked requests in arrival order, and other
//! requests are served meanwhile. `Tflush(oldtag)` of a parked request drops
//! it (its completion carries `reply: None`) and is answered at once; since
//! the flushed request never gets a reply, Rflush trivially follows it.
//! `Tflush` of a tag that is not parked is answered at once too (the
//! request was already answered).
//!
//! # Backends
//!
//! [`FileSystem`] is the backend interface: node handles and open-file
//! handles, no host paths, every operation may answer [`FsError::Pending`]
//! (see its docs for the retry contract). [`MemFs`] is the in-memory
//! backend; [`testing`] has a client [`testing::Session`], a backend wrapper
//! that defers operations ([`testing::Deferring`]), the protocol
//! conformance suite ([`testing::conformance`]) and a randomized message
//! harness ([`testing::fuzz`]) that any backend can be run through.
//!
//! # Supported messages
//!
//! Tversion, Tattach, Twalk, Tlopen, Tlcreate, Tread, Twrite, Tclunk,
//! Tremove, Tflush, Tgetattr, Tsetattr, Treaddir, Tmkdir, Tsymlink, Tmknod,
//! Tlink, Trename, Trenameat, Tunlinkat, Treadlink, Tstatfs, Tfsync, Tlock,
//! Tgetlock. There are no extended attributes: Txattrwalk of a named
//! attribute gets `ENODATA`, listing them (an empty name) and Txattrcreate
//! get `EOPNOTSUPP` (Linux's v9fs treats both as "no xattrs/ACLs"). Tauth
//! and any unknown type get `EOPNOTSUPP`. Locks are advisory and per client:
//! Tlock always succeeds and Tgetlock reports the range unlocked (the guest
//! kernel arbitrates between its own processes).
//!
//! # Session rules and errors
//!
//! - Tversion comes first (anything else before it gets `EPROTO`); it
//!   negotiates msize (at least 4096, at most [`Config::max_msize`]) and
//!   starts a new session: all fids are clunked and parked requests are
//!   aborted (completions with `reply: None`). A version other than
//!   `9P2000.L*` is answered `unknown`.
//! - A message that does not parse (short, size field wrong, longer than
//!   msize, truncated field, trailing bytes, more than 16 walk names, Twrite
//!   count not matching its data) gets `EINVAL`; a tag still in use by a
//!   parked request gets `EINVAL`; a full parking lot gets `EAGAIN`.
//! - Fids: an unknown fid, a `newfid` in use, walking/creating from an open
//!   fid or doing I/O on an unopened one get `EBADF`; the table is capped
//!   at [`Config::max_fids`] (`ENFILE`).
//! - Names in Tlcreate/Tmkdir/Tsymlink/Tmknod/Tlink/Trename(at)/Tunlinkat
//!   must be one component: not empty, no `/` or NUL, not `.` or `..`
//!   (`EINVAL`), at most 255 bytes (`ENAMETOOLONG`). Twalk allows `.` and
//!   `..`; `..` of the root is the root. A walk whose first name fails is an
//!   error; a later failure answers the qids found so far and leaves
//!   `newfid` unused.
//! - Tread and Treaddir counts are clamped to msize minus the 11-byte reply
//!   header; Treaddir offsets are the backend's cookies.
//! - Backend failures are answered with the backend's Linux errno.

mod fs;
mod memfs;
mod server;
pub mod testing;
pub mod wire;

pub use fs::{
    dtype_for_mode, mode, open_flags, qid_type, Attr, DirEntry, Errno, FileSystem, FsError,
    FsResult, Owner, Qid, SetAttr, SetTime, StatFs, Timespec, AT_REMOVEDIR,
};
pub use memfs::{MemFile, MemFs};
pub use server::{Completion, Config, Handled, Server};
