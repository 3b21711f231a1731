//! The hart: architectural state, the interpreter loop, traps and interrupts.

use crate::bus::Bus;
use crate::csr::*;
use crate::decode::{decode, Op, K};
use crate::fp::{self, FpOutcome, FpOutcome128, FpState};
#[cfg(feature = "jit")]
use crate::jit;
use crate::mmu::{Access, PmpRegion, Tlbs, TLB_SIZE};
use crate::xlen::{Reg, Xlen};

mod exec128;
mod xlen_switch;

/// User mode.
pub const PRV_U: u8 = 0;
/// Supervisor mode.
pub const PRV_S: u8 = 1;
/// Machine mode.
pub const PRV_M: u8 = 3;

/// The physical address where RAM starts on every vfsync machine.
pub const RAM_BASE: u64 = 0x8000_0000;

/// A synchronous exception: cause and xtval. Traps are values, never panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exc {
    /// The exception code (mcause without the interrupt bit).
    pub cause: u64,
    /// The value for mtval/stval.
    pub tval: u64,
}

impl Exc {
    #[inline]
    pub(crate) const fn new(cause: u64, tval: u64) -> Exc {
        Exc { cause, tval }
    }
}

/// Why [`Hart::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The instruction budget is spent.
    Budget,
    /// The hart waits for an interrupt (WFI with nothing pending and enabled in
    /// mie): advance time or raise a line, then call `run` again.
    Wfi,
    /// An ECALL from S-mode with [`Hart::sbi_intercept`] set: the pc is already
    /// past the ECALL; read a0-a7 with [`Hart::reg`], set a0/a1 with
    /// [`Hart::set_reg`], then call `run` again.
    SbiCall,
    /// A bus device asked for attention ([`Bus::take_stop`]).
    Bus,
}

/// Decoded-instruction cache entry, validated by the instruction word itself
/// (so self-modifying code is always seen, FENCE.I or not).
#[derive(Clone, Copy)]
struct ICacheEntry {
    raw: u32,
    op: Op,
}

const ICACHE_SIZE: usize = 1 << 14;

fn new_icache(xlen: u32) -> Box<[ICacheEntry; ICACHE_SIZE]> {
    let v = vec![
        ICacheEntry {
            raw: 0,
            op: decode(0, xlen)
        };
        ICACHE_SIZE
    ];
    match v.into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("the vector has ICACHE_SIZE entries"),
    }
}

/// One instruction of a decoded block: the op and the instruction word it
/// was decoded from (for xtval and the floating-point executor). 16 bytes,
/// so an op is two register loads.
///
/// The fields are laid out by hand (`repr(C)`, no implicit padding) so the
/// loop reads each one straight into a register instead of copying an
/// [`Op`] with padding through the stack.
#[derive(Clone, Copy)]
#[repr(C)]
struct BlockOp {
    raw: u32,
    imm: i32,
    k: K,
    rd: u8,
    rs1: u8,
    rs2: u8,
    len: u8,
    _pad: u8,
    /// Offset of the instruction in its page; at most 0xffc (the
    /// constructor clamps it), so its 4-byte word never leaves the page.
    poff: u16,
}

impl BlockOp {
    #[inline(always)]
    fn new(op: Op, raw: u32, poff: usize) -> BlockOp {
        BlockOp {
            raw,
            imm: op.imm,
            k: op.k,
            rd: op.rd,
            rs1: op.rs1,
            rs2: op.rs2,
            len: op.len,
            _pad: 0,
            poff: poff.min(0xffc) as u16,
        }
    }
    /// The op after a block's last instruction: [`K::BlockEnd`] at page
    /// offset `poff` (up to 0x1000), where the block falls through to.
    fn end(poff: u32) -> BlockOp {
        BlockOp {
            raw: 0,
            imm: 0,
            k: K::BlockEnd,
            rd: 0,
            rs1: 0,
            rs2: 0,
            len: 0,
            _pad: 0,
            poff: poff.min(0x1000) as u16,
        }
    }
    #[inline(always)]
    fn op(&self) -> Op {
        Op {
            k: self.k,
            rd: self.rd,
            rs1: self.rs1,
            rs2: self.rs2,
            imm: self.imm,
            len: self.len,
        }
    }
}

const _: () = assert!(std::mem::size_of::<BlockOp>() == 16);

/// An [`Op`] without its length, as the out-of-line part of the executor
/// takes it: 8 bytes without padding, so it travels in one register and the
/// hot loop never has to keep a copy of the op in memory.
#[derive(Clone, Copy)]
#[repr(C)]
struct SysOp {
    imm: i32,
    k: K,
    rd: u8,
    rs1: u8,
    rs2: u8,
}

/// Most instructions in one decoded block.
const BLOCK_MAX: usize = 16;
/// Decoded-block cache slots (direct-mapped by a hash of the block's RAM offset).
/// 32,768: with 4,096 a Linux guest rebuilt three times as many blocks as with
/// 16,384, and with compiled code the shell loop of bench/boot.sh ran 10 %
/// faster at 32,768 than at 16,384 (65,536 gained nothing more).
const BLOCKS: usize = 1 << 15;

/// The cause of the internal "error" that ends a block after an instruction
/// that completed: a store into the page of the running block (which may
/// have changed the block's own code), or a stop request for [`Hart::run`]
/// (a device that wants attention, an intercepted ECALL, WFI). It never
/// reaches the guest.
pub(crate) const END_BLOCK: u64 = u64::MAX;

/// A run of decoded instructions inside one page, starting at RAM offset
/// `at` and ending at the first jump, system instruction or page end (a
/// conditional branch ends the run only when taken). Executing a block walks the array with an index,
/// so the next instruction never waits on a load of the previous one's length.
///
/// Blocks are keyed by where their code lies in RAM, not by virtual
/// address: the ops do not depend on the mapping (pc-relative ops use the
/// pc of the running block), so processes that map the same physical code
/// share its blocks, and satp writes or SFENCE.VMA leave them valid.
///
/// A block is valid while `gen` equals its page's code generation
/// ([`Hart::page_gen`]): every write into a page that holds decoded blocks
/// (guest stores, which reach such pages only through the slow path; DMA
/// reported by the board; [`Hart::ram_write`]; [`Hart::ram_mut`]) bumps it.
///
/// A slot is split in two: its [`BlockHead`] (what every lookup reads) in
/// one compact array, its ops in another, so the lookups of a large working
/// set stay in the host's cache.
#[derive(Clone, Copy)]
struct Block {
    /// `n` ops and a [`K::BlockEnd`] after them.
    ops: [BlockOp; BLOCK_MAX + 1],
}

/// How a run of compiled code ended ([`Hart::run_compiled`]).
#[cfg(feature = "jit")]
struct Compiled {
    /// The pc to go on at.
    next: u64,
    /// Instructions retired.
    retired: u64,
    /// The instruction at `next` must go through the interpreter first ([`jit::STEP`]).
    step: bool,
    /// The link cell (index + 1, or 0) of the exit taken.
    link: usize,
    /// The virtual page and RAM page offset of the last block that ran.
    page_va: u64,
    ram_page: u64,
}

/// The part of a block slot that every lookup reads (see [`Block`]).
#[derive(Clone, Copy)]
struct BlockHead {
    /// RAM offset of the first instruction (`u64::MAX`: empty slot).
    at: u64,
    /// The code generation of the block's page when it was decoded.
    gen: u32,
    /// Number of valid entries in `ops` (1..=BLOCK_MAX for a filled slot).
    n: u32,
    /// The block compiled to host code.
    #[cfg(feature = "jit")]
    code: Option<jit::JitFn>,
    /// Runs since the block was decoded (up to [`jit::THRESHOLD`]).
    #[cfg(feature = "jit")]
    hits: u32,
}

fn boxed_array<T: Clone, const N: usize>(v: T) -> Box<[T; N]> {
    match vec![v; N].into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("the vector has N entries"),
    }
}

fn new_blocks(xlen: u32) -> (Box<[BlockHead; BLOCKS]>, Box<[Block; BLOCKS]>) {
    let op = BlockOp::new(decode(0, xlen), 0, 0);
    let head = BlockHead {
        at: u64::MAX,
        gen: 0,
        n: 0,
        #[cfg(feature = "jit")]
        code: None,
        #[cfg(feature = "jit")]
        hits: 0,
    };
    (
        boxed_array(head),
        boxed_array(Block {
            ops: [op; BLOCK_MAX + 1],
        }),
    )
}

/// Whether a block ends after an instruction of kind `k`: unconditional jumps
/// and every instruction that may change privilege, translation, PMP or the
/// interrupt state (all of which the block's fetch mapping relies on).
#[inline]
fn ends_block(k: K) -> bool {
    matches!(
        k,
        K::Jal
            | K::Jalr
            | K::Illegal
            | K::Ecall
            | K::Ebreak
            | K::Mret
            | K::Sret
            | K::Wfi
            | K::SfenceVma
            | K::FenceI
            | K::Csrrw
            | K::Csrrs
            | K::Csrrc
            | K::Csrrwi
            | K::Csrrsi
            | K::Csrrci
    )
}

/// The CSR state (stored XLEN-independently, mstatus in its RV64 layout).
#[derive(Clone, Debug, Default)]
pub(crate) struct Csrs {
    pub mstatus: u64,
    pub medeleg: u64,
    pub mideleg: u64,
    pub mie: u64,
    /// Software-writable pending bits (SSIP, STIP, SEIP).
    pub mip_sw: u64,
    pub mtvec: u64,
    pub mcounteren: u64,
    pub mscratch: u64,
    pub mepc: u64,
    pub mcause: u64,
    pub mtval: u64,
    pub menvcfg: u64,
    pub stvec: u64,
    pub scounteren: u64,
    pub sscratch: u64,
    pub sepc: u64,
    pub scause: u64,
    pub stval: u64,
    pub senvcfg: u64,
    pub satp: u64,
    pub stimecmp: u64,
    pub pmpcfg: [u8; 16],
    pub pmpaddr: [u64; 16],
    pub cycle_off: u64,
    pub instret_off: u64,
    /// mcountinhibit (CY = bit 0, IR = bit 2 implemented).
    pub mcountinhibit: u64,
    /// The values of mcycle/minstret while inhibited.
    pub cycle_frozen: u64,
    pub instret_frozen: u64,
    /// misa.MXL (1, 2 or 3); 0 until [`Hart::new`] sets the hart's own.
    pub mxl: u64,
    /// Bits 127:64 of mscratch and sscratch (RV128).
    pub scratch_hi: [u64; 2],
}

/// One RISC-V hart with its RAM, generic over XLEN and the MMIO bus.
///
/// RAM is owned by the hart (the hot path reads and writes it directly); the
/// board reaches it with [`Hart::ram_read`] / [`Hart::ram_write`] /
/// [`Hart::ram_mut`].
pub struct Hart<X: Xlen, B: Bus> {
    pub(crate) x: [X::Reg; 32],
    pub(crate) pc: X::Reg,
    /// The F/D register file and fcsr.
    pub fp: FpState,
    pub(crate) prv: u8,
    /// The MMIO bus (devices outside RAM).
    pub bus: B,
    pub(crate) ram: Vec<u8>,
    pub(crate) ram_base: u64,
    pub(crate) overlays: Vec<(u64, u64)>,
    pub(crate) c: Csrs,
    pub(crate) tlb: Box<Tlbs>,
    pub(crate) pmp: [PmpRegion; 16],
    pub(crate) pmp_n: usize,
    icache: Box<[ICacheEntry; ICACHE_SIZE]>,
    heads: Box<[BlockHead; BLOCKS]>,
    blocks: Box<[Block; BLOCKS]>,
    pub(crate) fetch_vpn: u64,
    pub(crate) fetch_addend: u64,
    /// RAM offset of the page of the block being executed (`u64::MAX`: none).
    pub(crate) code_page: u64,
    /// A write hit `code_page`: end the block after this instruction.
    pub(crate) code_written: bool,
    /// Per RAM page: its code generation (see [`Block`]), bumped when a
    /// page that holds decoded blocks is written.
    pub(crate) page_gen: Vec<u32>,
    /// Per RAM page: whether blocks were decoded from it since it was last
    /// written. The store TLB never maps such a page, so every store into
    /// it takes the slow path, which invalidates the page's blocks.
    pub(crate) page_code: Vec<bool>,
    /// The pages whose `page_code` is set (and possibly some whose flag was
    /// cleared since; compacted when it outgrows the page count).
    code_list: Vec<u32>,
    /// A page generation wrapped: every block must go before the next one runs.
    blocks_stale: bool,
    pub(crate) data_prv: u8,
    /// The TLB set of loads and stores (see [`crate::mmu::Tlbs`]).
    pub(crate) data_tlb: u8,
    reservation: Option<u64>,
    time: u64,
    lines: u64,
    /// When set, ECALL from S-mode returns [`Stop::SbiCall`] from [`Hart::run`]
    /// instead of trapping to M-mode (a built-in SBI in the board).
    pub sbi_intercept: bool,
    insns: u64,
    stop_at: u64,
    pending_stop: Option<Stop>,
    wfi: bool,
    hartid: u64,
    /// Whether writes of misa.MXL and mstatus.SXL/UXL may change XLEN at run
    /// time (off: they are read-only). Only a hart driven through
    /// [`crate::AnyHart`] can change type, so `AnyHart` turns this on.
    pub xlen_switch: bool,
    /// The XLEN the hart must become before it runs on (0: none); see [`Hart::take_xlen_switch`].
    pending_xlen: u32,
    /// The full registers as of the last narrowing switch (see docs/rv128.md).
    saved_x: Option<Box<[u128; 32]>>,
    /// Bits 63:0 of the f registers as of the last switch from XLEN 128 (FLEN 128)
    /// to a narrower XLEN (FLEN 64); see [`Hart::convert`].
    saved_f: Option<Box<[u64; 32]>>,
    /// The pc a trap or xRET goes to, as its 64-bit CSR value ([`Self::switch_pc_valid`]).
    switch_pc: u64,
    /// The block compiler, when [`Hart::set_jit`] turned it on (RV64 only).
    #[cfg(feature = "jit")]
    jit: Option<Box<jit::Jit>>,
    /// Instructions retired by compiled code (statistics).
    #[cfg(feature = "jit")]
    jit_insns: u64,
    /// Whether the pending switch continues at `switch_pc` (a trap or xRET)
    /// rather than at the sign-extended pc (a CSR write).
    switch_pc_valid: bool,
}

macro_rules! rd_x {
    ($s:ident, $r:expr) => {
        $s.x[($r as usize) & 31]
    };
}

impl<X: Xlen, B: Bus> Hart<X, B> {
    /// A hart in M-mode at reset (pc = RAM base) with `ram_size` bytes of RAM
    /// at [`RAM_BASE`] (rounded up to whole 4 KiB pages) and `bus` for everything else.
    pub fn new(ram_size: usize, bus: B) -> Self {
        let ram_size = ram_size.div_ceil(4096) * 4096;
        let pages = ram_size / 4096;
        let (heads, blocks) = new_blocks(X::XLEN);
        let mut h = Hart {
            x: [X::Reg::ZERO; 32],
            pc: X::Reg::from_u64(RAM_BASE),
            fp: FpState::default(),
            prv: PRV_M,
            bus,
            ram: vec![0u8; ram_size],
            ram_base: RAM_BASE,
            overlays: Vec::new(),
            c: Csrs::default(),
            tlb: Tlbs::new(),
            pmp: [PmpRegion::default(); 16],
            pmp_n: 0,
            icache: new_icache(X::XLEN),
            heads,
            blocks,
            fetch_vpn: u64::MAX,
            fetch_addend: 0,
            code_page: u64::MAX,
            code_written: false,
            page_gen: vec![0; pages],
            page_code: vec![false; pages],
            code_list: Vec::new(),
            blocks_stale: false,
            data_prv: PRV_M,
            data_tlb: PRV_M,
            reservation: None,
            time: 0,
            lines: 0,
            sbi_intercept: false,
            insns: 0,
            stop_at: 0,
            pending_stop: None,
            wfi: false,
            hartid: 0,
            xlen_switch: false,
            pending_xlen: 0,
            saved_x: None,
            saved_f: None,
            switch_pc: 0,
            switch_pc_valid: false,
            #[cfg(feature = "jit")]
            jit: None,
            #[cfg(feature = "jit")]
            jit_insns: 0,
        };
        h.c.mxl = X::MXL;
        h.c.mstatus = if X::XLEN >= 64 {
            (X::MXL << MS_UXL_SHIFT) | (X::MXL << MS_SXL_SHIFT)
        } else {
            0
        };
        h
    }

    // ---- Public interface for the board -------------------------------------------------

    /// XLEN of this hart (32 or 64).
    pub fn xlen(&self) -> u32 {
        X::XLEN
    }
    /// Integer register `i` (0..32), zero-extended to 64 bits (x0 is 0).
    pub fn reg(&self, i: usize) -> u64 {
        self.x[i & 31].to_u64()
    }
    /// Sets integer register `i` (truncated to XLEN; writes to x0 are ignored).
    pub fn set_reg(&mut self, i: usize, v: u64) {
        if i & 31 != 0 {
            self.x[i & 31] = X::Reg::from_u64(v);
        }
    }
    /// The program counter.
    pub fn pc(&self) -> u64 {
        self.pc.to_u64()
    }
    /// Sets the program counter (bit 0 is cleared).
    pub fn set_pc(&mut self, pc: u64) {
        self.pc = X::Reg::from_u64(pc & !1);
    }
    /// Current privilege level ([`PRV_M`], [`PRV_S`] or [`PRV_U`]).
    pub fn privilege(&self) -> u8 {
        self.prv
    }
    /// Sets the privilege level (for a board that starts a kernel in S-mode).
    pub fn set_privilege(&mut self, prv: u8) {
        self.prv = match prv {
            PRV_U | PRV_S => prv,
            _ => PRV_M,
        };
        self.update_data_prv();
        self.fetch_vpn = u64::MAX;
        if self.xlen_switch {
            self.check_xlen();
        }
    }
    /// Sets mhartid.
    pub fn set_hartid(&mut self, id: u64) {
        self.hartid = id;
    }
    /// The physical address where RAM starts.
    pub fn ram_base(&self) -> u64 {
        self.ram_base
    }
    /// RAM size in bytes.
    pub fn ram_size(&self) -> u64 {
        self.ram.len() as u64
    }
    /// All of RAM, for bulk loading (kernel, initrd, device tree). Every
    /// decoded block is dropped, since the caller may write anywhere; a
    /// caller that knows what it writes uses [`Self::ram_mut_tracked`].
    pub fn ram_mut(&mut self) -> &mut [u8] {
        self.invalidate_all_code();
        &mut self.ram
    }
    /// All of RAM for a caller that reports every range it writes with
    /// [`Self::code_written`] before the hart runs again (device DMA), so
    /// decoded blocks of code it overwrites are dropped and the rest stay.
    pub fn ram_mut_tracked(&mut self) -> &mut [u8] {
        &mut self.ram
    }
    /// Reports that `len` bytes of RAM at physical address `pa` were
    /// written behind the hart's back (see [`Self::ram_mut_tracked`]):
    /// decoded blocks of those pages are decoded afresh when next run.
    /// Addresses outside RAM are ignored.
    pub fn code_written(&mut self, pa: u64, len: u64) {
        let start = pa.max(self.ram_base);
        let end = pa
            .saturating_add(len)
            .min(self.ram_base.saturating_add(self.ram.len() as u64));
        if start < end {
            self.invalidate_ram(start - self.ram_base, end - start);
        }
    }
    /// All of RAM, read-only (virtqueue processing by devices goes through the board).
    pub fn ram(&self) -> &[u8] {
        &self.ram
    }
    /// Copies RAM at physical address `pa` into `buf`; `false` if any byte lies outside RAM.
    pub fn ram_read(&self, pa: u64, buf: &mut [u8]) -> bool {
        match self.ram_range(pa, buf.len()) {
            Some(r) => {
                buf.copy_from_slice(&self.ram[r]);
                true
            }
            None => false,
        }
    }
    /// Copies `data` into RAM at physical address `pa`; `false` if any byte lies outside RAM.
    pub fn ram_write(&mut self, pa: u64, data: &[u8]) -> bool {
        match self.ram_range(pa, data.len()) {
            Some(r) => {
                self.invalidate_ram(r.start as u64, data.len() as u64);
                self.ram[r].copy_from_slice(data);
                true
            }
            None => false,
        }
    }
    fn ram_range(&self, pa: u64, len: usize) -> Option<std::ops::Range<usize>> {
        let off = pa.checked_sub(self.ram_base)?;
        let end = off.checked_add(len as u64)?;
        if end > self.ram.len() as u64 {
            return None;
        }
        Some(off as usize..end as usize)
    }
    /// Routes the physical range `[pa, pa+len)` inside RAM to the bus instead
    /// of RAM (e.g. HTIF tohost/fromhost words). Pages holding an overlay are
    /// never cached in the load/store TLBs.
    pub fn add_mmio_overlay(&mut self, pa: u64, len: u64) {
        self.overlays.push((pa, len));
        self.flush_tlb();
    }
    /// Sets or clears interrupt-pending lines driven by devices: any of
    /// [`IRQ_MEI`], [`IRQ_SEI`] (PLIC), [`IRQ_MTI`], [`IRQ_MSI`] (CLINT).
    /// The line value of SEIP is ORed with the software-writable mip.SEIP bit.
    pub fn set_irq_lines(&mut self, mask: u64, level: bool) {
        let mask = mask & (IRQ_MEI | IRQ_SEI | IRQ_MTI | IRQ_MSI);
        if level {
            self.lines |= mask;
        } else {
            self.lines &= !mask;
        }
    }
    /// The device-driven interrupt lines.
    pub fn irq_lines(&self) -> u64 {
        self.lines
    }
    /// Sets the current `time` (mtime): read by the time CSR and compared with stimecmp (Sstc).
    pub fn set_time(&mut self, t: u64) {
        self.time = t;
    }
    /// The current `time`.
    pub fn time(&self) -> u64 {
        self.time
    }
    /// stimecmp (Sstc), for a board that schedules wake-ups of a waiting hart.
    pub fn stimecmp(&self) -> u64 {
        self.c.stimecmp
    }
    /// Whether the Sstc timer is enabled (menvcfg.STCE).
    pub fn sstc_enabled(&self) -> bool {
        self.c.menvcfg & MENVCFG_STCE != 0
    }
    /// Instructions executed (including ones that trapped) since construction.
    pub fn insns(&self) -> u64 {
        self.insns
    }
    /// Whether the hart sits in WFI.
    pub fn waiting(&self) -> bool {
        self.wfi
    }
    /// Reads a CSR as M-mode would (no privilege checks); `None` for an unimplemented CSR.
    pub fn csr(&mut self, csr: u32) -> Option<u64> {
        let saved = self.prv;
        self.prv = PRV_M;
        let v = self.csr_read(csr).ok();
        self.prv = saved;
        v
    }
    /// Writes a CSR as M-mode would (WARL rules apply); `false` for an unimplemented CSR.
    pub fn set_csr(&mut self, csr: u32, v: u64) -> bool {
        let saved = self.prv;
        self.prv = PRV_M;
        let ok = self.csr_write(csr, v).is_ok();
        self.prv = saved;
        ok
    }

    /// Runs at most `budget` instructions. Returns early on WFI, an intercepted
    /// SBI call or a bus request. Interrupts are checked on entry and after every
    /// instruction that can enable one.
    pub fn run(&mut self, budget: u64) -> Stop {
        let end = self.insns.saturating_add(budget);
        #[cfg(feature = "jit")]
        if self.jit.as_ref().is_some_and(|j| j.pending()) {
            self.install_compiled(false);
        }
        loop {
            if self.wfi {
                if self.mip() & self.c.mie == 0 {
                    return Stop::Wfi;
                }
                self.wfi = false;
            }
            if let Some(cause) = self.pending_interrupt() {
                // At XLEN 128 bit 63 of the stored mcause stands for bit 127 (see rv128::csr_widen).
                self.take_trap(cause | (1 << (X::XLEN.min(64) - 1)), 0, true);
                // The trap may have asked for another XLEN (see xlen_switch.rs).
                if let Some(s) = self.pending_stop.take() {
                    return s;
                }
            }
            if self.insns >= end {
                return Stop::Budget;
            }
            self.stop_at = end;
            self.exec_block();
            if let Some(s) = self.pending_stop.take() {
                return s;
            }
        }
    }

    /// Ends the current block after this instruction, returning `s` from `run`.
    pub(crate) fn request_stop(&mut self, s: Stop) {
        self.pending_stop = Some(s);
        self.stop_at = 0;
    }
    /// After a completed store: the [`END_BLOCK`] marker if it asked `run`
    /// to return or wrote into the page of the running block.
    #[inline]
    pub(crate) fn stop_check(&mut self) -> Result<(), Exc> {
        if self.pending_stop.is_some() || std::mem::take(&mut self.code_written) {
            Err(Exc::new(END_BLOCK, 0))
        } else {
            Ok(())
        }
    }
    /// Ends the current block after this instruction so `run` re-checks interrupts.
    #[inline]
    fn end_block(&mut self) {
        self.stop_at = 0;
    }

    // ---- Interrupts and traps ------------------------------------------------------------

    /// The effective mip: software bits, device lines, and the Sstc timer.
    pub(crate) fn mip(&self) -> u64 {
        let mut v = self.c.mip_sw | self.lines;
        if self.c.menvcfg & MENVCFG_STCE != 0 {
            v &= !IRQ_STI;
            if self.time >= self.c.stimecmp {
                v |= IRQ_STI;
            }
        }
        v
    }

    fn pending_interrupt(&self) -> Option<u64> {
        let pending = self.mip() & self.c.mie;
        if pending == 0 {
            return None;
        }
        let m_on = self.prv < PRV_M || self.c.mstatus & MS_MIE != 0;
        let m = pending & !self.c.mideleg;
        if m_on && m != 0 {
            return Some(Self::highest(m));
        }
        let s_on = self.prv < PRV_S || (self.prv == PRV_S && self.c.mstatus & MS_SIE != 0);
        let s = pending & self.c.mideleg;
        if s_on && s != 0 {
            return Some(Self::highest(s));
        }
        None
    }

    fn highest(set: u64) -> u64 {
        for c in [11, 3, 7, 9, 1, 5] {
            if set & (1 << c) != 0 {
                return c;
            }
        }
        set.trailing_zeros() as u64
    }

    /// Enters the trap handler for `cause` (interrupt bit at XLEN-1).
    fn take_trap(&mut self, cause: u64, tval: u64, interrupt: bool) {
        let code = cause & 0xffff;
        let deleg = if interrupt {
            self.c.mideleg
        } else {
            self.c.medeleg
        };
        let pc = self.pc.to_u64();
        self.reservation = None;
        self.end_block();
        if self.prv <= PRV_S && (deleg >> code) & 1 != 0 {
            self.c.scause = cause;
            self.c.sepc = pc;
            self.c.stval = tval;
            let ms = self.c.mstatus;
            let mut n = ms & !(MS_SPIE | MS_SIE | MS_SPP);
            if ms & MS_SIE != 0 {
                n |= MS_SPIE;
            }
            if self.prv == PRV_S {
                n |= MS_SPP;
            }
            self.c.mstatus = n;
            self.prv = PRV_S;
            let base = self.c.stvec & !3;
            let target = if interrupt && self.c.stvec & 1 != 0 {
                base + 4 * code
            } else {
                base
            };
            self.pc = X::Reg::from_u64(target);
            self.switch_pc = target;
        } else {
            self.c.mcause = cause;
            self.c.mepc = pc;
            self.c.mtval = tval;
            let ms = self.c.mstatus;
            let mut n = ms & !(MS_MPIE | MS_MIE | MS_MPP);
            if ms & MS_MIE != 0 {
                n |= MS_MPIE;
            }
            n |= (self.prv as u64) << MS_MPP_SHIFT;
            self.c.mstatus = n;
            self.prv = PRV_M;
            let base = self.c.mtvec & !3;
            let target = if interrupt && self.c.mtvec & 1 != 0 {
                base + 4 * code
            } else {
                base
            };
            self.pc = X::Reg::from_u64(target);
            self.switch_pc = target;
        }
        self.wfi = false;
        self.update_data_prv();
        self.fetch_vpn = u64::MAX;
        if self.xlen_switch {
            // A switch continues at the trap vector as the new XLEN reads it.
            self.check_xlen_at(true);
        }
    }

    /// Raises a synchronous exception at the current pc.
    #[cold]
    fn exception(&mut self, e: Exc) {
        // A trapping instruction does not retire.
        self.c.instret_off = self.c.instret_off.wrapping_sub(1);
        self.take_trap(e.cause, e.tval, false);
    }

    // ---- Memory access fast paths ---------------------------------------------------------

    #[inline(always)]
    fn load<const N: usize>(&mut self, va: u64) -> Result<u64, Exc> {
        let vpn = va >> 12;
        let e = self.tlb.sets[self.data_tlb as usize & 3][Access::Load as usize]
            [(vpn as usize) & (TLB_SIZE - 1)];
        if e.tag == vpn && (va & 0xfff) as usize <= 4096 - N {
            let off = va.wrapping_add(e.addend) as usize;
            debug_assert!(off + N <= self.ram.len());
            let mut v = [0u8; 8];
            // SAFETY: a TLB entry is only filled (mmu.rs `xlate_checked`) for a virtual page whose
            // physical page lies entirely inside RAM (`ram_page`), with `addend` = RAM offset of
            // that page minus the virtual page address. `va` is in that virtual page (tag match)
            // and `va & 0xfff <= 4096 - N`, so `off..off + N` lies inside that RAM page. RAM is a
            // Vec whose length is fixed at construction (a multiple of 4096) and never shrinks.
            unsafe {
                std::ptr::copy_nonoverlapping(self.ram.as_ptr().add(off), v.as_mut_ptr(), N);
            }
            return Ok(u64::from_le_bytes(v));
        }
        self.load_slow(va, N as u64, Access::Load)
    }

    #[inline(always)]
    fn store<const N: usize>(&mut self, va: u64, v: u64) -> Result<(), Exc> {
        let vpn = va >> 12;
        let e = self.tlb.sets[self.data_tlb as usize & 3][Access::Store as usize]
            [(vpn as usize) & (TLB_SIZE - 1)];
        if e.tag == vpn && (va & 0xfff) as usize <= 4096 - N {
            let off = va.wrapping_add(e.addend) as usize;
            debug_assert!(off + N <= self.ram.len());
            let bytes = v.to_le_bytes();
            // SAFETY: as in `load`: the entry maps this virtual page to a RAM page, and
            // `off..off + N` lies inside that page, hence inside `self.ram`.
            // The store TLB never maps a page that holds decoded code
            // (`page_code`), so this store changes no decoded instruction.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ram.as_mut_ptr().add(off), N);
            }
            return Ok(());
        }
        self.store_slow(va, N as u64, v)
    }

    #[inline(always)]
    fn fetch(&mut self, pc: u64) -> Result<u32, Exc> {
        if pc >> 12 == self.fetch_vpn && pc & 0xfff <= 0xffc {
            let off = pc.wrapping_add(self.fetch_addend) as usize;
            debug_assert!(off + 4 <= self.ram.len());
            let mut b = [0u8; 4];
            // SAFETY: `fetch_vpn`/`fetch_addend` are only set by mmu.rs `fetch_cache` and by
            // `fetch_switch` from a fetch-TLB entry that `fetch_cache` filled, both for a page
            // whose physical page lies entirely inside RAM; `pc & 0xfff <= 0xffc` keeps the four
            // bytes inside that page, hence inside `self.ram` (whose length never changes).
            unsafe {
                std::ptr::copy_nonoverlapping(self.ram.as_ptr().add(off), b.as_mut_ptr(), 4);
            }
            return Ok(u32::from_le_bytes(b));
        }
        self.fetch_slow(pc)
    }

    // ---- The interpreter loop -------------------------------------------------------------

    /// Slot of the decoded-block cache for a block starting at RAM offset
    /// `at`: a multiplicative (Fibonacci) hash of the halfword address, whose
    /// top bits depend on all of its bits, so that code at the same page
    /// offset in different pages (kernel, libraries, programs) does not keep
    /// evicting itself. Against the earlier xor of shifted copies it halved
    /// the conflict rebuilds of a Linux shell loop (bench/RESULTS.md).
    #[inline(always)]
    fn block_index(at: u64) -> usize {
        ((at >> 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - BLOCKS.trailing_zeros())) as usize
    }

    /// Points the fetch cache at the page of `pc` through the fetch TLB;
    /// `false` when the page is not cacheable or the fetch faults (the caller
    /// then goes through [`Self::step`], which raises the fault).
    #[inline(always)]
    fn fetch_switch(&mut self, pc: u64) -> bool {
        let vpn = pc >> 12;
        let e = self.tlb.sets[self.prv as usize & 3][Access::Fetch as usize]
            [(vpn as usize) & (TLB_SIZE - 1)];
        if e.tag == vpn {
            self.fetch_vpn = vpn;
            self.fetch_addend = e.addend;
            return true;
        }
        self.fetch_fill(pc)
    }

    /// Executes instructions until `insns` reaches `stop_at` (which traps,
    /// CSR writes and stop requests lower to end the block early). The pc
    /// lives in a local here; `self.pc` is exact whenever other code runs.
    ///
    /// Code in a page reachable through the fetch cache runs as decoded
    /// blocks; everything else (instructions crossing a page, non-RAM code,
    /// fetch faults) goes one instruction at a time through [`Self::step`].
    fn exec_block(&mut self) {
        let mut pc = self.pc;
        let mut n = self.insns;
        // The link cell (index + 1) of the compiled block that just ran, with its
        // RAM page and virtual page (see `jit::Link`).
        #[cfg(feature = "jit")]
        let mut fill = (0usize, 0u64, 0u64);
        while n < self.stop_at {
            #[cfg(feature = "jit")]
            let filling = std::mem::take(&mut fill);
            if self.blocks_stale {
                self.flush_blocks();
            }
            let pcu = pc.to_u64();
            if (pcu >> 12 != self.fetch_vpn && !self.fetch_switch(pcu)) || pcu & 0xfff > 0xffc {
                n += 1;
                self.insns = n;
                pc = self.step(pc);
                continue;
            }
            // RAM offset of the block start (the fetch cache maps the whole page to RAM).
            let at = pcu.wrapping_add(self.fetch_addend);
            let bi = Self::block_index(at);
            let gen = self.page_gen.get((at >> 12) as usize).copied();
            if self.heads[bi].at != at || Some(self.heads[bi].gen) != gen {
                // A new block, or its page was written (a store, DMA): decode afresh.
                self.build_block(bi, pcu);
                if self.heads[bi].n == 0 {
                    n += 1;
                    self.insns = n;
                    pc = self.step(pc);
                    continue;
                }
            }
            // Stores into this page end the block right after them, so an
            // instruction the block itself modifies is decoded afresh.
            self.code_page = at & !0xfff;
            // The budget check is per block: the block runs `cnt` ops unless
            // one of them jumps, traps or asks to stop. `insns` is set as if
            // all of them run (a CSR op, the only reader, is always the last
            // one) and corrected on an early exit.
            let blk_n = (self.heads[bi].n as usize).min(BLOCK_MAX);
            if self.stop_at - n < blk_n as u64 {
                // The budget ends inside this block: one instruction at a time.
                n += 1;
                self.insns = n;
                pc = self.step(pc);
                continue;
            }
            #[cfg(feature = "jit")]
            if X::XLEN == 64 && self.jit.is_some() {
                if filling.0 != 0 {
                    // The last compiled block led here: link them.
                    let same = filling.1 == at & !0xfff && filling.2 == pcu & !0xfff;
                    self.link(filling.0, bi, pcu, same);
                }
                if let Some(out) = self.run_compiled(bi, pcu & !0xfff, at & !0xfff, n) {
                    n += out.retired;
                    self.jit_insns += out.retired;
                    self.insns = n;
                    pc = X::Reg::from_u64(out.next);
                    if out.step {
                        n += 1;
                        self.insns = n;
                        pc = self.step(pc);
                    } else {
                        fill = (out.link, out.ram_page, out.page_va);
                    }
                    continue;
                }
            }
            // The budget check is per block, and `insns` is set as if every
            // op runs (a CSR op, the only reader, is always the last one);
            // an early exit (a jump, a trap, a stop request) corrects it.
            self.insns = n + blk_n as u64;
            let blk = &self.blocks[bi];
            let page_va = pcu & !0xfff;
            // The ops are walked by raw pointer up to the block's
            // `BlockEnd`, so the loop keeps little more than the hart, the
            // pointer and the page address live and has no exit test of its own.
            let start = blk.ops.as_ptr();
            let mut p = start;
            let done =
                |p: *const BlockOp| (p as usize - start as usize) / std::mem::size_of::<BlockOp>();
            pc = loop {
                // SAFETY: `p` lies in `ops[..=blk_n]` of block `bi`: it starts
                // at `ops[0]`, and `ops[blk_n]` is a `BlockEnd`
                // (`build_block`), whose `execute` ends the loop. Nothing
                // writes or moves `self.blocks` while the ops run: only
                // `build_block` and `flush_blocks` do, and neither is
                // reachable from `execute` or `raise` (a code write that
                // needs all blocks dropped sets `blocks_stale`, handled
                // between blocks).
                let bop = unsafe { *p };
                // SAFETY: `p` is at most `ops[blk_n]` (above), so `p + 1`
                // is at most one past the end of `ops`.
                p = unsafe { p.add(1) };
                let (op, raw) = (bop.op(), bop.raw);
                let ipc = page_va + bop.poff as u64;
                match self.execute(op, ipc, raw) {
                    Ok(None) => {}
                    Ok(Some(target)) => {
                        if op.k != K::BlockEnd {
                            self.insns = n + done(p) as u64;
                        }
                        break target;
                    }
                    Err(e) => {
                        self.insns = n + done(p) as u64;
                        break self.raise(e, ipc, op.len);
                    }
                }
            };
            n = self.insns;
        }
        self.code_page = u64::MAX;
        self.pc = pc;
    }

    /// Turns the block compiler on or off (it only compiles RV64 code; on
    /// other harts this does nothing). Off drops all compiled code.
    #[cfg(feature = "jit")]
    pub fn set_jit(&mut self, on: bool) -> Result<(), jit::JitError> {
        self.drop_compiled();
        self.jit = if on && X::XLEN == 64 {
            Some(Box::new(jit::Jit::new()?))
        } else {
            None
        };
        Ok(())
    }

    /// Blocks compiled to host code so far.
    #[cfg(feature = "jit")]
    pub fn jit_compiled(&self) -> u64 {
        self.jit.as_ref().map_or(0, |j| j.compiled)
    }

    /// Instructions retired by compiled code so far.
    #[cfg(feature = "jit")]
    pub fn jit_insns(&self) -> u64 {
        self.jit_insns
    }

    /// Forgets every compiled block (their code stays in the arena until it is reset).
    #[cfg(feature = "jit")]
    fn drop_compiled(&mut self) {
        for b in self.heads.iter_mut() {
            b.code = None;
            b.hits = 0;
        }
    }

    /// Forgets every compiled block and empties the arena and the link cells
    /// (they are full).
    #[cfg(feature = "jit")]
    pub(crate) fn reset_compiled(&mut self) {
        self.drop_compiled();
        if let Some(j) = self.jit.as_mut() {
            j.reset();
        }
    }

    /// Runs block `bi` (valid, fitting in the budget at instruction count
    /// `n`, at virtual page `page_va` and RAM page offset `ram_page`) as host
    /// code if it is compiled, and then the compiled blocks its exits are
    /// linked to while they fit in the budget (see [`jit::Link`]). `None`:
    /// interpret it.
    #[cfg(feature = "jit")]
    #[inline(always)]
    fn run_compiled(
        &mut self,
        bi: usize,
        mut page_va: u64,
        mut ram_page: u64,
        n: u64,
    ) -> Option<Compiled> {
        let Some(mut f) = self.heads[bi].code else {
            self.count_run(bi);
            return None;
        };
        let dt = self.data_tlb as usize & 3;
        let mut ctx = jit::JitCtx {
            x: self.x.as_mut_ptr().cast::<u64>(),
            ram: self.ram.as_mut_ptr(),
            ltlb: self.tlb.sets[dt][Access::Load as usize].as_ptr(),
            stlb: self.tlb.sets[dt][Access::Store as usize].as_ptr(),
            page_va,
            pc_out: 0,
        };
        let mut retired = 0;
        loop {
            // SAFETY: `f` is the code of block `bi` as it is now (a rebuild
            // of the slot takes its code only from a compilation of the same
            // RAM bytes: same offset, same page generation), or of a block
            // that a link joins to it, which is as valid (see `jit::Link`),
            // at the virtual page `ctx.page_va` maps to its RAM page; it was
            // compiled for an RV64 hart (`set_jit` makes a compiler only when
            // XLEN is 64, where `X::Reg` is `u64`, so `x` points at 32
            // `u64`s). `ctx` carries pointers to live storage of this hart:
            // the register file, RAM (whose length never changes) and the
            // TLBs of the current data privilege, which nothing else touches
            // while the code runs. The code keeps to the contract in jit.rs:
            // it touches the registers, and RAM only through a matching entry
            // of these TLBs inside its page, exactly like the interpreter's
            // fast path.
            let r = unsafe { f(&mut ctx) };
            retired += r & 0xffff;
            let mut out = Compiled {
                next: ctx.pc_out,
                retired,
                step: r & jit::STEP != 0,
                link: (r >> 32) as usize,
                page_va,
                ram_page,
            };
            if out.step {
                out.link = 0;
                return Some(out);
            }
            let next = out.next;
            let cell = match self.jit.as_deref() {
                Some(j) if out.link != 0 => j.links[out.link - 1],
                _ => return Some(out),
            };
            let Some(g) = cell.code else {
                return Some(out);
            };
            if u64::from(cell.poff) != next & 0xfff
                || self.stop_at.saturating_sub(n + retired) < u64::from(cell.n)
            {
                return Some(out);
            }
            if cell.vpn == u64::MAX {
                // A link within the page.
                if next & !0xfff != page_va {
                    return Some(out);
                }
            } else {
                // A link into another page: the fetch TLB must still map the
                // page to the same RAM, and the page must not have been written.
                let vpn = next >> 12;
                let e = self.tlb.sets[self.prv as usize & 3][Access::Fetch as usize]
                    [(vpn as usize) & (TLB_SIZE - 1)];
                let target = (next & !0xfff).wrapping_add(cell.addend);
                if cell.vpn != vpn
                    || e.tag != vpn
                    || e.addend != cell.addend
                    || self.page_gen.get((target >> 12) as usize) != Some(&cell.gen)
                {
                    return Some(out);
                }
                page_va = next & !0xfff;
                ram_page = target;
                ctx.page_va = page_va;
                self.fetch_vpn = vpn;
                self.fetch_addend = cell.addend;
                self.code_page = ram_page;
            }
            f = g;
        }
    }

    /// Points link cell `link` (index + 1) at block `bi`, which starts at
    /// `pc`, if it is compiled: as a link within the page of the exit's
    /// block when `same`, else as one into the fetch cache's page (see `jit::Link`).
    #[cfg(feature = "jit")]
    fn link(&mut self, link: usize, bi: usize, pc: u64, same: bool) {
        let h = self.heads[bi];
        let (vpn, addend) = if same {
            (u64::MAX, 0)
        } else {
            (self.fetch_vpn, self.fetch_addend)
        };
        if let (Some(code), Some(j)) = (h.code, self.jit.as_deref_mut()) {
            if let Some(cell) = j.links.get_mut(link - 1) {
                *cell = jit::Link {
                    code: Some(code),
                    poff: (pc & 0xfff) as u16,
                    n: h.n as u16,
                    gen: h.gen,
                    vpn,
                    addend,
                };
            }
        }
    }

    /// Counts a run of block `bi`; when it becomes hot, sends it to the
    /// compiler thread. Its code arrives later ([`Self::install_compiled`]).
    #[cfg(feature = "jit")]
    #[cold]
    #[inline(never)]
    fn count_run(&mut self, bi: usize) {
        let head = &mut self.heads[bi];
        if head.hits >= jit::THRESHOLD {
            return;
        }
        head.hits += 1;
        if head.hits < jit::THRESHOLD {
            return;
        }
        let n = (head.n as usize).min(BLOCK_MAX);
        let (at, gen) = (head.at, head.gen);
        let blk = &self.blocks[bi];
        let mut ops = [(decode(0, 64), 0u16); BLOCK_MAX];
        for (d, o) in ops.iter_mut().zip(&blk.ops[..n]) {
            *d = (o.op(), o.poff);
        }
        let end = blk.ops[n].poff;
        let Some(j) = self.jit.as_mut() else {
            return;
        };
        if !j.request(at, gen, &ops[..n], end) {
            // Out of link cells: all code goes, and this block is asked for again.
            self.reset_compiled();
            if let Some(j) = self.jit.as_mut() {
                j.request(at, gen, &ops[..n], end);
            }
        }
    }

    /// Installs the blocks the compiler thread has finished (all of them
    /// that were requested, with `wait`), each into its cache slot if the
    /// slot still holds that block.
    #[cfg(feature = "jit")]
    #[cold]
    #[inline(never)]
    fn install_compiled(&mut self, wait: bool) {
        loop {
            let Some(j) = self.jit.as_mut() else {
                return;
            };
            match j.take(wait) {
                jit::Take::Nothing => return,
                jit::Take::Declined => {}
                jit::Take::Full => self.reset_compiled(),
                jit::Take::Code(c) => {
                    let h = &mut self.heads[Self::block_index(c.at)];
                    if h.at == c.at && h.gen == c.gen {
                        h.code = Some(c.code);
                    }
                }
            }
        }
    }

    /// Waits for the compiler thread to finish every block it was given,
    /// and installs them (for tests and reproducible measurements).
    #[cfg(feature = "jit")]
    pub fn jit_settle(&mut self) {
        self.install_compiled(true);
    }

    /// Handles an `Err` from [`Self::execute`] of the instruction at `pc`
    /// (`len` bytes): an exception traps; [`END_BLOCK`] means the
    /// instruction completed and the block must end after it. Gives the next pc.
    #[cold]
    #[inline(never)]
    fn raise(&mut self, e: Exc, pc: u64, len: u8) -> X::Reg {
        if e.cause == END_BLOCK {
            return X::Reg::from_u64(pc.wrapping_add(len as u64));
        }
        self.pc = X::Reg::from_u64(pc);
        self.exception(e);
        self.pc
    }

    /// Executes the one instruction at `pc` (the count already includes it)
    /// and returns the next pc.
    #[inline(never)]
    fn step(&mut self, pc: X::Reg) -> X::Reg {
        let pcu = pc.to_u64();
        let raw = match self.fetch(pcu) {
            Ok(r) => r,
            Err(e) => {
                self.pc = pc;
                self.exception(e);
                return self.pc;
            }
        };
        let slot = &mut self.icache[(pcu >> 1) as usize & (ICACHE_SIZE - 1)];
        let op = if slot.raw == raw {
            slot.op
        } else {
            let op = decode(raw, X::XLEN);
            *slot = ICacheEntry { raw, op };
            op
        };
        match self.execute(op, pcu, raw) {
            Ok(None) => X::Reg::from_u64(pcu.wrapping_add(op.len as u64)),
            Ok(Some(target)) => target,
            Err(e) => self.raise(e, pcu, op.len),
        }
    }

    /// Decodes the block starting at `pc` into slot `bi`. `pc` lies in the
    /// page the fetch cache maps (`fetch_vpn`), at most 0xffc into it; the
    /// block stops before any instruction whose 4-byte word would leave the page.
    /// Marks the page as code (see [`Self::page_code`]).
    #[cold]
    #[inline(never)]
    fn build_block(&mut self, bi: usize, pc: u64) {
        let base = pc.wrapping_add(self.fetch_addend) as usize;
        let page = base >> 12;
        if page >= self.page_code.len() {
            self.heads[bi].at = u64::MAX;
            self.heads[bi].n = 0;
            return;
        }
        if !self.page_code[page] {
            self.mark_code_page(page);
        }
        let gen = self.page_gen[page];
        let last = 0xffc_usize.saturating_sub((pc & 0xfff) as usize);
        let blk = &mut self.blocks[bi];
        let mut off = 0usize;
        let mut cnt = 0usize;
        while cnt < BLOCK_MAX && off <= last {
            let o = base.wrapping_add(off);
            let Some(raw) = self
                .ram
                .get(o..o.wrapping_add(4))
                .and_then(|s| <[u8; 4]>::try_from(s).ok())
                .map(u32::from_le_bytes)
            else {
                break;
            };
            let op = decode(raw, X::XLEN);
            blk.ops[cnt] = BlockOp::new(op, raw, (pc & 0xfff) as usize + off);
            cnt += 1;
            off += op.len as usize;
            if ends_block(op.k) {
                break;
            }
        }
        blk.ops[cnt] = BlockOp::end(((pc & 0xfff) as usize + off) as u32);
        let head = &mut self.heads[bi];
        head.at = if cnt == 0 { u64::MAX } else { base as u64 };
        head.gen = gen;
        head.n = cnt as u32;
        #[cfg(feature = "jit")]
        {
            // Code compiled before an eviction of this block is still good.
            head.code = self.jit.as_ref().and_then(|j| j.cached(base as u64, gen));
            head.hits = if head.code.is_some() {
                jit::THRESHOLD
            } else {
                0
            };
        }
    }

    /// Marks RAM page `p` as holding decoded code and drops every store-TLB
    /// entry that maps it, so later stores into it take the slow path.
    #[cold]
    fn mark_code_page(&mut self, p: usize) {
        self.page_code[p] = true;
        if self.code_list.len() >= self.page_code.len() {
            let flags = &self.page_code;
            self.code_list.retain(|&q| flags[q as usize]);
            self.code_list.sort_unstable();
            self.code_list.dedup();
        }
        self.code_list.push(p as u32);
        self.tlb.drop_stores_to((p as u64) << 12);
    }

    /// RAM page `p`, which holds decoded blocks, was written: its blocks
    /// become stale, and a block running from it ends after this instruction.
    #[cold]
    #[inline(never)]
    pub(crate) fn code_page_written(&mut self, p: usize) {
        let Some(flag) = self.page_code.get_mut(p) else {
            return;
        };
        *flag = false;
        let g = self.page_gen[p].wrapping_add(1);
        self.page_gen[p] = g;
        if g == 0 {
            // The generation wrapped: a block decoded 2^32 writes ago
            // could match again, so every block goes (after the running one).
            self.blocks_stale = true;
        }
        if (p as u64) << 12 == self.code_page {
            self.code_written = true;
        }
    }

    /// Drops the decoded blocks of the RAM pages that `len` bytes at RAM
    /// offset `off` touch (the range lies inside RAM).
    fn invalidate_ram(&mut self, off: u64, len: u64) {
        if len == 0 {
            return;
        }
        let first = (off >> 12) as usize;
        let last = ((off + len - 1) >> 12) as usize;
        let last = last.min(self.page_code.len().saturating_sub(1));
        if first > last {
            return;
        }
        if last - first >= self.code_list.len() {
            // A wide range: the list of code pages is shorter.
            for i in 0..self.code_list.len() {
                let p = self.code_list[i] as usize;
                if (first..=last).contains(&p) && self.page_code[p] {
                    self.code_page_written(p);
                }
            }
            return;
        }
        for p in first..=last {
            if self.page_code[p] {
                self.code_page_written(p);
            }
        }
    }

    /// Empties every block slot.
    #[cold]
    fn flush_blocks(&mut self) {
        self.blocks_stale = false;
        for b in self.heads.iter_mut() {
            b.at = u64::MAX;
        }
        #[cfg(feature = "jit")]
        if let Some(j) = self.jit.as_mut() {
            j.forget();
        }
    }

    /// Drops every decoded block (RAM may have been written anywhere).
    fn invalidate_all_code(&mut self) {
        let list = std::mem::take(&mut self.code_list);
        for &p in &list {
            if self.page_code[p as usize] {
                self.code_page_written(p as usize);
            }
        }
        self.code_list = list;
        self.code_list.clear();
    }

    #[inline(always)]
    fn wr(&mut self, rd: u8, v: X::Reg) {
        self.x[(rd as usize) & 31] = v;
        self.x[0] = X::Reg::ZERO;
    }

    #[inline(always)]
    fn sext32(v: u64) -> X::Reg {
        X::Reg::from_i64(v as i32 as i64)
    }

    #[inline(always)]
    fn execute(&mut self, op: Op, pc: u64, raw: u32) -> Result<Option<X::Reg>, Exc> {
        let a = rd_x!(self, op.rs1);
        let b = rd_x!(self, op.rs2);
        let imm = X::Reg::from_i64(op.imm as i64);
        let rd = op.rd;
        macro_rules! alu {
            ($v:expr) => {{
                let v = $v;
                self.wr(rd, v);
            }};
        }
        macro_rules! branch {
            ($c:expr) => {{
                return Ok(if $c {
                    Some(X::Reg::from_u64(pc.wrapping_add(op.imm as i64 as u64)))
                } else {
                    None
                });
            }};
        }
        macro_rules! ld {
            ($n:literal, $conv:expr) => {{
                let va = a.add(imm).to_u64();
                let v = self.load::<$n>(va)?;
                let f: fn(u64) -> X::Reg = $conv;
                self.wr(rd, f(v));
            }};
        }
        macro_rules! st {
            ($n:literal) => {{
                let va = a.add(imm).to_u64();
                self.store::<$n>(va, b.to_u64())?;
            }};
        }
        macro_rules! w32 {
            ($e:expr) => {{
                let v: u64 = $e;
                self.wr(rd, Self::sext32(v));
            }};
        }
        let (au, bu) = (a.to_u64(), b.to_u64());
        match op.k {
            K::Lui => alu!(imm),
            K::Auipc => alu!(X::Reg::from_u64(pc).add(imm)),
            K::Jal => {
                self.wr(rd, X::Reg::from_u64(pc.wrapping_add(op.len as u64)));
                return Ok(Some(X::Reg::from_u64(
                    pc.wrapping_add(op.imm as i64 as u64),
                )));
            }
            K::Jalr => {
                let t = a.add(imm).and(X::Reg::from_i64(-2));
                self.wr(rd, X::Reg::from_u64(pc.wrapping_add(op.len as u64)));
                return Ok(Some(t));
            }
            K::Beq => branch!(a == b),
            K::Bne => branch!(a != b),
            K::Blt => branch!(a.lt(b)),
            K::Bge => branch!(!a.lt(b)),
            K::Bltu => branch!(a.ltu(b)),
            K::Bgeu => branch!(!a.ltu(b)),
            K::Lb => ld!(1, |v| X::Reg::from_i64(v as i8 as i64)),
            K::Lh => ld!(2, |v| X::Reg::from_i64(v as i16 as i64)),
            K::Lw => ld!(4, |v| X::Reg::from_i64(v as i32 as i64)),
            K::Ld => ld!(8, |v| X::Reg::from_i64(v as i64)),
            K::Lbu => ld!(1, X::Reg::from_u64),
            K::Lhu => ld!(2, X::Reg::from_u64),
            K::Lwu => ld!(4, X::Reg::from_u64),
            K::Sb => st!(1),
            K::Sh => st!(2),
            K::Sw => st!(4),
            K::Sd => st!(8),
            K::Addi => alu!(a.add(imm)),
            K::Slti => alu!(X::Reg::from_u64(a.lt(imm) as u64)),
            K::Sltiu => alu!(X::Reg::from_u64(a.ltu(imm) as u64)),
            K::Xori => alu!(a.xor(imm)),
            K::Ori => alu!(a.or(imm)),
            K::Andi => alu!(a.and(imm)),
            K::Slli => alu!(a.sll(op.imm as u32)),
            K::Srli => alu!(a.srl(op.imm as u32)),
            K::Srai => alu!(a.sra(op.imm as u32)),
            K::Add => alu!(a.add(b)),
            K::Sub => alu!(a.sub(b)),
            K::Sll => alu!(a.sll(bu as u32)),
            K::Slt => alu!(X::Reg::from_u64(a.lt(b) as u64)),
            K::Sltu => alu!(X::Reg::from_u64(a.ltu(b) as u64)),
            K::Xor => alu!(a.xor(b)),
            K::Srl => alu!(a.srl(bu as u32)),
            K::Sra => alu!(a.sra(bu as u32)),
            K::Or => alu!(a.or(b)),
            K::And => alu!(a.and(b)),
            K::Addiw => w32!(au.wrapping_add(op.imm as i64 as u64)),
            K::Slliw => w32!(((au as u32) << op.imm) as u64),
            K::Srliw => w32!(((au as u32) >> op.imm) as u64),
            K::Sraiw => w32!(((au as i32) >> op.imm) as u64),
            K::Addw => w32!(au.wrapping_add(bu)),
            K::Subw => w32!(au.wrapping_sub(bu)),
            K::Sllw => w32!(((au as u32) << (bu & 31)) as u64),
            K::Srlw => w32!(((au as u32) >> (bu & 31)) as u64),
            K::Sraw => w32!(((au as i32) >> (bu & 31)) as u64),
            K::Mul => alu!(a.mul(b)),
            K::Mulh => alu!(a.mulh(b)),
            K::Mulhsu => alu!(a.mulhsu(b)),
            K::Mulhu => alu!(a.mulhu(b)),
            K::Div => alu!(a.div(b)),
            K::Divu => alu!(a.divu(b)),
            K::Rem => alu!(a.rem(b)),
            K::Remu => alu!(a.remu(b)),
            K::Mulw => w32!((au as u32).wrapping_mul(bu as u32) as u64),
            K::Divw => w32!((au as u32).div(bu as u32) as u64),
            K::Divuw => w32!((au as u32).divu(bu as u32) as u64),
            K::Remw => w32!((au as u32).rem(bu as u32) as u64),
            K::Remuw => w32!((au as u32).remu(bu as u32) as u64),
            K::Fence | K::FenceI => {}
            K::BlockEnd => return Ok(Some(X::Reg::from_u64(pc))),
            K::Illegal
            | K::Ecall
            | K::Ebreak
            | K::Mret
            | K::Sret
            | K::Wfi
            | K::SfenceVma
            | K::Csrrw
            | K::Csrrs
            | K::Csrrc
            | K::Csrrwi
            | K::Csrrsi
            | K::Csrrci
            | K::LrW
            | K::ScW
            | K::AmoW
            | K::LrD
            | K::ScD
            | K::AmoD
            | K::Flw
            | K::Fld
            | K::Fsw
            | K::Fsd
            | K::Fp
            | K::Rv128 => {
                let sys = SysOp {
                    imm: op.imm,
                    k: op.k,
                    rd: op.rd,
                    rs1: op.rs1,
                    rs2: op.rs2,
                };
                return self.execute_system(sys, pc, raw);
            }
        }
        Ok(None)
    }

    /// Everything outside the integer hot set: system, CSR, atomics, floating point.
    /// Like [`Self::execute`]; an instruction that completes with a stop
    /// request pending (a device write, an intercepted ECALL, WFI) returns
    /// the [`END_BLOCK`] marker so the block ends right after it.
    #[inline(never)]
    fn execute_system(&mut self, op: SysOp, pc: u64, raw: u32) -> Result<Option<X::Reg>, Exc> {
        let r = self.execute_system_inner(op, pc, raw);
        if let Ok(None) = r {
            self.stop_check()?;
        }
        r
    }

    fn execute_system_inner(
        &mut self,
        op: SysOp,
        pc: u64,
        raw: u32,
    ) -> Result<Option<X::Reg>, Exc> {
        let illegal = Exc::new(
            EXC_ILLEGAL,
            if raw & 3 == 3 {
                raw as u64
            } else {
                raw as u64 & 0xffff
            },
        );
        let a = rd_x!(self, op.rs1);
        let b = rd_x!(self, op.rs2);
        let rd = op.rd;
        match op.k {
            K::Illegal => return Err(illegal),
            K::Rv128 => return self.execute_rv128(op, illegal),
            K::Ecall => {
                if self.prv == PRV_S && self.sbi_intercept {
                    self.request_stop(Stop::SbiCall);
                    return Ok(None);
                }
                let cause = match self.prv {
                    PRV_U => EXC_ECALL_U,
                    PRV_S => EXC_ECALL_S,
                    _ => EXC_ECALL_M,
                };
                return Err(Exc::new(cause, 0));
            }
            K::Ebreak => return Err(Exc::new(EXC_BREAKPOINT, pc)),
            K::Mret => {
                if self.prv != PRV_M {
                    return Err(illegal);
                }
                let ms = self.c.mstatus;
                let mpp = ((ms & MS_MPP) >> MS_MPP_SHIFT) as u8;
                let mut n = ms & !(MS_MIE | MS_MPP);
                if ms & MS_MPIE != 0 {
                    n |= MS_MIE;
                }
                n |= MS_MPIE;
                if mpp != PRV_M {
                    n &= !MS_MPRV;
                }
                self.c.mstatus = n;
                self.prv = mpp;
                self.switch_pc = self.c.mepc;
                self.after_xret();
                return Ok(Some(X::Reg::from_u64(self.c.mepc)));
            }
            K::Sret => {
                if self.prv == PRV_U || (self.prv == PRV_S && self.c.mstatus & MS_TSR != 0) {
                    return Err(illegal);
                }
                let ms = self.c.mstatus;
                let spp = if ms & MS_SPP != 0 { PRV_S } else { PRV_U };
                let mut n = ms & !(MS_SIE | MS_SPP | MS_MPRV);
                if ms & MS_SPIE != 0 {
                    n |= MS_SIE;
                }
                n |= MS_SPIE;
                self.c.mstatus = n;
                self.prv = spp;
                self.switch_pc = self.c.sepc;
                self.after_xret();
                return Ok(Some(X::Reg::from_u64(self.c.sepc)));
            }
            K::Wfi => {
                if self.prv == PRV_U || (self.prv == PRV_S && self.c.mstatus & MS_TW != 0) {
                    return Err(illegal);
                }
                if self.mip() & self.c.mie == 0 {
                    self.wfi = true;
                    self.request_stop(Stop::Wfi);
                }
                return Ok(None);
            }
            K::SfenceVma => {
                if self.prv == PRV_U || (self.prv == PRV_S && self.c.mstatus & MS_TVM != 0) {
                    return Err(illegal);
                }
                if op.rs1 != 0 {
                    self.flush_tlb_page(a.to_u64() >> 12);
                } else {
                    self.flush_tlb();
                }
            }
            K::Csrrw | K::Csrrs | K::Csrrc | K::Csrrwi | K::Csrrsi | K::Csrrci => {
                let csr = op.imm as u32 & 0xfff;
                let src = match op.k {
                    K::Csrrw | K::Csrrs | K::Csrrc if X::XLEN == 128 => {
                        crate::rv128::csr_narrow(csr, a.to_u128())
                    }
                    K::Csrrw | K::Csrrs | K::Csrrc => a.to_u64(),
                    _ => op.rs1 as u64,
                };
                let writes = matches!(op.k, K::Csrrw | K::Csrrwi) || op.rs1 != 0;
                self.csr_check(csr, writes).map_err(|_| illegal)?;
                // For mip, read-modify-write uses the software-writable SEIP bit only.
                let old = if csr == MIP && !matches!(op.k, K::Csrrw | K::Csrrwi) {
                    (self.mip() & !IRQ_SEI) | (self.c.mip_sw & IRQ_SEI)
                } else if !writes || rd != 0 || !matches!(op.k, K::Csrrw | K::Csrrwi) {
                    self.csr_read(csr).map_err(|_| illegal)?
                } else {
                    0
                };
                // rd gets the full mip (device lines included) in every case.
                let rd_val = if csr == MIP { self.mip() } else { old };
                if writes {
                    let new = match op.k {
                        K::Csrrw | K::Csrrwi => src,
                        K::Csrrs | K::Csrrsi => old | src,
                        _ => old & !src,
                    };
                    self.csr_write(csr, new).map_err(|_| illegal)?;
                    self.end_block();
                }
                if X::XLEN == 128 {
                    let src_hi = match op.k {
                        K::Csrrw | K::Csrrs | K::Csrrc => (a.to_u128() >> 64) as u64,
                        _ => 0,
                    };
                    let hi = self.scratch_hi128(csr, op.k, src_hi, writes);
                    let v = crate::rv128::csr_widen(csr, rd_val) | ((hi as u128) << 64);
                    self.wr(rd, X::Reg::from_u128(v));
                } else {
                    self.wr(rd, X::Reg::from_u64(rd_val));
                }
            }
            K::LrW | K::LrD => {
                let size = if op.k == K::LrW { 4 } else { 8 };
                let va = a.to_u64();
                if va & (size - 1) != 0 {
                    return Err(Exc::new(EXC_LOAD_MISALIGNED, va));
                }
                let pa = self.amo_addr(va, size, Access::Load)?;
                let v = self
                    .phys_read(pa, size as u8)
                    .ok_or(Exc::new(EXC_LOAD_ACCESS, va))?;
                self.reservation = Some(pa);
                self.wr(
                    rd,
                    if size == 4 {
                        Self::sext32(v)
                    } else {
                        X::Reg::from_i64(v as i64)
                    },
                );
            }
            K::ScW | K::ScD => {
                let size = if op.k == K::ScW { 4 } else { 8 };
                let va = a.to_u64();
                if va & (size - 1) != 0 {
                    return Err(Exc::new(EXC_STORE_MISALIGNED, va));
                }
                let pa = self.amo_addr(va, size, Access::Store)?;
                let ok = self.reservation == Some(pa);
                self.reservation = None;
                if ok && !self.phys_write(pa, size as u8, b.to_u64()) {
                    return Err(Exc::new(EXC_STORE_ACCESS, va));
                }
                self.wr(rd, X::Reg::from_u64(!ok as u64));
            }
            K::AmoW | K::AmoD => {
                let size = if op.k == K::AmoW { 4 } else { 8 };
                let va = a.to_u64();
                if va & (size - 1) != 0 {
                    return Err(Exc::new(EXC_STORE_MISALIGNED, va));
                }
                let pa = self.amo_addr(va, size, Access::Store)?;
                let old = self
                    .phys_read(pa, size as u8)
                    .ok_or(Exc::new(EXC_STORE_ACCESS, va))?;
                let src = b.to_u64();
                let (o, s) = if size == 4 {
                    (old as i32 as i64 as u64, src as i32 as i64 as u64)
                } else {
                    (old, src)
                };
                let new = match op.imm {
                    0x00 => o.wrapping_add(s),
                    0x01 => s,
                    0x04 => o ^ s,
                    0x08 => o | s,
                    0x0c => o & s,
                    0x10 => (o as i64).min(s as i64) as u64,
                    0x14 => (o as i64).max(s as i64) as u64,
                    0x18 => o.min(s),
                    _ => o.max(s),
                };
                if !self.phys_write(pa, size as u8, new) {
                    return Err(Exc::new(EXC_STORE_ACCESS, va));
                }
                self.wr(
                    rd,
                    if size == 4 {
                        Self::sext32(old)
                    } else {
                        X::Reg::from_i64(old as i64)
                    },
                );
            }
            K::Flw | K::Fld => {
                if self.c.mstatus & MS_FS == 0 {
                    return Err(illegal);
                }
                let va = a.to_u64().wrapping_add(op.imm as i64 as u64);
                let v = if op.k == K::Flw {
                    self.load::<4>(va)? | 0xffff_ffff_0000_0000
                } else {
                    self.load::<8>(va)?
                };
                self.fp.f[rd as usize & 31] = v;
                if X::XLEN == 128 {
                    // FLEN 128 (Q): NaN-boxed to 128 bits.
                    self.fp.hi[rd as usize & 31] = u64::MAX;
                }
                self.c.mstatus |= MS_FS;
            }
            K::Fsw | K::Fsd => {
                if self.c.mstatus & MS_FS == 0 {
                    return Err(illegal);
                }
                let va = a.to_u64().wrapping_add(op.imm as i64 as u64);
                let v = self.fp.f[op.rs2 as usize & 31];
                if op.k == K::Fsw {
                    self.store::<4>(va, v)?;
                } else {
                    self.store::<8>(va, v)?;
                }
            }
            K::Fp => {
                if self.c.mstatus & MS_FS == 0 {
                    return Err(illegal);
                }
                let flags = self.fp.fflags;
                if X::XLEN == 128 {
                    // FLEN 128: F, D and Q (fp::execute128).
                    match fp::execute128(&mut self.fp, raw, a.to_u128()) {
                        FpOutcome128::Illegal => return Err(illegal),
                        FpOutcome128::WroteF => self.c.mstatus |= MS_FS,
                        FpOutcome128::WroteX(v) => {
                            self.wr(rd, X::Reg::from_u128(v));
                            if self.fp.fflags != flags {
                                self.c.mstatus |= MS_FS;
                            }
                        }
                    }
                    return Ok(None);
                }
                match fp::execute(&mut self.fp, raw, a.to_u64(), X::XLEN) {
                    FpOutcome::Illegal => return Err(illegal),
                    FpOutcome::WroteF => self.c.mstatus |= MS_FS,
                    FpOutcome::WroteX(v) => {
                        // Sign-extended to 64 bits by fp.rs; on to 128 at XLEN 128.
                        self.wr(rd, X::Reg::from_i64(v as i64));
                        if self.fp.fflags != flags {
                            self.c.mstatus |= MS_FS;
                        }
                    }
                }
            }
            _ => return Err(illegal),
        }
        Ok(None)
    }

    fn after_xret(&mut self) {
        self.update_data_prv();
        self.fetch_vpn = u64::MAX;
        self.end_block();
        if self.xlen_switch {
            self.check_xlen_at(true);
        }
    }

    // ---- CSRs -----------------------------------------------------------------------------

    /// Privilege and read-only checks of a CSR access.
    fn csr_check(&self, csr: u32, writes: bool) -> Result<(), ()> {
        if (csr >> 8) & 3 > self.prv as u32 {
            return Err(());
        }
        if writes && csr >> 10 == 3 {
            return Err(());
        }
        Ok(())
    }

    fn counter_allowed(&self, idx: u32) -> bool {
        let bit = 1u64 << (idx & 31);
        match self.prv {
            PRV_M => true,
            PRV_S => self.c.mcounteren & bit != 0,
            _ => self.c.mcounteren & bit != 0 && self.c.scounteren & bit != 0,
        }
    }

    // `insns` already counts the executing instruction: a CSR read sees the
    // count before it, and a write sets the count after it ("the write is
    // done instead of the increment").
    fn cycle(&self) -> u64 {
        if self.c.mcountinhibit & 1 != 0 {
            return self.c.cycle_frozen;
        }
        self.insns.wrapping_sub(1).wrapping_add(self.c.cycle_off)
    }
    fn instret(&self) -> u64 {
        if self.c.mcountinhibit & 4 != 0 {
            return self.c.instret_frozen;
        }
        self.insns.wrapping_sub(1).wrapping_add(self.c.instret_off)
    }
    /// Sets mcycle to `v` as of the end of the executing instruction.
    fn set_cycle(&mut self, v: u64) {
        self.c.cycle_frozen = v;
        self.c.cycle_off = v.wrapping_sub(self.insns);
    }
    /// Sets minstret to `v` as of the end of the executing instruction.
    fn set_instret(&mut self, v: u64) {
        self.c.instret_frozen = v;
        self.c.instret_off = v.wrapping_sub(self.insns);
    }

    fn fs_on(&self) -> Result<(), ()> {
        if self.c.mstatus & MS_FS == 0 {
            Err(())
        } else {
            Ok(())
        }
    }

    fn mstatus_view(&self) -> u64 {
        let ms = self.c.mstatus;
        let dirty = ms & MS_FS == MS_FS;
        if X::XLEN == 32 {
            (ms & 0x7fff_ffff) | ((dirty as u64) << 31)
        } else {
            ms | ((dirty as u64) << 63)
        }
    }

    fn stimecmp_allowed(&self) -> bool {
        self.prv == PRV_M || (self.c.menvcfg & MENVCFG_STCE != 0 && self.c.mcounteren & 2 != 0)
    }

    /// Reads a CSR (after [`Self::csr_check`]).
    pub(crate) fn csr_read(&self, csr: u32) -> Result<u64, ()> {
        let rv32 = X::XLEN == 32;
        let v = match csr {
            FFLAGS => {
                self.fs_on()?;
                self.fp.fflags as u64
            }
            FRM => {
                self.fs_on()?;
                self.fp.frm as u64
            }
            FCSR => {
                self.fs_on()?;
                ((self.fp.frm as u64) << 5) | self.fp.fflags as u64
            }
            0xc00..=0xc1f | 0xc80..=0xc9f => {
                if (csr >= 0xc80 && !rv32) || !self.counter_allowed(csr) {
                    return Err(());
                }
                let v = match csr & 0x1f {
                    0 => self.cycle(),
                    1 => self.time,
                    2 => self.instret(),
                    _ => 0,
                };
                if csr >= 0xc80 {
                    v >> 32
                } else {
                    v
                }
            }
            SSTATUS => {
                let m = SSTATUS_RMASK
                    | if rv32 {
                        1 << 31
                    } else {
                        (1 << 63) | (3 << MS_UXL_SHIFT)
                    };
                self.mstatus_view() & m
            }
            SIE => self.c.mie & self.c.mideleg,
            STVEC => self.c.stvec,
            SCOUNTEREN => self.c.scounteren,
            SENVCFG => self.c.senvcfg,
            SSCRATCH => self.c.sscratch,
            SEPC => self.c.sepc,
            SCAUSE => self.c.scause,
            STVAL => self.c.stval,
            SIP => self.mip() & self.c.mideleg,
            STIMECMP | STIMECMPH => {
                if (csr == STIMECMPH && !rv32) || !self.stimecmp_allowed() {
                    return Err(());
                }
                if csr == STIMECMPH {
                    self.c.stimecmp >> 32
                } else {
                    self.c.stimecmp
                }
            }
            SATP => {
                if self.prv == PRV_S && self.c.mstatus & MS_TVM != 0 {
                    return Err(());
                }
                self.c.satp
            }
            MVENDORID | MARCHID | MIMPID | MCONFIGPTR => 0,
            MHARTID => self.hartid,
            MSTATUS => self.mstatus_view(),
            MSTATUSH if rv32 => 0,
            MISA => {
                // A C D F I M S U, and Q at XLEN 128 (where FLEN is 128).
                let q = if X::XLEN == 128 { 1 << 16 } else { 0 };
                let ext = q
                    | (1 << 0)
                    | (1 << 2)
                    | (1 << 3)
                    | (1 << 5)
                    | (1 << 8)
                    | (1 << 12)
                    | (1 << 18)
                    | (1 << 20);
                // At XLEN 128, bits 63:62 stand for MXL at 127:126 (rv128::csr_widen).
                (self.c.mxl << (X::XLEN.min(64) - 2)) | ext
            }
            MEDELEG => self.c.medeleg,
            MIDELEG => self.c.mideleg,
            MIE => self.c.mie,
            MTVEC => self.c.mtvec,
            MCOUNTEREN => self.c.mcounteren,
            MENVCFG => self.c.menvcfg,
            MENVCFGH if rv32 => self.c.menvcfg >> 32,
            MCOUNTINHIBIT => self.c.mcountinhibit,
            0x323..=0x33f => 0,
            MSCRATCH => self.c.mscratch,
            MEPC => self.c.mepc,
            MCAUSE => self.c.mcause,
            MTVAL => self.c.mtval,
            MIP => self.mip(),
            MTINST => 0,
            MSECCFG => 0,
            0x3a0..=0x3af => {
                let n = csr - PMPCFG0;
                if !rv32 && n & 1 != 0 {
                    return Err(());
                }
                let per = if rv32 { 4 } else { 8 };
                let first = (n * 4) as usize;
                let mut v = 0u64;
                for i in 0..per {
                    let e = first + i;
                    let b = if e < 16 { self.c.pmpcfg[e] } else { 0 };
                    v |= (b as u64) << (8 * i);
                }
                v
            }
            0x3b0..=0x3ef => {
                let n = (csr - PMPADDR0) as usize;
                if n < 16 {
                    self.c.pmpaddr[n]
                } else {
                    0
                }
            }
            MCYCLE => self.cycle(),
            MINSTRET => self.instret(),
            0xb03..=0xb1f => 0,
            MCYCLEH if rv32 => self.cycle() >> 32,
            MINSTRETH if rv32 => self.instret() >> 32,
            0xb83..=0xb9f if rv32 => 0,
            _ => return Err(()),
        };
        Ok(if rv32 { v & 0xffff_ffff } else { v })
    }

    /// Writes a CSR (after [`Self::csr_check`]), applying its WARL rules.
    pub(crate) fn csr_write(&mut self, csr: u32, v: u64) -> Result<(), ()> {
        let rv32 = X::XLEN == 32;
        let v = if rv32 { v & 0xffff_ffff } else { v };
        let lo32 = |old: u64| (old & !0xffff_ffff) | v;
        let hi32 = |old: u64| (old & 0xffff_ffff) | (v << 32);
        match csr {
            FFLAGS => {
                self.fs_on()?;
                self.fp.fflags = (v & 0x1f) as u8;
                self.c.mstatus |= MS_FS;
            }
            FRM => {
                self.fs_on()?;
                self.fp.frm = (v & 7) as u8;
                self.c.mstatus |= MS_FS;
            }
            FCSR => {
                self.fs_on()?;
                self.fp.fflags = (v & 0x1f) as u8;
                self.fp.frm = ((v >> 5) & 7) as u8;
                self.c.mstatus |= MS_FS;
            }
            SSTATUS => {
                let old = self.c.mstatus;
                self.c.mstatus = (old & !SSTATUS_WMASK) | (v & SSTATUS_WMASK);
                self.status_changed(old);
            }
            SIE => {
                let m = self.c.mideleg;
                self.c.mie = (self.c.mie & !m) | (v & m);
            }
            STVEC => self.c.stvec = v & !2,
            SCOUNTEREN => self.c.scounteren = v & 0xffff_ffff,
            SENVCFG => self.c.senvcfg = v & ENVCFG_FIOM,
            SSCRATCH => self.c.sscratch = v,
            SEPC => self.c.sepc = v & !1,
            SCAUSE => self.c.scause = v,
            STVAL => self.c.stval = v,
            SIP => {
                let m = self.c.mideleg & IRQ_SSI;
                self.c.mip_sw = (self.c.mip_sw & !m) | (v & m);
            }
            STIMECMP | STIMECMPH => {
                if (csr == STIMECMPH && !rv32) || !self.stimecmp_allowed() {
                    return Err(());
                }
                self.c.stimecmp = if csr == STIMECMPH {
                    hi32(self.c.stimecmp)
                } else if rv32 {
                    lo32(self.c.stimecmp)
                } else {
                    v
                };
            }
            SATP => {
                if self.prv == PRV_S && self.c.mstatus & MS_TVM != 0 {
                    return Err(());
                }
                let ok = if rv32 {
                    true
                } else {
                    matches!(v >> 60, 0 | 8 | 9)
                };
                if ok {
                    self.c.satp = v;
                    self.flush_tlb();
                }
            }
            MVENDORID | MARCHID | MIMPID | MHARTID | MCONFIGPTR => return Err(()),
            MSTATUS => {
                let old = self.c.mstatus;
                let mut n = (old & !MSTATUS_WMASK) | (v & MSTATUS_WMASK);
                if rv32 {
                    n = (n & 0xffff_ffff) | (old & !0xffff_ffff);
                }
                // MPP is WARL: the reserved value 2 keeps the old MPP.
                if (n & MS_MPP) >> MS_MPP_SHIFT == 2 {
                    n = (n & !MS_MPP) | (old & MS_MPP);
                }
                if self.xlen_switch && !rv32 {
                    n = self.warl_sxl_uxl(n, old, v);
                }
                self.c.mstatus = n;
                self.status_changed(old);
                if self.xlen_switch {
                    self.check_xlen();
                }
            }
            MSTATUSH if rv32 => {}
            MISA => {
                if self.xlen_switch {
                    self.write_mxl((v >> (X::XLEN.min(64) - 2)) & 3);
                }
            }
            MEDELEG => self.c.medeleg = v & MEDELEG_MASK,
            MIDELEG => self.c.mideleg = v & S_IRQS,
            MIE => self.c.mie = v & ALL_IRQS,
            MTVEC => self.c.mtvec = v & !2,
            MCOUNTEREN => self.c.mcounteren = v & 0xffff_ffff,
            MENVCFG => {
                let m = ENVCFG_FIOM | MENVCFG_STCE;
                let nv = if rv32 { lo32(self.c.menvcfg) } else { v };
                self.c.menvcfg = nv & m;
            }
            MENVCFGH if rv32 => {
                self.c.menvcfg = hi32(self.c.menvcfg) & (ENVCFG_FIOM | MENVCFG_STCE)
            }
            MCOUNTINHIBIT => {
                // Freeze or resume: the counters keep their value across the change.
                let (cy, ir) = (self.cycle(), self.instret());
                self.c.mcountinhibit = v & 5;
                self.set_cycle(cy);
                self.set_instret(ir);
            }
            0x323..=0x33f | MTINST | MSECCFG => {}
            MSCRATCH => self.c.mscratch = v,
            MEPC => self.c.mepc = v & !1,
            MCAUSE => self.c.mcause = v,
            MTVAL => self.c.mtval = v,
            MIP => {
                let mut m = IRQ_SSI | IRQ_SEI;
                if self.c.menvcfg & MENVCFG_STCE == 0 {
                    m |= IRQ_STI;
                }
                self.c.mip_sw = (self.c.mip_sw & !m) | (v & m);
            }
            0x3a0..=0x3af => {
                let n = csr - PMPCFG0;
                if !rv32 && n & 1 != 0 {
                    return Err(());
                }
                let per = if rv32 { 4 } else { 8 };
                let first = (n * 4) as usize;
                for i in 0..per {
                    let e = first + i;
                    if e >= 16 || self.c.pmpcfg[e] & crate::mmu::PMP_L != 0 {
                        continue;
                    }
                    let mut b = (v >> (8 * i)) as u8 & 0x9f;
                    // R=0, W=1 is reserved: keep the entry's old permissions.
                    if b & 3 == 2 {
                        b = (b & !7) | (self.c.pmpcfg[e] & 7);
                    }
                    self.c.pmpcfg[e] = b;
                }
                self.pmp_recompute();
            }
            0x3b0..=0x3ef => {
                let n = (csr - PMPADDR0) as usize;
                if n < 16 {
                    let locked = self.c.pmpcfg[n] & crate::mmu::PMP_L != 0
                        || (n + 1 < 16
                            && self.c.pmpcfg[n + 1] & crate::mmu::PMP_L != 0
                            && (self.c.pmpcfg[n + 1] >> crate::mmu::PMP_A_SHIFT) & 3 == 1);
                    if !locked {
                        self.c.pmpaddr[n] = if rv32 { v } else { v & ((1 << 54) - 1) };
                        self.pmp_recompute();
                    }
                }
            }
            MCYCLE => {
                let nv = if rv32 { lo32(self.cycle()) } else { v };
                self.set_cycle(nv);
            }
            MINSTRET => {
                // The write replaces this instruction's own increment.
                let nv = if rv32 { lo32(self.instret()) } else { v };
                self.set_instret(nv);
            }
            MCYCLEH if rv32 => self.set_cycle(hi32(self.cycle())),
            MINSTRETH if rv32 => self.set_instret(hi32(self.instret())),
            0xb03..=0xb1f => {}
            0xb83..=0xb9f if rv32 => {}
            _ => {
                // Read-only counters and the rest: valid only if readable (checked by csr_check).
                self.csr_read(csr)?;
                return Err(());
            }
        }
        Ok(())
    }

    fn status_changed(&mut self, old: u64) {
        let n = self.c.mstatus;
        // SUM selects a TLB set of its own (update_data_prv); MXR changes
        // what loads may read through every cached entry.
        if (old ^ n) & MS_MXR != 0 {
            self.flush_tlb();
        }
        self.update_data_prv();
    }

    /// Converts this hart into one of another XLEN, keeping all state. A
    /// register keeps the upper bits it had before the last narrowing when
    /// its low bits are unchanged since; otherwise it is sign-extended
    /// (docs/rv128.md, "Switching XLEN").
    pub fn convert<Y: Xlen>(self) -> Hart<Y, B> {
        // The 128-bit view of every register.
        let mut full = [0u128; 32];
        for (i, f) in full.iter_mut().enumerate() {
            let v = self.x[i].to_u128();
            let sext = if X::XLEN == 128 {
                v
            } else {
                ((v << (128 - X::XLEN)) as i128 >> (128 - X::XLEN)) as u128
            };
            *f = match &self.saved_x {
                Some(s) if X::XLEN < 128 && X::Reg::from_u128(s[i]).to_u128() == v => s[i],
                _ => sext,
            };
        }
        // FLEN is 128 at XLEN 128 and 64 below. Narrower code sees bits 63:0 of
        // the f registers; back at 128, a register it wrote (its low bits
        // changed) holds a binary32/64 value, so it becomes NaN-boxed to 128
        // bits, and the others keep their upper bits (like the x registers).
        let mut fp = self.fp;
        let saved_f = match (X::XLEN == 128, Y::XLEN == 128) {
            (true, false) => Some(Box::new(fp.f)),
            (false, false) => self.saved_f,
            (false, true) => {
                for r in 0..32 {
                    if self.saved_f.as_ref().is_none_or(|s| s[r] != fp.f[r]) {
                        fp.hi[r] = u64::MAX;
                    }
                }
                None
            }
            (true, true) => None,
        };
        let (heads, blocks) = new_blocks(Y::XLEN);
        let mut h = Hart::<Y, B> {
            x: [Y::Reg::ZERO; 32],
            pc: if self.switch_pc_valid {
                Y::Reg::from_u64(self.switch_pc)
            } else {
                Y::Reg::from_i64(self.pc.to_i64())
            },
            fp,
            saved_f,
            prv: self.prv,
            bus: self.bus,
            ram: self.ram,
            ram_base: self.ram_base,
            overlays: self.overlays,
            c: self.c,
            tlb: self.tlb,
            pmp: self.pmp,
            pmp_n: self.pmp_n,
            icache: new_icache(Y::XLEN),
            heads,
            blocks,
            // Compiled code belongs to the old blocks; the compiler itself
            // goes on only at XLEN 64.
            #[cfg(feature = "jit")]
            jit: if Y::XLEN == 64 { self.jit } else { None },
            #[cfg(feature = "jit")]
            jit_insns: self.jit_insns,
            fetch_vpn: u64::MAX,
            fetch_addend: 0,
            code_page: u64::MAX,
            code_written: false,
            page_gen: self.page_gen,
            page_code: self.page_code,
            code_list: self.code_list,
            blocks_stale: false,
            data_prv: self.data_prv,
            data_tlb: self.data_tlb,
            reservation: None,
            time: self.time,
            lines: self.lines,
            sbi_intercept: self.sbi_intercept,
            insns: self.insns,
            stop_at: 0,
            pending_stop: None,
            wfi: self.wfi,
            hartid: self.hartid,
            xlen_switch: self.xlen_switch,
            pending_xlen: 0,
            switch_pc: 0,
            switch_pc_valid: false,
            saved_x: if Y::XLEN < 128 {
                Some(Box::new(full))
            } else {
                None
            },
        };
        for (x, f) in h.x.iter_mut().zip(full) {
            *x = Y::Reg::from_u128(f);
        }
        h.flush_tlb();
        h
    }
}
