//! Bit-slicing of instruction words: every field of every RISC-V encoding
//! format is extracted here and nowhere else.

/// Fields of a 32-bit instruction word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn(pub u32);

impl Insn {
    /// Major opcode, bits 6:0.
    #[inline]
    pub fn opcode(self) -> u32 {
        self.0 & 0x7f
    }
    /// rd, bits 11:7.
    #[inline]
    pub fn rd(self) -> u8 {
        ((self.0 >> 7) & 31) as u8
    }
    /// funct3, bits 14:12.
    #[inline]
    pub fn funct3(self) -> u32 {
        (self.0 >> 12) & 7
    }
    /// rs1, bits 19:15.
    #[inline]
    pub fn rs1(self) -> u8 {
        ((self.0 >> 15) & 31) as u8
    }
    /// rs2, bits 24:20.
    #[inline]
    pub fn rs2(self) -> u8 {
        ((self.0 >> 20) & 31) as u8
    }
    /// funct7, bits 31:25.
    #[inline]
    pub fn funct7(self) -> u32 {
        self.0 >> 25
    }
    /// funct5 of the A extension, bits 31:27.
    #[inline]
    pub fn funct5(self) -> u32 {
        self.0 >> 27
    }
    /// The CSR number of Zicsr instructions, bits 31:20.
    #[inline]
    pub fn csr(self) -> u32 {
        self.0 >> 20
    }
    /// I-type immediate, sign-extended.
    #[inline]
    pub fn imm_i(self) -> i32 {
        (self.0 as i32) >> 20
    }
    /// S-type immediate, sign-extended.
    #[inline]
    pub fn imm_s(self) -> i32 {
        (((self.0 & 0xfe00_0000) as i32) >> 20) | ((self.0 >> 7) & 0x1f) as i32
    }
    /// B-type immediate, sign-extended.
    #[inline]
    pub fn imm_b(self) -> i32 {
        (((self.0 & 0x8000_0000) as i32) >> 19)
            | (((self.0 >> 7) & 1) << 11) as i32
            | (((self.0 >> 25) & 0x3f) << 5) as i32
            | (((self.0 >> 8) & 0xf) << 1) as i32
    }
    /// U-type immediate (bits 31:12 in place), sign-extended.
    #[inline]
    pub fn imm_u(self) -> i32 {
        (self.0 & 0xffff_f000) as i32
    }
    /// J-type immediate, sign-extended.
    #[inline]
    pub fn imm_j(self) -> i32 {
        (((self.0 & 0x8000_0000) as i32) >> 11)
            | (self.0 & 0xf_f000) as i32
            | (((self.0 >> 20) & 1) << 11) as i32
            | (((self.0 >> 21) & 0x3ff) << 1) as i32
    }
}

/// Fields of a 16-bit compressed instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CInsn(pub u16);

impl CInsn {
    #[inline]
    fn bits(self, hi: u32, lo: u32) -> u32 {
        ((self.0 as u32) >> lo) & ((1 << (hi - lo + 1)) - 1)
    }
    #[inline]
    fn bit(self, b: u32) -> u32 {
        ((self.0 as u32) >> b) & 1
    }
    /// Quadrant, bits 1:0.
    #[inline]
    pub fn op(self) -> u32 {
        self.bits(1, 0)
    }
    /// funct3, bits 15:13.
    #[inline]
    pub fn funct3(self) -> u32 {
        self.bits(15, 13)
    }
    /// Full rd/rs1 field, bits 11:7.
    #[inline]
    pub fn rd(self) -> u8 {
        self.bits(11, 7) as u8
    }
    /// Full rs2 field, bits 6:2.
    #[inline]
    pub fn rs2(self) -> u8 {
        self.bits(6, 2) as u8
    }
    /// rd'/rs2' (bits 4:2) as a full register number (x8..x15).
    #[inline]
    pub fn rdp(self) -> u8 {
        (self.bits(4, 2) + 8) as u8
    }
    /// rs1'/rd' (bits 9:7) as a full register number (x8..x15).
    #[inline]
    pub fn rs1p(self) -> u8 {
        (self.bits(9, 7) + 8) as u8
    }
    /// CI-format 6-bit signed immediate (bit 12, bits 6:2).
    #[inline]
    pub fn imm_ci(self) -> i32 {
        let v = (self.bit(12) << 5) | self.bits(6, 2);
        ((v << 26) as i32) >> 26
    }
    /// C.ADDI4SPN unsigned immediate (scaled by 4).
    #[inline]
    pub fn imm_addi4spn(self) -> i32 {
        ((self.bits(10, 7) << 6)
            | (self.bits(12, 11) << 4)
            | (self.bit(5) << 3)
            | (self.bit(6) << 2)) as i32
    }
    /// C.LW/C.SW offset (scaled by 4).
    #[inline]
    pub fn imm_lw(self) -> i32 {
        ((self.bit(5) << 6) | (self.bits(12, 10) << 3) | (self.bit(6) << 2)) as i32
    }
    /// C.LD/C.SD/C.FLD/C.FSD offset (scaled by 8).
    #[inline]
    pub fn imm_ld(self) -> i32 {
        ((self.bits(6, 5) << 6) | (self.bits(12, 10) << 3)) as i32
    }
    /// C.J/C.JAL offset, sign-extended.
    #[inline]
    pub fn imm_j(self) -> i32 {
        let v = (self.bit(12) << 11)
            | (self.bit(8) << 10)
            | (self.bits(10, 9) << 8)
            | (self.bit(6) << 7)
            | (self.bit(7) << 6)
            | (self.bit(2) << 5)
            | (self.bit(11) << 4)
            | (self.bits(5, 3) << 1);
        ((v << 20) as i32) >> 20
    }
    /// C.BEQZ/C.BNEZ offset, sign-extended.
    #[inline]
    pub fn imm_b(self) -> i32 {
        let v = (self.bit(12) << 8)
            | (self.bits(6, 5) << 6)
            | (self.bit(2) << 5)
            | (self.bits(11, 10) << 3)
            | (self.bits(4, 3) << 1);
        ((v << 23) as i32) >> 23
    }
    /// C.ADDI16SP immediate, sign-extended.
    #[inline]
    pub fn imm_addi16sp(self) -> i32 {
        let v = (self.bit(12) << 9)
            | (self.bits(4, 3) << 7)
            | (self.bit(5) << 6)
            | (self.bit(2) << 5)
            | (self.bit(6) << 4);
        ((v << 22) as i32) >> 22
    }
    /// C.LWSP/C.FLWSP offset.
    #[inline]
    pub fn imm_lwsp(self) -> i32 {
        ((self.bits(3, 2) << 6) | (self.bit(12) << 5) | (self.bits(6, 4) << 2)) as i32
    }
    /// C.LDSP/C.FLDSP offset.
    #[inline]
    pub fn imm_ldsp(self) -> i32 {
        ((self.bits(4, 2) << 6) | (self.bit(12) << 5) | (self.bits(6, 5) << 3)) as i32
    }
    /// C.SWSP/C.FSWSP offset.
    #[inline]
    pub fn imm_swsp(self) -> i32 {
        ((self.bits(8, 7) << 6) | (self.bits(12, 9) << 2)) as i32
    }
    /// C.SDSP/C.FSDSP offset.
    #[inline]
    pub fn imm_sdsp(self) -> i32 {
        ((self.bits(9, 7) << 6) | (self.bits(12, 10) << 3)) as i32
    }
    /// Bit 12 (distinguishes several quadrant 1 and 2 forms).
    #[inline]
    pub fn b12(self) -> u32 {
        self.bit(12)
    }
    /// Bits 11:10 (C.SRLI/C.SRAI/C.ANDI/register-register selector).
    #[inline]
    pub fn b11_10(self) -> u32 {
        self.bits(11, 10)
    }
    /// Bits 6:5 (C.SUB/C.XOR/C.OR/C.AND selector).
    #[inline]
    pub fn b6_5(self) -> u32 {
        self.bits(6, 5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediates() {
        // addi x1, x2, -1 = 0xfff10093
        assert_eq!(Insn(0xfff1_0093).imm_i(), -1);
        // sd x2, -8(x1) = 0xfe20bc23
        assert_eq!(Insn(0xfe20_bc23).imm_s(), -8);
        // beq x0, x0, -4 = 0xfe000ee3
        assert_eq!(Insn(0xfe00_0ee3).imm_b(), -4);
        // jal x0, -8 = 0xff9ff06f
        assert_eq!(Insn(0xff9f_f06f).imm_j(), -8);
        // jal x1, 2048 = 0x001000ef? (imm[11] set) -> 0x001000ef encodes 2048
        assert_eq!(Insn(0x0010_00ef).imm_j(), 2048);
        // c.j -2 = 0xbffd
        assert_eq!(CInsn(0xbffd).imm_j(), -2);
        // c.addi16sp sp, -64 = 0x7139
        assert_eq!(CInsn(0x7139).imm_addi16sp(), -64);
    }
}
