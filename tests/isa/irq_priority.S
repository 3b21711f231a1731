/* Interrupt priority: with several interrupts pending and enabled, the
 * order is MEI > MSI > MTI > SEI > SSI > STI (privileged spec, 3.1.9).
 *
 * VF-QEMU-SKIP: QEMU 7.2 without AIA takes the lowest-numbered pending
 *   interrupt first (SSI before MSI), against the specified order.
 */
#include "test.h"

.macro TAKE n, cause
  EXPECT_TRAP
  csrsi mstatus, MSTATUS_MIE
  nop
  csrci mstatus, MSTATUS_MIE
  CHECK_TRAP \n, IRQ_BIT | \cause
.endm

TEST_MAIN
  /* MSI (CLINT), SEI, SSI and STI pending at once; the handler disables
     each one in mie as it is taken, so they come out in priority order */
  li t0, CLINT_MSIP
  li t1, 1
  sw t1, 0(t0)
  li t0, 100000
1: csrr t1, mip
  andi t1, t1, (1 << IRQ_MSI)
  bnez t1, 2f
  addi t0, t0, -1
  bnez t0, 1b
  FAIL 1
2:
  li t0, (1 << IRQ_SSI) | (1 << IRQ_SEI)
  csrs mip, t0
  li t0, (1 << IRQ_MSI) | (1 << IRQ_SSI) | (1 << IRQ_SEI)
  csrs mie, t0
  TAKE 2, IRQ_MSI
  TAKE 3, IRQ_SEI
  TAKE 4, IRQ_SSI
  li t0, CLINT_MSIP
  sw zero, 0(t0)
  li t0, (1 << IRQ_SSI) | (1 << IRQ_SEI)
  csrc mip, t0
  /* SSI before STI (STIP writable by M while menvcfg.STCE = 0) */
  li t0, (1 << IRQ_SSI) | (1 << IRQ_STI)
  csrs mip, t0
  csrs mie, t0
  TAKE 5, IRQ_SSI
  TAKE 6, IRQ_STI
  li t0, (1 << IRQ_SSI) | (1 << IRQ_STI)
  csrc mip, t0
  /* a delegated interrupt never preempts M-level ones: with SSI delegated
     and MSI pending, U-mode code traps to M first */
  PASS
