//! The random program generator of the differential tester.
//!
//! A *segment* is generated from one 64-bit seed: it sets every x and f
//! register, fcsr and a 128-byte scratch area to values derived from the
//! seed, runs a random sequence of instructions (integer, M, A, F/D, C and
//! deterministic CSR accesses, with short forward branches and jumps), then
//! stores all registers and prints a signature through the HTIF console:
//!
//! ```text
//! @<seed in hex>
//! <x1> .. <x31>          (XLEN/4 hex digits each, space separated)
//! <f0> .. <f31>          (16 hex digits each)
//! <fcsr>
//! <scratch word 0> .. <scratch word 31>   (8 hex digits each)
//! ```
//!
//! Several segments form one program (one ELF, one QEMU process), and the
//! console output of our hart and of QEMU must be identical.
//!
//! Rules that keep every generated program free of UNSPECIFIED or
//! implementation-defined behaviour:
//! - x2 (sp), x8 (s0) and x31 (t6) hold the scratch base and are never
//!   written; every memory access is `base + offset` inside the scratch area;
//! - AMOs and LR/SC are naturally aligned; an LR is immediately followed by
//!   its SC to the same address (so the SC succeeds on both);
//! - plain loads and stores may be misaligned (the hart must support it);
//! - `frm` is only ever set to a valid rounding mode (immediate forms);
//! - CSRs are limited to fcsr/frm/fflags, mscratch, sscratch (written and
//!   read back) and mhartid (not mepc: QEMU 7.2 lets a write set mepc[0]);
//! - branches and jumps only go forward, so every segment terminates;
//! - a quarter of the segments run their body in U-mode and a quarter in
//!   S-mode with paging on (an identity map of RAM); there only the
//!   floating-point CSRs (and sscratch, sfence.vma in S) are used.

use crate::Xlen;

/// Bytes of the scratch area the random code loads from and stores to.
pub const SCRATCH_BYTES: u32 = 128;
/// Offset of the register save area from the scratch base.
const SAVE_X: u32 = 512;
const SAVE_F: u32 = SAVE_X + 256;
const SAVE_FCSR: u32 = SAVE_F + 256;

/// Default number of random instructions per segment.
pub const DEFAULT_LEN: usize = 80;

/// A small, fast, seedable PRNG (SplitMix64); good enough for test generation
/// and stable across platforms, so a seed always reproduces the same program.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5eed_1e55_cafe_f00d)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// A random element.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// One generated segment.
#[derive(Clone, Debug)]
pub struct Segment {
    /// The seed it was generated from.
    pub seed: u64,
    /// The register width.
    pub xlen: Xlen,
    /// Its assembly (init, random body, signature store and print).
    pub asm: String,
    /// The random instructions alone, for divergence reports.
    pub listing: Vec<String>,
}

fn xr(r: u32) -> String {
    format!("x{r}")
}

/// Registers the random code may write (never x2, x8, x31: the scratch base).
const WRITABLE: [u32; 28] = [
    1, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
    28, 29, 30,
];
/// Writable registers of the compressed 3-bit register field (x8 excluded).
const C_WRITABLE: [u32; 7] = [9, 10, 11, 12, 13, 14, 15];
const RMS: [&str; 6] = ["rne", "rtz", "rdn", "rup", "rmm", "dyn"];

struct Gen {
    rng: Rng,
    xlen: Xlen,
    seed: u64,
    label: u32,
    /// Automatic compression is off (`.option norvc`): no explicit `c.` ops.
    norvc: bool,
    /// The privilege mode the random body runs in.
    mode: Mode,
}

/// Where a segment's random body runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// M-mode (physical addresses).
    Machine,
    /// U-mode, no translation.
    User,
    /// S-mode with paging on (Sv32 / Sv39 identity map of RAM).
    SupervisorPaged,
}

impl Gen {
    fn rv64(&self) -> bool {
        self.xlen == Xlen::Rv64
    }
    fn dst(&mut self) -> String {
        if self.rng.chance(1, 40) {
            return "x0".into();
        }
        let r = self.rng.pick(&WRITABLE);
        xr(r)
    }
    fn src(&mut self) -> String {
        let r = self.rng.below(32) as u32;
        xr(r)
    }
    fn cdst(&mut self) -> String {
        let r = self.rng.pick(&C_WRITABLE);
        xr(r)
    }
    fn csrc(&mut self) -> String {
        let r = 8 + self.rng.below(8) as u32;
        xr(r)
    }
    fn f(&mut self) -> String {
        format!("f{}", self.rng.below(32))
    }
    fn cf(&mut self) -> String {
        format!("f{}", 8 + self.rng.below(8))
    }
    fn rm(&mut self) -> &'static str {
        self.rng.pick(&RMS)
    }
    fn new_label(&mut self) -> String {
        self.label += 1;
        format!(".Ls{:x}_{}", self.seed, self.label)
    }
    fn imm12(&mut self) -> i64 {
        match self.rng.below(4) {
            0 => self.rng.range(-4, 4),
            1 => self.rng.pick(&[-2048, 2047, -1, 1, 0]),
            _ => self.rng.range(-2048, 2047),
        }
    }
    fn shamt(&mut self, word: bool) -> i64 {
        let max = if word || !self.rv64() { 31 } else { 63 };
        if self.rng.chance(1, 4) {
            self.rng.pick(&[0, 1, max - 1, max])
        } else {
            self.rng.range(0, max)
        }
    }
    /// A scratch offset for an access of `size` bytes; misaligned if allowed.
    fn offset(&mut self, size: u32, may_misalign: bool) -> u32 {
        let slots = SCRATCH_BYTES / size;
        let mut off = self.rng.below(slots as u64) as u32 * size;
        if may_misalign && size > 1 && self.rng.chance(1, 6) {
            off = self.rng.below((SCRATCH_BYTES - size + 1) as u64) as u32;
        }
        off
    }
    /// An interesting XLEN value as a signed decimal literal.
    fn value(&mut self) -> i64 {
        let v: u64 = match self.rng.below(8) {
            0 => self.rng.pick(&[0, 1, 2, u64::MAX, u64::MAX - 1]),
            1 => self.rng.pick(&[
                0x8000_0000,
                0x7fff_ffff,
                0xffff_ffff_8000_0000,
                0x8000_0000_0000_0000,
                0x7fff_ffff_ffff_ffff,
                0xffff_ffff,
            ]),
            2 => self.rng.range(-300, 300) as u64,
            3 => 1u64 << self.rng.below(64),
            _ => self.rng.next_u64(),
        };
        match self.xlen {
            Xlen::Rv32 => v as u32 as i32 as i64,
            Xlen::Rv64 => v as i64,
        }
    }
    /// An interesting 64-bit pattern for an f register.
    fn fvalue(&mut self) -> u64 {
        let single = self.rng.chance(1, 2);
        if single {
            let s: u32 = match self.rng.below(12) {
                // Magnitudes near 2^-63: products land at the underflow
                // threshold (tininess is detected after rounding).
                10 => {
                    let e = self.rng.range(60, 67) as u32;
                    (self.rng.next_u64() as u32 & 0x8000_0000)
                        | (e << 23)
                        | (self.rng.next_u64() as u32 & 0x007f_ffff)
                }
                // Near the smallest normal number.
                11 => {
                    (0x0080_0000u32).wrapping_add(self.rng.range(-3, 3) as u32)
                        | (self.rng.next_u64() as u32 & 0x8000_0000)
                }
                0 => self.rng.pick(&[
                    0x0000_0000,
                    0x8000_0000,
                    0x7f80_0000,
                    0xff80_0000,
                    0x7fc0_0000,
                    0x7f80_0001,
                    0xffc0_0000,
                    0x3f80_0000,
                    0xbf80_0000,
                    0x0000_0001,
                    0x807f_ffff,
                    0x7f7f_ffff,
                    0x4f00_0000,
                    0xcf00_0000,
                    0x5f00_0000,
                    0x3f00_0000,
                ]),
                1 => self.rng.next_u64() as u32 & 0x807f_ffff, // subnormals
                2..=4 => {
                    // moderate magnitudes: integers and simple fractions
                    let v = self.rng.range(-100_000, 100_000) as f32 / 4.0;
                    v.to_bits()
                }
                _ => self.rng.next_u64() as u32,
            };
            // Mostly NaN-boxed; sometimes not (then single ops see a NaN).
            if self.rng.chance(15, 16) {
                0xffff_ffff_0000_0000 | s as u64
            } else {
                self.rng.next_u64() & 0xffff_fffe_0000_0000 | s as u64
            }
        } else {
            match self.rng.below(12) {
                10 => {
                    let e = self.rng.range(506, 515) as u64;
                    (self.rng.next_u64() & 0x8000_0000_0000_0000)
                        | (e << 52)
                        | (self.rng.next_u64() & 0x000f_ffff_ffff_ffff)
                }
                11 => {
                    (0x0010_0000_0000_0000u64).wrapping_add(self.rng.range(-3, 3) as u64)
                        | (self.rng.next_u64() & 0x8000_0000_0000_0000)
                }
                0 => self.rng.pick(&[
                    0,
                    0x8000_0000_0000_0000,
                    0x7ff0_0000_0000_0000,
                    0xfff0_0000_0000_0000,
                    0x7ff8_0000_0000_0000,
                    0x7ff0_0000_0000_0001,
                    0x3ff0_0000_0000_0000,
                    0xbff0_0000_0000_0000,
                    0x0000_0000_0000_0001,
                    0x7fef_ffff_ffff_ffff,
                    0x41e0_0000_0000_0000,
                    0xc1e0_0000_0000_0000,
                    0x43e0_0000_0000_0000,
                    0x47ef_ffff_e000_0000,
                    0x3690_0000_0000_0000,
                ]),
                1 => self.rng.next_u64() & 0x800f_ffff_ffff_ffff,
                2..=4 => (self.rng.range(-10_000_000, 10_000_000) as f64 / 8.0).to_bits(),
                _ => self.rng.next_u64(),
            }
        }
    }

    /// One random "item": a single instruction or an indivisible group.
    fn item(&mut self, body: &mut Vec<String>) {
        let class = self.rng.below(100);
        let s = match class {
            0..=21 => self.int_op(),
            22..=29 => self.m_op(),
            30..=39 => self.mem_op(),
            40..=45 => self.amo_op(),
            46..=69 => self.fp_op(),
            70..=83 if self.norvc => self.int_op(),
            70..=83 => self.c_op(),
            84..=88 => self.csr_op(),
            89..=95 => return self.branch(body),
            _ => {
                let rd = self.dst();
                match self.rng.below(4) {
                    0 => format!("lui {rd}, {}", self.rng.below(1 << 20)),
                    1 => format!("auipc {rd}, {}", self.rng.below(1 << 20)),
                    2 => "fence".into(),
                    _ => {
                        if self.rng.chance(1, 2) {
                            "fence.i".into()
                        } else {
                            format!(
                                "fence {}, {}",
                                self.rng.pick(&["rw", "r", "w", "iorw"]),
                                self.rng.pick(&["rw", "r", "w", "iorw"])
                            )
                        }
                    }
                }
            }
        };
        body.push(s);
    }

    fn int_op(&mut self) -> String {
        let rv64 = self.rv64();
        let rd = self.dst();
        let rs1 = self.src();
        let rs2 = self.src();
        const RR: [&str; 10] = [
            "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and",
        ];
        const RRW: [&str; 5] = ["addw", "subw", "sllw", "srlw", "sraw"];
        const RI: [&str; 6] = ["addi", "slti", "sltiu", "xori", "ori", "andi"];
        const SH: [&str; 3] = ["slli", "srli", "srai"];
        const SHW: [&str; 3] = ["slliw", "srliw", "sraiw"];
        match self.rng.below(if rv64 { 7 } else { 4 }) {
            0 | 1 => format!("{} {rd}, {rs1}, {rs2}", self.rng.pick(&RR)),
            2 => format!("{} {rd}, {rs1}, {}", self.rng.pick(&RI), self.imm12()),
            3 => format!("{} {rd}, {rs1}, {}", self.rng.pick(&SH), self.shamt(false)),
            4 => format!("{} {rd}, {rs1}, {rs2}", self.rng.pick(&RRW)),
            5 => format!("{} {rd}, {rs1}, {}", self.rng.pick(&SHW), self.shamt(true)),
            _ => format!("addiw {rd}, {rs1}, {}", self.imm12()),
        }
    }

    fn m_op(&mut self) -> String {
        const M: [&str; 8] = [
            "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu",
        ];
        const MW: [&str; 5] = ["mulw", "divw", "divuw", "remw", "remuw"];
        let rd = self.dst();
        let rs1 = self.src();
        // Divisors of zero and -1 are the interesting corner cases.
        let rs2 = if self.rng.chance(1, 8) {
            "x0".into()
        } else {
            self.src()
        };
        if self.rv64() && self.rng.chance(1, 3) {
            format!("{} {rd}, {rs1}, {rs2}", self.rng.pick(&MW))
        } else {
            format!("{} {rd}, {rs1}, {rs2}", self.rng.pick(&M))
        }
    }

    fn mem_op(&mut self) -> String {
        let rv64 = self.rv64();
        let base = self.rng.pick(&["x2", "x8", "x31"]);
        let (op, size, load) = self.rng.pick(if rv64 {
            &[
                ("lb", 1, true),
                ("lh", 2, true),
                ("lw", 4, true),
                ("lbu", 1, true),
                ("lhu", 2, true),
                ("lwu", 4, true),
                ("ld", 8, true),
                ("sb", 1, false),
                ("sh", 2, false),
                ("sw", 4, false),
                ("sd", 8, false),
            ][..]
        } else {
            &[
                ("lb", 1, true),
                ("lh", 2, true),
                ("lw", 4, true),
                ("lbu", 1, true),
                ("lhu", 2, true),
                ("sb", 1, false),
                ("sh", 2, false),
                ("sw", 4, false),
            ][..]
        });
        let off = self.offset(size, true);
        if self.rng.chance(1, 4) {
            // FP loads and stores.
            let (fop, fsize) = self
                .rng
                .pick(&[("flw", 4), ("fsw", 4), ("fld", 8), ("fsd", 8)]);
            let off = self.offset(fsize, true);
            let f = self.f();
            return format!("{fop} {f}, {off}({base})");
        }
        if load {
            let rd = self.dst();
            format!("{op} {rd}, {off}({base})")
        } else {
            let rs = self.src();
            format!("{op} {rs}, {off}({base})")
        }
    }

    fn amo_op(&mut self) -> String {
        const AMO: [&str; 9] = [
            "amoswap", "amoadd", "amoxor", "amoand", "amoor", "amomin", "amomax", "amominu",
            "amomaxu",
        ];
        let d = self.rv64() && self.rng.chance(1, 2);
        let (sfx, size) = if d { ("d", 8) } else { ("w", 4) };
        let ord = self.rng.pick(&["", ".aq", ".rl", ".aqrl"]);
        let off = self.offset(size, false);
        let addr = xr(self.rng.pick(&WRITABLE));
        let mut s = format!("addi {addr}, x31, {off}\n");
        if self.rng.chance(1, 4) {
            // LR immediately followed by SC to the same address.
            let mut rd1 = self.dst();
            while rd1 == addr {
                rd1 = self.dst();
            }
            let rd2 = self.dst();
            let rs2 = self.src();
            let ord2 = self.rng.pick(&["", ".aq", ".rl", ".aqrl"]);
            s.push_str(&format!("lr.{sfx}{ord} {rd1}, ({addr})\n"));
            s.push_str(&format!("sc.{sfx}{ord2} {rd2}, {rs2}, ({addr})"));
        } else {
            let rd = self.dst();
            let rs2 = self.src();
            s.push_str(&format!(
                "{}.{sfx}{ord} {rd}, {rs2}, ({addr})",
                self.rng.pick(&AMO)
            ));
        }
        s
    }

    fn fp_op(&mut self) -> String {
        let rv64 = self.rv64();
        let t = self.rng.pick(&["s", "d"]);
        let (fd, fa, fb, fc) = (self.f(), self.f(), self.f(), self.f());
        let rd = self.dst();
        let rs = self.src();
        let rm = self.rm();
        match self.rng.below(14) {
            0..=2 => format!(
                "{}.{t} {fd}, {fa}, {fb}, {rm}",
                self.rng.pick(&["fadd", "fsub", "fmul", "fdiv"])
            ),
            3 => format!("fsqrt.{t} {fd}, {fa}, {rm}"),
            4 => format!(
                "{}.{t} {fd}, {fa}, {fb}",
                self.rng
                    .pick(&["fmin", "fmax", "fsgnj", "fsgnjn", "fsgnjx"])
            ),
            5 | 6 => format!(
                "{}.{t} {fd}, {fa}, {fb}, {fc}, {rm}",
                self.rng.pick(&["fmadd", "fmsub", "fnmadd", "fnmsub"])
            ),
            7 => format!(
                "{}.{t} {rd}, {fa}, {fb}",
                self.rng.pick(&["feq", "flt", "fle"])
            ),
            8 => format!("fclass.{t} {rd}, {fa}"),
            9 => {
                let i = self.rng.pick(if rv64 {
                    &["w", "wu", "l", "lu"][..]
                } else {
                    &["w", "wu"][..]
                });
                format!("fcvt.{i}.{t} {rd}, {fa}, {rm}")
            }
            10 => {
                let i = self.rng.pick(if rv64 {
                    &["w", "wu", "l", "lu"][..]
                } else {
                    &["w", "wu"][..]
                });
                if t == "d" && i.starts_with('w') {
                    // Exact: the assembler takes no rounding mode.
                    format!("fcvt.d.{i} {fd}, {rs}")
                } else {
                    format!("fcvt.{t}.{i} {fd}, {rs}, {rm}")
                }
            }
            11 => {
                if self.rng.chance(1, 2) {
                    format!("fcvt.s.d {fd}, {fa}, {rm}")
                } else {
                    format!("fcvt.d.s {fd}, {fa}")
                }
            }
            12 => match self.rng.below(if rv64 { 4 } else { 2 }) {
                0 => format!("fmv.x.w {rd}, {fa}"),
                1 => format!("fmv.w.x {fd}, {rs}"),
                2 => format!("fmv.x.d {rd}, {fa}"),
                _ => format!("fmv.d.x {fd}, {rs}"),
            },
            _ => format!("fsgnj.{t} {fd}, {fa}, {fa}"),
        }
    }

    fn c_op(&mut self) -> String {
        let rv64 = self.rv64();
        let n = if rv64 { 24 } else { 22 };
        match self.rng.below(n) {
            0 => {
                let rd = self.dst_nz();
                format!("c.addi {rd}, {}", self.nz6())
            }
            1 => {
                let rd = self.dst_nz();
                format!("c.li {rd}, {}", self.rng.range(-32, 31))
            }
            2 => {
                let mut rd = self.dst_nz();
                while rd == "x2" {
                    rd = self.dst_nz();
                }
                let v = self.rng.range(1, 63);
                // c.lui takes the 6-bit field: 1..31 and 0xfffe0..0xfffff.
                let imm = if v < 32 { v } else { 0xfffe0 + (v - 32) };
                format!("c.lui {rd}, {imm}")
            }
            3 => {
                let rd = self.dst_nz();
                let rs = self.src_nz();
                format!("c.mv {rd}, {rs}")
            }
            4 => {
                let rd = self.dst_nz();
                let rs = self.src_nz();
                format!("c.add {rd}, {rs}")
            }
            5 => {
                let rd = self.cdst();
                let rs = self.csrc();
                format!(
                    "{} {rd}, {rs}",
                    self.rng.pick(&["c.sub", "c.and", "c.or", "c.xor"])
                )
            }
            6 => {
                let rd = self.cdst();
                format!("c.andi {rd}, {}", self.rng.range(-32, 31))
            }
            7 => {
                let rd = self.cdst();
                let sh = self.rng.range(1, if rv64 { 63 } else { 31 });
                format!("{} {rd}, {sh}", self.rng.pick(&["c.srli", "c.srai"]))
            }
            8 => {
                let rd = self.dst_nz();
                let sh = self.rng.range(1, if rv64 { 63 } else { 31 });
                format!("c.slli {rd}, {sh}")
            }
            9 => {
                let rd = self.cdst();
                let off = self.rng.below(32) * 4;
                format!("c.lw {rd}, {off}(x8)")
            }
            10 => {
                let rs = self.csrc();
                let off = self.rng.below(32) * 4;
                format!("c.sw {rs}, {off}(x8)")
            }
            11 => {
                let rd = self.dst_nz();
                let off = self.rng.below(32) * 4;
                format!("c.lwsp {rd}, {off}(x2)")
            }
            12 => {
                let rs = self.src();
                let off = self.rng.below(32) * 4;
                format!("c.swsp {rs}, {off}(x2)")
            }
            13 => {
                let f = self.cf();
                let off = self.rng.below(16) * 8;
                format!("{} {f}, {off}(x8)", self.rng.pick(&["c.fld", "c.fsd"]))
            }
            14 => {
                let f = self.f();
                let off = self.rng.below(16) * 8;
                format!("{} {f}, {off}(x2)", self.rng.pick(&["c.fldsp", "c.fsdsp"]))
            }
            15 => {
                let rd = self.cdst();
                // c.addi4spn: nonzero multiple of 4 below 1024; keep it small
                // so the result stays a scratch address (harmless either way).
                let imm = 4 * self.rng.range(1, 255);
                format!("c.addi4spn {rd}, x2, {imm}")
            }
            16 => "c.addi16sp x2, 16\nc.addi16sp x2, -16".into(),
            17 => "c.nop".into(),
            18 | 19 => {
                let rd = self.cdst();
                let rs = self.csrc();
                format!("{} {rd}, {rs}", self.rng.pick(&["c.and", "c.or"]))
            }
            20 | 21 if !rv64 => {
                let f = self.cf();
                let off = self.rng.below(32) * 4;
                if self.rng.chance(1, 2) {
                    format!("{} {f}, {off}(x8)", self.rng.pick(&["c.flw", "c.fsw"]))
                } else {
                    format!("{} {f}, {off}(x2)", self.rng.pick(&["c.flwsp", "c.fswsp"]))
                }
            }
            20 => {
                let rd = self.cdst();
                let rs = self.csrc();
                format!("{} {rd}, {rs}", self.rng.pick(&["c.addw", "c.subw"]))
            }
            21 => {
                let rd = self.dst_nz();
                format!("c.addiw {rd}, {}", self.rng.range(-32, 31))
            }
            22 => {
                let rd = self.cdst();
                let off = self.rng.below(16) * 8;
                format!("c.ld {rd}, {off}(x8)")
            }
            _ => {
                if self.rng.chance(1, 2) {
                    let rs = self.csrc();
                    let off = self.rng.below(16) * 8;
                    format!("c.sd {rs}, {off}(x8)")
                } else {
                    let rd = self.dst_nz();
                    let off = self.rng.below(16) * 8;
                    format!("c.ldsp {rd}, {off}(x2)")
                }
            }
        }
    }
    fn dst_nz(&mut self) -> String {
        let r = self.rng.pick(&WRITABLE);
        xr(r)
    }
    fn src_nz(&mut self) -> String {
        let r = 1 + self.rng.below(31) as u32;
        xr(r)
    }
    fn nz6(&mut self) -> i64 {
        let v = self.rng.range(-32, 30);
        if v >= 0 {
            v + 1
        } else {
            v
        }
    }

    fn csr_op(&mut self) -> String {
        let rd = self.dst();
        let rs = self.src();
        // Below M only the floating-point CSRs (and sscratch in S) are legal.
        let choice = match self.mode {
            Mode::Machine => self.rng.below(8),
            Mode::User => self.rng.pick(&[0u64, 1, 2, 3, 5]),
            Mode::SupervisorPaged => {
                let c = self.rng.below(7);
                if c == 4 {
                    return format!("csrrw {rd}, sscratch, {rs}");
                }
                if c == 6 {
                    return "sfence.vma".into();
                }
                c
            }
        };
        match choice {
            0 => format!("fsrmi {rd}, {}", self.rng.below(5)),
            1 => format!(
                "{} {rd}, fflags, {}",
                self.rng.pick(&["csrrwi", "csrrsi", "csrrci"]),
                self.rng.below(32)
            ),
            2 => format!(
                "{} {rd}, fflags, {rs}",
                self.rng.pick(&["csrrw", "csrrs", "csrrc"])
            ),
            3 => format!("{} {rd}", self.rng.pick(&["frcsr", "frrm", "frflags"])),
            4 => format!("csrr {rd}, mhartid"),
            5 => format!("csrrwi {rd}, fcsr, {}", self.rng.below(32)),
            _ => {
                // Not mepc: QEMU 7.2 keeps mepc[0] set by a write (the
                // specification makes it read as zero).
                let csr = self.rng.pick(&["mscratch", "sscratch"]);
                let op = self
                    .rng
                    .pick(&["csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"]);
                if op.ends_with('i') {
                    format!("{op} {rd}, {csr}, {}", self.rng.below(32))
                } else {
                    format!("{op} {rd}, {csr}, {rs}")
                }
            }
        }
    }

    fn branch(&mut self, body: &mut Vec<String>) {
        let label = self.new_label();
        let br = match self.rng.below(8) {
            0..=3 => {
                let (a, b) = (self.src(), self.src());
                format!(
                    "{} {a}, {b}, {label}",
                    self.rng.pick(&["beq", "bne", "blt", "bge", "bltu", "bgeu"])
                )
            }
            4 if !self.norvc => {
                let a = self.csrc();
                format!("{} {a}, {label}", self.rng.pick(&["c.beqz", "c.bnez"]))
            }
            5 => {
                let rd = self.dst();
                format!("jal {rd}, {label}")
            }
            6 if !self.norvc => {
                if !self.rv64() && self.rng.chance(1, 2) {
                    format!("c.jal {label}")
                } else {
                    format!("c.j {label}")
                }
            }
            _ => {
                let t = self.dst_nz();
                let rd = self.dst();
                match self.rng.below(if self.norvc { 1 } else { 3 }) {
                    0 => format!("la {t}, {label}\njalr {rd}, 0({t})"),
                    1 => format!("la {t}, {label}\nc.jr {t}"),
                    _ => format!("la {t}, {label}\nc.jalr {t}"),
                }
            }
        };
        body.push(br);
        // Skip 0..3 following items.
        for _ in 0..self.rng.below(4) {
            self.item(body);
        }
        body.push(format!("{label}:"));
    }
}

/// Generates the segment of `seed` with `len` random items.
pub fn segment(seed: u64, xlen: Xlen, len: usize) -> Segment {
    segment_prefix(seed, xlen, len, usize::MAX)
}

/// Like [`segment`], but keeps only the first `keep` lines of the random
/// body (and every later label, so branches still assemble): for reducing
/// a divergence to the instruction that causes it.
pub fn segment_prefix(seed: u64, xlen: Xlen, len: usize, keep: usize) -> Segment {
    let mut g = Gen {
        rng: Rng::new(seed),
        xlen,
        seed,
        label: 0,
        norvc: false,
        // The mode comes from its own stream, so that M-mode segments are
        // the same as before modes existed.
        mode: match Rng::new(!seed).below(4) {
            0 => Mode::User,
            1 => Mode::SupervisorPaged,
            _ => Mode::Machine,
        },
    };
    let mut a = String::new();
    let sreg = if xlen == Xlen::Rv64 { "sd" } else { "sw" };
    let xbytes = if xlen == Xlen::Rv64 { 8 } else { 4 };
    a.push_str(&format!("# ---- segment seed {seed:#x}\n"));
    // Data: initial scratch contents and f register values.
    let init_label = format!(".Linit{seed:x}");
    a.push_str(&format!(".pushsection .data\n.balign 8\n{init_label}:\n"));
    for _ in 0..SCRATCH_BYTES / 8 {
        a.push_str(&format!(".dword {:#x}\n", g.rng.next_u64()));
    }
    for _ in 0..32 {
        let v = g.fvalue();
        a.push_str(&format!(".dword {v:#x}\n"));
    }
    a.push_str(".popsection\n");
    a.push_str(".option push\n.option norvc\n");
    a.push_str(&format!(
        "# body runs in {:?}\ncall {}\n",
        g.mode,
        if g.mode == Mode::SupervisorPaged {
            "diff_vm_on"
        } else {
            "diff_vm_off"
        }
    ));
    a.push_str(&format!("la x31, diff_mem\nla x30, {init_label}\n"));
    for i in 0..SCRATCH_BYTES / 4 {
        a.push_str(&format!("lw x29, {}(x30)\nsw x29, {}(x31)\n", i * 4, i * 4));
    }
    for i in 0..32 {
        a.push_str(&format!("fld f{i}, {}(x30)\n", SCRATCH_BYTES + i * 8));
    }
    a.push_str(&format!("fscsr x0, x0\nfsrmi x0, {}\n", g.rng.below(5)));
    a.push_str("mv x2, x31\nmv x8, x31\n");
    for r in WRITABLE {
        let v = g.value();
        a.push_str(&format!("li x{r}, {v}\n"));
    }
    for csr in ["mscratch", "sscratch"] {
        let v = g.value();
        a.push_str(&format!(
            "li x30, {v}\ncsrw {csr}, x30\nli x30, {}\n",
            g.value()
        ));
    }
    if g.mode != Mode::Machine {
        // mret into the body's mode; x30 gets its value afterwards.
        let mpp = if g.mode == Mode::User { 0 } else { 1 };
        a.push_str(&format!(
            "li x30, 0x1800\ncsrc mstatus, x30\nli x30, {}\ncsrs mstatus, x30\n\
             la x30, .Lenter{seed:x}\ncsrw mepc, x30\nli x30, {}\nmret\n.Lenter{seed:x}:\n",
            mpp << 11,
            g.value()
        ));
    }
    a.push_str(".option pop\n");
    // The random body; sometimes without automatic compression.
    let norvc = g.rng.chance(1, 4);
    g.norvc = norvc;
    if norvc {
        a.push_str(".option push\n.option norvc\n");
    }
    let mut body = Vec::new();
    while body.len() < len {
        g.item(&mut body);
    }
    if keep < body.len() {
        let tail = body.split_off(keep);
        body.extend(tail.into_iter().filter(|l| l.ends_with(':')));
    }
    for line in &body {
        a.push_str(line);
        a.push('\n');
    }
    if norvc {
        a.push_str(".option pop\n");
    }
    // Signature: store x1..x30 (x31 is the base), f0..f31, fcsr; print.
    for r in 1..=31u32 {
        a.push_str(&format!("{sreg} x{r}, {}(x31)\n", SAVE_X + r * xbytes));
    }
    for i in 0..32u32 {
        a.push_str(&format!("fsd f{i}, {}(x31)\n", SAVE_F + i * 8));
    }
    a.push_str(&format!("frcsr x30\n{sreg} x30, {SAVE_FCSR}(x31)\n"));
    if g.mode != Mode::Machine {
        // back to M-mode through the framework's ecall service
        a.push_str("li a7, 0x7654321\necall\n");
    }
    a.push_str(&format!(
        "li a1, {}\nli a2, {}\ncall sig_dump\n",
        seed as u32 as i32,
        (seed >> 32) as u32 as i32
    ));
    Segment {
        seed,
        xlen,
        asm: a,
        listing: body,
    }
}

/// A whole program of several segments (link it with `tests/diff/sig.S`
/// and the ISA framework's crt.S).
pub fn program(segments: &[Segment]) -> String {
    let mut s = String::from("#include \"test.h\"\nTEST_MAIN\n");
    for seg in segments {
        s.push_str(&seg.asm);
    }
    s.push_str("j pass\n");
    s
}

/// One parsed signature: the seed and (name, value) pairs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The seed printed before the values.
    pub seed: u64,
    /// `x1`..`x31`, `f0`..`f31`, `fcsr`, `m0`..`m31` (scratch words).
    pub fields: Vec<(String, String)>,
}

/// Splits console output into signatures; text that is not a signature
/// (e.g. an unexpected-trap message) ends up in the returned remainder.
pub fn parse_signatures(console: &str) -> (Vec<Signature>, String) {
    let mut sigs = Vec::new();
    let mut rest = String::new();
    for chunk in console.split('@').skip_while(|c| c.is_empty()) {
        let mut lines = chunk.lines();
        let seed = lines
            .next()
            .and_then(|l| u64::from_str_radix(l.trim(), 16).ok());
        let groups: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
        let ok = groups.len() >= 4
            && groups[0].len() == 31
            && groups[1].len() == 32
            && groups[2].len() == 1
            && groups[3].len() == (SCRATCH_BYTES / 4) as usize;
        match (seed, ok) {
            (Some(seed), true) => {
                let mut fields = Vec::new();
                for (i, v) in groups[0].iter().enumerate() {
                    fields.push((format!("x{}", i + 1), v.to_string()));
                }
                for (i, v) in groups[1].iter().enumerate() {
                    fields.push((format!("f{i}"), v.to_string()));
                }
                fields.push(("fcsr".into(), groups[2][0].to_string()));
                for (i, v) in groups[3].iter().enumerate() {
                    fields.push((format!("mem[{:#x}]", i * 4), v.to_string()));
                }
                sigs.push(Signature { seed, fields });
                for extra in groups.iter().skip(4) {
                    rest.push_str(&extra.join(" "));
                    rest.push('\n');
                }
            }
            _ => {
                rest.push('@');
                rest.push_str(chunk);
            }
        }
    }
    (sigs, rest)
}

/// The fields in which two signatures differ, as "name: ours vs theirs".
pub fn differences(ours: &Signature, theirs: &Signature) -> Vec<String> {
    let mut d = Vec::new();
    if ours.seed != theirs.seed {
        d.push(format!("seed: {:#x} vs {:#x}", ours.seed, theirs.seed));
    }
    for ((n, a), (_, b)) in ours.fields.iter().zip(&theirs.fields) {
        if a != b {
            d.push(format!("{n}: {a} (vf) vs {b} (qemu)"));
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_program() {
        let a = segment(42, Xlen::Rv64, DEFAULT_LEN);
        let b = segment(42, Xlen::Rv64, DEFAULT_LEN);
        let c = segment(43, Xlen::Rv64, DEFAULT_LEN);
        assert_eq!(a.asm, b.asm);
        assert_ne!(a.asm, c.asm);
    }

    #[test]
    fn signature_round_trip() {
        let mut text = String::from("@2a\n");
        text.push_str(&vec!["0"; 31].join(" "));
        text.push('\n');
        text.push_str(&vec!["1"; 32].join(" "));
        text.push_str("\n5\n");
        text.push_str(&vec!["7"; 32].join(" "));
        text.push('\n');
        let (sigs, rest) = parse_signatures(&text);
        assert_eq!(sigs.len(), 1, "rest: {rest}");
        assert_eq!(sigs[0].seed, 0x2a);
        assert_eq!(sigs[0].fields.len(), 31 + 32 + 1 + 32);
        let mut other = sigs[0].clone();
        other.fields[3].1 = "9".into();
        assert_eq!(
            differences(&sigs[0], &other),
            vec!["x4: 0 (vf) vs 9 (qemu)"]
        );
        let (none, rest) = parse_signatures("unexpected trap in M: cause=2\n");
        assert!(none.is_empty());
        assert!(rest.contains("unexpected"));
    }
}
