//! Differential tests of the block compiler (jit.rs): random RV64IM
//! programs run once on an interpreting hart and once on a hart whose hot
//! blocks run as compiled host code; registers, memory, pc and the
//! instruction count must come out identical.
//!
//! The programs loop over a body of random ALU, M, load, store, branch and
//! jump instructions, with the corner values of division and shifts among
//! the register contents, misaligned and page-crossing accesses (which the
//! compiled code leaves to the interpreter), and CSR accesses (left to the
//! interpreter too) in the middle of blocks.

use crate::asm::*;
use crate::csr::MSCRATCH;
use crate::{Hart, NoBus, Rv64, Stop, RAM_BASE};

/// xorshift64*: a fixed, seedable sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, s: &[T]) -> T {
        s[self.below(s.len() as u64) as usize]
    }
}

/// The data the loads and stores use: two pages, the base register
/// pointing 1 KiB before the boundary between them.
const DATA: u64 = RAM_BASE + 0x10000;
const BASE: u64 = DATA + 0x1000 - 0x400;
/// Registers the random ops write (never x8 = the data base, x28 = the
/// subroutine's counter, x29 = the checksum of results, x31 = the loop counter).
const DEST: [Reg; 12] = [0, 1, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15];
const SRC: [Reg; 13] = [0, 1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const ITERATIONS: i128 = 700;

/// Assembler methods by operand shape: `rd, rs1, rs2`; `rd, rs1, imm`
/// (and loads, stores); `rd, rs1, shamt`; `rs1, rs2, label`.
type RegOp = fn(&mut Asm, Reg, Reg, Reg) -> &mut Asm;
type ImmOp = fn(&mut Asm, Reg, Reg, i32) -> &mut Asm;
type ShiftOp = fn(&mut Asm, Reg, Reg, u32) -> &mut Asm;
type BranchOp = for<'x, 'y> fn(&'x mut Asm, Reg, Reg, &'y str) -> &'x mut Asm;

fn value(r: &mut Rng) -> i128 {
    let special = [
        0,
        1,
        -1,
        i64::MIN as i128,
        i64::MAX as i128,
        i32::MIN as i128,
        i32::MAX as i128,
        0x8000_0000,
        63,
        64,
        31,
        32,
    ];
    if r.below(3) == 0 {
        r.pick(&special)
    } else {
        r.next() as i64 as i128
    }
}

fn program(seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let mut a = Asm::new();
    a.li(S0, BASE as i128);
    a.li(T6, ITERATIONS);
    for &rd in &DEST[1..] {
        let v = value(&mut r);
        a.li(rd, v);
    }
    a.label("loop");
    let mut label = 0;
    let mut open: Vec<(usize, String)> = Vec::new();
    for i in 0..48 {
        // Forward labels land here when their distance is up.
        open.retain(|(at, name)| {
            if *at == i {
                a.label(name);
                false
            } else {
                true
            }
        });
        let (d, s1, s2) = (r.pick(&DEST), r.pick(&SRC), r.pick(&SRC));
        let off = r.below(2048) as i32 - 1024;
        let k = r.below(100);
        if k < 71 && d != 0 {
            // Whatever d held goes into the checksum before d is overwritten,
            // so a wrong result shows even when no later op reads it.
            a.add(T4, T4, d);
        }
        match k {
            0..=29 => {
                let ops: [RegOp; 27] = [
                    Asm::add,
                    Asm::sub,
                    Asm::sll,
                    Asm::slt,
                    Asm::sltu,
                    Asm::xor,
                    Asm::srl,
                    Asm::sra,
                    Asm::or,
                    Asm::and,
                    Asm::addw,
                    Asm::subw,
                    Asm::sllw,
                    Asm::srlw,
                    Asm::sraw,
                    Asm::mul,
                    Asm::mulh,
                    Asm::mulhsu,
                    Asm::mulhu,
                    Asm::div,
                    Asm::divu,
                    Asm::rem,
                    Asm::remu,
                    Asm::mulw,
                    Asm::divw,
                    Asm::divuw,
                    Asm::remw,
                ];
                let f = r.pick(&ops);
                f(&mut a, d, s1, s2);
            }
            30..=31 => {
                a.remuw(d, s1, s2);
            }
            32..=49 => {
                let imm = r.below(4096) as i32 - 2048;
                let ops: [ImmOp; 7] = [
                    Asm::addi,
                    Asm::slti,
                    Asm::sltiu,
                    Asm::xori,
                    Asm::ori,
                    Asm::andi,
                    Asm::addiw,
                ];
                let f = r.pick(&ops);
                f(&mut a, d, s1, imm);
            }
            50..=55 => {
                let ops: [ShiftOp; 6] = [
                    Asm::slli,
                    Asm::srli,
                    Asm::srai,
                    Asm::slliw,
                    Asm::srliw,
                    Asm::sraiw,
                ];
                let k = r.below(6) as usize;
                let sh = if k < 3 { r.below(64) } else { r.below(32) } as u32;
                ops[k](&mut a, d, s1, sh);
            }
            56..=57 => {
                a.lui(d, r.below(1 << 20) as i32);
            }
            58 => {
                a.auipc(d, r.below(1 << 20) as i32);
            }
            59..=70 => {
                let ops: [ImmOp; 7] = [
                    Asm::lb,
                    Asm::lh,
                    Asm::lw,
                    Asm::ld,
                    Asm::lbu,
                    Asm::lhu,
                    Asm::lwu,
                ];
                let f = r.pick(&ops);
                f(&mut a, d, S0, off);
            }
            71..=80 => {
                let ops: [ImmOp; 4] = [Asm::sb, Asm::sh, Asm::sw, Asm::sd];
                let f = r.pick(&ops);
                f(&mut a, s1, S0, off);
            }
            81..=88 => {
                let name = format!("f{label}");
                label += 1;
                open.push((i + 1 + r.below(4) as usize, name.clone()));
                let ops: [BranchOp; 6] =
                    [Asm::beq, Asm::bne, Asm::blt, Asm::bge, Asm::bltu, Asm::bgeu];
                let f = r.pick(&ops);
                f(&mut a, s1, s2, &name);
            }
            93..=94 => {
                let name = format!("f{label}");
                label += 1;
                open.push((i + 1 + r.below(3) as usize, name.clone()));
                a.jal(d, &name);
            }
            89..=92 | 95 => {
                // A call: the subroutine's return (JALR) leads to many places.
                a.jal(RA, "sub");
            }
            96 => {
                a.c_addi(r.pick(&DEST[1..]), r.below(63) as i32 - 31);
            }
            97 => {
                a.csrrw(d, MSCRATCH, s1);
            }
            98 => {
                a.fence();
            }
            _ => {
                a.csrrs(d, MSCRATCH, 0);
            }
        }
    }
    for (_, name) in open {
        a.label(&name);
    }
    a.addi(T6, T6, -1);
    a.bnez(T6, "loop");
    a.wfi();
    // In the next page: calls and returns cross pages.
    a.align(4096);
    a.label("sub");
    a.addi(T3, T3, 3);
    a.xor(T4, T4, T3);
    a.ret();
    a.finish().expect("the random program assembles")
}

fn hart(code: &[u8]) -> Hart<Rv64, NoBus> {
    let mut h: Hart<Rv64, NoBus> = Hart::new(1 << 20, NoBus);
    assert!(h.ram_write(RAM_BASE, code));
    let data: Vec<u8> = (0..0x2000u32)
        .map(|i| (i.wrapping_mul(0x9e37) >> 5) as u8)
        .collect();
    assert!(h.ram_write(DATA, &data));
    h
}

/// Runs both harts to the final WFI in the same slices of the budget,
/// comparing their whole state after each.
/// `between` runs on the compiling hart after each slice (slice number given).
fn lockstep(
    interp: &mut Hart<Rv64, NoBus>,
    jit: &mut Hart<Rv64, NoBus>,
    what: &str,
    mut between: impl FnMut(&mut Hart<Rv64, NoBus>, usize),
) {
    for slice in 0..10_000 {
        let before = interp.insns();
        let (a, b) = (interp.run(1_999), jit.run(1_999));
        assert_eq!(a, b, "{what}: the runs stop differently");
        assert_eq!(
            state(interp),
            state(jit),
            "{what}: states differ at {}",
            interp.insns()
        );
        match a {
            Stop::Wfi => return,
            Stop::Budget => assert_eq!(interp.insns(), before + 1_999, "{what}: budget overrun"),
            s => panic!("{what}: unexpected stop {s:?}"),
        }
        between(jit, slice);
    }
    panic!("{what}: the program did not finish");
}

/// Runs `code` on an interpreting hart and on a compiling one in lockstep
/// ([`lockstep`]); gives both harts at the end.
fn run_both(code: &[u8], what: &str) -> (Hart<Rv64, NoBus>, Hart<Rv64, NoBus>) {
    let mut interp = hart(code);
    let mut jit = hart(code);
    jit.set_jit(true).expect("the block compiler starts");
    lockstep(&mut interp, &mut jit, what, |h, _| h.jit_settle());
    (interp, jit)
}

type State = (Vec<u64>, u64, u64, Vec<u8>, Option<u64>);

fn state(h: &mut Hart<Rv64, NoBus>) -> State {
    let regs = (0..32).map(|i| h.reg(i)).collect();
    let mut data = vec![0u8; 0x2000];
    assert!(h.ram_read(DATA, &mut data));
    (regs, h.pc(), h.insns(), data, h.csr(MSCRATCH))
}

#[test]
fn compiled_blocks_match_the_interpreter_on_random_programs() {
    let mut compiled_insns = 0;
    let mut total = 0;
    for seed in 0..40u64 {
        let code = program(0x5eed_0000 + seed);
        let (_, jit) = run_both(&code, &format!("seed {seed}"));
        assert!(jit.jit_compiled() > 0, "nothing was compiled, seed {seed}");
        compiled_insns += jit.jit_insns();
        total += jit.insns();
    }
    // Most of the work must have run as compiled code, or this tests nothing.
    assert!(
        compiled_insns * 2 > total,
        "only {compiled_insns} of {total} instructions ran compiled"
    );
}

#[test]
fn a_store_into_a_compiled_block_is_seen_at_once() {
    // A loop that rewrites its own `addi a0, a0, 1` into `addi a0, a0, 2`
    // once it has run hot: the new instruction must take effect.
    let mut a = Asm::new();
    a.li(A1, 1000);
    a.la(A2, "target");
    a.li(A3, 0x0025_0513); // addi a0, a0, 2
    a.label("loop");
    a.label("target");
    a.addi(A0, A0, 1);
    a.addi(A1, A1, -1);
    a.li(A4, 500);
    a.bne(A1, A4, "skip");
    a.sw(A3, A2, 0);
    a.label("skip");
    a.bnez(A1, "loop");
    a.wfi();
    let code = a.finish().unwrap();
    let (interp, jit) = run_both(&code, "self-modifying loop");
    assert_eq!(interp.reg(10), 500 + 2 * 500);
    assert!(jit.jit_insns() > 0);
}

#[test]
fn a_store_into_a_linked_block_in_another_page_is_seen() {
    // A loop calls a subroutine in the next page, and once both are hot
    // (and linked) rewrites the subroutine's `addi a0, a0, 1` into
    // `addi a0, a0, 2`: the next calls must run the new instruction.
    let mut a = Asm::new();
    a.li(A1, 1000);
    a.la(A2, "sub");
    a.li(A3, 0x0025_0513); // addi a0, a0, 2
    a.li(A4, 500);
    a.label("loop");
    a.jal(RA, "sub");
    a.addi(A1, A1, -1);
    a.bne(A1, A4, "skip");
    a.sw(A3, A2, 0);
    a.label("skip");
    a.bnez(A1, "loop");
    a.wfi();
    a.align(4096);
    a.label("sub");
    a.addi(A0, A0, 1);
    a.ret();
    let code = a.finish().unwrap();
    let (interp, jit) = run_both(&code, "cross-page self-modifying call");
    assert_eq!(interp.reg(10), 500 + 2 * 500);
    assert!(jit.jit_insns() > 0);
}

#[test]
fn returns_to_the_same_offset_in_two_pages_stay_apart() {
    // One return instruction leads to the same page offset in two pages,
    // where different code follows: a link must not mistake one for the other.
    let mut a = Asm::new();
    let pad_to = |a: &mut Asm, off: usize| {
        while a.pos() % 4096 != off {
            a.nop();
        }
    };
    a.li(A1, 600);
    a.label("loop");
    pad_to(&mut a, 0x100);
    a.jal(RA, "sub"); // returns to page A + 0x104
    a.addi(A0, A0, 1);
    a.j("page_c");
    a.align(4096);
    a.label("sub");
    a.addi(A2, A2, 1);
    a.ret();
    a.align(4096);
    a.label("page_c");
    pad_to(&mut a, 0x100);
    a.jal(RA, "sub"); // returns to page C + 0x104
    a.addi(A0, A0, 7);
    a.addi(A1, A1, -1);
    a.beq(A1, ZERO, "done");
    a.j("loop");
    a.label("done");
    a.wfi();
    let code = a.finish().unwrap();
    let (interp, jit) = run_both(&code, "returns into two pages");
    assert_eq!(interp.reg(10), 600 * 8);
    assert!(jit.jit_insns() > 0);
}

#[test]
fn dropping_all_code_midway_changes_nothing() {
    // What the hart does when the arena or the link cells fill up: all code
    // goes, and blocks still being compiled are not installed when they come
    // back (their link cells go to other code). Done here twice in each
    // program: after the compiled blocks are taken in (slice 7), and before
    // (slice 14; blocks become hot again within about 7 slices).
    let mut recompiled = 0;
    for seed in 0..8u64 {
        let code = program(0x0dd5_0000 + seed);
        let mut interp = hart(&code);
        let mut jit = hart(&code);
        jit.set_jit(true).expect("the block compiler starts");
        let mut last = 0;
        let between = |h: &mut Hart<Rv64, NoBus>, slice: usize| {
            match slice {
                7 => {
                    h.jit_settle();
                    h.reset_compiled();
                }
                14 => {
                    h.reset_compiled();
                    h.jit_settle();
                }
                _ => h.jit_settle(),
            }
            if h.jit_compiled() > last {
                recompiled += 1;
                last = h.jit_compiled();
            }
        };
        lockstep(&mut interp, &mut jit, &format!("seed {seed}"), between);
    }
    // Compilation went on after the resets.
    assert!(recompiled > 8, "compiled in only {recompiled} slices");
}
