//! `vfvm`: the native runner of the vfsync virtual machine.
//!
//! `vfvm [--rw] [--append ARGS] [-m MiB] [--deterministic] [--stats] CONFIG.json`
//! boots the VM a configuration file describes (see `vm.rs`).
//!
//! `vfvm --elf PROG.elf [-m MiB] [--max-insns N] [--stats]` runs a bare-metal
//! ELF program; `vfvm --raw PROG.bin [--xlen 32|64|128] ...` a raw binary
//! loaded and started at 0x8000_0000 (HTIF tohost at 0x0100_0000; the way
//! to run RV128 programs, docs/rv128.md). A config with `machine: "riscv128"`
//! runs its `kernel` (or `bios`) the same way. The exit status is the program's HTIF exit
//! code (capped at 255); emulator errors exit with 125, and an exhausted
//! `--max-insns` budget with 124.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use vf_board::elf::{run_raw_report, run_report, RunError, RunOptions};

mod home;
mod terminal;
mod vm;

/// Exit status of a run stopped by --max-insns.
const EXIT_MAX_INSNS: u8 = 124;
/// Exit status of an emulator error (bad file, fatal condition).
const EXIT_ERROR: u8 = 125;

#[derive(Parser, Debug)]
#[command(name = "vfvm", version, about = "The vfsync RISC-V virtual machine")]
struct Args {
    /// Run a bare-metal RV32/RV64 ELF program (HTIF tohost exit, spike CLINT).
    #[arg(
        long,
        value_name = "PROG.elf",
        conflicts_with = "config",
        required_unless_present_any = ["config", "raw"]
    )]
    elf: Option<PathBuf>,
    /// Run a bare-metal raw binary at 0x8000_0000 (HTIF tohost at 0x0100_0000).
    #[arg(long, value_name = "PROG.bin", conflicts_with_all = ["config", "elf"])]
    raw: Option<PathBuf>,
    /// XLEN of the hart for --raw: 32, 64 or 128.
    #[arg(long, value_name = "BITS", default_value_t = 128, requires = "raw")]
    xlen: u32,
    /// Boot the VM this configuration file describes (TinyEMU's JSON format).
    #[arg(value_name = "CONFIG.json")]
    config: Option<PathBuf>,
    /// Write drive changes through to the image files (default: copy-on-write).
    #[arg(long, requires = "config")]
    rw: bool,
    /// Append ARGS to the kernel command line.
    #[arg(long, value_name = "ARGS", requires = "config")]
    append: Option<String>,
    /// Time follows the instruction count (reproducible runs).
    #[arg(long, requires = "config")]
    deterministic: bool,
    /// With --stats: report when the console first shows this text.
    #[arg(long, value_name = "TEXT", requires = "config")]
    mark: Option<String>,
    /// RAM size in MiB (default 128 with --elf, the config's memory_size otherwise).
    #[arg(short = 'm', long = "mem", value_name = "MiB")]
    mem: Option<u64>,
    /// Serve the synced, encrypted home (`vflogin`) from this vfsync server
    /// (overrides the config's "sync").
    #[arg(long, value_name = "SERVER_URL", requires = "config")]
    sync: Option<String>,
    /// Stop with an error after this many instructions.
    #[arg(long, value_name = "N")]
    max_insns: Option<u64>,
    /// Print instructions, seconds and MIPS to stderr.
    #[arg(long)]
    stats: bool,
    /// Interpret every instruction (do not compile hot RV64 code to host code).
    #[arg(long)]
    no_jit: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(raw) = args.raw {
        let opts = RunOptions {
            ram_mib: args.mem.unwrap_or(128),
            max_insns: args.max_insns,
            jit: !args.no_jit,
        };
        return bare_metal(&raw, args.stats, |data, console| {
            run_raw_report(data, args.xlen, &opts, console)
        });
    }
    if let Some(config) = &args.config {
        if let Some(code) = vm::riscv128(config, args.mem, args.max_insns, args.stats) {
            return code;
        }
    }
    let Some(elf) = args.elf else {
        return vm::main(&vm::VmOptions {
            config: args.config.unwrap_or_default(),
            rw: args.rw,
            append: args.append,
            memory_mib: args.mem,
            deterministic: args.deterministic,
            stats: args.stats,
            mark: args.mark,
            sync: args.sync,
            jit: !args.no_jit,
        });
    };
    let opts = RunOptions {
        ram_mib: args.mem.unwrap_or(128),
        max_insns: args.max_insns,
        jit: !args.no_jit,
    };
    bare_metal(&elf, args.stats, |data, console| {
        run_report(data, &opts, console)
    })
}

/// Runs the bare-metal program in file `prog` with `run`, its console on
/// stdout; the exit status as the module documentation says.
pub(crate) fn bare_metal(
    prog: &std::path::Path,
    stats: bool,
    run: impl FnOnce(&[u8], &mut dyn Write) -> Result<vf_board::elf::RunReport, RunError>,
) -> ExitCode {
    let elf = prog;
    let data = match std::fs::read(elf) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("vfvm: cannot read {}: {e}", elf.display());
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let stdout = std::io::stdout();
    let mut console = stdout.lock();
    let start = Instant::now();
    let result = run(&data, &mut console);
    let secs = start.elapsed().as_secs_f64();
    let _ = console.flush();
    let insns = match &result {
        Ok(r) => Some(r.insns),
        Err(RunError::MaxInsns { executed }) => Some(*executed),
        Err(_) => None,
    };
    if let (true, Some(n)) = (stats, insns) {
        eprintln!("instructions: {n}");
        eprintln!("seconds: {secs:.3}");
        eprintln!("MIPS: {:.1}", n as f64 / secs.max(1e-9) / 1e6);
    }
    match result {
        Ok(r) => ExitCode::from(r.exit_code.min(255) as u8),
        Err(e @ RunError::MaxInsns { .. }) => {
            eprintln!("vfvm: {}: {e}", elf.display());
            ExitCode::from(EXIT_MAX_INSNS)
        }
        Err(e) => {
            eprintln!("vfvm: {}: {e}", elf.display());
            ExitCode::from(EXIT_ERROR)
        }
    }
}
