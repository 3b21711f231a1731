//! The HTTP client of docs/sync-api.md: the account endpoints and a repository as a [`Remote`].

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vfsync_core::{BlobId, HeadWrite, KdfParams, Remote, RemoteError, RevisionInfo, StoredHead};

/// A vfsync server, optionally logged in as one user.
#[derive(Clone)]
pub struct Api {
    client: Client,
    base: String,
    user: String,
    token: Option<String>,
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

impl Api {
    /// A client of the server at `base` (e.g. `http://127.0.0.1:8080`) for `user`.
    pub fn new(base: &str, user: &str) -> Result<Self, RemoteError> {
        let client = Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(300))
            .build()
            .map_err(|e| RemoteError::Protocol(e.to_string()))?;
        Ok(Api {
            client,
            base: base.trim_end_matches('/').to_owned(),
            user: user.to_owned(),
            token: None,
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/api/v1/users/{}{rest}", self.base, self.user)
    }

    fn req(&self, method: Method, rest: &str) -> RequestBuilder {
        let r = self.client.request(method, self.url(rest));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn send(&self, r: RequestBuilder) -> Result<Response, RemoteError> {
        r.send().await.map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            RemoteError::Unreachable(format!("{}: {msg}", self.base))
        })
    }

    /// Turns an unexpected status into the matching error.
    async fn fail(what: &str, resp: Response) -> RemoteError {
        let status = resp.status();
        let msg = resp
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| status.to_string());
        match status {
            StatusCode::NOT_FOUND => RemoteError::NotFound(format!("{what}: {msg}")),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RemoteError::Unauthorized(msg),
            StatusCode::PAYLOAD_TOO_LARGE => RemoteError::TooLarge(what.into()),
            StatusCode::INSUFFICIENT_STORAGE => RemoteError::QuotaExceeded,
            _ => RemoteError::Protocol(format!("{what}: {status}: {msg}")),
        }
    }

    async fn json(
        &self,
        what: &str,
        r: RequestBuilder,
        ok: &[StatusCode],
    ) -> Result<Value, RemoteError> {
        let resp = self.send(r).await?;
        if !ok.contains(&resp.status()) {
            return Err(Self::fail(what, resp).await);
        }
        resp.json::<Value>()
            .await
            .map_err(|e| RemoteError::Protocol(format!("{what}: {e}")))
    }

    /// `GET /health`.
    pub async fn health(&self) -> Result<(), RemoteError> {
        let r = self.client.get(format!("{}/api/v1/health", self.base));
        self.json("health", r, &[StatusCode::OK]).await.map(|_| ())
    }

    /// The user's kdf record; `Ok(None)` for an unknown user.
    pub async fn kdf(&self) -> Result<Option<KdfParams>, RemoteError> {
        let resp = self.send(self.req(Method::GET, "/kdf")).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if resp.status() != StatusCode::OK {
            return Err(Self::fail("kdf", resp).await);
        }
        let k: KdfJson = resp
            .json()
            .await
            .map_err(|e| RemoteError::Protocol(format!("kdf: {e}")))?;
        Ok(Some(KdfParams {
            kdf: k.kdf,
            iterations: k.iterations,
            salt: b64(&k.salt, "kdf")?,
        }))
    }

    /// Registers the user. Conflict (409) and closed registration (403) come back as
    /// `Protocol` / `Unauthorized` errors with the server's message.
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
            .send(self.client.post(self.url("")).json(&body))
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(()),
            StatusCode::CONFLICT => Err(RemoteError::Protocol(format!(
                "user {} already exists",
                self.user
            ))),
            _ => Err(Self::fail("register", resp).await),
        }
    }

    /// Logs in; `Unauthorized` for a wrong secret or unknown user.
    pub async fn login(&mut self, login_secret: &[u8]) -> Result<(), RemoteError> {
        let body = json!({"login_secret": B64.encode(login_secret)});
        let v = self
            .json(
                "login",
                self.client.post(self.url("/login")).json(&body),
                &[StatusCode::OK],
            )
            .await?;
        self.token = Some(str_field(&v, "token")?);
        Ok(())
    }

    /// Creates a repository with its wrapped key.
    pub async fn create_repo(&self, repo: &str, wrapped: &[u8]) -> Result<(), RemoteError> {
        let body = json!({"wrapped_key": B64.encode(wrapped)});
        self.json(
            "create repository",
            self.req(Method::PUT, &format!("/repos/{repo}")).json(&body),
            &[StatusCode::CREATED],
        )
        .await
        .map(|_| ())
    }

    /// A repository's wrapped key.
    pub async fn wrapped_key(&self, repo: &str) -> Result<Vec<u8>, RemoteError> {
        let v = self
            .json(
                &format!("repository {repo}"),
                self.req(Method::GET, &format!("/repos/{repo}")),
                &[StatusCode::OK],
            )
            .await?;
        b64(&str_field(&v, "wrapped_key")?, "wrapped_key")
    }

    /// The user's repositories.
    pub async fn repos(&self) -> Result<Vec<String>, RemoteError> {
        let v = self
            .json(
                "repositories",
                self.req(Method::GET, "/repos"),
                &[StatusCode::OK],
            )
            .await?;
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
        self.json(
            "password",
            self.req(Method::POST, "/password").json(&body),
            &[StatusCode::OK],
        )
        .await
        .map(|_| ())
    }

    /// One repository of this (logged-in) user as a [`Remote`].
    pub fn repo(&self, repo: &str) -> HttpRemote {
        HttpRemote {
            api: self.clone(),
            prefix: format!("/repos/{repo}"),
        }
    }
}

/// A repository on a vfsync server.
pub struct HttpRemote {
    api: Api,
    prefix: String,
}

impl HttpRemote {
    fn req(&self, m: Method, rest: &str) -> RequestBuilder {
        self.api.req(m, &format!("{}{rest}", self.prefix))
    }

    async fn head_like(&self, what: &str, rest: &str) -> Result<Option<StoredHead>, RemoteError> {
        let resp = self.api.send(self.req(Method::GET, rest)).await?;
        match resp.status() {
            StatusCode::OK => {
                let v: Value = resp
                    .json()
                    .await
                    .map_err(|e| RemoteError::Protocol(format!("{what}: {e}")))?;
                Ok(Some(StoredHead {
                    version: u64_field(&v, "version")?,
                    data: b64(&str_field(&v, "data")?, what)?,
                }))
            }
            StatusCode::NOT_FOUND => {
                let err = Api::fail(what, resp).await;
                // "no such repo" is an error; "no head" / "no such revision" is an absence.
                match &err {
                    RemoteError::NotFound(m) if m.contains("repo") => Err(err),
                    _ => Ok(None),
                }
            }
            _ => Err(Api::fail(what, resp).await),
        }
    }
}

impl Remote for HttpRemote {
    async fn get_head(&self) -> Result<Option<StoredHead>, RemoteError> {
        self.head_like("head", "/head").await
    }

    async fn put_head(&self, expected: u64, data: Vec<u8>) -> Result<HeadWrite, RemoteError> {
        let body = json!({"expected_version": expected, "data": B64.encode(&data)});
        let resp = self
            .api
            .send(self.req(Method::PUT, "/head").json(&body))
            .await?;
        match resp.status() {
            StatusCode::OK | StatusCode::PRECONDITION_FAILED => {
                let stale = resp.status() == StatusCode::PRECONDITION_FAILED;
                let v: Value = resp
                    .json()
                    .await
                    .map_err(|e| RemoteError::Protocol(format!("head: {e}")))?;
                let version = u64_field(&v, "version")?;
                Ok(if stale {
                    HeadWrite::Stale(version)
                } else {
                    HeadWrite::Written(version)
                })
            }
            _ => Err(Api::fail("head", resp).await),
        }
    }

    async fn get_blob(&self, id: &BlobId) -> Result<Vec<u8>, RemoteError> {
        let what = format!("blob {id}");
        let resp = self
            .api
            .send(self.req(Method::GET, &format!("/blobs/{id}")))
            .await?;
        if resp.status() != StatusCode::OK {
            return Err(Api::fail(&what, resp).await);
        }
        // A blob is at most 16 MiB + 4 KiB; refuse to buffer more.
        if resp
            .content_length()
            .is_some_and(|n| n > vfsync_core::crypto::MAX_STORED_BLOB as u64 + 1)
        {
            return Err(RemoteError::TooLarge(what));
        }
        Ok(resp
            .bytes()
            .await
            .map_err(|e| RemoteError::Unreachable(format!("{what}: {e}")))?
            .to_vec())
    }

    async fn put_blob(&self, id: &BlobId, data: Vec<u8>) -> Result<(), RemoteError> {
        let what = format!("blob {id}");
        let r = self
            .req(Method::PUT, &format!("/blobs/{id}"))
            .header("content-type", "application/octet-stream")
            .body(data);
        let resp = self.api.send(r).await?;
        match resp.status() {
            StatusCode::OK | StatusCode::CREATED => Ok(()),
            _ => Err(Api::fail(&what, resp).await),
        }
    }

    async fn missing_blobs(&self, ids: &[BlobId]) -> Result<Vec<BlobId>, RemoteError> {
        let body = json!({"ids": ids});
        let v = self
            .api
            .json(
                "missing blobs",
                self.req(Method::POST, "/blobs/missing").json(&body),
                &[StatusCode::OK],
            )
            .await?;
        serde_json::from_value(field(&v, "missing")?.clone())
            .map_err(|e| RemoteError::Protocol(format!("missing blobs: {e}")))
    }

    async fn revisions(&self) -> Result<Vec<RevisionInfo>, RemoteError> {
        let v = self
            .api
            .json(
                "revisions",
                self.req(Method::GET, "/revisions"),
                &[StatusCode::OK],
            )
            .await?;
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
