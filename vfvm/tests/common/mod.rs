//! The harness shared by the tests that boot Linux in `vfvm` (linux.rs, home.rs): a running
//! vfvm whose console is read over a pipe (into a transcript) and typed into over another.
//!
//! Every wait is bounded by [`WAIT`]; dropping a [`Vm`] kills the child, so a failing test
//! leaves nothing running.

// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The longest wait for one expected output (a boot included): generous, for loaded 2-core CI
/// machines and unoptimised board code. A test that fails waits this long once.
pub const WAIT: Duration = Duration::from_secs(600);

/// The end of the guest shell's prompt (`PS1='\w # '`).
pub const PROMPT: &str = " # ";

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The committed rv64 images (guest/images).
pub fn images() -> PathBuf {
    root().join("guest/images")
}

/// A config of vm-configs/.
pub fn committed_config(name: &str) -> PathBuf {
    root().join("vm-configs").join(name)
}

/// The console transcript: the bytes so far and how many output streams are still open.
struct Output {
    data: Mutex<(Vec<u8>, usize)>,
    cond: Condvar,
}

/// A running vfvm whose console we read and type into.
pub struct Vm {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Output>,
    /// Where the next search starts.
    cursor: usize,
}

impl Vm {
    /// Starts `vfvm ARGS...`. Its stdout (the guest's console) goes to the transcript; with
    /// `capture_stderr` vfvm's own messages (stderr) go there too, else to the test's stderr.
    pub fn spawn<S: AsRef<OsStr>>(args: &[S], capture_stderr: bool) -> Vm {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vfvm"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if capture_stderr {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("spawn vfvm");
        let stdin = child.stdin.take();
        let mut streams: Vec<Box<dyn Read + Send>> =
            vec![Box::new(child.stdout.take().expect("stdout"))];
        if capture_stderr {
            streams.push(Box::new(child.stderr.take().expect("stderr")));
        }
        let out = Arc::new(Output {
            data: Mutex::new((Vec::new(), streams.len())),
            cond: Condvar::new(),
        });
        for mut stream in streams {
            let o = out.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    let mut g = o.data.lock().unwrap();
                    if n == 0 {
                        g.1 -= 1;
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

    /// Waits until `what` appears after the cursor; moves the cursor past it and returns what
    /// came before it (from the old cursor), `what` included.
    pub fn expect(&mut self, what: &str) -> String {
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
            if g.1 == 0 || now >= deadline {
                panic!(
                    "waiting for {what:?}: {}; console so far:\n{}",
                    if g.1 == 0 {
                        "vfvm closed its output"
                    } else {
                        "timed out"
                    },
                    String::from_utf8_lossy(&g.0)
                );
            }
            g = self.out.cond.wait_timeout(g, deadline - now).unwrap().0;
        }
    }

    /// Everything vfvm wrote so far.
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.out.data.lock().unwrap().0).into_owned()
    }

    /// Types `line` and Enter.
    pub fn send(&mut self, line: &str) {
        let s = self.stdin.as_mut().expect("stdin open");
        s.write_all(line.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
        s.flush().unwrap();
    }

    /// Runs a shell command, waits for `expect` and then for the prompt; returns the output up
    /// to the prompt.
    pub fn run(&mut self, cmd: &str, expect: &str) -> String {
        self.send(cmd);
        let mut out = self.expect(expect);
        if expect != PROMPT {
            out.push_str(&self.expect(PROMPT));
        }
        out
    }

    /// Types `cmd` (poweroff, halt, reboot or exit), waits for init's "Requesting system
    /// WHAT" and for vfvm to end with status 0.
    pub fn end_with(&mut self, cmd: &str, what: &str) {
        self.send(cmd);
        self.expect(&format!("Requesting system {what}"));
        let status = self.wait_exit();
        assert_eq!(status.code(), Some(0), "{status:?}");
    }

    /// Waits (at most [`WAIT`]) for vfvm to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
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
