/* Interrupts: the software-writable pending bits, enables (mie/sie,
 * mstatus.MIE/SIE), priority, delegation with mideleg, the CLINT's msip
 * and mtimecmp, and WFI.  (Sstc's stimecmp: sstc.S.) */
#include "test.h"

/* spin until mip has `bit`, at most n iterations; fails with test t */
.macro WAIT_MIP t, bit, n
  li gp, \t
  li t0, \n
  li t1, \bit
.Lw\@:
  csrr t2, mip
  and t2, t2, t1
  bnez t2, .Ld\@
  addi t0, t0, -1
  bnez t0, .Lw\@
  j fail
.Ld\@:
.endm

TEST_MAIN
  /* ---- SSIP is writable in mip (M) and sip (S); taken in M when
     enabled and MIE = 1, at the next instruction */
  csrsi mip, (1 << IRQ_SSI)
  csrr a0, mip
  andi a0, a0, (1 << IRQ_SSI)
  TEST_EQ 1, a0, (1 << IRQ_SSI)
  csrsi mie, (1 << IRQ_SSI)      /* enabled, but MIE = 0: not taken */
  nop
  la a1, 1f
  EXPECT_TRAP
  csrsi mstatus, MSTATUS_MIE
1: nop
  CHECK_TRAP 2, IRQ_BIT | IRQ_SSI
  CHECK_TRAP_MODE 3, PRV_M
  CHECK_EPC 4, a1                /* mepc = the next instruction */
  CHECK_STATUS 5, 7, 1, 1        /* MPIE = 1 */
  csrci mstatus, MSTATUS_MIE
  csrci mip, (1 << IRQ_SSI)
  csrr a0, mip
  andi a0, a0, (1 << IRQ_SSI)
  TEST_EQ 6, a0, 0
  /* mtval is zero for interrupts */
  CHECK_TVAL_OR_0 7, zero

  /* ---- the CLINT's msip drives mip.MSIP (priority order: irq_priority.S) */
  li t0, CLINT_MSIP
  li t1, 1
  sw t1, 0(t0)
  WAIT_MIP 10, (1 << IRQ_MSI), 100000
  li t0, (1 << IRQ_MSI)
  csrs mie, t0
  EXPECT_TRAP
  csrsi mstatus, MSTATUS_MIE
  nop
  csrci mstatus, MSTATUS_MIE
  CHECK_TRAP 11, IRQ_BIT | IRQ_MSI
  /* clearing msip in the CLINT clears mip.MSIP */
  li t0, CLINT_MSIP
  sw zero, 0(t0)
  csrr a0, mip
  andi a0, a0, (1 << IRQ_MSI)
  TEST_EQ 13, a0, 0
  /* MSIP is read-only in mip */
  csrsi mip, (1 << IRQ_MSI)
  csrr a0, mip
  andi a0, a0, (1 << IRQ_MSI)
  TEST_EQ 14, a0, 0
  /* SEIP is writable by M and raises an S external interrupt */
  li t0, (1 << IRQ_SEI)
  csrs mip, t0
  csrs mie, t0
  EXPECT_TRAP
  csrsi mstatus, MSTATUS_MIE
  nop
  csrci mstatus, MSTATUS_MIE
  CHECK_TRAP 15, IRQ_BIT | IRQ_SEI
  li t0, (1 << IRQ_SEI)
  csrc mip, t0

  /* ---- M-mode interrupts are enabled in S and U regardless of MIE */
  csrsi mip, (1 << IRQ_SSI)
  csrsi mie, (1 << IRQ_SSI)
  EXPECT_TRAP                     /* taken right on entering U */
  ENTER_MODE PRV_U
  nop
  CHECK_TRAP 20, IRQ_BIT | IRQ_SSI
  CHECK_TRAP_MODE 21, PRV_M
  CHECK_STATUS 22, 11, 3, PRV_U
  TO_M
  csrci mip, (1 << IRQ_SSI)

  /* ---- mideleg: a delegated SSI goes to S; in S only if SIE; never in M */
  li t0, (1 << IRQ_SSI)
  csrw mideleg, t0
  csrsi mie, (1 << IRQ_SSI)
  csrsi mip, (1 << IRQ_SSI)
  csrsi mstatus, MSTATUS_MIE     /* M ignores delegated interrupts */
  nop
  nop
  csrci mstatus, MSTATUS_MIE
  ENTER_MODE PRV_S
  csrci sstatus, MSTATUS_SIE
  nop                             /* SIE = 0 in S: masked */
  csrr a0, sip
  andi a0, a0, (1 << IRQ_SSI)
  TEST_EQ 30, a0, (1 << IRQ_SSI)
  EXPECT_TRAP
  csrsi sstatus, MSTATUS_SIE
  nop
  CHECK_TRAP 31, IRQ_BIT | IRQ_SSI
  CHECK_TRAP_MODE 32, PRV_S
  CHECK_STATUS 33, 5, 1, 1        /* SPIE = 1 (from SIE) */
  CHECK_STATUS 34, 8, 1, 1        /* SPP = S */
  csrci sstatus, MSTATUS_SIE
  /* in U a delegated interrupt is taken whatever SIE says */
  csrsi sie, (1 << IRQ_SSI)       /* the S handler cleared sie.SSIE */
  TO_M
  csrsi mip, (1 << IRQ_SSI)
  EXPECT_TRAP
  ENTER_MODE PRV_U
  nop
  CHECK_TRAP 35, IRQ_BIT | IRQ_SSI
  CHECK_TRAP_MODE 36, PRV_S
  CHECK_STATUS 37, 8, 1, 0        /* SPP = U */
  TO_M
  /* sie/sip show only delegated bits */
  csrw mideleg, zero
  li t0, -1
  csrw mie, t0
  csrr a0, sie
  TEST_EQ 38, a0, 0
  csrw mie, zero
  csrw sie, zero

  /* ---- the CLINT timer: mtimecmp <= mtime raises MTIP */
  li t0, CLINT_MTIMECMP
  li t1, -1
  sw t1, 0(t0)
  sw t1, 4(t0)
  csrr a0, mip
  andi a0, a0, (1 << IRQ_MTI)
  TEST_EQ 40, a0, 0
  li t2, CLINT_MTIME
  lw a1, 0(t2)
  lw a2, 4(t2)
  addi a3, a1, 100               /* 100 ticks from now (low word) */
  sltu a4, a3, a1
  add a2, a2, a4
  sw t1, 0(t0)                   /* write low = all ones first: no spurious match */
  sw a2, 4(t0)
  sw a3, 0(t0)
  WAIT_MIP 41, (1 << IRQ_MTI), 10000000
  li t0, (1 << IRQ_MTI)
  csrs mie, t0
  EXPECT_TRAP
  csrsi mstatus, MSTATUS_MIE
  nop
  csrci mstatus, MSTATUS_MIE
  CHECK_TRAP 42, IRQ_BIT | IRQ_MTI
  /* MTIP is read-only in mip and clears when mtimecmp moves ahead */
  li t0, (1 << IRQ_MTI)
  csrc mip, t0
  csrr a0, mip
  and a0, a0, t0
  TEST_EQR 43, a0, t0
  li t0, CLINT_MTIMECMP
  li t1, -1
  sw t1, 4(t0)
  sw t1, 0(t0)
  csrr a0, mip
  andi a0, a0, (1 << IRQ_MTI)
  TEST_EQ 44, a0, 0

  /* ---- WFI wakes up on a pending enabled interrupt even with MIE = 0 */
  li t0, CLINT_MTIME
  lw a1, 0(t0)
  lw a2, 4(t0)
  addi a3, a1, 1000
  sltu a4, a3, a1
  add a2, a2, a4
  li t0, CLINT_MTIMECMP
  sw a2, 4(t0)
  sw a3, 0(t0)
  li t0, (1 << IRQ_MTI)
  csrs mie, t0
  li s0, 1000000
1: wfi                            /* may return early: loop until pending */
  csrr a0, mip
  andi a0, a0, (1 << IRQ_MTI)
  bnez a0, 2f
  addi s0, s0, -1
  bnez s0, 1b
  FAIL 50
2: /* now with MIE set the interrupt is taken */
  EXPECT_TRAP
  csrsi mstatus, MSTATUS_MIE
  nop
  csrci mstatus, MSTATUS_MIE
  CHECK_TRAP 51, IRQ_BIT | IRQ_MTI
  li t0, CLINT_MTIMECMP
  li t1, -1
  sw t1, 4(t0)
  sw t1, 0(t0)
  /* (An interrupt that ends a WFI with MIE = 1 is not tested: it could
     arrive just before the WFI, and then nothing would wake it.) */
  csrw mie, zero
  PASS
