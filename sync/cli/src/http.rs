//! The `vfsync` command's server client: vfsync-core's HTTP client of docs/sync-api.md
//! ([`vfsync_core::Client`]) over the native reqwest transport.

use std::ops::{Deref, DerefMut};

use vfsync_core::client::ReqwestTransport;
use vfsync_core::{Client, RemoteError};

/// A repository on a vfsync server.
pub type HttpRemote = vfsync_core::HttpRemote<ReqwestTransport>;

/// A vfsync server, optionally logged in as one user (every method of [`Client`]).
#[derive(Clone)]
pub struct Api(Client<ReqwestTransport>);

impl Api {
    /// A client of the server at `base` (e.g. `http://127.0.0.1:8080`) for `user`, sending
    /// on the command's tokio runtime.
    pub fn new(base: &str, user: &str) -> Result<Self, RemoteError> {
        Ok(Api(Client::new(ReqwestTransport::new()?, base, user)))
    }
}

impl Deref for Api {
    type Target = Client<ReqwestTransport>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Api {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}
