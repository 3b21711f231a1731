//! The Q extension on the RV128 hart, instruction by instruction, with
//! programs from [`crate::asm`]: FLQ/FSQ and the moves, every arithmetic
//! instruction (against [`crate::fp::quad`], which tests/q_vectors.rs checks
//! against GCC's binary128), the conversions' saturation table, NaN-boxing of
//! binary32/64 values in 128-bit registers, fflags/frm through the CSRs,
//! dynamic rounding, illegal rounding modes, misa.Q and FLEN across XLEN
//! switches.

use crate::asm::*;
use crate::csr::*;
use crate::fp::quad::{self, CANONICAL_NAN};
use crate::fp::soft::{FmaOp, Rm, F64, NV, NX};
use crate::{AnyHart, Hart, NoBus, Rv128, Stop, RAM_BASE};

type H = Hart<Rv128, NoBus>;

const F1: Reg = 1;
const F2: Reg = 2;
const F3: Reg = 3;
const F4: Reg = 4;
const F5: Reg = 5;

const ONE: u128 = 0x3fff << 112;
const TWO: u128 = 0x4000 << 112;
const THREE: u128 = 0x4000_8000 << 96;
const INF: u128 = 0x7fff << 112;
const NEG: u128 = 1 << 127;
/// A signaling NaN with a payload.
const SNAN: u128 = INF | 0x1234;
/// A quiet NaN with a payload.
const QNAN: u128 = INF | (1 << 111) | 0x99;
/// 1/3 rounded down and up.
const THIRD_DN: u128 = 0x3ffd_5555_5555_5555_5555_5555_5555_5555;
const THIRD_UP: u128 = 0x3ffd_5555_5555_5555_5555_5555_5555_5556;

/// A binary128 value from an f64 (exact).
fn q(v: f64) -> u128 {
    quad::from_narrow(F64, v.to_bits(), &mut 0)
}

/// Where the trap handler lives: it records mcause in A7 and mtval in A6, then stops.
const HANDLER: u64 = RAM_BASE + 0x2000;

/// Assembles `f` after turning the FPU on (mstatus.FS = Initial); ends in WFI.
fn program(f: impl FnOnce(&mut Asm)) -> H {
    let mut a = Asm::new();
    a.li(T0, 1 << 13).csrrs(ZERO, MSTATUS, T0);
    a.li(A7, -1);
    f(&mut a);
    a.wfi();
    let code = a.finish().expect("assembles");
    let mut h: H = Hart::new(1 << 20, NoBus);
    assert!(h.ram_write(RAM_BASE, &code));
    let mut t = Asm::new();
    t.csrr(A7, MCAUSE).csrr(A6, MTVAL).wfi();
    assert!(h.ram_write(HANDLER, &t.finish().unwrap()));
    h.set_csr(MTVEC, HANDLER);
    h
}

fn run(h: &mut H) {
    assert_eq!(h.run(10_000), Stop::Wfi, "the program ends in WFI");
}

fn x(h: &H, r: Reg) -> u128 {
    h.reg128(r as usize)
}

fn trapped(h: &H) -> Option<u64> {
    let c = x(h, A7);
    (c != u128::MAX).then_some(c as u64)
}

#[test]
fn flq_fsq_and_moves_keep_all_128_bits() {
    let data = RAM_BASE + 0x1000;
    let vals = [
        THIRD_DN,
        SNAN,
        QNAN | NEG,
        0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
    ];
    let mut h = program(|a| {
        a.li(S0, data as i128);
        for (i, _) in vals.iter().enumerate() {
            let off = 16 * i as i32;
            a.flq(F1, S0, off).fsq(F1, S0, off + 0x100);
            a.fmv_x_q(S1, F1).sq(S1, S0, off + 0x200);
            a.fmv_q_x(F2, S1).fsq(F2, S0, off + 0x300);
        }
        a.li(S2, 0x1234).fmv_q_x(F3, S2);
        a.csrr(S3, MSTATUS);
    });
    for (i, v) in vals.iter().enumerate() {
        assert!(h.ram_write(data + 16 * i as u64, &v.to_le_bytes()));
    }
    run(&mut h);
    assert_eq!(trapped(&h), None);
    let ram = h.ram();
    for (i, &v) in vals.iter().enumerate() {
        for base in [0x100, 0x200, 0x300] {
            let at = (data - RAM_BASE) as usize + base + 16 * i;
            let got = u128::from_le_bytes(ram[at..at + 16].try_into().unwrap());
            assert_eq!(
                got, v,
                "copy {base:#x} of value {i}: no canonicalisation in moves"
            );
        }
    }
    assert_eq!(h.fp.read_q(3), 0x1234, "fmv.q.x writes all 128 bits");
    assert_eq!((x(&h, S3) >> 13) & 3, 3, "FLQ makes FS dirty");
}

#[test]
fn q_instructions_need_fs_and_xlen_128() {
    // With FS = Off, FLQ, FSQ and OP-FP Q instructions are illegal.
    for emit in [
        (|a: &mut Asm| {
            a.flq(F1, SP, 0);
        }) as fn(&mut Asm),
        |a| {
            a.fsq(F1, SP, 0);
        },
        |a| {
            a.fadd_q(F1, F1, F1);
        },
    ] {
        let mut a = Asm::new();
        a.li(A7, -1).li(SP, (RAM_BASE + 0x1000) as i128);
        emit(&mut a);
        a.wfi();
        let mut h: H = Hart::new(1 << 20, NoBus);
        assert!(h.ram_write(RAM_BASE, &a.finish().unwrap()));
        let mut t = Asm::new();
        t.csrr(A7, MCAUSE).wfi();
        assert!(h.ram_write(HANDLER, &t.finish().unwrap()));
        h.set_csr(MTVEC, HANDLER);
        run(&mut h);
        assert_eq!(trapped(&h), Some(EXC_ILLEGAL));
    }
    // misa.Q (bit 16) at XLEN 128 only; at 64 the Q encodings are illegal.
    let mut a = Asm::new();
    a.li(T0, 1 << 13).csrrs(ZERO, MSTATUS, T0);
    a.csrr(S2, MISA);
    a.li(T0, 2i128 << 126).csrw(MISA, T0); // to XLEN 64
    a.csrr(S3, MISA);
    a.la(T0, "trap").csrw(MTVEC, T0);
    a.li(A7, -1);
    a.fadd_q(F1, F2, F3);
    a.wfi();
    a.label("trap").csrr(A7, MCAUSE).csrr(A6, MEPC).wfi();
    let mut h = AnyHart::new(128, 1 << 20, NoBus).unwrap();
    assert!(h.ram_write(RAM_BASE, &a.finish().unwrap()));
    assert_eq!(h.run(1000), Stop::Wfi);
    assert_eq!(h.xlen(), 64);
    assert_ne!(h.reg128(S2 as usize) & (1 << 16), 0, "misa.Q at XLEN 128");
    assert_eq!(h.reg128(S3 as usize) & (1 << 16), 0, "no Q at XLEN 64");
    assert_eq!(h.reg128(A7 as usize), EXC_ILLEGAL as u128);
}

/// Runs `emit` with f2, f3, f4 = a, b, c and frm = `frm`; gives f1 (or a0 for
/// integer results), fflags and the trap cause, if any.
fn run_op(emit: impl FnOnce(&mut Asm), a: u128, b: u128, c: u128, frm: u32) -> (H, u128, u8) {
    let mut h = program(|asm| {
        asm.li(T1, frm as i128).csrw(FRM, T1);
        asm.li(T1, a as i128).fmv_q_x(F2, T1);
        asm.li(T1, b as i128).fmv_q_x(F3, T1);
        asm.li(T1, c as i128).fmv_q_x(F4, T1);
        asm.li(T1, 0x5a5a).fmv_q_x(F1, T1); // rd poison
        emit(asm);
        asm.fmv_x_q(S5, F1);
    });
    run(&mut h);
    let fl = h.fp.fflags;
    let f1 = x(&h, S5);
    (h, f1, fl)
}

#[test]
fn every_arithmetic_instruction_through_the_hart() {
    let ops = [
        ONE,
        THREE,
        q(-0.1),
        q(1e300),
        q(-2.5e-300),
        THIRD_DN,
        SNAN,
        INF,
        0,
        NEG,
        1,
    ];
    type Emit = fn(&mut Asm);
    type Model = fn(u128, u128, u128, Rm, &mut u8) -> u128;
    let cases: [(&str, Emit, Model); 9] = [
        (
            "fadd.q",
            |a| {
                a.fadd_q(F1, F2, F3);
            },
            |x, y, _, rm, fl| quad::add(x, y, rm, fl),
        ),
        (
            "fsub.q",
            |a| {
                a.fsub_q(F1, F2, F3);
            },
            |x, y, _, rm, fl| quad::sub(x, y, rm, fl),
        ),
        (
            "fmul.q",
            |a| {
                a.fmul_q(F1, F2, F3);
            },
            |x, y, _, rm, fl| quad::mul(x, y, rm, fl),
        ),
        (
            "fdiv.q",
            |a| {
                a.fdiv_q(F1, F2, F3);
            },
            |x, y, _, rm, fl| quad::div(x, y, rm, fl),
        ),
        (
            "fsqrt.q",
            |a| {
                a.fsqrt_q(F1, F2);
            },
            |x, _, _, rm, fl| quad::sqrt(x, rm, fl),
        ),
        (
            "fmadd.q",
            |a| {
                a.fma_q(0x43, F1, F2, F3, F4);
            },
            |x, y, z, rm, fl| quad::fma(x, y, z, FmaOp::Madd, rm, fl),
        ),
        (
            "fmsub.q",
            |a| {
                a.fma_q(0x47, F1, F2, F3, F4);
            },
            |x, y, z, rm, fl| quad::fma(x, y, z, FmaOp::Msub, rm, fl),
        ),
        (
            "fnmsub.q",
            |a| {
                a.fma_q(0x4b, F1, F2, F3, F4);
            },
            |x, y, z, rm, fl| quad::fma(x, y, z, FmaOp::Nmsub, rm, fl),
        ),
        (
            "fnmadd.q",
            |a| {
                a.fma_q(0x4f, F1, F2, F3, F4);
            },
            |x, y, z, rm, fl| quad::fma(x, y, z, FmaOp::Nmadd, rm, fl),
        ),
    ];
    let modes = [Rm::Rne, Rm::Rtz, Rm::Rdn, Rm::Rup, Rm::Rmm];
    for (name, emit, model) in cases {
        for (k, &a) in ops.iter().enumerate() {
            let b = ops[(k * 7 + 3) % ops.len()];
            let c = ops[(k * 5 + 1) % ops.len()];
            let frm = (k % 5) as u32;
            let mut fl = 0;
            let want = model(a, b, c, modes[frm as usize], &mut fl);
            let (h, got, gfl) = run_op(emit, a, b, c, frm);
            assert_eq!(trapped(&h), None, "{name}");
            assert_eq!(
                (got, gfl),
                (want, fl),
                "{name} {a:#x} {b:#x} {c:#x} frm {frm}"
            );
        }
    }
    // The fused forms negate as the manual says: with a = 1, b = 3, c = 2.
    for (op, want) in [(0x43, 5.0), (0x47, 1.0), (0x4b, -1.0), (0x4f, -5.0)] {
        let (_, got, fl) = run_op(
            |a| {
                a.fma_q(op, F1, F2, F3, F4);
            },
            ONE,
            THREE,
            TWO,
            0,
        );
        assert_eq!((got, fl), (q(want), 0), "fma opcode {op:#x}");
    }
    // A few by hand: 1/3 in each direction, sqrt(9) = 3 exactly, inf * 0 + qNaN invalid.
    assert_eq!(
        run_op(
            |a| {
                a.fdiv_q(F1, F2, F3);
            },
            ONE,
            THREE,
            0,
            2
        )
        .1,
        THIRD_DN
    );
    assert_eq!(
        run_op(
            |a| {
                a.fdiv_q(F1, F2, F3);
            },
            ONE,
            THREE,
            0,
            3
        )
        .1,
        THIRD_UP
    );
    assert_eq!(
        run_op(
            |a| {
                a.fsqrt_q(F1, F2);
            },
            q(9.0),
            0,
            0,
            0
        )
        .1,
        THREE
    );
    let (_, r, fl) = run_op(
        |a| {
            a.fma_q(0x43, F1, F2, F3, F4);
        },
        INF,
        0,
        QNAN,
        0,
    );
    assert_eq!((r, fl), (CANONICAL_NAN, NV));
}

#[test]
fn sign_injection_min_max_compare_classify() {
    let m3 = THREE | NEG;
    type Case = (fn(&mut Asm), u128, u128, u128);
    let cases: [Case; 13] = [
        (
            |a| {
                a.fsgnj_q(F1, F2, F3);
            },
            THREE,
            NEG,
            m3,
        ),
        (
            |a| {
                a.fsgnjn_q(F1, F2, F3);
            },
            THREE,
            NEG,
            THREE,
        ),
        (
            |a| {
                a.fsgnjx_q(F1, F2, F3);
            },
            m3,
            NEG,
            THREE,
        ),
        // Sign injection is not arithmetic: a NaN keeps its payload.
        (
            |a| {
                a.fsgnjn_q(F1, F2, F3);
            },
            SNAN,
            0,
            SNAN | NEG,
        ),
        (
            |a| {
                a.fmin_q(F1, F2, F3);
            },
            0,
            NEG,
            NEG,
        ),
        (
            |a| {
                a.fmax_q(F1, F2, F3);
            },
            NEG,
            0,
            0,
        ),
        (
            |a| {
                a.fmin_q(F1, F2, F3);
            },
            QNAN,
            THREE,
            THREE,
        ),
        (
            |a| {
                a.fmax_q(F1, F2, F3);
            },
            QNAN,
            SNAN,
            CANONICAL_NAN,
        ),
        (
            |a| {
                a.fmin_q(F1, F2, F3);
            },
            m3,
            ONE,
            m3,
        ),
        (
            |a| {
                a.fmax_q(F1, F2, F3);
            },
            m3,
            ONE,
            ONE,
        ),
        (
            |a| {
                a.fmax_q(F1, F2, F3);
            },
            INF,
            1,
            INF,
        ),
        (
            |a| {
                a.fmin_q(F1, F2, F3);
            },
            INF | NEG,
            1,
            INF | NEG,
        ),
        (
            |a| {
                a.fsgnj_q(F1, F2, F3);
            },
            QNAN | NEG,
            ONE,
            QNAN,
        ),
    ];
    for (i, (emit, a, b, want)) in cases.into_iter().enumerate() {
        let (_, got, _) = run_op(emit, a, b, 0, 0);
        assert_eq!(got, want, "case {i}");
    }
    // Comparisons write x registers; NV as the manual says (feq quiet, flt/fle signaling).
    let cmp = |emit: fn(&mut Asm), a, b| {
        let mut h = program(|asm| {
            asm.li(T1, a as i128).fmv_q_x(F2, T1);
            asm.li(T1, b as i128).fmv_q_x(F3, T1);
            emit(asm);
        });
        run(&mut h);
        (x(&h, A0), h.fp.fflags)
    };
    let feq: fn(&mut Asm) = |a| {
        a.feq_q(A0, F2, F3);
    };
    let flt: fn(&mut Asm) = |a| {
        a.flt_q(A0, F2, F3);
    };
    let fle: fn(&mut Asm) = |a| {
        a.fle_q(A0, F2, F3);
    };
    assert_eq!(cmp(feq, 0, NEG), (1, 0));
    assert_eq!(cmp(feq, QNAN, QNAN), (0, 0));
    assert_eq!(cmp(feq, SNAN, ONE), (0, NV));
    assert_eq!(cmp(flt, QNAN, ONE), (0, NV));
    assert_eq!(cmp(flt, m3, ONE), (1, 0));
    assert_eq!(cmp(flt, ONE, ONE), (0, 0));
    assert_eq!(cmp(fle, ONE, ONE), (1, 0));
    assert_eq!(cmp(fle, NEG, 0), (1, 0));
    assert_eq!(cmp(fle, THIRD_UP, THIRD_DN), (0, 0));
    let class: fn(&mut Asm) = |a| {
        a.fclass_q(A0, F2);
    };
    for (v, bit) in [
        (INF | NEG, 0),
        (m3, 1),
        (1 | NEG, 2),
        (NEG, 3),
        (0, 4),
        ((1 << 112) - 1, 5),
        (1 << 112, 6),
        (INF, 7),
        (SNAN, 8),
        (QNAN, 9),
    ] {
        assert_eq!(cmp(class, v, 0), (1 << bit, 0), "fclass.q {v:#x}");
    }
}

#[test]
fn conversions_to_integers_saturate() {
    // (instruction, input, frm, result, fflags); results are sign-extended to 128 bits.
    type E = fn(&mut Asm);
    let w: E = |a| {
        a.fcvt_w_q(A0, F2);
    };
    let wu: E = |a| {
        a.fcvt_wu_q(A0, F2);
    };
    let l: E = |a| {
        a.fcvt_l_q(A0, F2);
    };
    let lu: E = |a| {
        a.fcvt_lu_q(A0, F2);
    };
    let t: E = |a| {
        a.fcvt_t_q(A0, F2);
    };
    let tu: E = |a| {
        a.fcvt_tu_q(A0, F2);
    };
    let all = u128::MAX;
    let i32min = i32::MIN as i128 as u128;
    let i64min = i64::MIN as i128 as u128;
    let big = q(1e40); // over 2^128
    let p127 = (0x3fff + 127) << 112; // 2^127
    let p126 = (0x3fff + 126) << 112; // 2^126
    let cases: Vec<(&str, E, u128, u32, u128, u8)> = vec![
        ("w nan", w, QNAN, 0, 0x7fff_ffff, NV),
        ("w snan", w, SNAN, 0, 0x7fff_ffff, NV),
        ("w +inf", w, INF, 0, 0x7fff_ffff, NV),
        ("w -inf", w, INF | NEG, 0, i32min, NV),
        ("w 2^31", w, q(2147483648.0), 0, 0x7fff_ffff, NV),
        ("w -2^31", w, q(-2147483648.0), 0, i32min, 0),
        ("w -2^31-0.5 rne", w, q(-2147483648.5), 0, i32min, NX),
        ("w -2^31-0.5 rmm", w, q(-2147483648.5), 4, i32min, NV),
        ("w -2.5 rne", w, q(-2.5), 0, (-2i128) as u128, NX),
        ("w -2.5 rmm", w, q(-2.5), 4, (-3i128) as u128, NX),
        ("w -2.5 rdn", w, q(-2.5), 2, (-3i128) as u128, NX),
        ("w 2.5 rup", w, q(2.5), 3, 3, NX),
        ("w 2.5 rtz", w, q(2.5), 1, 2, NX),
        ("wu nan", wu, QNAN, 0, all, NV),
        ("wu -inf", wu, INF | NEG, 0, 0, NV),
        ("wu -1", wu, q(-1.0), 0, 0, NV),
        ("wu -0.4 rne", wu, q(-0.4), 0, 0, NX),
        ("wu 2^32-1", wu, q(4294967295.0), 0, all, 0),
        (
            "wu 2^31",
            wu,
            q(2147483648.0),
            0,
            0xffff_ffff_8000_0000u64 as i64 as i128 as u128,
            0,
        ),
        ("l nan", l, QNAN, 0, i64::MAX as u128, NV),
        ("l -inf", l, INF | NEG, 0, i64min, NV),
        ("l -2^63", l, q(-9223372036854775808.0), 0, i64min, 0),
        (
            "l 2^63",
            l,
            q(9223372036854775808.0),
            0,
            i64::MAX as u128,
            NV,
        ),
        ("lu nan", lu, QNAN, 0, all, NV),
        ("lu 2^64", lu, q(18446744073709551616.0), 0, all, NV),
        ("lu 2^63", lu, q(9223372036854775808.0), 0, i64min, 0),
        ("t nan", t, QNAN, 0, i128::MAX as u128, NV),
        ("t +inf", t, INF, 0, i128::MAX as u128, NV),
        ("t -inf", t, INF | NEG, 0, 1 << 127, NV),
        ("t 2^126", t, p126, 0, 1 << 126, 0),
        ("t 2^127", t, p127, 0, i128::MAX as u128, NV),
        ("t -2^127", t, p127 | NEG, 0, 1 << 127, 0),
        ("t -1e40", t, big | NEG, 0, 1 << 127, NV),
        ("t 1/3 rup", t, THIRD_DN, 3, 1, NX),
        ("tu nan", tu, QNAN, 0, all, NV),
        ("tu 2^127", tu, p127, 0, 1 << 127, 0),
        ("tu 1e40", tu, big, 0, all, NV),
        ("tu -inf", tu, INF | NEG, 0, 0, NV),
        ("tu -1/3 rdn", tu, THIRD_DN | NEG, 2, 0, NV),
        ("tu -1/3 rup", tu, THIRD_DN | NEG, 3, 0, NX),
    ];
    for (name, emit, v, frm, want, wfl) in cases {
        let mut h = program(|a| {
            a.li(T1, frm as i128).csrw(FRM, T1);
            a.li(T1, v as i128).fmv_q_x(F2, T1);
            emit(a);
        });
        run(&mut h);
        assert_eq!((x(&h, A0), h.fp.fflags), (want, wfl), "fcvt.{name}");
    }
}

#[test]
fn conversions_from_integers_and_between_formats() {
    let mut h = program(|a| {
        a.li(T1, -7).fcvt_q_w(F1, T1).fmv_x_q(S1, F1);
        a.li(T1, 0x1_0000_0001).fcvt_q_wu(F1, T1).fmv_x_q(S2, F1); // low 32 bits: 1
        a.li(T1, i64::MIN as i128).fcvt_q_l(F1, T1).fmv_x_q(S3, F1);
        a.li(T1, -1).fcvt_q_lu(F1, T1).fmv_x_q(S4, F1); // 2^64 - 1
                                                        // 2^127 - 1 (127 bits) rounds: to 2^127 in RNE, down in RTZ.
        a.li(T1, i128::MAX).fcvt_q_t(F1, T1).fmv_x_q(S5, F1);
        a.li(T1, i128::MAX).fcvt_q_t(F1, T1).rm(1).fmv_x_q(S6, F1);
        a.li(T1, -1).fcvt_q_tu(F1, T1).fmv_x_q(S7, F1); // 2^128 - 1 -> 2^128
                                                        // binary64 <-> binary128: 0.1 is exact one way, 1/3 rounds the other.
        a.li(T1, 0.1f64.to_bits() as i128)
            .fmv_d_x(F2, T1)
            .fcvt_q_d(F3, F2)
            .fmv_x_q(S8, F3);
        a.li(T1, THIRD_DN as i128)
            .fmv_q_x(F4, T1)
            .fcvt_d_q(F5, F4)
            .fmv_x_q(S9, F5);
        a.fcvt_s_q(F5, F4).fmv_x_q(S10, F5);
        // A signaling binary32 NaN converted to binary128: canonical NaN, NV.
        a.li(T1, 0x7f80_0001)
            .fmv_w_x(F2, T1)
            .fcvt_q_s(F3, F2)
            .fmv_x_q(S11, F3);
    });
    run(&mut h);
    assert_eq!(trapped(&h), None);
    let box64 = |v: u64| (u128::MAX << 64) | v as u128;
    assert_eq!(x(&h, S1), q(-7.0));
    assert_eq!(x(&h, S2), ONE);
    assert_eq!(x(&h, S3), q(-9223372036854775808.0));
    assert_eq!(
        x(&h, S4),
        ((0x3fff + 63) << 112) | (((1u128 << 63) - 1) << 49)
    );
    assert_eq!(x(&h, S5), (0x3fff + 127) << 112);
    assert_eq!(x(&h, S6), ((0x3fff + 126) << 112) | ((1u128 << 112) - 1));
    assert_eq!(x(&h, S7), (0x3fff + 128) << 112);
    assert_eq!(x(&h, S8), q(0.1));
    assert_eq!(x(&h, S9), box64((1.0f64 / 3.0).to_bits()));
    assert_eq!(
        x(&h, S10),
        (u128::MAX << 32) | (1.0f32 / 3.0).to_bits() as u128
    );
    assert_eq!(x(&h, S11), CANONICAL_NAN);
    assert_eq!(h.fp.fflags, NV | NX);
}

#[test]
fn narrower_values_are_nan_boxed_to_128_bits() {
    let data = RAM_BASE + 0x1000;
    let mut h = program(|a| {
        a.li(S0, data as i128);
        a.fld(F1, S0, 0).fmv_x_q(S1, F1); // FLD boxes to 128 bits
        a.flw(F2, S0, 0).fmv_x_q(S2, F2); // FLW too
        a.fadd_d(F3, F1, F1).fmv_x_q(S3, F3); // a D result is boxed: 2.0
                                              // A binary128 value is not a properly boxed binary64 (or binary32):
        a.li(T1, ONE as i128).fmv_q_x(F4, T1);
        a.fadd_d(F5, F4, F1).fmv_x_q(S4, F5); // reads as the canonical NaN
        a.fcvt_q_d(F5, F4).fmv_x_q(S5, F5); // canonical NaN, no NV (it is quiet)
        a.fsgnjn_d(F5, F4, F1).fmv_x_q(S6, F5); // canonical NaN with the sign injected
        a.fcvt_l_d(S7, F4); // NaN -> 2^63 - 1, NV
                            // Transfers move raw bits: fmv.x.d / fmv.x.w give the low bits, FSD stores them.
        a.fmv_x_d(S8, F4).fmv_x_w(S9, F4).fsd(F4, S0, 16);
        // A binary64 value with bits 127:64 not all ones (but 63:32 all ones)
        // is an improperly boxed binary32 too.
        a.li(T1, (1i128 << 64) | 0xffff_ffff_3f80_0000)
            .fmv_q_x(F4, T1);
        a.fclass_d(S10, F4); // canonical NaN: quiet NaN, bit 9
    });
    assert!(h.ram_write(data, &1.0f64.to_bits().to_le_bytes()));
    run(&mut h);
    assert_eq!(trapped(&h), None);
    let box64 = |v: u64| (u128::MAX << 64) | v as u128;
    assert_eq!(x(&h, S1), box64(1.0f64.to_bits()));
    assert_eq!(
        x(&h, S2),
        (u128::MAX << 32) | (1.0f64.to_bits() & 0xffff_ffff) as u128
    );
    assert_eq!(x(&h, S3), box64(2.0f64.to_bits()));
    assert_eq!(x(&h, S4), box64(0x7ff8_0000_0000_0000));
    assert_eq!(x(&h, S5), CANONICAL_NAN);
    assert_eq!(x(&h, S6), box64(0xfff8_0000_0000_0000));
    assert_eq!(x(&h, S7), i64::MAX as u128);
    assert_eq!(x(&h, S8), 0, "fmv.x.d: bits 63:0 of 1.0q are zero");
    assert_eq!(x(&h, S9), 0);
    assert_eq!(x(&h, S10), 1 << 9);
    assert_eq!(h.fp.fflags, NV);
    let at = (data - RAM_BASE) as usize + 16;
    assert_eq!(h.ram()[at..at + 8], [0; 8]);
}

#[test]
fn fflags_frm_dynamic_rounding_and_illegal_modes() {
    // frm selects the DYN rounding; fflags accumulate; fcsr holds both.
    let mut h = program(|a| {
        a.li(T1, ONE as i128).fmv_q_x(F2, T1);
        a.li(T1, THREE as i128).fmv_q_x(F3, T1);
        a.csrrwi(ZERO, FRM, 2).fdiv_q(F1, F2, F3).fmv_x_q(S1, F1);
        a.csrrwi(ZERO, FRM, 3).fdiv_q(F1, F2, F3).fmv_x_q(S2, F1);
        a.fdiv_q(F1, F2, F3).rm(1).fmv_x_q(S3, F1); // static RTZ beats frm = RUP
        a.csrr(S4, FFLAGS);
        a.li(T1, 0).fmv_q_x(F4, T1).fdiv_q(F1, F2, F4); // 1/0: DZ
        a.csrr(S5, FCSR);
        a.csrw(FFLAGS, ZERO).fadd_q(F1, F2, F2).csrr(S6, FFLAGS); // exact: no flags
    });
    run(&mut h);
    assert_eq!(trapped(&h), None);
    assert_eq!(x(&h, S1), THIRD_DN);
    assert_eq!(x(&h, S2), THIRD_UP);
    assert_eq!(x(&h, S3), THIRD_DN);
    assert_eq!(x(&h, S4), NX as u128);
    assert_eq!(x(&h, S5), (3 << 5) | 0x08 | 0x01);
    assert_eq!(x(&h, S6), 0);
    // Rounding-mode fields 5 and 6, and DYN with frm 5..7, are illegal; the
    // destination and fflags stay as they were.
    for (field, frm) in [(5, 0), (6, 0), (7, 5), (7, 6), (7, 7)] {
        for emit in [
            (|a: &mut Asm| {
                a.fadd_q(F1, F2, F3);
            }) as fn(&mut Asm),
            |a| {
                a.fsqrt_q(F1, F2);
            },
            |a| {
                a.fma_q(0x43, F1, F2, F3, F3);
            },
            |a| {
                a.fcvt_q_d(F1, F2); // exact, but has an rm field
            },
            |a| {
                a.fcvt_t_q(F1, F2);
            },
        ] {
            let mut h = program(|a| {
                a.li(T1, frm).csrw(FRM, T1);
                a.li(T1, 7).fmv_q_x(F1, T1);
                emit(a);
                a.rm(field);
            });
            run(&mut h);
            assert_eq!(trapped(&h), Some(EXC_ILLEGAL), "rm {field} frm {frm}");
            assert_eq!(h.fp.read_q(1), 7);
            assert_eq!(h.fp.fflags, 0);
        }
    }
}

#[test]
fn integer_conversions_of_128_bits_for_s_and_d() {
    let mut h = program(|a| {
        a.li(T1, 1i128 << 100).fcvt_d_t(F1, T1).fmv_x_d(S1, F1);
        a.li(T1, -1).fcvt_s_tu(F1, T1).fmv_x_w(S2, F1); // 2^128 - 1 -> 2^128 in binary32
        a.li(T1, -1).fcvt_s_t(F1, T1).fmv_x_w(S3, F1); // -1
        a.li(T1, 1e30f64.to_bits() as i128)
            .fmv_d_x(F2, T1)
            .fcvt_t_d(S4, F2)
            .rm(1);
        a.li(T1, (-1e30f64).to_bits() as i128)
            .fmv_d_x(F2, T1)
            .fcvt_tu_d(S5, F2);
        a.li(T1, 3e38f32.to_bits() as i128)
            .fmv_w_x(F2, T1)
            .fcvt_tu_s(S6, F2)
            .rm(1);
        a.fcvt_t_s(S7, F2).rm(1); // 3e38 > 2^127: saturates
        a.fcvt_t_d(S8, F2); // a boxed binary32 value read as binary64 is a NaN
    });
    run(&mut h);
    assert_eq!(trapped(&h), None);
    assert_eq!(x(&h, S1), 2f64.powi(100).to_bits() as i64 as i128 as u128);
    assert_eq!(
        x(&h, S2),
        f32::INFINITY.to_bits() as u128,
        "2^128 overflows binary32"
    );
    assert_eq!(x(&h, S3), (-1f32).to_bits() as i32 as i128 as u128);
    assert_eq!(x(&h, S4), 1e30f64 as u128);
    assert_eq!(x(&h, S5), 0);
    assert_eq!(x(&h, S6), 3e38f32 as u128);
    assert_eq!(x(&h, S7), i128::MAX as u128);
    assert_eq!(x(&h, S8), i128::MAX as u128);
}

#[test]
fn flen_follows_xlen_across_switches() {
    // At 128, f1 and f2 get binary128 values; at 64, f2 gets a binary64 value
    // (FLEN 64 there); back at 128, f1 is untouched and f2 is a properly
    // NaN-boxed binary64 value.
    let mut a = Asm::new();
    a.li(T0, 1 << 13).csrrs(ZERO, MSTATUS, T0);
    a.li(T1, THIRD_DN as i128).fmv_q_x(F1, T1).fmv_q_x(F2, T1);
    a.li(T0, 2i128 << 126).csrw(MISA, T0); // XLEN 64
    a.li(T1, 5).fcvt_d_l(F2, T1);
    a.li(T0, 3i128 << 62).csrw(MISA, T0); // XLEN 128
    a.fmv_x_q(S1, F1).fmv_x_q(S2, F2);
    a.fadd_d(F3, F2, F2).fmv_x_d(S3, F3);
    a.wfi();
    let mut h = AnyHart::new(128, 1 << 20, NoBus).unwrap();
    assert!(h.ram_write(RAM_BASE, &a.finish().unwrap()));
    assert_eq!(h.run(1000), Stop::Wfi);
    assert_eq!(h.xlen(), 128);
    assert_eq!(h.reg128(S1 as usize), THIRD_DN);
    assert_eq!(
        h.reg128(S2 as usize),
        (u128::MAX << 64) | 5f64.to_bits() as u128
    );
    assert_eq!(h.reg128(S3 as usize), 10f64.to_bits() as u128);
}

#[test]
fn flq_and_fsq_faults_change_nothing() {
    // Outside RAM (NoBus): FLQ raises a load access fault and leaves f1 as it
    // was; FSQ whose second half faults raises a store access fault.
    let end = RAM_BASE + (1 << 20);
    let mut h = program(|a| {
        a.li(T1, 0x77).fmv_q_x(F1, T1);
        a.li(S0, (end + 0x100) as i128).flq(F1, S0, 0);
    });
    run(&mut h);
    assert_eq!(trapped(&h), Some(EXC_LOAD_ACCESS));
    assert_eq!(x(&h, A6), (end + 0x100) as u128, "mtval");
    assert_eq!(h.fp.read_q(1), 0x77);
    let mut h = program(|a| {
        a.li(T1, -1).fmv_q_x(F1, T1);
        a.li(S0, (end + 0x100) as i128).fsq(F1, S0, 0);
    });
    run(&mut h);
    assert_eq!(trapped(&h), Some(EXC_STORE_ACCESS));
}

#[test]
fn first_widening_to_128_boxes_every_f_register() {
    // A hart that starts at XLEN 64 (FLEN 64) and switches to 128: its
    // binary64 values are properly NaN-boxed there.
    let mut a = Asm::new();
    a.li(T0, 1 << 13).csrrs(ZERO, MSTATUS, T0);
    a.li(T1, 3).fcvt_d_l(F1, T1);
    a.li(T0, 3i128 << 62).csrw(MISA, T0); // XLEN 128
    a.fadd_d(F2, F1, F1).fmv_x_d(S1, F2);
    a.fmv_x_q(S2, F1);
    a.wfi();
    let mut h = AnyHart::new(64, 1 << 20, NoBus).unwrap();
    assert!(h.ram_write(RAM_BASE, &a.finish().unwrap()));
    assert_eq!(h.run(1000), Stop::Wfi);
    assert_eq!(h.xlen(), 128);
    assert_eq!(h.reg128(S1 as usize), 6f64.to_bits() as u128);
    assert_eq!(
        h.reg128(S2 as usize),
        (u128::MAX << 64) | 3f64.to_bits() as u128
    );
}

#[test]
fn reserved_q_encodings_are_illegal() {
    use crate::fp::{execute128, FpOutcome128, FpState};
    // funct5 << 27 | fmt << 25 | rs2 << 20 | rs1 = 2 | funct3 << 12 | rd = 1 | OP-FP
    let op = |funct5: u32, fmt: u32, rs2: u32, funct3: u32| {
        (funct5 << 27) | (fmt << 25) | (rs2 << 20) | (2 << 15) | (funct3 << 12) | (1 << 7) | 0x53
    };
    for (name, w) in [
        ("fsqrt.q rs2 1", op(0b01011, 3, 1, 0)),
        ("fsgnj.q funct3 3", op(0b00100, 3, 0, 3)),
        ("fmin.q funct3 2", op(0b00101, 3, 0, 2)),
        ("fcmp.q funct3 3", op(0b10100, 3, 0, 3)),
        ("fclass.q rs2 1", op(0b11100, 3, 1, 1)),
        ("fmv.x.q funct3 2", op(0b11100, 3, 0, 2)),
        ("fmv.q.x funct3 1", op(0b11110, 3, 0, 1)),
        ("fcvt.w.q rs2 6", op(0b11000, 3, 6, 0)),
        ("fcvt.q.w rs2 6", op(0b11010, 3, 6, 0)),
        ("fcvt.q.h", op(0b01000, 3, 2, 0)),
        ("fcvt.q.q", op(0b01000, 3, 3, 0)),
        ("fcvt.h.q", op(0b01000, 2, 3, 0)),
        ("fcvt.t.h", op(0b11000, 2, 4, 0)),
        ("funct5 01100, fmt Q", op(0b01100, 3, 0, 0)),
        ("fadd.h", op(0, 2, 0, 0)),
    ] {
        let mut st = FpState::default();
        st.write_q(1, 0x42);
        let before = st.clone();
        assert_eq!(execute128(&mut st, w, 7), FpOutcome128::Illegal, "{name}");
        assert_eq!(st, before, "{name} changed the state");
    }
}
