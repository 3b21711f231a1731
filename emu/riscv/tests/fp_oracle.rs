//! Differential test of `vf_riscv::fp::execute` against QEMU's RISC-V FPU.
//!
//! `tests/fpref/oracle.c` is compiled with `riscv64-linux-gnu-gcc -static -O1`
//! (Debian package gcc-riscv64-linux-gnu) and run under `qemu-riscv64`
//! (package qemu-user). It executes each generated instruction on real
//! operands and reports rd, f10 and fflags, or SIGILL. Every case must match
//! bit for bit.
//!
//! Environment:
//! - `VF_FP_CASES`: number of random cases (default 200000);
//! - `VF_FP_SEED`: the generator seed (default fixed; printed on failure).
//!
//! A failing case prints as `INSN RS1 A B C FRM`, the oracle's input line, so
//! it can be replayed with `echo LINE | qemu-riscv64 oracle`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use vf_riscv::fp::{execute, FpOutcome, FpState};

/// splitmix64: small, deterministic, good enough for test generation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

#[derive(Clone, Copy, Debug)]
struct Case {
    insn: u32,
    rs1: u64,
    a: u64,
    b: u64,
    c: u64,
    frm: u8,
}

impl Case {
    fn line(&self) -> String {
        format!(
            "{:08x} {:x} {:x} {:x} {:x} {:x}",
            self.insn, self.rs1, self.a, self.b, self.c, self.frm
        )
    }
}

const RD: u32 = 10;
const RS1: u32 = 11;
const RS2: u32 = 12;
const RS3: u32 = 13;

fn r_type(funct5: u32, fmt: u32, rs2: u32, funct3: u32) -> u32 {
    (funct5 << 27) | (fmt << 25) | (rs2 << 20) | (RS1 << 15) | (funct3 << 12) | (RD << 7) | 0x53
}

fn r4_type(opcode: u32, fmt: u32, funct3: u32) -> u32 {
    (RS3 << 27) | (fmt << 25) | (RS2 << 20) | (RS1 << 15) | (funct3 << 12) | (RD << 7) | opcode
}

/// (mantissa bits, exponent bits) of fmt 0 (S) and 1 (D).
fn geometry(fmt: u32) -> (u32, u32) {
    if fmt == 0 {
        (23, 8)
    } else {
        (52, 11)
    }
}

/// A raw value of the format, biased towards the values where IEEE arithmetic is subtle.
fn float_bits(rng: &mut Rng, fmt: u32) -> u64 {
    let (m, e) = geometry(fmt);
    let bias = (1u64 << (e - 1)) - 1;
    let emax = (1u64 << e) - 1;
    let frac_mask = (1u64 << m) - 1;
    let sign = rng.next() & 1;
    match rng.below(8) {
        0 => {
            // Specials.
            let frac = match rng.below(9) {
                0 => 0,                  // zero / inf
                1 => 1,                  // min subnormal / sNaN
                2 => frac_mask,          // max subnormal / qNaN all ones
                3 => 1 << (m - 1),       // canonical NaN / half
                4 => (1 << (m - 1)) | 1, // qNaN with payload
                5 => (1 << (m - 1)) - 1, // sNaN with big payload
                6 => rng.next() & frac_mask,
                7 => frac_mask - 1,
                _ => 2,
            };
            let exp = rng.pick(&[0, 0, 1, emax, emax, emax - 1, bias, bias - 1]);
            (sign << (m + e)) | (exp << m) | frac
        }
        1 => rng.next() & (u64::MAX >> (63 - m - e)),
        _ => {
            // Structured: an interesting exponent and a mantissa that makes ties and carries likely.
            let exp = match rng.below(7) {
                0 => rng.below(emax + 1),
                1 => rng.below(4),
                2 => emax - 1 - rng.below(3),
                3 => {
                    bias + rng.pick(&[23, 24, 30, 31, 32, 33, 52, 53, 62, 63, 64, 65]) - 1
                        + rng.below(3)
                }
                4 => (bias - 3) + rng.below(7),
                5 => (bias / 2) + rng.below(bias),
                _ => rng.below(m as u64 + 3),
            }
            .min(emax);
            let frac = match rng.below(7) {
                0 => 0,
                1 => frac_mask,
                2 => 1 << rng.below(m as u64),
                3 => (rng.next() & frac_mask) | 1,
                4 => (rng.next() & frac_mask) & !((1 << rng.below(m as u64)) - 1),
                5 => frac_mask ^ (1 << rng.below(m as u64)),
                _ => rng.next() & frac_mask,
            };
            (sign << (m + e)) | (exp << m) | frac
        }
    }
}

/// The register image of an operand: binary32 values NaN-boxed, occasionally not.
fn operand(rng: &mut Rng, fmt: u32) -> u64 {
    let v = float_bits(rng, fmt);
    box_single(rng, fmt, v)
}

fn box_single(rng: &mut Rng, fmt: u32, v: u64) -> u64 {
    if fmt != 0 {
        return v;
    }
    if rng.chance(3) {
        let r = rng.next() & 0xffff_ffff;
        let upper = rng.pick(&[0, 0xffff_fffe, 0x7fff_ffff, r]);
        (upper << 32) | v
    } else {
        0xffff_ffff_0000_0000 | v
    }
}

/// An integer source operand for fcvt.fmt.{w,wu,l,lu} and fmv.*.x.
fn int_operand(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 => rng.pick(&[
            0,
            1,
            u64::MAX,
            i32::MAX as u64,
            i32::MIN as i64 as u64,
            u32::MAX as u64,
            i64::MAX as u64,
            i64::MIN as u64,
            (1 << 24) + 1,
            (1 << 53) + 1,
            (1 << 25) + 3,
            (1 << 54) + 2,
            0xffff_ffff_8000_0000,
        ]),
        1 => {
            // Values just above a power of two: ties and near-ties when rounding.
            let k = 20 + rng.below(44);
            let v = (1u64 << k) + (rng.next() & ((1 << (k - 19)) - 1));
            if rng.chance(50) {
                v.wrapping_neg()
            } else {
                v
            }
        }
        2 => rng.next() >> rng.below(64),
        _ => rng.next(),
    }
}

/// A rounding-mode field and frm; now and then a reserved one (which must be illegal).
fn rounding(rng: &mut Rng) -> (u32, u8) {
    let frm = rng.below(5) as u8;
    if rng.chance(3) {
        return match rng.below(3) {
            0 => (5, frm),
            1 => (6, frm),
            _ => (7, 5 + rng.below(3) as u8),
        };
    }
    if rng.chance(20) {
        (7, frm)
    } else {
        (rng.below(5) as u32, frm)
    }
}

/// The host product of two operands (used to make fused multiply-adds cancel).
fn host_product(fmt: u32, a: u64, b: u64) -> u64 {
    if fmt == 0 {
        (f32::from_bits(a as u32) * f32::from_bits(b as u32)).to_bits() as u64
    } else {
        (f64::from_bits(a) * f64::from_bits(b)).to_bits()
    }
}

/// One of a few dozen values that matter most, so that combinations of them
/// (inf * 0 + qNaN, -0 vs +0, conversion bounds) come up often.
fn special_value(rng: &mut Rng, fmt: u32) -> u64 {
    let (m, e) = geometry(fmt);
    let bias = (1u64 << (e - 1)) - 1;
    let emax = (1u64 << e) - 1;
    let frac_mask = (1u64 << m) - 1;
    let sign = (rng.next() & 1) << (m + e);
    let pow2 = |k: u64| (bias + k) << m;
    let v = rng.pick(&[
        0,
        emax << m,
        (emax << m) | (1 << (m - 1)),
        (emax << m) | 1,
        (emax << m) | frac_mask,
        1,
        frac_mask,
        1 << m,
        ((emax - 1) << m) | frac_mask,
        pow2(0),
        pow2(0) | (1 << (m - 1)),
        pow2(1) | (1 << (m - 2)),
        pow2(1) | (1 << (m - 1)),
        (bias - 1) << m,
        pow2(31),
        pow2(31) - 1,
        pow2(32),
        pow2(32) - 1,
        pow2(63),
        pow2(63) - 1,
        pow2(64),
        pow2(64) - 1,
    ]);
    sign | v
}

fn special_operand(rng: &mut Rng, fmt: u32) -> u64 {
    let v = special_value(rng, fmt);
    box_single(rng, fmt, v)
}

/// A fraction field close to all ones, or to zero, or random.
fn edgy_frac(rng: &mut Rng, m: u32) -> u64 {
    let frac_mask = (1u64 << m) - 1;
    match rng.below(4) {
        0 => frac_mask - rng.below(4),
        1 => rng.below(4),
        2 => frac_mask ^ (rng.next() & 0xff),
        _ => rng.next() & frac_mask,
    }
}

/// Operands whose product (`div == false`) or quotient lands next to the
/// smallest normal number, where underflow and tininess-after-rounding decide.
fn near_underflow(rng: &mut Rng, fmt: u32, div: bool) -> (u64, u64) {
    let (m, e) = geometry(fmt);
    let bias = (1i64 << (e - 1)) - 1;
    let ea = 2 + rng.below((bias - 3) as u64) as i64; // biased, so the unbiased value is in [-bias + 2, -1]
    let k = rng.below(4) as i64 - 1;
    let eb = if div { ea + bias + k } else { bias - ea - k }.clamp(0, 2 * bias);
    let sa = rng.next() & 1;
    let sb = rng.next() & 1;
    let a = (sa << (m + e)) | ((ea as u64) << m) | edgy_frac(rng, m);
    let b = (sb << (m + e)) | ((eb as u64) << m) | edgy_frac(rng, m);
    (a, b)
}

/// Operands with a * b = u * m * (1 - 2^-2k) exactly, u the ulp of c and m a
/// small multiple of 1/4: the product rounds to a midpoint offset from c with a
/// tiny error far below it, so c + a * b sits just beside a rounding boundary.
fn near_midpoint(rng: &mut Rng, fmt: u32) -> (u64, u64, u64) {
    let (m, e) = geometry(fmt);
    let bias = (1i64 << (e - 1)) - 1;
    let spread: i64 = if fmt == 1 { 300 } else { 30 };
    let ec = bias + rng.below(2 * spread as u64 + 1) as i64 - spread;
    let sign = 1u64 << (m + e);
    let c = (rng.next() & sign) | ((ec as u64) << m) | (rng.next() & ((1 << m) - 1));
    let mult = rng.pick(&[0.5, 0.75, 1.5, 2.5, 3.0]);
    let (sa, sb) = (rng.next() & sign, rng.next() & sign);
    let (a, b) = if fmt == 1 {
        let k = 27 + rng.below(14) as i32;
        let u = 2f64.powi((ec - bias - 52) as i32);
        let a = mult * (1.0 + 2f64.powi(-k)) * u;
        (a.to_bits(), (1.0 - 2f64.powi(-k)).to_bits())
    } else {
        let k = 13 + rng.below(9) as i32;
        let u = 2f32.powi((ec - bias - 23) as i32);
        let a = mult as f32 * (1.0 + 2f32.powi(-k)) * u;
        (
            u64::from(a.to_bits()),
            u64::from((1.0 - 2f32.powi(-k)).to_bits()),
        )
    };
    (a | sa, b | sb, c)
}

fn generate(rng: &mut Rng) -> Case {
    let fmt = rng.below(2) as u32;
    let sign_bit = if fmt == 0 { 1u64 << 31 } else { 1u64 << 63 };
    let (rm, frm) = rounding(rng);
    let mut a = operand(rng, fmt);
    let mut b = operand(rng, fmt);
    let mut c = operand(rng, fmt);
    let mut rs1 = int_operand(rng);
    if rng.chance(20) {
        a = special_operand(rng, fmt);
        b = special_operand(rng, fmt);
        c = special_operand(rng, fmt);
    }
    let insn = match rng.below(25) {
        0..=7 => {
            let funct5 = rng.below(4) as u32;
            if funct5 >= 2 && rng.chance(30) {
                let (x, y) = near_underflow(rng, fmt, funct5 == 3);
                a = box_single(rng, fmt, x);
                b = box_single(rng, fmt, y);
            }
            if rng.chance(25) {
                // Near-cancellation: b close to +-a.
                let raw = float_bits(rng, fmt) & (sign_bit - 1);
                let base = raw ^ if rng.chance(50) { sign_bit } else { 0 };
                let delta = rng.below(5);
                let nb = if rng.chance(50) {
                    base.wrapping_add(delta)
                } else {
                    base.wrapping_sub(delta)
                };
                a = box_single(rng, fmt, base);
                b = box_single(rng, fmt, (nb & (sign_bit | (sign_bit - 1))) ^ sign_bit);
            }
            r_type(funct5, fmt, RS2, rm)
        }
        8 | 9 => r_type(0b01011, fmt, 0, rm),
        10 => r_type(0b00100, fmt, RS2, rng.below(3) as u32),
        11 => {
            if rng.chance(20) {
                b = a ^ sign_bit;
            }
            r_type(0b00101, fmt, RS2, rng.below(2) as u32)
        }
        12 => r_type(0b01000, fmt, if fmt == 0 { 1 } else { 0 }, rm),
        13 => {
            if fmt == 0 {
                // fcvt.s.d reads a double; half the time one near the binary32 underflow threshold.
                a = if rng.chance(50) {
                    let exp = 1023 - 128 + rng.below(4);
                    ((rng.next() & 1) << 63) | (exp << 52) | edgy_frac(rng, 52)
                } else {
                    float_bits(rng, 1)
                };
            }
            r_type(0b01000, fmt, if fmt == 0 { 1 } else { 0 }, rm)
        }
        14 => {
            if rng.chance(25) {
                b = a;
            }
            r_type(0b10100, fmt, RS2, rng.below(3) as u32)
        }
        15 | 16 => r_type(0b11000, fmt, rng.below(4) as u32, rm),
        17 | 18 => r_type(0b11010, fmt, rng.below(4) as u32, rm),
        19 => r_type(0b11100, fmt, 0, rng.below(2) as u32),
        20 => {
            if rng.chance(50) {
                rs1 = float_bits(rng, fmt) | (rng.next() & !((sign_bit << 1).wrapping_sub(1)));
            }
            r_type(0b11110, fmt, 0, 0)
        }
        21..=23 => {
            let opcode = rng.pick(&[0x43, 0x47, 0x4b, 0x4f]);
            if rng.chance(30) {
                // c close to -+(a*b): massive cancellation in the fused sum.
                let p = host_product(fmt, a, b);
                let p = if fmt == 0 { p & 0xffff_ffff } else { p };
                let delta = rng.below(3);
                let q = p.wrapping_add(delta) ^ if rng.chance(50) { sign_bit } else { 0 };
                c = box_single(rng, fmt, q & (sign_bit | (sign_bit - 1)));
            } else if rng.chance(25) {
                // c + a * b just beside a midpoint between neighbours of c.
                let (x, y, z) = near_midpoint(rng, fmt);
                a = box_single(rng, fmt, x);
                b = box_single(rng, fmt, y);
                c = box_single(rng, fmt, z);
            } else if rng.chance(30) {
                let (x, y) = near_underflow(rng, fmt, false);
                a = box_single(rng, fmt, x);
                b = box_single(rng, fmt, y);
                let (m, _) = geometry(fmt);
                let tiny = (rng.next() & sign_bit) | (rng.below(3) << m) | edgy_frac(rng, m);
                c = box_single(rng, fmt, tiny);
            }
            r4_type(opcode, fmt, rm)
        }
        _ => {
            // Any encoding in these opcodes, to check what is illegal.
            let opcode = rng.pick(&[0x53, 0x53, 0x53, 0x43, 0x47, 0x4b, 0x4f]);
            let hi = (rng.next() as u32) & 0xfe00_0000;
            let rs2 = if rng.chance(70) {
                rng.below(4) as u32
            } else {
                rng.below(32) as u32
            };
            let funct3 = rng.below(8) as u32;
            let rs2 = if opcode == 0x53 { rs2 } else { RS2 };
            let hi = if opcode == 0x53 {
                hi
            } else {
                (RS3 << 27) | (hi & 0x0600_0000)
            };
            hi | (rs2 << 20) | (RS1 << 15) | (funct3 << 12) | (RD << 7) | opcode
        }
    };
    Case {
        insn,
        rs1,
        a,
        b,
        c,
        frm,
    }
}

/// What the reference reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reference {
    Ill,
    Ran { x10: u64, f10: u64, fflags: u8 },
}

fn parse_reference(line: &str) -> Reference {
    if line == "ILL" {
        return Reference::Ill;
    }
    let v: Vec<u64> = line
        .split(' ')
        .map(|t| u64::from_str_radix(t, 16).unwrap_or_else(|_| panic!("bad oracle line {line:?}")))
        .collect();
    assert_eq!(v.len(), 3, "bad oracle line {line:?}");
    Reference::Ran {
        x10: v[0],
        f10: v[1],
        fflags: v[2] as u8,
    }
}

/// Runs one case through `execute` and returns what the reference would print.
/// On RV32, rd receives the low 32 bits of the (sign-extended) result.
fn run_ours(case: &Case, xlen: u32) -> Reference {
    let mut st = FpState {
        frm: case.frm,
        ..FpState::default()
    };
    st.f[11] = case.a;
    st.f[12] = case.b;
    st.f[13] = case.c;
    match execute(&mut st, case.insn, case.rs1, xlen) {
        FpOutcome::Illegal => {
            assert_eq!(st.fflags, 0, "an illegal instruction changed fflags");
            assert_eq!(st.f[10], 0, "an illegal instruction wrote f10");
            Reference::Ill
        }
        FpOutcome::WroteF => Reference::Ran {
            x10: 0,
            f10: st.f[10],
            fflags: st.fflags,
        },
        FpOutcome::WroteX(x) => {
            if xlen == 32 {
                assert_eq!(
                    x,
                    x as u32 as i32 as i64 as u64,
                    "{}: not sign-extended",
                    case.line()
                );
            }
            Reference::Ran {
                x10: if xlen == 32 { x & 0xffff_ffff } else { x },
                f10: 0,
                fflags: st.fflags,
            }
        }
    }
}

fn tool(name: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("`{name}` not found on PATH: install the Debian package `{package}` (apt-get install {package})")
    })
}

/// Compiles tests/fpref/`src` with the riscv64 Linux cross compiler and `flags`.
fn build_oracle(src: &str, flags: &[&str]) -> PathBuf {
    let gcc = tool("riscv64-linux-gnu-gcc", "gcc-riscv64-linux-gnu");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fpref")
        .join(src);
    let stem = src.file_stem().and_then(|s| s.to_str()).unwrap_or("oracle");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fp-{stem}"));
    let status = Command::new(gcc)
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .expect("failed to run riscv64-linux-gnu-gcc");
    assert!(status.success(), "compiling {} failed", src.display());
    out
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} must be a number"))
        })
        .unwrap_or(default)
}

/// Runs all cases through the oracle under `qemu` in one process.
fn run_oracle(qemu: &Path, oracle: &Path, cases: &[Case], tag: &str) -> Vec<Reference> {
    let mut input = String::with_capacity(cases.len() * 64);
    for c in cases {
        writeln!(input, "{}", c.line()).expect("writing to a String");
    }
    let input_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fp-{tag}.in"));
    std::fs::write(&input_path, input).expect("writing the oracle input");
    let output = Command::new(qemu)
        .arg(oracle)
        .stdin(std::fs::File::open(&input_path).expect("opening the oracle input"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("failed to run {}: {e}", qemu.display()));
    assert!(
        output.status.success(),
        "oracle {} failed ({}): {}",
        oracle.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // The input can be large (VF_FP_CASES): do not leave it behind.
    let _ = std::fs::remove_file(&input_path);
    let text = String::from_utf8(output.stdout).expect("oracle output is ASCII");
    let refs: Vec<Reference> = text.lines().map(parse_reference).collect();
    assert_eq!(
        refs.len(),
        cases.len(),
        "oracle answered a different number of cases"
    );
    refs
}

/// Compares every case with the reference; panics listing the first mismatches.
fn compare(cases: &[Case], refs: &[Reference], xlen: u32, seed: u64) {
    let mut failures = Vec::new();
    for (case, want) in cases.iter().zip(refs) {
        let got = run_ours(case, xlen);
        if *want != got {
            failures.push(format!("{}  qemu: {want:x?}  ours: {got:x?}", case.line()));
        }
    }
    if !failures.is_empty() {
        let shown: Vec<&str> = failures.iter().take(40).map(|s| s.as_str()).collect();
        panic!(
            "RV{xlen}: {} of {} cases differ from QEMU (seed {seed}; line = INSN RS1 A B C FRM):\n{}",
            failures.len(),
            cases.len(),
            shown.join("\n")
        );
    }
}

#[test]
fn execute_matches_qemu() {
    let qemu = tool("qemu-riscv64", "qemu-user");
    let oracle = build_oracle("oracle.c", &["-static", "-O1"]);
    let n = env_number("VF_FP_CASES", 200_000);
    let seed = env_number("VF_FP_SEED", 0x5eed_f00d);
    let mut rng = Rng(seed);
    let cases: Vec<Case> = (0..n).map(|_| generate(&mut rng)).collect();
    let refs = run_oracle(&qemu, &oracle, &cases, &format!("rv64-{seed}"));
    compare(&cases, &refs, 64, seed);
    // The generator must exercise both legal and illegal encodings.
    let illegal = refs.iter().filter(|r| **r == Reference::Ill).count();
    assert!(
        illegal > 0 && illegal < cases.len() / 4,
        "{illegal} illegal cases"
    );
}

/// RV32 (qemu-riscv32, a freestanding oracle): only encodings that must be
/// legal on RV32 are sent (an illegal one would kill the oracle); which ones
/// are illegal on RV32 is checked by fp_unit.rs.
#[test]
fn execute_matches_qemu_rv32() {
    let qemu = tool("qemu-riscv32", "qemu-user");
    let oracle = build_oracle(
        "oracle32.c",
        &[
            "-march=rv32imafd_zicsr_zifencei",
            "-mabi=ilp32d",
            "-nostdlib",
            "-static",
            "-ffreestanding",
            "-O1",
            "-Wl,-N",
            "-Wl,--no-warn-rwx-segments",
        ],
    );
    let n = env_number("VF_FP_CASES", 200_000) / 2;
    let seed = env_number("VF_FP_SEED", 0x5eed_f00d) ^ 32;
    let mut rng = Rng(seed);
    let cases: Vec<Case> = (0..n)
        .map(|_| generate(&mut rng))
        .filter(|c| run_ours(c, 32) != Reference::Ill)
        .collect();
    assert!(cases.len() as u64 > n / 2, "too few legal RV32 cases");
    let refs = run_oracle(&qemu, &oracle, &cases, &format!("rv32-{seed}"));
    compare(&cases, &refs, 32, seed);
}
