//! A host-FPU fast path for the common case: round-to-nearest-even arithmetic
//! on moderate, finite, nonzero operands. Every function returns `None`
//! whenever its preconditions do not hold, and the caller then uses the exact
//! integer implementation in [`super::soft`]. When it returns a value, the
//! value and the flags are exactly what `soft` computes (tests/fp_fastpath.rs
//! checks this on millions of operands).
//!
//! Why it is exact:
//! - The host performs IEEE 754 binary64 arithmetic with round-to-nearest-even
//!   (x86-64 SSE2, AArch64, WebAssembly and RISC-V all do; the fast path is
//!   compiled only for those architectures). NaN results never occur because
//!   operands are finite and nonzero with bounded exponents.
//! - The operand ranges (|x| in [2^-400, 2^400] for binary64, [2^-60, 2^60]
//!   for binary32) keep every result and every intermediate of the error-free
//!   transformations far from overflow and underflow, so no OF/UF can arise
//!   and the only flag is NX.
//! - binary64: NX is decided exactly with error-free transformations (Knuth's
//!   TwoSum for addition; Veltkamp/Dekker TwoProduct for multiplication, and to
//!   check q * b == a for division and r * r == a for square root).
//! - binary32: the operation is done in binary64 and rounded to binary32.
//!   Since 53 >= 2 * 24 + 2, this double rounding is innocuous for +, -, *, /
//!   and sqrt (Figueroa, "When is double rounding innocuous?", 1995). NX is
//!   decided exactly in binary64, where products of two binary32 values are exact.

use super::soft::NX;

/// Whether binary64 `x` is finite, nonzero and in [2^-400, 2^401).
#[inline(always)]
fn moderate64(x: u64) -> bool {
    let e = (x >> 52) & 0x7ff;
    e.wrapping_sub(1023 - 400) <= 800
}

/// Whether binary32 `x` is finite, nonzero and in [2^-60, 2^61).
#[inline(always)]
fn moderate32(x: u64) -> bool {
    let e = (x >> 23) & 0xff;
    e.wrapping_sub(127 - 60) <= 120
}

/// Knuth's TwoSum: returns (s, e) with s = fl(a + b) and a + b = s + e exactly.
#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// Veltkamp split of x into hi + lo, each with at most 26 significant bits.
#[inline(always)]
fn split(x: f64) -> (f64, f64) {
    let c = 134_217_729.0 * x; // 2^27 + 1
    let hi = c - (c - x);
    (hi, x - hi)
}

/// Dekker's TwoProduct: returns (p, e) with p = fl(a * b) and a * b = p + e exactly.
#[inline(always)]
fn two_product(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    let e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    (p, e)
}

#[inline(always)]
fn flag(inexact: bool) -> u8 {
    if inexact {
        NX
    } else {
        0
    }
}

/// binary64 a + b under RNE.
#[inline]
pub fn add64(a: u64, b: u64) -> Option<(u64, u8)> {
    if !(moderate64(a) && moderate64(b)) {
        return None;
    }
    let (s, e) = two_sum(f64::from_bits(a), f64::from_bits(b));
    Some((s.to_bits(), flag(e != 0.0)))
}

/// binary64 a * b under RNE.
#[inline]
pub fn mul64(a: u64, b: u64) -> Option<(u64, u8)> {
    if !(moderate64(a) && moderate64(b)) {
        return None;
    }
    let (p, e) = two_product(f64::from_bits(a), f64::from_bits(b));
    Some((p.to_bits(), flag(e != 0.0)))
}

/// binary64 a / b under RNE.
#[inline]
pub fn div64(a: u64, b: u64) -> Option<(u64, u8)> {
    if !(moderate64(a) && moderate64(b)) {
        return None;
    }
    let (x, y) = (f64::from_bits(a), f64::from_bits(b));
    let q = x / y;
    // The quotient is exact iff q * b == a exactly.
    let (p, e) = two_product(q, y);
    Some((q.to_bits(), flag(p != x || e != 0.0)))
}

/// binary64 sqrt(a) under RNE (a > 0).
#[inline]
pub fn sqrt64(a: u64) -> Option<(u64, u8)> {
    if !moderate64(a) || a >> 63 != 0 {
        return None;
    }
    let x = f64::from_bits(a);
    let r = x.sqrt();
    let (p, e) = two_product(r, r);
    Some((r.to_bits(), flag(p != x || e != 0.0)))
}

#[inline(always)]
fn f32_as_f64(x: u64) -> f64 {
    f64::from(f32::from_bits(x as u32))
}

#[inline(always)]
fn round32(r: f64) -> (u64, f64) {
    let s = r as f32;
    (u64::from(s.to_bits()), f64::from(s))
}

/// binary32 a + b under RNE (values in the low 32 bits).
#[inline]
pub fn add32(a: u64, b: u64) -> Option<(u64, u8)> {
    if !(moderate32(a) && moderate32(b)) {
        return None;
    }
    let (s, e) = two_sum(f32_as_f64(a), f32_as_f64(b));
    let (bits, back) = round32(s);
    Some((bits, flag(e != 0.0 || back != s)))
}

/// binary32 a * b under RNE.
#[inline]
pub fn mul32(a: u64, b: u64) -> Option<(u64, u8)> {
    if !(moderate32(a) && moderate32(b)) {
        return None;
    }
    let p = f32_as_f64(a) * f32_as_f64(b); // exact: 24 + 24 bits
    let (bits, back) = round32(p);
    Some((bits, flag(back != p)))
}

/// binary32 a / b under RNE.
#[inline]
pub fn div32(a: u64, b: u64) -> Option<(u64, u8)> {
    if !(moderate32(a) && moderate32(b)) {
        return None;
    }
    let (x, y) = (f32_as_f64(a), f32_as_f64(b));
    let (bits, q) = round32(x / y);
    Some((bits, flag(q * y != x))) // q * y is exact in binary64
}

/// binary32 sqrt(a) under RNE.
#[inline]
pub fn sqrt32(a: u64) -> Option<(u64, u8)> {
    if !moderate32(a) || a & 0x8000_0000 != 0 {
        return None;
    }
    let x = f32_as_f64(a);
    let (bits, r) = round32(x.sqrt());
    Some((bits, flag(r * r != x))) // r * r is exact in binary64
}

/// binary64 a * b + c under RNE.
///
/// With error-free transformations the exact value is X = z + ze + te:
/// a * b = uh + ul (TwoProduct), c + uh = th + tl, tl + ul = t + te and
/// th + t = z + ze (TwoSum), where z = RN(th + t) and |ze| <= h, h being half
/// the gap between z and its neighbour n on the side of the residual. When
/// |te| <= h / 4 (always, unless c nearly cancels the product), RN(X) is z
/// unless ze and te have the same sign and |ze| + |te| reaches h; then
/// D = h - |ze| is exact (Sterbenz, as h / 2 <= |ze| <= h) and comparing |te|
/// with D decides between z, n, and a tie (to the even one). Anything else
/// returns `None`. All values are multiples of 2^-904 below 2^803, so nothing
/// underflows or overflows.
#[inline]
pub fn fma64(a: u64, b: u64, c: u64) -> Option<(u64, u8)> {
    if !(moderate64(a) && moderate64(b) && moderate64(c)) {
        return None;
    }
    let (uh, ul) = two_product(f64::from_bits(a), f64::from_bits(b));
    let (th, tl) = two_sum(f64::from_bits(c), uh);
    let (t, te) = two_sum(tl, ul);
    let (z, ze) = two_sum(th, t);
    if ze == 0.0 && te == 0.0 {
        return Some((z.to_bits(), 0));
    }
    if z == 0.0 {
        return None;
    }
    let zb = z.to_bits();
    let up = if ze != 0.0 { ze > 0.0 } else { te > 0.0 };
    let nb = if up == (z > 0.0) { zb + 1 } else { zb - 1 };
    let h = (f64::from_bits(nb) - z).abs() * 0.5;
    if te.abs() > h * 0.25 {
        return None;
    }
    let same_side = ze != 0.0 && te != 0.0 && (te > 0.0) == (ze > 0.0);
    let r = if !same_side || ze.abs() < h * 0.5 {
        zb
    } else {
        let d = h - ze.abs();
        let ta = te.abs();
        if ta < d || (ta == d && zb & 1 == 0) {
            zb
        } else {
            nb
        }
    };
    Some((r, NX))
}

/// binary32 a * b + c under RNE. The product is exact in binary64 and TwoSum
/// gives the exact sum as s + err; s rounds to the same binary32 as the exact
/// sum unless s is exactly halfway between two binary32 values and err != 0,
/// in which case s is first moved one binary64 ulp towards err.
#[inline]
pub fn fma32(a: u64, b: u64, c: u64) -> Option<(u64, u8)> {
    if !(moderate32(a) && moderate32(b) && moderate32(c)) {
        return None;
    }
    let p = f32_as_f64(a) * f32_as_f64(b);
    let (s, err) = two_sum(p, f32_as_f64(c));
    if s != 0.0 && s.abs() < f64::from(f32::MIN_POSITIVE) * 2.0 {
        return None; // possibly subnormal in binary32: underflow rules apply
    }
    let mut s_adj = s;
    let low = s.to_bits() & ((1 << 29) - 1);
    if err != 0.0 && low == 1 << 28 {
        // Away from zero if err has the sign of s, else towards zero.
        let bits = s.to_bits();
        s_adj = f64::from_bits(if (err > 0.0) == (s > 0.0) {
            bits + 1
        } else {
            bits - 1
        });
    }
    let (bits, back) = round32(s_adj);
    Some((bits, flag(err != 0.0 || back != s)))
}
