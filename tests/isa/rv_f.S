/* F extension: every single-precision instruction, the accrued flags,
 * rounding modes, NaN handling (canonical NaN, signaling inputs), signed
 * zeros, subnormals, overflow, conversions at their limits, NaN boxing
 * (RV64) and the illegal cases (FS off, reserved rounding modes). */
#include "test.h"

#define NV 0x10
#define DZ 0x08
#define OF 0x04
#define UF 0x02
#define NX 0x01

#define ONE   0x3f800000
#define TWO   0x40000000
#define THREE 0x40400000
#define MONE  0xbf800000
#define PINF  0x7f800000
#define NINF  0xff800000
#define QNAN  0x7fc00000       /* the canonical NaN */
#define SNAN  0x7f800001
#define PZERO 0x00000000
#define NZERO 0x80000000
#define FMAX  0x7f7fffff
#define MINSUB 0x00000001

/* op fd, a, b with rounding mode rm -> expected bits and flags */
.macro T2 n, op, a, b, res, flags, rm=dyn
  FLI_S f1, \a
  FLI_S f2, \b
  csrwi fflags, 0
  \op f3, f1, f2, \rm
  TEST_FFLAGS \n, \flags
  TEST_FS \n, f3, \res
.endm
/* ops without a rounding mode (min/max/sign injection) */
.macro T2N n, op, a, b, res, flags
  FLI_S f1, \a
  FLI_S f2, \b
  csrwi fflags, 0
  \op f3, f1, f2
  TEST_FFLAGS \n, \flags
  TEST_FS \n, f3, \res
.endm
.macro T3 n, op, a, b, c, res, flags
  FLI_S f1, \a
  FLI_S f2, \b
  FLI_S f4, \c
  csrwi fflags, 0
  \op f3, f1, f2, f4
  TEST_FFLAGS \n, \flags
  TEST_FS \n, f3, \res
.endm
/* comparisons and classification: integer result */
.macro TC n, op, a, b, res, flags
  FLI_S f1, \a
  FLI_S f2, \b
  csrwi fflags, 0
  \op a0, f1, f2
  TEST_FFLAGS \n, \flags
  TEST_EQ \n, a0, \res
.endm
/* float -> integer */
.macro TFI n, op, a, rm, res, flags
  FLI_S f1, \a
  csrwi fflags, 0
  \op a0, f1, \rm
  TEST_FFLAGS \n, \flags
  TEST_EQ \n, a0, \res
.endm
/* integer -> float */
.macro TIF n, op, a, rm, res, flags
  li a1, \a
  csrwi fflags, 0
  \op f3, a1, \rm
  TEST_FFLAGS \n, \flags
  TEST_FS \n, f3, \res
.endm

TEST_MAIN
  /* ---- arithmetic */
  T2 1, fadd.s, ONE, TWO, THREE, 0
  T2 2, fsub.s, ONE, TWO, MONE, 0
  T2 3, fmul.s, TWO, THREE, 0x40c00000, 0
  T2 4, fdiv.s, ONE, THREE, 0x3eaaaaab, NX
  T2 5, fdiv.s, ONE, THREE, 0x3eaaaaaa, NX, rtz
  T2 6, fdiv.s, ONE, THREE, 0x3eaaaaab, NX, rup
  T2 7, fdiv.s, MONE, THREE, 0xbeaaaaab, NX, rdn
  T2 8, fdiv.s, MONE, THREE, 0xbeaaaaaa, NX, rup
  /* 1 + 2^-24 is a tie: RNE keeps the even 1.0, RMM rounds away */
  T2 9, fadd.s, ONE, 0x33800000, ONE, NX, rne
  T2 10, fadd.s, ONE, 0x33800000, 0x3f800001, NX, rmm
  T2 11, fadd.s, ONE, 0x33800000, 0x3f800001, NX, rup
  T2 12, fadd.s, ONE, 0x33800000, ONE, NX, rdn
  /* division by zero, invalid operations, NaN propagation */
  T2 13, fdiv.s, ONE, PZERO, PINF, DZ
  T2 14, fdiv.s, MONE, PZERO, NINF, DZ
  T2 15, fdiv.s, PZERO, PZERO, QNAN, NV
  T2 16, fsub.s, PINF, PINF, QNAN, NV
  T2 17, fmul.s, PINF, PZERO, QNAN, NV
  T2 18, fadd.s, SNAN, ONE, QNAN, NV
  T2 19, fadd.s, 0x7fc12345, ONE, QNAN, 0      /* quiet NaN in: canonical out, no flag */
  T2 20, fmul.s, 0xffc00001, TWO, QNAN, 0
  /* signed zeros */
  T2 21, fadd.s, PZERO, NZERO, PZERO, 0
  T2 22, fadd.s, PZERO, NZERO, NZERO, 0, rdn
  T2 23, fsub.s, ONE, ONE, PZERO, 0
  T2 24, fsub.s, ONE, ONE, NZERO, 0, rdn
  T2 25, fmul.s, NZERO, ONE, NZERO, 0
  /* overflow and underflow */
  T2 26, fmul.s, FMAX, TWO, PINF, OF|NX
  T2 27, fmul.s, FMAX, TWO, FMAX, OF|NX, rtz
  T2 28, fmul.s, 0xff7fffff, TWO, 0xff7fffff, OF|NX, rup
  T2 29, fmul.s, MINSUB, 0x3f000000, PZERO, UF|NX       /* 2^-150 -> 0 (tie to even) */
  T2 30, fmul.s, MINSUB, 0x3f000000, MINSUB, UF|NX, rup
  T2 31, fmul.s, 0x00800000, 0x3f000000, 0x00400000, 0  /* exact subnormal: no UF */
  T2 32, fadd.s, MINSUB, MINSUB, 0x00000002, 0
  T2 33, fsub.s, 0x00800000, MINSUB, 0x007fffff, 0
  /* square root */
  FLI_S f1, 0x40800000
  fsqrt.s f3, f1
  TEST_FS 34, f3, TWO
  FLI_S f1, MONE
  csrwi fflags, 0
  fsqrt.s f3, f1
  TEST_FFLAGS 35, NV
  TEST_FS 35, f3, QNAN
  FLI_S f1, NZERO
  fsqrt.s f3, f1
  TEST_FS 36, f3, NZERO
  FLI_S f1, TWO
  csrwi fflags, 0
  fsqrt.s f3, f1, rtz
  TEST_FFLAGS 37, NX
  TEST_FS 37, f3, 0x3fb504f3
  FLI_S f1, PINF
  fsqrt.s f3, f1
  TEST_FS 38, f3, PINF

  /* ---- fused multiply-add: one rounding */
  T3 40, fmsub.s, 0x3f800800, 0x3f800800, ONE, 0x3a000400, 0
  T3 41, fmadd.s, TWO, THREE, ONE, 0x40e00000, 0
  T3 42, fnmadd.s, TWO, THREE, ONE, 0xc0e00000, 0
  T3 43, fnmsub.s, TWO, THREE, ONE, 0xc0a00000, 0    /* -(2*3)+1 = -5 */
  T3 44, fmsub.s, TWO, THREE, ONE, 0x40a00000, 0
  T3 45, fmadd.s, PINF, PZERO, ONE, QNAN, NV
  T3 46, fmadd.s, PINF, PZERO, QNAN, QNAN, NV        /* inf*0 is invalid even with a NaN addend */
  T3 47, fmadd.s, ONE, ONE, SNAN, QNAN, NV
  T3 48, fmadd.s, PINF, ONE, NINF, QNAN, NV

  /* ---- min/max (IEEE 754-2019 minimumNumber/maximumNumber) */
  T2N 50, fmin.s, ONE, TWO, ONE, 0
  T2N 51, fmax.s, ONE, TWO, TWO, 0
  T2N 52, fmin.s, PZERO, NZERO, NZERO, 0
  T2N 53, fmax.s, NZERO, PZERO, PZERO, 0
  T2N 54, fmin.s, QNAN, ONE, ONE, 0
  T2N 55, fmax.s, ONE, 0x7fc00042, ONE, 0
  T2N 56, fmin.s, SNAN, ONE, ONE, NV
  T2N 57, fmax.s, QNAN, QNAN, QNAN, 0
  T2N 58, fmin.s, SNAN, 0xffc00000, QNAN, NV
  /* sign injection: never raises, copies payloads */
  T2N 60, fsgnj.s, ONE, MONE, MONE, 0
  T2N 61, fsgnjn.s, ONE, MONE, ONE, 0
  T2N 62, fsgnjx.s, MONE, MONE, ONE, 0
  T2N 63, fsgnj.s, SNAN, NZERO, 0xff800001, 0
  T2N 64, fsgnjx.s, 0x7fc12345, NZERO, 0xffc12345, 0

  /* ---- comparisons */
  TC 70, feq.s, ONE, ONE, 1, 0
  TC 71, feq.s, PZERO, NZERO, 1, 0
  TC 72, feq.s, QNAN, QNAN, 0, 0       /* quiet comparison */
  TC 73, feq.s, SNAN, ONE, 0, NV
  TC 74, flt.s, ONE, TWO, 1, 0
  TC 75, flt.s, TWO, ONE, 0, 0
  TC 76, flt.s, QNAN, ONE, 0, NV       /* signaling comparison */
  TC 77, fle.s, ONE, ONE, 1, 0
  TC 78, fle.s, NZERO, PZERO, 1, 0
  TC 79, fle.s, ONE, QNAN, 0, NV
  TC 80, flt.s, NINF, PINF, 1, 0

  /* ---- classification: one bit per class */
  FLI_S f1, NINF
  fclass.s a0, f1
  TEST_EQ 81, a0, 0x001
  FLI_S f1, MONE
  fclass.s a0, f1
  TEST_EQ 82, a0, 0x002
  FLI_S f1, 0x807fffff
  fclass.s a0, f1
  TEST_EQ 83, a0, 0x004
  FLI_S f1, NZERO
  fclass.s a0, f1
  TEST_EQ 84, a0, 0x008
  FLI_S f1, PZERO
  fclass.s a0, f1
  TEST_EQ 85, a0, 0x010
  FLI_S f1, MINSUB
  fclass.s a0, f1
  TEST_EQ 86, a0, 0x020
  FLI_S f1, ONE
  fclass.s a0, f1
  TEST_EQ 87, a0, 0x040
  FLI_S f1, PINF
  fclass.s a0, f1
  TEST_EQ 88, a0, 0x080
  FLI_S f1, SNAN
  fclass.s a0, f1
  TEST_EQ 89, a0, 0x100
  FLI_S f1, QNAN
  fclass.s a0, f1
  TEST_EQ 90, a0, 0x200

  /* ---- conversions to integer: rounding, saturation, NV */
  TFI 100, fcvt.w.s, 0x40200000, rne, 2, NX        /* 2.5 */
  TFI 101, fcvt.w.s, 0x40200000, rmm, 3, NX
  TFI 102, fcvt.w.s, 0xc0200000, rdn, -3, NX
  TFI 103, fcvt.w.s, 0xc0200000, rtz, -2, NX
  TFI 104, fcvt.w.s, 0xc0200000, rup, -2, NX
  TFI 105, fcvt.w.s, 0x4f000000, rtz, 0x7fffffff, NV      /* 2^31 */
  TFI 106, fcvt.w.s, 0xcf000000, rtz, -0x80000000, 0       /* -2^31 fits */
  TFI 107, fcvt.w.s, 0xcf000001, rtz, -0x80000000, NV
  TFI 108, fcvt.w.s, QNAN, rtz, 0x7fffffff, NV
  TFI 109, fcvt.w.s, NINF, rtz, -0x80000000, NV
  TFI 110, fcvt.w.s, PINF, rtz, 0x7fffffff, NV
  TFI 111, fcvt.wu.s, MONE, rtz, 0, NV
  TFI 112, fcvt.wu.s, 0xbf000000, rtz, 0, NX               /* -0.5 rounds to 0: only inexact */
  TFI 113, fcvt.wu.s, 0x4f800000, rtz, -1, NV              /* 2^32 -> 0xffffffff (sign-extended) */
  TFI 114, fcvt.wu.s, 0x4f7fffff, rtz, -256, 0     /* 0xffffff00 sign-extended */
  TFI 115, fcvt.wu.s, QNAN, rtz, -1, NV
  /* ---- integer to float */
  TIF 120, fcvt.s.w, 0x7fffffff, rne, 0x4f000000, NX
  TIF 121, fcvt.s.w, 0x7fffffff, rtz, 0x4effffff, NX
  TIF 122, fcvt.s.w, -1, rne, MONE, 0
  TIF 123, fcvt.s.wu, -1, rne, 0x4f800000, NX
  TIF 124, fcvt.s.w, 0, rne, PZERO, 0
  TIF 125, fcvt.s.wu, 16777217, rdn, 0x4b800000, NX
#if XLEN == 64
  TFI 130, fcvt.l.s, 0x5f000000, rtz, 0x7fffffffffffffff, NV   /* 2^63 */
  TFI 131, fcvt.l.s, 0xdf000000, rtz, 0x8000000000000000, 0
  TFI 132, fcvt.lu.s, 0x5f800000, rtz, -1, NV
  TFI 133, fcvt.lu.s, 0x5f000000, rtz, 0x8000000000000000, 0
  TFI 134, fcvt.l.s, QNAN, rtz, 0x7fffffffffffffff, NV
  TFI 135, fcvt.lu.s, MONE, rtz, 0, NV
  TFI 136, fcvt.l.s, 0xc0200000, rmm, -3, NX
  TIF 137, fcvt.s.l, 0x7fffffffffffffff, rne, 0x5f000000, NX
  TIF 138, fcvt.s.lu, -1, rne, 0x5f800000, NX
  TIF 139, fcvt.s.l, -1, rne, MONE, 0
  /* word results are sign-extended on RV64 */
  TFI 140, fcvt.wu.s, 0x4f400000, rtz, 0xffffffffc0000000, 0    /* 3*2^30 */
#endif

  /* ---- moves, loads, stores */
  li a1, 0x80000001
  fmv.w.x f5, a1
  fmv.x.w a0, f5
  sext.w32 a1
  TEST_EQR 150, a0, a1          /* fmv.x.w sign-extends on RV64 */
  TEST_FS 151, f5, 0x80000001    /* fmv.w.x NaN-boxes */
  la s0, fdata
  flw f6, 0(s0)
  TEST_FS 152, f6, 0x12345678
  fsw f6, 4(s0)
  lw a0, 4(s0)
  TEST_EQ 153, a0, 0x12345678
  flw f7, 8(s0)                 /* a signaling NaN is loaded unchanged */
  TEST_FS 154, f7, SNAN
  csrr a0, fflags
  TEST_EQ 155, a0, 0

#if XLEN == 64
  /* ---- NaN boxing: a single-precision operand whose upper 32 bits are
     not all ones is the canonical NaN */
  li a1, 0x000000003f800000     /* 1.0 without the box */
  fmv.d.x f1, a1
  FLI_S f2, ONE
  csrwi fflags, 0
  fadd.s f3, f1, f2
  TEST_FFLAGS 160, 0
  TEST_FS 160, f3, QNAN
  fclass.s a0, f1
  TEST_EQ 161, a0, 0x200
  fsgnj.s f3, f1, f2            /* the NaN is used, then boxed */
  TEST_FS 162, f3, QNAN
  fmv.x.w a0, f1                /* fmv.x.w copies the low bits regardless */
  TEST_EQ 163, a0, 0x3f800000
  fsw f1, 12(s0)
  lw a0, 12(s0)
  TEST_EQ 164, a0, 0x3f800000
  li a1, 0xfffffffe7f800000     /* almost boxed: still NaN */
  fmv.d.x f1, a1
  fclass.s a0, f1
  TEST_EQ 165, a0, 0x200
#endif

  /* ---- fcsr, frm, fflags */
  li a1, 0xff
  csrw fcsr, a1
  csrr a0, fcsr
  TEST_EQ 170, a0, 0xff
  csrr a0, frm
  TEST_EQ 171, a0, 7
  csrr a0, fflags
  TEST_EQ 172, a0, 0x1f
  li a1, -1
  csrw fcsr, a1                 /* bits above 7 are read-only zero */
  csrr a0, fcsr
  TEST_EQ 173, a0, 0xff
  fsrmi 3
  frrm a0
  TEST_EQ 174, a0, 3
  csrr a0, fcsr
  TEST_EQ 175, a0, 0x7f
  fsflagsi 0
  csrr a0, fcsr
  TEST_EQ 176, a0, 0x60
  /* dynamic rounding follows frm */
  fsrmi 1                       /* rtz */
  FLI_S f1, ONE
  FLI_S f2, THREE
  fdiv.s f3, f1, f2
  TEST_FS 177, f3, 0x3eaaaaaa
  fsrmi 3                       /* rup */
  fdiv.s f3, f1, f2
  TEST_FS 178, f3, 0x3eaaaaab
  /* flags accumulate */
  csrwi fflags, 0
  fdiv.s f3, f1, f2
  FLI_S f4, PZERO
  fdiv.s f3, f1, f4
  TEST_FFLAGS 179, DZ|NX
  csrwi fcsr, 0

  /* ---- illegal: reserved rounding modes, frm invalid with dyn, FS off */
  EXPECT_TRAP
  .word 0x002081d3 | (5 << 12)  /* fadd.s f3, f1, f2 with rm=5 */
  CHECK_TRAP 180, CAUSE_ILLEGAL
  EXPECT_TRAP
  .word 0x002081d3 | (6 << 12)  /* rm=6 */
  CHECK_TRAP 181, CAUSE_ILLEGAL
  fsrmi 5
  EXPECT_TRAP
  fadd.s f3, f1, f2             /* dyn with frm=5 */
  CHECK_TRAP 182, CAUSE_ILLEGAL
  fsrmi 7
  EXPECT_TRAP
  fadd.s f3, f1, f2, dyn
  CHECK_TRAP 183, CAUSE_ILLEGAL
  fadd.s f3, f1, f2, rne        /* a static mode works whatever frm says */
  fsrmi 0
  li t0, MSTATUS_FS
  csrc mstatus, t0
  EXPECT_TRAP
  fadd.s f3, f1, f2
  CHECK_TRAP 184, CAUSE_ILLEGAL
  EXPECT_TRAP
  csrr a0, fcsr
  CHECK_TRAP 185, CAUSE_ILLEGAL
  EXPECT_TRAP
  flw f1, 0(s0)
  CHECK_TRAP 186, CAUSE_ILLEGAL
  /* FS goes to Dirty when an F instruction writes state */
  li t0, (1 << 13)              /* Initial */
  csrs mstatus, t0
  fmv.w.x f1, zero
  csrr a0, mstatus
  srli a0, a0, 13
  andi a0, a0, 3
  TEST_EQ 187, a0, 3
  csrr a0, mstatus              /* SD (the top bit) mirrors FS == Dirty */
  li gp, 188
  bgez a0, fail
  PASS

  .data
  .balign 8
fdata: .word 0x12345678, 0, SNAN, 0
