//! The HTTP API (docs/sync-api.md) end to end: a real server on 127.0.0.1:0 driven with reqwest.

mod common;

use common::{b64, blob_id, kdf, raw_request, register_body, secret, TestServer, T0};
use serde_json::json;

#[tokio::test]
async fn health_and_unknown_routes() {
    let s = TestServer::start(|_| {}).await;
    let (st, v) = s.get("/health", None).await;
    assert_eq!(st, 200);
    assert_eq!(v["ok"], true);
    assert_eq!(v["version"], vfsync_server::VERSION);
    let (st, v) = s.get("/nope", None).await;
    assert_eq!((st, v["error"].as_str()), (404, Some("not found")));
    let (st, v) = s.call(reqwest::Method::DELETE, "/health", None, None).await;
    assert_eq!((st, v["error"].as_str()), (405, Some("method not allowed")));
    // Outside /api/v1 without --web: JSON 404 too.
    let resp = s
        .http
        .get(format!("http://{}/index.html", s.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.text().await.unwrap().contains("\"error\""));
    s.stop().await;
}

#[tokio::test]
async fn register_open_and_login() {
    let s = TestServer::start(|_| {}).await;
    let (st, _) = s.get("/users/alice/kdf", None).await;
    assert_eq!(st, 404);
    s.register("alice", 1).await;
    let (st, v) = s.post("/users/alice", None, register_body(2, None)).await;
    assert_eq!((st, v["error"].as_str()), (409, Some("user exists")));
    let (st, v) = s.get("/users/alice/kdf", None).await;
    assert_eq!(st, 200);
    assert_eq!(v, kdf(600_000, 16));

    let t = s.login("alice", 1).await;
    assert_eq!(t.len(), 43);
    let (st, v) = s
        .post(
            "/users/alice/login",
            None,
            json!({"login_secret": secret(2)}),
        )
        .await;
    assert_eq!(st, 401);
    let (st2, v2) = s
        .post(
            "/users/nobody/login",
            None,
            json!({"login_secret": secret(2)}),
        )
        .await;
    assert_eq!(st2, 401);
    assert_eq!(v, v2, "unknown user and wrong secret look the same");
    let (st, v) = s.get("/users/alice/repos", Some(&t)).await;
    assert_eq!((st, v), (200, json!({"repos": []})));
    let (st, v) = s.post("/users/alice/login", None, json!({})).await;
    assert_eq!(st, 400, "{v}");
    s.stop().await;
}

#[tokio::test]
async fn register_validation() {
    let s = TestServer::start(|_| {}).await;
    let bad = [
        json!({"kdf": kdf(599_999, 16), "login_secret": secret(1)}),
        json!({"kdf": kdf(600_000, 15), "login_secret": secret(1)}),
        json!({"kdf": kdf(600_000, 65), "login_secret": secret(1)}),
        json!({"kdf": {"kdf": "scrypt", "iterations": 600000, "salt": b64(&[1; 16])}, "login_secret": secret(1)}),
        json!({"kdf": kdf(600_000, 16), "login_secret": b64(&[1; 31])}),
        json!({"kdf": kdf(600_000, 16), "login_secret": b64(&[1; 33])}),
        json!({"kdf": kdf(600_000, 16), "login_secret": "not base64!"}),
        json!({"kdf": kdf(600_000, 16), "login_secret": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"}),
        json!({"kdf": {"kdf": "pbkdf2-sha256", "iterations": -1, "salt": b64(&[1; 16])}, "login_secret": secret(1)}),
        json!({"login_secret": secret(1)}),
        json!([1, 2]),
    ];
    for b in bad {
        let (st, v) = s.post("/users/alice", None, b.clone()).await;
        assert_eq!(st, 400, "{b} -> {v}");
        assert!(v["error"].is_string());
    }
    let resp = s
        .http
        .post(s.url("/users/alice"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.json::<serde_json::Value>().await.unwrap()["error"].is_string());
    let (st, _) = s.get("/users/alice/kdf", None).await;
    assert_eq!(st, 404, "nothing was registered");
    s.stop().await;
}

#[tokio::test]
async fn register_closed_and_invitations() {
    let s = TestServer::start(|c| c.allow_register = false).await;
    let (st, v) = s.post("/users/alice", None, register_body(1, None)).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (403, Some("registration closed"))
    );
    let (st, _) = s
        .post("/users/alice", None, register_body(1, Some("bogus")))
        .await;
    assert_eq!(st, 403);

    let code = s.state.invitations.create(T0).unwrap();
    let (st, v) = s
        .post("/users/alice", None, register_body(1, Some(&code)))
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, _) = s
        .post("/users/bob", None, register_body(1, Some(&code)))
        .await;
    assert_eq!(st, 403, "single use");

    // A taken name does not use up an invitation.
    let code = s.state.invitations.create(T0).unwrap();
    let (st, _) = s
        .post("/users/alice", None, register_body(1, Some(&code)))
        .await;
    assert_eq!(st, 409);
    let (st, _) = s
        .post("/users/bob", None, register_body(1, Some(&code)))
        .await;
    assert_eq!(st, 201);

    // Invitations expire.
    let code = s.state.invitations.create(T0).unwrap();
    s.clock.advance(7 * 86_400);
    let (st, _) = s
        .post("/users/carol", None, register_body(1, Some(&code)))
        .await;
    assert_eq!(st, 403);
    s.login("alice", 1).await;
    s.stop().await;
}

#[tokio::test]
async fn invite_command_works_beside_a_running_server() {
    let s = TestServer::start(|c| c.allow_register = false).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vfsync-server"))
        .arg("--data")
        .arg(s.dir.path())
        .arg("invite")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(code.len() >= 20, "{code:?}");
    // The command used the real clock; put the fake one there too.
    s.clock.set(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    let (st, v) = s
        .post("/users/dave", None, register_body(1, Some(&code)))
        .await;
    assert_eq!(st, 201, "{v}");
    s.stop().await;
}

#[tokio::test]
async fn failed_logins_are_throttled() {
    let s = TestServer::start(|c| {
        c.max_failed_logins = 3;
        c.failed_login_window_secs = 60;
    })
    .await;
    s.register("alice", 1).await;
    for _ in 0..3 {
        let (st, _) = s
            .post(
                "/users/alice/login",
                None,
                json!({"login_secret": secret(9)}),
            )
            .await;
        assert_eq!(st, 401);
    }
    let resp = s
        .http
        .post(s.url("/users/alice/login"))
        .json(&json!({"login_secret": secret(1)}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429, "even the right secret waits");
    assert_eq!(resp.headers()["retry-after"], "60");
    s.clock.advance(60);
    s.login("alice", 1).await;
    s.stop().await;
}

#[tokio::test]
async fn key_material_and_repos() {
    let s = TestServer::start(|c| c.max_repos = 2).await;
    s.register("alice", 1).await;
    let t = s.login("alice", 1).await;
    let (st, _) = s.get("/users/alice/repos/home", Some(&t)).await;
    assert_eq!(st, 404);
    let (st, _) = s
        .put(
            "/users/alice/repos/home",
            Some(&t),
            json!({"wrapped_key": b64(b"wrapped")}),
        )
        .await;
    assert_eq!(st, 201);
    let (st, v) = s
        .put(
            "/users/alice/repos/home",
            Some(&t),
            json!({"wrapped_key": b64(b"other")}),
        )
        .await;
    assert_eq!((st, v["error"].as_str()), (409, Some("repo exists")));
    let (st, v) = s.get("/users/alice/repos/home", Some(&t)).await;
    assert_eq!((st, v), (200, json!({"wrapped_key": b64(b"wrapped")})));
    let (st, _) = s
        .put(
            "/users/alice/repos/abc",
            Some(&t),
            json!({"wrapped_key": b64(b"k")}),
        )
        .await;
    assert_eq!(st, 201);
    let (st, v) = s
        .put(
            "/users/alice/repos/zzz",
            Some(&t),
            json!({"wrapped_key": b64(b"k")}),
        )
        .await;
    assert_eq!((st, v["error"].as_str()), (400, Some("too many repos")));
    let (st, v) = s.get("/users/alice/repos", Some(&t)).await;
    assert_eq!((st, v), (200, json!({"repos": ["abc", "home"]})));
    for bad in [
        json!({"wrapped_key": ""}),
        json!({"wrapped_key": "%%%"}),
        json!({"wrapped_key": b64(&[0; 4097])}),
        json!({}),
    ] {
        let (st, v) = s.put("/users/alice/repos/new", Some(&t), bad.clone()).await;
        assert_eq!(st, 400, "{bad} -> {v}");
    }
    s.stop().await;
}

#[tokio::test]
async fn blobs_create_only_and_missing() {
    let s = TestServer::start(|_| {}).await;
    let t = s.user_with_repo("alice", 1).await;
    let path = |n| format!("/users/alice/repos/home/blobs/{}", blob_id(n));
    let (st, _) = s.get_bytes(&path(1), &t).await;
    assert_eq!(st, 404);
    assert_eq!(
        s.put_bytes(&path(1), &t, b"ciphertext".to_vec()).await.0,
        201
    );
    assert_eq!(
        s.put_bytes(&path(1), &t, b"different".to_vec()).await.0,
        200
    );
    let resp = s
        .http
        .get(s.url(&path(1)))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(&resp.bytes().await.unwrap()[..], b"ciphertext");

    let big = vec![0xa5; vfsync_server::api::MAX_BLOB];
    assert_eq!(
        s.put_bytes(&path(2), &t, big.clone()).await.0,
        201,
        "the largest blob fits"
    );
    assert_eq!(s.get_bytes(&path(2), &t).await.1, big);
    let (st, v) = s
        .put_bytes(&path(3), &t, vec![0; vfsync_server::api::MAX_BLOB + 1])
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (413, Some("request body too large"))
    );

    let (st, v) = s
        .post(
            "/users/alice/repos/home/blobs/missing",
            Some(&t),
            json!({"ids": [blob_id(3), blob_id(1), blob_id(2), blob_id(3), blob_id(4)]}),
        )
        .await;
    assert_eq!((st, v), (200, json!({"missing": [blob_id(3), blob_id(4)]})));
    let (st, v) = s
        .post(
            "/users/alice/repos/home/blobs/missing",
            Some(&t),
            json!({"ids": []}),
        )
        .await;
    assert_eq!((st, v), (200, json!({"missing": []})));
    let many: Vec<String> = (0..10_001).map(blob_id).collect();
    let (st, _) = s
        .post(
            "/users/alice/repos/home/blobs/missing",
            Some(&t),
            json!({ "ids": many[..10_000] }),
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = s
        .post(
            "/users/alice/repos/home/blobs/missing",
            Some(&t),
            json!({ "ids": many }),
        )
        .await;
    assert_eq!(st, 400);
    let (st, _) = s
        .post(
            "/users/alice/repos/home/blobs/missing",
            Some(&t),
            json!({"ids": ["abc"]}),
        )
        .await;
    assert_eq!(st, 400);

    // Blobs need an existing repo.
    let (st, v) = s
        .put_bytes(
            &format!("/users/alice/repos/other/blobs/{}", blob_id(1)),
            &t,
            b"x".to_vec(),
        )
        .await;
    assert_eq!((st, v["error"].as_str()), (404, Some("no such repo")));
    s.stop().await;
}

#[tokio::test]
async fn quota() {
    let s = TestServer::start(|c| c.quota = Some(1000)).await;
    let t = s.user_with_repo("alice", 1).await;
    let path = |n| format!("/users/alice/repos/home/blobs/{}", blob_id(n));
    let (st, v) = s.get("/users/alice/usage", Some(&t)).await;
    assert_eq!((st, v), (200, json!({"used": 0, "quota": 1000})));
    assert_eq!(s.put_bytes(&path(1), &t, vec![1; 600]).await.0, 201);
    let (st, v) = s.put_bytes(&path(2), &t, vec![1; 401]).await;
    assert_eq!((st, v), (507, json!({"error": "quota exceeded"})));
    assert_eq!(
        s.put_bytes(&path(1), &t, vec![1; 600]).await.0,
        200,
        "an existing blob needs no room"
    );
    assert_eq!(s.put_bytes(&path(2), &t, vec![1; 300]).await.0, 201);
    let (_, v) = s.get("/users/alice/usage", Some(&t)).await;
    assert_eq!(v, json!({"used": 900, "quota": 1000}));

    // Heads and kept revisions count too (a replaced head stays stored as a revision).
    let head = |exp: u64, n: usize| json!({"expected_version": exp, "data": b64(&vec![7; n])});
    let hp = "/users/alice/repos/home/head";
    assert_eq!(s.put(hp, Some(&t), head(0, 40)).await.0, 200);
    assert_eq!(s.put(hp, Some(&t), head(1, 40)).await.0, 200);
    let (_, v) = s.get("/users/alice/usage", Some(&t)).await;
    assert_eq!(v, json!({"used": 980, "quota": 1000}));
    let (st, v) = s.put(hp, Some(&t), head(2, 40)).await;
    assert_eq!((st, v), (507, json!({"error": "quota exceeded"})));
    let (st, v) = s.put(hp, Some(&t), head(1, 40)).await;
    assert_eq!(st, 412, "a stale writer hears about the version first");
    assert_eq!(v["version"], 2);
    let (st, v) = s.get(hp, Some(&t)).await;
    assert_eq!(
        (st, v["version"].as_u64()),
        (200, Some(2)),
        "nothing changed"
    );
    let (st, v) = s.put(hp, Some(&t), head(2, 20)).await;
    assert_eq!(
        (st, v),
        (200, json!({"version": 3})),
        "exactly at the quota"
    );
    let (_, v) = s.get("/users/alice/usage", Some(&t)).await;
    assert_eq!(v, json!({"used": 1000, "quota": 1000}));
    // Expired revisions give their bytes back.
    let pruned = s
        .state
        .store
        .prune_revisions(s.clock.now_secs() + 1)
        .await
        .unwrap();
    assert_eq!(pruned, 2);
    let (_, v) = s.get("/users/alice/usage", Some(&t)).await;
    assert_eq!(v, json!({"used": 920, "quota": 1000}));

    let s2 = TestServer::start(|_| {}).await;
    let t2 = s2.user_with_repo("bob", 2).await;
    let (_, v) = s2.get("/users/bob/usage", Some(&t2)).await;
    assert_eq!(v, json!({"used": 0, "quota": null}));
    s.stop().await;
    s2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn head_cas_with_16_concurrent_writers() {
    let s = std::sync::Arc::new(TestServer::start(|_| {}).await);
    let t = s.user_with_repo("alice", 1).await;
    let (st, v) = s.get("/users/alice/repos/home/head", Some(&t)).await;
    assert_eq!((st, v["error"].as_str()), (404, Some("no head")));
    let (st, v) = s
        .put(
            "/users/alice/repos/home/head",
            Some(&t),
            json!({"expected_version": 3, "data": b64(b"x")}),
        )
        .await;
    assert_eq!((st, v), (412, json!({"error": "stale head", "version": 0})));

    // Rounds: 16 writers with the same expected version, exactly one wins each.
    for round in 0..3u64 {
        let mut tasks = Vec::new();
        for w in 0..16u8 {
            let (s, t) = (s.clone(), t.clone());
            tasks.push(tokio::spawn(async move {
                s.put(
                    "/users/alice/repos/home/head",
                    Some(&t),
                    json!({"expected_version": round, "data": b64(&[w])}),
                )
                .await
            }));
        }
        let mut winners = 0;
        for task in tasks {
            let (st, v) = task.await.unwrap();
            match st {
                200 => {
                    assert_eq!(v, json!({"version": round + 1}));
                    winners += 1;
                }
                412 => assert_eq!(v["version"], round + 1),
                _ => panic!("{st} {v}"),
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }

    // Retrying writers: every one gets through, nothing lost.
    let mut tasks = Vec::new();
    for w in 0..16u8 {
        let (s, t) = (s.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..1000 {
                let (_, h) = s.get("/users/alice/repos/home/head", Some(&t)).await;
                let version = h["version"].as_u64().unwrap();
                let mut data = base64_decode(h["data"].as_str().unwrap());
                data.push(100 + w);
                let (st, _) = s
                    .put(
                        "/users/alice/repos/home/head",
                        Some(&t),
                        json!({"expected_version": version, "data": b64(&data)}),
                    )
                    .await;
                if st == 200 {
                    return;
                }
                assert_eq!(st, 412);
            }
            panic!("writer {w} starved");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (_, h) = s.get("/users/alice/repos/home/head", Some(&t)).await;
    assert_eq!(h["version"], 19);
    let mut data = base64_decode(h["data"].as_str().unwrap());
    data.remove(0);
    data.sort_unstable();
    assert_eq!(data, (100..116).collect::<Vec<u8>>());
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[tokio::test]
async fn head_limits() {
    let s = TestServer::start(|_| {}).await;
    let t = s.user_with_repo("alice", 1).await;
    let max = vfsync_server::api::MAX_HEAD;
    let (st, v) = s
        .put(
            "/users/alice/repos/home/head",
            Some(&t),
            json!({"expected_version": 0, "data": b64(&vec![7; max])}),
        )
        .await;
    assert_eq!((st, v), (200, json!({"version": 1})));
    let (st, _) = s
        .put(
            "/users/alice/repos/home/head",
            Some(&t),
            json!({"expected_version": 1, "data": b64(&vec![7; max + 1])}),
        )
        .await;
    assert_eq!(st, 400);
    let (st, _) = s
        .put(
            "/users/alice/repos/home/head",
            Some(&t),
            json!({"expected_version": 1, "data": "A"}),
        )
        .await;
    assert_eq!(st, 400, "bad base64");
    let (st, _) = s
        .put(
            "/users/alice/repos/home/head",
            Some(&t),
            json!({"expected_version": -1, "data": ""}),
        )
        .await;
    assert_eq!(st, 400);
    let (st, v) = s.get("/users/alice/repos/home/head", Some(&t)).await;
    assert_eq!((st, v["version"].as_u64()), (200, Some(1)));
    s.stop().await;
}

#[tokio::test]
async fn revisions_and_retention() {
    let s = TestServer::start(|c| c.keep_revisions_secs = 150).await;
    let t = s.user_with_repo("alice", 1).await;
    let (st, v) = s.get("/users/alice/repos/home/revisions", Some(&t)).await;
    assert_eq!((st, v), (200, json!({"revisions": []})));
    for (i, data) in [&b"one"[..], b"two!", b"three"].iter().enumerate() {
        let (st, _) = s
            .put(
                "/users/alice/repos/home/head",
                Some(&t),
                json!({"expected_version": i, "data": b64(data)}),
            )
            .await;
        assert_eq!(st, 200);
        s.clock.advance(60);
    }
    // v1 written T0, replaced T0+60; v2 written T0+60, replaced T0+120; v3 (head) written T0+120.
    let (_, v) = s.get("/users/alice/repos/home/revisions", Some(&t)).await;
    assert_eq!(
        v,
        json!({"revisions": [
            {"version": 3, "time": T0 + 120, "size": 5},
            {"version": 2, "time": T0 + 60, "size": 4},
            {"version": 1, "time": T0, "size": 3},
        ]})
    );
    let (st, v) = s.get("/users/alice/repos/home/revisions/1", Some(&t)).await;
    assert_eq!((st, v), (200, json!({"version": 1, "data": b64(b"one")})));
    let (st, _) = s.get("/users/alice/repos/home/revisions/4", Some(&t)).await;
    assert_eq!(st, 404);
    for bad in ["x", "-1", "1.0", "99999999999999999999999"] {
        let (st, _) = s
            .get(
                &format!("/users/alice/repos/home/revisions/{bad}"),
                Some(&t),
            )
            .await;
        assert_eq!(st, 400, "{bad}");
    }

    // At T0+220, v1 (replaced T0+60) is past 150 s, v2 (replaced T0+120) is not.
    s.clock.advance(40);
    let (_, v) = s.get("/users/alice/repos/home/revisions", Some(&t)).await;
    assert_eq!(v["revisions"].as_array().unwrap().len(), 2);
    let (st, _) = s.get("/users/alice/repos/home/revisions/1", Some(&t)).await;
    assert_eq!(st, 404, "expired");
    s.clock.advance(1000);
    let (_, v) = s.get("/users/alice/repos/home/revisions", Some(&t)).await;
    assert_eq!(
        v,
        json!({"revisions": [{"version": 3, "time": T0 + 120, "size": 5}]}),
        "the head stays"
    );
    let (st, _) = s.get("/users/alice/repos/home/revisions/3", Some(&t)).await;
    assert_eq!(st, 200);
    // Maintenance deletes what expired.
    let pruned = s
        .state
        .store
        .prune_revisions(s.clock.now_secs() - 150)
        .await
        .unwrap();
    assert_eq!(pruned, 2);
    s.stop().await;
}

trait NowSecs {
    fn now_secs(&self) -> u64;
}
impl NowSecs for vfsync_server::ManualClock {
    fn now_secs(&self) -> u64 {
        vfsync_server::Clock::now(self)
    }
}

#[tokio::test]
async fn password_change_revokes_other_sessions() {
    let s = TestServer::start(|_| {}).await;
    let t1 = s.user_with_repo("alice", 1).await;
    let t2 = s.login("alice", 1).await;
    let (st, _) = s
        .put(
            "/users/alice/repos/work",
            Some(&t1),
            json!({"wrapped_key": b64(b"work-key")}),
        )
        .await;
    assert_eq!(st, 201);
    let body = |repos: serde_json::Value| json!({"kdf": {"kdf": "pbkdf2-sha256", "iterations": 700000, "salt": b64(&[3; 32])}, "login_secret": secret(2), "repos": repos});
    let (st, v) = s
        .post(
            "/users/alice/password",
            Some(&t1),
            body(json!({"home": b64(b"new"), "ghost": b64(b"x")})),
        )
        .await;
    assert_eq!((st, v["error"].as_str()), (404, Some("no such repo")));
    s.login("alice", 1).await; // nothing changed
    let (st, v) = s
        .post(
            "/users/alice/password",
            Some(&t1),
            body(json!({"home": b64(b"new")})),
        )
        .await;
    assert_eq!((st, v), (200, json!({})));

    let (st, _) = s.get("/users/alice/repos", Some(&t2)).await;
    assert_eq!(st, 401, "other sessions are revoked");
    let (st, _) = s.get("/users/alice/repos", Some(&t1)).await;
    assert_eq!(st, 200, "the session that changed it stays");
    let (st, _) = s
        .post(
            "/users/alice/login",
            None,
            json!({"login_secret": secret(1)}),
        )
        .await;
    assert_eq!(st, 401, "old secret");
    let t3 = s.login("alice", 2).await;
    let (_, v) = s.get("/users/alice/kdf", None).await;
    assert_eq!(
        v,
        json!({"kdf": "pbkdf2-sha256", "iterations": 700000, "salt": b64(&[3; 32])})
    );
    let (_, v) = s.get("/users/alice/repos/home", Some(&t3)).await;
    assert_eq!(v["wrapped_key"], b64(b"new"));
    let (_, v) = s.get("/users/alice/repos/work", Some(&t3)).await;
    assert_eq!(v["wrapped_key"], b64(b"work-key"));
    let (st, _) = s.post("/users/alice/password", None, body(json!({}))).await;
    assert_eq!(st, 401);
    s.stop().await;
}

#[tokio::test]
async fn authentication_errors() {
    let s = TestServer::start(|c| c.session_secs = 100).await;
    let ta = s.user_with_repo("alice", 1).await;
    let tb = s.user_with_repo("bob", 2).await;
    let paths = [
        "/users/alice/repos".to_owned(),
        "/users/alice/usage".to_owned(),
        "/users/alice/repos/home".to_owned(),
        "/users/alice/repos/home/head".to_owned(),
        "/users/alice/repos/home/revisions".to_owned(),
        "/users/alice/repos/home/revisions/1".to_owned(),
        format!("/users/alice/repos/home/blobs/{}", blob_id(1)),
    ];
    for p in &paths {
        let (st, v) = s.get(p, None).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (401, Some("authentication required")),
            "{p}"
        );
        let (st, v) = s.get(p, Some("bogus-token")).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (401, Some("invalid or expired token")),
            "{p}"
        );
        let (st, v) = s.get(p, Some(&tb)).await;
        assert_eq!((st, v["error"].as_str()), (403, Some("forbidden")), "{p}");
        let resp = s
            .http
            .get(s.url(p))
            .header("authorization", format!("Basic {ta}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{p}");
    }
    // Writes too: bob cannot write alice's blobs or head.
    let (st, _) = s
        .put_bytes(
            &format!("/users/alice/repos/home/blobs/{}", blob_id(1)),
            &tb,
            b"x".to_vec(),
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = s
        .put(
            "/users/alice/repos/home/head",
            Some(&tb),
            json!({"expected_version": 0, "data": ""}),
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = s.post("/users/alice/password", Some(&tb), json!({})).await;
    assert_eq!(st, 403);
    // Oversize bodies without a token are refused for the token first.
    let resp = s
        .http
        .put(s.url(&paths[6]))
        .body(vec![0u8; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Tokens expire.
    s.clock.advance(100);
    let (st, v) = s.get("/users/alice/repos", Some(&ta)).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (401, Some("invalid or expired token"))
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_requests_get_clean_4xx() {
    let s = TestServer::start(|_| {}).await;
    let t = s.user_with_repo("alice", 1).await;
    let long = "a".repeat(33);
    let id = blob_id(1);
    let cases: Vec<(String, u16)> = vec![
        (format!("/users/{long}/kdf"), 400),
        (format!("/users/alice/repos/{long}"), 400),
        ("/users/Alice/kdf".into(), 400),
        ("/users/-a/kdf".into(), 400),
        ("/users/a%2fb/kdf".into(), 400),
        // reqwest removes these dot segments itself (so the path changes): any clean 4xx.
        ("/users/%2e%2e/kdf".into(), 0),
        ("/users/alice/repos/%2e%2e".into(), 0),
        ("/users/alice/repos/home/blobs/abc".into(), 400),
        (
            format!("/users/alice/repos/home/blobs/{}", "AB".repeat(32)),
            400,
        ),
        (format!("/users/alice/repos/home/blobs/{id}0"), 400),
        (
            "/users/alice/repos/home/blobs/..%2f..%2fmeta.redb".into(),
            400,
        ),
        ("/users/%ff/kdf".into(), 400),
    ];
    for (p, want) in cases {
        let (st, v) = s.get(&p, Some(&t)).await;
        if want == 0 {
            assert!((400..500).contains(&st), "{p}: {st} {v}");
        } else {
            assert_eq!(st, want, "{p}: {v}");
        }
        assert!(v["error"].is_string(), "{p}: {v}");
    }
    // Raw requests with dot segments a URL library would remove.
    for p in [
        "/api/v1/users/../users/alice/kdf",
        "/api/v1/users/alice/repos/../../../meta.redb",
        "/api/v1/users/%2e%2e/repos",
        "/api/v1/users/alice/repos/home/blobs/../../../../../../etc/passwd",
        "/api/v1/users/alice/repos/home/blobs/%2e%2e%2f%2e%2e%2fmeta.redb",
    ] {
        let req = format!(
            "GET {p} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n"
        );
        let (st, body) = raw_request(s.addr, &req).await;
        assert!((400..500).contains(&st), "{p}: {st} {body}");
        assert!(body.contains("\"error\""), "{p}: {body}");
    }
    // Bad JSON, wrong types, bad base64, oversize JSON.
    let head = "/users/alice/repos/home/head";
    let resp = s
        .http
        .put(s.url(head))
        .bearer_auth(&t)
        .body("{\"expected_version\": 0, ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.json::<serde_json::Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .starts_with("invalid JSON"));
    let (st, _) = s
        .put(head, Some(&t), json!({"expected_version": "0", "data": ""}))
        .await;
    assert_eq!(st, 400);
    let (st, _) = s
        .put(
            head,
            Some(&t),
            json!({"expected_version": 0, "data": "===="}),
        )
        .await;
    assert_eq!(st, 400);
    let resp = s
        .http
        .put(s.url(head))
        .bearer_auth(&t)
        .body(vec![b' '; vfsync_server::api::MAX_JSON + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let (st, _) = s.put(&format!("{head}/x"), Some(&t), json!({})).await;
    assert_eq!(st, 404);
    let (st, v) = s.call(reqwest::Method::DELETE, head, Some(&t), None).await;
    assert_eq!((st, v["error"].as_str()), (405, Some("method not allowed")));
    // A body announced far beyond the limit is refused before it is sent, and uploads need a
    // token of the right user.
    let blob = format!("/api/v1/users/alice/repos/home/blobs/{id}");
    // (The server answers at once but may keep the connection for the body: read only the
    // answer.)
    let (st, body) = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        c.write_all(
            format!(
                "PUT {blob} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n\
                 Content-Length: 100000000000\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let mut buf = Vec::new();
        for _ in 0..100 {
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(std::time::Duration::from_secs(30), c.read(&mut chunk))
                .await
                .expect("the server answered")
                .unwrap();
            buf.extend_from_slice(&chunk[..n]);
            if n == 0 || String::from_utf8_lossy(&buf).ends_with('}') {
                break;
            }
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status: u16 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, text)
    };
    assert_eq!(st, 413, "{body}");
    assert!(body.contains("\"error\""), "{body}");
    let (st, body) = raw_request(
        s.addr,
        &format!(
            "PUT {blob} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"
        ),
    )
    .await;
    assert_eq!(st, 401, "{body}");
    let t2 = s.user_with_repo("mallory", 7).await;
    let (st, v) = s
        .put_bytes(
            &format!("/users/alice/repos/home/blobs/{id}"),
            &t2,
            b"x".to_vec(),
        )
        .await;
    assert_eq!((st, v["error"].as_str()), (403, Some("forbidden")));
    // The server is still fine.
    assert_eq!(s.get("/health", None).await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn cors() {
    let s = TestServer::start(|_| {}).await;
    let resp = s
        .http
        .request(
            reqwest::Method::OPTIONS,
            s.url("/users/alice/repos/home/head"),
        )
        .header("origin", "https://page.example")
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    for m in ["GET", "PUT", "POST", "OPTIONS"] {
        assert!(methods.contains(m), "{methods}");
    }
    let headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert_eq!(h["access-control-max-age"], "600");
    // Plain responses and errors carry the origin header too.
    for p in ["/health", "/users/alice/kdf", "/users/alice/repos"] {
        let resp = s
            .http
            .get(s.url(p))
            .header("origin", "https://page.example")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["access-control-allow-origin"], "*", "{p}");
        assert_eq!(resp.headers()["cache-control"], "no-store", "{p}");
    }
    s.stop().await;
}

#[tokio::test]
async fn static_page() {
    let web = tempfile::tempdir().unwrap();
    std::fs::write(
        web.path().join("index.html"),
        "<!doctype html><title>vfsync</title>",
    )
    .unwrap();
    let wasm = b"\0asm\x01\0\0\0";
    std::fs::write(web.path().join("vf-worker_bg.wasm"), wasm).unwrap();
    std::fs::write(web.path().join("vf-page-adf6d124b1b46dda_bg.wasm"), wasm).unwrap();
    std::fs::write(web.path().join("vf-page-adf6d124b1b46dda.js"), "export {}").unwrap();
    std::fs::write(web.path().join("vf-worker.js"), "export {}").unwrap();
    std::fs::create_dir(web.path().join("xterm")).unwrap();
    std::fs::write(web.path().join("xterm/xterm.mjs"), "export {}").unwrap();
    std::fs::write(web.path().join("page-9ba225172e274061.css"), "body{}").unwrap();
    let dir = web.path().to_owned();
    let s = TestServer::start(move |c| c.web_dir = Some(dir)).await;
    let root = format!("http://{}", s.addr);
    let get = |p: &str, extra: Option<(&'static str, String)>| {
        let mut r = s.http.get(format!("{root}{p}"));
        if let Some((k, v)) = extra {
            r = r.header(k, v);
        }
        async move { r.send().await.unwrap() }
    };
    let header = |r: &reqwest::Response, h: &str| {
        r.headers()
            .get(h)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };

    // Content types and caching of each kind of file.
    for (p, ctype, cache) in [
        ("/vf-worker_bg.wasm", "application/wasm", "no-cache"),
        (
            "/vf-page-adf6d124b1b46dda_bg.wasm",
            "application/wasm",
            "public, max-age=31536000, immutable",
        ),
        (
            "/vf-page-adf6d124b1b46dda.js",
            "text/javascript",
            "public, max-age=31536000, immutable",
        ),
        ("/vf-worker.js", "text/javascript", "no-cache"),
        ("/xterm/xterm.mjs", "text/javascript", "no-cache"),
        (
            "/page-9ba225172e274061.css",
            "text/css",
            "public, max-age=31536000, immutable",
        ),
    ] {
        let resp = get(p, None).await;
        assert_eq!(resp.status(), 200, "{p}");
        assert!(header(&resp, "content-type").starts_with(ctype), "{p}");
        assert_eq!(header(&resp, "cache-control"), cache, "{p}");
        assert_eq!(header(&resp, "access-control-allow-origin"), "*", "{p}");
        assert!(header(&resp, "etag").starts_with('"'), "{p}");
    }
    let resp = get("/vf-worker_bg.wasm", None).await;
    let (etag, last_modified) = (header(&resp, "etag"), header(&resp, "last-modified"));
    assert_eq!(&resp.bytes().await.unwrap()[..], wasm);

    // Revalidation: by ETag, by date, and a stale ETag wins over a matching date.
    let resp = get("/vf-worker_bg.wasm", Some(("if-none-match", etag.clone()))).await;
    assert_eq!(resp.status(), 304, "ETag revalidation");
    assert_eq!(header(&resp, "etag"), etag);
    assert_eq!(header(&resp, "cache-control"), "no-cache");
    let resp = get(
        "/vf-worker_bg.wasm",
        Some(("if-none-match", format!("W/{etag}"))),
    )
    .await;
    assert_eq!(resp.status(), 304, "weak comparison");
    let resp = get(
        "/vf-worker_bg.wasm",
        Some(("if-modified-since", last_modified.clone())),
    )
    .await;
    assert_eq!(resp.status(), 304, "date revalidation");
    let mut r = s.http.get(format!("{root}/vf-worker_bg.wasm"));
    r = r
        .header("if-none-match", "\"0-0\"")
        .header("if-modified-since", last_modified);
    let resp = r.send().await.unwrap();
    assert_eq!(resp.status(), 200, "a stale ETag means the file is sent");
    assert_eq!(&resp.bytes().await.unwrap()[..], wasm);
    // A changed file gets a new ETag.
    std::fs::write(web.path().join("vf-worker_bg.wasm"), b"\0asm\x01\0\0\0\0").unwrap();
    let resp = get("/vf-worker_bg.wasm", Some(("if-none-match", etag.clone()))).await;
    assert_eq!(resp.status(), 200, "changed");
    assert_ne!(header(&resp, "etag"), etag);

    // The page itself: always revalidated, also under the checkout URLs.
    let mut index_tag = String::new();
    for p in ["/", "/index.html", "/u/alice/home"] {
        let resp = get(p, None).await;
        assert_eq!(resp.status(), 200, "{p}");
        assert!(
            header(&resp, "content-type").starts_with("text/html"),
            "{p}"
        );
        assert_eq!(header(&resp, "cache-control"), "no-cache", "{p}");
        let tag = header(&resp, "etag");
        assert!(
            index_tag.is_empty() || tag == index_tag,
            "{p}: one file, one ETag"
        );
        index_tag = tag;
        assert!(resp.text().await.unwrap().contains("vfsync"), "{p}");
        let resp = get(p, Some(("if-none-match", index_tag.clone()))).await;
        assert_eq!(resp.status(), 304, "{p}");
    }

    // Missing files and path tricks: clean 4xx, nothing cached.
    let resp = get("/nothing.txt", None).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(header(&resp, "cache-control"), "no-store");
    for p in [
        "/../../etc/passwd",
        "/xterm/../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/xterm/..%2f..%2fetc/passwd",
    ] {
        let (st, body) = raw_request(
            s.addr,
            &format!("GET {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!((400..500).contains(&st), "{p}: {st}");
        assert!(!body.contains("root:"), "{p}");
    }
    // The API is still JSON.
    assert_eq!(s.get("/health", None).await.0, 200);
    assert_eq!(s.get("/nope", None).await.0, 404);
    s.stop().await;
}
