//! `vfvm`: the native runner of the vfsync virtual machine.
//!
//! Today it runs bare-metal ELF programs: `vfvm --elf PROG.elf [-m MiB]
//! [--max-insns N] [--stats]`. The exit status is the program's HTIF exit
//! code (capped at 255); emulator errors exit with 125, and an exhausted
//! `--max-insns` budget with 124.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use vf_board::elf::{run_report, RunError, RunOptions};

/// Exit status of a run stopped by --max-insns.
const EXIT_MAX_INSNS: u8 = 124;
/// Exit status of an emulator error (bad file, fatal condition).
const EXIT_ERROR: u8 = 125;

#[derive(Parser, Debug)]
#[command(name = "vfvm", version, about = "The vfsync RISC-V virtual machine")]
struct Args {
    /// Run a bare-metal RV32/RV64 ELF program (HTIF tohost exit, spike CLINT).
    #[arg(long, value_name = "PROG.elf")]
    elf: PathBuf,
    /// RAM size in MiB.
    #[arg(short = 'm', long = "mem", value_name = "MiB", default_value_t = 128)]
    mem: u64,
    /// Stop with an error after this many instructions.
    #[arg(long, value_name = "N")]
    max_insns: Option<u64>,
    /// Print instructions, seconds and MIPS to stderr.
    #[arg(long)]
    stats: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let data = match std::fs::read(&args.elf) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("vfvm: cannot read {}: {e}", args.elf.display());
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let opts = RunOptions {
        ram_mib: args.mem,
        max_insns: args.max_insns,
    };
    let stdout = std::io::stdout();
    let mut console = stdout.lock();
    let start = Instant::now();
    let result = run_report(&data, &opts, &mut console);
    let secs = start.elapsed().as_secs_f64();
    let _ = console.flush();
    let insns = match &result {
        Ok(r) => Some(r.insns),
        Err(RunError::MaxInsns { executed }) => Some(*executed),
        Err(_) => None,
    };
    if let (true, Some(n)) = (args.stats, insns) {
        eprintln!("instructions: {n}");
        eprintln!("seconds: {secs:.3}");
        eprintln!("MIPS: {:.1}", n as f64 / secs.max(1e-9) / 1e6);
    }
    match result {
        Ok(r) => ExitCode::from(r.exit_code.min(255) as u8),
        Err(e @ RunError::MaxInsns { .. }) => {
            eprintln!("vfvm: {}: {e}", args.elf.display());
            ExitCode::from(EXIT_MAX_INSNS)
        }
        Err(e) => {
            eprintln!("vfvm: {}: {e}", args.elf.display());
            ExitCode::from(EXIT_ERROR)
        }
    }
}
