//! End-to-end: the `vfsync` binary against the real `vfsync-server` on 127.0.0.1.
//! The server binary is taken from the same target directory (built on demand).

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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
    c.env("VFSYNC_PASSWORD", PASSWORD)
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
