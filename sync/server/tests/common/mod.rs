//! Shared test helpers: an in-process server on 127.0.0.1:0 with a fake clock, a reqwest client
//! with the API's calls, raw HTTP for path tricks, and a SeaweedFS runner.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vfsync_server::store::embedded::EmbeddedStore;
use vfsync_server::store::Store;
use vfsync_server::{AppState, Config, ManualClock};

pub const T0: u64 = 1_700_000_000;

pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub state: Arc<AppState>,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Test defaults: no login delay, open registration.
pub fn test_config(dir: &Path) -> Config {
    let mut cfg = Config::new(dir.to_owned());
    cfg.allow_register = true;
    cfg.failed_login_delay = Duration::ZERO;
    cfg
}

impl TestServer {
    /// Starts a server on the embedded store in a fresh directory; `tweak` edits the config.
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        Self::start_with(dir, store, tweak).await
    }

    pub async fn start_with(
        dir: tempfile::TempDir,
        store: Arc<dyn Store>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut cfg = test_config(dir.path());
        tweak(&mut cfg);
        let clock = Arc::new(ManualClock::new(T0));
        let state = AppState::new(store, cfg, clock.clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(vfsync_server::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            base: format!("http://{addr}/api/v1"),
            clock,
            state,
            dir,
            http: reqwest::Client::new(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{path}: body is not JSON: {text:?}"))
        };
        (status, v)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }
    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, token, Some(body))
            .await
    }

    pub async fn put_bytes(&self, path: &str, token: &str, data: Vec<u8>) -> (u16, Value) {
        let resp = self
            .http
            .put(self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(data)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let v = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap_or(Value::Null);
        (status, v)
    }

    pub async fn get_bytes(&self, path: &str, token: &str) -> (u16, Vec<u8>) {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap().to_vec())
    }

    /// Registers `user` with a secret derived from `seed` (open registration).
    pub async fn register(&self, user: &str, seed: u8) {
        let (s, v) = self
            .post(&format!("/users/{user}"), None, register_body(seed, None))
            .await;
        assert_eq!(s, 201, "{v}");
    }

    pub async fn login(&self, user: &str, seed: u8) -> String {
        let (s, v) = self
            .post(
                &format!("/users/{user}/login"),
                None,
                json!({"login_secret": secret(seed)}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }

    /// Registers, logs in and creates repo `home`.
    pub async fn user_with_repo(&self, user: &str, seed: u8) -> String {
        self.register(user, seed).await;
        let t = self.login(user, seed).await;
        let (s, v) = self
            .put(
                &format!("/users/{user}/repos/home"),
                Some(&t),
                json!({"wrapped_key": b64(&[seed; 60])}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        t
    }
}

pub fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

pub fn secret(seed: u8) -> String {
    b64(&[seed; 32])
}

pub fn kdf(iterations: u64, salt_len: usize) -> Value {
    json!({"kdf": "pbkdf2-sha256", "iterations": iterations, "salt": b64(&vec![9u8; salt_len])})
}

pub fn register_body(seed: u8, invitation: Option<&str>) -> Value {
    let mut v = json!({"kdf": kdf(600_000, 16), "login_secret": secret(seed)});
    if let Some(i) = invitation {
        v["invitation"] = i.into();
    }
    v
}

pub fn blob_id(n: u32) -> String {
    format!("{:064x}", n as u128 * 0x1_0000_0001 + 7)
}

/// Sends raw bytes as an HTTP/1.1 request (for paths a URL library would normalise) and returns
/// the status and body.
pub async fn raw_request(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf))
        .await
        .expect("server answered")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_owned();
    (status, body)
}

mod seaweed;
#[allow(unused_imports)] // Only the S3 tests use them.
pub use seaweed::{Seaweed, S3_KEY, S3_SECRET};
