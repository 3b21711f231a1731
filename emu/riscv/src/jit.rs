//! A block compiler for RV64 harts (feature `jit`, native hosts only).
//!
//! A decoded block ([`crate::hart`]) that has run [`THRESHOLD`] times is
//! translated, through Cranelift, into host code with the signature of
//! [`JitFn`]. The host code covers the integer core of the block (RV64I and
//! M: ALU ops, loads, stores, branches, jumps); everything else (CSRs,
//! system instructions, atomics, floating point, FENCE.I, illegal words) and
//! every memory access that misses the TLB fast path leaves the host code
//! with [`STEP`] set, and the hart runs that one instruction through its
//! interpreter. So the compiled code never faults, never calls back into
//! Rust, and needs nothing but the register file, RAM and the load and store
//! TLBs of the current data privilege.
//!
//! # Contract of compiled code
//! - It reads and writes `x[1..32]` through [`JitCtx::x`] (x0 is never
//!   written) and RAM only at `ram + va + addend` for a TLB entry whose tag
//!   matches `va >> 12` and with `va & 0xfff <= 4096 - size`: the same check
//!   and the same TLB as the interpreter's fast path ([`crate::hart`]), whose
//!   invariant (an entry maps a virtual page to a RAM page) makes the access
//!   lie in RAM.
//! - It retires instructions strictly in order and returns how many
//!   (`ret & 0xffff`); [`JitCtx::pc_out`] is the pc after the last one,
//!   which is the pc of an instruction that did not run when `ret & STEP`.
//!   Otherwise `ret >> 32`, when not 0, is 1 + the index of the exit's
//!   [`Link`]: the hart records there the compiled block it found next, and
//!   the next time goes straight to it (see [`Link`]).
//! - pc-relative values come from [`JitCtx::page_va`], the virtual page the
//!   block runs from: blocks are keyed by RAM offset, and the same code may be
//!   mapped at several addresses.
//!
//! Host code lives in one executable arena; when it fills, the hart drops
//! every compiled block and the arena starts again from the beginning.

use crate::decode::{Op, K};
use crate::mmu::{TlbEntry, TLB_SIZE};
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{
    AbiParam, Endianness, Function, InstBuilder, MemFlagsData, Signature, UserFuncName, Value,
};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::{settings, settings::Configurable, Context};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::mpsc;

/// Executions of a decoded block before it is compiled.
pub(crate) const THRESHOLD: u32 = 256;

/// Flag in the return value of compiled code: the instruction at
/// [`JitCtx::pc_out`] must run in the interpreter before anything else.
pub(crate) const STEP: u64 = 1 << 16;

/// Link cells (8 MiB); when they run out, all code goes as when the arena fills.
const LINKS: usize = 1 << 18;

/// Where an exit of a compiled block last led: the compiled block at page
/// offset `poff` (`u16::MAX`: nothing yet), with `n` ops, either in the
/// same page as the exit's block (`vpn == u64::MAX`) or in virtual page
/// `vpn`, which the fetch TLB mapped with `addend` to a RAM page of code
/// generation `gen`.
///
/// Following a link skips the block lookup. A link within a page is sound
/// because it joins blocks of one RAM page decoded at one code generation:
/// a chain starts at a block the lookup found valid (its page's generation
/// is the one it was decoded at), and then so is every block such links
/// reach, which were decoded from the same page at the same generation, at
/// the same offset from whatever virtual page maps it. A link into another
/// page is followed only while the fetch TLB of the current privilege still
/// maps `vpn` with `addend` and that RAM page still has generation `gen`.
/// Nothing in compiled code writes a code page (stores into one leave
/// through [`STEP`]) or changes a translation, so a chain cannot invalidate
/// itself. Link cells belong to the code that uses them and are cleared with it.
#[derive(Clone, Copy)]
pub(crate) struct Link {
    pub code: Option<JitFn>,
    pub poff: u16,
    pub n: u16,
    pub gen: u32,
    pub vpn: u64,
    pub addend: u64,
}

const NO_LINK: Link = Link {
    code: None,
    poff: u16::MAX,
    n: 0,
    gen: 0,
    vpn: u64::MAX,
    addend: 0,
};

/// Size of the executable arena.
const ARENA: usize = 32 << 20;

/// What compiled code gets; `repr(C)` because the code reads it by offset.
#[repr(C)]
pub(crate) struct JitCtx {
    /// The integer registers (32 × u64).
    pub x: *mut u64,
    /// Host address of RAM offset 0.
    pub ram: *mut u8,
    /// The load TLB of the current data privilege (`TLB_SIZE` entries).
    pub ltlb: *const TlbEntry,
    /// The store TLB of the current data privilege (`TLB_SIZE` entries).
    pub stlb: *const TlbEntry,
    /// Virtual address of the page the block runs from.
    pub page_va: u64,
    /// Out: the pc to continue at.
    pub pc_out: u64,
}

const CTX_X: i32 = 0;
const CTX_RAM: i32 = 8;
const CTX_LTLB: i32 = 16;
const CTX_STLB: i32 = 24;
const CTX_PAGE_VA: i32 = 32;
const CTX_PC_OUT: i32 = 40;
const _: () = {
    assert!(std::mem::offset_of!(JitCtx, x) == CTX_X as usize);
    assert!(std::mem::offset_of!(JitCtx, ram) == CTX_RAM as usize);
    assert!(std::mem::offset_of!(JitCtx, ltlb) == CTX_LTLB as usize);
    assert!(std::mem::offset_of!(JitCtx, stlb) == CTX_STLB as usize);
    assert!(std::mem::offset_of!(JitCtx, page_va) == CTX_PAGE_VA as usize);
    assert!(std::mem::offset_of!(JitCtx, pc_out) == CTX_PC_OUT as usize);
    assert!(std::mem::size_of::<TlbEntry>() == 16);
    assert!(std::mem::offset_of!(TlbEntry, tag) == 0);
    assert!(std::mem::offset_of!(TlbEntry, addend) == 8);
};

/// Compiled code for one block.
pub(crate) type JitFn = unsafe extern "C" fn(*mut JitCtx) -> u64;

/// Why the block compiler could not start.
#[derive(Debug, thiserror::Error)]
pub enum JitError {
    /// Cranelift does not know this host.
    #[error("no code generator for this host: {0}")]
    Host(String),
    /// The executable arena could not be mapped.
    #[error("cannot map executable memory: {0}")]
    Memory(#[from] region::Error),
    /// The compiler thread could not be started.
    #[error("cannot start the compiler thread: {0}")]
    Thread(std::io::Error),
}

/// The block compiler as the hart sees it: a worker thread that compiles
/// ([`Compiler`]) and the executable arena its code is copied into here, on
/// the hart's thread, between blocks.
pub(crate) struct Jit {
    arena: region::Allocation,
    used: usize,
    /// The code of every block installed since the last reset, by RAM offset
    /// of its first instruction, with the code generation of its page then
    /// (see [`crate::hart`]): a block decoded again into its cache slot after
    /// an eviction finds its code here instead of being compiled again.
    codes: HashMap<u64, (u32, JitFn), BuildHasherDefault<OffsetHasher>>,
    /// Blocks sent to the worker and not yet back.
    queued: HashMap<u64, u32, BuildHasherDefault<OffsetHasher>>,
    jobs: mpsc::Sender<Job>,
    done: mpsc::Receiver<Done>,
    /// The link cells of all code ([`Link`]); code gets its cells when requested.
    pub(crate) links: Box<[Link]>,
    next_link: usize,
    /// Bumped by [`Jit::reset`] and [`Jit::forget`]: code requested before
    /// is not installed, since its link cells may have gone to other code
    /// or its page generation may stand for other bytes by then.
    epoch: u64,
    /// Blocks installed since the hart was made (statistics).
    pub compiled: u64,
}

/// A block for the worker: its RAM offset and page generation, its ops
/// with their page offsets, and the page offset it falls through to.
struct Job {
    at: u64,
    gen: u32,
    epoch: u64,
    /// The index of the block's first link cell.
    link_base: u32,
    ops: Vec<(Op, u16)>,
    end_poff: u16,
}

/// The worker's answer: the machine code, or `None` (the block starts with
/// an op left to the interpreter, or the compiler declined).
struct Done {
    at: u64,
    gen: u32,
    epoch: u64,
    code: Option<Vec<u8>>,
}

/// A compiled block ready to run, from [`Jit::take`].
pub(crate) struct Installed {
    pub at: u64,
    pub gen: u32,
    pub code: JitFn,
}

/// What [`Jit::take`] found.
pub(crate) enum Take {
    /// Nothing more is back from the worker.
    Nothing,
    /// A block that stays interpreted.
    Declined,
    /// A block with its code.
    Code(Installed),
    /// The arena is full: drop every compiled block and [`Jit::reset`].
    Full,
}

impl Jit {
    pub(crate) fn new() -> Result<Jit, JitError> {
        let mut compiler = Compiler::new()?;
        let arena = region::alloc(ARENA, region::Protection::READ_EXECUTE)?;
        let (jobs, jobs_rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel::<Done>();
        std::thread::Builder::new()
            .name("vf-jit".into())
            .spawn(move || {
                // Ends when the hart drops its `Jit` (the job channel closes).
                while let Ok(job) = jobs_rx.recv() {
                    let code = compiler.compile(&job.ops, job.end_poff, job.link_base);
                    let answer = Done {
                        at: job.at,
                        gen: job.gen,
                        epoch: job.epoch,
                        code,
                    };
                    if done_tx.send(answer).is_err() {
                        break;
                    }
                }
            })
            .map_err(JitError::Thread)?;
        Ok(Jit {
            arena,
            used: 0,
            codes: HashMap::default(),
            queued: HashMap::default(),
            jobs,
            done,
            links: vec![NO_LINK; LINKS].into_boxed_slice(),
            next_link: 0,
            epoch: 0,
            compiled: 0,
        })
    }

    /// Whether compiled blocks are on their way back from the worker.
    #[inline]
    pub(crate) fn pending(&self) -> bool {
        !self.queued.is_empty()
    }

    /// Forgets all code; the caller has dropped every [`JitFn`] into the arena.
    pub(crate) fn reset(&mut self) {
        self.used = 0;
        self.codes.clear();
        self.links.fill(NO_LINK);
        self.next_link = 0;
        self.epoch += 1;
    }

    /// Forgets which blocks have code, keeping the code, and drops what is
    /// being compiled: page generations wrapped, so a generation no longer
    /// tells which bytes a block was decoded from.
    pub(crate) fn forget(&mut self) {
        self.codes.clear();
        self.epoch += 1;
    }

    /// The code of the block at RAM offset `at` decoded at page generation `gen`, if compiled.
    pub(crate) fn cached(&self, at: u64, gen: u32) -> Option<JitFn> {
        match self.codes.get(&at) {
            Some(&(g, f)) if g == gen => Some(f),
            _ => None,
        }
    }

    /// Sends the block at RAM offset `at`, decoded at page generation
    /// `gen`, to the worker: `ops` with their page offsets, and the page
    /// offset the block falls through to after the last one.
    /// `false`: the link cells ran out (drop every compiled block, [`Jit::reset`]).
    pub(crate) fn request(&mut self, at: u64, gen: u32, ops: &[(Op, u16)], end_poff: u16) -> bool {
        if self.queued.get(&at) == Some(&gen) {
            return true;
        }
        let exits = 1 + ops.iter().filter(|(op, _)| is_branch(op.k)).count();
        if self.next_link + exits > LINKS {
            return false;
        }
        let job = Job {
            at,
            gen,
            epoch: self.epoch,
            link_base: self.next_link as u32,
            ops: ops.to_vec(),
            end_poff,
        };
        self.next_link += exits;
        // A worker that is gone (it panicked) leaves the block interpreted.
        if self.jobs.send(job).is_ok() {
            self.queued.insert(at, gen);
        }
        true
    }

    /// Takes one block back from the worker and installs its code in the
    /// arena; with `wait`, waits for one if any is still being compiled.
    pub(crate) fn take(&mut self, wait: bool) -> Take {
        let r = if wait && self.pending() {
            self.done.recv().ok()
        } else {
            self.done.try_recv().ok()
        };
        let Some(d) = r else {
            return Take::Nothing;
        };
        if self.queued.get(&d.at) == Some(&d.gen) {
            self.queued.remove(&d.at);
        }
        let Some(bytes) = d.code.as_ref().filter(|_| d.epoch == self.epoch) else {
            return Take::Declined;
        };
        match self.install(bytes) {
            Some(Some(f)) => {
                self.codes.insert(d.at, (d.gen, f));
                self.compiled += 1;
                Take::Code(Installed {
                    at: d.at,
                    gen: d.gen,
                    code: f,
                })
            }
            Some(None) => Take::Declined,
            // The block goes with the rest and is requested again when hot.
            None => Take::Full,
        }
    }

    /// Copies machine code into the arena: `None` when it is full,
    /// `Some(None)` when the pages cannot be made writable and executable again.
    fn install(&mut self, bytes: &[u8]) -> Option<Option<JitFn>> {
        let start = self.used.next_multiple_of(16);
        let end = start.checked_add(bytes.len()).filter(|&e| e <= ARENA)?;
        let base = self.arena.as_mut_ptr::<u8>();
        let page = region::page::size();
        let lo = start / page * page;
        let hi = end.next_multiple_of(page).min(ARENA);
        // SAFETY: `lo..hi` lies inside the arena (`end <= ARENA`, `hi` is
        // clamped to it). While these pages are writable nothing runs from
        // them: compiled code runs only on this (the hart's) thread, which is
        // here. Bytes `start..end` hold no code that a live `JitFn` points
        // into, because `used` only grows between resets and the hart drops
        // every `JitFn` before a reset. The copy writes exactly `bytes.len()`
        // bytes from a distinct allocation.
        unsafe {
            if region::protect(base.add(lo), hi - lo, region::Protection::READ_WRITE).is_err() {
                return Some(None);
            }
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(start), bytes.len());
            if region::protect(base.add(lo), hi - lo, region::Protection::READ_EXECUTE).is_err() {
                // The pages stay writable and nothing points into them.
                return Some(None);
            }
        }
        self.used = end;
        // SAFETY: `start..end` now holds, unchanged, the machine code the
        // worker's Cranelift emitted for a function of signature `fn(i64) ->
        // i64` in the host's default calling convention (that of `extern
        // "C"`), with no relocations ([`Compiler::compile`] checks), so it
        // runs at any address; the pages are readable and executable. What
        // the code does when called is the contract in the module documentation.
        Some(Some(unsafe {
            std::mem::transmute::<*const u8, JitFn>(base.add(start).cast_const())
        }))
    }
}

/// Cranelift with its reusable contexts (on the worker thread).
struct Compiler {
    isa: OwnedTargetIsa,
    ctx: Context,
    fctx: FunctionBuilderContext,
}

impl Compiler {
    fn new() -> Result<Compiler, JitError> {
        let mut flags = settings::builder();
        let set = |f: &mut settings::Builder, k: &str, v: &str| {
            f.set(k, v).map_err(|e| JitError::Host(e.to_string()))
        };
        set(&mut flags, "opt_level", "speed")?;
        set(&mut flags, "is_pic", "false")?;
        let isa = cranelift_native::builder()
            .map_err(|e| JitError::Host(e.to_string()))?
            .finish(settings::Flags::new(flags))
            .map_err(|e| JitError::Host(e.to_string()))?;
        Ok(Compiler {
            isa,
            ctx: Context::new(),
            fctx: FunctionBuilderContext::new(),
        })
    }

    /// Machine code for a block: `ops` with their page offsets, and the
    /// page offset the block falls through to after the last one. `None`
    /// when the block starts with an op left to the interpreter (or, which
    /// only costs speed, when Cranelift fails).
    fn compile(&mut self, ops: &[(Op, u16)], end_poff: u16, link_base: u32) -> Option<Vec<u8>> {
        if ops.is_empty() || !supported(ops[0].0.k) {
            return None;
        }
        let mut sig = Signature::new(self.isa.default_call_conv());
        sig.params.push(AbiParam::new(I64));
        sig.returns.push(AbiParam::new(I64));
        self.ctx.clear();
        self.ctx.func = Function::with_name_signature(UserFuncName::user(0, 0), sig);
        let fc = self.isa.frontend_config();
        {
            let b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            let mut t = Translator::new(b, link_base);
            t.block(ops, end_poff);
            t.b.seal_all_blocks();
            t.b.finalize(fc);
        }
        let code = self
            .ctx
            .compile(&*self.isa, &mut ControlPlane::default())
            .ok()?;
        if !code.buffer.relocs().is_empty() {
            return None;
        }
        Some(code.code_buffer().to_vec())
    }
}

/// Hashes RAM offsets (the keys of [`Jit::codes`]) by one multiplication.
#[derive(Default)]
struct OffsetHasher(u64);

impl Hasher for OffsetHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (v ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Whether an op may leave the block in its middle (and so needs a link cell).
fn is_branch(k: K) -> bool {
    matches!(k, K::Beq | K::Bne | K::Blt | K::Bge | K::Bltu | K::Bgeu)
}

/// Whether the compiler translates ops of kind `k`.
fn supported(k: K) -> bool {
    use K::*;
    matches!(
        k,
        Lui | Auipc
            | Jal
            | Jalr
            | Beq
            | Bne
            | Blt
            | Bge
            | Bltu
            | Bgeu
            | Lb
            | Lh
            | Lw
            | Ld
            | Lbu
            | Lhu
            | Lwu
            | Sb
            | Sh
            | Sw
            | Sd
            | Addi
            | Slti
            | Sltiu
            | Xori
            | Ori
            | Andi
            | Slli
            | Srli
            | Srai
            | Add
            | Sub
            | Sll
            | Slt
            | Sltu
            | Xor
            | Srl
            | Sra
            | Or
            | And
            | Addiw
            | Slliw
            | Srliw
            | Sraiw
            | Addw
            | Subw
            | Sllw
            | Srlw
            | Sraw
            | Mul
            | Mulh
            | Mulhsu
            | Mulhu
            | Div
            | Divu
            | Rem
            | Remu
            | Mulw
            | Divw
            | Divuw
            | Remw
            | Remuw
            | Fence
    )
}

/// Straight-line translation: the main path runs the block's ops in order;
/// every exit (a taken branch, a TLB miss, the end) is a block of its own
/// that stores the changed registers and returns.
struct Translator<'a> {
    b: FunctionBuilder<'a>,
    ctx: Value,
    xp: Value,
    c: Cached,
    /// The link cell of the next exit that may continue in compiled code.
    next_link: u32,
}

/// What the main path has loaded or computed so far.
#[derive(Clone, Copy)]
struct Cached {
    ram: Option<Value>,
    ltlb: Option<Value>,
    stlb: Option<Value>,
    page_va: Option<Value>,
    /// The current value of each register, once read or written.
    cur: [Option<Value>; 32],
    /// Registers written so far (bit per register).
    dirty: u32,
}

/// Register file and context fields: never trap, never alias guest RAM.
fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Guest RAM: may be unaligned, little-endian, in bounds by the TLB check.
fn guest() -> MemFlagsData {
    MemFlagsData::new()
        .with_notrap()
        .with_endianness(Endianness::Little)
}

impl<'a> Translator<'a> {
    fn new(mut b: FunctionBuilder<'a>, link_base: u32) -> Self {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let ctx = b.block_params(entry)[0];
        let xp = b.ins().load(I64, trusted(), ctx, CTX_X);
        Translator {
            b,
            ctx,
            xp,
            c: Cached {
                ram: None,
                ltlb: None,
                stlb: None,
                page_va: None,
                cur: [None; 32],
                dirty: 0,
            },
            next_link: link_base,
        }
    }

    fn field(&mut self, slot: fn(&mut Self) -> &mut Option<Value>, off: i32) -> Value {
        if let Some(v) = *slot(self) {
            return v;
        }
        let v = self.b.ins().load(I64, trusted(), self.ctx, off);
        *slot(self) = Some(v);
        v
    }

    /// pc of the instruction at page offset `poff`, plus `add`.
    fn pc(&mut self, poff: u16, add: i64) -> Value {
        let pv = self.field(|t| &mut t.c.page_va, CTX_PAGE_VA);
        self.b.ins().iadd_imm_s(pv, poff as i64 + add)
    }

    fn reg(&mut self, r: u8) -> Value {
        let r = (r & 31) as usize;
        if r == 0 {
            return self.b.ins().iconst(I64, 0);
        }
        if let Some(v) = self.c.cur[r] {
            return v;
        }
        let v = self.b.ins().load(I64, trusted(), self.xp, 8 * r as i32);
        self.c.cur[r] = Some(v);
        v
    }

    fn set(&mut self, r: u8, v: Value) {
        let r = (r & 31) as usize;
        if r != 0 {
            self.c.cur[r] = Some(v);
            self.c.dirty |= 1 << r;
        }
    }

    /// Ends the current block: stores the written registers, sets `pc_out`, returns `ret`.
    fn exit(&mut self, pc: Value, ret: u64) {
        let mut d = self.c.dirty;
        while d != 0 {
            let r = d.trailing_zeros() as usize;
            d &= d - 1;
            if let Some(v) = self.c.cur[r] {
                self.b.ins().store(trusted(), v, self.xp, 8 * r as i32);
            }
        }
        self.b.ins().store(trusted(), pc, self.ctx, CTX_PC_OUT);
        let mut ret = ret;
        if ret & STEP == 0 {
            ret |= (self.next_link as u64 + 1) << 32;
            self.next_link += 1;
        }
        let r = self.b.ins().iconst(I64, ret as i64);
        self.b.ins().return_(&[r]);
    }

    /// Branches to a new exit block when `cond` holds (the exit is built
    /// by `f` there) and goes on in a fresh block otherwise.
    fn side_exit(&mut self, cond: Value, f: impl FnOnce(&mut Self)) {
        let out = self.b.create_block();
        let go_on = self.b.create_block();
        self.b.ins().brif(cond, out, &[], go_on, &[]);
        self.b.switch_to_block(out);
        // Values first made in the exit block do not reach the main path.
        let saved = self.c;
        f(self);
        self.c = saved;
        self.b.switch_to_block(go_on);
    }

    /// Host address of `size` bytes at `va` through a TLB, or a side exit
    /// that leaves the instruction (index `i`, page offset `poff`) to the interpreter.
    fn host_addr(&mut self, store: bool, va: Value, size: i64, i: usize, poff: u16) -> Value {
        let tlb = if store {
            self.field(|t| &mut t.c.stlb, CTX_STLB)
        } else {
            self.field(|t| &mut t.c.ltlb, CTX_LTLB)
        };
        let ins = self.b.ins();
        let vpn = ins.ushr_imm_u(va, 12);
        let idx = self.b.ins().band_imm_s(vpn, (TLB_SIZE - 1) as i64);
        let eoff = self.b.ins().ishl_imm_u(idx, 4);
        let e = self.b.ins().iadd(tlb, eoff);
        let tag = self.b.ins().load(I64, trusted(), e, 0);
        let hit = self.b.ins().icmp(IntCC::Equal, tag, vpn);
        let inpage = self.b.ins().band_imm_s(va, 0xfff);
        let fits = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, inpage, 4096 - size);
        let ok = self.b.ins().band(hit, fits);
        let miss = self.b.ins().bxor_imm_s(ok, 1);
        self.side_exit(miss, |t| {
            let pc = t.pc(poff, 0);
            t.exit(pc, i as u64 | STEP);
        });
        let addend = self.b.ins().load(I64, trusted(), e, 8);
        let ram = self.field(|t| &mut t.c.ram, CTX_RAM);
        let off = self.b.ins().iadd(va, addend);
        self.b.ins().iadd(ram, off)
    }

    fn sext32(&mut self, v: Value) -> Value {
        let n = self.b.ins().ireduce(I32, v);
        self.b.ins().sextend(I64, n)
    }

    fn bool64(&mut self, c: Value) -> Value {
        self.b.ins().uextend(I64, c)
    }

    /// RISC-V division: by zero gives all ones (quotient) or the dividend
    /// (remainder); the signed overflow gives the dividend (quotient) or 0.
    fn div(&mut self, a: Value, b: Value, signed: bool, rem: bool) -> Value {
        let ty = self.b.func.dfg.value_type(a);
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
        let one = self.b.ins().iconst(ty, 1);
        let mut bad = zero;
        if signed {
            let min = if ty == I32 { i32::MIN as i64 } else { i64::MIN };
            let amin = self.b.ins().icmp_imm_s(IntCC::Equal, a, min);
            let bm1 = self.b.ins().icmp_imm_s(IntCC::Equal, b, -1);
            let ovf = self.b.ins().band(amin, bm1);
            bad = self.b.ins().bor(zero, ovf);
        }
        // Dividing by 1 instead makes the overflow case come out right by itself
        // (MIN / 1 = MIN, MIN % 1 = 0) and avoids the host's trap.
        let d = self.b.ins().select(bad, one, b);
        let r = match (signed, rem) {
            (true, false) => self.b.ins().sdiv(a, d),
            (true, true) => self.b.ins().srem(a, d),
            (false, false) => self.b.ins().udiv(a, d),
            (false, true) => self.b.ins().urem(a, d),
        };
        let by_zero = if rem { a } else { self.b.ins().iconst(ty, -1) };
        self.b.ins().select(zero, by_zero, r)
    }

    fn div32(&mut self, a: Value, b: Value, signed: bool, rem: bool) -> Value {
        let a = self.b.ins().ireduce(I32, a);
        let b = self.b.ins().ireduce(I32, b);
        let r = self.div(a, b, signed, rem);
        self.b.ins().sextend(I64, r)
    }

    /// Translates the block; the function ends at its first exit on the main path.
    fn block(&mut self, ops: &[(Op, u16)], end_poff: u16) {
        for (i, &(op, poff)) in ops.iter().enumerate() {
            if !self.op(op, poff, i) {
                return;
            }
        }
        let pc = self.pc(end_poff, 0);
        self.exit(pc, ops.len() as u64);
    }

    /// Translates one op; `false` when the main path has ended.
    fn op(&mut self, op: Op, poff: u16, i: usize) -> bool {
        use K::*;
        let imm = op.imm as i64;
        let shamt = (op.imm & 63) as i64;
        let shamt32 = (op.imm & 31) as i64;
        macro_rules! rr {
            ($f:ident) => {{
                let a = self.reg(op.rs1);
                let b = self.reg(op.rs2);
                let v = self.b.ins().$f(a, b);
                self.set(op.rd, v);
            }};
        }
        macro_rules! ri {
            ($f:ident, $imm:expr) => {{
                let a = self.reg(op.rs1);
                let v = self.b.ins().$f(a, $imm);
                self.set(op.rd, v);
            }};
        }
        macro_rules! shift {
            ($f:ident, $mask:expr) => {{
                let a = self.reg(op.rs1);
                let b = self.reg(op.rs2);
                let s = self.b.ins().band_imm_s(b, $mask);
                let v = self.b.ins().$f(a, s);
                self.set(op.rd, v);
            }};
        }
        // A 64-bit result whose low half, sign-extended, is the value.
        macro_rules! w {
            ($v:expr) => {{
                let v = $v;
                let v = self.sext32(v);
                self.set(op.rd, v);
            }};
        }
        // A 32-bit result, sign-extended.
        macro_rules! w32 {
            ($v:expr) => {{
                let v = $v;
                let v = self.b.ins().sextend(I64, v);
                self.set(op.rd, v);
            }};
        }
        macro_rules! a32 {
            () => {{
                let a = self.reg(op.rs1);
                self.b.ins().ireduce(I32, a)
            }};
        }
        macro_rules! b32 {
            () => {{
                let b = self.reg(op.rs2);
                self.b.ins().ireduce(I32, b)
            }};
        }
        macro_rules! cmp {
            ($cc:expr, $b:expr) => {{
                let a = self.reg(op.rs1);
                let b = $b;
                let c = self.b.ins().icmp($cc, a, b);
                let v = self.bool64(c);
                self.set(op.rd, v);
            }};
        }
        macro_rules! branch {
            ($cc:expr) => {{
                let a = self.reg(op.rs1);
                let b = self.reg(op.rs2);
                let c = self.b.ins().icmp($cc, a, b);
                self.side_exit(c, |t| {
                    let pc = t.pc(poff, imm);
                    t.exit(pc, i as u64 + 1);
                });
            }};
        }
        macro_rules! load {
            ($f:ident) => {{
                let a = self.reg(op.rs1);
                let va = self.b.ins().iadd_imm_s(a, imm);
                let size = if matches!(op.k, Lb | Lbu) { 1 } else { 2 };
                let h = self.host_addr(false, va, size, i, poff);
                let v = self.b.ins().$f(I64, guest(), h, 0);
                self.set(op.rd, v);
            }};
        }
        macro_rules! load32 {
            ($f:ident) => {{
                let a = self.reg(op.rs1);
                let va = self.b.ins().iadd_imm_s(a, imm);
                let h = self.host_addr(false, va, 4, i, poff);
                let v = self.b.ins().$f(guest(), h, 0);
                self.set(op.rd, v);
            }};
        }
        macro_rules! store {
            ($f:ident, $size:expr) => {{
                let a = self.reg(op.rs1);
                let v = self.reg(op.rs2);
                let va = self.b.ins().iadd_imm_s(a, imm);
                let h = self.host_addr(true, va, $size, i, poff);
                self.b.ins().$f(guest(), v, h, 0);
            }};
        }
        match op.k {
            Lui => {
                let v = self.b.ins().iconst(I64, imm);
                self.set(op.rd, v);
            }
            Auipc => {
                let v = self.pc(poff, imm);
                self.set(op.rd, v);
            }
            Jal => {
                let link = self.pc(poff, op.len as i64);
                self.set(op.rd, link);
                let pc = self.pc(poff, imm);
                self.exit(pc, i as u64 + 1);
                return false;
            }
            Jalr => {
                let a = self.reg(op.rs1);
                let t = self.b.ins().iadd_imm_s(a, imm);
                let t = self.b.ins().band_imm_s(t, -2);
                let link = self.pc(poff, op.len as i64);
                self.set(op.rd, link);
                self.exit(t, i as u64 + 1);
                return false;
            }
            Beq => branch!(IntCC::Equal),
            Bne => branch!(IntCC::NotEqual),
            Blt => branch!(IntCC::SignedLessThan),
            Bge => branch!(IntCC::SignedGreaterThanOrEqual),
            Bltu => branch!(IntCC::UnsignedLessThan),
            Bgeu => branch!(IntCC::UnsignedGreaterThanOrEqual),
            Lb => load!(sload8),
            Lh => load!(sload16),
            Lw => load32!(sload32),
            Ld => {
                let a = self.reg(op.rs1);
                let va = self.b.ins().iadd_imm_s(a, imm);
                let h = self.host_addr(false, va, 8, i, poff);
                let v = self.b.ins().load(I64, guest(), h, 0);
                self.set(op.rd, v);
            }
            Lbu => load!(uload8),
            Lhu => load!(uload16),
            Lwu => load32!(uload32),
            Sb => store!(istore8, 1),
            Sh => store!(istore16, 2),
            Sw => store!(istore32, 4),
            Sd => store!(store, 8),
            Addi => ri!(iadd_imm_s, imm),
            Slti => {
                let c = self.b.ins().iconst(I64, imm);
                cmp!(IntCC::SignedLessThan, c)
            }
            Sltiu => {
                let c = self.b.ins().iconst(I64, imm);
                cmp!(IntCC::UnsignedLessThan, c)
            }
            Xori => ri!(bxor_imm_s, imm),
            Ori => ri!(bor_imm_s, imm),
            Andi => ri!(band_imm_s, imm),
            Slli => ri!(ishl_imm_u, shamt),
            Srli => ri!(ushr_imm_u, shamt),
            Srai => ri!(sshr_imm_u, shamt),
            Add => rr!(iadd),
            Sub => rr!(isub),
            Sll => shift!(ishl, 63),
            Slt => {
                let b = self.reg(op.rs2);
                cmp!(IntCC::SignedLessThan, b)
            }
            Sltu => {
                let b = self.reg(op.rs2);
                cmp!(IntCC::UnsignedLessThan, b)
            }
            Xor => rr!(bxor),
            Srl => shift!(ushr, 63),
            Sra => shift!(sshr, 63),
            Or => rr!(bor),
            And => rr!(band),
            Addiw => {
                let a = self.reg(op.rs1);
                w!(self.b.ins().iadd_imm_s(a, imm))
            }
            Slliw => {
                let a = a32!();
                w32!(self.b.ins().ishl_imm_u(a, shamt32))
            }
            Srliw => {
                let a = a32!();
                w32!(self.b.ins().ushr_imm_u(a, shamt32))
            }
            Sraiw => {
                let a = a32!();
                w32!(self.b.ins().sshr_imm_u(a, shamt32))
            }
            Addw => {
                let a = self.reg(op.rs1);
                let b = self.reg(op.rs2);
                w!(self.b.ins().iadd(a, b))
            }
            Subw => {
                let a = self.reg(op.rs1);
                let b = self.reg(op.rs2);
                w!(self.b.ins().isub(a, b))
            }
            Sllw | Srlw | Sraw => {
                let a = a32!();
                let b = b32!();
                let s = self.b.ins().band_imm_s(b, 31);
                let v = match op.k {
                    Sllw => self.b.ins().ishl(a, s),
                    Srlw => self.b.ins().ushr(a, s),
                    _ => self.b.ins().sshr(a, s),
                };
                let v = self.b.ins().sextend(I64, v);
                self.set(op.rd, v);
            }
            Mul => rr!(imul),
            Mulh => rr!(smulhi),
            Mulhu => rr!(umulhi),
            Mulhsu => {
                // a signed, b unsigned: the unsigned high half, less b when a < 0.
                let a = self.reg(op.rs1);
                let b = self.reg(op.rs2);
                let hi = self.b.ins().umulhi(a, b);
                let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, a, 0);
                let zero = self.b.ins().iconst(I64, 0);
                let corr = self.b.ins().select(neg, b, zero);
                let v = self.b.ins().isub(hi, corr);
                self.set(op.rd, v);
            }
            Div | Divu | Rem | Remu => {
                let a = self.reg(op.rs1);
                let b = self.reg(op.rs2);
                let v = self.div(a, b, matches!(op.k, Div | Rem), matches!(op.k, Rem | Remu));
                self.set(op.rd, v);
            }
            Mulw => {
                let a = self.reg(op.rs1);
                let b = self.reg(op.rs2);
                w!(self.b.ins().imul(a, b))
            }
            Divw | Divuw | Remw | Remuw => {
                let a = self.reg(op.rs1);
                let b = self.reg(op.rs2);
                let v = self.div32(
                    a,
                    b,
                    matches!(op.k, Divw | Remw),
                    matches!(op.k, Remw | Remuw),
                );
                self.set(op.rd, v);
            }
            Fence => {}
            _ => {
                // Left to the interpreter: leave the code before it.
                let pc = self.pc(poff, 0);
                self.exit(pc, i as u64 | STEP);
                return false;
            }
        }
        true
    }
}
