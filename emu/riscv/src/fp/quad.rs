//! Exact IEEE 754 binary128 arithmetic over integers (the Q extension), with
//! the same RISC-V choices as [`super::soft`] (canonical NaN results,
//! tininess after rounding, `inf * 0 + qNaN` signals invalid, saturating
//! conversions to integers, minimumNumber/maximumNumber with -0 < +0).
//!
//! Values travel as raw bit patterns in a `u128`; a 113-bit significand fits a
//! `u128`, and the wider intermediates (the 226-bit product of a fused
//! multiply-add, the radicand of a square root) use `U256`. Rounding is done
//! once, by `round_pack`, with the same rule as the binary32/64 code: the
//! significand handed to it may carry a sticky bit in bit 0 as long as it holds
//! at least p + 2 = 115 bits whenever it does.
//!
//! Conversions between binary128 and binary32/64 round with
//! `soft::round_pack`; conversions to and from integers handle 32-,
//! 64- and 128-bit integers (the last for RV128's `FCVT.T[U]`).

use super::soft::{self, FmaOp, Format, Rm, DZ, NV, NX, OF, UF};
use crate::xlen::mul_u128_wide;

/// Stored fraction bits.
const MANT: u32 = 112;
/// Precision.
const P: i32 = 113;
const BIAS: i32 = 16383;
/// Smallest unbiased exponent of a normal number.
const EMIN: i32 = 1 - BIAS;
const EXP_MAX: u128 = 0x7fff;
const SIGN: u128 = 1 << 127;
const FRAC_MASK: u128 = (1 << MANT) - 1;
const QUIET: u128 = 1 << (MANT - 1);
/// The canonical NaN: positive, quiet, payload zero.
pub const CANONICAL_NAN: u128 = (EXP_MAX << MANT) | QUIET;
const INF: u128 = EXP_MAX << MANT;

#[inline]
fn sign(neg: bool) -> u128 {
    if neg {
        SIGN
    } else {
        0
    }
}
#[inline]
fn inf(neg: bool) -> u128 {
    sign(neg) | INF
}
#[inline]
fn zero(neg: bool) -> u128 {
    sign(neg)
}
#[inline]
fn is_neg(a: u128) -> bool {
    a & SIGN != 0
}
#[inline]
fn abs(a: u128) -> u128 {
    a & !SIGN
}
/// Whether `a` is a NaN.
#[inline]
pub fn is_nan(a: u128) -> bool {
    abs(a) > INF
}
#[inline]
fn is_snan(a: u128) -> bool {
    is_nan(a) && a & QUIET == 0
}

/// A decoded operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Val {
    Nan {
        signaling: bool,
    },
    Inf {
        neg: bool,
    },
    Zero {
        neg: bool,
    },
    /// value = (-1)^neg * sig * 2^exp, sig != 0.
    Num {
        neg: bool,
        exp: i32,
        sig: u128,
    },
}

#[inline]
fn decode(a: u128) -> Val {
    let neg = is_neg(a);
    let e = (a >> MANT) & EXP_MAX;
    let frac = a & FRAC_MASK;
    if e == EXP_MAX {
        if frac == 0 {
            Val::Inf { neg }
        } else {
            Val::Nan {
                signaling: frac & QUIET == 0,
            }
        }
    } else if e == 0 {
        if frac == 0 {
            Val::Zero { neg }
        } else {
            Val::Num {
                neg,
                exp: EMIN - MANT as i32,
                sig: frac,
            }
        }
    } else {
        Val::Num {
            neg,
            exp: e as i32 - BIAS - MANT as i32,
            sig: frac | (1 << MANT),
        }
    }
}

/// An unsigned 256-bit integer as (high, low) halves: just what the wide
/// intermediates need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct U256 {
    hi: u128,
    lo: u128,
}

impl U256 {
    const fn from_u128(v: u128) -> U256 {
        U256 { hi: 0, lo: v }
    }
    fn leading_zeros(self) -> u32 {
        if self.hi != 0 {
            self.hi.leading_zeros()
        } else {
            128 + self.lo.leading_zeros()
        }
    }
    fn shl(self, n: u32) -> U256 {
        match n {
            0 => self,
            1..=127 => U256 {
                hi: (self.hi << n) | (self.lo >> (128 - n)),
                lo: self.lo << n,
            },
            128..=255 => U256 {
                hi: self.lo << (n - 128),
                lo: 0,
            },
            _ => U256 { hi: 0, lo: 0 },
        }
    }
    fn shr(self, n: u32) -> U256 {
        match n {
            0 => self,
            1..=127 => U256 {
                hi: self.hi >> n,
                lo: (self.lo >> n) | (self.hi << (128 - n)),
            },
            128..=255 => U256 {
                hi: 0,
                lo: self.hi >> (n - 128),
            },
            _ => U256 { hi: 0, lo: 0 },
        }
    }
    /// Shifts right by `n`, ORing every discarded bit into bit 0.
    fn shr_jam(self, n: u32) -> U256 {
        if n == 0 {
            return self;
        }
        let kept = self.shr(n);
        let lost = kept.shl(n) != self;
        U256 {
            hi: kept.hi,
            lo: kept.lo | lost as u128,
        }
    }
    fn add(self, o: U256) -> U256 {
        let (lo, c) = self.lo.overflowing_add(o.lo);
        U256 {
            hi: self.hi.wrapping_add(o.hi).wrapping_add(c as u128),
            lo,
        }
    }
    fn sub(self, o: U256) -> U256 {
        let (lo, b) = self.lo.overflowing_sub(o.lo);
        U256 {
            hi: self.hi.wrapping_sub(o.hi).wrapping_sub(b as u128),
            lo,
        }
    }
    fn mul(a: u128, b: u128) -> U256 {
        let (hi, lo) = mul_u128_wide(a, b);
        U256 { hi, lo }
    }
}

/// Rounds (-1)^neg * sig * 2^exp to binary128 and packs it. `sig` must be
/// nonzero; its bit 0 may be a sticky bit if `sig` has at least 115 bits.
fn round_pack(neg: bool, exp: i32, sig: u128, rm: Rm, fl: &mut u8) -> u128 {
    debug_assert!(sig != 0);
    let msb = 127 - sig.leading_zeros() as i32;
    let e = exp + msb; // unbiased exponent of the leading bit
    let full_shift = msb - (P - 1);
    if e >= EMIN {
        let (mut kept, inexact) = if full_shift <= 0 {
            (sig << -full_shift, false)
        } else {
            soft::round_shift(sig, full_shift as u32, rm, neg)
        };
        let mut e = e;
        if kept >> P != 0 {
            kept >>= 1;
            e += 1;
        }
        if e > BIAS {
            *fl |= OF | NX;
            let to_inf = match rm {
                Rm::Rne | Rm::Rmm => true,
                Rm::Rtz => false,
                Rm::Rdn => neg,
                Rm::Rup => !neg,
            };
            return if to_inf {
                inf(neg)
            } else {
                sign(neg) | (((EXP_MAX - 1) << MANT) | FRAC_MASK)
            };
        }
        if inexact {
            *fl |= NX;
        }
        let field = (e + BIAS) as u128;
        sign(neg) | (field << MANT) | (kept & FRAC_MASK)
    } else {
        // Below the normal range: round at the fixed subnormal quantum 2^(EMIN - MANT).
        let shift = full_shift + (EMIN - e);
        let (kept, inexact) = if shift <= 0 {
            (sig << -shift, false)
        } else {
            soft::round_shift(sig, shift as u32, rm, neg)
        };
        if inexact {
            // Tininess after rounding: tiny unless rounding to precision p with
            // an unbounded exponent range would already reach 2^EMIN.
            let tiny = if e == EMIN - 1 && full_shift > 0 {
                let (k, _) = soft::round_shift(sig, full_shift as u32, rm, neg);
                k >> P == 0
            } else {
                true
            };
            *fl |= NX | if tiny { UF } else { 0 };
        }
        // A carry into bit MANT gives the smallest normal number, packed correctly.
        sign(neg) | kept
    }
}

/// [`round_pack`] for a significand of up to 256 bits.
fn round_pack_wide(neg: bool, exp: i32, sig: U256, rm: Rm, fl: &mut u8) -> u128 {
    if sig.hi == 0 {
        return round_pack(neg, exp, sig.lo, rm, fl);
    }
    // Keep 128 bits (over p + 2), jamming the rest into bit 0.
    let n = 128 - sig.hi.leading_zeros();
    round_pack(neg, exp + n as i32, sig.shr_jam(n).lo, rm, fl)
}

/// Sign of an exact zero sum of operands with different signs (IEEE 754 6.3).
#[inline]
fn zero_sum_sign(rm: Rm) -> bool {
    rm == Rm::Rdn
}

/// Adds two nonzero finite values exactly and rounds once; each significand
/// may have up to 253 bits.
fn add_nonzero(
    (na, ea, sa): (bool, i32, U256),
    (nb, eb, sb): (bool, i32, U256),
    rm: Rm,
    fl: &mut u8,
) -> u128 {
    // Leading bits at position 253: two bits of headroom for the carry.
    let la = sa.leading_zeros() as i32 - 2;
    let lb = sb.leading_zeros() as i32 - 2;
    let (sa, ea) = (sa.shl(la as u32), ea - la);
    let (sb, eb) = (sb.shl(lb as u32), eb - lb);
    let ((na, ea, sa), (nb, eb, sb)) = if ea >= eb {
        ((na, ea, sa), (nb, eb, sb))
    } else {
        ((nb, eb, sb), (na, ea, sa))
    };
    // The smaller operand loses bits only when it lies far below the larger
    // one, and then the sum keeps at least 250 significant bits, so jamming
    // cannot disturb rounding.
    let diff = (ea - eb).min(300) as u32;
    let sb = sb.shr_jam(diff);
    if na == nb {
        round_pack_wide(na, ea, sa.add(sb), rm, fl)
    } else if sa > sb {
        round_pack_wide(na, ea, sa.sub(sb), rm, fl)
    } else if sb > sa {
        round_pack_wide(nb, ea, sb.sub(sa), rm, fl)
    } else {
        zero(zero_sum_sign(rm))
    }
}

#[inline]
fn nan_result(signaling: bool, fl: &mut u8) -> u128 {
    if signaling {
        *fl |= NV;
    }
    CANONICAL_NAN
}

#[inline]
fn invalid(fl: &mut u8) -> u128 {
    *fl |= NV;
    CANONICAL_NAN
}

/// a + b.
pub fn add(a: u128, b: u128, rm: Rm, fl: &mut u8) -> u128 {
    match (decode(a), decode(b)) {
        (Val::Nan { .. }, _) | (_, Val::Nan { .. }) => nan_result(is_snan(a) || is_snan(b), fl),
        (Val::Inf { neg: x }, Val::Inf { neg: y }) => {
            if x == y {
                inf(x)
            } else {
                invalid(fl)
            }
        }
        (Val::Inf { neg }, _) | (_, Val::Inf { neg }) => inf(neg),
        (Val::Zero { neg: x }, Val::Zero { neg: y }) => {
            zero(if x == y { x } else { zero_sum_sign(rm) })
        }
        (Val::Zero { .. }, Val::Num { .. }) => b,
        (Val::Num { .. }, Val::Zero { .. }) => a,
        (
            Val::Num {
                neg: na,
                exp: ea,
                sig: sa,
            },
            Val::Num {
                neg: nb,
                exp: eb,
                sig: sb,
            },
        ) => add_nonzero(
            (na, ea, U256::from_u128(sa)),
            (nb, eb, U256::from_u128(sb)),
            rm,
            fl,
        ),
    }
}

/// a - b.
pub fn sub(a: u128, b: u128, rm: Rm, fl: &mut u8) -> u128 {
    add(a, b ^ SIGN, rm, fl)
}

/// a * b.
pub fn mul(a: u128, b: u128, rm: Rm, fl: &mut u8) -> u128 {
    let neg = is_neg(a) != is_neg(b);
    match (decode(a), decode(b)) {
        (Val::Nan { .. }, _) | (_, Val::Nan { .. }) => nan_result(is_snan(a) || is_snan(b), fl),
        (Val::Inf { .. }, Val::Zero { .. }) | (Val::Zero { .. }, Val::Inf { .. }) => invalid(fl),
        (Val::Inf { .. }, _) | (_, Val::Inf { .. }) => inf(neg),
        (Val::Zero { .. }, _) | (_, Val::Zero { .. }) => zero(neg),
        (
            Val::Num {
                exp: ea, sig: sa, ..
            },
            Val::Num {
                exp: eb, sig: sb, ..
            },
        ) => round_pack_wide(neg, ea + eb, U256::mul(sa, sb), rm, fl),
    }
}

/// a / b.
pub fn div(a: u128, b: u128, rm: Rm, fl: &mut u8) -> u128 {
    let neg = is_neg(a) != is_neg(b);
    match (decode(a), decode(b)) {
        (Val::Nan { .. }, _) | (_, Val::Nan { .. }) => nan_result(is_snan(a) || is_snan(b), fl),
        (Val::Inf { .. }, Val::Inf { .. }) | (Val::Zero { .. }, Val::Zero { .. }) => invalid(fl),
        (Val::Inf { .. }, _) => inf(neg),
        (_, Val::Inf { .. }) | (Val::Zero { .. }, _) => zero(neg),
        (Val::Num { .. }, Val::Zero { .. }) => {
            *fl |= DZ;
            inf(neg)
        }
        (
            Val::Num {
                exp: ea, sig: sa, ..
            },
            Val::Num {
                exp: eb, sig: sb, ..
            },
        ) => {
            // Both significands with their leading bit at 112, so sa / sb is in
            // (1/2, 2); K + 1 quotient bits by restoring division give
            // floor(sa * 2^K / sb) with 116 or 117 bits, over p + 2.
            const K: u32 = 116;
            let la = sa.leading_zeros() as i32 - 15;
            let lb = sb.leading_zeros() as i32 - 15;
            let (sa, sb) = (sa << la, sb << lb);
            let (mut r, mut q) = (sa, 0u128);
            for _ in 0..=K {
                q <<= 1;
                if r >= sb {
                    r -= sb;
                    q |= 1;
                }
                r <<= 1;
            }
            let exp = (ea - la) - (eb - lb) - K as i32;
            round_pack(neg, exp, q | (r != 0) as u128, rm, fl)
        }
    }
}

/// sqrt(a).
pub fn sqrt(a: u128, rm: Rm, fl: &mut u8) -> u128 {
    match decode(a) {
        Val::Nan { signaling } => nan_result(signaling, fl),
        Val::Zero { .. } => a,
        Val::Inf { neg: false } => a,
        Val::Inf { neg: true } | Val::Num { neg: true, .. } => invalid(fl),
        Val::Num {
            neg: false,
            exp,
            sig,
        } => {
            // The radicand sig * 2^s with 231 or 232 bits and exp - s even:
            // its root has 116 bits, over p + 2.
            let mut s = 232 - (256 - sig.leading_zeros() as i32 - 128);
            if (exp - s) & 1 != 0 {
                s -= 1;
            }
            let rad = U256::from_u128(sig).shl(s as u32);
            // Digit-by-digit square root, two radicand bits per step. The
            // remainder stays below 2 * root + 1 < 2^118.
            let (mut rem, mut root) = (0u128, 0u128);
            for i in (0..116).rev() {
                let two = rad.shr(2 * i).lo & 3;
                rem = (rem << 2) | two;
                let trial = (root << 2) | 1;
                root <<= 1;
                if rem >= trial {
                    rem -= trial;
                    root |= 1;
                }
            }
            round_pack(false, (exp - s) / 2, root | (rem != 0) as u128, rm, fl)
        }
    }
}

/// A fused multiply-add with a single rounding.
pub fn fma(a: u128, b: u128, c: u128, op: FmaOp, rm: Rm, fl: &mut u8) -> u128 {
    let (neg_prod, neg_c) = match op {
        FmaOp::Madd => (false, false),
        FmaOp::Msub => (false, true),
        FmaOp::Nmsub => (true, false),
        FmaOp::Nmadd => (true, true),
    };
    let (va, vb, vc) = (decode(a), decode(b), decode(c));
    let inf_times_zero = matches!(
        (va, vb),
        (Val::Inf { .. }, Val::Zero { .. }) | (Val::Zero { .. }, Val::Inf { .. })
    );
    if is_nan(a) || is_nan(b) || is_nan(c) {
        // RISC-V: inf * 0 signals invalid even when the addend is a quiet NaN.
        return nan_result(is_snan(a) || is_snan(b) || is_snan(c) || inf_times_zero, fl);
    }
    if inf_times_zero {
        return invalid(fl);
    }
    let np = (is_neg(a) != is_neg(b)) != neg_prod;
    let nc = is_neg(c) != neg_c;
    let prod_inf = matches!(va, Val::Inf { .. }) || matches!(vb, Val::Inf { .. });
    match (prod_inf, vc) {
        (true, Val::Inf { .. }) if np != nc => return invalid(fl),
        (true, _) => return inf(np),
        (false, Val::Inf { .. }) => return inf(nc),
        _ => {}
    }
    let prod = match (va, vb) {
        (
            Val::Num {
                exp: ea, sig: sa, ..
            },
            Val::Num {
                exp: eb, sig: sb, ..
            },
        ) => Some((ea + eb, U256::mul(sa, sb))),
        _ => None,
    };
    match (prod, vc) {
        (None, Val::Zero { .. }) => zero(if np == nc { np } else { zero_sum_sign(rm) }),
        (None, Val::Num { exp, sig, .. }) => round_pack(nc, exp, sig, rm, fl),
        (Some((ep, sp)), Val::Zero { .. }) => round_pack_wide(np, ep, sp, rm, fl),
        (Some((ep, sp)), Val::Num { exp, sig, .. }) => {
            add_nonzero((np, ep, sp), (nc, exp, U256::from_u128(sig)), rm, fl)
        }
        _ => unreachable!("NaN and infinite addends were handled above"),
    }
}

/// Converts a binary128 value to binary32 or binary64 (`to`), rounding with `rm`.
pub fn to_narrow(to: Format, a: u128, rm: Rm, fl: &mut u8) -> u64 {
    match decode(a) {
        Val::Nan { signaling } => {
            if signaling {
                *fl |= NV;
            }
            to.canonical_nan()
        }
        Val::Inf { neg } => to.inf(neg),
        Val::Zero { neg } => to.zero(neg),
        Val::Num { neg, exp, sig } => soft::round_pack(to, neg, exp, sig, rm, fl),
    }
}

/// Converts a binary32 or binary64 value (`from`) to binary128: always exact.
pub fn from_narrow(from: Format, a: u64, fl: &mut u8) -> u128 {
    match soft::decode(from, a) {
        soft::Val::Nan { signaling } => nan_result(signaling, fl),
        soft::Val::Inf { neg } => inf(neg),
        soft::Val::Zero { neg } => zero(neg),
        soft::Val::Num { neg, exp, sig } => round_pack(neg, exp, sig as u128, Rm::Rne, fl),
    }
}

/// An integer type of a conversion: its width (32, 64 or 128) and signedness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Int {
    /// Width in bits: 32, 64 or 128.
    pub bits: u32,
    /// Two's complement (W, L, T) or unsigned (WU, LU, TU).
    pub signed: bool,
}

impl Int {
    /// The saturated results for too-large (or NaN) and too-small inputs, as
    /// 128-bit values (narrower ones sign-extended, as RISC-V writes them).
    fn limits(self) -> (u128, u128) {
        let (max, min) = match (self.signed, self.bits) {
            (true, b) => ((1u128 << (b - 1)) - 1, (1u128 << (b - 1)).wrapping_neg()),
            (false, 128) => (u128::MAX, 0),
            (false, b) => ((1u128 << b) - 1, 0),
        };
        (self.sext(max), min)
    }
    /// Sign-extends a value of this width from bit `bits - 1` to 128 bits.
    fn sext(self, v: u128) -> u128 {
        let sh = 128 - self.bits;
        (((v << sh) as i128) >> sh) as u128
    }
}

/// Converts (-1)^neg * sig * 2^exp (or a special value) to an integer,
/// rounding with `rm` and saturating as RISC-V defines. The result is
/// sign-extended from the integer's width to 128 bits.
fn to_int_parts(v: Option<(bool, i32, u128)>, nan: bool, t: Int, rm: Rm, fl: &mut u8) -> u128 {
    let (max, min) = t.limits();
    let Some((neg, exp, sig)) = v else {
        // NaN or infinity (neg only matters for infinities).
        *fl |= NV;
        return if nan { max } else { min };
    };
    // Magnitude rounded to an integer; None if certainly out of every range.
    let (mag, inexact) = if exp >= 0 {
        if exp > sig.leading_zeros() as i32 {
            (None, false)
        } else {
            (Some(sig << exp), false)
        }
    } else {
        let (m, i) = soft::round_shift(sig, (-exp) as u32, rm, neg);
        (Some(m), i)
    };
    let half = 1u128 << (t.bits - 1);
    let in_range = match (mag, t.signed, neg) {
        (None, _, _) => false,
        (Some(m), true, false) => m < half,
        (Some(m), true, true) => m <= half,
        (Some(m), false, false) => t.bits == 128 || m < half << 1,
        (Some(m), false, true) => m == 0,
    };
    if !in_range {
        *fl |= NV;
        return if neg { min } else { max };
    }
    if inexact {
        *fl |= NX;
    }
    let m = mag.unwrap_or(0);
    t.sext(if neg { m.wrapping_neg() } else { m })
}

/// FCVT.{W,WU,L,LU,T,TU}.Q.
pub fn to_int(a: u128, t: Int, rm: Rm, fl: &mut u8) -> u128 {
    match decode(a) {
        Val::Nan { .. } => to_int_parts(None, true, t, rm, fl),
        Val::Inf { neg } => to_int_parts(None, !neg, t, rm, fl),
        Val::Zero { .. } => 0,
        Val::Num { neg, exp, sig } => to_int_parts(Some((neg, exp, sig)), false, t, rm, fl),
    }
}

/// FCVT.{T,TU}.{S,D}: a binary32/64 value to a 128-bit integer.
pub fn narrow_to_int(f: Format, a: u64, t: Int, rm: Rm, fl: &mut u8) -> u128 {
    match soft::decode(f, a) {
        soft::Val::Nan { .. } => to_int_parts(None, true, t, rm, fl),
        soft::Val::Inf { neg } => to_int_parts(None, !neg, t, rm, fl),
        soft::Val::Zero { .. } => 0,
        soft::Val::Num { neg, exp, sig } => {
            to_int_parts(Some((neg, exp, sig as u128)), false, t, rm, fl)
        }
    }
}

/// The sign and magnitude of an integer operand (the low `t.bits` bits of `v`).
fn int_parts(v: u128, t: Int) -> (bool, u128) {
    let v = if t.bits == 128 {
        v
    } else {
        v & ((1u128 << t.bits) - 1)
    };
    if t.signed {
        let s = t.sext(v) as i128;
        (s < 0, s.unsigned_abs())
    } else {
        (false, v)
    }
}

/// FCVT.Q.{W,WU,L,LU,T,TU}: exact except for 128-bit integers over 113 bits.
pub fn from_int(v: u128, t: Int, rm: Rm, fl: &mut u8) -> u128 {
    let (neg, mag) = int_parts(v, t);
    if mag == 0 {
        return zero(false);
    }
    round_pack(neg, 0, mag, rm, fl)
}

/// FCVT.{S,D}.{T,TU}: a 128-bit integer to binary32/64.
pub fn int_to_narrow(f: Format, v: u128, t: Int, rm: Rm, fl: &mut u8) -> u64 {
    let (neg, mag) = int_parts(v, t);
    if mag == 0 {
        return f.zero(false);
    }
    soft::round_pack(f, neg, 0, mag, rm, fl)
}

/// Orders two non-NaN values; `zeros_equal` makes -0 == +0.
#[inline]
fn less(a: u128, b: u128, zeros_equal: bool) -> bool {
    let (na, nb) = (is_neg(a), is_neg(b));
    let (ma, mb) = (abs(a), abs(b));
    if na != nb {
        na && !(zeros_equal && ma == 0 && mb == 0)
    } else if na {
        ma > mb
    } else {
        ma < mb
    }
}

/// feq: quiet comparison (NV only for signaling NaNs).
pub fn feq(a: u128, b: u128, fl: &mut u8) -> bool {
    if is_nan(a) || is_nan(b) {
        if is_snan(a) || is_snan(b) {
            *fl |= NV;
        }
        return false;
    }
    a == b || (abs(a) == 0 && abs(b) == 0)
}

/// flt: signaling comparison (NV for any NaN).
pub fn flt(a: u128, b: u128, fl: &mut u8) -> bool {
    if is_nan(a) || is_nan(b) {
        *fl |= NV;
        return false;
    }
    less(a, b, true)
}

/// fle: signaling comparison (NV for any NaN).
pub fn fle(a: u128, b: u128, fl: &mut u8) -> bool {
    if is_nan(a) || is_nan(b) {
        *fl |= NV;
        return false;
    }
    !less(b, a, true)
}

/// minimumNumber (`max == false`) or maximumNumber (`max == true`).
pub fn min_max(a: u128, b: u128, max: bool, fl: &mut u8) -> u128 {
    if is_snan(a) || is_snan(b) {
        *fl |= NV;
    }
    match (is_nan(a), is_nan(b)) {
        (true, true) => CANONICAL_NAN,
        (true, false) => b,
        (false, true) => a,
        (false, false) => {
            if less(a, b, false) != max {
                a
            } else {
                b
            }
        }
    }
}

/// fclass: a one-hot 10-bit mask.
pub fn class(a: u128) -> u128 {
    let bit = match decode(a) {
        Val::Inf { neg: true } => 0,
        Val::Num { neg: true, sig, .. } if sig >> MANT != 0 => 1,
        Val::Num { neg: true, .. } => 2,
        Val::Zero { neg: true } => 3,
        Val::Zero { neg: false } => 4,
        Val::Num {
            neg: false, sig, ..
        } if sig >> MANT == 0 => 5,
        Val::Num { neg: false, .. } => 6,
        Val::Inf { neg: false } => 7,
        Val::Nan { signaling: true } => 8,
        Val::Nan { signaling: false } => 9,
    };
    1 << bit
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: u128 = 0x3fff_0000_0000_0000_0000_0000_0000_0000;
    const TWO: u128 = 0x4000_0000_0000_0000_0000_0000_0000_0000;
    const THREE: u128 = 0x4000_8000_0000_0000_0000_0000_0000_0000;
    const MIN_SUB: u128 = 1;
    const MIN_NORMAL: u128 = 1 << MANT;

    #[test]
    fn small_integers() {
        let mut fl = 0;
        assert_eq!(add(ONE, TWO, Rm::Rne, &mut fl), THREE);
        assert_eq!(mul(THREE, ONE, Rm::Rne, &mut fl), THREE);
        assert_eq!(div(THREE, THREE, Rm::Rne, &mut fl), ONE);
        assert_eq!(sub(THREE, TWO, Rm::Rne, &mut fl), ONE);
        assert_eq!(
            sqrt(
                from_int(
                    9,
                    Int {
                        bits: 32,
                        signed: true
                    },
                    Rm::Rne,
                    &mut fl
                ),
                Rm::Rne,
                &mut fl
            ),
            THREE
        );
        assert_eq!(fl, 0);
        assert_eq!(
            to_int(
                THREE,
                Int {
                    bits: 128,
                    signed: true
                },
                Rm::Rne,
                &mut fl
            ),
            3
        );
        assert_eq!(from_narrow(soft::F64, 3f64.to_bits(), &mut fl), THREE);
        assert_eq!(
            to_narrow(soft::F32, THREE, Rm::Rne, &mut fl),
            3f32.to_bits() as u64
        );
        assert_eq!(fl, 0);
    }

    #[test]
    fn ties_and_subnormals() {
        // 1 + 2^-113 is a tie between 1 and 1 + 2^-112.
        let tiny = (BIAS as u128 - 113) << MANT;
        for (rm, want) in [
            (Rm::Rne, ONE),
            (Rm::Rmm, ONE + 1),
            (Rm::Rup, ONE + 1),
            (Rm::Rtz, ONE),
            (Rm::Rdn, ONE),
        ] {
            let mut fl = 0;
            assert_eq!(add(ONE, tiny, rm, &mut fl), want, "{rm:?}");
            assert_eq!(fl, NX);
        }
        // min_subnormal / 2: a tie between 0 and min_subnormal.
        let mut fl = 0;
        assert_eq!(div(MIN_SUB, TWO, Rm::Rne, &mut fl), 0);
        assert_eq!(fl, UF | NX);
        let mut fl = 0;
        assert_eq!(div(MIN_SUB, TWO, Rm::Rmm, &mut fl), MIN_SUB);
        assert_eq!(fl, UF | NX);
        // Exact subnormal results raise nothing.
        let mut fl = 0;
        assert_eq!(div(MIN_NORMAL, TWO, Rm::Rne, &mut fl), MIN_NORMAL >> 1);
        assert_eq!(fl, 0);
    }
}
