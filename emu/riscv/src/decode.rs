//! Decoding only: a 16- or 32-bit instruction word becomes a compact [`Op`]
//! (8 bytes) that the executor matches on. Compressed instructions expand to
//! the same ops as their 32-bit equivalents. Nothing here touches hart state;
//! whether an op is allowed in the current mode/state is the executor's job.

use crate::formats::{CInsn, Insn};

/// The operation of a decoded instruction.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum K {
    /// Not a valid instruction; `imm` holds the instruction bits (for xtval).
    Illegal,
    Lui,
    Auipc,
    Jal,
    Jalr,
    Beq,
    Bne,
    Blt,
    Bge,
    Bltu,
    Bgeu,
    Lb,
    Lh,
    Lw,
    Ld,
    Lbu,
    Lhu,
    Lwu,
    Sb,
    Sh,
    Sw,
    Sd,
    Addi,
    Slti,
    Sltiu,
    Xori,
    Ori,
    Andi,
    Slli,
    Srli,
    Srai,
    Add,
    Sub,
    Sll,
    Slt,
    Sltu,
    Xor,
    Srl,
    Sra,
    Or,
    And,
    Addiw,
    Slliw,
    Srliw,
    Sraiw,
    Addw,
    Subw,
    Sllw,
    Srlw,
    Sraw,
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
    Mulw,
    Divw,
    Divuw,
    Remw,
    Remuw,
    Fence,
    FenceI,
    Ecall,
    Ebreak,
    Mret,
    Sret,
    Wfi,
    SfenceVma,
    /// CSR ops: `imm` is the CSR number; for the *i forms `rs1` is the 5-bit immediate.
    Csrrw,
    Csrrs,
    Csrrc,
    Csrrwi,
    Csrrsi,
    Csrrci,
    LrW,
    ScW,
    /// AMO on 32 bits: `imm` is funct5.
    AmoW,
    LrD,
    ScD,
    /// AMO on 64 bits: `imm` is funct5.
    AmoD,
    /// FLW: `rd` is the f register.
    Flw,
    Fld,
    /// FSW: `rs2` is the f register.
    Fsw,
    Fsd,
    /// OP-FP, FMADD, FMSUB, FNMSUB, FNMADD: `imm` is the instruction word, handed to [`crate::fp::execute`].
    Fp,
    /// An RV128-only instruction (LQ, SQ, LDU, the *D forms, LR.Q/SC.Q/AMO*.Q,
    /// FLQ/FSQ, Q-format FP): `imm` is the (expanded) 32-bit instruction word,
    /// executed by the hart's RV128 part (see [`crate::rv128`]).
    Rv128,
    /// Never decoded: the hart ends each decoded block with it (the block
    /// falls through to the next pc).
    BlockEnd,
}

/// A decoded instruction: 8 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    /// Operation.
    pub k: K,
    /// Destination register.
    pub rd: u8,
    /// First source register (or CSR immediate).
    pub rs1: u8,
    /// Second source register.
    pub rs2: u8,
    /// Immediate (meaning depends on `k`).
    pub imm: i32,
    /// Instruction length in bytes (2 or 4).
    pub len: u8,
}

impl Op {
    #[inline]
    const fn new(k: K, rd: u8, rs1: u8, rs2: u8, imm: i32) -> Op {
        Op {
            k,
            rd,
            rs1,
            rs2,
            imm,
            len: 4,
        }
    }
    #[inline]
    fn illegal(raw: u32) -> Op {
        Op::new(K::Illegal, 0, 0, 0, raw as i32)
    }
}

/// Length in bytes of the instruction whose first 16 bits are `lo` (2 or 4).
#[inline(always)]
pub fn insn_len(lo: u32) -> u64 {
    if lo & 3 == 3 {
        4
    } else {
        2
    }
}

/// Decodes one instruction for a hart of width `xlen` (32, 64 or 128). For a
/// compressed instruction only the low 16 bits of `raw` are used.
pub fn decode(raw: u32, xlen: u32) -> Op {
    if xlen == 128 {
        if let Some(op) = crate::rv128::decode(raw) {
            return op;
        }
    }
    if raw & 3 != 3 {
        Op {
            len: 2,
            ..decode_c(CInsn(raw as u16), xlen)
        }
    } else {
        decode32(Insn(raw), xlen)
    }
}

fn decode32(i: Insn, xlen: u32) -> Op {
    let raw = i.0;
    let (rd, rs1, rs2) = (i.rd(), i.rs1(), i.rs2());
    let rv64 = xlen >= 64;
    let f3 = i.funct3();
    let f7 = i.funct7();
    let r = |k: K| Op::new(k, rd, rs1, rs2, 0);
    match i.opcode() {
        0x37 => Op::new(K::Lui, rd, 0, 0, i.imm_u()),
        0x17 => Op::new(K::Auipc, rd, 0, 0, i.imm_u()),
        0x6f => Op::new(K::Jal, rd, 0, 0, i.imm_j()),
        0x67 if f3 == 0 => Op::new(K::Jalr, rd, rs1, 0, i.imm_i()),
        0x63 => {
            let k = match f3 {
                0 => K::Beq,
                1 => K::Bne,
                4 => K::Blt,
                5 => K::Bge,
                6 => K::Bltu,
                7 => K::Bgeu,
                _ => return Op::illegal(raw),
            };
            Op::new(k, 0, rs1, rs2, i.imm_b())
        }
        0x03 => {
            let k = match f3 {
                0 => K::Lb,
                1 => K::Lh,
                2 => K::Lw,
                3 if rv64 => K::Ld,
                4 => K::Lbu,
                5 => K::Lhu,
                6 if rv64 => K::Lwu,
                _ => return Op::illegal(raw),
            };
            Op::new(k, rd, rs1, 0, i.imm_i())
        }
        0x23 => {
            let k = match f3 {
                0 => K::Sb,
                1 => K::Sh,
                2 => K::Sw,
                3 if rv64 => K::Sd,
                _ => return Op::illegal(raw),
            };
            Op::new(k, 0, rs1, rs2, i.imm_s())
        }
        0x13 => {
            let imm = i.imm_i();
            let shamt_ok = |f6: u32| match xlen {
                128 => raw >> 27 == f6 >> 1,
                64 => raw >> 26 == f6,
                _ => f7 == f6 << 1,
            };
            let sh = (raw >> 20) as i32 & (xlen as i32 - 1);
            match f3 {
                0 => Op::new(K::Addi, rd, rs1, 0, imm),
                2 => Op::new(K::Slti, rd, rs1, 0, imm),
                3 => Op::new(K::Sltiu, rd, rs1, 0, imm),
                4 => Op::new(K::Xori, rd, rs1, 0, imm),
                6 => Op::new(K::Ori, rd, rs1, 0, imm),
                7 => Op::new(K::Andi, rd, rs1, 0, imm),
                1 if shamt_ok(0) => Op::new(K::Slli, rd, rs1, 0, sh),
                5 if shamt_ok(0) => Op::new(K::Srli, rd, rs1, 0, sh),
                5 if shamt_ok(0x10) => Op::new(K::Srai, rd, rs1, 0, sh),
                _ => Op::illegal(raw),
            }
        }
        0x1b if rv64 => {
            let sh = (raw >> 20) as i32 & 31;
            match (f3, f7) {
                (0, _) => Op::new(K::Addiw, rd, rs1, 0, i.imm_i()),
                (1, 0) => Op::new(K::Slliw, rd, rs1, 0, sh),
                (5, 0) => Op::new(K::Srliw, rd, rs1, 0, sh),
                (5, 0x20) => Op::new(K::Sraiw, rd, rs1, 0, sh),
                _ => Op::illegal(raw),
            }
        }
        0x33 => match (f7, f3) {
            (0, 0) => r(K::Add),
            (0x20, 0) => r(K::Sub),
            (0, 1) => r(K::Sll),
            (0, 2) => r(K::Slt),
            (0, 3) => r(K::Sltu),
            (0, 4) => r(K::Xor),
            (0, 5) => r(K::Srl),
            (0x20, 5) => r(K::Sra),
            (0, 6) => r(K::Or),
            (0, 7) => r(K::And),
            (1, 0) => r(K::Mul),
            (1, 1) => r(K::Mulh),
            (1, 2) => r(K::Mulhsu),
            (1, 3) => r(K::Mulhu),
            (1, 4) => r(K::Div),
            (1, 5) => r(K::Divu),
            (1, 6) => r(K::Rem),
            (1, 7) => r(K::Remu),
            _ => Op::illegal(raw),
        },
        0x3b if rv64 => match (f7, f3) {
            (0, 0) => r(K::Addw),
            (0x20, 0) => r(K::Subw),
            (0, 1) => r(K::Sllw),
            (0, 5) => r(K::Srlw),
            (0x20, 5) => r(K::Sraw),
            (1, 0) => r(K::Mulw),
            (1, 4) => r(K::Divw),
            (1, 5) => r(K::Divuw),
            (1, 6) => r(K::Remw),
            (1, 7) => r(K::Remuw),
            _ => Op::illegal(raw),
        },
        0x0f => match f3 {
            0 => Op::new(K::Fence, 0, 0, 0, 0),
            1 => Op::new(K::FenceI, 0, 0, 0, 0),
            _ => Op::illegal(raw),
        },
        0x73 => {
            let csr = i.csr() as i32;
            match f3 {
                0 => match raw {
                    0x0000_0073 => Op::new(K::Ecall, 0, 0, 0, 0),
                    0x0010_0073 => Op::new(K::Ebreak, 0, 0, 0, 0),
                    0x3020_0073 => Op::new(K::Mret, 0, 0, 0, 0),
                    0x1020_0073 => Op::new(K::Sret, 0, 0, 0, 0),
                    0x1050_0073 => Op::new(K::Wfi, 0, 0, 0, 0),
                    _ if f7 == 0x09 && rd == 0 => Op::new(K::SfenceVma, 0, rs1, rs2, raw as i32),
                    _ => Op::illegal(raw),
                },
                1 => Op::new(K::Csrrw, rd, rs1, 0, csr),
                2 => Op::new(K::Csrrs, rd, rs1, 0, csr),
                3 => Op::new(K::Csrrc, rd, rs1, 0, csr),
                5 => Op::new(K::Csrrwi, rd, rs1, 0, csr),
                6 => Op::new(K::Csrrsi, rd, rs1, 0, csr),
                7 => Op::new(K::Csrrci, rd, rs1, 0, csr),
                _ => Op::illegal(raw),
            }
        }
        0x2f => {
            let f5 = i.funct5();
            let (lr, sc, amo) = match f3 {
                2 => (K::LrW, K::ScW, K::AmoW),
                3 if rv64 => (K::LrD, K::ScD, K::AmoD),
                _ => return Op::illegal(raw),
            };
            match f5 {
                0x02 if rs2 == 0 => Op::new(lr, rd, rs1, 0, 0),
                0x03 => Op::new(sc, rd, rs1, rs2, 0),
                0x00 | 0x01 | 0x04 | 0x08 | 0x0c | 0x10 | 0x14 | 0x18 | 0x1c => {
                    Op::new(amo, rd, rs1, rs2, f5 as i32)
                }
                _ => Op::illegal(raw),
            }
        }
        0x07 => match f3 {
            2 => Op::new(K::Flw, rd, rs1, 0, i.imm_i()),
            3 => Op::new(K::Fld, rd, rs1, 0, i.imm_i()),
            _ => Op::illegal(raw),
        },
        0x27 => match f3 {
            2 => Op::new(K::Fsw, 0, rs1, rs2, i.imm_s()),
            3 => Op::new(K::Fsd, 0, rs1, rs2, i.imm_s()),
            _ => Op::illegal(raw),
        },
        0x53 | 0x43 | 0x47 | 0x4b | 0x4f => Op::new(K::Fp, rd, rs1, rs2, raw as i32),
        _ => Op::illegal(raw),
    }
}

fn decode_c(c: CInsn, xlen: u32) -> Op {
    let raw = c.0 as u32;
    let rv64 = xlen >= 64;
    let ill = Op::illegal(raw);
    match (c.op(), c.funct3()) {
        // Quadrant 0.
        (0, 0) => {
            let imm = c.imm_addi4spn();
            if imm == 0 {
                ill
            } else {
                Op::new(K::Addi, c.rdp(), 2, 0, imm)
            }
        }
        (0, 1) => Op::new(K::Fld, c.rdp(), c.rs1p(), 0, c.imm_ld()),
        (0, 2) => Op::new(K::Lw, c.rdp(), c.rs1p(), 0, c.imm_lw()),
        (0, 3) if rv64 => Op::new(K::Ld, c.rdp(), c.rs1p(), 0, c.imm_ld()),
        (0, 3) => Op::new(K::Flw, c.rdp(), c.rs1p(), 0, c.imm_lw()),
        (0, 5) => Op::new(K::Fsd, 0, c.rs1p(), c.rdp(), c.imm_ld()),
        (0, 6) => Op::new(K::Sw, 0, c.rs1p(), c.rdp(), c.imm_lw()),
        (0, 7) if rv64 => Op::new(K::Sd, 0, c.rs1p(), c.rdp(), c.imm_ld()),
        (0, 7) => Op::new(K::Fsw, 0, c.rs1p(), c.rdp(), c.imm_lw()),
        // Quadrant 1.
        (1, 0) => Op::new(K::Addi, c.rd(), c.rd(), 0, c.imm_ci()),
        (1, 1) if rv64 => {
            if c.rd() == 0 {
                ill
            } else {
                Op::new(K::Addiw, c.rd(), c.rd(), 0, c.imm_ci())
            }
        }
        (1, 1) => Op::new(K::Jal, 1, 0, 0, c.imm_j()),
        (1, 2) => Op::new(K::Addi, c.rd(), 0, 0, c.imm_ci()),
        (1, 3) => {
            if c.rd() == 2 {
                let imm = c.imm_addi16sp();
                if imm == 0 {
                    ill
                } else {
                    Op::new(K::Addi, 2, 2, 0, imm)
                }
            } else {
                let imm = c.imm_ci();
                if imm == 0 {
                    ill
                } else {
                    Op::new(K::Lui, c.rd(), 0, 0, imm << 12)
                }
            }
        }
        (1, 4) => {
            let rd = c.rs1p();
            let shamt = ((c.b12() << 5) | c.rs2() as u32) as i32;
            match c.b11_10() {
                0 | 1 if !rv64 && c.b12() == 1 => ill,
                0 => Op::new(K::Srli, rd, rd, 0, shamt),
                1 => Op::new(K::Srai, rd, rd, 0, shamt),
                2 => Op::new(K::Andi, rd, rd, 0, c.imm_ci()),
                _ => {
                    let rs2 = c.rdp();
                    let k = match (c.b12(), c.b6_5()) {
                        (0, 0) => K::Sub,
                        (0, 1) => K::Xor,
                        (0, 2) => K::Or,
                        (0, 3) => K::And,
                        (1, 0) if rv64 => K::Subw,
                        (1, 1) if rv64 => K::Addw,
                        _ => return ill,
                    };
                    Op::new(k, rd, rd, rs2, 0)
                }
            }
        }
        (1, 5) => Op::new(K::Jal, 0, 0, 0, c.imm_j()),
        (1, 6) => Op::new(K::Beq, 0, c.rs1p(), 0, c.imm_b()),
        (1, 7) => Op::new(K::Bne, 0, c.rs1p(), 0, c.imm_b()),
        // Quadrant 2.
        (2, 0) => {
            if !rv64 && c.b12() == 1 {
                ill
            } else {
                let shamt = ((c.b12() << 5) | c.rs2() as u32) as i32;
                Op::new(K::Slli, c.rd(), c.rd(), 0, shamt)
            }
        }
        (2, 1) => Op::new(K::Fld, c.rd(), 2, 0, c.imm_ldsp()),
        (2, 2) => {
            if c.rd() == 0 {
                ill
            } else {
                Op::new(K::Lw, c.rd(), 2, 0, c.imm_lwsp())
            }
        }
        (2, 3) if rv64 => {
            if c.rd() == 0 {
                ill
            } else {
                Op::new(K::Ld, c.rd(), 2, 0, c.imm_ldsp())
            }
        }
        (2, 3) => Op::new(K::Flw, c.rd(), 2, 0, c.imm_lwsp()),
        (2, 4) => {
            let (rd, rs2) = (c.rd(), c.rs2());
            match (c.b12(), rd, rs2) {
                (0, 0, 0) => ill,
                (0, _, 0) => Op::new(K::Jalr, 0, rd, 0, 0),
                (0, _, _) => Op::new(K::Add, rd, 0, rs2, 0),
                (_, 0, 0) => Op::new(K::Ebreak, 0, 0, 0, 0),
                (_, _, 0) => Op::new(K::Jalr, 1, rd, 0, 0),
                _ => Op::new(K::Add, rd, rd, rs2, 0),
            }
        }
        (2, 5) => Op::new(K::Fsd, 0, 2, c.rs2(), c.imm_sdsp()),
        (2, 6) => Op::new(K::Sw, 0, 2, c.rs2(), c.imm_swsp()),
        (2, 7) if rv64 => Op::new(K::Sd, 0, 2, c.rs2(), c.imm_sdsp()),
        (2, 7) => Op::new(K::Fsw, 0, 2, c.rs2(), c.imm_swsp()),
        _ => ill,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d64(raw: u32) -> Op {
        decode(raw, 64)
    }

    /// The op of a compressed instruction (length 2).
    fn c(k: K, rd: u8, rs1: u8, rs2: u8, imm: i32) -> Op {
        Op {
            len: 2,
            ..Op::new(k, rd, rs1, rs2, imm)
        }
    }

    #[test]
    fn base_instructions() {
        assert_eq!(d64(0xfff1_0093), Op::new(K::Addi, 1, 2, 0, -1)); // addi x1,x2,-1
        assert_eq!(d64(0x0020_81b3), Op::new(K::Add, 3, 1, 2, 0)); // add x3,x1,x2
        assert_eq!(d64(0x4020_81b3), Op::new(K::Sub, 3, 1, 2, 0)); // sub x3,x1,x2
        assert_eq!(d64(0x0000_0073).k, K::Ecall);
        assert_eq!(d64(0x3020_0073).k, K::Mret);
        assert_eq!(d64(0x1200_0073).k, K::SfenceVma);
        assert_eq!(d64(0x3400_2573), Op::new(K::Csrrs, 10, 0, 0, 0x340)); // csrr a0, mscratch
    }

    #[test]
    fn xlen_dependent_encodings() {
        // slli x1, x1, 32: legal on RV64, reserved on RV32.
        assert_eq!(decode(0x0200_9093, 64), Op::new(K::Slli, 1, 1, 0, 32));
        assert_eq!(decode(0x0200_9093, 32).k, K::Illegal);
        // ld / addw are RV64 only.
        assert_eq!(decode(0x0000_3083, 32).k, K::Illegal);
        assert_eq!(decode(0x0020_81bb, 32).k, K::Illegal);
        assert_eq!(decode(0x0020_81bb, 64).k, K::Addw);
        // c.addiw a0, 1 (RV64) is c.jal on RV32.
        assert_eq!(decode(0x2505, 64), c(K::Addiw, 10, 10, 0, 1));
        assert_eq!(decode(0x2505, 32).k, K::Jal);
        // c.ld a0, 0(a1) on RV64 is c.flw on RV32.
        assert_eq!(decode(0x6188, 64), c(K::Ld, 10, 11, 0, 0));
        assert_eq!(decode(0x6188, 32), c(K::Flw, 10, 11, 0, 0));
    }

    #[test]
    fn compressed() {
        assert_eq!(decode(0x0001, 64), c(K::Addi, 0, 0, 0, 0)); // c.nop
        assert_eq!(decode(0x0000, 64).k, K::Illegal); // all zeros is illegal
        assert_eq!(decode(0x8082, 64), c(K::Jalr, 0, 1, 0, 0)); // ret
        assert_eq!(decode(0x852e, 64), c(K::Add, 10, 0, 11, 0)); // mv a0, a1
        assert_eq!(decode(0x9002, 64).k, K::Ebreak);
        assert_eq!(decode(0x7139, 64), c(K::Addi, 2, 2, 0, -64)); // addi sp,sp,-64
        assert_eq!(decode(0xe822, 64), c(K::Sd, 0, 2, 8, 16)); // sd s0,16(sp)
        assert_eq!(decode(0x4501, 64), c(K::Addi, 10, 0, 0, 0)); // li a0, 0
        assert_eq!(decode(0x6505, 64), c(K::Lui, 10, 0, 0, 0x1000)); // lui a0, 1
        assert_eq!(decode(0x8d89, 64), c(K::Sub, 11, 11, 10, 0)); // sub a1,a1,a0
        assert_eq!(decode(0xc119, 64), c(K::Beq, 0, 10, 0, 6)); // beqz a0, +6
    }
}
