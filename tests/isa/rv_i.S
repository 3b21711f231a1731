/* RV32I / RV64I: every base integer instruction.
 * Expected values are worked out by hand from the specification. */
#include "test.h"

TEST_MAIN
  /* ---- LUI, AUIPC */
  lui a0, 0x12345
  TEST_EQ 1, a0, 0x12345000
  lui a0, 0x80000
#if XLEN == 64
  TEST_EQ 2, a0, 0xffffffff80000000   /* sign-extended on RV64 */
#else
  TEST_EQ 2, a0, 0x80000000
#endif
1: auipc a0, 0
  la a1, 1b
  TEST_EQR 3, a0, a1
1: auipc a0, 1
  la a1, 1b
  sub a0, a0, a1
  TEST_EQ 4, a0, 0x1000

  /* ---- ADDI / SLTI / SLTIU / XORI / ORI / ANDI */
  li a1, 5
  addi a0, a1, -7
  TEST_EQ 10, a0, -2
  addi a0, a1, 2047
  TEST_EQ 11, a0, 2052
  li a1, -1
  slti a0, a1, 0
  TEST_EQ 12, a0, 1
  slti a0, a1, -1
  TEST_EQ 13, a0, 0
  sltiu a0, a1, -1          /* -1 as unsigned is the largest: not less */
  TEST_EQ 14, a0, 0
  li a1, 3
  sltiu a0, a1, -1
  TEST_EQ 15, a0, 1
  sltiu a0, zero, 1         /* seqz */
  TEST_EQ 16, a0, 1
  li a1, 0x0ff0
  xori a0, a1, -1
  TEST_EQ 17, a0, ~0x0ff0
  ori a0, a1, 0x00f
  TEST_EQ 18, a0, 0x0fff
  andi a0, a1, -16
  TEST_EQ 19, a0, 0x0ff0
  andi a0, a1, 0x0f0
  TEST_EQ 20, a0, 0x0f0

  /* ---- shifts by immediate */
  li a1, 0x80000001
  slli a0, a1, 4
#if XLEN == 64
  TEST_EQ 21, a0, 0x800000010
#else
  TEST_EQ 21, a0, 0x00000010
#endif
  li a1, -16
  srli a0, a1, 2
#if XLEN == 64
  TEST_EQ 22, a0, 0x3ffffffffffffffc
#else
  TEST_EQ 22, a0, 0x3ffffffc
#endif
  srai a0, a1, 2
  TEST_EQ 23, a0, -4
  srai a0, a1, XLEN - 1
  TEST_EQ 24, a0, -1
  slli a0, a1, XLEN - 1
  TEST_EQ 25, a0, 0
  srli a0, a1, 0
  TEST_EQ 26, a0, -16

  /* ---- register-register */
  li a1, 7
  li a2, -3
  add a0, a1, a2
  TEST_EQ 30, a0, 4
  sub a0, a1, a2
  TEST_EQ 31, a0, 10
  sub a0, a2, a1
  TEST_EQ 32, a0, -10
  slt a0, a2, a1
  TEST_EQ 33, a0, 1
  slt a0, a1, a2
  TEST_EQ 34, a0, 0
  sltu a0, a2, a1
  TEST_EQ 35, a0, 0
  sltu a0, a1, a2
  TEST_EQ 36, a0, 1
  sltu a0, zero, a1          /* snez */
  TEST_EQ 37, a0, 1
  xor a0, a1, a2
  TEST_EQ 38, a0, (7 ^ -3)
  or a0, a1, a2
  TEST_EQ 39, a0, (7 | -3)
  and a0, a1, a2
  TEST_EQ 40, a0, (7 & -3)
  /* shift amounts use only the low log2(XLEN) bits of rs2 */
  li a1, 1
  li a2, XLEN + 3
  sll a0, a1, a2
  TEST_EQ 41, a0, 8
  li a1, -64
  srl a0, a1, a2
#if XLEN == 64
  TEST_EQ 42, a0, 0x1ffffffffffffff8
#else
  TEST_EQ 42, a0, 0x1ffffff8
#endif
  sra a0, a1, a2
  TEST_EQ 43, a0, -8
  /* overflow wraps */
#if XLEN == 64
  li a1, 0x7fffffffffffffff
  addi a0, a1, 1
  TEST_EQ 44, a0, 0x8000000000000000
#else
  li a1, 0x7fffffff
  addi a0, a1, 1
  TEST_EQ 44, a0, 0x80000000
#endif
  /* x0 ignores writes */
  li x0, 5
  addi x0, x0, 1
  TEST_EQ 45, x0, 0

  /* ---- loads and stores (sign and zero extension) */
  la s0, data
  lb a0, 0(s0)
  TEST_EQ 50, a0, -128
  lbu a0, 0(s0)
  TEST_EQ 51, a0, 0x80
  lh a0, 2(s0)
  TEST_EQ 52, a0, -32767          /* 0x8001 */
  lhu a0, 2(s0)
  TEST_EQ 53, a0, 0x8001
  lw a0, 4(s0)
#if XLEN == 64
  TEST_EQ 54, a0, 0xfffffffff0e0d0c0
  lwu a0, 4(s0)
  TEST_EQ 55, a0, 0xf0e0d0c0
  ld a0, 8(s0)
  TEST_EQ 56, a0, 0x0123456789abcdef
#else
  TEST_EQ 54, a0, 0xf0e0d0c0
#endif
  lb a0, -1(s0)                  /* negative offset */
  TEST_EQ 57, a0, 0x5a
  la s1, buf
  li a1, 0x11223344
  sw a1, 0(s1)
  li a1, 0xaa
  sb a1, 1(s1)
  li a1, 0xbbcc
  sh a1, 2(s1)
  lw a0, 0(s1)
  li t0, 0xbbccaa44
  sext.w32 t0
  TEST_EQR 58, a0, t0
#if XLEN == 64
  li a1, 0x1122334455667788
  sd a1, 8(s1)
  ld a0, 8(s1)
  TEST_EQR 59, a0, a1
  lw a0, 12(s1)
  TEST_EQ 60, a0, 0x11223344
#endif
  sw zero, 16(s1)
  li a1, 0x1188
  sb a1, 19(s1)
  lw a0, 16(s1)
  li t0, 0x88000000
  sext.w32 t0
  TEST_EQR 61, a0, t0

  /* ---- branches: taken and not taken, signed and unsigned */
  li a1, -1
  li a2, 1
  li a0, 0
  beq a1, a1, 1f
  FAIL 70
1: bne a1, a1, 2f
  blt a1, a2, 1f
  FAIL 71
2: FAIL 72
1: bge a1, a2, 2f
  bge a2, a1, 1f
  FAIL 73
2: FAIL 74
1: bltu a1, a2, 2f
  bltu a2, a1, 1f
  FAIL 75
2: FAIL 76
1: bgeu a2, a1, 2f
  bgeu a1, a2, 1f
  FAIL 77
2: FAIL 78
1: bge a1, a1, 1f        /* equal counts as >= */
  FAIL 79
1: bgeu a2, a2, 1f
  FAIL 80
1: /* backward branch loop */
  li a0, 0
  li a1, 10
1: addi a0, a0, 3
  addi a1, a1, -1
  bnez a1, 1b
  TEST_EQ 81, a0, 30

  /* ---- JAL / JALR: link value and target, low bit of JALR target cleared */
  jal ra, 1f
2: FAIL 90
1: la a1, 2b
  TEST_EQR 91, ra, a1
  la a1, 3f
  addi a1, a1, 1          /* odd: JALR clears bit 0 */
  jalr a0, 0(a1)
4: FAIL 92
3: la a2, 4b
  TEST_EQR 93, a0, a2
  la a1, 3f - 8
  jalr a1, 8(a1)          /* rd == rs1: target uses the old value */
5: FAIL 94
3: la a2, 5b
  TEST_EQR 95, a1, a2
  jal x0, 1f
  FAIL 96
1:

  /* ---- FENCE, FENCE.I (Zifencei), ECALL/EBREAK live in traps.S */
  fence
  fence rw, rw
  fence r, w
  fence.tso
  fence.i

#if XLEN == 64
  /* ---- RV64I word operations: results are sign-extended 32-bit values */
  li a1, 0x7fffffff
  addiw a0, a1, 1
  TEST_EQ 100, a0, 0xffffffff80000000
  li a1, 0xffffffff00000005
  addiw a0, a1, 0         /* sext.w */
  TEST_EQ 101, a0, 5
  li a1, 0x80000000
  li a2, 1
  addw a0, a1, a2
  TEST_EQ 102, a0, 0xffffffff80000001
  subw a0, zero, a1
  TEST_EQ 103, a0, 0xffffffff80000000
  li a1, 1
  slliw a0, a1, 31
  TEST_EQ 104, a0, 0xffffffff80000000
  li a1, 0xffffffff80000000
  srliw a0, a1, 4
  TEST_EQ 105, a0, 0x08000000
  sraiw a0, a1, 4
  TEST_EQ 106, a0, 0xfffffffff8000000
  li a2, 36                /* word shifts use the low 5 bits */
  sllw a0, a1, a2
  TEST_EQ 107, a0, 0
  srlw a0, a1, a2
  TEST_EQ 108, a0, 0x08000000
  sraw a0, a1, a2
  TEST_EQ 109, a0, 0xfffffffff8000000
  li a1, 0x123456789
  sllw a0, a1, zero
  TEST_EQ 110, a0, 0x23456789
#endif
  PASS

  .data
  .byte 0x5a
data:
  .byte 0x80, 0x00, 0x01, 0x80
  .word 0xf0e0d0c0
  .dword 0x0123456789abcdef
  .balign 8
buf: .space 32
