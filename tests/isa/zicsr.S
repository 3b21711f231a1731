/* Zicsr (all six CSR instructions and their read/write side-effect rules),
 * Zicntr (cycle, time, instret and their counter-enable gating), and
 * Zifencei (fence.i makes stores to code visible to fetch). */
#include "test.h"

TEST_MAIN
  /* ---- CSRRW / CSRRS / CSRRC and the immediate forms, on mscratch */
  li a1, 0x0ff0
  csrw mscratch, a1
  li a2, 0x00ff
  csrrs a0, mscratch, a2
  TEST_EQ 1, a0, 0x0ff0
  csrr a0, mscratch
  TEST_EQ 2, a0, 0x0fff
  li a2, 0x0f0f
  csrrc a0, mscratch, a2
  TEST_EQ 3, a0, 0x0fff
  csrr a0, mscratch
  TEST_EQ 4, a0, 0x00f0
  csrrw a0, mscratch, zero
  TEST_EQ 5, a0, 0x00f0
  csrrwi a0, mscratch, 0x1f
  TEST_EQ 6, a0, 0
  csrrsi a0, mscratch, 0x20 - 0x20 + 0x0
  TEST_EQ 7, a0, 0x1f
  csrrci a0, mscratch, 0x3
  TEST_EQ 8, a0, 0x1f
  csrrsi a0, mscratch, 0x10
  TEST_EQ 9, a0, 0x1c
  li a1, -1
  csrw mscratch, a1              /* full width */
  csrr a0, mscratch
  TEST_EQ 10, a0, -1
  /* rd == rs1 */
  li a0, 5
  csrrw a0, mscratch, a0
  TEST_EQ 11, a0, -1
  csrr a0, mscratch
  TEST_EQ 12, a0, 5

  /* ---- read-only CSRs: any write is illegal, but reads (rs1=x0 / uimm=0
     for csrrs/csrrc) are fine */
  csrr a0, mhartid
  TEST_EQ 20, a0, 0
  csrrs a0, mhartid, zero
  csrrci a0, mhartid, 0
  EXPECT_TRAP
  csrw mhartid, a0
  CHECK_TRAP 21, CAUSE_ILLEGAL
  EXPECT_TRAP
  csrrsi a0, mhartid, 1
  CHECK_TRAP 22, CAUSE_ILLEGAL
  /* (csrrs with rs1 != x0 holding zero: see qemu_deviations.S) */
  EXPECT_TRAP
  csrrw zero, instret, zero      /* csrrw always writes */
  CHECK_TRAP 24, CAUSE_ILLEGAL
  /* the trapping instruction must not have written rd */
  li a0, 0x1234
  EXPECT_TRAP
  csrrw a0, mvendorid, zero
  CHECK_TRAP 25, CAUSE_ILLEGAL
  TEST_EQ 26, a0, 0x1234
  /* a CSR that does not exist */
  EXPECT_TRAP
  csrr a0, 0x7ff
  CHECK_TRAP 27, CAUSE_ILLEGAL
  /* mtval of an illegal instruction is the instruction bits (or 0) */
  csrr a0, misa
  srli a1, a0, XLEN - 2
  TEST_EQ 28, a1, (XLEN / 32)    /* MXL: 1 = 32, 2 = 64 */
  li a1, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20)
  and a0, a0, a1                 /* A C D F I M S U */
  TEST_EQR 29, a0, a1

  /* ---- Zicntr: the counters move */
  rdcycle a0
  rdinstret a2
  li t0, 100
1: addi t0, t0, -1
  bnez t0, 1b
  rdcycle a3
  rdinstret a4
  li gp, 30
  bleu a3, a0, fail
  sub a5, a4, a2                 /* at least the 200 loop instructions */
  li t0, 200
  li gp, 31
  bltu a5, t0, fail
  /* (the time CSR: see time.S) */
  /* (exact minstret values: qemu_deviations.S) */
#if XLEN == 32
  rdcycleh a0
  rdinstreth a0
#endif
  /* ---- counter enables: mcounteren gates S and U, scounteren gates U */
  csrw mcounteren, zero
  ENTER_MODE PRV_S
  EXPECT_TRAP
  rdcycle a0
  CHECK_TRAP 40, CAUSE_ILLEGAL
  EXPECT_TRAP
  rdinstret a0
  CHECK_TRAP 42, CAUSE_ILLEGAL
  TO_M
  li t0, 4                        /* IR only */
  csrw mcounteren, t0
  ENTER_MODE PRV_S
  rdinstret a0
  EXPECT_TRAP
  rdcycle a0
  CHECK_TRAP 43, CAUSE_ILLEGAL
  TO_M
  li t0, 7
  csrw mcounteren, t0
  csrw scounteren, zero
  ENTER_MODE PRV_U
  EXPECT_TRAP
  rdcycle a0
  CHECK_TRAP 44, CAUSE_ILLEGAL
  TO_M
  li t0, 1
  csrw scounteren, t0
  ENTER_MODE PRV_U
  rdcycle a0
  EXPECT_TRAP
  rdinstret a0
  CHECK_TRAP 45, CAUSE_ILLEGAL
  TO_M
  csrw mcounteren, zero           /* scounteren alone does not enable U */
  ENTER_MODE PRV_U
  EXPECT_TRAP
  rdcycle a0
  CHECK_TRAP 46, CAUSE_ILLEGAL
  TO_M
  li t0, 7
  csrw mcounteren, t0
  csrw scounteren, t0

  /* ---- M-only CSRs are illegal from S and U; S CSRs illegal from U */
  ENTER_MODE PRV_S
  EXPECT_TRAP
  csrr a0, mstatus
  CHECK_TRAP 50, CAUSE_ILLEGAL
  csrr a0, sstatus
  TO_M
  ENTER_MODE PRV_U
  EXPECT_TRAP
  csrr a0, sstatus
  CHECK_TRAP 51, CAUSE_ILLEGAL
  EXPECT_TRAP
  csrr a0, mscratch
  CHECK_TRAP 52, CAUSE_ILLEGAL
  csrr a0, fcsr                   /* user CSRs are fine */
  TO_M

  /* ---- Zifencei: patch an instruction, fence.i, execute the new one */
  la a1, patch
  li a2, 0x02a00513               /* addi a0, zero, 42 */
  li a0, 0
  call patch                      /* executes the original (a0 = 7) */
  TEST_EQ 60, a0, 7
  sw a2, 0(a1)
  fence.i
  call patch
  TEST_EQ 61, a0, 42
  PASS

  .data
  .balign 4
  /* code in the data section: it is patched at run time */
patch:
  .option push
  .option norvc
  addi a0, zero, 7
  ret
  .option pop
