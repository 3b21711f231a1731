/* C extension: every compressed instruction of RV32C/RV64C, written with
 * explicit c. mnemonics so the encodings are what is tested. */
#include "test.h"

TEST_MAIN
  /* ---- integer constant and register ops */
  c.li a0, -32
  TEST_EQ 1, a0, -32
  c.li a0, 31
  c.addi a0, -1
  TEST_EQ 2, a0, 30
  c.lui a1, 1
  TEST_EQ 3, a1, 0x1000
  c.lui a1, 0xfffe0           /* the most negative c.lui: -32 << 12 */
  TEST_EQ 4, a1, -0x20000
  c.mv a2, a1
  TEST_EQR 5, a2, a1
  c.li a3, 5
  c.add a3, a0
  TEST_EQ 6, a3, 35
  c.li s0, 12
  c.li s1, 10
  c.sub s0, s1
  TEST_EQ 7, s0, 2
  c.li s0, 12
  c.xor s0, s1
  TEST_EQ 8, s0, 6
  c.li s0, 12
  c.or s0, s1
  TEST_EQ 9, s0, 14
  c.li s0, 12
  c.and s0, s1
  TEST_EQ 10, s0, 8
  c.li s0, -1
  c.andi s0, 0x15
  TEST_EQ 11, s0, 0x15
  c.li s0, -1
  c.andi s0, -16
  TEST_EQ 12, s0, -16
  c.li a0, 3
  c.slli a0, XLEN - 2
  TEST_EQ 13, a0, (1 << (XLEN - 1)) | (1 << (XLEN - 2))
  c.li s0, -16
  c.srli s0, 2
  li t0, (-16 & ((1 << (XLEN - 1)) | ((1 << (XLEN - 1)) - 1))) >> 2
  TEST_EQR 14, s0, t0
  c.li s0, -16
  c.srai s0, 2
  TEST_EQ 15, s0, -4
  c.nop
  /* ---- stack-pointer forms */
  mv t2, sp
  la sp, stackbuf + 64
  c.addi16sp sp, -64
  la t0, stackbuf
  TEST_EQR 16, sp, t0
  c.addi16sp sp, 496
  addi t0, t0, 496
  TEST_EQR 17, sp, t0
  la sp, stackbuf
  c.addi4spn s1, sp, 1020
  addi t0, sp, 1020
  TEST_EQR 18, s1, t0
  li a0, 0x5a5a1234
  c.swsp a0, 4(sp)
  c.lwsp a1, 4(sp)
  TEST_EQR 19, a1, a0
  li a0, 0x3ff00000         /* high word of 1.0 */
  sw a0, 12(sp)
  sw zero, 8(sp)
  c.fldsp fa0, 8(sp)
  c.fsdsp fa0, 16(sp)
  lw a1, 20(sp)
  TEST_EQR 20, a1, a0
  /* ---- register-based loads and stores */
  la s0, buf
  li a0, -2
  c.sw a0, 124(s0)
  c.lw a5, 124(s0)
  TEST_EQ 21, a5, -2
  mv s1, sp
  c.fld fa1, 8(s1)
  c.fsd fa1, 0(s0)
  lw a1, 4(s0)
  TEST_EQ 22, a1, 0x3ff00000
#if XLEN == 32
  /* RV32FC single-precision forms */
  li a0, 0x3f800000
  c.sw a0, 8(s0)
  c.flw fa2, 8(s0)
  c.fsw fa2, 12(s0)
  c.lw a1, 12(s0)
  TEST_EQ 23, a1, 0x3f800000
  c.flwsp fa3, 8(sp)
  c.fswsp fa3, 24(sp)
  lw a1, 24(sp)
  TEST_EQ 24, a1, 0
#else
  /* RV64C doubleword forms and word arithmetic */
  li a0, 0x8000000012345678
  c.sd a0, 248(s0)
  c.ld a5, 248(s0)
  TEST_EQR 23, a5, a0
  c.sdsp a0, 504(sp)
  c.ldsp a1, 504(sp)
  TEST_EQR 24, a1, a0
  li a1, 0x7fffffff
  c.addiw a1, 1
  TEST_EQ 25, a1, 0xffffffff80000000
  li a1, 0x100000005
  c.addiw a1, 0                  /* sext.w */
  TEST_EQ 26, a1, 5
  li s0, 0x7fffffff
  li s1, 1
  c.addw s0, s1
  TEST_EQ 27, s0, 0xffffffff80000000
  li s0, 0
  c.subw s0, s1
  TEST_EQ 28, s0, -1
  li a0, 1
  c.slli a0, 63
  TEST_EQ 29, a0, 0x8000000000000000
  c.srai s0, 63
  TEST_EQ 30, s0, -1
#endif
  mv sp, t2
  /* ---- control transfer */
  c.li s0, 0
  c.beqz s0, 1f
  FAIL 40
1: c.bnez s0, 2f
  c.li s0, 1
  c.bnez s0, 1f
2: FAIL 41
1: c.beqz s0, 2f
  c.j 1f
2: FAIL 42
1: la a0, 1f
  c.jr a0
  FAIL 43
1: la a0, 1f
  c.jalr a0
3: FAIL 44
1: la a1, 3b
  TEST_EQR 45, ra, a1
#if XLEN == 32
  c.jal 1f
3: FAIL 46
1: la a1, 3b
  TEST_EQR 47, ra, a1
#endif
  /* ---- a 32-bit instruction at a 2-byte aligned address runs normally */
  .balign 4
  c.nop
  li a0, 0x12345                 /* lui+addi(w), 4-byte aligned + 2 */
  TEST_EQ 48, a0, 0x12345
  /* ---- c.ebreak and the reserved all-zero encoding trap: traps.S */
  PASS

  .data
  .balign 8
buf: .space 256
stackbuf: .space 1024
