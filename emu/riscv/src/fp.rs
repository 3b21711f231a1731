//! The F, D and Q extensions: IEEE-754 binary32/binary64 (and binary128) arithmetic as RISC-V
//! defines it (exact results, five rounding modes, fflags, NaN-boxing,
//! canonical NaNs).
//!
//! The hart decodes the major opcode and hands every OP-FP, MADD, MSUB, NMSUB
//! and NMADD instruction to [`execute`]. Loads and stores (FLW/FLD/FSW/FSD and
//! their compressed forms) and the mstatus.FS checks stay in the hart.
//!
//! Layout: this file decodes instructions and applies the RISC-V register
//! conventions (NaN-boxing, rounding-mode selection, sign extension into rd);
//! [`soft`] is the arithmetic itself, exact and integer-only (so it behaves
//! identically on every host, WebAssembly included); [`fast`] is a host-FPU
//! shortcut for round-to-nearest-even add/sub/mul/div/sqrt/fma on moderate
//! operands that returns exactly what `soft` would (flags included) or
//! declines.
//!
//! What stays with the hart: mstatus.FS (an instruction that returns
//! [`FpOutcome::WroteF`], or changes `fflags`, makes FS Dirty; with FS = Off
//! every F/D instruction is illegal before `execute` is called), the
//! integer-register write of [`FpOutcome::WroteX`] (truncated to `xlen`), and
//! raising illegal-instruction for [`FpOutcome::Illegal`], after which the
//! state is unchanged.
//!
//! Encodings accepted (RISC-V unprivileged ISA, chapters "F" and "D"); every
//! other encoding in these major opcodes is [`FpOutcome::Illegal`]:
//!
//! | funct5 | instruction | rs2 | funct3 |
//! |---|---|---|---|
//! | 00000/00001/00010/00011 | fadd/fsub/fmul/fdiv | any | rm |
//! | 01011 | fsqrt | 0 | rm |
//! | 00100 | fsgnj/fsgnjn/fsgnjx | any | 0/1/2 |
//! | 00101 | fmin/fmax | any | 0/1 |
//! | 01000 | fcvt.s.d (fmt S) / fcvt.d.s (fmt D) | 1 / 0 | rm |
//! | 10100 | fle/flt/feq | any | 0/1/2 |
//! | 11000 | fcvt.{w,wu,l,lu}.fmt | 0..3 (2, 3 only RV64) | rm |
//! | 11010 | fcvt.fmt.{w,wu,l,lu} | 0..3 (2, 3 only RV64) | rm |
//! | 11100 | fmv.x.w / fmv.x.d (RV64), fclass | 0 | 0, 1 |
//! | 11110 | fmv.w.x / fmv.d.x (RV64) | 0 | 0 |
//!
//! A rounding-mode field of 5 or 6, or DYN (7) while frm holds 5..7, is illegal
//! for every instruction that has one, including the exact conversions.
//!
//! The RV128 hart calls [`execute128`] instead: FLEN is 128 there (the Q
//! extension, arithmetic in [`quad`]; fmt 3 in the table above, with
//! fcvt.s.q/fcvt.d.q as funct5 01000 rs2 3, fcvt.q.s/fcvt.q.d as fmt Q rs2 0/1,
//! 128-bit integer conversions as rs2 4/5, and fmv.x.q/fmv.q.x), and binary32
//! and binary64 values are NaN-boxed to 128 bits ([`FpState::hi`]).
//! docs/rv128.md describes the choices.

pub mod fast;
pub mod quad;
pub mod soft;

use soft::{FmaOp, Format, IntType, Rm, F32, F64};

/// The floating-point register file and fcsr.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FpState {
    /// f0..f31, 64 bits each (bits 63:0 at FLEN 128); a single-precision value is NaN-boxed
    /// (upper 32 bits all ones).
    pub f: [u64; 32],
    /// Bits 127:64 of f0..f31, used only while the hart runs at XLEN 128, where FLEN is 128
    /// (the Q extension): there a binary32 or binary64 value is NaN-boxed to 128 bits, so
    /// these bits are all ones for it.
    pub hi: [u64; 32],
    /// fflags: NV=16, DZ=8, OF=4, UF=2, NX=1.
    pub fflags: u8,
    /// frm, 3 bits.
    pub frm: u8,
}

/// What an executed floating-point instruction did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpOutcome {
    /// Not a valid instruction (reserved encoding or rounding mode): the hart raises illegal-instruction.
    Illegal,
    /// Wrote an f register (and possibly fflags).
    WroteF,
    /// The value for integer register rd (compare, fclass, fcvt to integer, fmv.x.*), already
    /// sign-extended to 64 bits as the instruction defines for `xlen`. fflags may have changed.
    WroteX(u64),
}

const OPC_MADD: u32 = 0b100_0011;
const OPC_MSUB: u32 = 0b100_0111;
const OPC_NMSUB: u32 = 0b100_1011;
const OPC_NMADD: u32 = 0b100_1111;
const OPC_OP_FP: u32 = 0b101_0011;

/// Upper half of a NaN-boxed single.
const BOX: u64 = 0xffff_ffff_0000_0000;

/// The fields of an R-type or R4-type floating-point instruction.
#[derive(Clone, Copy, Debug)]
struct Fields {
    opcode: u32,
    rd: usize,
    funct3: u32,
    rs1: usize,
    rs2: usize,
    rs3: usize,
    fmt: u32,
    funct5: u32,
}

impl Fields {
    #[inline]
    fn new(insn: u32) -> Fields {
        Fields {
            opcode: insn & 0x7f,
            rd: ((insn >> 7) & 31) as usize,
            funct3: (insn >> 12) & 7,
            rs1: ((insn >> 15) & 31) as usize,
            rs2: ((insn >> 20) & 31) as usize,
            rs3: (insn >> 27) as usize,
            fmt: (insn >> 25) & 3,
            funct5: insn >> 27,
        }
    }
}

impl FpState {
    /// Reads f[r] as an operand of format `f`: a binary32 operand that is not
    /// properly NaN-boxed reads as the canonical NaN.
    /// `W`: FLEN is 128, and bits 127:64 must be all ones too.
    #[inline]
    fn read<const W: bool>(&self, f: Format, r: usize) -> u64 {
        let v = self.f[r];
        if W && self.hi[r] != u64::MAX {
            f.canonical_nan()
        } else if f == F64 {
            v
        } else if v & BOX == BOX {
            v & 0xffff_ffff
        } else {
            F32.canonical_nan()
        }
    }

    /// Writes a result of format `f` to f[r], NaN-boxing binary32 values.
    /// `W`: FLEN is 128, and bits 127:64 are set to all ones.
    #[inline]
    fn write<const W: bool>(&mut self, f: Format, r: usize, v: u64) {
        if W {
            self.hi[r] = u64::MAX;
        }
        self.f[r] = if f == F64 { v } else { BOX | v };
    }

    /// The effective rounding mode for a rounding-mode field, or None if reserved.
    #[inline]
    fn rm(&self, field: u32) -> Option<Rm> {
        if field == 7 {
            Rm::from_bits(u32::from(self.frm))
        } else {
            Rm::from_bits(field)
        }
    }
}

/// Executes one floating-point computational instruction. `rs1` is the value of integer register
/// rs1 (for conversions from integers and fmv.*.x); `xlen` is 32 or 64.
pub fn execute(fp: &mut FpState, insn: u32, rs1: u64, xlen: u32) -> FpOutcome {
    execute_flen::<false>(fp, insn, rs1, xlen)
}

/// [`execute`] at FLEN 64 (`W` false) or FLEN 128 (`W` true, the F and D
/// instructions of an RV128 hart with Q: NaN-boxing to 128 bits).
#[inline(always)]
fn execute_flen<const W: bool>(fp: &mut FpState, insn: u32, rs1: u64, xlen: u32) -> FpOutcome {
    let d = Fields::new(insn);
    let f = match d.fmt {
        0 => F32,
        1 => F64,
        _ => return FpOutcome::Illegal,
    };
    let mut fl = 0u8;
    let out = match d.opcode {
        OPC_MADD | OPC_MSUB | OPC_NMSUB | OPC_NMADD => {
            let Some(rm) = fp.rm(d.funct3) else {
                return FpOutcome::Illegal;
            };
            let op = fma_op(d.opcode);
            let (a, b, c) = (
                fp.read::<W>(f, d.rs1),
                fp.read::<W>(f, d.rs2),
                fp.read::<W>(f, d.rs3),
            );
            let r = fused(f, a, b, c, op, rm, &mut fl);
            fp.write::<W>(f, d.rd, r);
            FpOutcome::WroteF
        }
        OPC_OP_FP => match op_fp::<W>(fp, d, f, rs1, xlen, &mut fl) {
            Some(o) => o,
            None => return FpOutcome::Illegal,
        },
        _ => return FpOutcome::Illegal,
    };
    fp.fflags |= fl;
    out
}

/// OP-FP; None means illegal (nothing has been written then).
#[inline]
fn op_fp<const W: bool>(
    fp: &mut FpState,
    d: Fields,
    f: Format,
    rs1: u64,
    xlen: u32,
    fl: &mut u8,
) -> Option<FpOutcome> {
    let wrote_f = |fp: &mut FpState, v: u64| {
        fp.write::<W>(f, d.rd, v);
        Some(FpOutcome::WroteF)
    };
    match d.funct5 {
        0b00000..=0b00011 => {
            let rm = fp.rm(d.funct3)?;
            let (a, b) = (fp.read::<W>(f, d.rs1), fp.read::<W>(f, d.rs2));
            let r = arith(f, d.funct5, a, b, rm, fl);
            wrote_f(fp, r)
        }
        0b01011 => {
            if d.rs2 != 0 {
                return None;
            }
            let rm = fp.rm(d.funct3)?;
            let a = fp.read::<W>(f, d.rs1);
            let fast = match (FAST_PATH && rm == Rm::Rne, f == F64) {
                (false, _) => None,
                (true, true) => fast::sqrt64(a),
                (true, false) => fast::sqrt32(a),
            };
            let r = match fast {
                Some((r, flags)) => {
                    *fl |= flags;
                    r
                }
                None => soft::sqrt(f, a, rm, fl),
            };
            wrote_f(fp, r)
        }
        0b00100 => {
            let (a, b) = (fp.read::<W>(f, d.rs1), fp.read::<W>(f, d.rs2));
            let sign = if f == F64 { 1u64 << 63 } else { 1u64 << 31 };
            let s = match d.funct3 {
                0 => b & sign,
                1 => !b & sign,
                2 => (a ^ b) & sign,
                _ => return None,
            };
            wrote_f(fp, (a & !sign) | s)
        }
        0b00101 => {
            let max = match d.funct3 {
                0 => false,
                1 => true,
                _ => return None,
            };
            let r = soft::min_max(f, fp.read::<W>(f, d.rs1), fp.read::<W>(f, d.rs2), max, fl);
            wrote_f(fp, r)
        }
        0b01000 => {
            // fcvt.s.d (fmt S, rs2 = 1) and fcvt.d.s (fmt D, rs2 = 0).
            let from = match (f == F64, d.rs2) {
                (false, 1) => F64,
                (true, 0) => F32,
                _ => return None,
            };
            let rm = fp.rm(d.funct3)?;
            let r = soft::convert(from, f, fp.read::<W>(from, d.rs1), rm, fl);
            wrote_f(fp, r)
        }
        0b10100 => {
            let (a, b) = (fp.read::<W>(f, d.rs1), fp.read::<W>(f, d.rs2));
            let r = match d.funct3 {
                0 => soft::fle(f, a, b, fl),
                1 => soft::flt(f, a, b, fl),
                2 => soft::feq(f, a, b, fl),
                _ => return None,
            };
            Some(FpOutcome::WroteX(r as u64))
        }
        0b11000 => {
            let t = int_type(d.rs2, xlen)?;
            let rm = fp.rm(d.funct3)?;
            let r = soft::to_int(f, fp.read::<W>(f, d.rs1), t, rm, fl);
            Some(FpOutcome::WroteX(r))
        }
        0b11010 => {
            let t = int_type(d.rs2, xlen)?;
            let rm = fp.rm(d.funct3)?;
            let r = soft::from_int(f, rs1, t, rm, fl);
            wrote_f(fp, r)
        }
        0b11100 => {
            if d.rs2 != 0 {
                return None;
            }
            match d.funct3 {
                // fmv.x.w / fmv.x.d move raw bits: no NaN-box check (transfer operation).
                0 if f == F32 => Some(FpOutcome::WroteX(fp.f[d.rs1] as u32 as i32 as i64 as u64)),
                0 if xlen >= 64 => Some(FpOutcome::WroteX(fp.f[d.rs1])),
                1 => Some(FpOutcome::WroteX(soft::class(f, fp.read::<W>(f, d.rs1)))),
                _ => None,
            }
        }
        0b11110 => {
            if d.rs2 != 0 || d.funct3 != 0 {
                return None;
            }
            if f == F32 {
                wrote_f(fp, rs1 & 0xffff_ffff)
            } else if xlen >= 64 {
                wrote_f(fp, rs1)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Whether the host-FPU fast path ([`fast`]) is used: only on hosts whose
/// binary64 arithmetic is IEEE 754 round-to-nearest-even without excess precision.
const FAST_PATH: bool = cfg!(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "wasm32",
    target_arch = "riscv64"
));

/// fadd/fsub/fmul/fdiv (funct5 0..3): the fast path when it applies, else the exact soft path.
#[inline]
fn arith(f: Format, funct5: u32, a: u64, b: u64, rm: Rm, fl: &mut u8) -> u64 {
    if FAST_PATH && rm == Rm::Rne {
        let neg_b = if f == F64 { 1 << 63 } else { 1 << 31 };
        let fast = match (funct5, f == F64) {
            (0, true) => fast::add64(a, b),
            (1, true) => fast::add64(a, b ^ neg_b),
            (2, true) => fast::mul64(a, b),
            (3, true) => fast::div64(a, b),
            (0, false) => fast::add32(a, b),
            (1, false) => fast::add32(a, b ^ neg_b),
            (2, false) => fast::mul32(a, b),
            _ => fast::div32(a, b),
        };
        if let Some((r, flags)) = fast {
            *fl |= flags;
            return r;
        }
    }
    match funct5 {
        0 => soft::add(f, a, b, rm, fl),
        1 => soft::sub(f, a, b, rm, fl),
        2 => soft::mul(f, a, b, rm, fl),
        _ => soft::div(f, a, b, rm, fl),
    }
}

/// The fused multiply-adds: the fast path when it applies, else the exact soft path.
#[inline]
fn fused(f: Format, a: u64, b: u64, c: u64, op: FmaOp, rm: Rm, fl: &mut u8) -> u64 {
    if FAST_PATH && rm == Rm::Rne {
        let sign = if f == F64 { 1 << 63 } else { 1 << 31 };
        let (na, nc) = match op {
            FmaOp::Madd => (0, 0),
            FmaOp::Msub => (0, sign),
            FmaOp::Nmsub => (sign, 0),
            FmaOp::Nmadd => (sign, sign),
        };
        let fast = if f == F64 {
            fast::fma64(a ^ na, b, c ^ nc)
        } else {
            fast::fma32(a ^ na, b, c ^ nc)
        };
        if let Some((r, flags)) = fast {
            *fl |= flags;
            return r;
        }
    }
    soft::fma(f, a, b, c, op, rm, fl)
}

/// The fused multiply-add of an FMADD/FMSUB/FNMSUB/FNMADD opcode.
#[inline]
fn fma_op(opcode: u32) -> FmaOp {
    match opcode {
        OPC_MADD => FmaOp::Madd,
        OPC_MSUB => FmaOp::Msub,
        OPC_NMSUB => FmaOp::Nmsub,
        _ => FmaOp::Nmadd,
    }
}

/// The integer type selected by the rs2 field of fcvt; L and LU exist only on RV64 and RV128.
#[inline]
fn int_type(rs2: usize, xlen: u32) -> Option<IntType> {
    match (rs2, xlen >= 64) {
        (0, _) => Some(IntType::I32),
        (1, _) => Some(IntType::U32),
        (2, true) => Some(IntType::I64),
        (3, true) => Some(IntType::U64),
        _ => None,
    }
}

/// What an executed floating-point instruction did on an RV128 hart ([`execute128`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpOutcome128 {
    /// Not a valid instruction: the hart raises illegal-instruction.
    Illegal,
    /// Wrote an f register (and possibly fflags).
    WroteF,
    /// The 128-bit value for integer register rd. fflags may have changed.
    WroteX(u128),
}

impl FpState {
    /// `f[r]` as a binary128 value (bits 127:64 from [`FpState::hi`]).
    #[inline]
    pub fn read_q(&self, r: usize) -> u128 {
        ((self.hi[r] as u128) << 64) | self.f[r] as u128
    }
    /// Writes all 128 bits of `f[r]`.
    #[inline]
    pub fn write_q(&mut self, r: usize, v: u128) {
        self.f[r] = v as u64;
        self.hi[r] = (v >> 64) as u64;
    }
}

/// Executes one floating-point computational instruction on an RV128 hart,
/// where FLEN is 128 (F, D and Q). F and D instructions run as at FLEN 64
/// except that their operands must be NaN-boxed to 128 bits (else they read as
/// the canonical NaN) and their results are; the Q instructions, the
/// conversions between Q and S/D, and the 128-bit integer conversions
/// (`FCVT.T[U].fmt`, `FCVT.fmt.T[U]`: rs2 = 4 / 5) go to [`quad`]. `rs1` is the
/// value of integer register rs1. Integer results are sign-extended to 128 bits.
pub fn execute128(fp: &mut FpState, insn: u32, rs1: u128) -> FpOutcome128 {
    let d = Fields::new(insn);
    let q_op = d.fmt == 3
        || (d.opcode == OPC_OP_FP
            && match d.funct5 {
                0b01000 => d.rs2 == 3,
                0b11000 | 0b11010 => d.rs2 == 4 || d.rs2 == 5,
                _ => false,
            });
    if !q_op {
        return match execute_flen::<true>(fp, insn, rs1 as u64, 128) {
            FpOutcome::Illegal => FpOutcome128::Illegal,
            FpOutcome::WroteF => FpOutcome128::WroteF,
            FpOutcome::WroteX(v) => FpOutcome128::WroteX(v as i64 as i128 as u128),
        };
    }
    let mut fl = 0u8;
    let Some(out) = quad_op(fp, d, rs1, &mut fl) else {
        return FpOutcome128::Illegal;
    };
    fp.fflags |= fl;
    out
}

/// The integer type of a conversion at XLEN 128 (rs2 field 0..5: W, WU, L, LU, T, TU).
fn int128_type(rs2: usize) -> Option<quad::Int> {
    let (bits, signed) = match rs2 {
        0 => (32, true),
        1 => (32, false),
        2 => (64, true),
        3 => (64, false),
        4 => (128, true),
        5 => (128, false),
        _ => return None,
    };
    Some(quad::Int { bits, signed })
}

/// The Q instructions and the conversions [`execute128`] hands over; None
/// means illegal (nothing has been written then).
fn quad_op(fp: &mut FpState, d: Fields, rs1: u128, fl: &mut u8) -> Option<FpOutcome128> {
    let narrow = |fmt: u32| match fmt {
        0 => Some(F32),
        1 => Some(F64),
        _ => None,
    };
    let is_q = d.fmt == 3;
    let wrote_q = |fp: &mut FpState, v: u128| {
        fp.write_q(d.rd, v);
        Some(FpOutcome128::WroteF)
    };
    match d.opcode {
        OPC_MADD | OPC_MSUB | OPC_NMSUB | OPC_NMADD => {
            let rm = fp.rm(d.funct3)?;
            let op = fma_op(d.opcode);
            let (a, b, c) = (fp.read_q(d.rs1), fp.read_q(d.rs2), fp.read_q(d.rs3));
            wrote_q(fp, quad::fma(a, b, c, op, rm, fl))
        }
        OPC_OP_FP => match d.funct5 {
            0b00000..=0b00011 if is_q => {
                let rm = fp.rm(d.funct3)?;
                let (a, b) = (fp.read_q(d.rs1), fp.read_q(d.rs2));
                let r = match d.funct5 {
                    0 => quad::add(a, b, rm, fl),
                    1 => quad::sub(a, b, rm, fl),
                    2 => quad::mul(a, b, rm, fl),
                    _ => quad::div(a, b, rm, fl),
                };
                wrote_q(fp, r)
            }
            0b01011 if is_q && d.rs2 == 0 => {
                let rm = fp.rm(d.funct3)?;
                let a = fp.read_q(d.rs1);
                wrote_q(fp, quad::sqrt(a, rm, fl))
            }
            0b00100 if is_q => {
                let (a, b) = (fp.read_q(d.rs1), fp.read_q(d.rs2));
                let sign = 1u128 << 127;
                let s = match d.funct3 {
                    0 => b & sign,
                    1 => !b & sign,
                    2 => (a ^ b) & sign,
                    _ => return None,
                };
                wrote_q(fp, (a & !sign) | s)
            }
            0b00101 if is_q => {
                let max = match d.funct3 {
                    0 => false,
                    1 => true,
                    _ => return None,
                };
                let r = quad::min_max(fp.read_q(d.rs1), fp.read_q(d.rs2), max, fl);
                wrote_q(fp, r)
            }
            0b01000 => {
                let rm = fp.rm(d.funct3)?;
                match (d.fmt, d.rs2) {
                    // fcvt.s.q / fcvt.d.q
                    (0 | 1, 3) => {
                        let to = narrow(d.fmt)?;
                        let r = quad::to_narrow(to, fp.read_q(d.rs1), rm, fl);
                        fp.write::<true>(to, d.rd, r);
                        Some(FpOutcome128::WroteF)
                    }
                    // fcvt.q.s / fcvt.q.d (exact)
                    (3, 0 | 1) => {
                        let from = narrow(d.rs2 as u32)?;
                        let a = fp.read::<true>(from, d.rs1);
                        wrote_q(fp, quad::from_narrow(from, a, fl))
                    }
                    _ => None,
                }
            }
            0b10100 if is_q => {
                let (a, b) = (fp.read_q(d.rs1), fp.read_q(d.rs2));
                let r = match d.funct3 {
                    0 => quad::fle(a, b, fl),
                    1 => quad::flt(a, b, fl),
                    2 => quad::feq(a, b, fl),
                    _ => return None,
                };
                Some(FpOutcome128::WroteX(r as u128))
            }
            0b11000 => {
                let t = int128_type(d.rs2)?;
                let rm = fp.rm(d.funct3)?;
                let r = if is_q {
                    quad::to_int(fp.read_q(d.rs1), t, rm, fl)
                } else {
                    let f = narrow(d.fmt)?;
                    quad::narrow_to_int(f, fp.read::<true>(f, d.rs1), t, rm, fl)
                };
                Some(FpOutcome128::WroteX(r))
            }
            0b11010 => {
                let t = int128_type(d.rs2)?;
                let rm = fp.rm(d.funct3)?;
                if is_q {
                    wrote_q(fp, quad::from_int(rs1, t, rm, fl))
                } else {
                    let f = narrow(d.fmt)?;
                    let r = quad::int_to_narrow(f, rs1, t, rm, fl);
                    fp.write::<true>(f, d.rd, r);
                    Some(FpOutcome128::WroteF)
                }
            }
            0b11100 if is_q && d.rs2 == 0 => match d.funct3 {
                // fmv.x.q moves raw bits (RV128 only).
                0 => Some(FpOutcome128::WroteX(fp.read_q(d.rs1))),
                1 => Some(FpOutcome128::WroteX(quad::class(fp.read_q(d.rs1)))),
                _ => None,
            },
            0b11110 if is_q && d.rs2 == 0 && d.funct3 == 0 => wrote_q(fp, rs1),
            _ => None,
        },
        _ => None,
    }
}
