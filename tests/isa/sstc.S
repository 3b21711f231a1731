/* Sstc: stimecmp raises STIP when time >= stimecmp (menvcfg.STCE = 1);
 * the S timer interrupt, delegated, reaches the S handler; mcounteren.TM
 * gates S access to stimecmp.
 *
 * VF-QEMU-SKIP: QEMU 7.2's spike machine provides no time source for the
 *   time CSR, so it has no Sstc (stimecmp raises illegal instruction).
 */
#include "test.h"

#define CSR_STIMECMP  0x14d
#define CSR_STIMECMPH 0x15d
#define CSR_MENVCFGH  0x31a
#define CSR_MENVCFG   0x30a

TEST_MAIN
  /* STCE on */
#if XLEN == 32
  li t0, 0x80000000
  csrs CSR_MENVCFGH, t0
#else
  li t0, 1
  slli t0, t0, 63
  csrs CSR_MENVCFG, t0
#endif
  /* stimecmp = all ones: no STIP */
  li t0, -1
  csrw CSR_STIMECMP, t0
#if XLEN == 32
  csrw CSR_STIMECMPH, t0
#endif
  csrr a0, mip
  andi a0, a0, (1 << IRQ_STI)
  TEST_EQ 1, a0, 0
  /* with STCE = 1, STIP is not writable through mip */
  li t0, (1 << IRQ_STI)
  csrs mip, t0
  csrr a0, mip
  andi a0, a0, (1 << IRQ_STI)
  TEST_EQ 2, a0, 0
  /* stimecmp = 0: STIP at once */
  csrw CSR_STIMECMP, zero
#if XLEN == 32
  csrw CSR_STIMECMPH, zero
#endif
  csrr a0, mip
  andi a0, a0, (1 << IRQ_STI)
  TEST_EQ 3, a0, (1 << IRQ_STI)
  /* delegate STI to S, enable it, go to S: taken by the S handler */
  li t0, (1 << IRQ_STI)
  csrw mideleg, t0
  csrs mie, t0
  EXPECT_TRAP
  ENTER_MODE PRV_U
  nop
  CHECK_TRAP 4, IRQ_BIT | IRQ_STI
  CHECK_TRAP_MODE 5, PRV_S
  TO_M
  /* S writes stimecmp ahead of time: STIP clears; later it sets again */
  li t0, 7
  csrw mcounteren, t0
  ENTER_MODE PRV_S
  rdtime a1
  addi a1, a1, 200
#if XLEN == 32
  li t0, -1
  csrw CSR_STIMECMPH, t0          /* avoid a spurious match mid-update */
  csrw CSR_STIMECMP, a1
  rdtimeh a2
  csrw CSR_STIMECMPH, a2
#else
  csrw CSR_STIMECMP, a1
#endif
  csrr a0, sip
  andi a0, a0, (1 << IRQ_STI)
  TEST_EQ 6, a0, 0
  li t0, 10000000
1: csrr a0, sip
  andi a0, a0, (1 << IRQ_STI)
  bnez a0, 2f
  addi t0, t0, -1
  bnez t0, 1b
  FAIL 7
2: li t0, (1 << IRQ_STI)
  csrs sie, t0                    /* the S handler cleared STIE */
  EXPECT_TRAP
  csrsi sstatus, MSTATUS_SIE
  nop
  csrci sstatus, MSTATUS_SIE
  CHECK_TRAP 8, IRQ_BIT | IRQ_STI
  TO_M
  /* mcounteren.TM = 0 (CY and IR only): stimecmp is illegal in S */
  li t0, 5
  csrw mcounteren, t0
  ENTER_MODE PRV_S
  EXPECT_TRAP
  csrr a0, CSR_STIMECMP
  CHECK_TRAP 9, CAUSE_ILLEGAL
  TO_M
  /* menvcfg.STCE = 0: stimecmp is illegal in S even with TM */
  li t0, 7
  csrw mcounteren, t0
#if XLEN == 32
  csrw CSR_MENVCFGH, zero
#else
  csrw CSR_MENVCFG, zero
#endif
  ENTER_MODE PRV_S
  EXPECT_TRAP
  csrr a0, CSR_STIMECMP
  CHECK_TRAP 10, CAUSE_ILLEGAL
  TO_M
  csrw mideleg, zero
  csrw mie, zero
  PASS
