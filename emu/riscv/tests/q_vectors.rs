//! The Q extension's arithmetic against committed binary128 test vectors
//! (`tests/qref/vectors.txt`, made by `tests/qref/gen.c` with GCC's
//! `__float128` on x86-64; `tests/qref/regen.sh` regenerates them). Every
//! vector runs through [`vf_riscv::fp::execute128`] as a real instruction
//! word, with a static rounding mode or with DYN and frm, and must match bit
//! for bit, fflags included. Each fmadd vector also runs as fmsub, fnmsub and
//! fnmadd on operands with flipped signs, which denote the same exact value.
//!
//! The vectors hold RNE, RTZ, RDN and RUP (x86 has no ties-to-max-magnitude).
//! RMM is checked where the four results determine it: it equals RNE unless
//! the exact value may be a tie (RNE equal to RTZ, inexact, with an even last
//! bit), and then it must be RNE's or the away-from-zero result with its
//! flags; the ties themselves are tested by hand (`q_insns.rs`, `fp/quad.rs`).
//! Square roots of positive finite operands have no results in the vectors
//! (libquadmath's `sqrtq` is not correctly rounded): each is checked against
//! exact integer bounds in every rounding mode, with NX exactly when the root
//! is not exact and no other flag.

use vf_riscv::fp::{execute128, FpOutcome128, FpState};
use vf_riscv::xlen::mul_u128_wide;

const RD: usize = 10;
const RS1: usize = 11;
const RS2: usize = 12;
const RS3: usize = 13;
const NX: u8 = 1;

fn r_type(funct5: u32, fmt: u32, rs2: u32, funct3: u32) -> u32 {
    (funct5 << 27)
        | (fmt << 25)
        | (rs2 << 20)
        | ((RS1 as u32) << 15)
        | (funct3 << 12)
        | ((RD as u32) << 7)
        | 0x53
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A binary128 result in f[rd].
    Q,
    /// A binary32 (S) or binary64 (D) result in f[rd], NaN-boxed to 128 bits.
    S,
    D,
    /// An integer result in x[rd].
    X,
}

/// The instruction word (without rounding mode) and operand/result kinds of a vector op.
fn insn_of(op: &str) -> (u32, [Kind; 1], Kind) {
    let q = Kind::Q;
    let int = |rs2| (r_type(0b11000, 3, rs2, 0), [q], Kind::X);
    let from_int = |rs2| (r_type(0b11010, 3, rs2, 0), [Kind::X], q);
    match op {
        "add" => (r_type(0, 3, RS2 as u32, 0), [q], q),
        "sub" => (r_type(1, 3, RS2 as u32, 0), [q], q),
        "mul" => (r_type(2, 3, RS2 as u32, 0), [q], q),
        "div" => (r_type(3, 3, RS2 as u32, 0), [q], q),
        "sqrt" => (r_type(0b01011, 3, 0, 0), [q], q),
        "fma" | "fmsub" | "fnmsub" | "fnmadd" => {
            let opcode = match op {
                "fma" => 0x43,
                "fmsub" => 0x47,
                "fnmsub" => 0x4b,
                _ => 0x4f,
            };
            let w = ((RS3 as u32) << 27)
                | (3 << 25)
                | ((RS2 as u32) << 20)
                | ((RS1 as u32) << 15)
                | ((RD as u32) << 7)
                | opcode;
            (w, [q], q)
        }
        "cvt.s.q" => (r_type(0b01000, 0, 3, 0), [q], Kind::S),
        "cvt.d.q" => (r_type(0b01000, 1, 3, 0), [q], Kind::D),
        "cvt.q.s" => (r_type(0b01000, 3, 0, 0), [Kind::S], q),
        "cvt.q.d" => (r_type(0b01000, 3, 1, 0), [Kind::D], q),
        "cvt.w.q" => int(0),
        "cvt.wu.q" => int(1),
        "cvt.l.q" => int(2),
        "cvt.lu.q" => int(3),
        "cvt.t.q" => int(4),
        "cvt.tu.q" => int(5),
        "cvt.q.w" => from_int(0),
        "cvt.q.wu" => from_int(1),
        "cvt.q.l" => from_int(2),
        "cvt.q.lu" => from_int(3),
        "cvt.q.t" => from_int(4),
        "cvt.q.tu" => from_int(5),
        "feq" => (r_type(0b10100, 3, RS2 as u32, 2), [q], Kind::X),
        "flt" => (r_type(0b10100, 3, RS2 as u32, 1), [q], Kind::X),
        "fle" => (r_type(0b10100, 3, RS2 as u32, 0), [q], Kind::X),
        "fmin" => (r_type(0b00101, 3, RS2 as u32, 0), [q], q),
        "fmax" => (r_type(0b00101, 3, RS2 as u32, 1), [q], q),
        _ => panic!("unknown vector op {op}"),
    }
}

/// Whether the op's funct3 is a rounding mode.
fn has_rm(op: &str) -> bool {
    !matches!(op, "feq" | "flt" | "fle" | "fmin" | "fmax")
}

/// Runs one vector in rounding mode `rm` (0..4), statically or through frm.
fn run(op: &str, ops: [Option<u128>; 3], rm: u32, dynamic: bool) -> (u128, u8) {
    let (mut w, [src], dst) = insn_of(op);
    let mut st = FpState::default();
    if has_rm(op) {
        if dynamic {
            w |= 7 << 12;
            st.frm = rm as u8;
        } else {
            w |= rm << 12;
        }
    }
    let mut x = 0u128;
    for (i, v) in ops.into_iter().enumerate() {
        let Some(v) = v else { continue };
        let r = RS1 + i;
        match src {
            Kind::Q => st.write_q(r, v),
            Kind::S => st.write_q(r, !0u128 << 32 | v),
            Kind::D => st.write_q(r, !0u128 << 64 | v),
            Kind::X => x = v,
        }
    }
    // Poison rd to see that the result overwrites all of it.
    st.write_q(RD, 0x1234_5678);
    let out = execute128(&mut st, w, x);
    let r = match (out, dst) {
        (FpOutcome128::WroteF, Kind::Q) => st.read_q(RD),
        (FpOutcome128::WroteF, Kind::S) => {
            let v = st.read_q(RD);
            assert_eq!(
                v >> 32,
                u128::MAX >> 32,
                "{op}: binary32 result not NaN-boxed"
            );
            v & 0xffff_ffff
        }
        (FpOutcome128::WroteF, Kind::D) => {
            let v = st.read_q(RD);
            assert_eq!(
                v >> 64,
                u64::MAX as u128,
                "{op}: binary64 result not NaN-boxed"
            );
            v & u64::MAX as u128
        }
        (FpOutcome128::WroteX(v), Kind::X) => v,
        o => panic!("{op}: unexpected outcome {o:?}"),
    };
    (r, st.fflags)
}

/// value = m * 2^e of a positive finite binary128.
fn parts(v: u128) -> (u128, i32) {
    let e = ((v >> 112) & 0x7fff) as i32;
    let f = v & ((1u128 << 112) - 1);
    if e == 0 {
        (f, -16382 - 112)
    } else {
        (f | 1 << 112, e - 16383 - 112)
    }
}

/// Compares mx * 2^ex with k^2 * 2^(2 ek) exactly (mx < 2^113, k < 2^116).
fn cmp_square(mx: u128, ex: i32, k: u128, ek: i32) -> std::cmp::Ordering {
    let (sh, sl) = mul_u128_wide(k, k);
    let d = ex - 2 * ek;
    // Shift the smaller-exponent side up; a difference over 140 bits decides alone.
    let lhs_big = |d: i32| -> Option<(u128, u128)> {
        if d >= 256 || (d > 0 && mx.leading_zeros() + 128 < d as u32) {
            return None;
        }
        let d = d as u32;
        Some(if d == 0 {
            (0, mx)
        } else if d < 128 {
            (mx >> (128 - d), mx << d)
        } else {
            (mx << (d - 128), 0)
        })
    };
    if d >= 0 {
        match lhs_big(d) {
            None => std::cmp::Ordering::Greater,
            Some(l) => l.cmp(&(sh, sl)),
        }
    } else {
        // Compare mx with k^2 * 2^-d: if k^2 << -d overflows, it is larger.
        let d = (-d) as u32;
        let top = if sh == 0 {
            128 - sl.leading_zeros()
        } else {
            256 - sh.leading_zeros()
        };
        if top + d > 128 {
            return std::cmp::Ordering::Less;
        }
        mx.cmp(&(sl << d))
    }
}

/// Checks r = sqrt(x) rounded in mode rm (0..4) with flags `fl` by exact integer bounds.
fn check_sqrt(x: u128, (r, fl): (u128, u8), rm: u32) {
    let (mx, ex) = parts(x);
    let (mr, er) = parts(r);
    use std::cmp::Ordering::*;
    // In units of half an ulp of r: r = (2 mr) * 2^(er - 1).
    let (k, ek) = (2 * mr, er - 1);
    let below = cmp_square(mx, ex, k - 1, ek); // x vs (r - ulp/2)^2
    let above = cmp_square(mx, ex, k + 1, ek); // x vs (r + ulp/2)^2
    let at = cmp_square(mx, ex, k, ek); // x vs r^2
    let lo = cmp_square(mx, ex, k - 2, ek); // x vs (r - ulp)^2
    let hi = cmp_square(mx, ex, k + 2, ek); // x vs (r + ulp)^2
    let ok = match rm {
        0 | 4 => below == Greater && above == Less,
        1 | 2 => at != Less && hi == Less,
        _ => at != Greater && lo == Greater,
    };
    assert!(
        ok,
        "sqrt {x:032x} = {r:032x} in rm {rm} is outside the exact bounds"
    );
    let want_fl = if at == Equal { 0 } else { NX };
    assert_eq!(fl, want_fl, "sqrt {x:032x} = {r:032x} in rm {rm}: fflags");
}

fn hex(s: &str) -> Option<u128> {
    (s != "-").then(|| u128::from_str_radix(s, 16).expect("hex operand"))
}

#[test]
fn q_vectors() {
    let text = include_str!("qref/vectors.txt");
    let (mut cases, mut rmm_exact, mut rmm_either, mut sqrt_checked) = (0, 0, 0, 0);
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(t.len(), 12, "line {}: {line}", n + 1);
        let op = t[0];
        let ops = [hex(t[1]), hex(t[2]), hex(t[3])];
        if t[4] == "-" {
            // A square root to check by exact bounds.
            assert_eq!(op, "sqrt", "line {}: {line}", n + 1);
            let x = ops[0].unwrap();
            for rm in 0..5 {
                let got = run(op, ops, rm, (n + rm as usize) % 2 == 1);
                assert!(got.0 >> 112 != 0x7fff, "sqrt {x:032x}: {:032x}", got.0);
                check_sqrt(x, got, rm);
                sqrt_checked += 1;
                cases += 1;
            }
            continue;
        }
        let mut want = [(0u128, 0u8); 4];
        for (i, w) in want.iter_mut().enumerate() {
            *w = (
                hex(t[4 + 2 * i]).unwrap(),
                u8::from_str_radix(t[5 + 2 * i], 16).unwrap(),
            );
        }
        for (rm, &w) in want.iter().enumerate() {
            let dynamic = (n + rm) % 2 == 1;
            let got = run(op, ops, rm as u32, dynamic);
            assert_eq!(
                got,
                w,
                "line {}: {line}\n rm {rm} (dynamic {dynamic}): got {:032x} {:02x}, want {:032x} {:02x}",
                n + 1,
                got.0,
                got.1,
                w.0,
                w.1
            );
            cases += 1;
            if op == "fma" {
                // The other fused forms compute the same exact value from
                // operands with flipped signs: a*b - c, -(a*b) + c, -(a*b) - c.
                let neg = |v: Option<u128>| v.map(|v| v ^ 1 << 127);
                let [a, b, c] = ops;
                for (form, o) in [
                    ("fmsub", [a, b, neg(c)]),
                    ("fnmsub", [neg(a), b, c]),
                    ("fnmadd", [neg(a), b, neg(c)]),
                ] {
                    let got = run(form, o, rm as u32, dynamic);
                    assert_eq!(got, w, "line {}: {line}\n {form} rm {rm}", n + 1);
                    cases += 1;
                }
            }
        }
        // RMM.
        let got = run(op, ops, 4, n % 2 == 0);
        let (rne, rtz, rdn, rup) = (want[0], want[1], want[2], want[3]);
        if rne.0 != rtz.0 || rne.1 & NX == 0 || rtz.0 & 1 == 1 {
            assert_eq!(got, rne, "line {}: {line}\n rmm", n + 1);
            rmm_exact += 1;
        } else {
            let away = if rup.0 != rtz.0 { rup } else { rdn };
            assert!(
                got == rne || got == away,
                "line {}: {line}\n rmm: got {:032x} {:02x}",
                n + 1,
                got.0,
                got.1
            );
            rmm_either += 1;
        }
        cases += 1;
    }
    eprintln!(
        "{cases} vector runs; RMM determined {rmm_exact}, RMM one of two {rmm_either}; {sqrt_checked} square roots bounded"
    );
    assert!(cases > 40_000 && sqrt_checked > 2000, "too few vectors");
}
