/* M extension: multiply, divide, remainder, including division by zero
 * and signed overflow (whose results the specification defines). */
#include "test.h"

#if XLEN == 64
#define MIN 0x8000000000000000
#else
#define MIN 0x80000000
#endif

TEST_MAIN
  li a1, 7
  li a2, -3
  mul a0, a1, a2
  TEST_EQ 1, a0, -21
  mulh a0, a1, a2          /* high part of -21 is all ones */
  TEST_EQ 2, a0, -1
  mulhu a0, a1, a2         /* 7 * (2^XLEN - 3) >> XLEN = 6 */
  TEST_EQ 3, a0, 6
  mulhsu a0, a2, a1        /* -3 (signed) * 7 (unsigned) */
  TEST_EQ 4, a0, -1
  mulhsu a0, a1, a2        /* 7 * (2^XLEN - 3) unsigned -> 6 */
  TEST_EQ 5, a0, 6
  li a1, MIN
  mulh a0, a1, a1          /* MIN*MIN = 2^(2XLEN-2): high = 2^(XLEN-2) */
  TEST_EQ 6, a0, (1 << (XLEN - 2))
  li a1, -1
  mulhu a0, a1, a1         /* (2^X-1)^2 high = 2^X - 2 */
  TEST_EQ 7, a0, -2
  mul a0, a1, a1
  TEST_EQ 8, a0, 1

  li a1, 20
  li a2, -6
  div a0, a1, a2           /* rounds toward zero */
  TEST_EQ 10, a0, -3
  rem a0, a1, a2           /* sign of the dividend */
  TEST_EQ 11, a0, 2
  li a1, -20
  rem a0, a1, a2
  TEST_EQ 12, a0, -2
  divu a0, a1, a2          /* (2^X-20)/(2^X-6) = 0 */
  TEST_EQ 13, a0, 0
  remu a0, a1, a2
  TEST_EQ 14, a0, -20
  li a2, 3
  divu a0, a1, a2
#if XLEN == 64
  TEST_EQ 15, a0, 0x555555555555554e
#else
  TEST_EQ 15, a0, 0x5555554e
#endif
  /* division by zero: quotient all ones, remainder = dividend */
  div a0, a1, zero
  TEST_EQ 20, a0, -1
  divu a0, a1, zero
  TEST_EQ 21, a0, -1
  rem a0, a1, zero
  TEST_EQ 22, a0, -20
  remu a0, a1, zero
  TEST_EQ 23, a0, -20
  /* signed overflow: MIN / -1 = MIN, remainder 0 */
  li a1, MIN
  li a2, -1
  div a0, a1, a2
  TEST_EQ 24, a0, MIN
  rem a0, a1, a2
  TEST_EQ 25, a0, 0

#if XLEN == 64
  /* RV64M word forms: operate on the low 32 bits, sign-extend results */
  li a1, 0x100000003
  li a2, 0x200000005
  mulw a0, a1, a2
  TEST_EQ 30, a0, 15
  li a1, 0x7fffffff
  li a2, 2
  mulw a0, a1, a2
  TEST_EQ 31, a0, -2
  li a1, -20
  li a2, 6
  divw a0, a1, a2
  TEST_EQ 32, a0, -3
  remw a0, a1, a2
  TEST_EQ 33, a0, -2
  divuw a0, a1, a2         /* 0xffffffec / 6 = 0x2aaaaaa7 */
  TEST_EQ 34, a0, 0x2aaaaaa7
  remuw a0, a1, a2         /* 0xffffffec % 6 = 2 */
  TEST_EQ 35, a0, 2
  li a1, 0xffffffff80000000
  li a2, -1
  divw a0, a1, a2
  TEST_EQ 36, a0, 0xffffffff80000000
  remw a0, a1, a2
  TEST_EQ 37, a0, 0
  divw a0, a1, zero
  TEST_EQ 38, a0, -1
  divuw a0, a1, zero
  TEST_EQ 39, a0, -1
  remuw a0, a1, zero       /* sign-extended low word of the dividend */
  TEST_EQ 40, a0, 0xffffffff80000000
  li a1, 0x500000007
  remw a0, a1, zero
  TEST_EQ 41, a0, 7
#endif
  PASS
