//! End-to-end: the synced home (docs/vflogin.md) in `vfvm --sync` against the real
//! `vfsync-server` on 127.0.0.1, with the host's `vfsync` command on the other side.
//!
//! The guest (the committed Linux image, whose init mounts the 9p share tagged `home` at
//! /home and installs vflogin/vfsync/vflogout) is driven over pipes. Every wait is bounded;
//! the server and the VM are killed when the test ends, however it ends.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The longest wait for one expected output (boot included; generous for loaded machines).
const WAIT: Duration = Duration::from_secs(240);
const PASSWORD: &str = "correct horse battery staple";
const PROMPT: &str = " # ";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A binary of the workspace next to vfvm, built on demand.
fn sibling(name: &str, package: &str) -> PathBuf {
    let vfvm = PathBuf::from(env!("CARGO_BIN_EXE_vfvm"));
    let bin = vfvm.with_file_name(name);
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "-p", package])
            .current_dir(root())
            .status()
            .expect("cargo build");
        assert!(st.success(), "building {package} failed");
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
        Command::new(sibling("vfsync-server", "vfsync-server"))
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
    let mut c = Command::new(sibling("vfsync", "vfsync-cli"));
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

struct Output {
    data: Mutex<(Vec<u8>, bool)>,
    cond: Condvar,
}

/// A running vfvm whose console we read and type into.
struct Vm {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Output>,
    cursor: usize,
}

impl Vm {
    fn start(args: &[&str]) -> Vm {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vfvm"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vfvm");
        let stdin = child.stdin.take();
        let out = Arc::new(Output {
            data: Mutex::new((Vec::new(), false)),
            cond: Condvar::new(),
        });
        // stdout and stderr both go to the transcript (vfvm's own messages are on stderr).
        for mut stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let o = out.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    let mut g = o.data.lock().unwrap();
                    if n == 0 {
                        g.1 = true;
                        o.cond.notify_all();
                        return;
                    }
                    g.0.extend_from_slice(&buf[..n]);
                    o.cond.notify_all();
                }
            });
        }
        Vm {
            child,
            stdin,
            out,
            cursor: 0,
        }
    }

    /// Waits until `what` appears after the cursor; moves the cursor past it and returns
    /// what came before (from the old cursor).
    fn expect(&mut self, what: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut g = self.out.data.lock().unwrap();
        loop {
            if let Some(pos) = g.0[self.cursor..]
                .windows(what.len())
                .position(|w| w == what.as_bytes())
            {
                let start = self.cursor;
                self.cursor += pos + what.len();
                return String::from_utf8_lossy(&g.0[start..self.cursor]).into_owned();
            }
            let now = Instant::now();
            if now >= deadline || (g.1 && self.child.try_wait().ok().flatten().is_some()) {
                panic!(
                    "waiting for {what:?}: {}; console so far:\n{}",
                    if now >= deadline {
                        "timed out"
                    } else {
                        "vfvm exited"
                    },
                    String::from_utf8_lossy(&g.0)
                );
            }
            g = self
                .out
                .cond
                .wait_timeout(g, (deadline - now).min(Duration::from_secs(1)))
                .unwrap()
                .0;
        }
    }

    fn send(&mut self, line: &str) {
        let s = self.stdin.as_mut().expect("stdin open");
        s.write_all(line.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
        s.flush().unwrap();
    }

    /// Runs a shell command, waits for `expect` and then the prompt; returns the output up
    /// to the prompt.
    fn run(&mut self, cmd: &str, expect: &str) -> String {
        self.send(cmd);
        let mut out = self.expect(expect);
        if expect != PROMPT {
            out.push_str(&self.expect(PROMPT));
        }
        out
    }

    /// Signs in with `password`; returns vflogin's output.
    fn vflogin(&mut self, user: &str, password: &str, expect: &str) -> String {
        self.send(&format!("vflogin {user}"));
        self.expect(&format!("Password for {user}: "));
        // The script turns echo off (stty) after the prompt; input typed before that may be
        // flushed by the terminal, so give it a moment (not a timing assertion).
        std::thread::sleep(Duration::from_secs(3));
        self.send(password);
        let mut out = self.expect(expect);
        out.push_str(&self.expect(PROMPT));
        out
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "vfvm did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    let mut vm = Vm::start(&["--sync", &url, config.to_str().unwrap()]);
    vm.expect("to power off.");
    vm.expect(PROMPT);

    // Failures are one clear line.
    let out = vm.vflogin("alice", "not the password", PROMPT);
    assert!(out.contains("vflogin: wrong password"), "{out}");
    let out = vm.vflogin("carol", PASSWORD, PROMPT);
    assert!(out.contains("vflogin: unknown user carol"), "{out}");

    // Sign in; the shell moves into the home.
    let out = vm.vflogin("alice", PASSWORD, "signed in as alice");
    assert!(!out.contains(PASSWORD), "the password is not echoed");
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
    let out = vm.vflogin("alice", PASSWORD, PROMPT);
    assert!(out.contains("vflogin: server unreachable"), "{out}");
    server.restart();

    // Changes made after the last vfsync are synced when the guest powers off.
    vm.vflogin("alice", PASSWORD, "signed in as alice");
    vm.run("echo at-exit > /home/alice/exit.txt", PROMPT);
    vm.send("poweroff");
    let status = vm.wait_exit();
    assert!(status.success(), "{status:?}");
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
