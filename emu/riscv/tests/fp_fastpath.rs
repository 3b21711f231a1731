//! The host-FPU fast path (`fp::fast`) must agree bit for bit, flags included,
//! with the exact integer implementation (`fp::soft`) wherever it accepts the
//! operands. Operands concentrate on the fast path's range boundaries, on
//! values with short significands (so exact results are common) and on
//! near-cancelling sums. `VF_FP_FAST_CASES` sets the number of operand pairs.

use vf_riscv::fp::fast;
use vf_riscv::fp::soft::{self, FmaOp, Format, Rm, F32, F64};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A value of format (mant, bias) with an exponent near `centre` (unbiased).
fn value(rng: &mut Rng, mant: u32, exp_bits: u32, centre: i64, spread: u64) -> u64 {
    let bias = (1i64 << (exp_bits - 1)) - 1;
    let e = (centre + bias + rng.below(2 * spread + 1) as i64 - spread as i64)
        .clamp(0, (1 << exp_bits) - 1) as u64;
    let mask = (1u64 << mant) - 1;
    let frac = match rng.below(5) {
        // Few significant bits: products, quotients and roots are often exact.
        0 => (rng.next() & mask) & !(mask >> rng.below(8)),
        1 => mask - rng.below(3),
        2 => rng.below(3),
        _ => rng.next() & mask,
    };
    ((rng.next() & 1) << (mant + exp_bits)) | (e << mant) | frac
}

fn operand(rng: &mut Rng, f: Format, wide: i64, edge: i64) -> u64 {
    let (mant, eb) = (f.mant, f.exp_bits);
    match rng.below(4) {
        0 => value(rng, mant, eb, edge, 3),
        1 => value(rng, mant, eb, -edge, 3),
        2 => value(rng, mant, eb, 0, 4),
        _ => value(rng, mant, eb, 0, wide as u64),
    }
}

/// Operands whose fused sum lies within a few binary64 (or binary32) ulps of
/// a midpoint between two neighbours of c: c + u * m * (1 + k * 2^-p) with u
/// the ulp of c, m a small half-integer and k small, so both the rounding of
/// the sum and the tie-breaking logic of the fast path are exercised.
fn near_midpoint(rng: &mut Rng, f: Format) -> (u64, u64, u64) {
    let bias = (1i64 << (f.exp_bits - 1)) - 1;
    let sign = 1u64 << (f.mant + f.exp_bits);
    let spread = if f == F64 { 300 } else { 30 };
    let ec = bias + rng.below(2 * spread + 1) as i64 - spread as i64; // biased exponent of c
    let c = (rng.next() & sign) | ((ec as u64) << f.mant) | (rng.next() & ((1 << f.mant) - 1));
    // a = u * m: exponent of u is ec - mant; m in {0.5, 0.75, 1, 1.5, 2.5, 3}.
    let (m_exp, m_frac): (i64, u64) = match rng.below(6) {
        0 => (-1, 0),
        1 => (-1, 1 << (f.mant - 1)),
        2 => (0, 0),
        3 => (0, 1 << (f.mant - 1)),
        4 => (1, 1 << (f.mant - 2)),
        _ => (1, 1 << (f.mant - 1)),
    };
    if rng.below(2) == 0 {
        // a * b = u * m * (1 - 2^-2k) exactly: the product rounds to u * m (a
        // midpoint offset from c) with a tiny error far below it, so c + a * b sits
        // just beside a midpoint, the case where the error terms decide the rounding.
        let m = [0.5, 0.75, 1.5, 2.5, 3.0][rng.below(5) as usize];
        let (sa, sb) = (rng.next() & sign, rng.next() & sign);
        let (a, b) = if f == F64 {
            let k = 27 + rng.below(14) as i32;
            let u = 2f64.powi((ec - bias - 52) as i32);
            let a = m * (1.0 + 2f64.powi(-k)) * u;
            (a.to_bits(), (1.0 - 2f64.powi(-k)).to_bits())
        } else {
            let k = 13 + rng.below(9) as i32;
            let u = 2f32.powi((ec - bias - 23) as i32);
            let a = m as f32 * (1.0 + 2f32.powi(-k)) * u;
            (
                u64::from(a.to_bits()),
                u64::from((1.0 - 2f32.powi(-k)).to_bits()),
            )
        };
        return (a | sa, b | sb, c);
    }
    let ea = ec - f.mant as i64 + m_exp;
    let a = (rng.next() & sign) | ((ea as u64) << f.mant) | m_frac;
    // b = 1 +- k * 2^-mant or 1 - k * 2^-(mant + 1), k in 0..8.
    let k = rng.below(8);
    let b = match rng.below(3) {
        0 => ((bias as u64) << f.mant) | k,
        1 => ((bias as u64 - 1) << f.mant) | (((1 << f.mant) - 1) - k),
        _ => ((bias as u64) << f.mant) | (k << 1),
    } | (rng.next() & sign);
    (a, b, c)
}

type Fast = fn(u64, u64) -> Option<(u64, u8)>;
type Soft = fn(Format, u64, u64, Rm, &mut u8) -> u64;

fn check(f: Format, fast: Fast, soft: Soft, name: &str, a: u64, b: u64, hits: &mut u64) {
    if let Some((r, flags)) = fast(a, b) {
        *hits += 1;
        let mut fl = 0;
        let want = soft(f, a, b, Rm::Rne, &mut fl);
        assert_eq!(
            (r, flags),
            (want, fl),
            "{name}({a:#x}, {b:#x}): fast path differs from the exact result"
        );
    }
}

fn cases() -> u64 {
    std::env::var("VF_FP_FAST_CASES")
        .ok()
        .map(|v| v.parse().expect("VF_FP_FAST_CASES must be a number"))
        .unwrap_or(1_000_000)
}

fn run(f: Format, wide: i64, edge: i64, seed: u64) {
    let (add, mul, div): (Fast, Fast, Fast) = if f == F64 {
        (fast::add64, fast::mul64, fast::div64)
    } else {
        (fast::add32, fast::mul32, fast::div32)
    };
    let sqrt: fn(u64) -> Option<(u64, u8)> = if f == F64 { fast::sqrt64 } else { fast::sqrt32 };
    let fma: fn(u64, u64, u64) -> Option<(u64, u8)> =
        if f == F64 { fast::fma64 } else { fast::fma32 };
    let sign = 1u64 << (f.mant + f.exp_bits);
    let mut rng = Rng(seed);
    let n = cases();
    let mut hits = [0u64; 5];
    for i in 0..n {
        let a = operand(&mut rng, f, wide, edge);
        let mut b = operand(&mut rng, f, wide, edge);
        if i % 4 == 0 {
            // Near-cancellation: b = -(a + small).
            b = (a.wrapping_add(rng.below(5)).wrapping_sub(2) & (sign | (sign - 1))) ^ sign;
        }
        check(f, add, soft::add, "add", a, b, &mut hits[0]);
        check(f, mul, soft::mul, "mul", a, b, &mut hits[1]);
        check(f, div, soft::div, "div", a, b, &mut hits[2]);
        if i % 8 == 1 {
            // A product of two short values divided back: exact quotients.
            let mut fl = 0;
            let p = soft::mul(f, a, b, Rm::Rne, &mut fl);
            check(f, div, soft::div, "div", p, b, &mut hits[2]);
            let sq = soft::mul(f, a & !sign, a & !sign, Rm::Rne, &mut fl);
            if let Some((r, flags)) = sqrt(sq) {
                hits[3] += 1;
                let mut fl = 0;
                assert_eq!(
                    (r, flags),
                    (soft::sqrt(f, sq, Rm::Rne, &mut fl), fl),
                    "sqrt({sq:#x})"
                );
            }
        }
        // Fused multiply-add, with an addend that often nearly cancels the product.
        let (a, b, c) = match i % 4 {
            0 => {
                let mut fl = 0;
                let p = soft::mul(f, a, b, Rm::Rne, &mut fl);
                let c = (p.wrapping_add(rng.below(7)).wrapping_sub(3) & (sign | (sign - 1))) ^ sign;
                (a, b, c)
            }
            1 => {
                // The addend within a factor 2^40 of the product, either sign.
                let mut fl = 0;
                let p = soft::mul(f, a, b, Rm::Rne, &mut fl);
                let shift = rng.below(81) as i64 - 40;
                let e = ((p >> f.mant) & ((1 << f.exp_bits) - 1)) as i64 + shift;
                let e = e.clamp(1, (1 << f.exp_bits) - 2) as u64;
                let c = (rng.next() & sign) | (e << f.mant) | (rng.next() & ((1 << f.mant) - 1));
                (a, b, c)
            }
            2 => near_midpoint(&mut rng, f),
            _ => (a, b, operand(&mut rng, f, wide, edge)),
        };
        if let Some((r, flags)) = fma(a, b, c) {
            hits[4] += 1;
            let mut fl = 0;
            let want = soft::fma(f, a, b, c, FmaOp::Madd, Rm::Rne, &mut fl);
            assert_eq!((r, flags), (want, fl), "fma({a:#x}, {b:#x}, {c:#x})");
        }
        if let Some((r, flags)) = sqrt(a) {
            hits[3] += 1;
            let mut fl = 0;
            assert_eq!(
                (r, flags),
                (soft::sqrt(f, a, Rm::Rne, &mut fl), fl),
                "sqrt({a:#x})"
            );
        }
    }
    // The fast path must actually have been exercised on a large share of the cases.
    for (h, name) in hits.iter().zip(["add", "mul", "div", "sqrt", "fma"]) {
        assert!(
            *h > n / 20,
            "{name}: only {h} of {n} cases took the fast path"
        );
    }
}

#[test]
fn binary64_fast_path_is_exact() {
    run(F64, 1100, 400, 1);
}

#[test]
fn binary32_fast_path_is_exact() {
    run(F32, 140, 60, 2);
}
