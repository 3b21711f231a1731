//! Tests that cross crates: the ISA test suite (`tests/isa/*.S`, run on our
//! hart and on QEMU) and the differential tester (random programs whose
//! register and memory signature must agree between our hart and QEMU).
//!
//! This library holds what the test binaries share:
//! - [`Toolchain`]: assembling test programs with `riscv64-unknown-elf-gcc`;
//! - [`run_qemu`]: running a bare ELF on `qemu-system-riscv{32,64} -machine spike`;
//! - [`run_hart`]: running the same ELF in-process on our hart (`vf_board::elf::run`);
//! - [`isa`]: discovery and options of the ISA test programs;
//! - [`gen`]: the random program generator of the differential tester;
//! - [`par_map`]: a small work-sharing pool (the tests run on 2 cores).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[path = "diff/gen.rs"]
pub mod gen;
#[path = "isa/isa.rs"]
pub mod isa;

/// What can go wrong while building or running a test program.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required host tool is not installed.
    #[error("{tool} not found ({why}); install the Debian package `{package}` (CI installs it)")]
    MissingTool {
        /// The program that was looked for.
        tool: String,
        /// The package that provides it.
        package: &'static str,
        /// What happened when we tried to run it.
        why: String,
    },
    /// The assembler/linker rejected a program.
    #[error("assembling {what} failed:\n{stderr}")]
    Assemble {
        /// The source(s) being assembled.
        what: String,
        /// The compiler's diagnostics.
        stderr: String,
    },
    /// QEMU did not exit in time.
    #[error("QEMU ran longer than {0:?} and was killed")]
    QemuTimeout(Duration),
    /// QEMU died from a signal or could not start.
    #[error("QEMU failed: {0}")]
    Qemu(String),
    /// Our hart could not produce an exit code.
    #[error("vf hart: {0}")]
    Hart(#[from] vf_board::elf::RunError),
    /// A host I/O error (temporary files, pipes).
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or program involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io_err(path: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

/// Register width of a test program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Xlen {
    /// RV32.
    Rv32,
    /// RV64.
    Rv64,
}

impl Xlen {
    /// Both widths, in the order tests run them.
    pub const ALL: [Xlen; 2] = [Xlen::Rv32, Xlen::Rv64];

    /// 32 or 64.
    pub fn bits(self) -> u32 {
        match self {
            Xlen::Rv32 => 32,
            Xlen::Rv64 => 64,
        }
    }

    /// Parses "32"/"64"/"rv32"/"rv64".
    pub fn parse(s: &str) -> Option<Xlen> {
        match s.trim().trim_start_matches("rv") {
            "32" => Some(Xlen::Rv32),
            "64" => Some(Xlen::Rv64),
            _ => None,
        }
    }

    /// The QEMU system emulator for this width.
    pub fn qemu(self) -> &'static str {
        match self {
            Xlen::Rv32 => "qemu-system-riscv32",
            Xlen::Rv64 => "qemu-system-riscv64",
        }
    }
}

impl std::fmt::Display for Xlen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rv{}", self.bits())
    }
}

/// The directory of this crate (tests/), or `$VF_TESTS_DIR` (a snapshot of
/// it, so a long run is not disturbed by edits to the sources).
pub fn crate_dir() -> PathBuf {
    std::env::var_os("VF_TESTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The bare-metal cross toolchain (Debian `gcc-riscv64-unknown-elf`).
#[derive(Clone, Debug)]
pub struct Toolchain {
    gcc: PathBuf,
}

impl Toolchain {
    /// Finds `riscv64-unknown-elf-gcc` (or `$VF_RISCV_GCC`) and checks that it runs.
    pub fn find() -> Result<Toolchain> {
        let gcc = std::env::var_os("VF_RISCV_GCC")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("riscv64-unknown-elf-gcc"));
        match Command::new(&gcc).arg("--version").output() {
            Ok(o) if o.status.success() => Ok(Toolchain { gcc }),
            Ok(o) => Err(Error::MissingTool {
                tool: gcc.display().to_string(),
                package: "gcc-riscv64-unknown-elf",
                why: format!("`--version` exited with {}", o.status),
            }),
            Err(e) => Err(Error::MissingTool {
                tool: gcc.display().to_string(),
                package: "gcc-riscv64-unknown-elf",
                why: e.to_string(),
            }),
        }
    }

    /// The `-march` string of everything the hart implements.
    pub fn march(xlen: Xlen, compressed: bool) -> String {
        format!(
            "rv{}imafd{}_zicsr_zifencei",
            xlen.bits(),
            if compressed { "c" } else { "" }
        )
    }

    /// Assembles and links `sources` (preprocessed `.S` files) into `out`
    /// with the ISA framework's include directory and linker script.
    pub fn assemble(
        &self,
        sources: &[&Path],
        xlen: Xlen,
        compressed: bool,
        defines: &[String],
        out: &Path,
    ) -> Result<()> {
        let common = crate_dir().join("isa/common");
        let mut cmd = Command::new(&self.gcc);
        cmd.arg(format!("-march={}", Self::march(xlen, compressed)))
            .arg(match xlen {
                Xlen::Rv32 => "-mabi=ilp32",
                Xlen::Rv64 => "-mabi=lp64",
            })
            .args(["-nostdlib", "-nostartfiles", "-static", "-mcmodel=medany"])
            .arg("-Wl,--no-warn-rwx-segments")
            .arg(format!("-I{}", common.display()))
            .arg("-T")
            .arg(common.join("link.ld"));
        for d in defines {
            cmd.arg(format!("-D{d}"));
        }
        cmd.args(sources).arg("-o").arg(out);
        let what = sources
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let o = cmd
            .output()
            .map_err(io_err(self.gcc.display().to_string()))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(Error::Assemble {
                what,
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            })
        }
    }
}

/// How a program ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code (HTIF tohost payload >> 1; QEMU reports it modulo 256).
    pub code: u64,
    /// Everything the program printed through the HTIF console.
    pub console: Vec<u8>,
}

impl Outcome {
    /// The console output as text.
    pub fn console_text(&self) -> String {
        String::from_utf8_lossy(&self.console).into_owned()
    }
}

/// Checks that QEMU for `xlen` is installed.
pub fn check_qemu(xlen: Xlen) -> Result<()> {
    match Command::new(xlen.qemu()).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(Error::MissingTool {
            tool: xlen.qemu().into(),
            package: "qemu-system-misc",
            why: format!("`--version` exited with {}", o.status),
        }),
        Err(e) => Err(Error::MissingTool {
            tool: xlen.qemu().into(),
            package: "qemu-system-misc",
            why: e.to_string(),
        }),
    }
}

/// Runs `elf` on QEMU's spike machine (HTIF console on stdout) and returns
/// its exit code and console output. The process is killed after `timeout`.
pub fn run_qemu(elf: &Path, xlen: Xlen, timeout: Duration) -> Result<Outcome> {
    let mut child = Command::new(xlen.qemu())
        .args(["-machine", "spike", "-bios", "none", "-display", "none"])
        .args(["-monitor", "none", "-serial", "stdio", "-kernel"])
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::MissingTool {
            tool: xlen.qemu().into(),
            package: "qemu-system-misc",
            why: e.to_string(),
        })?;
    // Drain stdout and stderr on threads so a chatty program cannot block.
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(io_err(xlen.qemu()))? {
            break st;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::QemuTimeout(timeout));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let console = out_t.join().unwrap_or_default();
    let errs = err_t.join().unwrap_or_default();
    // QEMU's own errors (e.g. a missing tohost symbol) also exit non-zero:
    // a non-zero exit with something on stderr is QEMU's failure, not the
    // program's. Warnings next to a clean exit are ignored.
    match status.code() {
        Some(code) if code == 0 || errs.is_empty() => Ok(Outcome {
            code: code as u64,
            console,
        }),
        Some(code) => Err(Error::Qemu(format!(
            "exit status {code}, stderr: {}",
            String::from_utf8_lossy(&errs).trim()
        ))),
        None => Err(Error::Qemu(format!("killed by a signal ({status})"))),
    }
}

/// Runs `elf` in-process on our hart and returns its exit code and console.
pub fn run_hart(elf: &[u8], max_insns: u64) -> Result<Outcome> {
    let opts = vf_board::elf::RunOptions {
        max_insns: Some(max_insns),
        ..Default::default()
    };
    let mut console = Vec::new();
    let code = vf_board::elf::run(elf, &opts, &mut console)?;
    Ok(Outcome { code, console })
}

/// Number of worker threads: `$VF_TEST_JOBS` or the number of CPUs.
pub fn jobs() -> usize {
    std::env::var("VF_TEST_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
}

/// Applies `f` to every item on [`jobs`] threads; results keep input order.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs().min(items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every item was processed"))
        .collect()
}

/// Reads a file, with the path in the error.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(io_err(path.display().to_string()))
}

/// A fresh temporary directory for build products.
pub fn temp_dir(prefix: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(io_err("temporary directory"))
}
