//! XLEN as a type: the hart is generic over [`Xlen`], whose associated
//! register type ([`Reg`]) carries every width-dependent integer operation.
//! `u32` (RV32) and `u64` (RV64) implement [`Reg`] today; RV128 adds a `u128`
//! implementation (with a 256-bit `mulh`) and a third [`Xlen`] marker type
//! without touching the interpreter.

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
        }
    };
}

impl_reg!(u32, i32, u64, i64);
impl_reg!(u64, i64, u128, i128);

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
    fn shifts_use_low_bits() {
        assert_eq!(1u32.sll(33), 2);
        assert_eq!(0x8000_0000u32.sra(31), u32::MAX);
        assert_eq!(u64::MAX.srl(64 + 60), 0xf);
        assert_eq!(u32::from_i64(-1).to_i64(), -1);
        assert_eq!(u32::from_i64(-1).to_u64(), 0xffff_ffff);
    }
}
