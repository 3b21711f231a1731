//! The browser's transport to the storage server: vfsync-core's HTTP client
//! ([`vfsync_core::Client`]) over `fetch`, through gloo-net (the worker's global `fetch`).
//! The home signs users in with it through [`vfsync_home::HttpConnector`]
//! ([`connector`]).

use gloo_net::http::{Method as FetchMethod, RequestBuilder};
use js_sys::Uint8Array;
use vfsync_core::client::{Method, Request, Response};
use vfsync_core::{RemoteError, Transport};
use vfsync_home::HttpConnector;

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

/// Signs users in on the storage server at `server` (its base URL) over `fetch`: the kdf
/// record, the password key (PBKDF2, in the worker), the login, the `home` repository's keys.
pub fn connector(server: &str) -> HttpConnector<FetchTransport> {
    HttpConnector::new(FetchTransport, server)
}
