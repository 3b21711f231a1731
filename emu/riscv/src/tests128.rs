//! RV128 tests: every RV128I/M/A/C instruction against a Rust model of its
//! 128-bit semantics over operands chosen for wrap-around and sign corners,
//! the 128-bit CSR views, and XLEN switching through misa.MXL and
//! mstatus.SXL/UXL. Programs come from the [`crate::asm`] builder.

use crate::asm::*;
use crate::csr::*;
use crate::{AnyHart, Hart, NoBus, Rv128, Stop, PRV_M, RAM_BASE};

type H = Hart<Rv128, NoBus>;

/// Operands: small, boundary and 64/128-bit wrap-around values.
const VALS: [u128; 14] = [
    0,
    1,
    2,
    0x7f,
    u64::MAX as u128,
    1 << 63,
    (1 << 64) + 5,
    0x8000_0000,
    0xffff_ffff,
    1 << 127,
    (1 << 127) - 1,
    u128::MAX,
    u128::MAX - 6,
    0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
];

fn assemble(f: impl FnOnce(&mut Asm)) -> Vec<u8> {
    let mut a = Asm::new();
    f(&mut a);
    a.wfi();
    a.finish().expect("assembles")
}

fn hart_with(code: &[u8]) -> H {
    let mut h: H = Hart::new(1 << 20, NoBus);
    assert!(h.ram_write(RAM_BASE, code));
    h
}

/// Runs `code` from RAM_BASE with a1 = `a`, a2 = `b` until WFI; gives a0.
fn run_ab(code: &[u8], a: u128, b: u128) -> u128 {
    let mut h = hart_with(code);
    h.set_reg128(A1 as usize, a);
    h.set_reg128(A2 as usize, b);
    assert_eq!(h.run(10_000), Stop::Wfi, "the program ends in WFI");
    h.reg128(A0 as usize)
}

fn sext(v: u128, bits: u32) -> u128 {
    ((v << (128 - bits)) as i128 >> (128 - bits)) as u128
}

fn check_rr(
    name: &str,
    emit: fn(&mut Asm, Reg, Reg, Reg) -> &mut Asm,
    model: fn(u128, u128) -> u128,
) {
    let code = assemble(|a| {
        emit(a, A0, A1, A2);
    });
    for &x in &VALS {
        for &y in &VALS {
            assert_eq!(run_ab(&code, x, y), model(x, y), "{name} {x:#x}, {y:#x}");
        }
    }
}

type Model = fn(u128, u128) -> u128;

fn i(v: u128) -> i128 {
    v as i128
}

#[test]
fn register_register_ops() {
    let w = |v: u128| sext(v & 0xffff_ffff, 32);
    let d = |v: u128| sext(v & u64::MAX as u128, 64);
    type E = fn(&mut Asm, Reg, Reg, Reg) -> &mut Asm;
    let cases: Vec<(&str, E, Model)> = vec![
        ("add", Asm::add, |a, b| a.wrapping_add(b)),
        ("sub", Asm::sub, |a, b| a.wrapping_sub(b)),
        ("sll", Asm::sll, |a, b| a << (b & 127)),
        ("slt", Asm::slt, |a, b| (i(a) < i(b)) as u128),
        ("sltu", Asm::sltu, |a, b| (a < b) as u128),
        ("xor", Asm::xor, |a, b| a ^ b),
        ("srl", Asm::srl, |a, b| a >> (b & 127)),
        ("sra", Asm::sra, |a, b| (i(a) >> (b & 127)) as u128),
        ("or", Asm::or, |a, b| a | b),
        ("and", Asm::and, |a, b| a & b),
        ("addw", Asm::addw, |a, b| {
            sext(a.wrapping_add(b) & 0xffff_ffff, 32)
        }),
        ("subw", Asm::subw, |a, b| {
            sext(a.wrapping_sub(b) & 0xffff_ffff, 32)
        }),
        ("sllw", Asm::sllw, |a, b| {
            sext(((a as u32) << (b & 31)) as u128, 32)
        }),
        ("srlw", Asm::srlw, |a, b| {
            sext(((a as u32) >> (b & 31)) as u128, 32)
        }),
        ("sraw", Asm::sraw, |a, b| {
            ((a as i32) >> (b & 31)) as i128 as u128
        }),
        ("addd", Asm::addd, |a, b| {
            sext((a as u64).wrapping_add(b as u64) as u128, 64)
        }),
        ("subd", Asm::subd, |a, b| {
            sext((a as u64).wrapping_sub(b as u64) as u128, 64)
        }),
        ("slld", Asm::slld, |a, b| {
            sext(((a as u64) << (b & 63)) as u128, 64)
        }),
        ("srld", Asm::srld, |a, b| {
            sext(((a as u64) >> (b & 63)) as u128, 64)
        }),
        ("srad", Asm::srad, |a, b| {
            ((a as i64) >> (b & 63)) as i128 as u128
        }),
        ("mul", Asm::mul, |a, b| a.wrapping_mul(b)),
        ("mulh", Asm::mulh, |a, b| {
            // Signed 256-bit product through the unsigned one.
            let (hi, _) = crate::xlen::mul_u128_wide(a, b);
            let mut hi = hi;
            if i(a) < 0 {
                hi = hi.wrapping_sub(b);
            }
            if i(b) < 0 {
                hi = hi.wrapping_sub(a);
            }
            hi
        }),
        ("mulhsu", Asm::mulhsu, |a, b| {
            let (hi, _) = crate::xlen::mul_u128_wide(a, b);
            if i(a) < 0 {
                hi.wrapping_sub(b)
            } else {
                hi
            }
        }),
        ("mulhu", Asm::mulhu, |a, b| {
            crate::xlen::mul_u128_wide(a, b).0
        }),
        ("div", Asm::div, |a, b| {
            if b == 0 {
                u128::MAX
            } else {
                i(a).wrapping_div(i(b)) as u128
            }
        }),
        ("divu", Asm::divu, |a, b| {
            a.checked_div(b).unwrap_or(u128::MAX)
        }),
        ("rem", Asm::rem, |a, b| {
            if b == 0 {
                a
            } else {
                i(a).wrapping_rem(i(b)) as u128
            }
        }),
        ("remu", Asm::remu, |a, b| if b == 0 { a } else { a % b }),
        ("mulw", Asm::mulw, |a, b| {
            sext((a as u32).wrapping_mul(b as u32) as u128, 32)
        }),
        ("divw", Asm::divw, |a, b| {
            let (x, y) = (a as i32, b as i32);
            if y == 0 {
                u128::MAX
            } else {
                x.wrapping_div(y) as i128 as u128
            }
        }),
        ("divuw", Asm::divuw, |a, b| {
            let (x, y) = (a as u32, b as u32);
            x.checked_div(y).map_or(u128::MAX, |q| sext(q as u128, 32))
        }),
        ("remw", Asm::remw, |a, b| {
            let (x, y) = (a as i32, b as i32);
            if y == 0 {
                x as i128 as u128
            } else {
                x.wrapping_rem(y) as i128 as u128
            }
        }),
        ("remuw", Asm::remuw, |a, b| {
            let (x, y) = (a as u32, b as u32);
            if y == 0 {
                sext(x as u128, 32)
            } else {
                sext((x % y) as u128, 32)
            }
        }),
        ("muld", Asm::muld, |a, b| {
            (a as u64).wrapping_mul(b as u64) as i64 as i128 as u128
        }),
        ("divd", Asm::divd, |a, b| {
            let (x, y) = (a as i64, b as i64);
            if y == 0 {
                u128::MAX
            } else {
                x.wrapping_div(y) as i128 as u128
            }
        }),
        ("divud", Asm::divud, |a, b| {
            let (x, y) = (a as u64, b as u64);
            x.checked_div(y)
                .map_or(u128::MAX, |q| q as i64 as i128 as u128)
        }),
        ("remd", Asm::remd, |a, b| {
            let (x, y) = (a as i64, b as i64);
            if y == 0 {
                x as i128 as u128
            } else {
                x.wrapping_rem(y) as i128 as u128
            }
        }),
        ("remud", Asm::remud, |a, b| {
            let (x, y) = (a as u64, b as u64);
            if y == 0 {
                x as i64 as i128 as u128
            } else {
                (x % y) as i64 as i128 as u128
            }
        }),
    ];
    let _ = (w, d);
    for (name, emit, model) in cases {
        check_rr(name, emit, model);
    }
}

#[test]
fn immediate_ops_and_shift_amounts() {
    for &x in &VALS {
        for imm in [0i32, 1, -1, 2047, -2048, 5] {
            let r = |f: fn(&mut Asm, Reg, Reg, i32) -> &mut Asm| {
                run_ab(
                    &assemble(|a| {
                        f(a, A0, A1, imm);
                    }),
                    x,
                    0,
                )
            };
            let im = imm as i128 as u128;
            assert_eq!(r(Asm::addi), x.wrapping_add(im), "addi");
            assert_eq!(r(Asm::slti), (i(x) < imm as i128) as u128, "slti");
            assert_eq!(r(Asm::sltiu), (x < im) as u128, "sltiu");
            assert_eq!(r(Asm::xori), x ^ im, "xori");
            assert_eq!(r(Asm::ori), x | im, "ori");
            assert_eq!(r(Asm::andi), x & im, "andi");
            assert_eq!(
                r(Asm::addiw),
                sext(x.wrapping_add(im) & 0xffff_ffff, 32),
                "addiw"
            );
            assert_eq!(
                r(Asm::addid),
                sext(x.wrapping_add(im) & u64::MAX as u128, 64),
                "addid"
            );
        }
        for sh in [0u32, 1, 31, 63, 64, 65, 100, 127] {
            let r = |f: fn(&mut Asm, Reg, Reg, u32) -> &mut Asm, s: u32| {
                run_ab(
                    &assemble(|a| {
                        f(a, A0, A1, s);
                    }),
                    x,
                    0,
                )
            };
            assert_eq!(r(Asm::slli, sh), x << sh, "slli {sh}");
            assert_eq!(r(Asm::srli, sh), x >> sh, "srli {sh}");
            assert_eq!(r(Asm::srai, sh), (i(x) >> sh) as u128, "srai {sh}");
            let s6 = sh & 63;
            assert_eq!(
                r(Asm::sllid, s6),
                sext(((x as u64) << s6) as u128, 64),
                "sllid {s6}"
            );
            assert_eq!(
                r(Asm::srlid, s6),
                sext(((x as u64) >> s6) as u128, 64),
                "srlid {s6}"
            );
            assert_eq!(
                r(Asm::sraid, s6),
                ((x as i64) >> s6) as i128 as u128,
                "sraid {s6}"
            );
            let s5 = sh & 31;
            assert_eq!(
                r(Asm::slliw, s5),
                sext(((x as u32) << s5) as u128, 32),
                "slliw {s5}"
            );
            assert_eq!(
                r(Asm::srliw, s5),
                sext(((x as u32) >> s5) as u128, 32),
                "srliw {s5}"
            );
            assert_eq!(
                r(Asm::sraiw, s5),
                ((x as i32) >> s5) as i128 as u128,
                "sraiw {s5}"
            );
        }
    }
}

#[test]
fn wrap_around_at_128_bits() {
    assert_eq!(
        run_ab(
            &assemble(|a| {
                a.add(A0, A1, A2);
            }),
            u128::MAX,
            1
        ),
        0
    );
    assert_eq!(
        run_ab(
            &assemble(|a| {
                a.addi(A0, A1, 1);
            }),
            (1 << 127) - 1,
            0
        ),
        1 << 127
    );
    assert_eq!(
        run_ab(
            &assemble(|a| {
                a.sub(A0, A1, A2);
            }),
            0,
            1
        ),
        u128::MAX
    );
    // A carry out of bit 63 goes into bit 64 (it would be lost on RV64).
    assert_eq!(
        run_ab(
            &assemble(|a| {
                a.add(A0, A1, A2);
            }),
            u64::MAX as u128,
            1
        ),
        1 << 64
    );
    assert_eq!(
        run_ab(
            &assemble(|a| {
                a.mul(A0, A1, A2);
            }),
            1 << 64,
            1 << 64
        ),
        0
    );
    assert_eq!(
        run_ab(
            &assemble(|a| {
                a.mulhu(A0, A1, A2);
            }),
            1 << 64,
            1 << 64
        ),
        1
    );
    // li builds any 128-bit constant.
    for v in [
        u128::MAX,
        1 << 127,
        0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        (1 << 100) + 0x7ff,
        0xffff_ffff_8000_0000,
    ] {
        assert_eq!(
            run_ab(
                &assemble(|a| {
                    a.li(A0, v as i128);
                }),
                0,
                0
            ),
            v,
            "li {v:#x}"
        );
    }
}

#[test]
fn upper_immediates_jumps_and_branches() {
    // lui sign-extends to 128 bits; auipc adds the pc.
    assert_eq!(
        run_ab(
            &assemble(|a| {
                a.lui(A0, -1);
            }),
            0,
            0
        ),
        u128::MAX << 12
    );
    assert_eq!(
        run_ab(
            &assemble(|a| {
                a.nop().auipc(A0, 1);
            }),
            0,
            0
        ),
        RAM_BASE as u128 + 4 + 0x1000
    );
    // jal/jalr link; branches compare all 128 bits.
    let code = assemble(|a| {
        a.jal(RA, "f").j("end");
        a.label("f").addi(A0, ZERO, 7).jalr(ZERO, RA, 0);
        a.label("end");
    });
    let mut h = hart_with(&code);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(
        (h.reg128(A0 as usize), h.reg128(RA as usize)),
        (7, RAM_BASE as u128 + 4)
    );
    type B = for<'a, 'b> fn(&'a mut Asm, Reg, Reg, &'b str) -> &'a mut Asm;
    type P = fn(u128, u128) -> bool;
    let branches: [(B, P); 6] = [
        (Asm::beq, |a, b| a == b),
        (Asm::bne, |a, b| a != b),
        (Asm::blt, |a, b| i(a) < i(b)),
        (Asm::bge, |a, b| i(a) >= i(b)),
        (Asm::bltu, |a, b| a < b),
        (Asm::bgeu, |a, b| a >= b),
    ];
    for (k, (emit, model)) in branches.into_iter().enumerate() {
        let code = assemble(|a| {
            emit(a, A1, A2, "taken");
            a.li(A0, 0).j("end");
            a.label("taken").li(A0, 1);
            a.label("end");
        });
        // Pairs that differ only above bit 63.
        for (x, y) in [
            (1u128 << 64, 0u128),
            (1 << 127, 0),
            (5, 5 | (1 << 100)),
            (u128::MAX, 1 << 127),
            (3, 3),
        ] {
            assert_eq!(
                run_ab(&code, x, y),
                model(x, y) as u128,
                "branch {k} {x:#x} {y:#x}"
            );
        }
    }
}

#[test]
fn loads_and_stores() {
    let data = RAM_BASE + 0x800;
    let pattern: u128 = 0x8877_6655_4433_2211_f0e0_d0c0_b0a0_9080;
    let load = |f: fn(&mut Asm, Reg, Reg, i32) -> &mut Asm, off: i32| {
        let code = assemble(|a| {
            a.li(A3, data as i128);
            a.sq(A1, A3, 0);
            f(a, A0, A3, off);
        });
        run_ab(&code, pattern, 0)
    };
    assert_eq!(load(Asm::lq, 0), pattern);
    assert_eq!(load(Asm::ld, 8), 0xffff_ffff_ffff_ffff_8877_6655_4433_2211);
    assert_eq!(load(Asm::ld, 0), sext(pattern & u64::MAX as u128, 64));
    assert_eq!(load(Asm::ldu, 0), pattern & u64::MAX as u128);
    assert_eq!(load(Asm::lw, 0), sext(0xb0a0_9080, 32));
    assert_eq!(load(Asm::lwu, 0), 0xb0a0_9080);
    assert_eq!(load(Asm::lh, 0), sext(0x9080, 16));
    assert_eq!(load(Asm::lhu, 0), 0x9080);
    assert_eq!(load(Asm::lb, 0), sext(0x80, 8));
    assert_eq!(load(Asm::lbu, 15), 0x88);
    // Stores of each width, read back as one quadword; a misaligned LQ too.
    let code = assemble(|a| {
        a.li(A3, data as i128);
        a.sq(ZERO, A3, 0).sq(ZERO, A3, 16);
        a.sb(A1, A3, 0)
            .sh(A1, A3, 2)
            .sw(A1, A3, 4)
            .sd(A1, A3, 8)
            .sq(A1, A3, 17);
        a.lq(A0, A3, 0).lq(A4, A3, 17).lq(A5, A3, 16);
    });
    let mut h = hart_with(&code);
    h.set_reg128(A1 as usize, pattern);
    assert_eq!(h.run(100), Stop::Wfi);
    let lo = pattern as u64 as u128;
    let want = 0x80 | (0x9080 << 16) | (0xb0a0_9080 << 32) | (lo << 64);
    assert_eq!(h.reg128(A0 as usize), want);
    assert_eq!(h.reg128(A4 as usize), pattern);
    assert_eq!(h.reg128(A5 as usize), pattern << 8);
}

#[test]
fn quadword_atomics() {
    let data = (RAM_BASE + 0x800) as i128;
    let x: u128 = 0x8000_0000_0000_0000_0000_0000_0000_0005;
    type F = fn(&mut Asm, Reg, Reg, Reg) -> &mut Asm;
    let amos: [(F, Model); 9] = [
        (Asm::amoswap_q, |_, s| s),
        (Asm::amoadd_q, |o, s| o.wrapping_add(s)),
        (Asm::amoxor_q, |o, s| o ^ s),
        (Asm::amoand_q, |o, s| o & s),
        (Asm::amoor_q, |o, s| o | s),
        (Asm::amomin_q, |o, s| i(o).min(i(s)) as u128),
        (Asm::amomax_q, |o, s| i(o).max(i(s)) as u128),
        (Asm::amominu_q, |o, s| o.min(s)),
        (Asm::amomaxu_q, |o, s| o.max(s)),
    ];
    for (k, (emit, model)) in amos.into_iter().enumerate() {
        for src in [1u128, u128::MAX, 1 << 100] {
            let code = assemble(|a| {
                a.li(A3, data).sq(A1, A3, 0);
                emit(a, A0, A2, A3);
                a.lq(A4, A3, 0);
            });
            let mut h = hart_with(&code);
            h.set_reg128(A1 as usize, x);
            h.set_reg128(A2 as usize, src);
            assert_eq!(h.run(100), Stop::Wfi);
            assert_eq!(h.reg128(A0 as usize), x, "amo {k}: old value");
            assert_eq!(h.reg128(A4 as usize), model(x, src), "amo {k} {src:#x}");
        }
    }
    // LR.Q/SC.Q succeed on a reservation, fail without one; a misaligned AMO traps.
    let code = assemble(|a| {
        a.li(A3, data).sq(A1, A3, 0);
        a.lr_q(A0, A3)
            .sc_q(A4, A2, A3)
            .sc_q(A5, A1, A3)
            .lq(A6, A3, 0);
    });
    let mut h = hart_with(&code);
    h.set_reg128(A1 as usize, x);
    h.set_reg128(A2 as usize, u128::MAX);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(h.reg128(A0 as usize), x);
    assert_eq!((h.reg128(A4 as usize), h.reg128(A5 as usize)), (0, 1));
    assert_eq!(h.reg128(A6 as usize), u128::MAX);
    let code = assemble(|a| {
        a.li(A3, data + 8).amoadd_q(A0, A1, A3);
    });
    let mut h = hart_with(&code);
    assert!(h.ram_write(RAM_BASE + 0x400, &assemble(|_| {})));
    h.set_csr(MTVEC, RAM_BASE + 0x400);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(h.csr(MCAUSE), Some(EXC_STORE_MISALIGNED));
    assert_eq!(h.csr(MTVAL), Some(data as u64 + 8));
    // LR.D/AMO*.D sign-extend their 64-bit value to 128 bits.
    let code = assemble(|a| {
        a.li(A3, data)
            .sd(A1, A3, 0)
            .lr_d(A0, A3)
            .amoadd_d(A4, A2, A3)
            .amoor_w(A5, ZERO, A3);
    });
    let mut h = hart_with(&code);
    h.set_reg128(A1 as usize, 1 << 63);
    h.set_reg128(A2 as usize, (1 << 100) | 1);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(h.reg128(A0 as usize), sext(1 << 63, 64));
    assert_eq!(h.reg128(A4 as usize), sext(1 << 63, 64));
    assert_eq!(h.reg128(A5 as usize), 1);
}

#[test]
fn compressed_rv128_encodings() {
    let data = (RAM_BASE + 0x800) as i128;
    let v: u128 = 0x1111_2222_3333_4444_5555_6666_7777_8888;
    let code = assemble(|a| {
        a.li(S1, data).li(SP, data + 0x100);
        a.c_sq(A1, S1, 16 * 3).c_lq(A0, S1, 16 * 3);
        a.c_sqsp(A1, 16 * 5).c_lqsp(A2, 16 * 5);
        a.mv(A3, A1).c_slli(A3, 0); // << 64
        a.mv(A4, A1).c_srli(A4, 0); // >> 64
        a.mv(A5, A1).c_srai(A5, 0x3f); // >> 127 (sign-extended 6-bit amount)
        a.c_ld(S0, S1, 16 * 3);
    });
    let mut h = hart_with(&code);
    h.set_reg128(A1 as usize, v | (1 << 127));
    assert_eq!(h.run(100), Stop::Wfi);
    let v = v | (1 << 127);
    assert_eq!(h.reg128(A0 as usize), v);
    assert_eq!(h.reg128(A2 as usize), v);
    assert_eq!(h.reg128(A3 as usize), v << 64);
    assert_eq!(h.reg128(A4 as usize), v >> 64);
    assert_eq!(h.reg128(A5 as usize), u128::MAX);
    assert_eq!(h.reg128(S0 as usize), sext(v & u64::MAX as u128, 64));
    let ram = h.ram();
    let at = (data as u64 + 0x100 + 80 - RAM_BASE) as usize;
    assert_eq!(u128::from_le_bytes(ram[at..at + 16].try_into().unwrap()), v);
}

#[test]
fn csrs_at_128_bits() {
    let code = assemble(|a| {
        a.csrr(A0, MISA);
        a.csrw(MSCRATCH, A1).csrr(A2, MSCRATCH);
        a.csrr(A3, MSTATUS);
        a.li(A4, 0x6000).csrrs(ZERO, MSTATUS, A4).csrr(A5, MSTATUS);
        a.ecall();
    });
    let mut h = hart_with(&code);
    // The trap handler: read mcause, then stop.
    let handler = assemble(|a| {
        a.csrr(A6, MCAUSE);
    });
    assert!(h.ram_write(RAM_BASE + 0x400, &handler));
    h.set_csr(MTVEC, RAM_BASE + 0x400);
    h.set_reg128(A1 as usize, (0xdead_beef << 64) | 7);
    assert_eq!(h.run(100), Stop::Wfi);
    let misa = h.reg128(A0 as usize);
    assert_eq!(misa >> 126, 3, "misa.MXL = 3 at bits 127:126");
    assert_ne!(misa & (1 << 12), 0, "M");
    assert_eq!(
        h.reg128(A2 as usize),
        (0xdead_beef << 64) | 7,
        "mscratch holds 128 bits"
    );
    assert_eq!((h.reg128(A3 as usize) >> 32) & 0xf, 0xf, "SXL = UXL = 3");
    assert_eq!(h.reg128(A5 as usize) >> 127, 1, "SD at bit 127");
    assert_eq!(
        h.reg128(A5 as usize) >> 64,
        1 << 63,
        "nothing else above bit 63"
    );
    assert_eq!(h.reg128(A6 as usize), EXC_ECALL_M as u128);
}

#[test]
fn interrupt_cause_bit_127() {
    let code = assemble(|a| {
        a.li(A0, 8).csrw(MIE, A0); // MSIE
        a.csrrsi(ZERO, MSTATUS, 8); // MIE
        a.label("spin").j("spin");
    });
    let mut h = hart_with(&code);
    let handler = assemble(|a| {
        a.csrr(A6, MCAUSE).csrw(MIE, ZERO);
    });
    assert!(h.ram_write(RAM_BASE + 0x400, &handler));
    h.set_csr(MTVEC, RAM_BASE + 0x400);
    h.set_irq_lines(IRQ_MSI, true);
    h.run(100);
    assert_eq!(h.reg128(A6 as usize), (1 << 127) | 3);
}

fn any128(code: &[u8]) -> AnyHart<NoBus> {
    let mut h = AnyHart::new(128, 1 << 20, NoBus).expect("an RV128 hart");
    assert!(h.ram_write(RAM_BASE, code));
    h
}

#[test]
fn xlen_switch_through_misa_from_m_mode() {
    // 128 -> 64 -> 32 -> 128 in M-mode: each step writes misa.MXL and tests
    // the XLEN with a value whose bits above the new XLEN must be lost.
    let code = assemble(|a| {
        a.li(S2, (1i128 << 100) | 0x1234); // kept across the switches (never written narrow)
        a.la(T0, "back").csrw(MTVEC, T0);
        a.li(T0, 2i128 << 126).csrw(MISA, T0); // MXL = 2 (bits 127:126)
        a.li(A0, -1).srli(A0, A0, 1); // RV64: 0x7fff...ffff (63 ones)
        a.csrr(A1, MISA).srli(A1, A1, 62);
        a.li(T0, 1i128 << 62).csrw(MISA, T0); // MXL = 1 (bits 63:62)
        a.li(A2, -1).srli(A2, A2, 1); // RV32: 0x7fffffff
        a.csrr(A3, MISA).srli(A3, A3, 30);
        a.li(T0, 3i128 << 30).csrw(MISA, T0); // back to MXL = 3 (bits 31:30)
                                              // The pc is sign-extended to 0xffff_ffff_8000_xxxx: the next fetch
                                              // faults, and the handler continues at 128 bits.
        a.li(A7, 99).wfi();
        a.label("back");
        a.li(A4, -1).srli(A4, A4, 1); // RV128: 127 ones
        a.csrr(A5, MISA).srli(A5, A5, 126);
        a.csrr(A6, MEPC);
    });
    let mut h = any128(&code);
    assert_eq!(h.run(1000), Stop::Wfi);
    assert_eq!(h.xlen(), 128);
    assert_eq!(h.reg128(A0 as usize), u64::MAX as u128 >> 1);
    assert_eq!(h.reg128(A1 as usize), 2);
    assert_eq!(h.reg128(A2 as usize), 0x7fff_ffff);
    assert_eq!(h.reg128(A3 as usize), 1);
    assert_eq!(h.reg128(A4 as usize), u128::MAX >> 1);
    assert_eq!(h.reg128(A5 as usize), 3);
    assert_eq!(
        h.reg128(A7 as usize),
        0,
        "nothing ran after the switch at the old pc"
    );
    let mepc = h.reg128(A6 as usize);
    assert_eq!(
        mepc >> 32,
        u128::MAX >> 32,
        "the pc was sign-extended: {mepc:#x}"
    );
    assert_eq!(h.csr(MCAUSE), Some(EXC_INSN_ACCESS));
    assert_eq!(
        h.reg128(S2 as usize),
        (1 << 100) | 0x1234,
        "upper bits kept while narrow"
    );
}

#[test]
fn xlen_switch_rejects_bad_mxl_and_keeps_budget() {
    // MXL = 0 is not a width: misa keeps MXL = 3.
    let code = assemble(|a| {
        a.csrw(MISA, ZERO).csrr(A0, MISA).srli(A0, A0, 126);
        a.li(T0, 2i128 << 126).csrw(MISA, T0);
        a.li(A1, 1).slli(A1, A1, 63).add(A1, A1, A1); // wraps to 0 at 64 bits
    });
    let mut h = any128(&code);
    assert_eq!(h.run(1000), Stop::Wfi);
    assert_eq!(h.reg128(A0 as usize), 3);
    assert_eq!(h.xlen(), 64);
    assert_eq!(h.reg128(A1 as usize), 0);
    // A hart not driven by AnyHart keeps its XLEN: misa is read-only there.
    let code = assemble(|a| {
        a.li(T0, 2i128 << 126).csrw(MISA, T0).csrr(A0, MISA);
    });
    let mut h = hart_with(&code);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(h.reg128(A0 as usize) >> 126, 3);
}

#[test]
fn s_and_u_run_at_sxl_and_uxl() {
    // M at 128 sets SXL = 2 (S at 64) and UXL = 1 (U at 32), enters S with
    // MRET; S computes at 64 bits and ECALLs back to M (128 bits again).
    let code = assemble(|a| {
        a.li(S3, (7i128 << 90) | 9); // an M-mode value S never writes
        a.li(T0, -1)
            .csrw(PMPADDR0, T0)
            .li(T0, 0x1f)
            .csrw(PMPCFG0, T0); // S may use all memory
        a.la(T0, "mtrap").csrw(MTVEC, T0);
        a.csrr(T1, MSTATUS);
        a.li(T2, !(0xfi128 << 32)).and(T1, T1, T2);
        a.li(T2, (2i128 << 34) | (1i128 << 32) | (1 << 11))
            .or(T1, T1, T2); // SXL=2, UXL=1, MPP=S
        a.csrw(MSTATUS, T1).csrr(S4, MSTATUS);
        a.la(T0, "smode").csrw(MEPC, T0).mret();
        a.label("smode");
        a.li(A0, -1).srli(A0, A0, 1); // 63 ones at XLEN 64
        a.ecall();
        a.label("mtrap");
        a.csrr(A1, MCAUSE);
        a.li(A2, -1).srli(A2, A2, 1); // 127 ones at XLEN 128
    });
    let mut h = any128(&code);
    assert_eq!(h.run(1000), Stop::Wfi);
    assert_eq!(h.xlen(), 128);
    assert_eq!(
        (h.reg128(S4 as usize) >> 32) & 0xf,
        0b1001,
        "SXL = 2, UXL = 1"
    );
    assert_eq!(
        h.reg128(A0 as usize),
        u64::MAX as u128 >> 1,
        "S ran at XLEN 64"
    );
    assert_eq!(h.reg128(A1 as usize), EXC_ECALL_S as u128);
    assert_eq!(h.reg128(A2 as usize), u128::MAX >> 1);
    assert_eq!(h.reg128(S3 as usize), (7 << 90) | 9);
    let _ = PRV_M;
}

#[test]
fn u_at_uxl_32_traps_back_to_m_at_128() {
    // U runs at 32 bits at 0x8000_xxxx; its ECALL goes to M at 128 bits at
    // mtvec (not at a sign-extended 32-bit pc), and MRET from there returns
    // to U at 32 bits again.
    let code = assemble(|a| {
        a.li(T0, -1)
            .csrw(PMPADDR0, T0)
            .li(T0, 0x1f)
            .csrw(PMPCFG0, T0);
        a.la(T0, "mtrap").csrw(MTVEC, T0);
        a.csrr(T1, MSTATUS);
        a.li(T2, !((0xfi128 << 32) | (3 << 11))).and(T1, T1, T2);
        a.li(T2, (3i128 << 34) | (1i128 << 32)).or(T1, T1, T2);
        a.csrw(MSTATUS, T1);
        a.li(S5, 0);
        a.la(T0, "umode").csrw(MEPC, T0).mret();
        a.label("umode");
        a.li(A0, -1).srli(A0, A0, 1);
        a.ecall();
        a.li(A1, -1).srli(A1, A1, 1);
        a.ecall();
        a.label("mtrap");
        a.addi(S5, S5, 1);
        a.li(A2, -1).srli(A2, A2, 1);
        a.li(T0, 2).bge(S5, T0, "done");
        a.csrr(T0, MEPC).addi(T0, T0, 4).csrw(MEPC, T0).mret();
        a.label("done");
    });
    let mut h = any128(&code);
    assert_eq!(h.run(1000), Stop::Wfi);
    assert_eq!(h.xlen(), 128);
    assert_eq!(h.reg128(S5 as usize), 2, "two ECALLs from U reached M");
    assert_eq!(h.reg128(A0 as usize), 0x7fff_ffff, "U ran at XLEN 32");
    assert_eq!(h.reg128(A1 as usize), 0x7fff_ffff, "and again after MRET");
    assert_eq!(h.reg128(A2 as usize), u128::MAX >> 1, "M at 128");
    assert_eq!(h.csr(MCAUSE), Some(EXC_ECALL_U));
}

#[test]
fn f_and_d_results_sign_extend_to_128_bits() {
    const FT0: Reg = 0; // f0
    const FT1: Reg = 1; // f1
    let code = assemble(|a| {
        a.li(T0, 1 << 13).csrrs(ZERO, MSTATUS, T0); // FS = initial
        a.li(T1, -3).fcvt_d_l(FT0, T1); // -3.0
        a.fcvt_l_d(A0, FT0); // -3, sign-extended to 128 bits
        a.fmv_x_d(A1, FT0); // the bits of -3.0: bit 63 set, sign-extended
        a.li(T2, (1i128 << 100) | 5)
            .fcvt_d_l(FT1, T2)
            .fcvt_l_d(A2, FT1); // uses bits 63:0 only
        a.feq_d(A3, FT0, FT0);
    });
    let h = {
        let mut h = hart_with(&code);
        assert_eq!(h.run(100), Stop::Wfi);
        h
    };
    assert_eq!(h.reg128(A0 as usize), (-3i128) as u128);
    assert_eq!(
        h.reg128(A1 as usize),
        (-3.0f64).to_bits() as i64 as i128 as u128
    );
    assert_eq!(h.reg128(A2 as usize), 5);
    assert_eq!(h.reg128(A3 as usize), 1);
}
