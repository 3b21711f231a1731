//! Hand-checked corner cases of the F and D extensions, each derived from the
//! RISC-V unprivileged ISA manual (chapters "F" and "D") and IEEE 754-2019.
//! The QEMU differential test (fp_oracle.rs) covers the bulk; these pin down
//! the rules one by one, and cover RV32, which the RV64 oracle cannot.

use vf_riscv::fp::{execute, FpOutcome, FpState};

const NV: u8 = 0x10;
const DZ: u8 = 0x08;
const OF: u8 = 0x04;
const UF: u8 = 0x02;
const NX: u8 = 0x01;

const RNE: u32 = 0;
const RTZ: u32 = 1;
const RDN: u32 = 2;
const RUP: u32 = 3;
const RMM: u32 = 4;
const DYN: u32 = 7;

const S: u32 = 0;
const D: u32 = 1;

// Register numbers used by every test: rd = f1/x1, rs1 = f2/x2, rs2 = f3, rs3 = f4.
const RD: usize = 1;

fn op(funct5: u32, fmt: u32, rs2: u32, funct3: u32) -> u32 {
    (funct5 << 27) | (fmt << 25) | (rs2 << 20) | (2 << 15) | (funct3 << 12) | (1 << 7) | 0x53
}
fn r4(opcode: u32, fmt: u32, funct3: u32) -> u32 {
    (4 << 27) | (fmt << 25) | (3 << 20) | (2 << 15) | (funct3 << 12) | (1 << 7) | opcode
}
fn fadd(fmt: u32, rm: u32) -> u32 {
    op(0, fmt, 3, rm)
}
fn fsub(fmt: u32, rm: u32) -> u32 {
    op(1, fmt, 3, rm)
}
fn fmul(fmt: u32, rm: u32) -> u32 {
    op(2, fmt, 3, rm)
}
fn fdiv(fmt: u32, rm: u32) -> u32 {
    op(3, fmt, 3, rm)
}
fn fsqrt(fmt: u32, rm: u32) -> u32 {
    op(0b01011, fmt, 0, rm)
}
fn fmadd(fmt: u32, rm: u32) -> u32 {
    r4(0x43, fmt, rm)
}
fn fmsub(fmt: u32, rm: u32) -> u32 {
    r4(0x47, fmt, rm)
}
fn fnmsub(fmt: u32, rm: u32) -> u32 {
    r4(0x4b, fmt, rm)
}
fn fnmadd(fmt: u32, rm: u32) -> u32 {
    r4(0x4f, fmt, rm)
}
fn fsgnj(fmt: u32, kind: u32) -> u32 {
    op(0b00100, fmt, 3, kind)
}
fn fmin(fmt: u32) -> u32 {
    op(0b00101, fmt, 3, 0)
}
fn fmax(fmt: u32) -> u32 {
    op(0b00101, fmt, 3, 1)
}
fn fle(fmt: u32) -> u32 {
    op(0b10100, fmt, 3, 0)
}
fn flt(fmt: u32) -> u32 {
    op(0b10100, fmt, 3, 1)
}
fn feq(fmt: u32) -> u32 {
    op(0b10100, fmt, 3, 2)
}
/// fcvt.{w,wu,l,lu}.fmt (`to` = 0..3).
fn fcvt_to_int(fmt: u32, to: u32, rm: u32) -> u32 {
    op(0b11000, fmt, to, rm)
}
/// fcvt.fmt.{w,wu,l,lu} (`from` = 0..3).
fn fcvt_from_int(fmt: u32, from: u32, rm: u32) -> u32 {
    op(0b11010, fmt, from, rm)
}
fn fcvt_s_d(rm: u32) -> u32 {
    op(0b01000, S, 1, rm)
}
fn fcvt_d_s(rm: u32) -> u32 {
    op(0b01000, D, 0, rm)
}
fn fmv_x(fmt: u32) -> u32 {
    op(0b11100, fmt, 0, 0)
}
fn fclass(fmt: u32) -> u32 {
    op(0b11100, fmt, 0, 1)
}
fn fmv_f(fmt: u32) -> u32 {
    op(0b11110, fmt, 0, 0)
}

/// NaN-boxes a binary32 pattern.
fn b(x: u32) -> u64 {
    0xffff_ffff_0000_0000 | x as u64
}
fn s(x: f32) -> u64 {
    b(x.to_bits())
}
fn d(x: f64) -> u64 {
    x.to_bits()
}

const CNAN_S: u64 = 0xffff_ffff_7fc0_0000;
const CNAN_D: u64 = 0x7ff8_0000_0000_0000;
const SNAN_S: u64 = 0xffff_ffff_7f80_0001;
const QNAN_S: u64 = 0xffff_ffff_ffc1_2345; // negative quiet NaN with a payload
const SNAN_D: u64 = 0x7ff0_0000_0000_0001;
const QNAN_D: u64 = 0xfff8_0000_0000_1234;

struct Run {
    out: FpOutcome,
    st: FpState,
}

impl Run {
    /// The f register result and the flags.
    fn f(&self) -> (u64, u8) {
        assert_eq!(self.out, FpOutcome::WroteF);
        (self.st.f[RD], self.st.fflags)
    }
    /// The integer register result and the flags.
    fn x(&self) -> (u64, u8) {
        match self.out {
            FpOutcome::WroteX(v) => (v, self.st.fflags),
            other => panic!("expected WroteX, got {other:?}"),
        }
    }
}

fn run_full(insn: u32, ops: [u64; 3], rs1: u64, frm: u8, xlen: u32) -> Run {
    let mut st = FpState {
        frm,
        ..FpState::default()
    };
    st.f[2] = ops[0];
    st.f[3] = ops[1];
    st.f[4] = ops[2];
    let out = execute(&mut st, insn, rs1, xlen);
    Run { out, st }
}

fn run(insn: u32, ops: [u64; 3]) -> Run {
    run_full(insn, ops, 0, 0, 64)
}
fn f1(insn: u32, a: u64) -> (u64, u8) {
    run(insn, [a, 0, 0]).f()
}
fn f2(insn: u32, a: u64, b: u64) -> (u64, u8) {
    run(insn, [a, b, 0]).f()
}
fn f3(insn: u32, a: u64, b: u64, c: u64) -> (u64, u8) {
    run(insn, [a, b, c]).f()
}
fn x1(insn: u32, a: u64) -> (u64, u8) {
    run(insn, [a, 0, 0]).x()
}
fn x2(insn: u32, a: u64, b: u64) -> (u64, u8) {
    run(insn, [a, b, 0]).x()
}
fn from_x(insn: u32, rs1: u64, xlen: u32) -> (u64, u8) {
    run_full(insn, [0; 3], rs1, 0, xlen).f()
}

#[test]
fn nan_results_are_canonical_and_snan_signals() {
    // A quiet NaN operand propagates as the canonical NaN, without flags.
    assert_eq!(f2(fadd(S, RNE), QNAN_S, s(1.0)), (CNAN_S, 0));
    assert_eq!(f2(fmul(D, RNE), d(2.0), QNAN_D), (CNAN_D, 0));
    // A signaling NaN operand gives the canonical NaN and NV.
    assert_eq!(f2(fadd(S, RNE), s(1.0), SNAN_S), (CNAN_S, NV));
    assert_eq!(f2(fdiv(D, RNE), SNAN_D, d(1.0)), (CNAN_D, NV));
    assert_eq!(f1(fsqrt(D, RNE), SNAN_D), (CNAN_D, NV));
    assert_eq!(f1(fsqrt(S, RNE), QNAN_S), (CNAN_S, 0));
    // Invalid operations produce the canonical NaN.
    assert_eq!(
        f2(fsub(D, RNE), d(f64::INFINITY), d(f64::INFINITY)),
        (CNAN_D, NV)
    );
    assert_eq!(f2(fmul(S, RNE), s(0.0), s(f32::NEG_INFINITY)), (CNAN_S, NV));
    assert_eq!(f2(fdiv(D, RNE), d(0.0), d(-0.0)), (CNAN_D, NV));
    assert_eq!(
        f2(fdiv(S, RNE), s(f32::INFINITY), s(f32::INFINITY)),
        (CNAN_S, NV)
    );
    assert_eq!(f1(fsqrt(D, RNE), d(-1.0)), (CNAN_D, NV));
    assert_eq!(f1(fsqrt(D, RNE), d(f64::NEG_INFINITY)), (CNAN_D, NV));
    // Conversions between formats canonicalise too.
    assert_eq!(f1(fcvt_d_s(RNE), QNAN_S), (CNAN_D, 0));
    assert_eq!(f1(fcvt_s_d(RNE), SNAN_D), (CNAN_S, NV));
}

#[test]
fn division_by_zero_and_square_roots_of_zero() {
    assert_eq!(
        f2(fdiv(D, RNE), d(-3.0), d(0.0)),
        (d(f64::NEG_INFINITY), DZ)
    );
    assert_eq!(
        f2(fdiv(S, RNE), s(3.0), s(-0.0)),
        (s(f32::NEG_INFINITY), DZ)
    );
    // inf / 0 is an exact infinity, not a division by zero.
    assert_eq!(
        f2(fdiv(D, RNE), d(f64::INFINITY), d(0.0)),
        (d(f64::INFINITY), 0)
    );
    assert_eq!(f1(fsqrt(D, RNE), d(-0.0)), (d(-0.0), 0));
    assert_eq!(f1(fsqrt(S, RNE), s(0.0)), (s(0.0), 0));
    assert_eq!(f1(fsqrt(D, RNE), d(f64::INFINITY)), (d(f64::INFINITY), 0));
    assert_eq!(f1(fsqrt(D, RNE), d(2.0)), (d(std::f64::consts::SQRT_2), NX));
    assert_eq!(f1(fsqrt(S, RNE), s(0.25)), (s(0.5), 0));
    // sqrt of the smallest subnormal, 2^-1074, is 2^-537 exactly.
    assert_eq!(f1(fsqrt(D, RNE), 1), (d(2f64.powi(-537)), 0));
}

#[test]
fn exact_zero_sums_take_the_sign_the_rounding_mode_says() {
    // x + (-x) is +0 in every mode but RDN, where it is -0.
    for rm in [RNE, RTZ, RUP, RMM] {
        assert_eq!(f2(fadd(D, rm), d(1.5), d(-1.5)), (d(0.0), 0));
    }
    assert_eq!(f2(fadd(D, RDN), d(1.5), d(-1.5)), (d(-0.0), 0));
    assert_eq!(f2(fsub(S, RDN), s(0.0), s(0.0)), (s(-0.0), 0));
    assert_eq!(f2(fsub(S, RNE), s(0.0), s(0.0)), (s(0.0), 0));
    // Same-signed zeros keep their sign.
    assert_eq!(f2(fadd(D, RUP), d(-0.0), d(-0.0)), (d(-0.0), 0));
    // fnmadd: -(+0 * 1) - (+0) = -0.
    assert_eq!(f3(fnmadd(D, RNE), d(0.0), d(1.0), d(0.0)), (d(-0.0), 0));
    // fmadd: (+0 * -1) + (+0) = +0 (RNE), -0 (RDN).
    assert_eq!(f3(fmadd(D, RNE), d(0.0), d(-1.0), d(0.0)), (d(0.0), 0));
    assert_eq!(f3(fmadd(D, RDN), d(0.0), d(-1.0), d(0.0)), (d(-0.0), 0));
}

#[test]
fn rounding_modes_on_ties_and_directions() {
    // 1 + 2^-53 is a tie between 1 and 1 + 2^-52 in binary64.
    let one = d(1.0);
    let half_ulp = d(2f64.powi(-53));
    let up = d(1.0 + 2f64.powi(-52));
    assert_eq!(f2(fadd(D, RNE), one, half_ulp), (one, NX));
    assert_eq!(f2(fadd(D, RMM), one, half_ulp), (up, NX));
    assert_eq!(f2(fadd(D, RTZ), one, half_ulp), (one, NX));
    assert_eq!(f2(fadd(D, RUP), one, half_ulp), (up, NX));
    assert_eq!(f2(fadd(D, RDN), one, half_ulp), (one, NX));
    // The same tie on the negative side.
    let neg_up = d(-(1.0 + 2f64.powi(-52)));
    assert_eq!(f2(fsub(D, RMM), d(-1.0), half_ulp), (neg_up, NX));
    assert_eq!(f2(fsub(D, RDN), d(-1.0), half_ulp), (neg_up, NX));
    assert_eq!(f2(fsub(D, RUP), d(-1.0), half_ulp), (d(-1.0), NX));
    // A tie to an odd neighbour: RNE rounds up to the even one, RMM too.
    let odd = d(1.0 + 2f64.powi(-52));
    let even = d(1.0 + 2f64.powi(-51));
    assert_eq!(f2(fadd(D, RNE), odd, half_ulp), (even, NX));
    assert_eq!(f2(fadd(D, RMM), odd, half_ulp), (even, NX));
    // DYN takes frm.
    let r = run_full(fadd(D, DYN), [one, half_ulp, 0], 0, RMM as u8, 64);
    assert_eq!(r.f(), (up, NX));
    // Conversions to integers: 2.5 and -2.5 in each mode.
    let cases = [
        (RNE, 2, -2),
        (RTZ, 2, -2),
        (RDN, 2, -3),
        (RUP, 3, -2),
        (RMM, 3, -3),
    ];
    for (rm, pos, neg) in cases {
        assert_eq!(
            x1(fcvt_to_int(D, 0, rm), d(2.5)),
            (pos as u64, NX),
            "rm {rm}"
        );
        assert_eq!(
            x1(fcvt_to_int(S, 2, rm), s(-2.5)),
            ((neg as i64) as u64, NX),
            "rm {rm}"
        );
    }
    // 3.5 ties to even 4 under RNE; exact values raise nothing.
    assert_eq!(x1(fcvt_to_int(D, 0, RNE), d(3.5)), (4, NX));
    assert_eq!(x1(fcvt_to_int(D, 0, RNE), d(-7.0)), (-7i64 as u64, 0));
}

#[test]
fn fused_multiply_add_rounds_once() {
    // (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104 exactly; two roundings would give 0.
    let a = d(1.0 + 2f64.powi(-52));
    let bb = d(1.0 - 2f64.powi(-52));
    assert_eq!(f3(fmsub(D, RNE), a, bb, d(1.0)), (d(-(2f64.powi(-104))), 0));
    assert_eq!(f3(fnmsub(D, RNE), a, bb, d(1.0)), (d(2f64.powi(-104)), 0));
    assert_eq!(f3(fnmadd(D, RNE), a, bb, d(-1.0)), (d(2f64.powi(-104)), 0));
    assert_eq!(f3(fmadd(S, RNE), s(3.0), s(4.0), s(-12.0)), (s(0.0), 0));
    // inf * 0 + c is invalid even when c is a quiet NaN (RISC-V requires NV here).
    assert_eq!(
        f3(fmadd(D, RNE), d(f64::INFINITY), d(0.0), QNAN_D),
        (CNAN_D, NV)
    );
    assert_eq!(
        f3(fmadd(S, RNE), s(0.0), s(f32::INFINITY), QNAN_S),
        (CNAN_S, NV)
    );
    // A NaN multiplicand with a quiet addend is quiet.
    assert_eq!(f3(fmadd(D, RNE), QNAN_D, d(0.0), d(1.0)), (CNAN_D, 0));
    // inf * 1 - inf is invalid; inf * 1 + inf is inf.
    let inf = d(f64::INFINITY);
    assert_eq!(f3(fmsub(D, RNE), inf, d(1.0), inf), (CNAN_D, NV));
    assert_eq!(f3(fmadd(D, RNE), inf, d(1.0), inf), (inf, 0));
    // A finite product plus an infinite addend is the addend.
    assert_eq!(
        f3(fnmadd(D, RNE), d(1.0), d(1.0), inf),
        (d(f64::NEG_INFINITY), 0)
    );
}

#[test]
fn underflow_is_detected_after_rounding() {
    let min_normal = 0x0010_0000_0000_0000;
    let two_m1000 = d(2f64.powi(-1000));
    let c = min_normal;
    // 2^-1022 - 2^-1076: rounded to 53 bits with an unbounded exponent it is 2^-1022,
    // so it is not tiny after rounding: inexact only (before-rounding detection would say UF).
    let r = f3(fmadd(D, RNE), two_m1000, d(-(2f64.powi(-76))), c);
    assert_eq!(r, (min_normal, NX));
    // 2^-1022 - 1.5 * 2^-1076: rounds (unbounded) to 2^-1022 - 2^-1075, still tiny,
    // while the subnormal rounding gives 2^-1022: UF and NX with a normal result.
    let r = f3(fmadd(D, RNE), two_m1000, d(-1.5 * 2f64.powi(-76)), c);
    assert_eq!(r, (min_normal, UF | NX));
    // (1 - 2^-53) * 2^-1022 is a tie in the subnormal range rounding up to 2^-1022,
    // but exact at precision 53, so tiny: UF | NX.
    let r = f2(fmul(D, RNE), d(1.0 - 2f64.powi(-53)), min_normal);
    assert_eq!(r, (min_normal, UF | NX));
    // The same in RTZ stays subnormal.
    let r = f2(fmul(D, RTZ), d(1.0 - 2f64.powi(-53)), min_normal);
    assert_eq!(r, (min_normal - 1, UF | NX));
    // An exact subnormal result raises nothing.
    assert_eq!(
        f2(fmul(D, RNE), two_m1000, d(2f64.powi(-50))),
        (d(2f64.powi(-1050)), 0)
    );
    // Half the smallest subnormal: rounds to 0 (RNE) or to it (RUP), UF | NX either way.
    let tiny = d(2f64.powi(-1074));
    assert_eq!(f2(fmul(D, RNE), tiny, d(0.5)), (0, UF | NX));
    assert_eq!(f2(fmul(D, RUP), tiny, d(0.5)), (1, UF | NX));
    assert_eq!(f2(fmul(D, RDN), tiny, d(-0.5)), (d(-tiny_f64()), UF | NX));
    // binary32: fcvt.s.d of a double just below 2^-126.
    let just_below = d(2f64.powi(-126) * (1.0 - 2f64.powi(-30)));
    assert_eq!(f1(fcvt_s_d(RNE), just_below), (b(0x0080_0000), NX));
}

fn tiny_f64() -> f64 {
    f64::from_bits(1)
}

#[test]
fn overflow_depends_on_rounding_mode() {
    let max = d(f64::MAX);
    let inf = d(f64::INFINITY);
    assert_eq!(f2(fmul(D, RNE), max, d(2.0)), (inf, OF | NX));
    assert_eq!(f2(fmul(D, RMM), max, d(2.0)), (inf, OF | NX));
    assert_eq!(f2(fmul(D, RTZ), max, d(2.0)), (max, OF | NX));
    assert_eq!(f2(fmul(D, RDN), max, d(2.0)), (max, OF | NX));
    assert_eq!(f2(fmul(D, RUP), max, d(2.0)), (inf, OF | NX));
    assert_eq!(
        f2(fmul(D, RDN), max, d(-2.0)),
        (d(f64::NEG_INFINITY), OF | NX)
    );
    assert_eq!(f2(fmul(D, RUP), max, d(-2.0)), (d(-f64::MAX), OF | NX));
    // Rounding up into overflow: max + half an ulp under RNE ties to even = inf.
    let half_ulp = d(2f64.powi(970));
    assert_eq!(f2(fadd(D, RNE), max, half_ulp), (inf, OF | NX));
    assert_eq!(f2(fadd(D, RTZ), max, half_ulp), (max, NX));
    // fcvt.s.d of a double above the binary32 range.
    assert_eq!(f1(fcvt_s_d(RNE), d(1e39)), (s(f32::INFINITY), OF | NX));
    assert_eq!(f1(fcvt_s_d(RTZ), d(-1e39)), (s(-f32::MAX), OF | NX));
}

#[test]
fn min_max_are_minimum_number_and_maximum_number() {
    assert_eq!(f2(fmin(D), d(-0.0), d(0.0)), (d(-0.0), 0));
    assert_eq!(f2(fmin(D), d(0.0), d(-0.0)), (d(-0.0), 0));
    assert_eq!(f2(fmax(S), s(-0.0), s(0.0)), (s(0.0), 0));
    assert_eq!(f2(fmax(S), s(0.0), s(-0.0)), (s(0.0), 0));
    // One quiet NaN: the number, no flags. One signaling NaN: the number and NV.
    assert_eq!(f2(fmin(D), QNAN_D, d(-5.0)), (d(-5.0), 0));
    assert_eq!(f2(fmax(D), d(-5.0), SNAN_D), (d(-5.0), NV));
    assert_eq!(f2(fmax(S), SNAN_S, s(7.0)), (s(7.0), NV));
    // Two NaNs: the canonical NaN.
    assert_eq!(f2(fmin(S), QNAN_S, QNAN_S), (CNAN_S, 0));
    assert_eq!(f2(fmax(D), SNAN_D, QNAN_D), (CNAN_D, NV));
    assert_eq!(
        f2(fmin(D), d(-1.0), d(f64::NEG_INFINITY)),
        (d(f64::NEG_INFINITY), 0)
    );
    assert_eq!(f2(fmax(D), d(-1.0), d(-2.0)), (d(-1.0), 0));
}

#[test]
fn sign_injection_works_on_bits() {
    assert_eq!(f2(fsgnj(D, 0), d(3.0), d(-0.0)), (d(-3.0), 0));
    assert_eq!(f2(fsgnj(D, 1), d(3.0), d(-0.0)), (d(3.0), 0));
    assert_eq!(f2(fsgnj(D, 2), d(-3.0), d(-1.0)), (d(3.0), 0));
    // fneg/fabs of NaNs keep the payload and raise nothing, even for sNaN.
    assert_eq!(f2(fsgnj(D, 1), SNAN_D, SNAN_D), (SNAN_D | (1 << 63), 0));
    assert_eq!(f2(fsgnj(S, 2), QNAN_S, QNAN_S), (b(0x7fc1_2345), 0));
    // An improperly boxed operand reads as the canonical NaN.
    assert_eq!(
        f2(fsgnj(S, 1), 0x0000_0000_3f80_0000, s(1.0)),
        (b(0xffc0_0000), 0)
    );
    assert_eq!(f2(fsgnj(S, 0), s(-2.0), 0x1234_5678_0000_0000), (s(2.0), 0));
}

#[test]
fn comparisons_quiet_and_signaling() {
    assert_eq!(x2(feq(D), d(-0.0), d(0.0)), (1, 0));
    assert_eq!(x2(flt(D), d(-0.0), d(0.0)), (0, 0));
    assert_eq!(x2(fle(S), s(0.0), s(-0.0)), (1, 0));
    assert_eq!(x2(flt(S), s(-1.0), s(-0.5)), (1, 0));
    assert_eq!(x2(fle(D), d(f64::INFINITY), d(f64::MAX)), (0, 0));
    // feq is quiet: NV only for signaling NaNs.
    assert_eq!(x2(feq(D), QNAN_D, d(1.0)), (0, 0));
    assert_eq!(x2(feq(D), QNAN_D, QNAN_D), (0, 0));
    assert_eq!(x2(feq(S), s(1.0), SNAN_S), (0, NV));
    // flt and fle signal for any NaN.
    assert_eq!(x2(flt(D), QNAN_D, d(1.0)), (0, NV));
    assert_eq!(x2(fle(S), s(1.0), QNAN_S), (0, NV));
    // An improperly boxed operand is a (quiet) NaN.
    assert_eq!(x2(feq(S), 0x3f80_0000, 0x3f80_0000), (0, 0));
    assert_eq!(x2(fle(S), 0x3f80_0000, s(1.0)), (0, NV));
}

#[test]
fn fclass_of_each_class() {
    let cases_d = [
        (f64::NEG_INFINITY.to_bits(), 0),
        ((-1.0f64).to_bits(), 1),
        (1 | (1 << 63), 2),
        ((-0.0f64).to_bits(), 3),
        (0, 4),
        (0x000f_ffff_ffff_ffff, 5),
        (f64::MAX.to_bits(), 6),
        (f64::INFINITY.to_bits(), 7),
        (SNAN_D, 8),
        (QNAN_D, 9),
    ];
    for (v, bit) in cases_d {
        assert_eq!(x1(fclass(D), v), (1 << bit, 0), "{v:#x}");
    }
    let cases_s = [
        (b(0xff80_0000), 0),
        (s(-1.0), 1),
        (b(0x8000_0001), 2),
        (s(-0.0), 3),
        (s(0.0), 4),
        (b(0x007f_ffff), 5),
        (s(1.0), 6),
        (b(0x7f80_0000), 7),
        (SNAN_S, 8),
        (QNAN_S, 9),
        // Not NaN-boxed: the canonical (quiet) NaN.
        (0x0000_0000_3f80_0000, 9),
        (0x7fff_ffff_ff80_0000, 9),
    ];
    for (v, bit) in cases_s {
        assert_eq!(x1(fclass(S), v), (1 << bit, 0), "{v:#x}");
    }
}

#[test]
fn conversion_to_integer_saturates() {
    let nan = QNAN_D;
    let inf = d(f64::INFINITY);
    let ninf = d(f64::NEG_INFINITY);
    let sx = |v: u32| v as i32 as i64 as u64;
    // (type, NaN, +inf, -inf) rows of the spec's table; 32-bit results sign-extended.
    let rows = [
        (0, sx(0x7fff_ffff), sx(0x7fff_ffff), sx(0x8000_0000)),
        (1, sx(0xffff_ffff), sx(0xffff_ffff), 0),
        (2, i64::MAX as u64, i64::MAX as u64, i64::MIN as u64),
        (3, u64::MAX, u64::MAX, 0),
    ];
    for (t, on_nan, on_inf, on_ninf) in rows {
        assert_eq!(x1(fcvt_to_int(D, t, RNE), nan), (on_nan, NV), "type {t}");
        assert_eq!(x1(fcvt_to_int(D, t, RNE), SNAN_D), (on_nan, NV), "type {t}");
        assert_eq!(x1(fcvt_to_int(D, t, RNE), inf), (on_inf, NV), "type {t}");
        assert_eq!(x1(fcvt_to_int(D, t, RNE), ninf), (on_ninf, NV), "type {t}");
        assert_eq!(x1(fcvt_to_int(S, t, RNE), CNAN_S), (on_nan, NV), "type {t}");
    }
    // Just inside and just outside the ranges.
    assert_eq!(
        x1(fcvt_to_int(D, 0, RNE), d(2147483647.0)),
        (0x7fff_ffff, 0)
    );
    assert_eq!(
        x1(fcvt_to_int(D, 0, RNE), d(2147483648.0)),
        (0x7fff_ffff, NV)
    );
    assert_eq!(
        x1(fcvt_to_int(D, 0, RTZ), d(2147483647.9)),
        (0x7fff_ffff, NX)
    );
    assert_eq!(
        x1(fcvt_to_int(D, 0, RNE), d(2147483647.5)),
        (0x7fff_ffff, NV)
    );
    assert_eq!(
        x1(fcvt_to_int(D, 0, RNE), d(-2147483648.0)),
        (sx(0x8000_0000), 0)
    );
    assert_eq!(
        x1(fcvt_to_int(D, 0, RUP), d(-2147483648.9)),
        (sx(0x8000_0000), NX)
    );
    assert_eq!(
        x1(fcvt_to_int(D, 0, RNE), d(-2147483649.0)),
        (sx(0x8000_0000), NV)
    );
    // fcvt.wu: the 32-bit result is sign-extended; small negatives rounding to 0 are fine.
    assert_eq!(x1(fcvt_to_int(D, 1, RNE), d(4294967295.0)), (u64::MAX, 0));
    assert_eq!(x1(fcvt_to_int(D, 1, RNE), d(3e9)), (sx(3_000_000_000), 0));
    assert_eq!(x1(fcvt_to_int(D, 1, RNE), d(4294967296.0)), (u64::MAX, NV));
    assert_eq!(x1(fcvt_to_int(D, 1, RTZ), d(-0.9)), (0, NX));
    assert_eq!(x1(fcvt_to_int(D, 1, RNE), d(-0.9)), (0, NV));
    assert_eq!(x1(fcvt_to_int(D, 1, RNE), d(-0.0)), (0, 0));
    // 64-bit bounds: 2^63 is out of range for L, in range for LU; -2^63 is the L minimum.
    let two63 = d(2f64.powi(63));
    assert_eq!(x1(fcvt_to_int(D, 2, RNE), two63), (i64::MAX as u64, NV));
    assert_eq!(x1(fcvt_to_int(D, 3, RNE), two63), (1 << 63, 0));
    assert_eq!(
        x1(fcvt_to_int(S, 2, RNE), s(-9.223_372e18)),
        (i64::MIN as u64, 0)
    );
    assert_eq!(
        x1(fcvt_to_int(D, 3, RNE), d(1.8446744073709552e19)),
        (u64::MAX, NV)
    );
    assert_eq!(x1(fcvt_to_int(D, 3, RDN), d(-1e-300)), (0, NV));
    assert_eq!(x1(fcvt_to_int(D, 2, RDN), d(-1e-300)), (u64::MAX, NX));
}

#[test]
fn conversion_from_integer_rounds() {
    // 2^24 + 1 is not a binary32 value: RNE rounds to 2^24, RUP to 2^24 + 2.
    assert_eq!(
        from_x(fcvt_from_int(S, 0, RNE), (1 << 24) + 1, 64),
        (s(16777216.0), NX)
    );
    assert_eq!(
        from_x(fcvt_from_int(S, 0, RUP), (1 << 24) + 1, 64),
        (s(16777218.0), NX)
    );
    // W reads the low 32 bits as signed, WU as unsigned.
    assert_eq!(
        from_x(fcvt_from_int(D, 0, RNE), 0xdead_beef_ffff_fffe, 64),
        (d(-2.0), 0)
    );
    assert_eq!(
        from_x(fcvt_from_int(D, 1, RNE), 0xdead_beef_ffff_fffe, 64),
        (d(4294967294.0), 0)
    );
    assert_eq!(
        from_x(fcvt_from_int(D, 2, RNE), i64::MIN as u64, 64),
        (d(-(2f64.powi(63))), 0)
    );
    assert_eq!(
        from_x(fcvt_from_int(D, 3, RNE), u64::MAX, 64),
        (d(1.8446744073709552e19), NX)
    );
    assert_eq!(
        from_x(fcvt_from_int(D, 3, RTZ), u64::MAX, 64),
        (0x43ef_ffff_ffff_ffff, NX)
    );
    assert_eq!(from_x(fcvt_from_int(S, 2, RNE), 0, 64), (s(0.0), 0));
    // The exact conversions of double from word still validate the rounding mode.
    assert_eq!(
        run_full(fcvt_from_int(D, 0, 5), [0; 3], 1, 0, 64).out,
        FpOutcome::Illegal
    );
}

#[test]
fn nan_boxing_of_single_operands_and_results() {
    // Unboxed operands are canonical NaNs; results are boxed.
    assert_eq!(f2(fadd(S, RNE), 0x0000_0000_3f80_0000, s(1.0)), (CNAN_S, 0));
    assert_eq!(f2(fadd(S, RNE), s(1.0), s(2.0)), (s(3.0), 0));
    assert_eq!(f1(fcvt_d_s(RNE), 0xffff_fffe_3f80_0000), (CNAN_D, 0));
    assert_eq!(f1(fcvt_d_s(RNE), s(1.5)), (d(1.5), 0));
    // Double operands are never unboxed.
    assert_eq!(f1(fcvt_s_d(RNE), d(1.5)), (s(1.5), 0));
    // fmv.x.w is a transfer: it moves the low 32 bits whatever the upper ones, sign-extended.
    assert_eq!(
        x1(fmv_x(S), 0x0000_0000_8000_0001),
        (0xffff_ffff_8000_0001, 0)
    );
    assert_eq!(x1(fmv_x(S), 0xffff_ffff_7f80_0001), (0x7f80_0001, 0));
    // fmv.w.x boxes the low 32 bits of rs1; fmv.d.x moves all 64.
    assert_eq!(
        from_x(fmv_f(S), 0x1234_5678_7f80_0001, 64),
        (b(0x7f80_0001), 0)
    );
    assert_eq!(from_x(fmv_f(D), 0x7ff0_0000_0000_0001, 64), (SNAN_D, 0));
    assert_eq!(x1(fmv_x(D), SNAN_D), (SNAN_D, 0));
}

#[test]
fn flags_accumulate_and_illegal_encodings_change_nothing() {
    let mut st = FpState {
        fflags: DZ,
        ..FpState::default()
    };
    st.f[2] = d(1.0);
    st.f[3] = d(3.0);
    assert_eq!(execute(&mut st, fdiv(D, RNE), 0, 64), FpOutcome::WroteF);
    assert_eq!(st.fflags, DZ | NX);

    let illegal = [
        fadd(D, 5),
        fadd(S, 6),
        fadd(2, RNE),              // fmt H
        fmul(3, RNE),              // fmt Q
        fmadd(2, RNE),             // fmt H
        fsqrt(D, RNE) | (1 << 20), // rs2 != 0
        fsgnj(S, 3),               // no such sign injection
        op(0b00101, D, 3, 2),      // fminm (Zfa), not implemented
        op(0b10100, D, 3, 3),      // no such comparison
        op(0b01000, S, 0, RNE),    // fcvt.s.s
        op(0b01000, D, 1, RNE),    // fcvt.d.d
        op(0b01000, S, 2, RNE),    // fcvt.s.h (Zfh)
        fcvt_to_int(D, 4, RNE),    // no such integer type
        fcvt_from_int(S, 5, RNE),  // no such integer type
        fclass(D) | (1 << 20),     // rs2 != 0
        op(0b11100, D, 0, 2),      // no such funct3
        fmv_f(S) | (1 << 12),      // funct3 != 0
        op(0b11111, D, 3, 0),      // unused funct5
        op(0b00110, S, 3, 0),      // unused funct5
        0x0000_0073,               // not an FP opcode at all
    ];
    for insn in illegal {
        let mut st = FpState {
            fflags: UF,
            ..FpState::default()
        };
        st.f[2] = SNAN_D;
        st.f[3] = SNAN_D;
        let before = st.clone();
        assert_eq!(
            execute(&mut st, insn, 0, 64),
            FpOutcome::Illegal,
            "{insn:#010x}"
        );
        assert_eq!(st, before, "{insn:#010x} changed state");
    }
    // DYN is illegal while frm holds a reserved value, fine otherwise.
    for frm in 5..=7 {
        let r = run_full(fadd(D, DYN), [d(1.0), d(1.0), 0], 0, frm, 64);
        assert_eq!(r.out, FpOutcome::Illegal, "frm {frm}");
        let r = run_full(fmadd(S, DYN), [s(1.0), s(1.0), s(1.0)], 0, frm, 64);
        assert_eq!(r.out, FpOutcome::Illegal, "frm {frm}");
    }
    // Instructions without a rounding mode ignore frm.
    let r = run_full(fmin(D), [d(1.0), d(2.0), 0], 0, 7, 64);
    assert_eq!(r.f(), (d(1.0), 0));
}

#[test]
fn rv32_has_no_64_bit_integer_forms() {
    for insn in [
        fcvt_to_int(S, 2, RNE),
        fcvt_to_int(D, 3, RNE),
        fcvt_from_int(S, 2, RNE),
        fcvt_from_int(D, 3, RNE),
        fmv_x(D),
        fmv_f(D),
    ] {
        let r = run_full(insn, [d(1.0); 3], 5, 0, 32);
        assert_eq!(r.out, FpOutcome::Illegal, "{insn:#010x}");
    }
    // The 32-bit forms work: results sign-extended to 64 bits, sources read from the low 32 bits.
    let r = run_full(fcvt_to_int(D, 0, RNE), [d(-3.0), 0, 0], 0, 0, 32);
    assert_eq!(r.x(), (-3i64 as u64, 0));
    let r = run_full(fcvt_to_int(D, 1, RNE), [d(4294967295.0), 0, 0], 0, 0, 32);
    assert_eq!(r.x(), (u64::MAX, 0));
    assert_eq!(
        from_x(fcvt_from_int(D, 0, RNE), 0xffff_ffff, 32),
        (d(-1.0), 0)
    );
    assert_eq!(
        from_x(fcvt_from_int(D, 1, RNE), 0xffff_ffff, 32),
        (d(4294967295.0), 0)
    );
    assert_eq!(from_x(fmv_f(S), 0x4040_0000, 32), (s(3.0), 0));
    let r = run_full(fmv_x(S), [s(-1.0), 0, 0], 0, 0, 32);
    assert_eq!(r.x(), (0xffff_ffff_bf80_0000, 0));
    // Arithmetic is independent of xlen.
    let r = run_full(fadd(D, RNE), [d(1.0), d(2.0), 0], 0, 0, 32);
    assert_eq!(r.f(), (d(3.0), 0));
}

#[test]
fn operands_are_read_before_rd_is_written() {
    // fadd.d f2, f2, f2 and fmadd.d f2, f2, f2, f2 (rd = rs1 = rs2 = rs3).
    let fadd_self = (2 << 20) | (2 << 15) | (1 << 25) | (2 << 7) | 0x53;
    let fmadd_self = (2 << 27) | (1 << 25) | (2 << 20) | (2 << 15) | (2 << 7) | 0x43;
    let mut st = FpState::default();
    st.f[2] = d(3.0);
    assert_eq!(execute(&mut st, fadd_self, 0, 64), FpOutcome::WroteF);
    assert_eq!(st.f[2], d(6.0));
    assert_eq!(execute(&mut st, fmadd_self, 0, 64), FpOutcome::WroteF);
    assert_eq!(st.f[2], d(42.0));
    // Only rd changed.
    assert!(st.f.iter().enumerate().all(|(i, &v)| i == 2 || v == 0));
}

/// Arbitrary instruction words and register contents never panic, and an
/// illegal instruction leaves the state untouched (guest input is untrusted).
#[test]
fn arbitrary_words_never_panic() {
    let mut x = 0x0123_4567_89ab_cdefu64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let opcodes = [0x43, 0x47, 0x4b, 0x4f, 0x53];
    let mut legal = 0;
    for i in 0..200_000u32 {
        let word = (next() as u32 & !0x7f) | opcodes[(i % 5) as usize];
        let mut st = FpState {
            frm: (next() & 7) as u8,
            fflags: (next() & 0x1f) as u8,
            ..FpState::default()
        };
        for r in st.f.iter_mut() {
            *r = match next() % 4 {
                0 => 0xffff_ffff_0000_0000 | (next() & 0xffff_ffff),
                _ => next(),
            };
        }
        let before = st.clone();
        let xlen = if i % 2 == 0 { 64 } else { 32 };
        match execute(&mut st, word, next(), xlen) {
            FpOutcome::Illegal => assert_eq!(st, before, "{word:#010x}"),
            FpOutcome::WroteX(_) => {
                legal += 1;
                assert_eq!(st.f, before.f, "{word:#010x} wrote an f register");
            }
            FpOutcome::WroteF => {
                legal += 1;
                let rd = ((word >> 7) & 31) as usize;
                for r in 0..32 {
                    if r != rd {
                        assert_eq!(st.f[r], before.f[r], "{word:#010x} wrote f{r}");
                    }
                }
            }
        }
        assert_eq!(st.fflags & before.fflags, before.fflags, "flags are sticky");
        assert_eq!(st.frm, before.frm);
    }
    assert!(legal > 10_000, "only {legal} legal words");
}
