//! Address translation (Sv32, Sv39, Sv48), physical memory protection and
//! the software TLBs.
//!
//! The TLBs are direct-mapped, 256 entries, one set per privilege level and
//! access kind (fetch, load, store). An entry maps a virtual page to the
//! host-RAM offset of its physical page (`offset = vaddr + addend`) and is
//! filled only when the whole 4 KiB physical page is RAM, holds no MMIO
//! overlay, and PMP grants the access for the whole page; everything else
//! takes the slow path, which checks every access. A store entry is filled
//! only after the walk has set the PTE's D bit, so a hit never needs a walk.

use crate::bus::Bus;
use crate::csr::*;
use crate::hart::{Exc, Hart, PRV_M, PRV_S, PRV_U};
use crate::xlen::{Reg, Xlen};

/// TLB entries per set.
pub const TLB_SIZE: usize = 256;

/// The kind of a memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Access {
    /// Instruction fetch.
    Fetch = 0,
    /// Load (and LR).
    Load = 1,
    /// Store, SC and AMO.
    Store = 2,
}

impl Access {
    fn page_fault(self) -> u64 {
        match self {
            Access::Fetch => EXC_INSN_PAGE,
            Access::Load => EXC_LOAD_PAGE,
            Access::Store => EXC_STORE_PAGE,
        }
    }
    pub(crate) fn access_fault(self) -> u64 {
        match self {
            Access::Fetch => EXC_INSN_ACCESS,
            Access::Load => EXC_LOAD_ACCESS,
            Access::Store => EXC_STORE_ACCESS,
        }
    }
}

/// One TLB entry: `tag` is the virtual page number (`u64::MAX` = empty).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct TlbEntry {
    pub(crate) tag: u64,
    pub(crate) addend: u64,
}

const EMPTY: TlbEntry = TlbEntry {
    tag: u64::MAX,
    addend: 0,
};

/// The TLB sets, indexed `[set][access]`: the set is the privilege of the
/// access ([`PRV_U`], [`PRV_S`], [`PRV_M`]), except that S-mode loads and
/// stores with mstatus.SUM set use set [`TLB_S_SUM`], so Linux's SUM toggles
/// around every user copy switch sets instead of flushing.
pub struct Tlbs {
    pub(crate) sets: [[[TlbEntry; TLB_SIZE]; 3]; 4],
    /// The range of virtual page numbers (inclusive) covered by the
    /// superpages some cached entry came from (`sp_lo > sp_hi`: none). An
    /// address-specific SFENCE.VMA inside it flushes everything, since one
    /// superpage PTE stands behind many cached 4 KiB entries.
    pub(crate) sp_lo: u64,
    pub(crate) sp_hi: u64,
}

/// The TLB set of S-mode loads and stores while mstatus.SUM is set.
pub(crate) const TLB_S_SUM: usize = 2;

impl Tlbs {
    pub(crate) fn new() -> Box<Tlbs> {
        Box::new(Tlbs {
            sets: [[[EMPTY; TLB_SIZE]; 3]; 4],
            sp_lo: u64::MAX,
            sp_hi: 0,
        })
    }
    pub(crate) fn flush(&mut self) {
        for p in self.sets.iter_mut() {
            for s in p.iter_mut() {
                s.fill(EMPTY);
            }
        }
        self.sp_lo = u64::MAX;
        self.sp_hi = 0;
    }
    /// Drops the entries of virtual page `vpn`; everything when a cached
    /// superpage covers it. Returns whether it flushed everything.
    pub(crate) fn flush_page(&mut self, vpn: u64) -> bool {
        if self.sp_lo <= vpn && vpn <= self.sp_hi {
            self.flush();
            return true;
        }
        let i = (vpn as usize) & (TLB_SIZE - 1);
        for p in self.sets.iter_mut() {
            for s in p.iter_mut() {
                if s[i].tag == vpn {
                    s[i] = EMPTY;
                }
            }
        }
        false
    }
    /// Drops the store entries of every set that map RAM page offset `page_off`.
    pub(crate) fn drop_stores_to(&mut self, page_off: u64) {
        for set in self.sets.iter_mut() {
            for e in set[Access::Store as usize].iter_mut() {
                if e.tag != u64::MAX && (e.tag << 12).wrapping_add(e.addend) == page_off {
                    *e = EMPTY;
                }
            }
        }
    }
    /// Records that an entry for `vpn` came from a mapping of `span` pages.
    fn note_span(&mut self, vpn: u64, span: u64) {
        if span > 1 {
            let lo = vpn & !(span - 1);
            self.sp_lo = self.sp_lo.min(lo);
            self.sp_hi = self.sp_hi.max(lo | (span - 1));
        }
    }
}

/// A decoded PMP region: `[lo, hi)` and the cfg byte (A != OFF).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PmpRegion {
    pub lo: u64,
    pub hi: u64,
    pub cfg: u8,
}

pub(crate) const PMP_R: u8 = 1;
pub(crate) const PMP_W: u8 = 2;
pub(crate) const PMP_X: u8 = 4;
pub(crate) const PMP_L: u8 = 0x80;
pub(crate) const PMP_A_SHIFT: u8 = 3;
const PMP_TOR: u8 = 1;
const PMP_NA4: u8 = 2;
const PMP_NAPOT: u8 = 3;

impl<X: Xlen, B: Bus> Hart<X, B> {
    /// Recomputes the decoded PMP regions after a pmpcfg/pmpaddr write.
    pub(crate) fn pmp_recompute(&mut self) {
        let mut n = 0;
        for i in 0..16 {
            let cfg = self.c.pmpcfg[i];
            let a = (cfg >> PMP_A_SHIFT) & 3;
            let addr = self.c.pmpaddr[i];
            let (lo, hi) = match a {
                PMP_TOR => {
                    let prev = if i == 0 { 0 } else { self.c.pmpaddr[i - 1] };
                    (prev << 2, addr << 2)
                }
                PMP_NA4 => (addr << 2, (addr << 2) + 4),
                PMP_NAPOT => {
                    let mask = addr ^ addr.wrapping_add(1);
                    (
                        (addr & !mask) << 2,
                        ((addr & !mask) << 2).wrapping_add((mask + 1) << 2),
                    )
                }
                _ => continue,
            };
            if lo >= hi {
                continue;
            }
            self.pmp[n] = PmpRegion { lo, hi, cfg };
            n += 1;
        }
        self.pmp_n = n;
        self.flush_tlb();
    }

    /// PMP check of `len` bytes at `pa` (privileged spec 3.7.1: the lowest
    /// matching entry decides; a partial match fails; no match succeeds only in M-mode).
    pub(crate) fn pmp_ok(&self, pa: u64, len: u64, acc: Access, prv: u8) -> bool {
        let end = pa.saturating_add(len);
        for r in &self.pmp[..self.pmp_n] {
            if end <= r.lo || pa >= r.hi {
                continue;
            }
            if pa < r.lo || end > r.hi {
                return false;
            }
            if prv == PRV_M && r.cfg & PMP_L == 0 {
                return true;
            }
            let need = match acc {
                Access::Fetch => PMP_X,
                Access::Load => PMP_R,
                Access::Store => PMP_W,
            };
            return r.cfg & need != 0;
        }
        prv == PRV_M
    }

    /// Drops every cached translation.
    pub(crate) fn flush_tlb(&mut self) {
        self.tlb.flush();
        self.fetch_vpn = u64::MAX;
    }

    /// Whether physical page `pa & !0xfff` is plain RAM (no overlay).
    #[inline]
    pub(crate) fn ram_page(&self, pa: u64) -> Option<u64> {
        let off = pa.wrapping_sub(self.ram_base);
        if off >= self.ram.len() as u64 {
            return None;
        }
        let page = pa & !0xfff;
        if self
            .overlays
            .iter()
            .any(|&(s, l)| s < page + 4096 && s + l > page)
        {
            return None;
        }
        Some(off & !0xfff)
    }

    /// Translates `va` for an access of kind `acc` at privilege `prv`.
    /// Returns the physical address and the number of 4 KiB pages of the
    /// mapping (1, or the size of the superpage).
    pub(crate) fn translate(&mut self, va: u64, acc: Access, prv: u8) -> Result<(u64, u64), Exc> {
        let satp = self.c.satp;
        if prv == PRV_M {
            return Ok((va, 1));
        }
        let (levels, pte_size, vpn_bits, root) = if X::XLEN == 32 {
            if satp >> 31 == 0 {
                return Ok((va, 1));
            }
            (2u32, 4u64, 10u32, satp & 0x3f_ffff)
        } else {
            let levels = match satp >> 60 {
                0 => return Ok((va, 1)),
                8 => 3,
                9 => 4,
                _ => return Err(Exc::new(acc.page_fault(), va)),
            };
            let bits = 12 + 9 * levels;
            if (((va << (64 - bits)) as i64) >> (64 - bits)) as u64 != va {
                return Err(Exc::new(acc.page_fault(), va));
            }
            (levels, 8, 9, satp & ((1 << 44) - 1))
        };
        let pf = Exc::new(acc.page_fault(), va);
        let af = Exc::new(acc.access_fault(), va);
        let mut base = root << 12;
        let mut i = levels - 1;
        loop {
            let idx = (va >> (12 + vpn_bits * i)) & ((1 << vpn_bits) - 1);
            let pte_addr = base + idx * pte_size;
            if !self.pmp_ok(pte_addr, pte_size, Access::Load, PRV_S) {
                return Err(af);
            }
            let pte = self.phys_read(pte_addr, pte_size as u8).ok_or(af)?;
            let (v, r, w, x) = (pte & 1 != 0, pte & 2 != 0, pte & 4 != 0, pte & 8 != 0);
            if !v || (!r && w) {
                return Err(pf);
            }
            if X::XLEN != 32 && pte >> 54 != 0 {
                return Err(pf);
            }
            let ppn = if X::XLEN == 32 {
                (pte >> 10) & 0x3f_ffff
            } else {
                (pte >> 10) & ((1 << 44) - 1)
            };
            if !r && !x {
                if i == 0 {
                    return Err(pf);
                }
                i -= 1;
                base = ppn << 12;
                continue;
            }
            // A leaf PTE.
            let u = pte & 0x10 != 0;
            let sum = self.c.mstatus & MS_SUM != 0;
            let mxr = self.c.mstatus & MS_MXR != 0;
            let mode_ok = match (prv, u) {
                (PRV_U, u) => u,
                (_, false) => true,
                (_, true) => acc != Access::Fetch && sum,
            };
            let perm_ok = match acc {
                Access::Fetch => x,
                Access::Load => r || (mxr && x),
                Access::Store => w,
            };
            if !mode_ok || !perm_ok {
                return Err(pf);
            }
            let lo_bits = vpn_bits * i;
            if ppn & ((1 << lo_bits) - 1) != 0 {
                return Err(pf);
            }
            let a = pte & 0x40 != 0;
            let d = pte & 0x80 != 0;
            if !a || (acc == Access::Store && !d) {
                let new = pte | 0x40 | if acc == Access::Store { 0x80 } else { 0 };
                if !self.pmp_ok(pte_addr, pte_size, Access::Store, PRV_S)
                    || !self.phys_write(pte_addr, pte_size as u8, new)
                {
                    return Err(af);
                }
            }
            let off_mask = (1u64 << (12 + lo_bits)) - 1;
            let pa = ((ppn << 12) & !off_mask) | (va & off_mask);
            return Ok((pa, 1 << lo_bits));
        }
    }

    /// Reads physical memory (RAM or bus), no PMP check.
    pub(crate) fn phys_read(&mut self, pa: u64, size: u8) -> Option<u64> {
        let off = pa.wrapping_sub(self.ram_base);
        if off.checked_add(size as u64)? <= self.ram.len() as u64 && !self.in_overlay(pa) {
            let off = off as usize;
            let mut b = [0u8; 8];
            b[..size as usize].copy_from_slice(&self.ram[off..off + size as usize]);
            return Some(u64::from_le_bytes(b));
        }
        self.bus.read(pa, size)
    }

    /// Writes physical memory (RAM or bus), no PMP check.
    pub(crate) fn phys_write(&mut self, pa: u64, size: u8, v: u64) -> bool {
        let off = pa.wrapping_sub(self.ram_base);
        let Some(end) = off.checked_add(size as u64) else {
            return false;
        };
        if end <= self.ram.len() as u64 && !self.in_overlay(pa) {
            for p in [off >> 12, end.saturating_sub(1).max(off) >> 12] {
                if self.page_code[p as usize] {
                    self.code_page_written(p as usize);
                }
            }
            let off = off as usize;
            self.ram[off..off + size as usize].copy_from_slice(&v.to_le_bytes()[..size as usize]);
            return true;
        }
        let ok = self.bus.write(pa, size, v);
        if self.bus.take_stop() {
            self.request_stop(crate::Stop::Bus);
        }
        ok
    }

    #[inline]
    fn in_overlay(&self, pa: u64) -> bool {
        !self.overlays.is_empty() && self.overlays.iter().any(|&(s, l)| pa >= s && pa < s + l)
    }

    /// Translates, PMP-checks and (when possible) caches one page-contained access.
    fn xlate_checked(&mut self, va: u64, size: u64, acc: Access, prv: u8) -> Result<u64, Exc> {
        let (pa, span) = self.translate(va, acc, prv)?;
        if !self.pmp_ok(pa, size, acc, prv) {
            return Err(Exc::new(acc.access_fault(), va));
        }
        if let Some(page_off) = self.ram_page(pa) {
            // Stores into a page of decoded code stay on the slow path, which invalidates.
            let code = acc == Access::Store && self.page_code[(page_off >> 12) as usize];
            if !code && self.pmp_ok(pa & !0xfff, 4096, acc, prv) {
                let vpn = va >> 12;
                let set = self.tlb_set(prv, acc);
                let e = &mut self.tlb.sets[set][acc as usize][(vpn as usize) & (TLB_SIZE - 1)];
                e.tag = vpn;
                e.addend = page_off.wrapping_sub(va & !0xfff);
                self.tlb.note_span(vpn, span);
            }
        }
        Ok(pa)
    }

    /// The slow path of a load of `size` bytes (any alignment).
    pub(crate) fn load_slow(&mut self, va: u64, size: u64, acc: Access) -> Result<u64, Exc> {
        let prv = if acc == Access::Fetch {
            self.prv
        } else {
            self.data_prv
        };
        let first = 4096 - (va & 0xfff);
        if size <= first {
            let pa = self.xlate_checked(va, size, acc, prv)?;
            return self
                .phys_read(pa, size as u8)
                .ok_or(Exc::new(acc.access_fault(), va));
        }
        // Crosses a page: translate both parts before touching memory.
        let va2 = va.wrapping_add(first);
        let pa1 = self.xlate_checked(va, first, acc, prv)?;
        let pa2 = self.xlate_checked(va2, size - first, acc, prv)?;
        let mut v = 0u64;
        for i in 0..size {
            let pa = if i < first {
                pa1 + i
            } else {
                pa2 + (i - first)
            };
            let b = self
                .phys_read(pa, 1)
                .ok_or(Exc::new(acc.access_fault(), va))?;
            v |= b << (8 * i);
        }
        Ok(v)
    }

    /// The slow path of a store of `size` bytes (any alignment).
    pub(crate) fn store_slow(&mut self, va: u64, size: u64, v: u64) -> Result<(), Exc> {
        let prv = self.data_prv;
        let acc = Access::Store;
        let first = 4096 - (va & 0xfff);
        if size <= first {
            let pa = self.xlate_checked(va, size, acc, prv)?;
            if !self.phys_write(pa, size as u8, v) {
                return Err(Exc::new(EXC_STORE_ACCESS, va));
            }
            return self.stop_check();
        }
        let va2 = va.wrapping_add(first);
        let pa1 = self.xlate_checked(va, first, acc, prv)?;
        let pa2 = self.xlate_checked(va2, size - first, acc, prv)?;
        for i in 0..size {
            let pa = if i < first {
                pa1 + i
            } else {
                pa2 + (i - first)
            };
            if !self.phys_write(pa, 1, (v >> (8 * i)) & 0xff) {
                return Err(Exc::new(EXC_STORE_ACCESS, va));
            }
        }
        self.stop_check()
    }

    /// Translates an atomic access (already checked aligned) to a physical address.
    pub(crate) fn amo_addr(&mut self, va: u64, size: u64, acc: Access) -> Result<u64, Exc> {
        let prv = self.data_prv;
        let (pa, _) = self.translate(va, acc, prv)?;
        if !self.pmp_ok(pa, size, acc, prv)
            || (acc == Access::Store && !self.pmp_ok(pa, size, Access::Load, prv))
        {
            return Err(Exc::new(acc.access_fault(), va));
        }
        Ok(pa)
    }

    /// Fills the fetch TLB entry and the fetch cache for the page of `pc`
    /// when a walk succeeds and the whole page is executable RAM; `false`
    /// otherwise (the caller fetches the slow way, which raises any fault).
    #[cold]
    #[inline(never)]
    pub(crate) fn fetch_fill(&mut self, pc: u64) -> bool {
        let prv = self.prv;
        let Ok((pa, span)) = self.translate(pc, Access::Fetch, prv) else {
            return false;
        };
        self.fetch_cache(pc, pa, span, prv)
    }

    /// Caches the translation of the page of `pc` to `pa` for fetches at
    /// `prv` when the whole page is RAM without overlays and PMP lets `prv` execute all of it.
    fn fetch_cache(&mut self, pc: u64, pa: u64, span: u64, prv: u8) -> bool {
        let Some(page_off) = self.ram_page(pa) else {
            return false;
        };
        if !self.pmp_ok(pa & !0xfff, 4096, Access::Fetch, prv) {
            return false;
        }
        let vpn = pc >> 12;
        let addend = page_off.wrapping_sub(pc & !0xfff);
        let e = &mut self.tlb.sets[prv as usize & 3][Access::Fetch as usize]
            [(vpn as usize) & (TLB_SIZE - 1)];
        e.tag = vpn;
        e.addend = addend;
        self.tlb.note_span(vpn, span);
        self.fetch_vpn = vpn;
        self.fetch_addend = addend;
        true
    }

    /// Fetches the instruction at `pc` the slow way (TLB miss, page end, non-RAM).
    /// Fills the fetch cache when the page is cacheable.
    pub(crate) fn fetch_slow(&mut self, pc: u64) -> Result<u32, Exc> {
        let prv = self.prv;
        let (pa, span) = self.translate(pc, Access::Fetch, prv)?;
        if !self.pmp_ok(pa, 2, Access::Fetch, prv) {
            return Err(Exc::new(EXC_INSN_ACCESS, pc));
        }
        self.fetch_cache(pc, pa, span, prv);
        let lo = self.phys_read(pa, 2).ok_or(Exc::new(EXC_INSN_ACCESS, pc))? as u32;
        if lo & 3 != 3 {
            return Ok(lo);
        }
        let pc2 = pc.wrapping_add(2);
        let pa2 = if pc2 & 0xfff == 0 {
            let (pa2, _) = self.translate(pc2, Access::Fetch, prv)?;
            if !self.pmp_ok(pa2, 2, Access::Fetch, prv) {
                return Err(Exc::new(EXC_INSN_ACCESS, pc2));
            }
            pa2
        } else {
            if !self.pmp_ok(pa, 4, Access::Fetch, prv) {
                return Err(Exc::new(EXC_INSN_ACCESS, pc));
            }
            pa + 2
        };
        let hi = self
            .phys_read(pa2, 2)
            .ok_or(Exc::new(EXC_INSN_ACCESS, pc2))? as u32;
        Ok(lo | (hi << 16))
    }

    /// The TLB set for an access of kind `acc` at privilege `prv`.
    #[inline]
    pub(crate) fn tlb_set(&self, prv: u8, acc: Access) -> usize {
        if prv == PRV_S && acc != Access::Fetch && self.c.mstatus & MS_SUM != 0 {
            TLB_S_SUM
        } else {
            prv as usize & 3
        }
    }

    /// Drops the cached translations of virtual page `vpn` (SFENCE.VMA with an address).
    pub(crate) fn flush_tlb_page(&mut self, vpn: u64) {
        if self.tlb.flush_page(vpn) || vpn == self.fetch_vpn {
            self.fetch_vpn = u64::MAX;
        }
    }

    /// The privilege level that loads and stores use (MPRV applied), and their TLB set.
    pub(crate) fn update_data_prv(&mut self) {
        self.data_prv = if self.prv == PRV_M && self.c.mstatus & MS_MPRV != 0 {
            ((self.c.mstatus & MS_MPP) >> MS_MPP_SHIFT) as u8
        } else {
            self.prv
        };
        self.data_tlb = self.tlb_set(self.data_prv, Access::Load) as u8;
        let _ = PRV_U;
        let _ = X::Reg::ZERO;
    }
}
