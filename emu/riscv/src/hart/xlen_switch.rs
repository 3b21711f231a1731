//! Changing XLEN at run time: misa.MXL (M-mode) and mstatus.SXL/UXL (S and
//! U). The hart is monomorphised over its XLEN, so a change ends the block,
//! makes [`Hart::run`] return, and the owner ([`crate::AnyHart`]) converts
//! the hart with [`Hart::convert`] before it runs on. The rules (docs/rv128.md):
//!
//! - misa.MXL is writable with 1, 2 or 3 (other values leave it unchanged);
//!   a change of MXL sets SXL and UXL to the new MXL.
//! - mstatus.SXL and UXL are writable from M-mode (while MXL ≥ 2) with any
//!   value from 1 to MXL; other values leave the field unchanged.
//! - The hart runs at the XLEN of its privilege: MXL in M, SXL in S, UXL in U.

use super::{Hart, Stop};
use crate::bus::Bus;
use crate::csr::{MS_SXL_SHIFT, MS_UXL_SHIFT};
use crate::hart::{PRV_M, PRV_S};
use crate::xlen::Xlen;

/// XLEN in bits of an MXL/SXL/UXL encoding (1, 2, 3).
pub(crate) fn xlen_of(code: u64) -> u32 {
    16 << code
}

impl<X: Xlen, B: Bus> Hart<X, B> {
    /// The XLEN the current privilege level runs at.
    pub(super) fn wanted_xlen(&self) -> u32 {
        let mxl = self.c.mxl;
        let code = if self.prv == PRV_M || mxl == 1 {
            mxl
        } else if self.prv == PRV_S {
            (self.c.mstatus >> MS_SXL_SHIFT) & 3
        } else {
            (self.c.mstatus >> MS_UXL_SHIFT) & 3
        };
        xlen_of(code.clamp(1, 3))
    }

    /// Asks for a switch (ending the run) when the privilege level's XLEN is not this hart's.
    pub(super) fn check_xlen(&mut self) {
        self.check_xlen_at(false);
    }

    /// Like [`Self::check_xlen`]; `at_switch_pc`: the hart continues at
    /// `switch_pc` (a trap vector or xEPC) in the new XLEN.
    pub(super) fn check_xlen_at(&mut self, at_switch_pc: bool) {
        let want = self.wanted_xlen();
        if want != X::XLEN {
            self.pending_xlen = want;
            self.switch_pc_valid = at_switch_pc;
            if self.pending_stop.is_none() {
                self.request_stop(Stop::Budget);
            } else {
                self.stop_at = 0;
            }
        } else {
            self.pending_xlen = 0;
        }
    }

    /// Applies a write of misa.MXL.
    pub(super) fn write_mxl(&mut self, mxl: u64) {
        if !(1..=3).contains(&mxl) || mxl == self.c.mxl {
            return;
        }
        self.c.mxl = mxl;
        let m = (3 << MS_SXL_SHIFT) | (3 << MS_UXL_SHIFT);
        self.c.mstatus = (self.c.mstatus & !m) | (mxl << MS_SXL_SHIFT) | (mxl << MS_UXL_SHIFT);
        self.check_xlen();
    }

    /// mstatus `n` (after the ordinary write mask) with SXL and UXL taken from
    /// the written value `v` where legal, kept from `old` otherwise.
    pub(super) fn warl_sxl_uxl(&self, n: u64, old: u64, v: u64) -> u64 {
        let mut n = n;
        if self.prv != PRV_M || self.c.mxl < 2 {
            return n;
        }
        for shift in [MS_SXL_SHIFT, MS_UXL_SHIFT] {
            let f = (v >> shift) & 3;
            let keep = (old >> shift) & 3;
            let new = if (1..=self.c.mxl).contains(&f) {
                f
            } else {
                keep
            };
            n = (n & !(3 << shift)) | (new << shift);
        }
        n
    }

    /// The XLEN this hart must be converted to before it runs on, if any
    /// (clears the request). Only set while [`Hart::xlen_switch`] is on.
    pub fn take_xlen_switch(&mut self) -> Option<u32> {
        match std::mem::take(&mut self.pending_xlen) {
            0 => None,
            x if x == X::XLEN => None,
            x => Some(x),
        }
    }
}

impl<X: Xlen, B: Bus> Hart<X, B> {
    /// Integer register `i` (0..32), zero-extended to 128 bits.
    pub fn reg128(&self, i: usize) -> u128 {
        crate::xlen::Reg::to_u128(self.x[i & 31])
    }
    /// Sets integer register `i` (truncated to XLEN; writes to x0 are ignored).
    pub fn set_reg128(&mut self, i: usize, v: u128) {
        if i & 31 != 0 {
            self.x[i & 31] = crate::xlen::Reg::from_u128(v);
        }
    }
}
