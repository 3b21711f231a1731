/* Zicntr's time CSR: it reads the CLINT's mtime, advances, is readable
 * from S and U when mcounteren.TM (and scounteren.TM for U) allow it.
 *
 * VF-QEMU-SKIP: QEMU 7.2's spike machine provides no time CSR (rdtime
 *   raises an illegal-instruction exception there).
 */
#include "test.h"

TEST_MAIN
  rdtime a1
  li t0, 1000000
1: rdtime a3
  bne a3, a1, 2f
  addi t0, t0, -1
  bnez t0, 1b
  FAIL 1
2:
  /* time agrees with mtime: read mtime, then time, then mtime */
  li t1, CLINT_MTIME
  LREG a2, 0(t1)
  rdtime a3
  LREG a4, 0(t1)
  li gp, 2
  bltu a3, a2, fail
  bltu a4, a3, fail
#if XLEN == 32
  rdtimeh a0
  lw a1, 4(t1)
  li gp, 3
  bltu a1, a0, fail
#endif
  /* gating */
  li t0, 5                       /* CY, IR: no TM */
  csrw mcounteren, t0
  ENTER_MODE PRV_S
  EXPECT_TRAP
  rdtime a0
  CHECK_TRAP 10, CAUSE_ILLEGAL
  TO_M
  li t0, 7
  csrw mcounteren, t0
  csrw scounteren, zero
  ENTER_MODE PRV_S
  rdtime a0
  TO_M
  ENTER_MODE PRV_U
  EXPECT_TRAP
  rdtime a0
  CHECK_TRAP 11, CAUSE_ILLEGAL
  TO_M
  li t0, 2
  csrw scounteren, t0
  ENTER_MODE PRV_U
  rdtime a0
  TO_M
  PASS
