/* Generates tests/qref/vectors.txt: binary128 test vectors for the Q extension
 * (tests/q_vectors.rs), computed with GCC's __float128 on x86-64.
 *
 * libgcc's soft-fp (add, sub, mul, div, conversions) and libquadmath honour
 * the SSE rounding mode set with fesetround and raise IEEE flags readable with
 * fetestexcept; x86 detects tininess after rounding, as RISC-V does. x86 has
 * no round-to-nearest-ties-to-max-magnitude mode, so the vectors hold the
 * results of RNE, RTZ, RDN and RUP only (RISC-V rm 0..3); the Rust test
 * derives what it can of RMM from them (and tests ties by hand).
 *
 * Where x86 and RISC-V differ, the generator writes what RISC-V requires:
 * - a NaN result is the canonical NaN 0x7fff8000...0 (x86 propagates payloads);
 * - fma with inf * 0 and a quiet NaN addend raises NV;
 * - conversions to integers saturate (NaN as +inf) with NV and no NX, and
 *   round with the current mode (rintq) rather than truncating;
 * - fmin/fmax are IEEE 754-2019 minimumNumber/maximumNumber (-0 < +0), NV for sNaN.
 * Square roots: libquadmath's sqrtq (GCC 12) is not correctly rounded (it
 * reports 0x40a4a8eeb26258014e08698c21549720, an exact square, as inexact and
 * rounds it up in RUP), so for positive finite nonzero operands the generator
 * writes "-" for the results and the Rust test checks them against exact
 * integer bounds instead; the special operands keep sqrtq's results, except
 * that sqrtq does not raise NV for a signaling NaN and the generator adds it.
 *
 * Build and run: tests/qref/regen.sh. Line format (hex, no 0x):
 *   OP A B C  R0 F0 R1 F1 R2 F2 R3 F3
 * A, B, C are operands (binary128 as 32 digits, binary32/64 as 8/16 digits,
 * integers as 32 digits two's complement; "-" when unused), Ri Fi the result
 * and fflags (RISC-V layout NV DZ OF UF NX) in rounding mode i. */
#include <fenv.h>
#include <quadmath.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef unsigned __int128 u128;
typedef __int128 i128;

static u128 bits(__float128 x) { u128 u; memcpy(&u, &x, 16); return u; }
static __float128 from(u128 u) { __float128 x; memcpy(&x, &u, 16); return x; }
static u128 Q(uint64_t hi, uint64_t lo) { return ((u128)hi << 64) | lo; }

static const u128 CANON = (u128)0x7fff800000000000ull << 64;
static const u128 SIGNQ = (u128)1 << 127;
static int is_nan_q(u128 a) { return (a & ~SIGNQ) > ((u128)0x7fff << 112); }
static int is_snan_q(u128 a) { return is_nan_q(a) && !((a >> 111) & 1); }
static int is_inf_q(u128 a) { return (a & ~SIGNQ) == ((u128)0x7fff << 112); }
static int is_zero_q(u128 a) { return (a & ~SIGNQ) == 0; }

static uint64_t state = 0x5eed1234abcdull;
static uint64_t rnd(void) {
    state += 0x9e3779b97f4a7c15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t below(uint64_t n) { return rnd() % n; }

static const int MODES[4] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};

static int flags(void) {
    int f = 0;
    if (fetestexcept(FE_INVALID)) f |= 0x10;
    if (fetestexcept(FE_DIVBYZERO)) f |= 0x08;
    if (fetestexcept(FE_OVERFLOW)) f |= 0x04;
    if (fetestexcept(FE_UNDERFLOW)) f |= 0x02;
    if (fetestexcept(FE_INEXACT)) f |= 0x01;
    return f;
}

static void hexq(u128 v) { printf(" %016llx%016llx", (unsigned long long)(v >> 64), (unsigned long long)v); }

/* Special binary128 values. */
static u128 special(void) {
    static const u128 *tab;
    u128 s[] = {
        0,                                     /* +0 */
        1,                                     /* min subnormal */
        ((u128)1 << 112) - 1,                  /* max subnormal */
        (u128)1 << 112,                        /* min normal */
        ((u128)0x7ffe << 112) | (((u128)1 << 112) - 1), /* max finite */
        (u128)0x7fff << 112,                   /* inf */
        CANON,                                 /* qNaN */
        ((u128)0x7fff << 112) | 1,             /* sNaN */
        ((u128)0x7fff << 112) | ((u128)1 << 111) | 0x1234, /* qNaN with payload */
        (u128)0x3fff << 112,                   /* 1 */
        ((u128)0x3fff << 112) | 1,             /* 1 + ulp */
        ((u128)0x3ffe << 112) | (((u128)1 << 112) - 1), /* 1 - ulp/2 */
        (u128)0x4000 << 112,                   /* 2 */
        (u128)0x3ffe << 112,                   /* 0.5 */
        ((u128)0x3f8e << 112),                 /* 2^-113 */
        ((u128)0x7ffe << 112),                 /* 2^16383 */
        ((u128)0x0001 << 112) | 1,             /* min normal + ulp */
        (u128)1 << 111,                        /* 2^-16383 (subnormal) */
    };
    (void)tab;
    u128 v = s[below(sizeof s / sizeof s[0])];
    if (below(2)) v |= SIGNQ;
    return v;
}

/* A random fraction with structure: random, few bits, runs of ones or zeros. */
static u128 frac(void) {
    u128 m = Q(rnd(), rnd()) & (((u128)1 << 112) - 1);
    switch (below(5)) {
    case 0: return m;
    case 1: return m & (((u128)1 << 112) - ((u128)1 << (112 - below(20)))); /* few low bits */
    case 2: return (((u128)1 << 112) - 1) >> below(112);                     /* ones below */
    case 3: return (((u128)1 << 112) - 1) & ~(((u128)1 << below(112)) - 1);   /* ones above */
    default: return m | 1;
    }
}

/* A random binary128 value; exponent class chosen at random. */
static u128 randq(void) {
    if (below(8) == 0) return special();
    uint64_t e;
    switch (below(6)) {
    case 0: e = below(0x7fff); break;                 /* anywhere, incl. subnormal */
    case 1: e = 0x3fff - 8 + below(16); break;         /* near 1 */
    case 2: e = below(4); break;                       /* subnormal or tiny normal */
    case 3: e = 0x7ffe - below(3); break;              /* huge */
    case 4: e = 0x3fff - 130 + below(260); break;
    default: e = 0x3fff - 4000 + below(8000); break;
    }
    u128 v = ((u128)e << 112) | frac();
    if (below(2)) v |= SIGNQ;
    return v;
}

/* An odd integer of exactly n bits (n >= 1), for products that land on ties. */
static u128 odd_bits(int n) {
    u128 m = Q(rnd(), rnd());
    if (n < 128) m &= ((u128)1 << n) - 1;
    m |= (u128)1 << (n - 1);
    return m | 1;
}

/* The binary128 value m * 2^k for m < 2^113 (normalised, exponent in range). */
static u128 make(u128 m, int k) {
    int msb = 127;
    while (!((m >> msb) & 1)) msb--;
    u128 sig = m << (112 - msb);
    long e = 0x3fff + k + msb;
    return ((u128)e << 112) | (sig & (((u128)1 << 112) - 1));
}

static u128 canon(u128 r) { return is_nan_q(r) ? CANON : r; }

enum { ADD, SUB, MUL, DIV, SQRT, FMA };
static const char *NAMES[] = {"add", "sub", "mul", "div", "sqrt", "fma"};

static u128 arith(int op, u128 a, u128 b, u128 c) {
    __float128 x = from(a), y = from(b), z = from(c), r;
    switch (op) {
    case ADD: r = x + y; break;
    case SUB: r = x - y; break;
    case MUL: r = x * y; break;
    case DIV: r = x / y; break;
    case SQRT: r = sqrtq(x); break;
    default: r = fmaq(x, y, z); break;
    }
    __asm__ volatile("" ::: "memory");
    return bits(r);
}

static void emit_arith(int op, u128 a, u128 b, u128 c) {
    printf("%s", NAMES[op]);
    hexq(a);
    if (op == SQRT) printf(" -"); else hexq(b);
    if (op == FMA) hexq(c); else printf(" -");
    if (op == SQRT && !(a >> 127) && !is_nan_q(a) && !is_inf_q(a) && !is_zero_q(a)) {
        printf(" - - - - - - - -\n");
        return;
    }
    for (int m = 0; m < 4; m++) {
        fesetround(MODES[m]);
        feclearexcept(FE_ALL_EXCEPT);
        u128 r = canon(arith(op, a, b, c));
        int f = flags();
        if (op == FMA && ((is_inf_q(a) && is_zero_q(b)) || (is_zero_q(a) && is_inf_q(b))))
            f |= 0x10;
        if (op == SQRT && is_nan_q(a)) f = is_snan_q(a) ? 0x10 : 0; /* sqrtq returns sNaN quietly */
        if (is_nan_q(r)) f &= 0x10; /* a NaN result raises only NV */
        hexq(r);
        printf(" %02x", f);
    }
    fesetround(FE_TONEAREST);
    printf("\n");
}

/* Operands for op: mostly random, with corner patterns per op. */
static void gen_arith(int op, int n) {
    for (int i = 0; i < n; i++) {
        u128 a = randq(), b = randq(), c = randq();
        int kind = below(6);
        if (kind == 0 && (op == ADD || op == SUB)) {
            /* a tie or near-tie: b just below half an ulp of a */
            int ea = (int)((a >> 112) & 0x7fff);
            if (ea > 200 && ea < 0x7ff0) {
                long eb = ea - 113 - (long)below(3);
                b = ((u128)eb << 112) | (below(2) ? 0 : frac());
                if (below(2)) b |= SIGNQ;
            }
        } else if (kind == 0 && (op == MUL || op == FMA)) {
            /* odd significands of 114 or 115 bits in total: ties */
            int na = 2 + below(111);
            a = make(odd_bits(na), (int)below(40) - 20 - na);
            b = make(odd_bits(115 - na), (int)below(40) - 20 - (115 - na));
            if (below(2)) a |= SIGNQ;
            if (below(2)) b |= SIGNQ;
            if (op == FMA) c = below(2) ? 0 : make(odd_bits(1 + below(50)), (int)below(80) - 60);
        } else if (kind == 1 && (op == MUL || op == DIV || op == FMA)) {
            /* results near the underflow and overflow thresholds */
            long ea = (long)below(0x7ffe) + 1;
            long eb;
            long target = below(2) ? 1 - (long)below(115) : 0x7ffe - (long)below(3);
            if (op == DIV) eb = ea - target + 0x3fff; else eb = target - ea + 0x3fff;
            if (eb >= 1 && eb <= 0x7ffe) {
                a = ((u128)ea << 112) | frac();
                b = ((u128)eb << 112) | frac();
                if (below(2)) a |= SIGNQ;
            }
        } else if (kind == 1 && op == SQRT) {
            /* exact squares and neighbours */
            u128 m = odd_bits(1 + below(56));
            a = make(m * m, 2 * ((int)below(200) - 100)) + (u128)(int)(below(3) - 1);
        } else if (kind == 3 && (op == MUL || op == DIV || op == FMA)) {
            /* results just below 2^emin, where tininess before and after
             * rounding differ: (1 + k ulp) * (2^emin - j subnormal ulps), and
             * (2^emin - j ulps) / (1 - k ulps/2) */
            u128 k = below(4), j = 1 + below(3);
            a = op == DIV ? ((u128)1 << 112) - j : ((u128)0x3fff << 112) | k;
            b = op == DIV ? ((u128)0x3ffe << 112) | ((((u128)1 << 112) - 1) - k) : ((u128)1 << 112) - j;
            if (below(2)) { a |= SIGNQ; }
            if (below(4) == 0) { u128 t = a; a = b; b = t; }
            if (op == FMA) c = below(2) ? 0 : (below(2) ? 1 : (u128)1 | SIGNQ);
        } else if (kind == 4 && (op == ADD || op == SUB || op == FMA)) {
            /* exact zero results, whose sign depends on the rounding mode */
            if (op == FMA) {
                a = make(odd_bits(1 + below(50)), (int)below(100) - 50);
                b = make(odd_bits(1 + below(50)), (int)below(100) - 50);
                c = bits(from(a) * from(b)) ^ SIGNQ;
                if (below(2)) a |= SIGNQ, c ^= SIGNQ;
            } else {
                b = op == ADD ? a ^ SIGNQ : a;
            }
        } else if (kind == 2 && op == FMA) {
            /* cancellation: c close to -a*b */
            __float128 p = from(a) * from(b);
            c = bits(-p) ^ (below(2) ? 0 : (u128)below(8));
        }
        emit_arith(op, a, b, c);
    }
}

/* Conversions binary128 -> binary32/64. */
static void gen_to_narrow(int n) {
    for (int i = 0; i < n; i++) {
        u128 a = randq();
        int dbl = i & 1;
        if (below(3) == 0) {
            /* exponents around the target's range edges */
            long e = dbl ? 0x3fff + (long)below(2100) - 1090 : 0x3fff + (long)below(320) - 165;
            a = ((u128)e << 112) | frac();
            if (below(2)) a |= SIGNQ;
        }
        printf("%s", dbl ? "cvt.d.q" : "cvt.s.q");
        hexq(a);
        printf(" - -");
        for (int m = 0; m < 4; m++) {
            fesetround(MODES[m]);
            feclearexcept(FE_ALL_EXCEPT);
            __float128 x = from(a);
            if (dbl) {
                volatile double d = (double)x;
                uint64_t u; double dd = d; memcpy(&u, &dd, 8);
                int f = flags();
                if (d != d) { u = 0x7ff8000000000000ull; f &= 0x10; }
                printf(" %016llx %02x", (unsigned long long)u, f);
            } else {
                volatile float s = (float)x;
                uint32_t u; float ss = s; memcpy(&u, &ss, 4);
                int f = flags();
                if (s != s) { u = 0x7fc00000u; f &= 0x10; }
                printf(" %08x %02x", u, f);
            }
        }
        fesetround(FE_TONEAREST);
        printf("\n");
    }
}

/* Conversions binary32/64 -> binary128 (exact). */
static void gen_from_narrow(int n) {
    for (int i = 0; i < n; i++) {
        int dbl = i & 1;
        uint64_t u = rnd();
        if (below(4) == 0) {
            uint64_t sp[] = {0, 1, 0x7ff0000000000000ull, 0x7ff0000000000001ull, 0x7ff8000000000000ull,
                             0x000fffffffffffffull, 0x0010000000000000ull, 0x7fefffffffffffffull};
            uint32_t ss[] = {0, 1, 0x7f800000, 0x7f800001, 0x7fc00000, 0x007fffff, 0x00800000, 0x7f7fffff};
            u = dbl ? sp[below(8)] : ss[below(8)];
            if (below(2)) u |= dbl ? 0x8000000000000000ull : 0x80000000u;
        }
        if (!dbl) u &= 0xffffffffu;
        printf("%s", dbl ? "cvt.q.d" : "cvt.q.s");
        printf(dbl ? " %016llx - -" : " %08llx - -", (unsigned long long)u);
        for (int m = 0; m < 4; m++) {
            fesetround(MODES[m]);
            feclearexcept(FE_ALL_EXCEPT);
            __float128 x;
            if (dbl) { double d; memcpy(&d, &u, 8); x = (__float128)d; }
            else { uint32_t w = (uint32_t)u; float s; memcpy(&s, &w, 4); x = (__float128)s; }
            int f = flags();
            u128 r = canon(bits(x));
            if (is_nan_q(r)) f &= 0x10;
            hexq(r);
            printf(" %02x", f);
        }
        fesetround(FE_TONEAREST);
        printf("\n");
    }
}

/* binary128 -> integer of `bitsn` bits, RISC-V semantics with rintq for rounding. */
static void gen_to_int(const char *name, int bitsn, int sgn, int n) {
    for (int i = 0; i < n; i++) {
        u128 a = randq();
        if (below(5) == 0) {
            /* the range limits: +-2^(bits-1), +-2^bits, and their neighbours */
            long e = 0x3fff + bitsn - (long)below(2);
            a = ((u128)e << 112) + (u128)(int)(below(3) - 1);
            if (below(2)) a |= SIGNQ;
        } else if (below(3) != 0) {
            /* magnitudes around the integer range: 2^-2 .. 2^(bits + 2) */
            long e = 0x3fff + (long)below(bitsn + 5) - 2;
            a = ((u128)e << 112) | (below(3) ? frac() : ((u128)below(4) << 110));
            if (below(2)) a |= SIGNQ;
        }
        printf("%s", name);
        hexq(a);
        printf(" - -");
        for (int m = 0; m < 4; m++) {
            fesetround(MODES[m]);
            feclearexcept(FE_ALL_EXCEPT);
            __float128 x = from(a);
            u128 r;
            int f = 0;
            /* limits, sign-extended to 128 bits */
            i128 maxv, minv;
            if (sgn) {
                maxv = (i128)(((u128)1 << (bitsn - 1)) - 1);
                minv = -maxv - 1;
            } else {
                maxv = bitsn == 128 ? (i128)~(u128)0 : (i128)(((u128)1 << bitsn) - 1);
                minv = 0;
                if (bitsn < 128) maxv = (i128)(((u128)maxv) << (128 - bitsn)) >> (128 - bitsn);
            }
            if (x != x) { r = (u128)maxv; f = 0x10; }
            else {
                __float128 t = rintq(x);
                feclearexcept(FE_ALL_EXCEPT);
                int inexact = t != x;
                __float128 lim = sgn ? ldexpq(1, bitsn - 1) : ldexpq(1, bitsn);
                int too_big = t >= lim;
                int too_small = sgn ? t < -lim : t < 0;
                if (sgn && t == -lim) too_small = 0;
                if (too_big) { r = (u128)maxv; f = 0x10; }
                else if (too_small) { r = (u128)minv; f = 0x10; }
                else {
                    int neg = t < 0;
                    __float128 mag = neg ? -t : t;
                    u128 mm = (u128)mag; /* exact: an integer below 2^128 */
                    r = neg ? -mm : mm;
                    if (bitsn < 128) r = (u128)((i128)(r << (128 - bitsn)) >> (128 - bitsn));
                    f = inexact ? 0x01 : 0;
                }
            }
            hexq(r);
            printf(" %02x", f);
        }
        fesetround(FE_TONEAREST);
        printf("\n");
    }
}

/* integer -> binary128 (exact below 2^113, rounded above). */
static void gen_from_int(const char *name, int bitsn, int sgn, int n) {
    for (int i = 0; i < n; i++) {
        u128 v = Q(rnd(), rnd());
        int len = 1 + below(bitsn);
        if (len < 128) v &= ((u128)1 << len) - 1;
        if (below(5) == 0) v = below(2) ? 0 : ~(u128)0 << below(bitsn);
        if (bitsn == 128 && below(2)) v = odd_bits(114 + below(14)) << below(2); /* rounding cases */
        if (bitsn < 128) v &= ((u128)1 << bitsn) - 1;
        printf("%s", name);
        hexq(v);
        printf(" - -");
        for (int m = 0; m < 4; m++) {
            fesetround(MODES[m]);
            feclearexcept(FE_ALL_EXCEPT);
            __float128 x;
            if (sgn) {
                i128 s = bitsn == 128 ? (i128)v : (i128)(v << (128 - bitsn)) >> (128 - bitsn);
                x = (__float128)s;
            } else {
                x = (__float128)v;
            }
            int f = flags();
            hexq(bits(x));
            printf(" %02x", f);
        }
        fesetround(FE_TONEAREST);
        printf("\n");
    }
}

/* Comparisons and min/max: no rounding, so the four modes agree. */
static void gen_compare(int n) {
    for (int i = 0; i < n; i++) {
        u128 a = randq(), b = below(4) == 0 ? a : randq();
        if (below(6) == 0) b = a ^ SIGNQ;
        if (below(6) == 0) b = a + 1;
        __float128 x = from(a), y = from(b);
        const char *ops[] = {"feq", "flt", "fle", "fmin", "fmax"};
        for (int k = 0; k < 5; k++) {
            printf("%s", ops[k]);
            hexq(a); hexq(b);
            printf(" -");
            for (int m = 0; m < 4; m++) {
                feclearexcept(FE_ALL_EXCEPT);
                u128 r;
                int f;
                if (k == 0) { r = x == y; f = flags(); }
                else if (k == 1) { r = __builtin_isless(x, y); f = flags(); if (x != x || y != y) f |= 0x10; }
                else if (k == 2) { r = __builtin_islessequal(x, y); f = flags(); if (x != x || y != y) f |= 0x10; }
                else {
                    /* minimumNumber / maximumNumber, -0 < +0 */
                    f = (is_snan_q(a) || is_snan_q(b)) ? 0x10 : 0;
                    if (is_nan_q(a) && is_nan_q(b)) r = CANON;
                    else if (is_nan_q(a)) r = b;
                    else if (is_nan_q(b)) r = a;
                    else {
                        int lt = x < y || (x == y && (a >> 127) > (b >> 127));
                        r = (k == 3) == lt ? a : b;
                    }
                }
                hexq(r);
                printf(" %02x", f);
            }
            printf("\n");
        }
    }
}

int main(void) {
    printf("# binary128 vectors from tests/qref/gen.c (GCC __float128, x86-64); see its header\n");
    gen_arith(ADD, 1200);
    gen_arith(SUB, 600);
    gen_arith(MUL, 1200);
    gen_arith(DIV, 1200);
    gen_arith(SQRT, 800);
    gen_arith(FMA, 1500);
    gen_to_narrow(600);
    gen_from_narrow(200);
    gen_to_int("cvt.w.q", 32, 1, 250);
    gen_to_int("cvt.wu.q", 32, 0, 250);
    gen_to_int("cvt.l.q", 64, 1, 250);
    gen_to_int("cvt.lu.q", 64, 0, 250);
    gen_to_int("cvt.t.q", 128, 1, 250);
    gen_to_int("cvt.tu.q", 128, 0, 250);
    gen_from_int("cvt.q.w", 32, 1, 100);
    gen_from_int("cvt.q.wu", 32, 0, 100);
    gen_from_int("cvt.q.l", 64, 1, 100);
    gen_from_int("cvt.q.lu", 64, 0, 100);
    gen_from_int("cvt.q.t", 128, 1, 250);
    gen_from_int("cvt.q.tu", 128, 0, 250);
    gen_compare(300);
    return 0;
}
