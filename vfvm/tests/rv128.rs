//! RV128 programs (built with `vf_riscv::asm`) run by the real `vfvm`, as
//! raw binaries (`--raw`) and through a config with `machine: "riscv128"`.

use std::path::Path;
use std::process::{Command, Output};

use vf_board::riscv::asm::programs::{cpu_bench, cpu_bench_expected, factorial_table};

fn vfvm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vfvm"))
        .args(args)
        .output()
        .expect("vfvm runs")
}

/// The checksum of the factorial table, computed here independently of the program.
fn factorial_checksum() -> u128 {
    let mut f = 1u128;
    let mut h = 0u128;
    for n in 1..=34u128 {
        f = f.checked_mul(n).expect("34! fits in 128 bits");
        h = h.rotate_left(7) ^ f;
    }
    h
}

fn write(dir: &Path, name: &str, data: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn factorial_table_as_a_raw_binary() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "fact.bin",
        &factorial_table(factorial_checksum()),
    );
    let out = vfvm(&["--raw", &good, "--max-insns", "100000"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "rv128 factorials ok\n"
    );
    // The program really checks: a wrong expected checksum fails.
    let bad = write(
        dir.path(),
        "bad.bin",
        &factorial_table(factorial_checksum() ^ 1),
    );
    assert_eq!(
        vfvm(&["--raw", &bad, "--max-insns", "100000"])
            .status
            .code(),
        Some(1)
    );
    // On an RV64 hart the 128-bit instructions are illegal: it never exits.
    let out = vfvm(&["--raw", &good, "--xlen", "64", "--max-insns", "100000"]);
    assert_eq!(out.status.code(), Some(124));
}

#[test]
fn riscv128_config_runs_its_kernel() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fact.bin",
        &factorial_table(factorial_checksum()),
    );
    let cfg = write(
        dir.path(),
        "rv128.json",
        br#"{ version: 1, machine: "riscv128", memory_size: 16, kernel: "fact.bin" }"#,
    );
    let out = vfvm(&[&cfg]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "rv128 factorials ok\n"
    );
}

#[test]
fn cpu_benchmark_port_checks_itself() {
    let dir = tempfile::tempdir().unwrap();
    let bin = write(dir.path(), "cpu.bin", &cpu_bench(2, cpu_bench_expected(2)));
    let out = vfvm(&["--raw", &bin, "--max-insns", "100000000", "--stats"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = write(dir.path(), "bad.bin", &cpu_bench(2, cpu_bench_expected(3)));
    assert_eq!(
        vfvm(&["--raw", &bad, "--max-insns", "100000000"])
            .status
            .code(),
        Some(1)
    );
}
