//! End-to-end: the `vfsync` binary against the real `vfsync-server` on 127.0.0.1.
//! The server binary is taken from the same target directory (built on demand).

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../../server/tests/common/seaweed.rs"]
mod seaweed;

const PASSWORD: &str = "correct horse battery staple";

struct Server {
    child: Child,
    url: String,
    data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_binary() -> PathBuf {
    let vfsync = PathBuf::from(env!("CARGO_BIN_EXE_vfsync"));
    let bin = vfsync.with_file_name("vfsync-server");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "-p", "vfsync-server"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .status()
            .expect("cargo build -p vfsync-server");
        assert!(st.success(), "building vfsync-server failed");
    }
    assert!(bin.exists(), "{} missing", bin.display());
    bin
}

fn start_server() -> Server {
    start_server_with(&[])
}

/// The server with extra options (e.g. the S3 ones).
fn start_server_with(extra: &[String]) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = tempfile::tempdir().unwrap();
    let child = Command::new(server_binary())
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--allow-register",
            "--data",
        ])
        .arg(data.path())
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn vfsync-server");
    let url = format!("http://127.0.0.1:{port}");
    let server = Server { child, url, data };
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

fn vfsync(dir: Option<&Path>, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vfsync"));
    // No agent unless a test starts one (a developer's own agent must not interfere).
    c.env("VFSYNC_PASSWORD", PASSWORD)
        .env("VFSYNC_AGENT_SOCK", "none")
        .env_remove("VFSYNC_TEST_CRASH_AFTER")
        .args(args);
    if let Some(d) = dir {
        c.arg("-C").arg(d);
    }
    c
}

fn ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(mut c: Command) -> String {
    let out: Output = c.output().unwrap();
    assert!(!out.status.success(), "{c:?} succeeded");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one-line error: {err}");
    err
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Registers `user` and checks out its home twice.
fn setup(s: &Server, user: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    ok(vfsync(None, &["register", "-u", user, &s.url]));
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let url = format!("{}/u/{user}/home", s.url);
    ok(vfsync(None, &["co", &url, a.to_str().unwrap()]));
    ok(vfsync(None, &["co", &url, b.to_str().unwrap()]));
    (tmp, a, b)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn tree(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    walk(dir, &mut files);
    let mut out: Vec<(String, String)> = files
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .filter(|p| !p.starts_with(".vfsync"))
        .map(|p| {
            let c = read(&dir.join(&p));
            (p, c)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn two_checkouts_conflicts_errors_and_a_blind_server() {
    let s = start_server();
    let (_tmp, a, b) = setup(&s, "alice");
    std::fs::create_dir_all(a.join("Secret-Folder-Name")).unwrap();
    std::fs::write(
        a.join("Secret-Folder-Name/diary.txt"),
        "PLAINTEXT-MARKER-1234 dear diary",
    )
    .unwrap();
    std::fs::write(a.join("shared.txt"), "base").unwrap();
    let out = ok(vfsync(Some(&a), &[]));
    assert!(out.contains("committed: shared.txt"), "{out}");
    let out = ok(vfsync(Some(&b), &[]));
    assert!(
        out.contains("updated: Secret-Folder-Name/diary.txt"),
        "{out}"
    );
    assert_eq!(read(&b.join("shared.txt")), "base");

    // Changed on both sides.
    std::fs::write(a.join("shared.txt"), "from a").unwrap();
    std::fs::write(b.join("shared.txt"), "from b").unwrap();
    ok(vfsync(Some(&a), &["sync"]));
    let out = ok(vfsync(Some(&b), &[]));
    assert!(
        out.contains("conflict: shared.txt -> shared.txt.1"),
        "{out}"
    );
    assert_eq!(read(&b.join("shared.txt")), "from a");
    assert_eq!(read(&b.join("shared.txt.1")), "from b");
    ok(vfsync(Some(&a), &[]));
    assert_eq!(tree(&a), tree(&b));

    // Deleted locally: deleted on the server; status and log work.
    std::fs::remove_file(a.join("shared.txt.1")).unwrap();
    let st = ok(vfsync(Some(&a), &["status"]));
    assert!(st.contains("deleted: shared.txt.1"), "{st}");
    ok(vfsync(Some(&a), &[]));
    ok(vfsync(Some(&b), &[]));
    assert!(!b.join("shared.txt.1").exists());
    let log = ok(vfsync(Some(&b), &["log"]));
    assert!(log.lines().count() >= 4, "{log}");

    // Restore an old revision of shared.txt.
    let out = ok(vfsync(Some(&b), &["restore", "1", "shared.txt"]));
    assert!(out.contains("restored: shared.txt"), "{out}");
    assert_eq!(read(&b.join("shared.txt")), "base");
    assert_eq!(read(&b.join("shared.txt.1")), "from a");

    // Clear errors.
    let mut c = vfsync(Some(&a), &[]);
    c.env("VFSYNC_PASSWORD", "not the password");
    assert!(fails(c).contains("wrong password"));
    let url = format!("{}/u/nobody/home", s.url);
    assert!(fails(vfsync(None, &["co", &url, "/tmp/never-created"])).contains("unknown user"));
    let dead = format!(
        "http://127.0.0.1:{}/u/alice/home",
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    assert!(
        fails(vfsync(None, &["co", &dead, "/tmp/never-created"])).contains("server unreachable")
    );

    // The server's data directory holds no plaintext: neither content nor names.
    let mut files = Vec::new();
    walk(s.data.path(), &mut files);
    assert!(!files.is_empty());
    for f in &files {
        let mut bytes = Vec::new();
        std::fs::File::open(f)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        let name = f.to_string_lossy();
        for needle in [
            "PLAINTEXT-MARKER",
            "Secret-Folder-Name",
            "diary",
            "shared.txt",
            "from a",
            CORRECT_HORSE,
        ] {
            assert!(!name.contains(needle), "{name}");
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle:?} in {name}"
            );
        }
    }

    // A flipped byte in a stored blob: detected, nothing local overwritten.
    std::fs::write(a.join("shared.txt"), "version to be tampered with").unwrap();
    ok(vfsync(Some(&a), &[]));
    let blob_dir = s.data.path().join("blobs/alice/home");
    let mut blobs = Vec::new();
    walk(&blob_dir, &mut blobs);
    blobs.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
    for p in &blobs {
        let mut d = std::fs::read(p).unwrap();
        let n = d.len() / 2;
        d[n] ^= 0x10;
        std::fs::write(p, d).unwrap();
    }
    let err = fails(vfsync(Some(&b), &[]));
    assert!(err.contains("failed authentication"), "{err}");
    assert_eq!(
        read(&b.join("shared.txt")),
        "base",
        "nothing local was overwritten"
    );
}

const CORRECT_HORSE: &str = "correct horse";

#[test]
fn sixteen_concurrent_processes_lose_no_update() {
    let s = start_server();
    ok(vfsync(None, &["register", "-u", "bob", &s.url]));
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("{}/u/bob/home", s.url);
    let dirs: Vec<PathBuf> = (0..16).map(|i| tmp.path().join(format!("c{i}"))).collect();
    for d in &dirs {
        ok(vfsync(None, &["co", &url, d.to_str().unwrap()]));
    }
    for (i, d) in dirs.iter().enumerate() {
        std::fs::write(d.join(format!("from-{i}")), format!("client {i}")).unwrap();
    }
    let children: Vec<Child> = dirs
        .iter()
        .map(|d| {
            vfsync(Some(d), &[])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for d in &dirs {
        ok(vfsync(Some(d), &[]));
    }
    let want: Vec<(String, String)> = (0..16)
        .map(|i| (format!("from-{i}"), format!("client {i}")))
        .collect();
    let mut want = want;
    want.sort();
    for d in &dirs {
        assert_eq!(tree(d), want);
    }
}

#[test]
fn killed_at_any_point_then_rerun_loses_nothing() {
    let s = start_server();
    let (_tmp, a, b) = setup(&s, "carol");
    for i in 0..40 {
        std::fs::write(
            a.join(format!("f{i:02}")),
            format!("file {i} ").repeat(i * 50),
        )
        .unwrap();
    }
    std::fs::write(a.join("big"), vec![7u8; 3 << 20]).unwrap();
    ok(vfsync(Some(&a), &[]));
    let mut round = 0u64;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    // Crash at step N (deterministic points), and SIGKILL after a random delay.
    for crash_at in [1u64, 2, 3, 5, 8, 13, 21, 34, 55, 200] {
        round += 1;
        for i in 0..10 {
            std::fs::write(
                a.join(format!("f{:02}", (round * 7 + i) % 40)),
                format!("round {round} edit {i}"),
            )
            .unwrap();
        }
        std::fs::write(
            a.join(format!("new-{round}")),
            format!("new in round {round}"),
        )
        .unwrap();
        let mut c = vfsync(Some(&a), &[]);
        c.env("VFSYNC_TEST_CRASH_AFTER", crash_at.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = c.status().unwrap();
        let expected = tree(&a);
        // Also kill B mid-update at a random moment.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = vfsync(Some(&b), &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(seed % 900));
        let _ = child.kill();
        let _ = child.wait();
        ok(vfsync(Some(&a), &[]));
        assert_eq!(tree(&a), expected, "round {round}: A lost nothing");
        ok(vfsync(Some(&b), &[]));
        assert_eq!(tree(&b), expected, "round {round}: B caught up");
        let leftovers = std::fs::read_dir(b.join(".vfsync/tmp")).unwrap().count();
        assert_eq!(leftovers, 0, "temporary files are cleaned up");
    }
}

/// Every needle must be absent from `bytes` and `name`.
fn assert_blind(name: &str, bytes: &[u8], needles: &[&str]) {
    for needle in needles {
        assert!(!name.contains(needle), "{needle:?} in the name {name}");
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle:?} in {name}"
        );
    }
}

/// With the S3 backend (SeaweedFS on loopback), after two checkouts synced through it: no object
/// of the bucket, no file of SeaweedFS's own data directory and no file of the server's data
/// directory holds the plaintext of a file, a file name or the password.
#[test]
fn s3_bucket_holds_no_plaintext() {
    use object_store::ObjectStoreExt;
    let Some(mut weed) = seaweed::Seaweed::start() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let os = weed.object_store();
    rt.block_on(weed.wait_ready(os.as_ref()));
    let secret_file = weed.dir.path().join("s3-secret");
    std::fs::write(&secret_file, seaweed::S3_SECRET).unwrap();
    let s = start_server_with(&[
        "--s3-endpoint".into(),
        weed.endpoint.clone(),
        "--s3-bucket".into(),
        weed.bucket.clone(),
        "--s3-region".into(),
        "us-east-1".into(),
        "--s3-access-key-id".into(),
        seaweed::S3_KEY.into(),
        "--s3-secret-access-key-file".into(),
        secret_file.to_string_lossy().into_owned(),
        "--s3-prefix".into(),
        "e2e/".into(),
    ]);
    let (_tmp, a, b) = setup(&s, "dave");
    std::fs::create_dir_all(a.join("Confidential-Dir-Name")).unwrap();
    std::fs::write(
        a.join("Confidential-Dir-Name/letter.txt"),
        "S3-PLAINTEXT-MARKER-9876 to whom it may concern",
    )
    .unwrap();
    // A file big enough for several blobs, its text repeated throughout.
    std::fs::write(
        a.join("large-report.txt"),
        "QUARTERLY-FIGURES-MARKER ".repeat(200_000),
    )
    .unwrap();
    ok(vfsync(Some(&a), &[]));
    std::fs::write(a.join("large-report.txt"), "QUARTERLY-FIGURES-MARKER v2").unwrap();
    ok(vfsync(Some(&a), &[]));
    let out = ok(vfsync(Some(&b), &[]));
    assert!(
        out.contains("updated: Confidential-Dir-Name/letter.txt"),
        "{out}"
    );
    assert_eq!(tree(&a), tree(&b), "the data went through the bucket");
    let needles = [
        "S3-PLAINTEXT-MARKER",
        "QUARTERLY-FIGURES",
        "Confidential-Dir-Name",
        "letter.txt",
        "large-report",
        CORRECT_HORSE,
    ];

    // The bucket, through the S3 API.
    let objects: Vec<object_store::ObjectMeta> = rt.block_on(async {
        use futures_util::TryStreamExt;
        os.list(None).try_collect().await.unwrap()
    });
    let keys: Vec<String> = objects.iter().map(|m| m.location.to_string()).collect();
    for prefix in [
        "e2e/blobs/dave/home/",
        "e2e/heads/dave/home",
        "e2e/revs/dave/home/",
    ] {
        assert!(
            keys.iter().any(|k| k.starts_with(prefix)),
            "no {prefix} in {keys:?}"
        );
    }
    let mut scanned = 0u64;
    for m in &objects {
        let bytes = rt
            .block_on(async { os.get(&m.location).await.unwrap().bytes().await })
            .unwrap();
        scanned += bytes.len() as u64;
        assert_blind(m.location.as_ref(), &bytes, &needles);
    }
    assert!(
        scanned > 4_000_000,
        "the big file's blobs are there ({scanned} bytes)"
    );

    // SeaweedFS's own files and the server's data directory (accounts, sessions, usage).
    for dir in [weed.dir.path(), s.data.path()] {
        let mut files = Vec::new();
        walk(dir, &mut files);
        assert!(!files.is_empty());
        for f in files.iter().filter(|f| f.is_file()) {
            assert_blind(&f.to_string_lossy(), &std::fs::read(f).unwrap(), &needles);
        }
    }
}

/// A minimal HTTP/1.0 GET on 127.0.0.1 returning the body.
fn http_get(url: &str, path: &str) -> String {
    use std::io::Write;
    let hostport = url.trim_start_matches("http://");
    let mut c = std::net::TcpStream::connect(hostport).unwrap();
    write!(c, "GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n").unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n").unwrap().1.to_owned()
}

/// One request to the agent at `sock` (the protocol of docs/vfsync-cli.md).
fn agent_call(sock: &Path, request: &str) -> String {
    use std::io::{BufRead, Write};
    let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
    writeln!(s, "{request}").unwrap();
    let mut line = String::new();
    std::io::BufReader::new(s).read_line(&mut line).unwrap();
    line
}

fn files_under(dirs: &[&Path]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for d in dirs {
        walk(d, &mut files);
    }
    files.retain(|f| f.is_file());
    files
}

#[test]
fn agent_asks_once_forgets_on_stop_and_timeout_and_writes_nothing() {
    let s = start_server();
    let (tmp, a, b) = setup(&s, "erin");
    let private = tempfile::tempdir().unwrap(); // mode 0700
    let home = private.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let sock = private.path().join("agent.sock");
    let with_agent = |dir: Option<&Path>, args: &[&str], password: bool| {
        let mut c = vfsync(dir, args);
        c.env("VFSYNC_AGENT_SOCK", &sock).env("HOME", &home);
        if !password {
            c.env_remove("VFSYNC_PASSWORD");
        }
        c
    };
    // Whatever happens, no agent outlives the test.
    struct StopAgent<'a>(&'a Path);
    impl Drop for StopAgent<'_> {
        fn drop(&mut self) {
            let _ = vfsync(None, &["agent", "--stop"])
                .env("VFSYNC_AGENT_SOCK", self.0)
                .output();
        }
    }
    let _stop = StopAgent(&sock);
    let no_password = |dir: &Path| {
        let err = fails(with_agent(Some(dir), &["status"], false));
        assert!(err.contains("a password is needed"), "{err}");
    };

    // Without an agent, a command without a password fails at once (no prompt, no hang).
    no_password(&a);
    let err = fails(with_agent(None, &["agent", "--stop"], false));
    assert!(err.contains("no agent is running"), "{err}");

    let out = ok(with_agent(None, &["agent", "--timeout", "10m"], false));
    assert!(out.contains("vfsync agent started on"), "{out}");
    assert!(sock.exists());
    let err = fails(with_agent(None, &["agent"], false));
    assert!(err.contains("already running"), "{err}");
    let st = ok(with_agent(None, &["agent", "--status"], false));
    assert!(st.contains(": 0 keys, forgotten after 600 s"), "{st}");
    no_password(&a);

    // The first command reads the password and hands the key over; later ones ask nothing.
    ok(with_agent(Some(&a), &["status"], true));
    std::fs::write(a.join("agent.txt"), "through the agent").unwrap();
    let out = ok(with_agent(Some(&a), &[], false));
    assert!(out.contains("committed: agent.txt"), "{out}");
    let out = ok(with_agent(Some(&b), &[], false));
    assert!(out.contains("updated: agent.txt"), "{out}");
    ok(with_agent(Some(&b), &["log"], false));
    let st = ok(with_agent(None, &["agent", "--status"], false));
    assert!(st.contains(": 1 keys"), "{st}");

    // The key the agent holds really is the user's password key: it logs in (so this test
    // scans for the right bytes).
    let kdf: serde_json::Value =
        serde_json::from_str(&http_get(&s.url, "/api/v1/users/erin/kdf")).unwrap();
    let id = format!(
        "{} erin pbkdf2-sha256 {} {}",
        s.url,
        kdf["iterations"],
        kdf["salt"].as_str().unwrap()
    );
    let got: serde_json::Value = serde_json::from_str(&agent_call(
        &sock,
        &serde_json::json!({"op": "get", "id": id}).to_string(),
    ))
    .unwrap();
    let key_b64 = got["key"]
        .as_str()
        .expect("the agent holds the key")
        .to_owned();
    let bad: serde_json::Value =
        serde_json::from_str(&agent_call(&sock, r#"{"op":"put","id":"x","key":"AAAA"}"#)).unwrap();
    assert!(bad["error"].is_string(), "{bad}");
    let bad: serde_json::Value = serde_json::from_str(&agent_call(&sock, "nonsense")).unwrap();
    assert!(bad["error"].is_string(), "{bad}");

    // Neither the password nor the key is anywhere on disk: checkouts (with .vfsync), HOME,
    // the agent's directory, the server's data.
    let key = base64_decode(&key_b64);
    assert_eq!(key.len(), 32);
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let files = files_under(&[tmp.path(), private.path(), s.data.path()]);
    assert!(files.len() > 5);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for needle in [
            PASSWORD.as_bytes(),
            &key,
            key_b64.as_bytes(),
            hex.as_bytes(),
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "secret material in {}",
                f.display()
            );
        }
    }

    // Stop: the keys are gone with the agent.
    let out = ok(with_agent(None, &["agent", "--stop"], false));
    assert!(out.contains("forgot its keys and stopped"), "{out}");
    assert!(!sock.exists(), "the socket is removed");
    no_password(&a);

    // The idle timeout: the agent forgets and exits by itself.
    ok(with_agent(None, &["agent", "--timeout", "3s"], false));
    ok(with_agent(Some(&a), &["status"], true));
    let mut gone = false;
    for _ in 0..600 {
        if !sock.exists() {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(gone, "the agent ended after its idle timeout");
    no_password(&a);

    // A stale socket (its agent killed) is ignored by commands and replaced by a new agent.
    let mut fg = with_agent(None, &["agent", "--foreground", "--timeout", "5m"], false)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 6];
    fg.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    assert_eq!(&first, b"vfsync");
    fg.kill().unwrap();
    fg.wait().unwrap();
    assert!(sock.exists(), "killed: the socket stays behind");
    no_password(&a);
    ok(with_agent(Some(&a), &["status"], true));
    ok(with_agent(None, &["agent"], false));
    ok(with_agent(None, &["agent", "--stop"], false));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
