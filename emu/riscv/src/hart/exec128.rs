//! Execution of the RV128-only instructions ([`K::Rv128`] ops, decoded by
//! [`crate::rv128::decode`]): LQ, SQ, LDU, the *D forms, LR.Q/SC.Q/AMO*.Q,
//! FLQ/FSQ.
//! The generic hart runs everything else at 128 bits.

use super::{Hart, SysOp};
use crate::bus::Bus;
use crate::csr::*;
use crate::decode::K;
use crate::formats::Insn;
use crate::hart::{Exc, END_BLOCK};
use crate::mmu::Access;
use crate::xlen::{Reg, Xlen};

/// Sign-extends a 64-bit result (the *D forms) to the register.
#[inline]
fn sext64<X: Xlen>(v: u64) -> X::Reg {
    X::Reg::from_i64(v as i64)
}

impl<X: Xlen, B: Bus> Hart<X, B> {
    /// Executes a [`K::Rv128`] op: `op.imm` is the 32-bit instruction word.
    pub(super) fn execute_rv128(&mut self, op: SysOp, illegal: Exc) -> Result<Option<X::Reg>, Exc> {
        let w = Insn(op.imm as u32);
        let a = self.x[op.rs1 as usize & 31].to_u128();
        let b = self.x[op.rs2 as usize & 31].to_u128();
        let rd = op.rd;
        if X::XLEN != 128 {
            return Err(illegal);
        }
        let (al, bl) = (a as u64, b as u64);
        match (w.opcode(), w.funct3()) {
            (0x03, 7) => {
                // LDU
                let va = a.wrapping_add(w.imm_i() as i128 as u128) as u64;
                let v = self.load::<8>(va)?;
                self.wr(rd, X::Reg::from_u64(v));
            }
            (0x0f, 2) => {
                // LQ
                let va = a.wrapping_add(w.imm_i() as i128 as u128) as u64;
                let v = self.load_quad(va)?;
                self.wr(rd, X::Reg::from_u128(v));
            }
            (0x23, 4) => {
                // SQ
                let va = a.wrapping_add(w.imm_s() as i128 as u128) as u64;
                self.store_quad(va, b)?;
            }
            (0x5b, f3) => {
                let sh = (w.0 >> 20) & 63;
                let v = match f3 {
                    0 => al.wrapping_add(w.imm_i() as i64 as u64),
                    1 => al << sh,
                    _ if w.0 >> 30 == 0 => al >> sh,
                    _ => ((al as i64) >> sh) as u64,
                };
                self.wr(rd, sext64::<X>(v));
            }
            (0x7b, f3) => {
                let sh = (bl & 63) as u32;
                let v = match (w.funct7(), f3) {
                    (0, 0) => al.wrapping_add(bl),
                    (0x20, 0) => al.wrapping_sub(bl),
                    (0, 1) => al << sh,
                    (0, 5) => al >> sh,
                    (0x20, 5) => ((al as i64) >> sh) as u64,
                    (1, 0) => al.wrapping_mul(bl),
                    (1, 4) => al.div(bl),
                    (1, 5) => al.divu(bl),
                    (1, 6) => al.rem(bl),
                    _ => al.remu(bl),
                };
                self.wr(rd, sext64::<X>(v));
            }
            (0x2f, 4) => return self.amo_q(w, a as u64, b, rd),
            (0x07, 4) => {
                // FLQ
                if self.c.mstatus & MS_FS == 0 {
                    return Err(illegal);
                }
                let va = a.wrapping_add(w.imm_i() as i128 as u128) as u64;
                let v = self.load_quad(va)?;
                self.fp.write_q(rd as usize & 31, v);
                self.c.mstatus |= MS_FS;
            }
            (0x27, 4) => {
                // FSQ: like SQ, from f[rs2].
                if self.c.mstatus & MS_FS == 0 {
                    return Err(illegal);
                }
                let va = a.wrapping_add(w.imm_s() as i128 as u128) as u64;
                let v = self.fp.read_q(op.rs2 as usize & 31);
                return self.store_quad(va, v).map(|()| None);
            }
            _ => return Err(illegal),
        }
        Ok(None)
    }

    /// Loads a quadword (LQ, FLQ), low half first.
    fn load_quad(&mut self, va: u64) -> Result<u128, Exc> {
        let lo = self.load::<8>(va)?;
        let hi = self.load::<8>(va.wrapping_add(8))?;
        Ok(((hi as u128) << 64) | lo as u128)
    }

    /// Stores a quadword (SQ, FSQ): both halves are written before a store
    /// into the running block's page ends the block.
    fn store_quad(&mut self, va: u64, v: u128) -> Result<(), Exc> {
        let mut end = false;
        for (off, half) in [(0u64, v as u64), (8, (v >> 64) as u64)] {
            match self.store::<8>(va.wrapping_add(off), half) {
                Ok(()) => {}
                Err(e) if e.cause == END_BLOCK => end = true,
                Err(e) => return Err(e),
            }
        }
        if end {
            return Err(Exc::new(END_BLOCK, 0));
        }
        Ok(())
    }

    /// Bits 127:64 of mscratch/sscratch at XLEN 128 for a CSR instruction of
    /// kind `k` with source bits 127:64 `src_hi`: gives the old ones and applies the write.
    pub(super) fn scratch_hi128(&mut self, csr: u32, k: K, src_hi: u64, writes: bool) -> u64 {
        let slot = match csr {
            MSCRATCH => 0,
            SSCRATCH => 1,
            _ => return 0,
        };
        let old = self.c.scratch_hi[slot];
        if writes {
            self.c.scratch_hi[slot] = match k {
                K::Csrrw | K::Csrrwi => src_hi,
                K::Csrrs | K::Csrrsi => old | src_hi,
                _ => old & !src_hi,
            };
        }
        old
    }

    /// LR.Q, SC.Q and AMO*.Q on a 16-byte aligned quadword.
    fn amo_q(&mut self, w: Insn, va: u64, src: u128, rd: u8) -> Result<Option<X::Reg>, Exc> {
        let f5 = w.funct5();
        let (mis, acc) = if f5 == 0x02 {
            (EXC_LOAD_MISALIGNED, Access::Load)
        } else {
            (EXC_STORE_MISALIGNED, Access::Store)
        };
        if va & 15 != 0 {
            return Err(Exc::new(mis, va));
        }
        let pa = self.amo_addr(va, 16, acc)?;
        let fault = Exc::new(acc.access_fault(), va);
        if f5 == 0x03 {
            // SC.Q
            let ok = self.reservation == Some(pa);
            self.reservation = None;
            if ok
                && !(self.phys_write(pa, 8, src as u64)
                    && self.phys_write(pa + 8, 8, (src >> 64) as u64))
            {
                return Err(fault);
            }
            self.wr(rd, X::Reg::from_u64(!ok as u64));
            return Ok(None);
        }
        let lo = self.phys_read(pa, 8).ok_or(fault)?;
        let hi = self.phys_read(pa + 8, 8).ok_or(fault)?;
        let old = ((hi as u128) << 64) | lo as u128;
        if f5 == 0x02 {
            self.reservation = Some(pa);
        } else {
            let new = match f5 {
                0x00 => old.wrapping_add(src),
                0x01 => src,
                0x04 => old ^ src,
                0x08 => old | src,
                0x0c => old & src,
                0x10 => (old as i128).min(src as i128) as u128,
                0x14 => (old as i128).max(src as i128) as u128,
                0x18 => old.min(src),
                _ => old.max(src),
            };
            if !(self.phys_write(pa, 8, new as u64)
                && self.phys_write(pa + 8, 8, (new >> 64) as u64))
            {
                return Err(fault);
            }
        }
        self.wr(rd, X::Reg::from_u128(old));
        Ok(None)
    }
}
