//! `vfvm CONFIG.json`: boots the machine a VM configuration describes, with
//! its console on stdin/stdout.
//!
//! - drives (`drive0`..`drive3`) are virtio-blk disks over the image files,
//!   copy-on-write in memory unless `--rw` writes through to the files;
//! - shares (`fs0`..`fs3`) are virtio-9p host directories with their tags;
//! - a virtio-rng draws from the host's generator (`getrandom`);
//! - on a terminal the console is raw (Ctrl-A X quits, Ctrl-A H helps) and
//!   its size follows the terminal; on pipes bytes pass through untouched.
//!
//! The exit status is the guest's: 0 after `poweroff`, the test finisher's
//! code after a failure exit. Configuration and host errors exit with
//! [`EXIT_ERROR`] and a message naming what is wrong; a guest the emulator
//! cannot continue (a trap into M mode without firmware) with [`EXIT_FATAL`].

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use vf_board::clock::{StdClock, TimeMode};
use vf_board::config::{self, ConfigError, Overrides};
use vf_board::fdt::VirtioKind;
use vf_board::machine::{BoardError, Event, Exit, Machine};
use vf_devices::p9::Config as P9Config;
use vf_devices::virtio::blk::Blk;
use vf_devices::virtio::p9::{P9DeviceError, P9};
use vf_devices::virtio::rng::{EntropyError, EntropySource, Rng};
use vf_devices::virtio::{VirtioMmio, VirtioTransport};
use vf_host::block::{BlockMode, FileBlock, FileBlockError};
use vf_host::p9fs::HostFs;

use crate::home::{self, HomeHost, HomeSetupError};
use crate::terminal::{self, HostEvent};

/// Exit status for a configuration or host error.
pub const EXIT_ERROR: u8 = 125;
/// Exit status when the guest stopped in a way the emulator cannot continue.
pub const EXIT_FATAL: u8 = 126;
/// Instructions between two looks at host input.
const BUDGET: u64 = 1 << 20;

/// Options of `vfvm CONFIG.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmOptions {
    /// The VM configuration file.
    pub config: PathBuf,
    /// Write drive changes through to the image files.
    pub rw: bool,
    /// Appended to the kernel command line.
    pub append: Option<String>,
    /// Overrides `memory_size` (MiB).
    pub memory_mib: Option<u64>,
    /// Time from the instruction count instead of the host clock.
    pub deterministic: bool,
    /// Print instructions, seconds and MIPS to stderr at the end, and when
    /// the console first shows `mark` (if set).
    pub stats: bool,
    /// With `stats`: report the time and instruction count at which this
    /// text first appears on the console (e.g. the shell prompt).
    pub mark: Option<String>,
    /// The vfsync server of the synced home (overrides the config's `sync`).
    pub sync: Option<String>,
    /// Compile hot RV64 code to host code (`--no-jit` turns it off).
    pub jit: bool,
}

/// Why the VM could not start.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// The configuration is wrong.
    #[error("{path}: {source}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        source: ConfigError,
    },
    /// The machine could not be assembled.
    #[error("{path}: {source}")]
    Board {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        source: BoardError,
    },
    /// A drive image cannot be opened.
    #[error("drive{index} {path}: {source}")]
    Drive {
        /// N of driveN.
        index: usize,
        /// The image.
        path: PathBuf,
        /// Why.
        source: FileBlockError,
    },
    /// A shared directory cannot be opened.
    #[error("fs{index} {path}: {source}")]
    Share {
        /// N of fsN.
        index: usize,
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A share's tag is refused by the device.
    #[error("fs{index}: {source}")]
    Tag {
        /// N of fsN.
        index: usize,
        /// Why.
        source: P9DeviceError,
    },
    /// The synced home could not be set up.
    #[error("{0}")]
    Home(#[from] HomeSetupError),
    /// A share of the config uses the synced home's tag.
    #[error("fs{0}: the tag \"home\" is the synced home's (--sync / \"sync\"); use another tag")]
    HomeTag(usize),
    /// The terminal or a host thread could not be set up.
    #[error("console: {0}")]
    Console(std::io::Error),
}

/// The host's random number generator.
struct OsEntropy;

impl EntropySource for OsEntropy {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        getrandom::fill(buf).map_err(|e| EntropyError(e.to_string()))
    }
}

/// Runs a config whose machine is riscv128: its `kernel` (or `bios`) is a raw
/// bare-metal program ([`vf_board::elf::run_raw_report`], docs/rv128.md).
/// `None` for any other config (and for one that does not load: [`build`]
/// reports that).
pub fn riscv128(
    path: &std::path::Path,
    memory_mib: Option<u64>,
    max_insns: Option<u64>,
    stats: bool,
) -> Option<ExitCode> {
    let parsed = config::load(path).ok()?;
    if parsed.config.machine != config::Machine::Riscv128 {
        return None;
    }
    for w in &parsed.warnings {
        eprintln!("vfvm: {}: {w}", path.display());
    }
    let cfg = parsed.config;
    let Some(prog) = cfg.kernel.clone().or_else(|| cfg.bios.clone()) else {
        eprintln!(
            "vfvm: {}: a riscv128 config names its program as kernel",
            path.display()
        );
        return Some(ExitCode::from(EXIT_ERROR));
    };
    let opts = vf_board::elf::RunOptions {
        ram_mib: memory_mib.unwrap_or(cfg.memory_mib),
        max_insns,
        jit: false,
    };
    Some(crate::bare_metal(&prog, stats, |data, console| {
        vf_board::elf::run_raw_report(data, 128, &opts, console)
    }))
}

/// Builds the machine of `opts`, and the host side of its synced home if it has one.
pub fn build(opts: &VmOptions) -> Result<(Machine, Option<HomeHost>), VmError> {
    let cfg_err = |source| VmError::Config {
        path: opts.config.clone(),
        source,
    };
    let parsed = config::load(&opts.config).map_err(cfg_err)?;
    for w in &parsed.warnings {
        eprintln!("vfvm: {}: {w}", opts.config.display());
    }
    let mut cfg = parsed.config;
    cfg.apply(&Overrides {
        memory_mib: opts.memory_mib,
        append: opts.append.clone(),
    })
    .map_err(cfg_err)?;
    let images = cfg.read_boot_images().map_err(cfg_err)?;

    let mut home = None;
    let mut home_index = None;
    if let Some(url) = opts.sync.clone().or_else(|| cfg.sync.clone()) {
        if let Some(s) = cfg.shares.iter().find(|s| s.tag == home::TAG) {
            return Err(VmError::HomeTag(s.index));
        }
        let index = cfg.shares.len();
        cfg.shares.push(config::Share {
            index,
            file: PathBuf::new(),
            tag: home::TAG.to_owned(),
        });
        home_index = Some(index);
        home = Some(home::setup(&url)?);
    }
    let mut host = None;

    let mut devices: Vec<Box<dyn VirtioTransport>> = Vec::new();
    let mut drives = cfg.drives.iter();
    let mut shares = cfg.shares.iter();
    for d in cfg.virtio_devices() {
        match d.kind {
            VirtioKind::Console => {}
            VirtioKind::Entropy => devices.push(Box::new(VirtioMmio::new(Rng::new(OsEntropy)))),
            VirtioKind::Block => {
                let Some(drive) = drives.next() else { continue };
                let mode = if opts.rw {
                    BlockMode::ReadWrite
                } else {
                    BlockMode::CopyOnWrite
                };
                let file = FileBlock::open(&drive.file, mode).map_err(|source| VmError::Drive {
                    index: drive.index,
                    path: drive.file.clone(),
                    source,
                })?;
                devices.push(Box::new(VirtioMmio::new(Blk::new(file))));
            }
            VirtioKind::NineP => {
                let Some(share) = shares.next() else { continue };
                if Some(share.index) == home_index {
                    let Some((fs, h)) = home.take() else { continue };
                    let dev = P9::new(fs, P9Config::default(), home::TAG).map_err(|source| {
                        VmError::Tag {
                            index: share.index,
                            source,
                        }
                    })?;
                    devices.push(Box::new(VirtioMmio::new(dev)));
                    host = Some(h);
                    continue;
                }
                let fs = HostFs::new(&share.file).map_err(|source| VmError::Share {
                    index: share.index,
                    path: share.file.clone(),
                    source,
                })?;
                let dev = P9::new(fs, P9Config::default(), &share.tag).map_err(|source| {
                    VmError::Tag {
                        index: share.index,
                        source,
                    }
                })?;
                devices.push(Box::new(VirtioMmio::new(dev)));
            }
        }
    }
    if cfg.shares.len() > usize::from(home_index.is_some()) {
        // Every fid the guest holds is an open descriptor.
        let _ = HostFs::raise_fd_limit();
    }
    let time = if opts.deterministic {
        TimeMode::Deterministic
    } else {
        TimeMode::Host(Box::new(StdClock::new()))
    };
    let mut machine =
        Machine::new(&cfg, &images, devices, time).map_err(|source| VmError::Board {
            path: opts.config.clone(),
            source,
        })?;
    if opts.jit {
        if let Err(e) = machine.set_jit(true) {
            // Only speed is lost.
            eprintln!("vfvm: warning: interpreting only ({e})");
        }
    }
    Ok((machine, host))
}

/// Finds `mark` in the console output seen so far (keeping only a tail).
struct MarkWatch {
    mark: Vec<u8>,
    tail: Vec<u8>,
    found: bool,
}

impl MarkWatch {
    fn feed(&mut self, data: &[u8]) -> bool {
        if self.found || self.mark.is_empty() {
            return false;
        }
        self.tail.extend_from_slice(data);
        if self.tail.windows(self.mark.len()).any(|w| w == self.mark) {
            self.found = true;
            return true;
        }
        let keep = self.mark.len() - 1;
        if self.tail.len() > keep {
            self.tail.drain(..self.tail.len() - keep);
        }
        false
    }
}

/// Runs `vfvm CONFIG.json` and returns the process exit status.
pub fn main(opts: &VmOptions) -> ExitCode {
    let start = Instant::now();
    let (mut machine, mut home) = match build(opts) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("vfvm: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let tty = terminal::stdin_is_tty();
    let (tx, rx) = terminal::channel();
    let setup = || -> std::io::Result<Option<terminal::RawMode>> {
        terminal::spawn_signal_thread(tx.clone())?;
        let raw = if tty {
            Some(terminal::enter_raw_mode()?)
        } else {
            None
        };
        terminal::spawn_stdin_reader(tx.clone(), tty)?;
        Ok(raw)
    };
    let raw = match setup() {
        Ok(r) => r,
        Err(e) => {
            terminal::restore();
            eprintln!("vfvm: {}", VmError::Console(e));
            return ExitCode::from(EXIT_ERROR);
        }
    };
    if let Some(h) = home.as_mut() {
        // Deterministic time only moves when an idle period is waited out in full, so the
        // tick cannot shorten the waits there.
        h.set_wake(tx.clone(), !opts.deterministic);
    }
    drop(tx);
    if tty {
        if let Some((cols, rows)) = terminal::size() {
            machine.set_console_size(cols, rows);
        }
    }
    let nl = if tty { "\r\n" } else { "\n" };
    let mut watch = MarkWatch {
        mark: opts.mark.clone().unwrap_or_default().into_bytes(),
        tail: Vec::new(),
        found: false,
    };
    let result = run_loop(&mut machine, &rx, tty, home.as_mut(), |m, out| {
        if opts.stats && watch.feed(out) {
            report(m.insns(), start, "mark", nl);
        }
    });
    drop(raw);
    if let Some(msg) = home.as_mut().and_then(HomeHost::final_sync) {
        eprintln!("{msg}");
    }
    drop(home);
    if opts.stats {
        report(machine.insns(), start, "end", "\n");
        eprintln!(
            "vfvm: compiled code: {} blocks, {} instructions ({:.1} %)",
            machine.jit_compiled(),
            machine.jit_insns(),
            machine.jit_insns() as f64 * 100.0 / machine.insns().max(1) as f64
        );
    }
    match result {
        Ended::Exit(Exit::Poweroff(code)) => ExitCode::from(code.min(255) as u8),
        Ended::Exit(Exit::Reset) => {
            eprintln!("vfvm: the guest asked for a reboot; exiting");
            ExitCode::SUCCESS
        }
        Ended::Exit(Exit::Fatal(msg)) => {
            eprintln!("vfvm: {}: {msg}", opts.config.display());
            ExitCode::from(EXIT_FATAL)
        }
        Ended::Quit => {
            eprintln!("vfvm: quit");
            ExitCode::SUCCESS
        }
        Ended::Output(e) => {
            eprintln!("vfvm: console output: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn report(insns: u64, start: Instant, what: &str, nl: &str) {
    let secs = start.elapsed().as_secs_f64();
    eprint!(
        "vfvm: {what}: {secs:.3} s, {insns} instructions, {:.1} MIPS{nl}",
        insns as f64 / secs.max(1e-9) / 1e6
    );
}

/// How the loop ended.
enum Ended {
    Exit(Exit),
    Quit,
    Output(std::io::Error),
}

fn run_loop(
    m: &mut Machine,
    rx: &Receiver<HostEvent>,
    tty: bool,
    mut home: Option<&mut HomeHost>,
    mut on_output: impl FnMut(&Machine, &[u8]),
) -> Ended {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut stdin_open = true;
    loop {
        let event = m.run(BUDGET);
        let data = m.take_output();
        if !data.is_empty() {
            on_output(m, &data);
            if let Err(e) = out.write_all(&data).and_then(|_| out.flush()) {
                return Ended::Output(e);
            }
        }
        // Jobs that progressed may complete parked 9p requests: run the machine again at
        // once (it services the devices first) instead of waiting.
        let progressed = home.as_deref_mut().is_some_and(HomeHost::pump);
        let mut first = match event {
            Event::Yield => None,
            Event::Idle { .. } if progressed => None,
            Event::Exit(e) => return Ended::Exit(e),
            Event::Idle { timeout } => {
                // With a home, wake up at least once per tick (automatic sync).
                let (timeout, capped) = match (timeout, home.as_deref()) {
                    (t, Some(h)) if h.caps_idle() => {
                        let cap = h.max_sleep();
                        match t {
                            Some(t) if t <= cap => (Some(t), false),
                            _ => (Some(cap), true),
                        }
                    }
                    (t, _) => (t, false),
                };
                let got = match (timeout, stdin_open) {
                    (Some(t), _) => match rx.recv_timeout(t) {
                        Ok(e) => Some(e),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => {
                            std::thread::sleep(t);
                            None
                        }
                    },
                    (None, true) => rx.recv().ok(),
                    (None, false) => {
                        // Nothing can ever wake the guest.
                        return Ended::Exit(Exit::Fatal(
                            "the guest waits for an interrupt that can never come".into(),
                        ));
                    }
                };
                if got.is_none() && !capped {
                    m.idle_elapsed();
                }
                got
            }
        };
        while let Some(e) = first.take().or_else(|| rx.try_recv().ok()) {
            match e {
                HostEvent::Input(bytes) => {
                    m.push_input(&bytes);
                }
                HostEvent::Eof => stdin_open = false,
                HostEvent::Resize => {
                    if tty {
                        if let Some((c, r)) = terminal::size() {
                            m.set_console_size(c, r);
                        }
                    }
                }
                HostEvent::Quit => return Ended::Quit,
                HostEvent::Help => eprint!("\r\n{}", terminal::HELP),
                HostEvent::Wake => {}
            }
        }
    }
}
