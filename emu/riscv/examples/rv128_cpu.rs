//! Writes the RV128 port of bench/cpu.c (`vf_riscv::asm::programs::cpu_bench`)
//! as a raw binary: `cargo run -p vf-riscv --example rv128_cpu -- OUT.bin [ROUNDS]`.
//! bench/rv128.sh runs it with `vfvm --raw OUT.bin --stats`.

use std::process::ExitCode;

use vf_riscv::asm::programs::{cpu_bench, cpu_bench_expected};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(out) = args.get(1) else {
        eprintln!("usage: rv128_cpu OUT.bin [ROUNDS]");
        return ExitCode::from(2);
    };
    let rounds = match args.get(2).map(|r| r.parse::<u32>()) {
        None => 40,
        Some(Ok(r)) if r > 0 => r,
        _ => {
            eprintln!("rv128_cpu: ROUNDS must be a positive number");
            return ExitCode::from(2);
        }
    };
    match std::fs::write(out, cpu_bench(rounds, cpu_bench_expected(rounds))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rv128_cpu: cannot write {out}: {e}");
            ExitCode::from(1)
        }
    }
}
