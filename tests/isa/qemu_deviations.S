/* Cases where QEMU 7.2 departs from the specification; they run only on
 * our hart.
 *
 * VF-QEMU-SKIP: QEMU 7.2 lets a CSR write set mepc[0]/sepc[0], treats
 *   csrrs/csrrc with a non-x0 rs1 holding zero as a read (no illegal-
 *   instruction trap on a read-only CSR), and mishandles the instret
 *   overflow corner case (notes/references.md); without -icount its
 *   minstret counts host time, not instructions; it reports a misaligned
 *   AMO as a load-address-misaligned exception (and an AMO access fault
 *   as a load access fault) and lets a misaligned SC
 *   without a reservation fail without an exception.
 */
#include "test.h"

TEST_MAIN
  /* mepc[0] and sepc[0] are always zero (IALIGN = 16: bit 1 is kept) */
  li a1, -1
  csrw mepc, a1
  csrr a0, mepc
  TEST_EQ 1, a0, -2
  csrw sepc, a1
  csrr a0, sepc
  TEST_EQ 2, a0, -2
  li a1, 3
  csrw mepc, a1
  csrr a0, mepc
  TEST_EQ 3, a0, 2
  /* "if rs1 specifies a register holding a zero value other than x0, the
     instruction will still attempt to write" (Zicsr): a read-only CSR traps */
  li a1, 0
  EXPECT_TRAP
  csrrs a0, cycle, a1
  CHECK_TRAP 4, CAUSE_ILLEGAL
  EXPECT_TRAP
  csrrc a0, mhartid, a1
  CHECK_TRAP 5, CAUSE_ILLEGAL
  /* minstret written to all ones wraps to 0 after the next instruction:
     the write suppresses that instruction's own increment */
  li a1, -1
  csrw minstret, a1
  csrr a0, minstret
  /* "if a CSR access instruction writes such a CSR, the write is done
     instead of the increment", and a read sees the value before the
     reading instruction retires: the first read sees all ones, the second
     sees the wrap to 0 caused by the first read retiring */
  csrr a1, minstret
  TEST_EQ 6, a0, -1
  TEST_EQ 7, a1, 0
#if XLEN == 32
  /* on RV32 the carry reaches minstreth */
  csrw minstreth, zero
  li a1, -1
  csrw minstret, a1
  nop
  csrr a0, minstreth
  TEST_EQ 8, a0, 1
#endif
  /* ---- a misaligned AMO raises a store/AMO exception */
  la s0, fp_scratch
  addi a1, s0, 2
  .irp op, amoswap.w, amoadd.w, amoxor.w, amoand.w, amoor.w, amomin.w, amomax.w, amominu.w, amomaxu.w
  EXPECT_TRAP
  \op a0, a2, (a1)
  CHECK_TRAP2 9, CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS
  .endr
  EXPECT_TRAP
  sc.w a0, a2, (a1)
  CHECK_TRAP2 10, CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS
#if XLEN == 64
  addi a1, s0, 4
  EXPECT_TRAP
  amoadd.d a0, a2, (a1)
  CHECK_TRAP2 11, CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS
  EXPECT_TRAP
  sc.d a0, a2, (a1)
  CHECK_TRAP2 12, CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS
#endif

  /* an AMO to nowhere is a store/AMO access fault */
  li a1, UNMAPPED_ADDR
  EXPECT_TRAP
  amoadd.w a0, a0, (a1)
  CHECK_TRAP 13, CAUSE_STORE_ACCESS

  /* ---- minstret counts instructions exactly */
  /* mcycle / minstret are writable in M-mode */
  csrw minstret, zero
  csrr a0, minstret
  li t0, 10
  li gp, 34
  bgeu a0, t0, fail
  /* instret counts the csrr itself? The write wins over the increment:
     the next read sees the written value plus instructions since */
  li t0, 1000
  csrw minstret, t0
  csrr a0, minstret
  li t1, 1000
  li gp, 35
  bltu a0, t1, fail
  li t1, 1003
  bgtu a0, t1, fail
  /* mcountinhibit.IR stops minstret */
  csrwi mcountinhibit, 4
  csrr a2, mcountinhibit       /* its bits may be read-only zero (WARL) */
  csrr a0, minstret
  nop
  nop
  csrr a1, minstret
  andi a2, a2, 4
  beqz a2, 1f
  TEST_EQR 36, a0, a1
1:
  csrwi mcountinhibit, 0

  PASS
