//! A small RISC-V assembler as a Rust builder of instruction words, for the
//! RV128 test programs and benchmark (no toolchain assembles RV128). It
//! covers RV32I/RV64I/RV128I, M, A, F/D/Q, Zicsr, the privileged
//! instructions and the compressed encodings the tests use; branches and
//! jumps take labels, resolved by [`Asm::finish`].
//!
//! ```
//! use vf_riscv::asm::{Asm, A0, A1};
//! let mut a = Asm::new();
//! a.li(A0, 1i128 << 100); // any 128-bit constant
//! a.label("loop");
//! a.addi(A0, A0, -1);
//! a.bne(A0, A1, "loop");
//! let code: Vec<u8> = a.finish().unwrap();
//! assert!(code.len() > 8);
//! ```

use std::collections::HashMap;
use std::fmt;

pub mod programs;

/// An integer (or floating-point) register number.
pub type Reg = u8;

#[allow(missing_docs)]
mod regs {
    use super::Reg;
    pub const ZERO: Reg = 0;
    pub const RA: Reg = 1;
    pub const SP: Reg = 2;
    pub const GP: Reg = 3;
    pub const TP: Reg = 4;
    pub const T0: Reg = 5;
    pub const T1: Reg = 6;
    pub const T2: Reg = 7;
    pub const S0: Reg = 8;
    pub const S1: Reg = 9;
    pub const A0: Reg = 10;
    pub const A1: Reg = 11;
    pub const A2: Reg = 12;
    pub const A3: Reg = 13;
    pub const A4: Reg = 14;
    pub const A5: Reg = 15;
    pub const A6: Reg = 16;
    pub const A7: Reg = 17;
    pub const S2: Reg = 18;
    pub const S3: Reg = 19;
    pub const S4: Reg = 20;
    pub const S5: Reg = 21;
    pub const S6: Reg = 22;
    pub const S7: Reg = 23;
    pub const S8: Reg = 24;
    pub const S9: Reg = 25;
    pub const S10: Reg = 26;
    pub const S11: Reg = 27;
    pub const T3: Reg = 28;
    pub const T4: Reg = 29;
    pub const T5: Reg = 30;
    pub const T6: Reg = 31;
}
pub use regs::*;

/// Why a program could not be assembled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AsmError {
    /// A branch or jump names a label that was never defined.
    UndefinedLabel(String),
    /// A label was defined twice.
    DuplicateLabel(String),
    /// A branch or jump target is out of the instruction's range.
    OutOfRange(String),
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsmError::UndefinedLabel(l) => write!(f, "undefined label {l:?}"),
            AsmError::DuplicateLabel(l) => write!(f, "label {l:?} defined twice"),
            AsmError::OutOfRange(l) => write!(f, "label {l:?} is out of range"),
        }
    }
}

impl std::error::Error for AsmError {}

#[derive(Clone, Copy)]
enum Fix {
    Branch,
    Jal,
    /// AUIPC + ADDI pair (`la`).
    Pcrel,
}

/// The program being assembled (little-endian bytes, starting at offset 0).
#[derive(Default)]
pub struct Asm {
    code: Vec<u8>,
    labels: HashMap<String, usize>,
    fixups: Vec<(usize, String, Fix)>,
    dup: Option<String>,
}

/// The R-type word.
pub fn r_type(op: u32, f3: u32, f7: u32, rd: Reg, rs1: Reg, rs2: Reg) -> u32 {
    (f7 << 25) | ((rs2 as u32) << 20) | ((rs1 as u32) << 15) | (f3 << 12) | ((rd as u32) << 7) | op
}
/// The I-type word (imm: low 12 bits).
pub fn i_type(op: u32, f3: u32, rd: Reg, rs1: Reg, imm: i32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | ((rs1 as u32) << 15) | (f3 << 12) | ((rd as u32) << 7) | op
}
/// The S-type word (imm: low 12 bits).
pub fn s_type(op: u32, f3: u32, rs1: Reg, rs2: Reg, imm: i32) -> u32 {
    let imm = imm as u32 & 0xfff;
    ((imm >> 5) << 25)
        | ((rs2 as u32) << 20)
        | ((rs1 as u32) << 15)
        | (f3 << 12)
        | ((imm & 31) << 7)
        | op
}
fn b_imm(off: i32) -> u32 {
    let o = off as u32;
    (((o >> 12) & 1) << 31)
        | (((o >> 5) & 0x3f) << 25)
        | (((o >> 1) & 0xf) << 8)
        | (((o >> 11) & 1) << 7)
}
fn j_imm(off: i32) -> u32 {
    let o = off as u32;
    (((o >> 20) & 1) << 31)
        | (((o >> 1) & 0x3ff) << 21)
        | (((o >> 11) & 1) << 20)
        | (((o >> 12) & 0xff) << 12)
}

macro_rules! r_ops {
    ($($name:ident = $op:expr, $f3:expr, $f7:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), " rd, rs1, rs2`")]
        pub fn $name(&mut self, rd: Reg, rs1: Reg, rs2: Reg) -> &mut Self {
            self.word(r_type($op, $f3, $f7, rd, rs1, rs2))
        }
    )*};
}
macro_rules! i_ops {
    ($($name:ident = $op:expr, $f3:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), " rd, rs1, imm` (also loads: `rd, imm(rs1)`)")]
        pub fn $name(&mut self, rd: Reg, rs1: Reg, imm: i32) -> &mut Self {
            self.word(i_type($op, $f3, rd, rs1, imm))
        }
    )*};
}
macro_rules! s_ops {
    ($($name:ident = $op:expr, $f3:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), " rs2, imm(rs1)`")]
        pub fn $name(&mut self, rs2: Reg, rs1: Reg, imm: i32) -> &mut Self {
            self.word(s_type($op, $f3, rs1, rs2, imm))
        }
    )*};
}
macro_rules! sh_ops {
    ($($name:ident = $op:expr, $f3:expr, $hi:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), " rd, rs1, shamt` (shamt up to 127: the top bits of the immediate are the function)")]
        pub fn $name(&mut self, rd: Reg, rs1: Reg, shamt: u32) -> &mut Self {
            self.word(($hi << 20) | ((shamt & 0x7f) << 20) | ((rs1 as u32) << 15) | ($f3 << 12) | ((rd as u32) << 7) | $op)
        }
    )*};
}
macro_rules! b_ops {
    ($($name:ident = $f3:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), " rs1, rs2, label`")]
        pub fn $name(&mut self, rs1: Reg, rs2: Reg, label: &str) -> &mut Self {
            self.fix(label, Fix::Branch);
            self.word(r_type(0x63, $f3, 0, 0, rs1, rs2))
        }
    )*};
}
macro_rules! amo_ops {
    ($($name:ident = $f5:expr, $f3:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), " rd, rs2, (rs1)` (aq = rl = 0)")]
        pub fn $name(&mut self, rd: Reg, rs2: Reg, rs1: Reg) -> &mut Self {
            self.word(r_type(0x2f, $f3, $f5 << 2, rd, rs1, rs2))
        }
    )*};
}
macro_rules! fp_r_ops {
    ($($name:ident = $f7:expr, $rm:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), " rd, rs1, rs2` (OP-FP; rm/funct3 fixed)")]
        pub fn $name(&mut self, rd: Reg, rs1: Reg, rs2: Reg) -> &mut Self {
            self.word(r_type(0x53, $rm, $f7, rd, rs1, rs2))
        }
    )*};
}
macro_rules! fp_u_ops {
    ($($name:ident = $f7:expr, $rs2:expr, $rm:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), " rd, rs1` (OP-FP with a fixed rs2 field)")]
        pub fn $name(&mut self, rd: Reg, rs1: Reg) -> &mut Self {
            self.word(r_type(0x53, $rm, $f7, rd, rs1, $rs2))
        }
    )*};
}

/// Rounding mode DYN (frm).
const DYN: u32 = 7;

impl Asm {
    /// An empty program.
    pub fn new() -> Asm {
        Asm::default()
    }
    /// The offset of the next instruction.
    pub fn pos(&self) -> usize {
        self.code.len()
    }
    /// Defines `name` at the current offset.
    pub fn label(&mut self, name: &str) -> &mut Self {
        if self
            .labels
            .insert(name.to_string(), self.code.len())
            .is_some()
        {
            self.dup.get_or_insert_with(|| name.to_string());
        }
        self
    }
    /// Appends a 32-bit word.
    pub fn word(&mut self, w: u32) -> &mut Self {
        self.code.extend_from_slice(&w.to_le_bytes());
        self
    }
    /// Appends a 16-bit (compressed) instruction.
    pub fn half(&mut self, h: u16) -> &mut Self {
        self.code.extend_from_slice(&h.to_le_bytes());
        self
    }
    /// Appends raw bytes (data).
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.code.extend_from_slice(b);
        self
    }
    /// Pads with zero bytes to a multiple of `n`.
    pub fn align(&mut self, n: usize) -> &mut Self {
        while !self.code.len().is_multiple_of(n) {
            self.code.push(0);
        }
        self
    }
    fn fix(&mut self, label: &str, kind: Fix) {
        self.fixups.push((self.code.len(), label.to_string(), kind));
    }
    /// Resolves the labels and gives the program.
    pub fn finish(mut self) -> Result<Vec<u8>, AsmError> {
        if let Some(l) = self.dup {
            return Err(AsmError::DuplicateLabel(l));
        }
        for (at, label, kind) in std::mem::take(&mut self.fixups) {
            let target = *self
                .labels
                .get(&label)
                .ok_or_else(|| AsmError::UndefinedLabel(label.clone()))?;
            let off = target as i64 - at as i64;
            let rd =
                |c: &[u8], at: usize| u32::from_le_bytes([c[at], c[at + 1], c[at + 2], c[at + 3]]);
            let mut w = rd(&self.code, at);
            match kind {
                Fix::Branch => {
                    if !(-4096..4096).contains(&off) {
                        return Err(AsmError::OutOfRange(label));
                    }
                    w |= b_imm(off as i32);
                }
                Fix::Jal => {
                    if !(-(1 << 20)..(1 << 20)).contains(&off) {
                        return Err(AsmError::OutOfRange(label));
                    }
                    w |= j_imm(off as i32);
                }
                Fix::Pcrel => {
                    let lo = ((off as i32) << 20) >> 20;
                    let hi = (off as i32).wrapping_sub(lo) as u32 & 0xffff_f000;
                    w |= hi;
                    let w2 = rd(&self.code, at + 4) | ((lo as u32 & 0xfff) << 20);
                    self.code[at + 4..at + 8].copy_from_slice(&w2.to_le_bytes());
                }
            }
            self.code[at..at + 4].copy_from_slice(&w.to_le_bytes());
        }
        Ok(self.code)
    }

    // ---- RV32I / RV64I / RV128I --------------------------------------------------------

    /// `lui rd, imm20` (imm20: the upper 20 bits, sign-extended to XLEN).
    pub fn lui(&mut self, rd: Reg, imm20: i32) -> &mut Self {
        self.word(((imm20 as u32) << 12) | ((rd as u32) << 7) | 0x37)
    }
    /// `auipc rd, imm20`.
    pub fn auipc(&mut self, rd: Reg, imm20: i32) -> &mut Self {
        self.word(((imm20 as u32) << 12) | ((rd as u32) << 7) | 0x17)
    }
    /// `jal rd, label`.
    pub fn jal(&mut self, rd: Reg, label: &str) -> &mut Self {
        self.fix(label, Fix::Jal);
        self.word(((rd as u32) << 7) | 0x6f)
    }
    /// `j label`.
    pub fn j(&mut self, label: &str) -> &mut Self {
        self.jal(ZERO, label)
    }
    /// `jalr rd, imm(rs1)`.
    pub fn jalr(&mut self, rd: Reg, rs1: Reg, imm: i32) -> &mut Self {
        self.word(i_type(0x67, 0, rd, rs1, imm))
    }
    /// `la rd, label` (auipc + addi).
    pub fn la(&mut self, rd: Reg, label: &str) -> &mut Self {
        self.fix(label, Fix::Pcrel);
        self.word(((rd as u32) << 7) | 0x17);
        self.word(i_type(0x13, 0, rd, rd, 0))
    }
    b_ops! { beq = 0; bne = 1; blt = 4; bge = 5; bltu = 6; bgeu = 7; }
    i_ops! {
        lb = 0x03, 0; lh = 0x03, 1; lw = 0x03, 2; ld = 0x03, 3; lbu = 0x03, 4; lhu = 0x03, 5;
        lwu = 0x03, 6; ldu = 0x03, 7; lq = 0x0f, 2;
        addi = 0x13, 0; slti = 0x13, 2; sltiu = 0x13, 3; xori = 0x13, 4; ori = 0x13, 6; andi = 0x13, 7;
        addiw = 0x1b, 0; addid = 0x5b, 0;
        flw = 0x07, 2; fld = 0x07, 3; flq = 0x07, 4;
    }
    s_ops! {
        sb = 0x23, 0; sh = 0x23, 1; sw = 0x23, 2; sd = 0x23, 3; sq = 0x23, 4;
        fsw = 0x27, 2; fsd = 0x27, 3; fsq = 0x27, 4;
    }
    sh_ops! {
        slli = 0x13, 1, 0; srli = 0x13, 5, 0; srai = 0x13, 5, 0x400;
        slliw = 0x1b, 1, 0; srliw = 0x1b, 5, 0; sraiw = 0x1b, 5, 0x400;
        sllid = 0x5b, 1, 0; srlid = 0x5b, 5, 0; sraid = 0x5b, 5, 0x400;
    }
    r_ops! {
        add = 0x33, 0, 0; sub = 0x33, 0, 0x20; sll = 0x33, 1, 0; slt = 0x33, 2, 0; sltu = 0x33, 3, 0;
        xor = 0x33, 4, 0; srl = 0x33, 5, 0; sra = 0x33, 5, 0x20; or = 0x33, 6, 0; and = 0x33, 7, 0;
        addw = 0x3b, 0, 0; subw = 0x3b, 0, 0x20; sllw = 0x3b, 1, 0; srlw = 0x3b, 5, 0; sraw = 0x3b, 5, 0x20;
        addd = 0x7b, 0, 0; subd = 0x7b, 0, 0x20; slld = 0x7b, 1, 0; srld = 0x7b, 5, 0; srad = 0x7b, 5, 0x20;
        mul = 0x33, 0, 1; mulh = 0x33, 1, 1; mulhsu = 0x33, 2, 1; mulhu = 0x33, 3, 1;
        div = 0x33, 4, 1; divu = 0x33, 5, 1; rem = 0x33, 6, 1; remu = 0x33, 7, 1;
        mulw = 0x3b, 0, 1; divw = 0x3b, 4, 1; divuw = 0x3b, 5, 1; remw = 0x3b, 6, 1; remuw = 0x3b, 7, 1;
        muld = 0x7b, 0, 1; divd = 0x7b, 4, 1; divud = 0x7b, 5, 1; remd = 0x7b, 6, 1; remud = 0x7b, 7, 1;
    }
    /// `bnez rs, label`.
    pub fn bnez(&mut self, rs: Reg, label: &str) -> &mut Self {
        self.bne(rs, ZERO, label)
    }
    /// `mv rd, rs`.
    pub fn mv(&mut self, rd: Reg, rs: Reg) -> &mut Self {
        self.addi(rd, rs, 0)
    }
    /// `nop`.
    pub fn nop(&mut self) -> &mut Self {
        self.addi(ZERO, ZERO, 0)
    }
    /// `ret`.
    pub fn ret(&mut self) -> &mut Self {
        self.jalr(ZERO, RA, 0)
    }
    /// Loads any constant that fits XLEN (sign-extended from 128 bits) into
    /// `rd`, with LUI/ADDIW for 32-bit values and SLLI/ADDI steps above.
    pub fn li(&mut self, rd: Reg, v: i128) -> &mut Self {
        if v == (v as i32) as i128 {
            let lo = ((v as i32) << 20) >> 20;
            let hi = (v as i32).wrapping_sub(lo) >> 12;
            if hi != 0 {
                self.lui(rd, hi);
                if lo != 0 {
                    self.addiw(rd, rd, lo);
                }
                return self;
            }
            return self.addi(rd, ZERO, lo);
        }
        let lo = ((v as i32) << 20) >> 20;
        // Wrapping: the machine adds modulo 2^128 too (i128::MAX has lo = -1).
        let rest = v.wrapping_sub(lo as i128) >> 12;
        let shift = rest.trailing_zeros().min(100);
        self.li(rd, rest >> shift);
        self.slli(rd, rd, 12 + shift);
        if lo != 0 {
            self.addi(rd, rd, lo);
        }
        self
    }

    // ---- System, Zicsr ------------------------------------------------------------------

    /// `fence`.
    pub fn fence(&mut self) -> &mut Self {
        self.word(0x0ff0_000f)
    }
    /// `fence.i`.
    pub fn fence_i(&mut self) -> &mut Self {
        self.word(0x0000_100f)
    }
    /// `ecall`.
    pub fn ecall(&mut self) -> &mut Self {
        self.word(0x0000_0073)
    }
    /// `ebreak`.
    pub fn ebreak(&mut self) -> &mut Self {
        self.word(0x0010_0073)
    }
    /// `mret`.
    pub fn mret(&mut self) -> &mut Self {
        self.word(0x3020_0073)
    }
    /// `sret`.
    pub fn sret(&mut self) -> &mut Self {
        self.word(0x1020_0073)
    }
    /// `wfi`.
    pub fn wfi(&mut self) -> &mut Self {
        self.word(0x1050_0073)
    }
    /// `csrrw rd, csr, rs1`.
    pub fn csrrw(&mut self, rd: Reg, csr: u32, rs1: Reg) -> &mut Self {
        self.word(i_type(0x73, 1, rd, rs1, csr as i32))
    }
    /// `csrrs rd, csr, rs1`.
    pub fn csrrs(&mut self, rd: Reg, csr: u32, rs1: Reg) -> &mut Self {
        self.word(i_type(0x73, 2, rd, rs1, csr as i32))
    }
    /// `csrrc rd, csr, rs1`.
    pub fn csrrc(&mut self, rd: Reg, csr: u32, rs1: Reg) -> &mut Self {
        self.word(i_type(0x73, 3, rd, rs1, csr as i32))
    }
    /// `csrrwi rd, csr, uimm5`.
    pub fn csrrwi(&mut self, rd: Reg, csr: u32, uimm: u8) -> &mut Self {
        self.word(i_type(0x73, 5, rd, uimm & 31, csr as i32))
    }
    /// `csrrsi rd, csr, uimm5`.
    pub fn csrrsi(&mut self, rd: Reg, csr: u32, uimm: u8) -> &mut Self {
        self.word(i_type(0x73, 6, rd, uimm & 31, csr as i32))
    }
    /// `csrrci rd, csr, uimm5`.
    pub fn csrrci(&mut self, rd: Reg, csr: u32, uimm: u8) -> &mut Self {
        self.word(i_type(0x73, 7, rd, uimm & 31, csr as i32))
    }
    /// `csrr rd, csr`.
    pub fn csrr(&mut self, rd: Reg, csr: u32) -> &mut Self {
        self.csrrs(rd, csr, ZERO)
    }
    /// `csrw csr, rs`.
    pub fn csrw(&mut self, csr: u32, rs: Reg) -> &mut Self {
        self.csrrw(ZERO, csr, rs)
    }

    // ---- A ------------------------------------------------------------------------------

    /// `lr.w rd, (rs1)`.
    pub fn lr_w(&mut self, rd: Reg, rs1: Reg) -> &mut Self {
        self.word(r_type(0x2f, 2, 0x02 << 2, rd, rs1, 0))
    }
    /// `lr.d rd, (rs1)`.
    pub fn lr_d(&mut self, rd: Reg, rs1: Reg) -> &mut Self {
        self.word(r_type(0x2f, 3, 0x02 << 2, rd, rs1, 0))
    }
    /// `lr.q rd, (rs1)`.
    pub fn lr_q(&mut self, rd: Reg, rs1: Reg) -> &mut Self {
        self.word(r_type(0x2f, 4, 0x02 << 2, rd, rs1, 0))
    }
    amo_ops! {
        sc_w = 0x03, 2; sc_d = 0x03, 3; sc_q = 0x03, 4;
        amoswap_w = 0x01, 2; amoadd_w = 0x00, 2; amoxor_w = 0x04, 2; amoand_w = 0x0c, 2; amoor_w = 0x08, 2;
        amomin_w = 0x10, 2; amomax_w = 0x14, 2; amominu_w = 0x18, 2; amomaxu_w = 0x1c, 2;
        amoswap_d = 0x01, 3; amoadd_d = 0x00, 3; amoxor_d = 0x04, 3; amoand_d = 0x0c, 3; amoor_d = 0x08, 3;
        amomin_d = 0x10, 3; amomax_d = 0x14, 3; amominu_d = 0x18, 3; amomaxu_d = 0x1c, 3;
        amoswap_q = 0x01, 4; amoadd_q = 0x00, 4; amoxor_q = 0x04, 4; amoand_q = 0x0c, 4; amoor_q = 0x08, 4;
        amomin_q = 0x10, 4; amomax_q = 0x14, 4; amominu_q = 0x18, 4; amomaxu_q = 0x1c, 4;
    }

    // ---- F / D / Q (dynamic rounding unless named) ----------------------------------------

    fp_r_ops! {
        fadd_s = 0x00, DYN; fsub_s = 0x04, DYN; fmul_s = 0x08, DYN; fdiv_s = 0x0c, DYN;
        fadd_d = 0x01, DYN; fsub_d = 0x05, DYN; fmul_d = 0x09, DYN; fdiv_d = 0x0d, DYN;
        fadd_q = 0x03, DYN; fsub_q = 0x07, DYN; fmul_q = 0x0b, DYN; fdiv_q = 0x0f, DYN;
        fsgnj_q = 0x13, 0; fsgnjn_q = 0x13, 1; fsgnjx_q = 0x13, 2;
        fmin_q = 0x17, 0; fmax_q = 0x17, 1;
        fle_q = 0x53, 0; flt_q = 0x53, 1; feq_q = 0x53, 2;
        feq_d = 0x51, 2;
    }
    fp_u_ops! {
        fsqrt_q = 0x2f, 0, DYN;
        fcvt_s_q = 0x20, 3, DYN; fcvt_q_s = 0x23, 0, DYN;
        fcvt_d_q = 0x21, 3, DYN; fcvt_q_d = 0x23, 1, DYN;
        fcvt_w_q = 0x63, 0, DYN; fcvt_wu_q = 0x63, 1, DYN; fcvt_l_q = 0x63, 2, DYN; fcvt_lu_q = 0x63, 3, DYN;
        fcvt_t_q = 0x63, 4, DYN; fcvt_tu_q = 0x63, 5, DYN;
        fcvt_q_w = 0x6b, 0, DYN; fcvt_q_wu = 0x6b, 1, DYN; fcvt_q_l = 0x6b, 2, DYN; fcvt_q_lu = 0x6b, 3, DYN;
        fcvt_q_t = 0x6b, 4, DYN; fcvt_q_tu = 0x6b, 5, DYN;
        fmv_x_q = 0x73, 0, 0; fclass_q = 0x73, 0, 1; fmv_q_x = 0x7b, 0, 0;
        fmv_x_d = 0x71, 0, 0; fmv_d_x = 0x79, 0, 0;
        fcvt_d_l = 0x69, 2, DYN; fcvt_l_d = 0x61, 2, 1;
    }
    fp_u_ops! {
        fmv_x_w = 0x70, 0, 0; fmv_w_x = 0x78, 0, 0; fclass_d = 0x71, 0, 1;
        fcvt_s_d = 0x20, 1, DYN; fcvt_d_s = 0x21, 0, DYN;
        fcvt_t_s = 0x60, 4, DYN; fcvt_tu_s = 0x60, 5, DYN; fcvt_s_t = 0x68, 4, DYN; fcvt_s_tu = 0x68, 5, DYN;
        fcvt_t_d = 0x61, 4, DYN; fcvt_tu_d = 0x61, 5, DYN; fcvt_d_t = 0x69, 4, DYN; fcvt_d_tu = 0x69, 5, DYN;
    }
    fp_r_ops! {
        fsgnj_d = 0x11, 0; fsgnjn_d = 0x11, 1;
    }
    /// `fmadd.q rd, rs1, rs2, rs3` (and fmsub/fnmsub/fnmadd through `op` 0x43/0x47/0x4b/0x4f).
    pub fn fma_q(&mut self, op: u32, rd: Reg, rs1: Reg, rs2: Reg, rs3: Reg) -> &mut Self {
        self.word(((rs3 as u32) << 27) | r_type(op, DYN, 3, rd, rs1, rs2))
    }
    /// Sets the rounding-mode field (funct3, 0-7) of the 32-bit instruction just
    /// emitted: `a.fadd_q(F1, F2, F3).rm(1)` is `fadd.q f1, f2, f3, rtz`.
    pub fn rm(&mut self, rm: u32) -> &mut Self {
        let at = self.code.len() - 4;
        let mut w = u32::from_le_bytes(self.code[at..].try_into().expect("a 32-bit word"));
        w = (w & !(7 << 12)) | ((rm & 7) << 12);
        self.code[at..].copy_from_slice(&w.to_le_bytes());
        self
    }

    // ---- C (the encodings RV128 changes, and a few more) ------------------------------------

    /// `c.lq rd', uimm(rs1')` (x8-x15; uimm a multiple of 16 below 512).
    pub fn c_lq(&mut self, rd: Reg, rs1: Reg, uimm: u32) -> &mut Self {
        self.half(c_lsq(1, rd, rs1, uimm))
    }
    /// `c.sq rs2', uimm(rs1')`.
    pub fn c_sq(&mut self, rs2: Reg, rs1: Reg, uimm: u32) -> &mut Self {
        self.half(c_lsq(5, rs2, rs1, uimm))
    }
    /// `c.lqsp rd, uimm(sp)` (uimm a multiple of 16 below 1024).
    pub fn c_lqsp(&mut self, rd: Reg, uimm: u32) -> &mut Self {
        let u = uimm;
        let h = (1 << 13)
            | (((u >> 5) & 1) << 12)
            | ((rd as u32) << 7)
            | (((u >> 4) & 1) << 6)
            | (((u >> 6) & 15) << 2)
            | 2;
        self.half(h as u16)
    }
    /// `c.sqsp rs2, uimm(sp)`.
    pub fn c_sqsp(&mut self, rs2: Reg, uimm: u32) -> &mut Self {
        let u = uimm;
        let h =
            (5 << 13) | (((u >> 4) & 3) << 11) | (((u >> 6) & 15) << 7) | ((rs2 as u32) << 2) | 2;
        self.half(h as u16)
    }
    /// `c.slli rd, shamt6` (the raw 6-bit field: 0 means 64 on RV128).
    pub fn c_slli(&mut self, rd: Reg, shamt6: u32) -> &mut Self {
        let h = (((shamt6 >> 5) & 1) << 12) | ((rd as u32) << 7) | ((shamt6 & 31) << 2) | 2;
        self.half(h as u16)
    }
    /// `c.srli rd', shamt6` (raw 6-bit field; RV128 sign-extends it, 0 means 64).
    pub fn c_srli(&mut self, rd: Reg, shamt6: u32) -> &mut Self {
        self.half(c_shift_right(0, rd, shamt6))
    }
    /// `c.srai rd', shamt6`.
    pub fn c_srai(&mut self, rd: Reg, shamt6: u32) -> &mut Self {
        self.half(c_shift_right(1, rd, shamt6))
    }
    /// `c.addi rd, imm6`.
    pub fn c_addi(&mut self, rd: Reg, imm: i32) -> &mut Self {
        let i = imm as u32;
        let h = (((i >> 5) & 1) << 12) | ((rd as u32) << 7) | ((i & 31) << 2) | 1;
        self.half(h as u16)
    }
    /// `c.ld rd', uimm(rs1')` (uimm a multiple of 8 below 256).
    pub fn c_ld(&mut self, rd: Reg, rs1: Reg, uimm: u32) -> &mut Self {
        let h = (3 << 13)
            | (((uimm >> 3) & 7) << 10)
            | (((rs1 - 8) as u32) << 7)
            | (((uimm >> 6) & 3) << 5)
            | (((rd - 8) as u32) << 2);
        self.half(h as u16)
    }
}

fn c_lsq(f3: u32, r: Reg, rs1: Reg, u: u32) -> u16 {
    ((f3 << 13)
        | (((u >> 5) & 1) << 12)
        | (((u >> 4) & 1) << 11)
        | (((u >> 8) & 1) << 10)
        | (((rs1 - 8) as u32 & 7) << 7)
        | (((u >> 6) & 3) << 5)
        | (((r - 8) as u32 & 7) << 2)) as u16
}

fn c_shift_right(kind: u32, rd: Reg, shamt6: u32) -> u16 {
    ((4 << 13)
        | (((shamt6 >> 5) & 1) << 12)
        | (kind << 10)
        | (((rd - 8) as u32 & 7) << 7)
        | ((shamt6 & 31) << 2)
        | 1) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, Op, K};

    fn one(f: impl FnOnce(&mut Asm)) -> u32 {
        let mut a = Asm::new();
        f(&mut a);
        let c = a.finish().unwrap();
        if c[0] & 3 == 3 {
            u32::from_le_bytes([c[0], c[1], c[2], c[3]])
        } else {
            u16::from_le_bytes([c[0], c[1]]) as u32
        }
    }

    #[test]
    fn encodings_match_the_gnu_assembler() {
        // Words from riscv64-unknown-elf-as for the RV64 instructions.
        assert_eq!(
            one(|a| {
                a.addi(A0, A1, -1);
            }),
            0xfff5_8513
        );
        assert_eq!(
            one(|a| {
                a.sd(S0, SP, 16);
            }),
            0x0081_3823
        );
        assert_eq!(
            one(|a| {
                a.srai(A0, A0, 3);
            }),
            0x4035_5513
        );
        assert_eq!(
            one(|a| {
                a.mulhu(A0, A1, A2);
            }),
            0x02c5_b533
        );
        assert_eq!(
            one(|a| {
                a.amoswap_d(A0, A1, A2);
            }),
            0x08b6_352f
        );
        assert_eq!(
            one(|a| {
                a.csrr(A0, 0x301);
            }),
            0x3010_2573
        );
        assert_eq!(
            one(|a| {
                a.c_ld(A0, A1, 8);
            }),
            0x6588
        );
        assert_eq!(
            one(|a| {
                a.c_addi(A0, -1);
            }),
            0x157d
        );
    }

    #[test]
    fn q_encodings_match_the_gnu_assembler() {
        // Words from riscv64-linux-gnu-as -march=rv64gcq (binutils 2.40).
        const FT1: Reg = 1;
        const FT2: Reg = 2;
        const FT3: Reg = 3;
        const FT4: Reg = 4;
        const FA0: Reg = 10;
        type Case = (fn(&mut Asm), u32);
        let cases: [Case; 16] = [
            (
                |a| {
                    a.flq(FA0, A1, 16);
                },
                0x0105_c507,
            ),
            (
                |a| {
                    a.fsq(FA0, A1, -32);
                },
                0xfea5_c027,
            ),
            (
                |a| {
                    a.fadd_q(FT1, FT2, FT3).rm(1);
                },
                0x0631_10d3,
            ),
            (
                |a| {
                    a.fsqrt_q(FT1, FT2);
                },
                0x5e01_70d3,
            ),
            (
                |a| {
                    a.fma_q(0x43, FT1, FT2, FT3, FT4).rm(0);
                },
                0x2631_00c3,
            ),
            (
                |a| {
                    a.fma_q(0x4f, FT1, FT2, FT3, FT4);
                },
                0x2631_70cf,
            ),
            (
                |a| {
                    a.fsgnjx_q(FT1, FT2, FT3);
                },
                0x2631_20d3,
            ),
            (
                |a| {
                    a.fmax_q(FT1, FT2, FT3);
                },
                0x2e31_10d3,
            ),
            (
                |a| {
                    a.fle_q(A0, FT2, FT3);
                },
                0xa631_0553,
            ),
            (
                |a| {
                    a.fclass_q(A0, FT2);
                },
                0xe601_1553,
            ),
            (
                |a| {
                    a.fcvt_s_q(FT1, FT2);
                },
                0x4031_70d3,
            ),
            (
                |a| {
                    a.fcvt_q_d(FT1, FT2).rm(0);
                },
                0x4611_00d3,
            ),
            (
                |a| {
                    a.fcvt_lu_q(A0, FT2);
                },
                0xc631_7553,
            ),
            (
                |a| {
                    a.fcvt_q_w(FT1, A1).rm(0);
                },
                0xd605_80d3,
            ),
            (
                |a| {
                    a.fcvt_d_q(FT1, FT2);
                },
                0x4231_70d3,
            ),
            (
                |a| {
                    a.fcvt_w_q(A0, FT2);
                },
                0xc601_7553,
            ),
        ];
        for (emit, want) in cases {
            let got = one(emit);
            assert_eq!(got, want, "{got:#010x} != {want:#010x}");
        }
    }

    #[test]
    fn rv128_words_decode_back() {
        let d = |w: u32| decode(w, 128);
        assert_eq!(
            d(one(|a| {
                a.srai(A0, A1, 100);
            })),
            Op {
                k: K::Srai,
                rd: A0,
                rs1: A1,
                rs2: 0,
                imm: 100,
                len: 4
            }
        );
        for w in [
            one(|a| {
                a.lq(A0, A1, -16);
            }),
            one(|a| {
                a.sq(A0, A1, 32);
            }),
            one(|a| {
                a.ldu(A0, A1, 8);
            }),
            one(|a| {
                a.addid(A0, A1, 5);
            }),
            one(|a| {
                a.sraid(A0, A1, 63);
            }),
            one(|a| {
                a.remud(A0, A1, A2);
            }),
            one(|a| {
                a.amomaxu_q(A0, A1, A2);
            }),
            one(|a| {
                a.c_lq(A0, A1, 16 * 17);
            }),
            one(|a| {
                a.c_sqsp(A0, 16 * 60);
            }),
        ] {
            assert_eq!(d(w).k, K::Rv128, "{w:#x}");
        }
        // The compressed quadword forms expand to the same LQ/SQ.
        assert_eq!(
            d(one(|a| {
                a.c_lq(A0, A1, 272);
            }))
            .imm,
            one(|a| {
                a.lq(A0, A1, 272);
            }) as i32
        );
        assert_eq!(
            d(one(|a| {
                a.c_lqsp(A5, 16 * 37);
            }))
            .imm,
            one(|a| {
                a.lq(A5, SP, 16 * 37);
            }) as i32
        );
        assert_eq!(
            d(one(|a| {
                a.c_sqsp(A5, 16 * 37);
            }))
            .imm,
            one(|a| {
                a.sq(A5, SP, 16 * 37);
            }) as i32
        );
        assert_eq!(
            d(one(|a| {
                a.c_sq(S1, A1, 496);
            }))
            .imm,
            one(|a| {
                a.sq(S1, A1, 496);
            }) as i32
        );
    }

    #[test]
    fn labels() {
        let mut a = Asm::new();
        a.label("top")
            .nop()
            .beq(A0, A1, "top")
            .j("end")
            .nop()
            .label("end");
        let c = a.finish().unwrap();
        assert_eq!(u32::from_le_bytes([c[4], c[5], c[6], c[7]]), 0xfeb5_0ee3); // beq a0,a1,-4
        assert_eq!(u32::from_le_bytes([c[8], c[9], c[10], c[11]]), 0x0080_006f); // j +8
        let mut a = Asm::new();
        a.j("nowhere");
        assert_eq!(a.finish(), Err(AsmError::UndefinedLabel("nowhere".into())));
    }
}
