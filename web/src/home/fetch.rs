//! The browser's transport to the storage server: vfsync-core's HTTP client
//! ([`vfsync_core::Client`]) over `fetch`, through gloo-net (the worker's global `fetch`), and
//! the [`Connector`] that signs a user in with it.

use std::sync::Arc;

use gloo_net::http::{Method as FetchMethod, RequestBuilder};
use js_sys::Uint8Array;
use vfsync_core::client::{Method, Request, Response, SignInError};
use vfsync_core::{Client, HttpRemote, RemoteError, RepoKeys, Transport};
use vfsync_home::{Connector, HomeError, HOME_REPO};

/// Sends the client's requests with `fetch`. Any HTTP answer is `Ok` (the client reads the
/// status); no answer (refused, offline, CORS, cut short) is [`RemoteError::Unreachable`].
#[derive(Debug, Default, Clone, Copy)]
pub struct FetchTransport;

fn method(m: Method) -> FetchMethod {
    match m {
        Method::Get => FetchMethod::GET,
        Method::Put => FetchMethod::PUT,
        Method::Post => FetchMethod::POST,
    }
}

impl Transport for FetchTransport {
    async fn send(&self, req: Request) -> Result<Response, RemoteError> {
        let unreachable =
            |e: gloo_net::Error| RemoteError::Unreachable(format!("{}: {e}", req.url));
        let mut b = RequestBuilder::new(&req.url).method(method(req.method));
        for (name, value) in &req.headers {
            b = b.header(name, value);
        }
        let built = if req.body.is_empty() {
            b.build()
        } else {
            b.body(Uint8Array::from(req.body.as_slice()))
        };
        let r = built.map_err(|e| RemoteError::Protocol(format!("{}: {e}", req.url)))?;
        let resp = r.send().await.map_err(unreachable)?;
        let too_large = || RemoteError::TooLarge(format!("the answer to {}", req.url));
        if resp
            .headers()
            .get("content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > req.max_response as u64)
        {
            return Err(too_large());
        }
        let body = resp.binary().await.map_err(unreachable)?;
        if body.len() > req.max_response {
            return Err(too_large());
        }
        Ok(Response {
            status: resp.status(),
            body,
        })
    }
}

/// Signs users in on the storage server at a base URL: the kdf record, the password key
/// (PBKDF2, in the worker), the login, and the `home` repository's keys.
pub struct FetchConnector {
    server: String,
    transport: Arc<FetchTransport>,
}

impl FetchConnector {
    /// A connector for the server at `server` (its base URL).
    pub fn new(server: &str) -> Self {
        FetchConnector {
            server: server.to_owned(),
            #[allow(clippy::arc_with_non_send_sync)]
            transport: Arc::new(FetchTransport),
        }
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.server
    }
}

fn home_error(e: SignInError) -> HomeError {
    match e {
        SignInError::UnknownUser(u) => HomeError::UnknownUser(u),
        SignInError::WrongPassword => HomeError::WrongPassword,
        SignInError::NoRepo { user, repo } => HomeError::Sync(vfsync_core::Error::from(
            RemoteError::NotFound(format!("user {user} has no repository {repo}")),
        )),
        SignInError::Remote(r) => r.into(),
        SignInError::Core(c) => HomeError::Sync(c),
    }
}

impl Connector for FetchConnector {
    type Remote = HttpRemote<FetchTransport>;

    async fn connect(
        &self,
        user: &str,
        password: &[u8],
    ) -> Result<(Self::Remote, RepoKeys), HomeError> {
        let mut client = Client::shared(self.transport.clone(), &self.server, user);
        let (_, pk) = client.sign_in(password).await.map_err(home_error)?;
        client.open_repo(&pk, HOME_REPO).await.map_err(home_error)
    }
}
