//! The HTTP client of docs/sync-api.md, over any HTTP transport.
//!
//! One implementation, several hosts: the `vfsync` command and `vfvm` send requests with
//! [`ReqwestTransport`] (feature `reqwest`), the browser with its own `fetch` transport. All of
//! them implement the small [`Transport`] trait: one request (method, URL, headers, body) in,
//! one answer (status, body) out. Everything above it (JSON, base64, status codes, the
//! repository as a [`Remote`], signing in with a password) is here, once.
//!
//! ```text
//! Client::new(transport, "http://127.0.0.1:8080", "alice")
//!   .sign_in(password)            GET kdf, derive (PBKDF2), POST login
//!   .open_repo(&pk, "home")       GET wrapped key, unwrap → (HttpRemote, RepoKeys)
//! ```

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::crypto::{KdfParams, PasswordKey, RepoKeys, MAX_STORED_BLOB};
use crate::error::{Error, RemoteError};
use crate::id::BlobId;
use crate::remote::{HeadWrite, Remote, RevisionInfo, StoredHead};

/// Longest JSON answer accepted (a head of 1 MiB in base64, with room to spare).
pub const MAX_JSON_RESPONSE: usize = 4 << 20;
/// Longest blob answer accepted.
pub const MAX_BLOB_RESPONSE: usize = MAX_STORED_BLOB;

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `PUT`.
    Put,
    /// `POST`.
    Post,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
        }
    }
}

/// One HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The absolute URL (`http://host:port/api/v1/...`).
    pub url: String,
    /// Request headers, names in lower case: `authorization` and `content-type` only.
    pub headers: Vec<(&'static str, String)>,
    /// The body (empty for `GET`).
    pub body: Vec<u8>,
    /// The transport must refuse an answer whose body is longer than this
    /// ([`RemoteError::TooLarge`]) instead of buffering it.
    pub max_response: usize,
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The whole body.
    pub body: Vec<u8>,
}

/// Sends HTTP requests: the only thing a host provides to talk to a vfsync server.
///
/// `send` fails only when no HTTP answer arrived: [`RemoteError::Unreachable`] (connection
/// refused, DNS, TLS, timeout, a body cut short) or [`RemoteError::TooLarge`] (the body is longer
/// than [`Request::max_response`]). Any status code, 4xx and 5xx included, is an `Ok` answer:
/// the client interprets it. The future need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// Sends `req` and returns the answer.
    async fn send(&self, req: Request) -> Result<Response, RemoteError>;
}

impl<T: Transport + ?Sized> Transport for Arc<T> {
    async fn send(&self, req: Request) -> Result<Response, RemoteError> {
        (**self).send(req).await
    }
}

/// Why signing in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The server has no such user.
    #[error("unknown user {0}")]
    UnknownUser(String),
    /// The password is not the user's (the server refused the login secret, or the wrapped
    /// key did not open).
    #[error("wrong password")]
    WrongPassword,
    /// The user has no such repository.
    #[error("no repository {repo:?} for user {user:?}")]
    NoRepo {
        /// The user.
        user: String,
        /// The repository.
        repo: String,
    },
    /// The transport or the server failed.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// Key derivation or unwrapping failed for another reason.
    #[error(transparent)]
    Core(#[from] Error),
}

#[derive(Serialize, Deserialize)]
struct KdfJson {
    kdf: String,
    iterations: u32,
    salt: String,
}

impl KdfJson {
    fn from(p: &KdfParams) -> Self {
        KdfJson {
            kdf: p.kdf.clone(),
            iterations: p.iterations,
            salt: B64.encode(&p.salt),
        }
    }
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, RemoteError> {
    B64.decode(s)
        .map_err(|_| RemoteError::Protocol(format!("bad base64 in {what}")))
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, RemoteError> {
    v.get(name)
        .ok_or_else(|| RemoteError::Protocol(format!("answer without {name:?}")))
}

fn str_field(v: &Value, name: &str) -> Result<String, RemoteError> {
    field(v, name)?
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| RemoteError::Protocol(format!("{name:?} is not a string")))
}

fn u64_field(v: &Value, name: &str) -> Result<u64, RemoteError> {
    field(v, name)?
        .as_u64()
        .ok_or_else(|| RemoteError::Protocol(format!("{name:?} is not a number")))
}

fn parse_json(what: &str, body: &[u8]) -> Result<Value, RemoteError> {
    serde_json::from_slice(body).map_err(|e| RemoteError::Protocol(format!("{what}: {e}")))
}

/// The text of an HTTP status code, for messages.
fn status_text(status: u16) -> String {
    let reason = match status {
        400 => " Bad Request",
        401 => " Unauthorized",
        403 => " Forbidden",
        404 => " Not Found",
        405 => " Method Not Allowed",
        409 => " Conflict",
        412 => " Precondition Failed",
        413 => " Payload Too Large",
        429 => " Too Many Requests",
        500 => " Internal Server Error",
        502 => " Bad Gateway",
        503 => " Service Unavailable",
        507 => " Insufficient Storage",
        _ => "",
    };
    format!("{status}{reason}")
}

/// Turns an unexpected answer into the matching error.
fn fail(what: &str, resp: &Response) -> RemoteError {
    let msg = serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| status_text(resp.status));
    match resp.status {
        404 => RemoteError::NotFound(format!("{what}: {msg}")),
        401 | 403 => RemoteError::Unauthorized(msg),
        413 => RemoteError::TooLarge(what.into()),
        507 => RemoteError::QuotaExceeded,
        s => RemoteError::Protocol(format!("{what}: {}: {msg}", status_text(s))),
    }
}

/// A vfsync server, optionally logged in as one user. Cloning shares the transport.
pub struct Client<T> {
    transport: Arc<T>,
    base: String,
    user: String,
    token: Option<String>,
}

impl<T> Clone for Client<T> {
    fn clone(&self) -> Self {
        Client {
            transport: self.transport.clone(),
            base: self.base.clone(),
            user: self.user.clone(),
            token: self.token.clone(),
        }
    }
}

impl<T: Transport> Client<T> {
    /// A client of the server at `base` (e.g. `http://127.0.0.1:8080`, a trailing `/` is
    /// ignored) for `user`.
    pub fn new(transport: T, base: &str, user: &str) -> Self {
        Self::shared(Arc::new(transport), base, user)
    }

    /// Like [`Client::new`], with a transport shared with other clients.
    pub fn shared(transport: Arc<T>, base: &str, user: &str) -> Self {
        Client {
            transport,
            base: base.trim_end_matches('/').to_owned(),
            user: user.to_owned(),
            token: None,
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether [`Client::login`] succeeded.
    pub fn logged_in(&self) -> bool {
        self.token.is_some()
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/api/v1/users/{}{rest}", self.base, self.user)
    }

    fn request(&self, method: Method, url: String, body: Option<Value>) -> Request {
        let mut headers = Vec::new();
        if let Some(t) = &self.token {
            headers.push(("authorization", format!("Bearer {t}")));
        }
        let body = match body {
            Some(v) => {
                headers.push(("content-type", "application/json".to_owned()));
                v.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        Request {
            method,
            url,
            headers,
            body,
            max_response: MAX_JSON_RESPONSE,
        }
    }

    async fn send(&self, req: Request) -> Result<Response, RemoteError> {
        self.transport.send(req).await
    }

    /// Sends a JSON request and parses the answer if its status is one of `ok`.
    async fn json(&self, what: &str, req: Request, ok: &[u16]) -> Result<Value, RemoteError> {
        let resp = self.send(req).await?;
        if !ok.contains(&resp.status) {
            return Err(fail(what, &resp));
        }
        parse_json(what, &resp.body)
    }

    /// `GET /health`.
    pub async fn health(&self) -> Result<(), RemoteError> {
        let req = self.request(Method::Get, format!("{}/api/v1/health", self.base), None);
        self.json("health", req, &[200]).await.map(|_| ())
    }

    /// The user's kdf record; `Ok(None)` for an unknown user.
    pub async fn kdf(&self) -> Result<Option<KdfParams>, RemoteError> {
        let resp = self
            .send(self.request(Method::Get, self.url("/kdf"), None))
            .await?;
        match resp.status {
            404 => return Ok(None),
            200 => {}
            _ => return Err(fail("kdf", &resp)),
        }
        let k: KdfJson = serde_json::from_slice(&resp.body)
            .map_err(|e| RemoteError::Protocol(format!("kdf: {e}")))?;
        Ok(Some(KdfParams {
            kdf: k.kdf,
            iterations: k.iterations,
            salt: b64(&k.salt, "kdf")?,
        }))
    }

    /// Registers the user. A taken name and closed registration come back as `Protocol` /
    /// `Unauthorized` errors with the server's message.
    pub async fn register(
        &self,
        kdf: &KdfParams,
        login_secret: &[u8],
        invitation: Option<&str>,
    ) -> Result<(), RemoteError> {
        let mut body = json!({"kdf": KdfJson::from(kdf), "login_secret": B64.encode(login_secret)});
        if let Some(i) = invitation {
            body["invitation"] = json!(i);
        }
        let resp = self
            .send(self.request(Method::Post, self.url(""), Some(body)))
            .await?;
        match resp.status {
            201 => Ok(()),
            409 => Err(RemoteError::Protocol(format!(
                "user {} already exists",
                self.user
            ))),
            _ => Err(fail("register", &resp)),
        }
    }

    /// Logs in; `Unauthorized` for a wrong secret or unknown user.
    pub async fn login(&mut self, login_secret: &[u8]) -> Result<(), RemoteError> {
        let body = json!({"login_secret": B64.encode(login_secret)});
        let req = self.request(Method::Post, self.url("/login"), Some(body));
        let v = self.json("login", req, &[200]).await?;
        self.token = Some(str_field(&v, "token")?);
        Ok(())
    }

    /// Signs in with a password: fetches the kdf record, derives the password key (PBKDF2:
    /// this takes a noticeable moment) and logs in with its login secret. Returns the kdf
    /// record and the password key, which opens the user's repositories
    /// ([`Client::open_repo`]).
    pub async fn sign_in(
        &mut self,
        password: &[u8],
    ) -> Result<(KdfParams, PasswordKey), SignInError> {
        let kdf = self
            .kdf()
            .await?
            .ok_or_else(|| SignInError::UnknownUser(self.user.clone()))?;
        let pk = kdf.derive(password)?;
        match self.login(&pk.login_secret()).await {
            Err(RemoteError::Unauthorized(_)) => return Err(SignInError::WrongPassword),
            r => r?,
        }
        Ok((kdf, pk))
    }

    /// Opens repository `repo` of the logged-in user with the password key: its client and
    /// its keys.
    pub async fn open_repo(
        &self,
        pk: &PasswordKey,
        repo: &str,
    ) -> Result<(HttpRemote<T>, RepoKeys), SignInError> {
        let wrapped = match self.wrapped_key(repo).await {
            Err(RemoteError::NotFound(_)) => {
                return Err(SignInError::NoRepo {
                    user: self.user.clone(),
                    repo: repo.to_owned(),
                })
            }
            r => r?,
        };
        let mk = pk.unwrap(&wrapped, &self.user, repo).map_err(|e| match e {
            Error::WrongPassword => SignInError::WrongPassword,
            e => SignInError::Core(e),
        })?;
        Ok((self.repo(repo), mk.repo_keys(&self.user, repo)))
    }

    /// Creates a repository with its wrapped key.
    pub async fn create_repo(&self, repo: &str, wrapped: &[u8]) -> Result<(), RemoteError> {
        let body = json!({"wrapped_key": B64.encode(wrapped)});
        let req = self.request(Method::Put, self.url(&format!("/repos/{repo}")), Some(body));
        self.json("create repository", req, &[201])
            .await
            .map(|_| ())
    }

    /// A repository's wrapped key; `NotFound` if the repository does not exist.
    pub async fn wrapped_key(&self, repo: &str) -> Result<Vec<u8>, RemoteError> {
        let req = self.request(Method::Get, self.url(&format!("/repos/{repo}")), None);
        let v = self
            .json(&format!("repository {repo}"), req, &[200])
            .await?;
        b64(&str_field(&v, "wrapped_key")?, "wrapped_key")
    }

    /// The user's repositories.
    pub async fn repos(&self) -> Result<Vec<String>, RemoteError> {
        let req = self.request(Method::Get, self.url("/repos"), None);
        let v = self.json("repositories", req, &[200]).await?;
        serde_json::from_value(field(&v, "repos")?.clone())
            .map_err(|e| RemoteError::Protocol(e.to_string()))
    }

    /// Replaces the kdf record, login secret and wrapped keys in one transaction.
    pub async fn change_password(
        &self,
        kdf: &KdfParams,
        login_secret: &[u8],
        wrapped: &[(String, Vec<u8>)],
    ) -> Result<(), RemoteError> {
        let repos: serde_json::Map<String, Value> = wrapped
            .iter()
            .map(|(r, w)| (r.clone(), json!(B64.encode(w))))
            .collect();
        let body = json!({"kdf": KdfJson::from(kdf), "login_secret": B64.encode(login_secret), "repos": repos});
        let req = self.request(Method::Post, self.url("/password"), Some(body));
        self.json("password", req, &[200]).await.map(|_| ())
    }

    /// One repository of this (logged-in) user as a [`Remote`].
    pub fn repo(&self, repo: &str) -> HttpRemote<T> {
        HttpRemote {
            client: self.clone(),
            prefix: format!("/repos/{repo}"),
        }
    }
}

/// A repository on a vfsync server.
pub struct HttpRemote<T> {
    client: Client<T>,
    prefix: String,
}

impl<T> Clone for HttpRemote<T> {
    fn clone(&self) -> Self {
        HttpRemote {
            client: self.client.clone(),
            prefix: self.prefix.clone(),
        }
    }
}

impl<T: Transport> HttpRemote<T> {
    fn request(&self, method: Method, rest: &str, body: Option<Value>) -> Request {
        let url = self.client.url(&format!("{}{rest}", self.prefix));
        self.client.request(method, url, body)
    }

    async fn head_like(&self, what: &str, rest: &str) -> Result<Option<StoredHead>, RemoteError> {
        let resp = self
            .client
            .send(self.request(Method::Get, rest, None))
            .await?;
        match resp.status {
            200 => {
                let v = parse_json(what, &resp.body)?;
                Ok(Some(StoredHead {
                    version: u64_field(&v, "version")?,
                    data: b64(&str_field(&v, "data")?, what)?,
                }))
            }
            404 => {
                let err = fail(what, &resp);
                // "no such repo" is an error; "no head" / "no such revision" is an absence.
                match &err {
                    RemoteError::NotFound(m) if m.contains("repo") => Err(err),
                    _ => Ok(None),
                }
            }
            _ => Err(fail(what, &resp)),
        }
    }
}

impl<T: Transport> Remote for HttpRemote<T> {
    async fn get_head(&self) -> Result<Option<StoredHead>, RemoteError> {
        self.head_like("head", "/head").await
    }

    async fn put_head(&self, expected: u64, data: Vec<u8>) -> Result<HeadWrite, RemoteError> {
        let body = json!({"expected_version": expected, "data": B64.encode(&data)});
        let resp = self
            .client
            .send(self.request(Method::Put, "/head", Some(body)))
            .await?;
        match resp.status {
            200 | 412 => {
                let v = parse_json("head", &resp.body)?;
                let version = u64_field(&v, "version")?;
                Ok(if resp.status == 412 {
                    HeadWrite::Stale(version)
                } else {
                    HeadWrite::Written(version)
                })
            }
            _ => Err(fail("head", &resp)),
        }
    }

    async fn get_blob(&self, id: &BlobId) -> Result<Vec<u8>, RemoteError> {
        let what = format!("blob {id}");
        let mut req = self.request(Method::Get, &format!("/blobs/{id}"), None);
        req.max_response = MAX_BLOB_RESPONSE;
        let resp = self.client.send(req).await?;
        if resp.status != 200 {
            return Err(fail(&what, &resp));
        }
        Ok(resp.body)
    }

    async fn put_blob(&self, id: &BlobId, data: Vec<u8>) -> Result<(), RemoteError> {
        let what = format!("blob {id}");
        let mut req = self.request(Method::Put, &format!("/blobs/{id}"), None);
        req.headers
            .push(("content-type", "application/octet-stream".to_owned()));
        req.body = data;
        let resp = self.client.send(req).await?;
        match resp.status {
            200 | 201 => Ok(()),
            _ => Err(fail(&what, &resp)),
        }
    }

    async fn missing_blobs(&self, ids: &[BlobId]) -> Result<Vec<BlobId>, RemoteError> {
        let body = json!({"ids": ids});
        let req = self.request(Method::Post, "/blobs/missing", Some(body));
        let v = self.client.json("missing blobs", req, &[200]).await?;
        serde_json::from_value(field(&v, "missing")?.clone())
            .map_err(|e| RemoteError::Protocol(format!("missing blobs: {e}")))
    }

    async fn revisions(&self) -> Result<Vec<RevisionInfo>, RemoteError> {
        let req = self.request(Method::Get, "/revisions", None);
        let v = self.client.json("revisions", req, &[200]).await?;
        let list = field(&v, "revisions")?
            .as_array()
            .ok_or_else(|| RemoteError::Protocol("revisions is not a list".into()))?;
        list.iter()
            .map(|r| {
                Ok(RevisionInfo {
                    version: u64_field(r, "version")?,
                    time: u64_field(r, "time")?,
                    size: u64_field(r, "size")?,
                })
            })
            .collect()
    }

    async fn get_revision(&self, version: u64) -> Result<Option<StoredHead>, RemoteError> {
        self.head_like("revision", &format!("/revisions/{version}"))
            .await
    }
}

#[cfg(feature = "reqwest")]
pub use native::ReqwestTransport;

#[cfg(feature = "reqwest")]
mod native {
    use std::time::Duration;

    use super::{Method, Request, Response, Transport};
    use crate::error::RemoteError;

    /// The native [`Transport`]: reqwest (rustls) on a tokio runtime.
    ///
    /// [`ReqwestTransport::new`] sends on the runtime of whoever polls the future (the `vfsync`
    /// command). [`ReqwestTransport::on_runtime`] spawns every request on the given runtime and
    /// awaits its result, so the future can be polled by any executor on any thread (`vfvm`
    /// polls the home's jobs on the emulator's thread, which runs no tokio).
    #[derive(Clone)]
    pub struct ReqwestTransport {
        client: reqwest::Client,
        runtime: Option<tokio::runtime::Handle>,
    }

    impl ReqwestTransport {
        /// Connect timeout 10 s, whole-request timeout 300 s.
        pub fn new() -> Result<Self, RemoteError> {
            let client = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(300))
                .build()
                .map_err(|e| RemoteError::Protocol(format!("HTTP client: {e}")))?;
            Ok(ReqwestTransport {
                client,
                runtime: None,
            })
        }

        /// Like [`ReqwestTransport::new`], running the requests on `runtime`.
        pub fn on_runtime(runtime: tokio::runtime::Handle) -> Result<Self, RemoteError> {
            let mut t = Self::new()?;
            t.runtime = Some(runtime);
            Ok(t)
        }
    }

    /// An error with its chain of causes, on one line.
    fn chain(e: &dyn std::error::Error) -> String {
        let mut msg = e.to_string();
        let mut src = e.source();
        while let Some(s) = src {
            let m = s.to_string();
            if !msg.contains(&m) {
                msg = format!("{msg}: {m}");
            }
            src = s.source();
        }
        msg
    }

    async fn send(client: reqwest::Client, req: Request) -> Result<Response, RemoteError> {
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Put => reqwest::Method::PUT,
            Method::Post => reqwest::Method::POST,
        };
        let url = req.url;
        let mut r = client.request(method, &url);
        for (name, value) in req.headers {
            r = r.header(name, value);
        }
        if !req.body.is_empty() {
            r = r.body(req.body);
        }
        let mut resp = r
            .send()
            .await
            .map_err(|e| RemoteError::Unreachable(chain(&e)))?;
        let status = resp.status().as_u16();
        let max = req.max_response;
        if resp.content_length().is_some_and(|n| n > max as u64) {
            return Err(RemoteError::TooLarge(format!("the answer to {url}")));
        }
        let mut body = Vec::new();
        while let Some(c) = resp
            .chunk()
            .await
            .map_err(|e| RemoteError::Unreachable(chain(&e)))?
        {
            if body.len() + c.len() > max {
                return Err(RemoteError::TooLarge(format!("the answer to {url}")));
            }
            body.extend_from_slice(&c);
        }
        Ok(Response { status, body })
    }

    impl Transport for ReqwestTransport {
        async fn send(&self, req: Request) -> Result<Response, RemoteError> {
            match &self.runtime {
                None => send(self.client.clone(), req).await,
                Some(rt) => rt
                    .spawn(send(self.client.clone(), req))
                    .await
                    .map_err(|e| RemoteError::Unreachable(format!("HTTP task: {e}")))?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use futures_executor::block_on;

    use super::*;
    use crate::crypto::MasterKey;

    /// A transport that records requests and plays back canned answers.
    #[derive(Default)]
    struct Canned {
        sent: RefCell<Vec<Request>>,
        answers: RefCell<VecDeque<Result<Response, RemoteError>>>,
    }

    impl Canned {
        fn answer(&self, status: u16, body: &str) {
            self.answers.borrow_mut().push_back(Ok(Response {
                status,
                body: body.as_bytes().to_vec(),
            }));
        }
    }

    impl Transport for Canned {
        async fn send(&self, req: Request) -> Result<Response, RemoteError> {
            self.sent.borrow_mut().push(req);
            self.answers
                .borrow_mut()
                .pop_front()
                .unwrap_or_else(|| Err(RemoteError::Unreachable("no answer queued".into())))
        }
    }

    fn client() -> Client<Canned> {
        Client::new(Canned::default(), "http://h:1/", "alice")
    }

    #[test]
    fn requests_follow_the_api() {
        let mut c = client();
        c.transport.answer(200, r#"{"token":"tok","expires_in":9}"#);
        block_on(c.login(&[7; 32])).unwrap();
        assert!(c.logged_in());
        c.transport.answer(200, r#"{"version":3,"data":"AAEC"}"#);
        let r = c.repo("home");
        let h = block_on(r.get_head()).unwrap().unwrap();
        assert_eq!(
            h,
            StoredHead {
                version: 3,
                data: vec![0, 1, 2]
            }
        );
        c.transport
            .answer(412, r#"{"error":"stale head","version":5}"#);
        assert_eq!(
            block_on(r.put_head(3, vec![9])).unwrap(),
            HeadWrite::Stale(5)
        );
        let sent = c.transport.sent.borrow();
        assert_eq!(sent[0].method, Method::Post);
        assert_eq!(sent[0].url, "http://h:1/api/v1/users/alice/login");
        assert!(sent[0].headers.iter().all(|(n, _)| *n != "authorization"));
        assert_eq!(sent[1].url, "http://h:1/api/v1/users/alice/repos/home/head");
        assert!(sent[1]
            .headers
            .contains(&("authorization", "Bearer tok".to_owned())));
        let body: Value = serde_json::from_slice(&sent[2].body).unwrap();
        assert_eq!(body, json!({"expected_version": 3, "data": "CQ=="}));
    }

    #[test]
    fn statuses_map_to_errors() {
        let c = client();
        let r = c.repo("home");
        c.transport.answer(404, r#"{"error":"no head"}"#);
        assert_eq!(block_on(r.get_head()).unwrap(), None);
        c.transport.answer(404, r#"{"error":"no such repo"}"#);
        assert!(matches!(
            block_on(r.get_head()),
            Err(RemoteError::NotFound(_))
        ));
        c.transport
            .answer(401, r#"{"error":"invalid or expired token"}"#);
        assert!(matches!(
            block_on(r.revisions()),
            Err(RemoteError::Unauthorized(_))
        ));
        c.transport.answer(507, r#"{"error":"quota exceeded"}"#);
        let id = BlobId([1; 32]);
        assert_eq!(
            block_on(r.put_blob(&id, vec![1])),
            Err(RemoteError::QuotaExceeded)
        );
        c.transport.answer(500, "not json");
        let e = block_on(r.missing_blobs(&[id])).unwrap_err();
        assert_eq!(
            e,
            RemoteError::Protocol(
                "missing blobs: 500 Internal Server Error: 500 Internal Server Error".into()
            )
        );
        c.transport.answer(200, r#"{"version":"x","data":"AA=="}"#);
        assert!(matches!(
            block_on(r.get_head()),
            Err(RemoteError::Protocol(_))
        ));
        c.transport.answer(200, r#"{"version":1,"data":"@@"}"#);
        assert!(matches!(
            block_on(r.get_head()),
            Err(RemoteError::Protocol(_))
        ));
        assert!(matches!(
            block_on(c.health()),
            Err(RemoteError::Unreachable(_))
        ));
        let sent = c.transport.sent.borrow();
        assert_eq!(sent[4].max_response, MAX_JSON_RESPONSE);
    }

    #[test]
    fn sign_in_tells_unknown_user_and_wrong_password_apart() {
        let kdf = KdfParams::generate(1000, true).unwrap();
        let kdf_json = serde_json::to_string(&KdfJson::from(&kdf)).unwrap();
        let pk = kdf.derive(b"right").unwrap();
        let mk = MasterKey::generate().unwrap();
        let wrapped = B64.encode(pk.wrap(&mk, "alice", "home").unwrap());

        let mut c = client();
        c.transport.answer(404, r#"{"error":"no such user"}"#);
        assert!(matches!(
            block_on(c.sign_in(b"right")),
            Err(SignInError::UnknownUser(u)) if u == "alice"
        ));
        c.transport.answer(200, &kdf_json);
        c.transport
            .answer(401, r#"{"error":"wrong user name or login secret"}"#);
        assert!(matches!(
            block_on(c.sign_in(b"wrong")),
            Err(SignInError::WrongPassword)
        ));
        c.transport.answer(200, &kdf_json);
        c.transport.answer(200, r#"{"token":"t","expires_in":9}"#);
        let (_, pk2) = block_on(c.sign_in(b"right")).unwrap();
        // The login secret sent is the password key's, never the password.
        let sent = c.transport.sent.borrow().last().unwrap().clone();
        let body: Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(body["login_secret"], B64.encode(pk.login_secret()));
        assert!(!String::from_utf8_lossy(&sent.body).contains("right"));

        c.transport.answer(404, r#"{"error":"no such repo"}"#);
        assert!(matches!(
            block_on(c.open_repo(&pk2, "home")),
            Err(SignInError::NoRepo { .. })
        ));
        c.transport
            .answer(200, &format!(r#"{{"wrapped_key":"{wrapped}"}}"#));
        let (_, keys) = block_on(c.open_repo(&pk2, "home")).unwrap();
        assert_eq!(keys.repo(), "home");
        let other = KdfParams::generate(1000, true)
            .unwrap()
            .derive(b"x")
            .unwrap();
        c.transport
            .answer(200, &format!(r#"{{"wrapped_key":"{wrapped}"}}"#));
        assert!(matches!(
            block_on(c.open_repo(&other, "home")),
            Err(SignInError::WrongPassword)
        ));
    }
}
