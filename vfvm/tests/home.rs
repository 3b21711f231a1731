//! End-to-end: the synced home (docs/vflogin.md) in `vfvm --sync` against the real
//! `vfsync-server` on 127.0.0.1, with the host's `vfsync` command on the other side.
//!
//! The guest (the committed Linux image, whose init mounts the 9p share tagged `home` at
//! /home and installs vflogin/vfsync/vflogout) is driven over pipes with the harness of
//! tests/common. Every wait is bounded; the server and the VM are killed when the test ends,
//! however it ends. The binaries vfsync-server and vfsync (packages vfsync-server,
//! vfsync-cli) are built next to vfvm if they are missing.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod common;
use common::{root, Vm, PROMPT};

const PASSWORD: &str = "correct horse battery staple";
/// A wrong password that is typed too: it must not be echoed either.
const WRONG_PASSWORD: &str = "not the password";

/// A binary of the host tools next to vfvm, in vfvm's profile. The first call in a process
/// runs `cargo build -p vfsync-server -p vfsync-cli` (both at once, as bench/home.sh does: one
/// feature resolution, so a second command rebuilds nothing).
fn sibling(name: &str) -> PathBuf {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let vfvm = PathBuf::from(env!("CARGO_BIN_EXE_vfvm"));
    let bin = vfvm.with_file_name(name);
    let mut built = BUILT.lock().unwrap();
    if !*built {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut c = Command::new(cargo);
        c.args(["build", "-q", "-p", "vfsync-server", "-p", "vfsync-cli"]);
        if vfvm.parent().and_then(Path::file_name) == Some("release".as_ref()) {
            c.arg("--release");
        }
        let st = c.current_dir(root()).status().expect("cargo build");
        assert!(st.success(), "building vfsync-server and vfsync-cli failed");
        *built = true;
    }
    assert!(bin.exists(), "{} missing", bin.display());
    bin
}

struct Server {
    child: Child,
    port: u16,
    data: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data = tempfile::tempdir().unwrap();
        let mut s = Server {
            child: Self::spawn(port, data.path()),
            port,
            data,
        };
        s.wait_up();
        s
    }

    fn spawn(port: u16, data: &Path) -> Child {
        Command::new(sibling("vfsync-server"))
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--allow-register",
                "--data",
            ])
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn vfsync-server")
    }

    fn wait_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "the server exited"
            );
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.child = Self::spawn(self.port, self.data.path());
        self.wait_up();
    }

    /// Every file the server stores.
    fn files(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        walk(self.data.path(), &mut v);
        v.sort();
        v
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
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

/// The host's `vfsync` command.
fn vfsync(dir: Option<&Path>, args: &[&str]) -> String {
    let mut c = Command::new(sibling("vfsync"));
    c.env("VFSYNC_PASSWORD", PASSWORD)
        .env("VFSYNC_AGENT_SOCK", "none")
        .args(args);
    if let Some(d) = dir {
        c.arg("-C").arg(d);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "vfsync {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Signs in with `password`: types `vflogin USER`, waits for the password prompt (printed once
/// echo is off), types the password and waits for `expect` and the prompt; returns vflogin's
/// output.
fn vflogin(vm: &mut Vm, user: &str, password: &str, expect: &str) -> String {
    vm.send(&format!("vflogin {user}"));
    vm.expect(&format!("Password for {user}: "));
    vm.send(password);
    let mut out = vm.expect(expect);
    if expect != PROMPT {
        out.push_str(&vm.expect(PROMPT));
    }
    out
}

/// Neither password ever appears on the console (echo is off while it is typed).
fn assert_no_password(vm: &Vm) {
    let t = vm.transcript();
    for p in [PASSWORD, WRONG_PASSWORD] {
        assert!(!t.contains(p), "the password {p:?} was echoed:\n{t}");
    }
}

/// The tree under `dir` (without `.vfsync`): relative path → content (`None` for directories).
fn tree(dir: &Path) -> Vec<(String, Option<String>)> {
    let mut files = Vec::new();
    walk_all(dir, dir, &mut files);
    files.sort();
    files
}

fn walk_all(base: &Path, dir: &Path, out: &mut Vec<(String, Option<String>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
        if rel == ".vfsync" {
            continue;
        }
        if p.is_dir() {
            out.push((rel, None));
            walk_all(base, &p, out);
        } else {
            out.push((rel, Some(std::fs::read_to_string(&p).unwrap())));
        }
    }
}

fn owned(v: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    let mut v: Vec<_> = v
        .iter()
        .map(|(p, c)| (p.to_string(), c.map(str::to_string)))
        .collect();
    v.sort();
    v
}

#[test]
fn the_synced_home_in_vfvm() {
    let mut server = Server::start();
    let url = server.url();
    vfsync(None, &["register", "-u", "alice", &url]);
    let tmp = tempfile::tempdir().unwrap();
    let host = tmp.path().join("host");
    let repo_url = format!("{url}/u/alice/home");
    vfsync(None, &["co", &repo_url, host.to_str().unwrap()]);
    std::fs::write(host.join("seed.txt"), "seed-from-host\n").unwrap();
    std::fs::write(host.join("gone.txt"), "to-be-deleted\n").unwrap();
    std::fs::write(host.join("old-name.txt"), "renamed-content\n").unwrap();
    std::fs::write(host.join("conflict.txt"), "conflict-base\n").unwrap();
    vfsync(Some(&host), &["sync"]);

    let config = root().join("vm-configs/linux-rv64.json");
    let mut vm = Vm::spawn(&["--sync", &url, config.to_str().unwrap()], true);
    vm.expect("to power off.");
    vm.expect(PROMPT);

    // Failures are one clear line.
    let out = vflogin(&mut vm, "alice", WRONG_PASSWORD, PROMPT);
    assert!(out.contains("vflogin: wrong password"), "{out}");
    let out = vflogin(&mut vm, "carol", PASSWORD, PROMPT);
    assert!(out.contains("vflogin: unknown user carol"), "{out}");

    // Sign in; the shell moves into the home.
    vflogin(&mut vm, "alice", PASSWORD, "signed in as alice");
    assert_no_password(&vm);
    vm.run("pwd", "/home/alice");
    vm.run("cat seed.txt", "seed-from-host");

    // Create, edit, delete and rename; then sync.
    vm.run("echo created-in-guest > new.txt", PROMPT);
    vm.run("echo edited-in-guest > seed.txt", PROMPT);
    vm.run("rm gone.txt", PROMPT);
    vm.run("mv old-name.txt new-name.txt", PROMPT);
    vm.run(
        "mkdir -p sub/dir && echo deep-in-guest > sub/dir/deep.txt",
        PROMPT,
    );
    let out = vm.run("vfsync", "vfsync: version");
    assert!(!out.contains("error"), "{out}");

    // Another checkout on the host sees exactly the result.
    let other = tmp.path().join("other");
    vfsync(None, &["co", &repo_url, other.to_str().unwrap()]);
    assert_eq!(
        tree(&other),
        owned(&[
            ("conflict.txt", Some("conflict-base\n")),
            ("new-name.txt", Some("renamed-content\n")),
            ("new.txt", Some("created-in-guest\n")),
            ("seed.txt", Some("edited-in-guest\n")),
            ("sub", None),
            ("sub/dir", None),
            ("sub/dir/deep.txt", Some("deep-in-guest\n")),
        ])
    );

    // The server stores no plaintext of any file or name.
    for f in server.files() {
        let bytes = std::fs::read(&f).unwrap();
        let name = f.to_string_lossy().into_owned();
        for needle in [
            "created-in-guest",
            "edited-in-guest",
            "renamed-content",
            "deep-in-guest",
            "new-name",
            "deep.txt",
            "seed.txt",
            PASSWORD,
        ] {
            assert!(!name.contains(needle), "{name}");
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{name} holds {needle:?}"
            );
        }
    }

    // A change made by the host arrives in the guest after vfsync there.
    vfsync(Some(&host), &["sync"]);
    std::fs::write(host.join("from-host.txt"), "written-on-host\n").unwrap();
    vfsync(Some(&host), &["sync"]);
    vm.run("vfsync", "down from-host.txt");
    vm.run("cat from-host.txt", "written-on-host");

    // Changed on both sides: the guest's version is renamed NAME.1, the server's stays.
    std::fs::write(host.join("conflict.txt"), "conflict-host\n").unwrap();
    vfsync(Some(&host), &["sync"]);
    vm.run("echo conflict-guest > conflict.txt", PROMPT);
    vm.run("vfsync", "conflict conflict.txt -> conflict.txt.1");
    vm.run("cat conflict.txt", "conflict-host");
    vm.run("cat conflict.txt.1", "conflict-guest");

    // Tampered blobs on the server: a clear error in the guest, and nothing is lost.
    let before = server.files();
    std::fs::write(host.join("tamper.txt"), "tamper-victim\n").unwrap();
    vfsync(Some(&host), &["sync"]);
    let added: Vec<(PathBuf, Vec<u8>)> = server
        .files()
        .into_iter()
        .filter(|f| !before.contains(f) && f.to_string_lossy().contains("blobs"))
        .map(|f| {
            let b = std::fs::read(&f).unwrap();
            (f, b)
        })
        .collect();
    assert!(!added.is_empty(), "the host's sync stored blobs");
    for (f, b) in &added {
        let mut b = b.clone();
        let last = b.len() - 1;
        b[last] ^= 0x55;
        std::fs::write(f, b).unwrap();
    }
    vm.run("echo after-tamper > after.txt", PROMPT);
    let out = vm.run("vfsync", PROMPT);
    assert!(out.contains("failed authentication"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("vfsync: ")).count(),
        1,
        "one line: {out}"
    );
    vm.run("vfsync status", "pending yes");
    for (f, b) in &added {
        std::fs::write(f, b).unwrap();
    }
    vm.run("vfsync", "up after.txt");
    vm.run("cat tamper.txt", "tamper-victim");
    vfsync(Some(&host), &["sync"]);
    assert_eq!(
        std::fs::read_to_string(host.join("after.txt")).unwrap(),
        "after-tamper\n"
    );
    assert_eq!(
        std::fs::read_to_string(host.join("tamper.txt")).unwrap(),
        "tamper-victim\n"
    );

    // The server goes down: a clear line, and the change stays pending until it is back.
    server.stop();
    vm.run("echo while-down > down.txt", PROMPT);
    let out = vm.run("vfsync", PROMPT);
    assert!(out.contains("vfsync: server unreachable"), "{out}");
    server.restart();
    vm.run("vfsync", "up down.txt");
    vm.run("vflogout", "vflogout: signed out alice");
    server.stop();
    let out = vflogin(&mut vm, "alice", PASSWORD, PROMPT);
    assert!(out.contains("vflogin: server unreachable"), "{out}");
    server.restart();

    // Changes made after the last vfsync are synced when the guest powers off.
    vflogin(&mut vm, "alice", PASSWORD, "signed in as alice");
    vm.run("echo at-exit > /home/alice/exit.txt", PROMPT);
    vm.send("poweroff");
    let status = vm.wait_exit();
    assert!(status.success(), "{status:?}");
    // Four sign-ins and two failed ones: no password on the console, ever.
    assert_no_password(&vm);
    vfsync(Some(&host), &["sync"]);
    assert_eq!(
        std::fs::read_to_string(host.join("exit.txt")).unwrap(),
        "at-exit\n"
    );
    assert_eq!(
        std::fs::read_to_string(host.join("down.txt")).unwrap(),
        "while-down\n"
    );
}

/// Deterministic, incompressible bytes (xorshift64*), so the 10 MB file is not a run of zeros.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        v.extend_from_slice(&seed.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// The figures of bench/home.sh (written to bench/HOME-RESULTS.md): not a test, a measurement,
/// so it is ignored by `cargo test`. A home of 1,000 small files in 10 directories and a
/// 10 MiB file is made on the host and synced; then, in `vfvm --sync`: the time from the
/// password's Enter to the shell prompt in the home (`vflogin`) and to the listing of all
/// 1,001 files; the first read of the 10 MiB file; and `vfsync` of 100 changed files. The
/// figures (seconds, host wall clock) are written as `key value` lines to the file named by
/// VF_HOME_BENCH_OUT (else printed).
#[test]
#[ignore = "a benchmark: run by bench/home.sh"]
fn bench_home() {
    const BIG: usize = 10 * 1024 * 1024;
    let server = Server::start();
    let url = server.url();
    vfsync(None, &["register", "-u", "alice", &url]);
    let tmp = tempfile::tempdir().unwrap();
    let host = tmp.path().join("host");
    let repo_url = format!("{url}/u/alice/home");
    vfsync(None, &["co", &repo_url, host.to_str().unwrap()]);
    for d in 0..10 {
        let dir = host.join(format!("d{d}"));
        std::fs::create_dir(&dir).unwrap();
        for i in 0..100 {
            let line = format!("file d{d}/f{i:03}\n");
            std::fs::write(dir.join(format!("f{i:03}")), line.repeat(1024 / line.len())).unwrap();
        }
    }
    std::fs::write(host.join("big.bin"), noise(BIG, 0x5eed)).unwrap();
    let t = Instant::now();
    vfsync(Some(&host), &["sync"]);
    let host_upload = t.elapsed();

    let config = root().join("vm-configs/linux-rv64.json");
    let t = Instant::now();
    let mut vm = Vm::spawn(&["--sync", &url, config.to_str().unwrap()], true);
    vm.expect("to power off.");
    vm.expect(PROMPT);
    let boot = t.elapsed();

    vm.send("vflogin alice");
    vm.expect("Password for alice: ");
    let t = Instant::now();
    vm.send(PASSWORD);
    vm.expect("signed in as alice");
    vm.expect(PROMPT);
    let login = t.elapsed();
    vm.run("find . -type f | wc -l", "\r\n1001\r\n");
    let usable = t.elapsed();

    let t = Instant::now();
    vm.run("wc -c < big.bin", &format!("\r\n{BIG}\r\n"));
    let open_big = t.elapsed();
    let t = Instant::now();
    vm.run("wc -c < big.bin", &format!("\r\n{BIG}\r\n"));
    let reread_big = t.elapsed();

    // 100 files changed (f000..f009 of each directory), then synced at once, on one command
    // line (so the automatic sync, 3 s after the last change, cannot run first).
    vm.send("for f in d*/f00?; do echo changed >> $f; done; echo EDITED-$((2+3)); vfsync");
    vm.expect("EDITED-5");
    let t = Instant::now();
    let out = vm.expect("vfsync: version");
    let line = vm.expect(PROMPT);
    let sync100 = t.elapsed();
    assert!(line.contains(" 100 uploaded,"), "{out}{line}");
    vm.end_with("poweroff", "poweroff");

    let figures = format!(
        "host_upload {:.2}\nboot {:.2}\nvflogin {:.2}\nusable {:.2}\nopen_10mb {:.2}\nreread_10mb {:.2}\nsync_100 {:.2}\n",
        host_upload.as_secs_f64(),
        boot.as_secs_f64(),
        login.as_secs_f64(),
        usable.as_secs_f64(),
        open_big.as_secs_f64(),
        reread_big.as_secs_f64(),
        sync100.as_secs_f64(),
    );
    match std::env::var_os("VF_HOME_BENCH_OUT") {
        Some(p) => std::fs::write(p, figures).unwrap(),
        None => print!("{figures}"),
    }
}
