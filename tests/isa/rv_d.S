/* D extension: every double-precision instruction, with the corner cases
 * of rounding, NaNs, zeros, subnormals, overflow and conversions. */
#include "test.h"

#define NV 0x10
#define DZ 0x08
#define OF 0x04
#define UF 0x02
#define NX 0x01

/* doubles as hi, lo word pairs */
#define D_ONE   0x3ff00000, 0
#define D_TWO   0x40000000, 0
#define D_THREE 0x40080000, 0
#define D_MONE  0xbff00000, 0
#define D_PINF  0x7ff00000, 0
#define D_NINF  0xfff00000, 0
#define D_QNAN  0x7ff80000, 0
#define D_SNAN  0x7ff00000, 1
#define D_PZERO 0, 0
#define D_NZERO 0x80000000, 0
#define D_MAX   0x7fefffff, 0xffffffff
#define D_MINSUB 0, 1
#define D_HALF  0x3fe00000, 0

.macro T2 n, op, ah, al, bh, bl, rh, rl, flags, rm=dyn
  FLI_D f1, \ah, \al
  FLI_D f2, \bh, \bl
  csrwi fflags, 0
  \op f3, f1, f2, \rm
  TEST_FFLAGS \n, \flags
  TEST_FD \n, f3, \rh, \rl
.endm
.macro T2N n, op, ah, al, bh, bl, rh, rl, flags
  FLI_D f1, \ah, \al
  FLI_D f2, \bh, \bl
  csrwi fflags, 0
  \op f3, f1, f2
  TEST_FFLAGS \n, \flags
  TEST_FD \n, f3, \rh, \rl
.endm
.macro T3 n, op, ah, al, bh, bl, ch, cl, rh, rl, flags
  FLI_D f1, \ah, \al
  FLI_D f2, \bh, \bl
  FLI_D f4, \ch, \cl
  csrwi fflags, 0
  \op f3, f1, f2, f4
  TEST_FFLAGS \n, \flags
  TEST_FD \n, f3, \rh, \rl
.endm
.macro TC n, op, ah, al, bh, bl, res, flags
  FLI_D f1, \ah, \al
  FLI_D f2, \bh, \bl
  csrwi fflags, 0
  \op a0, f1, f2
  TEST_FFLAGS \n, \flags
  TEST_EQ \n, a0, \res
.endm
.macro TFI n, op, ah, al, rm, res, flags
  FLI_D f1, \ah, \al
  csrwi fflags, 0
  \op a0, f1, \rm
  TEST_FFLAGS \n, \flags
  TEST_EQ \n, a0, \res
.endm
.macro TCLASS n, ah, al, res
  FLI_D f1, \ah, \al
  fclass.d a0, f1
  TEST_EQ \n, a0, \res
.endm

TEST_MAIN
  T2 1, fadd.d, D_ONE, D_TWO, D_THREE, 0
  T2 2, fsub.d, D_ONE, D_TWO, D_MONE, 0
  T2 3, fmul.d, D_TWO, D_THREE, 0x40180000, 0, 0
  T2 4, fdiv.d, D_ONE, D_THREE, 0x3fd55555, 0x55555555, NX
  T2 5, fdiv.d, D_ONE, D_THREE, 0x3fd55555, 0x55555556, NX, rup
  T2 6, fdiv.d, D_MONE, D_THREE, 0xbfd55555, 0x55555556, NX, rdn
  T2 7, fadd.d, D_ONE, 0x3ca00000, 0, D_ONE, NX, rne      /* 1 + 2^-53: tie to even */
  T2 8, fadd.d, D_ONE, 0x3ca00000, 0, 0x3ff00000, 1, NX, rmm
  T2 9, fdiv.d, D_ONE, D_PZERO, D_PINF, DZ
  T2 10, fdiv.d, D_PZERO, D_PZERO, D_QNAN, NV
  T2 11, fsub.d, D_PINF, D_PINF, D_QNAN, NV
  T2 12, fadd.d, D_SNAN, D_ONE, D_QNAN, NV
  T2 13, fadd.d, 0x7ff81234, 5, D_ONE, D_QNAN, 0
  T2 14, fadd.d, D_PZERO, D_NZERO, D_PZERO, 0
  T2 15, fsub.d, D_ONE, D_ONE, D_NZERO, 0, rdn
  T2 16, fmul.d, D_MAX, D_TWO, D_PINF, OF|NX
  T2 17, fmul.d, D_MAX, D_TWO, D_MAX, OF|NX, rtz
  T2 18, fmul.d, D_MINSUB, D_HALF, D_PZERO, UF|NX
  T2 19, fmul.d, D_MINSUB, D_HALF, D_MINSUB, UF|NX, rup
  T2 20, fsub.d, 0x00100000, 0, D_MINSUB, 0x000fffff, 0xffffffff, 0
  FLI_D f1, 0x40100000, 0
  fsqrt.d f3, f1
  TEST_FD 21, f3, D_TWO
  FLI_D f1, D_MONE
  csrwi fflags, 0
  fsqrt.d f3, f1
  TEST_FFLAGS 22, NV
  TEST_FD 22, f3, D_QNAN
  FLI_D f1, D_TWO
  fsqrt.d f3, f1, rtz
  TEST_FD 23, f3, 0x3ff6a09e, 0x667f3bcc
  FLI_D f1, D_NZERO
  fsqrt.d f3, f1
  TEST_FD 24, f3, D_NZERO

  /* fused: (1+2^-27)^2 - 1 = 2^-26 + 2^-54 exactly */
  T3 30, fmsub.d, 0x3ff00000, 0x02000000, 0x3ff00000, 0x02000000, D_ONE, 0x3e500000, 0x01000000, 0
  T3 31, fmadd.d, D_TWO, D_THREE, D_ONE, 0x401c0000, 0, 0
  T3 32, fnmadd.d, D_TWO, D_THREE, D_ONE, 0xc01c0000, 0, 0
  T3 33, fnmsub.d, D_TWO, D_THREE, D_ONE, 0xc0140000, 0, 0
  T3 34, fmadd.d, D_PINF, D_PZERO, D_QNAN, D_QNAN, NV

  T2N 40, fmin.d, D_PZERO, D_NZERO, D_NZERO, 0
  T2N 41, fmax.d, D_NZERO, D_PZERO, D_PZERO, 0
  T2N 42, fmin.d, D_QNAN, D_ONE, D_ONE, 0
  T2N 43, fmax.d, D_SNAN, D_ONE, D_ONE, NV
  T2N 44, fmin.d, D_SNAN, D_QNAN, D_QNAN, NV
  T2N 45, fsgnj.d, D_ONE, D_MONE, D_MONE, 0
  T2N 46, fsgnjn.d, D_MONE, D_MONE, D_ONE, 0
  T2N 47, fsgnjx.d, D_MONE, D_MONE, D_ONE, 0
  T2N 48, fsgnjn.d, D_SNAN, D_SNAN, 0xfff00000, 1, 0

  TC 50, feq.d, D_PZERO, D_NZERO, 1, 0
  TC 51, feq.d, D_QNAN, D_QNAN, 0, 0
  TC 52, feq.d, D_SNAN, D_ONE, 0, NV
  TC 53, flt.d, D_QNAN, D_ONE, 0, NV
  TC 54, fle.d, D_ONE, D_TWO, 1, 0
  TC 55, flt.d, D_TWO, D_ONE, 0, 0

  TCLASS 60, D_NINF, 0x001
  TCLASS 61, D_MONE, 0x002
  TCLASS 62, 0x800fffff, 0xffffffff, 0x004
  TCLASS 63, D_NZERO, 0x008
  TCLASS 64, D_PZERO, 0x010
  TCLASS 65, D_MINSUB, 0x020
  TCLASS 66, D_ONE, 0x040
  TCLASS 67, D_PINF, 0x080
  TCLASS 68, D_SNAN, 0x100
  TCLASS 69, D_QNAN, 0x200

  TFI 70, fcvt.w.d, 0x41dfffff, 0xffc00000, rtz, 0x7fffffff, NX    /* 2^31 - 0.5 */
  TFI 71, fcvt.w.d, 0x41e00000, 0, rtz, 0x7fffffff, NV             /* 2^31 */
  TFI 72, fcvt.w.d, 0xc1e00000, 0x00100000, rtz, -0x80000000, NX   /* -2^31 - 0.5 */
  TFI 73, fcvt.w.d, 0xc1e00000, 0x00200000, rtz, -0x80000000, NV   /* -2^31 - 1 */
  TFI 74, fcvt.w.d, D_QNAN, rne, 0x7fffffff, NV
  TFI 75, fcvt.wu.d, D_MONE, rtz, 0, NV
  TFI 76, fcvt.wu.d, 0xbfe00000, 0, rtz, 0, NX
  TFI 77, fcvt.wu.d, 0x41efffff, 0xffe00000, rtz, -1, 0            /* 2^32 - 1 */
  TFI 78, fcvt.wu.d, 0x41f00000, 0, rtz, -1, NV
  TFI 79, fcvt.w.d, 0x40040000, 0, rne, 2, NX                      /* 2.5 */
  TFI 80, fcvt.w.d, 0x40040000, 0, rmm, 3, NX
  TFI 81, fcvt.w.d, 0xc0040000, 0, rdn, -3, NX
  /* integer -> double is exact for 32-bit values */
  li a1, -0x80000000
  csrwi fflags, 0
  fcvt.d.w f3, a1
  TEST_FFLAGS 82, 0
  TEST_FD 82, f3, 0xc1e00000, 0
  li a1, -1
  fcvt.d.wu f3, a1
  TEST_FD 83, f3, 0x41efffff, 0xffe00000
  /* double <-> single */
  FLI_D f1, 0x3ff00000, 0x00200000            /* 1 + 2^-31: inexact as single */
  csrwi fflags, 0
  fcvt.s.d f3, f1
  TEST_FFLAGS 84, NX
  TEST_FS 84, f3, 0x3f800000
  fcvt.s.d f3, f1, rup
  TEST_FS 85, f3, 0x3f800001
  FLI_D f1, D_MAX
  csrwi fflags, 0
  fcvt.s.d f3, f1
  TEST_FFLAGS 86, OF|NX
  TEST_FS 86, f3, 0x7f800000
  FLI_D f1, D_SNAN
  csrwi fflags, 0
  fcvt.s.d f3, f1
  TEST_FFLAGS 87, NV
  TEST_FS 87, f3, 0x7fc00000
  FLI_S f1, 0x7f800001                        /* single sNaN -> canonical double NaN */
  csrwi fflags, 0
  fcvt.d.s f3, f1
  TEST_FFLAGS 88, NV
  TEST_FD 88, f3, D_QNAN
  FLI_S f1, 0x00000001                        /* single subnormal is exact in double */
  fcvt.d.s f3, f1
  TEST_FD 89, f3, 0x36a00000, 0
  FLI_D f1, 0x36a00000, 0
  csrwi fflags, 0
  fcvt.s.d f3, f1
  TEST_FFLAGS 90, 0
  TEST_FS 90, f3, 0x00000001

#if XLEN == 64
  TFI 100, fcvt.l.d, 0x43e00000, 0, rtz, 0x7fffffffffffffff, NV   /* 2^63 */
  TFI 101, fcvt.l.d, 0xc3e00000, 0, rtz, 0x8000000000000000, 0
  TFI 102, fcvt.lu.d, 0x43f00000, 0, rtz, -1, NV
  TFI 103, fcvt.lu.d, 0x43efffff, 0xffffffff, rtz, 0xfffffffffffff800, 0
  TFI 104, fcvt.lu.d, D_MONE, rtz, 0, NV
  TFI 105, fcvt.l.d, D_NINF, rtz, 0x8000000000000000, NV
  li a1, 0x7fffffffffffffff
  csrwi fflags, 0
  fcvt.d.l f3, a1
  TEST_FFLAGS 106, NX
  TEST_FD 106, f3, 0x43e00000, 0
  fcvt.d.l f3, a1, rtz
  TEST_FD 107, f3, 0x43dfffff, 0xffffffff
  li a1, -1
  fcvt.d.lu f3, a1, rdn
  TEST_FD 108, f3, 0x43efffff, 0xffffffff
  li a1, 0x123456789abcdef0
  fmv.d.x f3, a1
  fmv.x.d a0, f3
  TEST_EQR 109, a0, a1
  TEST_FD 110, f3, 0x12345678, 0x9abcdef0
  /* a double operation ignores NaN boxing: it reads all 64 bits */
  FLI_S f1, 0x3f800000
  fclass.d a0, f1
  TEST_EQ 111, a0, 0x200
#endif
  /* loads and stores move bits unchanged (sNaN stays signaling) */
  la s0, ddata
  csrwi fflags, 0
  fld f5, 0(s0)
  fsd f5, 8(s0)
  mv a2, s0
  addi a2, a2, 8
  TEST_MEM64 120, a2, 0x7ff00000, 1
  csrr a0, fflags
  TEST_EQ 121, a0, 0
  PASS

  .data
  .balign 8
ddata: .word 1, 0x7ff00000
  .dword 0
