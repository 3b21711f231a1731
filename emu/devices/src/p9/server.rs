//! The 9P2000.L server: fid table, request dispatch, parked requests.

use super::fs::FileSystem;

/// Limits of a [`Server`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The largest msize the server accepts in Tversion (the client may ask
    /// for less). At least 4096.
    pub max_msize: u32,
    /// The most fids a client may hold at once.
    pub max_fids: usize,
    /// The most requests that may be parked at once; beyond it a deferred
    /// request fails with `EAGAIN`.
    pub max_pending: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_msize: 512 * 1024,
            max_fids: 4096,
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

/// A 9P2000.L server over the backend `F`.
pub struct Server<F: FileSystem> {
    fs: F,
    config: Config,
}

impl<F: FileSystem> Server<F> {
    /// A server over `fs` (before Tversion; any other message before it is
    /// refused).
    pub fn new(fs: F, config: Config) -> Self {
        Server { fs, config }
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

    /// Handles one request message (the whole message, size field included).
    pub fn handle(&mut self, token: u64, request: &[u8]) -> Handled {
        let _ = (token, request);
        Handled::Pending
    }

    /// Retries parked requests and returns those that finished (or were
    /// flushed), in arrival order.
    pub fn poll(&mut self) -> Vec<Completion> {
        Vec::new()
    }

    /// How many requests are parked.
    pub fn pending(&self) -> usize {
        0
    }
}
