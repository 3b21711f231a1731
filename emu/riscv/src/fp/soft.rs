//! Exact IEEE 754 binary32/binary64 arithmetic over integers, with the
//! choices RISC-V makes where IEEE 754 leaves them open:
//!
//! - every NaN result is the canonical NaN (positive, quiet, zero payload);
//! - tininess is detected after rounding;
//! - fused multiply-add signals invalid for `inf * 0 + c` even when `c` is a quiet NaN;
//! - conversions to integers saturate (NaN counts as +inf) and signal invalid, not inexact;
//! - min/max are IEEE 754-2019 minimumNumber/maximumNumber with -0 < +0.
//!
//! Values travel as raw bit patterns in a `u64` (binary32 in the low 32 bits);
//! flags accumulate into a `u8` in the fcsr.fflags layout.

/// Invalid operation.
pub const NV: u8 = 0x10;
/// Divide by zero.
pub const DZ: u8 = 0x08;
/// Overflow.
pub const OF: u8 = 0x04;
/// Underflow.
pub const UF: u8 = 0x02;
/// Inexact.
pub const NX: u8 = 0x01;

/// A rounding mode (the five IEEE 754 attributes RISC-V encodes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rm {
    /// Round to nearest, ties to even.
    Rne,
    /// Round towards zero.
    Rtz,
    /// Round down (towards -inf).
    Rdn,
    /// Round up (towards +inf).
    Rup,
    /// Round to nearest, ties to max magnitude.
    Rmm,
}

impl Rm {
    /// Decodes a 3-bit rounding-mode value; 5, 6 and 7 are not modes here (7 = DYN is resolved by the caller).
    pub fn from_bits(v: u32) -> Option<Rm> {
        match v {
            0 => Some(Rm::Rne),
            1 => Some(Rm::Rtz),
            2 => Some(Rm::Rdn),
            3 => Some(Rm::Rup),
            4 => Some(Rm::Rmm),
            _ => None,
        }
    }
}

/// An IEEE 754 binary interchange format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// Number of stored fraction bits (precision minus one).
    pub mant: u32,
    /// Number of exponent bits.
    pub exp_bits: u32,
}

/// binary32.
pub const F32: Format = Format {
    mant: 23,
    exp_bits: 8,
};
/// binary64.
pub const F64: Format = Format {
    mant: 52,
    exp_bits: 11,
};

impl Format {
    #[inline]
    const fn bias(self) -> i32 {
        (1 << (self.exp_bits - 1)) - 1
    }
    /// The all-ones exponent field value.
    #[inline]
    const fn exp_field_max(self) -> u64 {
        (1 << self.exp_bits) - 1
    }
    #[inline]
    const fn sign_bit(self) -> u64 {
        1 << (self.mant + self.exp_bits)
    }
    #[inline]
    const fn frac_mask(self) -> u64 {
        (1 << self.mant) - 1
    }
    /// The smallest unbiased exponent of a normal number.
    #[inline]
    const fn emin(self) -> i32 {
        1 - self.bias()
    }
    /// The canonical NaN: positive, quiet, payload zero.
    #[inline]
    pub const fn canonical_nan(self) -> u64 {
        (self.exp_field_max() << self.mant) | (1 << (self.mant - 1))
    }
    #[inline]
    const fn sign(self, neg: bool) -> u64 {
        if neg {
            self.sign_bit()
        } else {
            0
        }
    }
    #[inline]
    pub(crate) const fn inf(self, neg: bool) -> u64 {
        self.sign(neg) | (self.exp_field_max() << self.mant)
    }
    #[inline]
    const fn max_finite(self, neg: bool) -> u64 {
        self.sign(neg) | (((self.exp_field_max() - 1) << self.mant) | self.frac_mask())
    }
    #[inline]
    pub(crate) const fn zero(self, neg: bool) -> u64 {
        self.sign(neg)
    }
    #[inline]
    fn is_neg(self, bits: u64) -> bool {
        bits & self.sign_bit() != 0
    }
    /// Magnitude bits (sign cleared).
    #[inline]
    fn abs(self, bits: u64) -> u64 {
        bits & (self.sign_bit() - 1)
    }
    #[inline]
    fn is_nan(self, bits: u64) -> bool {
        self.abs(bits) > self.exp_field_max() << self.mant
    }
    #[inline]
    fn is_snan(self, bits: u64) -> bool {
        self.is_nan(bits) && bits & (1 << (self.mant - 1)) == 0
    }
}

/// A decoded operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Val {
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
        sig: u64,
    },
}

#[inline]
pub(crate) fn decode(f: Format, bits: u64) -> Val {
    let neg = f.is_neg(bits);
    let e = (bits >> f.mant) & f.exp_field_max();
    let frac = bits & f.frac_mask();
    if e == f.exp_field_max() {
        if frac == 0 {
            Val::Inf { neg }
        } else {
            Val::Nan {
                signaling: frac & (1 << (f.mant - 1)) == 0,
            }
        }
    } else if e == 0 {
        if frac == 0 {
            Val::Zero { neg }
        } else {
            Val::Num {
                neg,
                exp: f.emin() - f.mant as i32,
                sig: frac,
            }
        }
    } else {
        Val::Num {
            neg,
            exp: e as i32 - f.bias() - f.mant as i32,
            sig: frac | (1 << f.mant),
        }
    }
}

/// Shifts `sig` right by `shift` bits and rounds the result to an integer
/// according to `rm` (`neg` is the sign of the value). Returns the rounded
/// quotient and whether any nonzero bits were discarded.
#[inline]
pub(crate) fn round_shift(sig: u128, shift: u32, rm: Rm, neg: bool) -> (u128, bool) {
    if shift == 0 {
        return (sig, false);
    }
    let (kept, guard, sticky) = if shift > 128 {
        (0, false, sig != 0)
    } else if shift == 128 {
        (0, sig >> 127 != 0, sig << 1 != 0)
    } else {
        let rem = sig & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        (sig >> shift, rem & half != 0, rem & (half - 1) != 0)
    };
    let inexact = guard || sticky;
    let up = match rm {
        Rm::Rne => guard && (sticky || kept & 1 != 0),
        Rm::Rtz => false,
        Rm::Rdn => neg && inexact,
        Rm::Rup => !neg && inexact,
        Rm::Rmm => guard,
    };
    (kept + up as u128, inexact)
}

/// Rounds (-1)^neg * sig * 2^exp to format `f` and packs it.
///
/// `sig` must be nonzero. Its bit 0 may be a "sticky" bit standing for
/// discarded nonzero bits below it; that is exact as long as the rounding
/// position is at least two bits above bit 0, which every caller guarantees
/// whenever it jams (they keep far more than p + 2 bits).
pub(crate) fn round_pack(f: Format, neg: bool, exp: i32, sig: u128, rm: Rm, fl: &mut u8) -> u64 {
    debug_assert!(sig != 0);
    let p = f.mant as i32 + 1;
    let msb = 127 - sig.leading_zeros() as i32;
    let e = exp + msb; // unbiased exponent of the leading bit
    let emin = f.emin();
    let full_shift = msb - (p - 1);
    if e >= emin {
        let (mut kept, inexact) = if full_shift <= 0 {
            (sig << -full_shift, false)
        } else {
            round_shift(sig, full_shift as u32, rm, neg)
        };
        let mut e = e;
        if kept >> p != 0 {
            kept >>= 1;
            e += 1;
        }
        if e > f.bias() {
            *fl |= OF | NX;
            let to_inf = match rm {
                Rm::Rne | Rm::Rmm => true,
                Rm::Rtz => false,
                Rm::Rdn => neg,
                Rm::Rup => !neg,
            };
            return if to_inf {
                f.inf(neg)
            } else {
                f.max_finite(neg)
            };
        }
        if inexact {
            *fl |= NX;
        }
        let field = (e + f.bias()) as u64;
        f.sign(neg) | (field << f.mant) | (kept as u64 & f.frac_mask())
    } else {
        // Below the normal range: round at the fixed subnormal quantum 2^(emin - mant).
        let shift = full_shift + (emin - e);
        let (kept, inexact) = if shift <= 0 {
            (sig << -shift, false)
        } else {
            round_shift(sig, shift as u32, rm, neg)
        };
        if inexact {
            // Tininess after rounding: tiny unless rounding to precision p with an
            // unbounded exponent range would already reach 2^emin.
            let tiny = if e == emin - 1 && full_shift > 0 {
                let (k, _) = round_shift(sig, full_shift as u32, rm, neg);
                k >> p == 0
            } else {
                true
            };
            *fl |= NX | if tiny { UF } else { 0 };
        }
        // A carry into bit `mant` yields the smallest normal number, which the
        // packing below represents correctly.
        f.sign(neg) | kept as u64
    }
}

/// Sign of an exact zero sum of operands with different signs (IEEE 754 6.3).
#[inline]
fn zero_sum_sign(rm: Rm) -> bool {
    rm == Rm::Rdn
}

/// Shifts right by `n`, ORing every discarded bit into bit 0.
#[inline]
fn shift_right_jam(v: u128, n: u32) -> u128 {
    if n == 0 {
        v
    } else if n >= 128 {
        (v != 0) as u128
    } else {
        (v >> n) | ((v & ((1u128 << n) - 1) != 0) as u128)
    }
}

/// Adds two nonzero finite values exactly and rounds once. Each `sig` may have
/// up to 125 significant bits.
fn add_nonzero(
    f: Format,
    (na, ea, sa): (bool, i32, u128),
    (nb, eb, sb): (bool, i32, u128),
    rm: Rm,
    fl: &mut u8,
) -> u64 {
    // Normalise both to a leading bit at position 125 (two bits of headroom for the carry).
    let la = sa.leading_zeros() as i32 - 2;
    let lb = sb.leading_zeros() as i32 - 2;
    let (sa, ea) = (sa << la, ea - la);
    let (sb, eb) = (sb << lb, eb - lb);
    let ((na, ea, sa), (nb, eb, sb)) = if ea >= eb {
        ((na, ea, sa), (nb, eb, sb))
    } else {
        ((nb, eb, sb), (na, ea, sa))
    };
    // The smaller operand loses bits only when it lies more than ~20 bits below
    // the larger one, and then the sum keeps at least 120 significant bits, so
    // jamming cannot disturb rounding.
    let diff = (ea - eb) as u32;
    let sb = shift_right_jam(sb, diff);
    if na == nb {
        round_pack(f, na, ea, sa + sb, rm, fl)
    } else if sa > sb {
        round_pack(f, na, ea, sa - sb, rm, fl)
    } else if sb > sa {
        round_pack(f, nb, ea, sb - sa, rm, fl)
    } else {
        f.zero(zero_sum_sign(rm))
    }
}

/// The NaN result of an operation with NaN operand(s): NV if any is signaling.
#[inline]
fn nan_result(f: Format, signaling: bool, fl: &mut u8) -> u64 {
    if signaling {
        *fl |= NV;
    }
    f.canonical_nan()
}

#[inline]
fn invalid(f: Format, fl: &mut u8) -> u64 {
    *fl |= NV;
    f.canonical_nan()
}

/// a + b.
pub fn add(f: Format, a: u64, b: u64, rm: Rm, fl: &mut u8) -> u64 {
    match (decode(f, a), decode(f, b)) {
        (Val::Nan { .. }, _) | (_, Val::Nan { .. }) => {
            nan_result(f, f.is_snan(a) || f.is_snan(b), fl)
        }
        (Val::Inf { neg: x }, Val::Inf { neg: y }) => {
            if x == y {
                f.inf(x)
            } else {
                invalid(f, fl)
            }
        }
        (Val::Inf { neg }, _) | (_, Val::Inf { neg }) => f.inf(neg),
        (Val::Zero { neg: x }, Val::Zero { neg: y }) => {
            f.zero(if x == y { x } else { zero_sum_sign(rm) })
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
        ) => add_nonzero(f, (na, ea, sa as u128), (nb, eb, sb as u128), rm, fl),
    }
}

/// a - b.
pub fn sub(f: Format, a: u64, b: u64, rm: Rm, fl: &mut u8) -> u64 {
    add(f, a, b ^ f.sign_bit(), rm, fl)
}

/// a * b.
pub fn mul(f: Format, a: u64, b: u64, rm: Rm, fl: &mut u8) -> u64 {
    match (decode(f, a), decode(f, b)) {
        (Val::Nan { .. }, _) | (_, Val::Nan { .. }) => {
            nan_result(f, f.is_snan(a) || f.is_snan(b), fl)
        }
        (Val::Inf { .. }, Val::Zero { .. }) | (Val::Zero { .. }, Val::Inf { .. }) => invalid(f, fl),
        (Val::Inf { .. }, _) | (_, Val::Inf { .. }) => f.inf(f.is_neg(a) != f.is_neg(b)),
        (Val::Zero { .. }, _) | (_, Val::Zero { .. }) => f.zero(f.is_neg(a) != f.is_neg(b)),
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
        ) => round_pack(f, na != nb, ea + eb, sa as u128 * sb as u128, rm, fl),
    }
}

/// a / b.
pub fn div(f: Format, a: u64, b: u64, rm: Rm, fl: &mut u8) -> u64 {
    let neg = f.is_neg(a) != f.is_neg(b);
    match (decode(f, a), decode(f, b)) {
        (Val::Nan { .. }, _) | (_, Val::Nan { .. }) => {
            nan_result(f, f.is_snan(a) || f.is_snan(b), fl)
        }
        (Val::Inf { .. }, Val::Inf { .. }) | (Val::Zero { .. }, Val::Zero { .. }) => invalid(f, fl),
        (Val::Inf { .. }, _) => f.inf(neg),
        (_, Val::Inf { .. }) | (Val::Zero { .. }, _) => f.zero(neg),
        (Val::Num { .. }, Val::Zero { .. }) => {
            *fl |= DZ;
            f.inf(neg)
        }
        (
            Val::Num {
                exp: ea, sig: sa, ..
            },
            Val::Num {
                exp: eb, sig: sb, ..
            },
        ) => {
            // Dividend with its leading bit at 125: the quotient has at least
            // 125 - 52 = 73 bits, well over p + 2, so a jammed remainder is exact.
            let la = (sa as u128).leading_zeros() as i32 - 2;
            let num = (sa as u128) << la;
            let den = sb as u128;
            let q = num / den;
            let r = num % den;
            round_pack(f, neg, ea - la - eb, q | (r != 0) as u128, rm, fl)
        }
    }
}

/// sqrt(a).
pub fn sqrt(f: Format, a: u64, rm: Rm, fl: &mut u8) -> u64 {
    match decode(f, a) {
        Val::Nan { signaling } => nan_result(f, signaling, fl),
        Val::Zero { .. } => a,
        Val::Inf { neg: false } => a,
        Val::Inf { neg: true } | Val::Num { neg: true, .. } => invalid(f, fl),
        Val::Num {
            neg: false,
            exp,
            sig,
        } => {
            // Shift so the leading bit is at 125 or 124 and the exponent is even:
            // the root then has 62-63 bits, over p + 2.
            let mut l = (sig as u128).leading_zeros() as i32 - 2;
            if (exp - l) & 1 != 0 {
                l -= 1;
            }
            let s = (sig as u128) << l;
            let r = s.isqrt();
            let exact = r * r == s;
            round_pack(f, false, (exp - l) / 2, r | (!exact) as u128, rm, fl)
        }
    }
}

/// The four fused multiply-add variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FmaOp {
    /// a * b + c.
    Madd,
    /// a * b - c.
    Msub,
    /// -(a * b) + c.
    Nmsub,
    /// -(a * b) - c.
    Nmadd,
}

/// A fused multiply-add with a single rounding.
pub fn fma(f: Format, a: u64, b: u64, c: u64, op: FmaOp, rm: Rm, fl: &mut u8) -> u64 {
    let (neg_prod, neg_c) = match op {
        FmaOp::Madd => (false, false),
        FmaOp::Msub => (false, true),
        FmaOp::Nmsub => (true, false),
        FmaOp::Nmadd => (true, true),
    };
    let (va, vb, vc) = (decode(f, a), decode(f, b), decode(f, c));
    let inf_times_zero = matches!(
        (va, vb),
        (Val::Inf { .. }, Val::Zero { .. }) | (Val::Zero { .. }, Val::Inf { .. })
    );
    if f.is_nan(a) || f.is_nan(b) || f.is_nan(c) {
        // RISC-V: inf * 0 signals invalid even when the addend is a quiet NaN.
        return nan_result(
            f,
            f.is_snan(a) || f.is_snan(b) || f.is_snan(c) || inf_times_zero,
            fl,
        );
    }
    if inf_times_zero {
        return invalid(f, fl);
    }
    let np = (f.is_neg(a) != f.is_neg(b)) != neg_prod;
    let nc = f.is_neg(c) != neg_c;
    let prod_inf = matches!(va, Val::Inf { .. }) || matches!(vb, Val::Inf { .. });
    match (prod_inf, vc) {
        (true, Val::Inf { .. }) if np != nc => return invalid(f, fl),
        (true, _) => return f.inf(np),
        (false, Val::Inf { .. }) => return f.inf(nc),
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
        ) => Some((ea + eb, sa as u128 * sb as u128)),
        _ => None,
    };
    match (prod, vc) {
        (None, Val::Zero { .. }) => f.zero(if np == nc { np } else { zero_sum_sign(rm) }),
        (None, Val::Num { exp, sig, .. }) => round_pack(f, nc, exp, sig as u128, rm, fl),
        (Some((ep, sp)), Val::Zero { .. }) => round_pack(f, np, ep, sp, rm, fl),
        (Some((ep, sp)), Val::Num { exp, sig, .. }) => {
            add_nonzero(f, (np, ep, sp), (nc, exp, sig as u128), rm, fl)
        }
        _ => unreachable!("NaN and infinite addends were handled above"),
    }
}

/// Converts between formats (binary32 <-> binary64, or identity).
pub fn convert(from: Format, to: Format, a: u64, rm: Rm, fl: &mut u8) -> u64 {
    match decode(from, a) {
        Val::Nan { signaling } => nan_result(to, signaling, fl),
        Val::Inf { neg } => to.inf(neg),
        Val::Zero { neg } => to.zero(neg),
        Val::Num { neg, exp, sig } => round_pack(to, neg, exp, sig as u128, rm, fl),
    }
}

/// An integer type of a conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntType {
    /// 32-bit signed (W).
    I32,
    /// 32-bit unsigned (WU).
    U32,
    /// 64-bit signed (L).
    I64,
    /// 64-bit unsigned (LU).
    U64,
}

impl IntType {
    fn signed(self) -> bool {
        matches!(self, IntType::I32 | IntType::I64)
    }
    fn bits(self) -> u32 {
        match self {
            IntType::I32 | IntType::U32 => 32,
            IntType::I64 | IntType::U64 => 64,
        }
    }
    /// The saturated result for too-large (or NaN) and too-small inputs, as 64-bit
    /// values (32-bit ones sign-extended).
    fn limits(self) -> (u64, u64) {
        match self {
            IntType::I32 => (i32::MAX as i64 as u64, i32::MIN as i64 as u64),
            IntType::U32 => (u32::MAX as i32 as i64 as u64, 0),
            IntType::I64 => (i64::MAX as u64, i64::MIN as u64),
            IntType::U64 => (u64::MAX, 0),
        }
    }
}

/// Converts to an integer, rounding with `rm`. The result of a 32-bit type is
/// sign-extended to 64 bits (as RV64 writes it to rd).
pub fn to_int(f: Format, a: u64, t: IntType, rm: Rm, fl: &mut u8) -> u64 {
    let (max, min) = t.limits();
    let (neg, exp, sig) = match decode(f, a) {
        Val::Nan { .. } => {
            *fl |= NV;
            return max;
        }
        Val::Inf { neg } => {
            *fl |= NV;
            return if neg { min } else { max };
        }
        Val::Zero { .. } => return 0,
        Val::Num { neg, exp, sig } => (neg, exp, sig),
    };
    // Magnitude rounded to an integer; None if certainly out of every range.
    let (mag, inexact) = if exp >= 0 {
        if exp > 64 {
            (None, false)
        } else {
            (Some((sig as u128) << exp), false)
        }
    } else {
        let (m, i) = round_shift(sig as u128, (-exp) as u32, rm, neg);
        (Some(m), i)
    };
    let bits = t.bits();
    let in_range = match (mag, t.signed(), neg) {
        (None, _, _) => false,
        (Some(m), true, false) => m < 1u128 << (bits - 1),
        (Some(m), true, true) => m <= 1u128 << (bits - 1),
        (Some(m), false, false) => m < 1u128 << bits,
        (Some(m), false, true) => m == 0,
    };
    if !in_range {
        *fl |= NV;
        return if neg { min } else { max };
    }
    if inexact {
        *fl |= NX;
    }
    let m = mag.unwrap_or(0) as u64;
    let v = if neg { m.wrapping_neg() } else { m };
    match bits {
        32 => v as u32 as i32 as i64 as u64,
        _ => v,
    }
}

/// Converts an integer (the low 32 bits of `v` for 32-bit types) to format `f`.
pub fn from_int(f: Format, v: u64, t: IntType, rm: Rm, fl: &mut u8) -> u64 {
    let (neg, mag) = match t {
        IntType::I32 => {
            let x = v as u32 as i32;
            (x < 0, x.unsigned_abs() as u64)
        }
        IntType::U32 => (false, v as u32 as u64),
        IntType::I64 => {
            let x = v as i64;
            (x < 0, x.unsigned_abs())
        }
        IntType::U64 => (false, v),
    };
    if mag == 0 {
        return f.zero(false);
    }
    round_pack(f, neg, 0, mag as u128, rm, fl)
}

/// Orders two non-NaN values; `zeros_equal` makes -0 == +0 (IEEE comparisons),
/// otherwise -0 < +0 (minimumNumber/maximumNumber).
#[inline]
fn less(f: Format, a: u64, b: u64, zeros_equal: bool) -> bool {
    let (na, nb) = (f.is_neg(a), f.is_neg(b));
    let (ma, mb) = (f.abs(a), f.abs(b));
    if na != nb {
        na && !(zeros_equal && ma == 0 && mb == 0)
    } else if na {
        ma > mb
    } else {
        ma < mb
    }
}

/// feq: quiet comparison (NV only for signaling NaNs).
pub fn feq(f: Format, a: u64, b: u64, fl: &mut u8) -> bool {
    if f.is_nan(a) || f.is_nan(b) {
        if f.is_snan(a) || f.is_snan(b) {
            *fl |= NV;
        }
        return false;
    }
    a == b || (f.abs(a) == 0 && f.abs(b) == 0)
}

/// flt: signaling comparison (NV for any NaN).
pub fn flt(f: Format, a: u64, b: u64, fl: &mut u8) -> bool {
    if f.is_nan(a) || f.is_nan(b) {
        *fl |= NV;
        return false;
    }
    less(f, a, b, true)
}

/// fle: signaling comparison (NV for any NaN).
pub fn fle(f: Format, a: u64, b: u64, fl: &mut u8) -> bool {
    if f.is_nan(a) || f.is_nan(b) {
        *fl |= NV;
        return false;
    }
    !less(f, b, a, true)
}

/// minimumNumber (`max == false`) or maximumNumber (`max == true`).
pub fn min_max(f: Format, a: u64, b: u64, max: bool, fl: &mut u8) -> u64 {
    if f.is_snan(a) || f.is_snan(b) {
        *fl |= NV;
    }
    match (f.is_nan(a), f.is_nan(b)) {
        (true, true) => f.canonical_nan(),
        (true, false) => b,
        (false, true) => a,
        (false, false) => {
            if less(f, a, b, false) != max {
                a
            } else {
                b
            }
        }
    }
}

/// fclass: a one-hot 10-bit mask.
pub fn class(f: Format, a: u64) -> u64 {
    let bit = match decode(f, a) {
        Val::Inf { neg: true } => 0,
        Val::Num { neg: true, sig, .. } if sig >> f.mant != 0 => 1,
        Val::Num { neg: true, .. } => 2,
        Val::Zero { neg: true } => 3,
        Val::Zero { neg: false } => 4,
        Val::Num {
            neg: false, sig, ..
        } if sig >> f.mant == 0 => 5,
        Val::Num { neg: false, .. } => 6,
        Val::Inf { neg: false } => 7,
        Val::Nan { signaling: true } => 8,
        Val::Nan { signaling: false } => 9,
    };
    1 << bit
}
