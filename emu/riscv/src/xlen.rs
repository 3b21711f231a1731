//! XLEN as a type: the hart is generic over [`Xlen`], whose associated
//! register type ([`Reg`]) carries every width-dependent integer operation.
//! `u32` (RV32), `u64` (RV64) and `u128` (RV128, with a 256-bit `mulh`)
//! implement [`Reg`]; [`Rv32`], [`Rv64`] and [`Rv128`] are the marker types.

use std::fmt::Debug;

/// An integer register value of one XLEN. All arithmetic wraps, as RISC-V defines it.
pub trait Reg: Copy + Eq + Ord + Default + Debug + Send + Sync + 'static {
    /// Register width in bits.
    const BITS: u32;
    /// Zero.
    const ZERO: Self;
    /// Sign-extends (or truncates) a 64-bit signed value to this width.
    fn from_i64(v: i64) -> Self;
    /// Truncates a 64-bit value to this width (zero-extends for wider registers).
    fn from_u64(v: u64) -> Self;
    /// The value zero-extended (or truncated) to 64 bits: addresses, CSR values.
    fn to_u64(self) -> u64;
    /// The value sign-extended (or truncated) to 64 bits.
    fn to_i64(self) -> i64;
    /// Wrapping addition.
    fn add(self, o: Self) -> Self;
    /// Wrapping subtraction.
    fn sub(self, o: Self) -> Self;
    /// Bitwise and.
    fn and(self, o: Self) -> Self;
    /// Bitwise or.
    fn or(self, o: Self) -> Self;
    /// Bitwise exclusive or.
    fn xor(self, o: Self) -> Self;
    /// Logical left shift by `sh` modulo BITS.
    fn sll(self, sh: u32) -> Self;
    /// Logical right shift by `sh` modulo BITS.
    fn srl(self, sh: u32) -> Self;
    /// Arithmetic right shift by `sh` modulo BITS.
    fn sra(self, sh: u32) -> Self;
    /// Signed less-than.
    fn lt(self, o: Self) -> bool;
    /// Unsigned less-than.
    fn ltu(self, o: Self) -> bool;
    /// Low half of the product.
    fn mul(self, o: Self) -> Self;
    /// High half of the signed x signed product.
    fn mulh(self, o: Self) -> Self;
    /// High half of the signed x unsigned product.
    fn mulhsu(self, o: Self) -> Self;
    /// High half of the unsigned x unsigned product.
    fn mulhu(self, o: Self) -> Self;
    /// Signed division (x/0 = -1, MIN/-1 = MIN).
    fn div(self, o: Self) -> Self;
    /// Unsigned division (x/0 = all ones).
    fn divu(self, o: Self) -> Self;
    /// Signed remainder (x%0 = x, MIN%-1 = 0).
    fn rem(self, o: Self) -> Self;
    /// Unsigned remainder (x%0 = x).
    fn remu(self, o: Self) -> Self;
    /// The value zero-extended (or truncated) to 128 bits.
    fn to_u128(self) -> u128;
    /// Truncates a 128-bit value to this width.
    fn from_u128(v: u128) -> Self;
}

macro_rules! impl_reg {
    ($u:ty, $i:ty, $uw:ty, $iw:ty) => {
        impl Reg for $u {
            const BITS: u32 = <$u>::BITS;
            const ZERO: Self = 0;
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v as $u
            }
            #[inline(always)]
            fn from_u64(v: u64) -> Self {
                v as $u
            }
            #[inline(always)]
            fn to_u64(self) -> u64 {
                self as u64
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as $i as i64
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            #[inline(always)]
            fn and(self, o: Self) -> Self {
                self & o
            }
            #[inline(always)]
            fn or(self, o: Self) -> Self {
                self | o
            }
            #[inline(always)]
            fn xor(self, o: Self) -> Self {
                self ^ o
            }
            #[inline(always)]
            fn sll(self, sh: u32) -> Self {
                self.wrapping_shl(sh)
            }
            #[inline(always)]
            fn srl(self, sh: u32) -> Self {
                self.wrapping_shr(sh)
            }
            #[inline(always)]
            fn sra(self, sh: u32) -> Self {
                (self as $i).wrapping_shr(sh) as $u
            }
            #[inline(always)]
            fn lt(self, o: Self) -> bool {
                (self as $i) < (o as $i)
            }
            #[inline(always)]
            fn ltu(self, o: Self) -> bool {
                self < o
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            #[inline(always)]
            fn mulh(self, o: Self) -> Self {
                (((self as $i as $iw) * (o as $i as $iw)) >> <$u>::BITS) as $u
            }
            #[inline(always)]
            fn mulhsu(self, o: Self) -> Self {
                ((self as $i as $iw).wrapping_mul(o as $uw as $iw) >> <$u>::BITS) as $u
            }
            #[inline(always)]
            fn mulhu(self, o: Self) -> Self {
                (((self as $uw) * (o as $uw)) >> <$u>::BITS) as $u
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                if o == 0 {
                    <$u>::MAX
                } else {
                    (self as $i).wrapping_div(o as $i) as $u
                }
            }
            #[inline(always)]
            fn divu(self, o: Self) -> Self {
                if o == 0 {
                    <$u>::MAX
                } else {
                    self / o
                }
            }
            #[inline(always)]
            fn rem(self, o: Self) -> Self {
                if o == 0 {
                    self
                } else {
                    (self as $i).wrapping_rem(o as $i) as $u
                }
            }
            #[inline(always)]
            fn remu(self, o: Self) -> Self {
                if o == 0 {
                    self
                } else {
                    self % o
                }
            }
            #[inline(always)]
            fn to_u128(self) -> u128 {
                self as u128
            }
            #[inline(always)]
            fn from_u128(v: u128) -> Self {
                v as $u
            }
        }
    };
}

impl_reg!(u32, i32, u64, i64);
impl_reg!(u64, i64, u128, i128);

/// The 256-bit product of two 128-bit values, as (high, low) halves.
pub fn mul_u128_wide(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & u64::MAX as u128);
    let (b1, b0) = (b >> 64, b & u64::MAX as u128);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    // The middle column: the high half of p00 plus the low halves of p01 and p10.
    let mid = (p00 >> 64) + (p01 & u64::MAX as u128) + (p10 & u64::MAX as u128);
    let lo = (p00 & u64::MAX as u128) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

impl Reg for u128 {
    const BITS: u32 = 128;
    const ZERO: Self = 0;
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v as i128 as u128
    }
    #[inline(always)]
    fn from_u64(v: u64) -> Self {
        v as u128
    }
    #[inline(always)]
    fn to_u64(self) -> u64 {
        self as u64
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        self & o
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        self | o
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        self ^ o
    }
    #[inline(always)]
    fn sll(self, sh: u32) -> Self {
        self.wrapping_shl(sh)
    }
    #[inline(always)]
    fn srl(self, sh: u32) -> Self {
        self.wrapping_shr(sh)
    }
    #[inline(always)]
    fn sra(self, sh: u32) -> Self {
        (self as i128).wrapping_shr(sh) as u128
    }
    #[inline(always)]
    fn lt(self, o: Self) -> bool {
        (self as i128) < (o as i128)
    }
    #[inline(always)]
    fn ltu(self, o: Self) -> bool {
        self < o
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self.wrapping_mul(o)
    }
    fn mulh(self, o: Self) -> Self {
        // Signed high half: the unsigned one minus the other operand for each negative one.
        let mut hi = self.mulhu(o);
        if (self as i128) < 0 {
            hi = hi.wrapping_sub(o);
        }
        if (o as i128) < 0 {
            hi = hi.wrapping_sub(self);
        }
        hi
    }
    fn mulhsu(self, o: Self) -> Self {
        let hi = self.mulhu(o);
        if (self as i128) < 0 {
            hi.wrapping_sub(o)
        } else {
            hi
        }
    }
    fn mulhu(self, o: Self) -> Self {
        mul_u128_wide(self, o).0
    }
    fn div(self, o: Self) -> Self {
        if o == 0 {
            u128::MAX
        } else {
            (self as i128).wrapping_div(o as i128) as u128
        }
    }
    fn divu(self, o: Self) -> Self {
        self.checked_div(o).unwrap_or(u128::MAX)
    }
    fn rem(self, o: Self) -> Self {
        if o == 0 {
            self
        } else {
            (self as i128).wrapping_rem(o as i128) as u128
        }
    }
    fn remu(self, o: Self) -> Self {
        if o == 0 {
            self
        } else {
            self % o
        }
    }
    #[inline(always)]
    fn to_u128(self) -> u128 {
        self
    }
    #[inline(always)]
    fn from_u128(v: u128) -> Self {
        v
    }
}

/// One base ISA width: the marker type the hart is monomorphised over.
pub trait Xlen: Copy + Debug + Default + Send + Sync + 'static {
    /// The integer register type.
    type Reg: Reg;
    /// XLEN in bits.
    const XLEN: u32;
    /// The misa.MXL / mstatus.SXL/UXL encoding of this XLEN (1 = 32, 2 = 64, 3 = 128).
    const MXL: u64;
}

/// RV32: 32-bit registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rv32;
/// RV64: 64-bit registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rv64;
/// RV128: 128-bit registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rv128;

impl Xlen for Rv32 {
    type Reg = u32;
    const XLEN: u32 = 32;
    const MXL: u64 = 1;
}
impl Xlen for Rv64 {
    type Reg = u64;
    const XLEN: u32 = 64;
    const MXL: u64 = 2;
}
impl Xlen for Rv128 {
    type Reg = u128;
    const XLEN: u32 = 128;
    const MXL: u64 = 3;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_corner_cases() {
        assert_eq!(5u32.div(0), u32::MAX);
        assert_eq!(0x8000_0000u32.div(u32::MAX), 0x8000_0000);
        assert_eq!(0x8000_0000u32.rem(u32::MAX), 0);
        assert_eq!(7u64.rem(0), 7);
        assert_eq!(7u64.divu(0), u64::MAX);
        assert_eq!((-7i64 as u64).rem(2), -1i64 as u64);
    }

    #[test]
    fn high_products() {
        assert_eq!(u32::MAX.mulhu(u32::MAX), 0xffff_fffe);
        assert_eq!(u32::MAX.mulh(u32::MAX), 0);
        assert_eq!(u32::MAX.mulhsu(2), u32::MAX);
        assert_eq!(u64::MAX.mulhsu(u64::MAX), u64::MAX);
        assert_eq!((1u64 << 63).mulh(2), u64::MAX);
    }

    #[test]
    fn rv128_products_and_division() {
        let m = u128::MAX;
        assert_eq!(mul_u128_wide(m, m), (m - 1, 1));
        assert_eq!(m.mulhu(m), m - 1);
        assert_eq!(m.mulh(m), 0); // -1 * -1 = 1
        assert_eq!(m.mulhsu(2), m); // -1 * 2 = -2: high half all ones
        assert_eq!((1u128 << 127).mulh(2), m);
        assert_eq!((1u128 << 127).mulh(1u128 << 127), 1u128 << 126);
        let a = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
        let b = 0xdead_beef_0000_0001_0000_0000_ffff_ffffu128;
        // Check the wide product against schoolbook 32-bit limbs.
        let limbs = |v: u128| {
            [
                v as u32,
                (v >> 32) as u32,
                (v >> 64) as u32,
                (v >> 96) as u32,
            ]
        };
        let (la, lb) = (limbs(a), limbs(b));
        let mut acc = [0u64; 9];
        for i in 0..4 {
            for j in 0..4 {
                let p = la[i] as u64 * lb[j] as u64;
                acc[i + j] += p & 0xffff_ffff;
                acc[i + j + 1] += p >> 32;
            }
        }
        for k in 0..8 {
            acc[k + 1] += acc[k] >> 32;
            acc[k] &= 0xffff_ffff;
        }
        let join = |s: &[u64]| s.iter().rev().fold(0u128, |v, &l| (v << 32) | l as u128);
        assert_eq!(mul_u128_wide(a, b), (join(&acc[4..8]), join(&acc[0..4])));
        assert_eq!((1u128 << 127).div(m), 1u128 << 127);
        assert_eq!((1u128 << 127).rem(m), 0);
        assert_eq!(5u128.div(0), m);
        assert_eq!(5u128.remu(0), 5);
        assert_eq!(u128::from_i64(-1), m);
        assert_eq!(1u128.sll(127 + 128), 1u128 << 127);
        assert_eq!((1u128 << 127).sra(127), m);
    }

    #[test]
    fn shifts_use_low_bits() {
        assert_eq!(1u32.sll(33), 2);
        assert_eq!(0x8000_0000u32.sra(31), u32::MAX);
        assert_eq!(u64::MAX.srl(64 + 60), 0xf);
        assert_eq!(u32::from_i64(-1).to_i64(), -1);
        assert_eq!(u32::from_i64(-1).to_u64(), 0xffff_ffff);
    }
}
