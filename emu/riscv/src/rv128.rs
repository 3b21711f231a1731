//! RV128: the decoding of the encodings that exist only (or mean something
//! else) at XLEN 128, and the 128-bit views of the CSRs. The execution of
//! [`K::Rv128`] ops lives with the hart (`hart/exec128.rs`); docs/rv128.md
//! describes what is implemented and the choices made where the
//! specifications leave RV128 open.
//!
//! What [`decode`] takes over from the RV32/RV64 decoder at XLEN 128:
//!
//! | encoding | instruction |
//! |---|---|
//! | LOAD funct3 7 | LDU |
//! | MISC-MEM funct3 2 | LQ |
//! | STORE funct3 4 | SQ |
//! | OP-IMM-64 (0x5b) | ADDID, SLLID, SRLID, SRAID (6-bit shamt) |
//! | OP-64 (0x7b) | ADDD, SUBD, SLLD, SRLD, SRAD, MULD, DIVD, DIVUD, REMD, REMUD |
//! | AMO funct3 4 | LR.Q, SC.Q, AMO*.Q |
//! | LOAD-FP / STORE-FP funct3 4 | FLQ / FSQ |
//! | C quadrant 0 funct3 1 / 5 | C.LQ / C.SQ (C.FLD / C.FSD elsewhere) |
//! | C quadrant 2 funct3 1 / 5 | C.LQSP / C.SQSP (C.FLDSP / C.FSDSP elsewhere) |
//! | C.SLLI, C.SRLI, C.SRAI | shamt 0 means 64; right shifts sign-extend the 6-bit shamt |
//!
//! Everything else (the RV64 *W forms, LD/SD, LR.D/SC.D/AMO*.D, C.LD/C.SD,
//! C.ADDIW, ...) decodes as on RV64 and executes at 128 bits in the generic hart.

use crate::csr::{MCAUSE, MEPC, MISA, MSTATUS, MTVAL, MTVEC, SCAUSE, SEPC, SSTATUS, STVAL, STVEC};
use crate::decode::{Op, K};
use crate::formats::{CInsn, Insn};

/// The [`Op`] of an RV128-only instruction word (32-bit, or a compressed one
/// in the low 16 bits), or `None` when the word decodes as on RV64.
pub fn decode(raw: u32) -> Option<Op> {
    if raw & 3 != 3 {
        return decode_c(CInsn(raw as u16));
    }
    let i = Insn(raw);
    let (f3, f7) = (i.funct3(), i.funct7());
    let ours = match i.opcode() {
        0x03 => f3 == 7,
        0x0f => f3 == 2,
        0x23 => f3 == 4,
        // FLQ / FSQ (the Q extension: FLEN is 128 at XLEN 128).
        0x07 | 0x27 => f3 == 4,
        0x5b => match f3 {
            0 => true,
            1 => raw >> 26 == 0,
            5 => raw >> 26 == 0 || raw >> 26 == 0x10,
            _ => false,
        },
        0x7b => matches!(
            (f7, f3),
            (0, 0)
                | (0x20, 0)
                | (0, 1)
                | (0, 5)
                | (0x20, 5)
                | (1, 0)
                | (1, 4)
                | (1, 5)
                | (1, 6)
                | (1, 7)
        ),
        0x2f => {
            f3 == 4
                && match i.funct5() {
                    0x02 => i.rs2() == 0,
                    0x03 | 0x00 | 0x01 | 0x04 | 0x08 | 0x0c | 0x10 | 0x14 | 0x18 | 0x1c => true,
                    _ => false,
                }
        }
        // The rest of OP-IMM-64 / OP-64 is reserved.
        _ => return None,
    };
    Some(if ours {
        word_op(raw, 4)
    } else if matches!(i.opcode(), 0x5b | 0x7b) {
        illegal(raw, 4)
    } else {
        return None;
    })
}

fn word_op(w: u32, len: u8) -> Op {
    let i = Insn(w);
    Op {
        k: K::Rv128,
        rd: i.rd(),
        rs1: i.rs1(),
        rs2: i.rs2(),
        imm: w as i32,
        len,
    }
}

fn illegal(raw: u32, len: u8) -> Op {
    Op {
        k: K::Illegal,
        rd: 0,
        rs1: 0,
        rs2: 0,
        imm: raw as i32,
        len,
    }
}

/// LQ rd, imm(rs1) as a 32-bit word.
pub(crate) fn lq_word(rd: u8, rs1: u8, imm: i32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | ((rs1 as u32) << 15) | (2 << 12) | ((rd as u32) << 7) | 0x0f
}

/// SQ rs2, imm(rs1) as a 32-bit word.
pub(crate) fn sq_word(rs2: u8, rs1: u8, imm: i32) -> u32 {
    let imm = imm as u32;
    (((imm >> 5) & 0x7f) << 25)
        | ((rs2 as u32) << 20)
        | ((rs1 as u32) << 15)
        | (4 << 12)
        | ((imm & 0x1f) << 7)
        | 0x23
}

fn decode_c(c: CInsn) -> Option<Op> {
    let h = c.0 as u32;
    let bit = |n: u32| (h >> n) & 1;
    let shamt6 = (c.b12() << 5) | c.rs2() as u32;
    let op = |k: K, rd: u8, rs1: u8, imm: i32| Op {
        k,
        rd,
        rs1,
        rs2: 0,
        imm,
        len: 2,
    };
    Some(match (c.op(), c.funct3()) {
        (0, 1) | (0, 5) => {
            // uimm[5:4|8] in bits 12:10, uimm[7:6] in bits 6:5.
            let imm =
                ((bit(12) << 5) | (bit(11) << 4) | (bit(10) << 8) | (((h >> 5) & 3) << 6)) as i32;
            if c.funct3() == 1 {
                word_op(lq_word(c.rdp(), c.rs1p(), imm), 2)
            } else {
                word_op(sq_word(c.rdp(), c.rs1p(), imm), 2)
            }
        }
        (2, 1) => {
            // uimm[5] in bit 12, uimm[4|9:6] in bits 6:2.
            if c.rd() == 0 {
                return Some(illegal(h, 2));
            }
            let imm = ((bit(12) << 5) | (bit(6) << 4) | (((h >> 2) & 15) << 6)) as i32;
            word_op(lq_word(c.rd(), 2, imm), 2)
        }
        (2, 5) => {
            // uimm[5:4|9:6] in bits 12:7.
            let imm = ((((h >> 11) & 3) << 4) | (((h >> 7) & 15) << 6)) as i32;
            word_op(sq_word(c.rs2(), 2, imm), 2)
        }
        (2, 0) => {
            // C.SLLI: a shift amount of 0 encodes 64.
            let sh = if shamt6 == 0 { 64 } else { shamt6 };
            op(K::Slli, c.rd(), c.rd(), sh as i32)
        }
        (1, 4) if c.b11_10() < 2 => {
            // C.SRLI / C.SRAI: 0 encodes 64, and the 6-bit amount is sign-extended
            // (legal amounts 1-31, 64, 96-127).
            let sh = if shamt6 == 0 {
                64
            } else if shamt6 & 0x20 != 0 {
                shamt6 | 0x40
            } else {
                shamt6
            };
            let k = if c.b11_10() == 0 { K::Srli } else { K::Srai };
            op(k, c.rs1p(), c.rs1p(), sh as i32)
        }
        _ => return None,
    })
}

/// The 128-bit value an RV128 CSR read gives, from the hart's 64-bit CSR value:
/// the bits that sit at the top of the register (SD of mstatus/sstatus, the
/// interrupt bit of mcause/scause, MXL of misa) move from bit 63 (62) to 127 (126).
pub(crate) fn csr_widen(csr: u32, v: u64) -> u128 {
    match csr {
        MSTATUS | SSTATUS | MCAUSE | SCAUSE => {
            ((v & !(1 << 63)) as u128) | (((v >> 63) as u128) << 127)
        }
        MISA => ((v & !(3 << 62)) as u128) | (((v >> 62) as u128) << 126),
        // Addresses: virtual addresses are sign-extended (docs/rv128.md).
        MEPC | SEPC | MTVAL | STVAL | MTVEC | STVEC => v as i64 as i128 as u128,
        _ => v as u128,
    }
}

/// The 64-bit value the hart's CSR logic takes for an RV128 CSR write of `v`
/// (the inverse of [`csr_widen`]; bits above 63 of other CSRs are not
/// stored, except those of mscratch and sscratch, kept by the hart).
pub(crate) fn csr_narrow(csr: u32, v: u128) -> u64 {
    match csr {
        MSTATUS | SSTATUS | MCAUSE | SCAUSE => {
            (v as u64 & !(1 << 63)) | (((v >> 127) as u64) << 63)
        }
        MISA => (v as u64 & !(3 << 62)) | (((v >> 126) as u64) << 62),
        _ => v as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode as dec;

    #[test]
    fn rv128_words() {
        // ldu a0, 8(a1); lq a0, 16(a1); sq a0, 32(a1)
        assert_eq!(dec(0x0085_f503, 128).k, K::Rv128);
        assert_eq!(dec(0x0085_f503, 64).k, K::Illegal);
        assert_eq!(dec(lq_word(10, 11, 16), 128).k, K::Rv128);
        assert_eq!(dec(lq_word(10, 11, 16), 64).k, K::Illegal);
        assert_eq!(dec(sq_word(10, 11, 32), 128).k, K::Rv128);
        // slli a0, a0, 100 exists only at XLEN 128.
        let slli100 = (100 << 20) | (10 << 15) | (1 << 12) | (10 << 7) | 0x13;
        assert_eq!(dec(slli100, 128).imm, 100);
        assert_eq!(dec(slli100, 128).k, K::Slli);
        assert_eq!(dec(slli100, 64).k, K::Illegal);
        // addid / a reserved OP-64 word
        assert_eq!(dec(0x0015_051b | (0x5b - 0x1b), 128).k, K::Rv128);
        assert_eq!(dec(0x4000_107b, 128).k, K::Illegal);
        // flq fa0, 16(a1) / fsq fa0, -32(a1): FLEN 128 only at XLEN 128.
        for w in [0x0105_c507, 0xfea5_c027] {
            assert_eq!(dec(w, 128).k, K::Rv128);
            assert_eq!(dec(w, 64).k, K::Illegal);
        }
    }

    #[test]
    fn rv128_compressed() {
        // c.slli a0, 0 is a shift by 64 at XLEN 128.
        let op = dec(0x0502, 128);
        assert_eq!((op.k, op.imm, op.len), (K::Slli, 64, 2));
        // c.srai a0, 63 (shamt6 = 0x3f) sign-extends to 127.
        let op = dec(
            0x1 | (4 << 13) | (1 << 12) | (1 << 10) | (2 << 7) | (31 << 2),
            128,
        );
        assert_eq!((op.k, op.imm, op.rd), (K::Srai, 127, 10));
        // c.lqsp a0, 16(sp) and c.fldsp at other XLENs.
        let w = 2 | (1 << 13) | (10 << 7) | (1 << 6);
        assert_eq!(dec(w, 128).k, K::Rv128);
        assert_eq!(dec(w, 128).imm as u32, lq_word(10, 2, 16));
        assert_eq!(dec(w, 64).k, K::Fld);
    }

    #[test]
    fn csr_views_round_trip() {
        for (csr, v) in [
            (MSTATUS, 1u64 << 63 | 0x1800),
            (MCAUSE, 1 << 63 | 7),
            (MISA, 3 << 62 | 5),
        ] {
            let w = csr_widen(csr, v);
            assert!(w >> 120 != 0 && (w as u64) >> 62 == 0);
            assert_eq!(csr_narrow(csr, w), v);
        }
        assert_eq!(csr_widen(0x340, u64::MAX), u64::MAX as u128);
    }
}
