//! The Q extension's arithmetic against committed binary128 test vectors
//! (`tests/qref/vectors.txt`, made by `tests/qref/gen.c` with GCC's
//! `__float128` on x86-64; `tests/qref/regen.sh` regenerates them). Every
//! vector runs through [`vf_riscv::fp::execute128`] as a real instruction
//! word, with a static rounding mode or with DYN and frm, and must match bit
//! for bit, fflags included. Each fmadd vector also runs as fmsub, fnmsub and
//! fnmadd on operands with flipped signs, which denote the same exact value.
//!
//! The vectors hold RNE, RTZ, RDN and RUP (x86 has no ties-to-max-magnitude).
//! RMM equals RNE unless the exact value is a tie, where it is the directed
//! result away from zero (value and flags). The four results settle most
//! cases (RNE rounded away, or RTZ's last bit is odd, or the result is exact);
//! for the others the test decides whether the exact value is a tie with
//! exact big-integer arithmetic on the operands ([`is_tie`]).
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
    let (mut cases, mut rmm_exact, mut rmm_either, mut rmm_ties, mut sqrt_checked) =
        (0, 0, 0, 0, 0);
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
            // The exact value may be a tie between the result towards zero and
            // the next one away from zero: decide it with exact arithmetic.
            let neg = rdn != rtz;
            let away = if neg { rdn } else { rup };
            let tie = is_tie(op, ops, rtz.0, neg);
            let want = if tie { away } else { rne };
            assert_eq!(got, want, "line {}: {line}\n rmm (tie {tie})", n + 1);
            if tie {
                rmm_ties += 1;
            } else {
                rmm_either += 1;
            }
        }
        cases += 1;
    }
    eprintln!(
        "{cases} vector runs; RMM: {rmm_exact} determined by the other modes, {rmm_either} non-ties and {rmm_ties} ties decided exactly; {sqrt_checked} square roots bounded"
    );
    assert!(
        cases > 40_000 && sqrt_checked > 2000 && rmm_ties > 100,
        "too few vectors"
    );
}

/// A dyadic rational (-1)^neg * mag * 2^exp with a big magnitude (little-endian limbs).
#[derive(Clone, Debug)]
struct Dy {
    neg: bool,
    mag: Vec<u64>,
    exp: i64,
}

impl Dy {
    fn new(neg: bool, m: u128, exp: i64) -> Dy {
        Dy {
            neg,
            mag: vec![m as u64, (m >> 64) as u64],
            exp,
        }
    }
    fn is_zero(&self) -> bool {
        self.mag.iter().all(|&l| l == 0)
    }
    /// The magnitude shifted left by `n` bits.
    fn shl(mag: &[u64], n: u64) -> Vec<u64> {
        let (words, bits) = ((n / 64) as usize, (n % 64) as u32);
        let mut out = vec![0u64; words + mag.len() + 1];
        for (i, &l) in mag.iter().enumerate() {
            out[words + i] |= l << bits;
            if bits != 0 {
                out[words + i + 1] |= l >> (64 - bits);
            }
        }
        out
    }
    fn cmp_mag(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
        let n = a.len().max(b.len());
        for i in (0..n).rev() {
            let (x, y) = (
                a.get(i).copied().unwrap_or(0),
                b.get(i).copied().unwrap_or(0),
            );
            if x != y {
                return x.cmp(&y);
            }
        }
        std::cmp::Ordering::Equal
    }
    fn add_mag(a: &[u64], b: &[u64]) -> Vec<u64> {
        let n = a.len().max(b.len()) + 1;
        let (mut out, mut carry) = (vec![0u64; n], 0u128);
        for (i, o) in out.iter_mut().enumerate() {
            let s = a.get(i).copied().unwrap_or(0) as u128
                + b.get(i).copied().unwrap_or(0) as u128
                + carry;
            *o = s as u64;
            carry = s >> 64;
        }
        out
    }
    /// a - b for a >= b.
    fn sub_mag(a: &[u64], b: &[u64]) -> Vec<u64> {
        let (mut out, mut borrow) = (vec![0u64; a.len()], 0i128);
        for (i, o) in out.iter_mut().enumerate() {
            let d = a[i] as i128 - b.get(i).copied().unwrap_or(0) as i128 - borrow;
            *o = d as u64;
            borrow = (d < 0) as i128;
        }
        out
    }
    fn add(&self, o: &Dy) -> Dy {
        let exp = self.exp.min(o.exp);
        let a = Dy::shl(&self.mag, (self.exp - exp) as u64);
        let b = Dy::shl(&o.mag, (o.exp - exp) as u64);
        if self.neg == o.neg {
            return Dy {
                neg: self.neg,
                mag: Dy::add_mag(&a, &b),
                exp,
            };
        }
        match Dy::cmp_mag(&a, &b) {
            std::cmp::Ordering::Less => Dy {
                neg: o.neg,
                mag: Dy::sub_mag(&b, &a),
                exp,
            },
            _ => Dy {
                neg: self.neg,
                mag: Dy::sub_mag(&a, &b),
                exp,
            },
        }
    }
    fn mul(&self, o: &Dy) -> Dy {
        let mut out = vec![0u64; self.mag.len() + o.mag.len() + 1];
        for (i, &x) in self.mag.iter().enumerate() {
            let mut carry = 0u128;
            for (j, &y) in o.mag.iter().enumerate() {
                let t = x as u128 * y as u128 + out[i + j] as u128 + carry;
                out[i + j] = t as u64;
                carry = t >> 64;
            }
            let mut k = i + o.mag.len();
            while carry != 0 {
                let t = out[k] as u128 + carry;
                out[k] = t as u64;
                carry = t >> 64;
                k += 1;
            }
        }
        Dy {
            neg: self.neg != o.neg,
            mag: out,
            exp: self.exp + o.exp,
        }
    }
    fn eq(&self, o: &Dy) -> bool {
        let d = self.add(&Dy {
            neg: !o.neg,
            ..o.clone()
        });
        d.is_zero()
    }
}

/// The value of a float bit pattern with `mant` fraction and `ebits` exponent
/// bits; an infinity counts as 2^(emax + 1) (where rounding away from the
/// largest finite number goes). None for NaN.
fn float_value(bits: u128, mant: u32, ebits: u32) -> Option<Dy> {
    let neg = (bits >> (mant + ebits)) & 1 == 1;
    let emask = (1u128 << ebits) - 1;
    let e = ((bits >> mant) & emask) as i64;
    let f = bits & ((1u128 << mant) - 1);
    let bias = (1i64 << (ebits - 1)) - 1;
    if e == emask as i64 {
        return (f == 0).then(|| Dy::new(neg, 1, bias + 1));
    }
    Some(if e == 0 {
        Dy::new(neg, f, 1 - bias - mant as i64)
    } else {
        Dy::new(neg, f | 1 << mant, e - bias - mant as i64)
    })
}

fn q_value(bits: u128) -> Option<Dy> {
    float_value(bits, 112, 15)
}

/// (width, signed) of the integer in a conversion op name ("cvt.w.q", "cvt.q.tu").
fn int_kind(op: &str) -> (u32, bool) {
    let t = op
        .split('.')
        .find(|p| !matches!(*p, "cvt" | "q"))
        .expect("an integer type");
    let bits = match t.trim_end_matches('u') {
        "w" => 32,
        "l" => 64,
        _ => 128,
    };
    (bits, !t.ends_with('u'))
}

fn int_value(v: u128, (bits, signed): (u32, bool)) -> Dy {
    let v = if bits == 128 {
        v
    } else {
        v & ((1u128 << bits) - 1)
    };
    if signed {
        let s = ((v << (128 - bits)) as i128) >> (128 - bits);
        Dy::new(s < 0, s.unsigned_abs(), 0)
    } else {
        Dy::new(false, v, 0)
    }
}

/// Whether the exact result of `op` on `ops` lies exactly halfway between
/// `rtz` (the result rounded towards zero) and the next representable
/// result away from zero (`neg`: the exact value is negative).
fn is_tie(op: &str, ops: [Option<u128>; 3], rtz: u128, neg: bool) -> bool {
    let a = || q_value(ops[0].unwrap()).expect("finite operand");
    let b = || q_value(ops[1].unwrap()).expect("finite operand");
    // tie <=> 2 * num == den * (rtz + away)
    let (num, den) = match op {
        "add" => (a().add(&b()), Dy::new(false, 1, 0)),
        "sub" => {
            let mut nb = b();
            nb.neg = !nb.neg;
            (a().add(&nb), Dy::new(false, 1, 0))
        }
        "mul" => (a().mul(&b()), Dy::new(false, 1, 0)),
        "fma" => {
            let c = q_value(ops[2].unwrap()).expect("finite operand");
            (a().mul(&b()).add(&c), Dy::new(false, 1, 0))
        }
        "div" => (a(), b()),
        _ if op.ends_with(".q") => (a(), Dy::new(false, 1, 0)),
        _ => (
            int_value(ops[0].unwrap(), int_kind(op)),
            Dy::new(false, 1, 0),
        ),
    };
    let (lo, hi) = match op {
        "cvt.s.q" => {
            let r = rtz & 0x7fff_ffff;
            (
                float_value(rtz, 23, 8),
                float_value(r + 1, 23, 8).map(|mut v| {
                    v.neg = neg;
                    v
                }),
            )
        }
        "cvt.d.q" => {
            let r = rtz & 0x7fff_ffff_ffff_ffff;
            (
                float_value(rtz, 52, 11),
                float_value(r + 1, 52, 11).map(|mut v| {
                    v.neg = neg;
                    v
                }),
            )
        }
        _ if op.starts_with("cvt.") && op.ends_with(".q") => {
            let r = int_value(rtz, int_kind(op));
            let step = Dy::new(neg, 1, 0);
            let away = r.add(&step);
            (Some(r), Some(away))
        }
        _ => {
            let r = rtz & !(1u128 << 127);
            (
                q_value(rtz),
                q_value(r + 1).map(|mut v| {
                    v.neg = neg;
                    v
                }),
            )
        }
    };
    let (Some(lo), Some(hi)) = (lo, hi) else {
        panic!("{op}: no finite neighbours around {rtz:#x}");
    };
    let two = Dy::new(false, 2, 0);
    two.mul(&num).eq(&den.mul(&lo.add(&hi)))
}
