//! Throughput of `execute` for common instructions. Records figures, asserts
//! nothing about speed:
//! `cargo test --release -p vf-riscv --test fp_bench -- --ignored --nocapture`.

use std::hint::black_box;
use std::time::Instant;

use vf_riscv::fp::soft::{self, Rm, F64};
use vf_riscv::fp::{execute, FpOutcome, FpState};

/// rd = f1, rs1 = f2, rs2 = f3, rs3 = f4; funct3 = 7 (DYN, frm = RNE).
fn op(funct5: u32, fmt: u32, rs2: u32) -> u32 {
    (funct5 << 27) | (fmt << 25) | (rs2 << 20) | (2 << 15) | (7 << 12) | (1 << 7) | 0x53
}

fn bench(name: &str, insn: u32, fmt_single: bool) {
    // Operands: pseudo-random normal numbers around 1.0 (so results stay normal).
    let mut x = 0x1234_5678_9abc_def0u64;
    let mut vals = Vec::with_capacity(1024);
    for _ in 0..1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = 0.5 + (x >> 11) as f64 / (1u64 << 53) as f64;
        vals.push(if fmt_single {
            0xffff_ffff_0000_0000 | (v as f32).to_bits() as u64
        } else {
            v.to_bits()
        });
    }
    let mut st = FpState::default();
    let n = 20_000_000usize;
    let start = Instant::now();
    for i in 0..n {
        st.f[2] = vals[i & 1023];
        st.f[3] = vals[(i >> 3) & 1023];
        st.f[4] = vals[(i >> 5) & 1023];
        let out = execute(black_box(&mut st), black_box(insn), 0, 64);
        debug_assert_eq!(out, FpOutcome::WroteF);
    }
    let secs = start.elapsed().as_secs_f64();
    black_box(st.f[1]);
    println!("{name:10} {:8.1} Mops/s", n as f64 / secs / 1e6);
}

/// The exact integer path alone (what non-RNE modes and edge cases use).
fn bench_soft(name: &str, op: fn(soft::Format, u64, u64, Rm, &mut u8) -> u64) {
    let mut x = 0x1234_5678_9abc_def0u64;
    let vals: Vec<u64> = (0..1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (0.5 + (x >> 11) as f64 / (1u64 << 53) as f64).to_bits()
        })
        .collect();
    let n = 20_000_000usize;
    let mut fl = 0u8;
    let mut acc = 0u64;
    let start = Instant::now();
    for i in 0..n {
        acc ^= op(
            F64,
            vals[i & 1023],
            vals[(i >> 3) & 1023],
            black_box(Rm::Rne),
            &mut fl,
        );
    }
    let secs = start.elapsed().as_secs_f64();
    black_box((acc, fl));
    println!("{name:10} {:8.1} Mops/s", n as f64 / secs / 1e6);
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture in release mode"]
fn throughput() {
    bench("fadd.d", op(0, 1, 3), false);
    bench("fmul.d", op(2, 1, 3), false);
    bench("fdiv.d", op(3, 1, 3), false);
    bench("fsqrt.d", op(0b01011, 1, 0), false);
    bench(
        "fmadd.d",
        (4 << 27) | (1 << 25) | (3 << 20) | (2 << 15) | (7 << 12) | (1 << 7) | 0x43,
        false,
    );
    bench("fadd.s", op(0, 0, 3), true);
    bench("fmul.s", op(2, 0, 3), true);
    bench_soft("soft add", soft::add);
    bench_soft("soft mul", soft::mul);
    bench_soft("soft div", soft::div);
}
