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
//!   exactly one [`Completion`] with that token from a later [`Server::poll`];
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
//! # Supported messages
//!
//! Tversion, Tattach, Twalk, Tlopen, Tlcreate, Tread, Twrite, Tclunk,
//! Tremove, Tflush, Tgetattr, Tsetattr, Treaddir, Tmkdir, Tsymlink, Tmknod,
//! Tlink, Trename, Trenameat, Tunlinkat, Treadlink, Tstatfs, Tfsync, Tlock,
//! Tgetlock. Txattrwalk/Txattrcreate and Tauth get `Rlerror(EOPNOTSUPP)`, as
//! does any unknown type. Locks are advisory and per client: Tlock always
//! succeeds and Tgetlock reports the range unlocked (the guest kernel
//! arbitrates between its own processes).

mod fs;
mod memfs;
mod server;
pub mod testing;
pub mod wire;

pub use fs::{
    dtype_for_mode, mode, open_flags, qid_type, Attr, DirEntry, Errno, FileSystem, FsError,
    FsResult, Owner, Qid, SetAttr, SetTime, StatFs, Timespec, AT_REMOVEDIR,
};
pub use memfs::MemFs;
pub use server::{Completion, Config, Handled, Server};
