/* Privilege modes: M->S->U transitions with mret and sret, the xstatus
 * stacking, exception delegation (medeleg), and the trap-virtualisation
 * bits TVM, TW and TSR. */
#include "test.h"

TEST_MAIN
  /* ---- mret to S: S can use sstatus but not mstatus */
  ENTER_MODE PRV_S
  csrr a0, sstatus
  EXPECT_TRAP
  csrr a0, mstatus
  CHECK_TRAP 1, CAUSE_ILLEGAL
  CHECK_STATUS 2, 11, 3, PRV_S          /* MPP = S */
  TO_M
  /* mret leaves MPP = U (the least-privileged mode) */
  ENTER_MODE PRV_S
  TO_M
  csrr a0, mstatus
  /* after TO_M the handler set MPP = M and mret'ed: MPP is now U */
  srli a0, a0, 11
  andi a0, a0, 3
  TEST_EQ 3, a0, PRV_U
  /* mret sets MIE = MPIE and MPIE = 1 */
  li t0, MSTATUS_MPIE
  csrc mstatus, t0
  ENTER_MODE PRV_M
  csrr a0, mstatus
  andi a1, a0, MSTATUS_MIE
  TEST_EQ 4, a1, 0
  andi a1, a0, MSTATUS_MPIE
  TEST_EQ 5, a1, MSTATUS_MPIE
  /* mret to a lower mode clears MPRV */
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  ENTER_MODE PRV_U
  TO_M
  csrr a0, mstatus
  li t0, MSTATUS_MPRV
  and a0, a0, t0
  TEST_EQ 6, a0, 0

  /* ---- sret from S to U; SPP, SPIE, SIE stacking */
  ENTER_MODE PRV_S
  li t0, MSTATUS_SPP
  csrc sstatus, t0               /* SPP = U */
  li t0, MSTATUS_SPIE
  csrs sstatus, t0
  la t0, 1f
  csrw sepc, t0
  sret
1: /* now in U: sstatus is illegal */
  EXPECT_TRAP
  csrr a0, sstatus
  CHECK_TRAP 10, CAUSE_ILLEGAL
  CHECK_STATUS 11, 11, 3, PRV_U
  TO_M
  csrr a0, mstatus
  andi a1, a0, MSTATUS_SIE       /* SIE = old SPIE = 1 */
  TEST_EQ 12, a1, MSTATUS_SIE
  andi a1, a0, MSTATUS_SPIE      /* SPIE = 1 */
  TEST_EQ 13, a1, MSTATUS_SPIE
  andi a1, a0, MSTATUS_SPP       /* SPP = U */
  TEST_EQ 14, a1, 0
  csrci mstatus, MSTATUS_SIE
  /* sret to S (SPP = 1) */
  ENTER_MODE PRV_S
  li t0, MSTATUS_SPP
  csrs sstatus, t0
  la t0, 1f
  csrw sepc, t0
  sret
1: csrr a0, sstatus               /* still S: legal */
  andi a1, a0, MSTATUS_SPP        /* sret sets SPP = U */
  TEST_EQ 15, a1, 0
  TO_M

  /* ---- sstatus is a view of mstatus */
  li t0, MSTATUS_SUM
  csrs mstatus, t0
  csrr a0, sstatus
  and a0, a0, t0
  TEST_EQR 20, a0, t0
  csrc sstatus, t0
  csrr a0, mstatus
  and a0, a0, t0
  TEST_EQ 21, a0, 0
  li t0, MSTATUS_MPP | MSTATUS_MIE
  csrs sstatus, t0                /* M fields are invisible through sstatus */
  csrr a0, sstatus
  and a0, a0, t0
  TEST_EQ 22, a0, 0

  /* ---- medeleg: delegated exceptions from S/U go to the S handler */
  li t0, (1 << CAUSE_ECALL_U) | (1 << CAUSE_ILLEGAL) | (1 << CAUSE_BREAKPOINT)
  csrw medeleg, t0
  ENTER_MODE PRV_U
  la a1, 1f
  EXPECT_TRAP
1: ecall
  CHECK_TRAP 30, CAUSE_ECALL_U
  CHECK_TRAP_MODE 31, PRV_S
  CHECK_EPC 32, a1
  CHECK_STATUS 33, 8, 1, 0        /* SPP = U */
  EXPECT_TRAP
  .word 0xc0001073
  CHECK_TRAP 34, CAUSE_ILLEGAL
  CHECK_TRAP_MODE 35, PRV_S
  li a2, 0xc0001073
  CHECK_TVAL_OR_0 36, a2
  TO_M
  ENTER_MODE PRV_S
  EXPECT_TRAP
  ebreak
  CHECK_TRAP 37, CAUSE_BREAKPOINT
  CHECK_TRAP_MODE 38, PRV_S
  CHECK_STATUS 39, 8, 1, 1        /* SPP = S */
  EXPECT_TRAP
  ecall                           /* ecall from S is not delegated */
  CHECK_TRAP 40, CAUSE_ECALL_S
  CHECK_TRAP_MODE 41, PRV_M
  TO_M
  /* traps taken in M are never delegated */
  EXPECT_TRAP
  ebreak
  CHECK_TRAP 42, CAUSE_BREAKPOINT
  CHECK_TRAP_MODE 43, PRV_M
  csrw medeleg, zero

  /* ---- TVM: satp and sfence.vma trap in S */
  li t0, MSTATUS_TVM
  csrs mstatus, t0
  ENTER_MODE PRV_S
  EXPECT_TRAP
  csrr a0, satp
  CHECK_TRAP 50, CAUSE_ILLEGAL
  EXPECT_TRAP
  sfence.vma
  CHECK_TRAP 51, CAUSE_ILLEGAL
  TO_M
  csrr a0, satp                   /* M is not affected */
  sfence.vma
  li t0, MSTATUS_TVM
  csrc mstatus, t0
  ENTER_MODE PRV_S
  csrr a0, satp
  sfence.vma
  TO_M

  /* ---- TW: wfi in S traps; without TW it does not.  An interrupt is
     made pending (but not enabled globally) so that wfi cannot wait. */
  li t0, CLINT_MSIP
  li t1, 1
  sw t1, 0(t0)
  li t0, (1 << IRQ_MSI)
  csrs mie, t0
  /* in S, M interrupts are enabled whatever MIE says: keep the pending
     bit but disable it in mie for the S part */
  csrc mie, t0
  li t0, MSTATUS_TW
  csrs mstatus, t0
  ENTER_MODE PRV_S
  EXPECT_TRAP
  wfi
  CHECK_TRAP 60, CAUSE_ILLEGAL
  TO_M
  li t0, MSTATUS_TW
  csrc mstatus, t0
  /* wfi in M with a pending interrupt and MIE = 0 returns (no trap) */
  li t0, (1 << IRQ_MSI)
  csrs mie, t0
  wfi
  csrc mie, t0
  li t0, CLINT_MSIP
  sw zero, 0(t0)
  /* wfi in U traps (S-mode exists) */
  ENTER_MODE PRV_U
  EXPECT_TRAP
  wfi
  CHECK_TRAP 61, CAUSE_ILLEGAL
  TO_M

  /* ---- TSR: sret traps in S */
  li t0, MSTATUS_TSR
  csrs mstatus, t0
  ENTER_MODE PRV_S
  EXPECT_TRAP
  sret
  CHECK_TRAP 70, CAUSE_ILLEGAL
  TO_M
  li t0, MSTATUS_TSR
  csrc mstatus, t0
  PASS
