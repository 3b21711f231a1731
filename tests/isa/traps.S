/* Synchronous exceptions: every cause a bare M/S/U machine can raise
 * without paging (page faults are in the vm_* tests), with mepc, mtval and
 * the mstatus stacking checked.
 *
 * Instruction-address-misaligned (cause 0) cannot happen on this hart:
 * with C, IALIGN is 16, jalr clears bit 0 and mepc/sepc[0] are zero, and
 * misa.C is not writable, so no fetch can be misaligned.
 */
#include "test.h"

TEST_MAIN
  /* ---- illegal instruction: mepc = the instruction, mtval = bits or 0 */
  la a1, 1f
  EXPECT_TRAP
1: .word 0xc0001073              /* csrrw x0, cycle, x0: write to a read-only CSR */
  CHECK_TRAP 1, CAUSE_ILLEGAL
  CHECK_EPC 2, a1
  li a2, 0xc0001073
  CHECK_TVAL_OR_0 3, a2
  la a1, 1f
  EXPECT_TRAP
1: .hword 0                      /* the all-zero 16-bit encoding is reserved */
  CHECK_TRAP 4, CAUSE_ILLEGAL
  CHECK_EPC 5, a1
  EXPECT_TRAP
  .word 0xffffffff & 0x0000007f | 0x00000000 | 0x0b  /* custom-0 opcode, unimplemented */
  CHECK_TRAP 6, CAUSE_ILLEGAL
  EXPECT_TRAP
  .word 0x00000073 | (0x7f << 25) | (0x1f << 20)  /* SYSTEM funct12 that is no instruction */
  CHECK_TRAP 7, CAUSE_ILLEGAL
#if XLEN == 32
  EXPECT_TRAP
  .word 0x02051513              /* slli a0, a0, 32: shamt[5] set is reserved on RV32 */
  CHECK_TRAP 8, CAUSE_ILLEGAL
  EXPECT_TRAP
  .word 0x0005051b              /* addiw: an RV64-only opcode */
  CHECK_TRAP 9, CAUSE_ILLEGAL
#endif

  /* ---- breakpoint */
  la a1, 1f
  EXPECT_TRAP
1: ebreak
  CHECK_TRAP 10, CAUSE_BREAKPOINT
  CHECK_EPC 11, a1
  CHECK_TVAL_OR_0 14, a1         /* the breakpoint's address, or 0 */
#ifdef __riscv_compressed
  la a1, 1f
  EXPECT_TRAP
1: c.ebreak
  CHECK_TRAP 12, CAUSE_BREAKPOINT
  CHECK_EPC 13, a1
#endif

  /* ---- environment calls from M, S and U; MPP records the mode */
  la a1, 1f
  EXPECT_TRAP
1: ecall
  CHECK_TRAP 20, CAUSE_ECALL_M
  CHECK_EPC 21, a1
  CHECK_STATUS 22, 11, 3, PRV_M
  CHECK_TVAL_OR_0 23, zero
  ENTER_MODE PRV_S
  EXPECT_TRAP
  ecall
  CHECK_TRAP 24, CAUSE_ECALL_S
  CHECK_STATUS 25, 11, 3, PRV_S
  TO_M
  ENTER_MODE PRV_U
  EXPECT_TRAP
  ecall
  CHECK_TRAP 26, CAUSE_ECALL_U
  CHECK_STATUS 27, 11, 3, PRV_U
  EXPECT_TRAP
  ebreak
  CHECK_TRAP 28, CAUSE_BREAKPOINT
  TO_M

  /* ---- MIE is stacked into MPIE on a trap and cleared */
  csrsi mstatus, MSTATUS_MIE
  EXPECT_TRAP
  ecall
  CHECK_STATUS 30, 3, 1, 0       /* MIE = 0 inside the handler */
  CHECK_STATUS 31, 7, 1, 1       /* MPIE = the old MIE */
  csrr a0, mstatus               /* mret restored MIE from MPIE */
  andi a0, a0, MSTATUS_MIE
  TEST_EQ 32, a0, MSTATUS_MIE
  csrci mstatus, MSTATUS_MIE

  /* ---- misaligned loads and stores work (no trap) */
  la s0, buf
  li a1, 0x11223344
  sw a1, 1(s0)
  lw a0, 1(s0)
  TEST_EQ 40, a0, 0x11223344
  li a1, 0x5566
  sh a1, 7(s0)
  lhu a0, 7(s0)
  TEST_EQ 41, a0, 0x5566
  lbu a0, 7(s0)
  TEST_EQ 42, a0, 0x66
  lw a0, 3(s0)                   /* bytes 3..6: 0x11, 0, 0, 0x66? no: */
  lbu a2, 4(s0)                  /* byte 4 is 0x11 (the top of the word at 1) */
  TEST_EQ 43, a2, 0x11
  lh a0, 7(s0)
  TEST_EQ 44, a0, 0x5566
#if XLEN == 64
  li a1, 0x0102030405060708
  sd a1, 13(s0)
  ld a0, 13(s0)
  TEST_EQR 45, a0, a1
  lwu a0, 15(s0)
  TEST_EQ 46, a0, 0x03040506
#endif
  /* misaligned across a page boundary */
  la s1, page_end
  li a1, 0x99aabbcc
  sw a1, -2(s1)
  lw a0, -2(s1)
  sext.w32 a1
  TEST_EQR 47, a0, a1
  lhu a0, 0(s1)
  TEST_EQ 48, a0, 0x99aa
  /* misaligned floating-point loads and stores */
  li a1, 0x3f800000
  sw a1, 21(s0)
  flw fa0, 21(s0)
  fsw fa0, 27(s0)
  lw a0, 27(s0)
  TEST_EQ 49, a0, 0x3f800000
  fsd fa0, 33(s0)
  fld fa1, 33(s0)
  feq.s a0, fa0, fa1
  TEST_EQ 50, a0, 1

  /* ---- misaligned atomics trap: LR as a load, SC/AMO as store/AMO
     (address-misaligned or access fault: the spec allows either).
     QEMU 7.2 reports a misaligned AMO as a *load* misalignment and lets
     a misaligned SC without a reservation fail silently; so AMO_CAUSES
     admits the former here and qemu_deviations.S holds the strict checks. */
#define AMO_CAUSES CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS, CAUSE_MISALIGNED_LOAD
  addi a1, s0, 2
  EXPECT_TRAP
  amoadd.w a0, a2, (a1)
  CHECK_TRAP3 60, AMO_CAUSES
  CHECK_TVAL_OR_0 61, a1
  EXPECT_TRAP
  amoswap.w a0, a2, (a1)
  CHECK_TRAP3 62, AMO_CAUSES
  EXPECT_TRAP
  lr.w a0, (a1)
  CHECK_TRAP2 63, CAUSE_MISALIGNED_LOAD, CAUSE_LOAD_ACCESS
  CHECK_TVAL_OR_0 64, a1
  /* the failed AMO did not write memory */
  li a3, 0x12345678
  sw a3, 4(s0)
  addi a1, s0, 5
  li a2, -1
  EXPECT_TRAP
  amoor.w a0, a2, (a1)
  lw a0, 4(s0)
  TEST_EQ 66, a0, 0x12345678
#if XLEN == 64
  addi a1, s0, 4
  EXPECT_TRAP
  amoadd.d a0, a2, (a1)
  CHECK_TRAP3 67, AMO_CAUSES
  EXPECT_TRAP
  lr.d a0, (a1)
  CHECK_TRAP2 68, CAUSE_MISALIGNED_LOAD, CAUSE_LOAD_ACCESS
#endif

  /* ---- access faults: nothing is mapped at UNMAPPED_ADDR */
  li a1, UNMAPPED_ADDR
  li a0, 0x77
  EXPECT_TRAP
  lw a0, 0(a1)
  CHECK_TRAP 70, CAUSE_LOAD_ACCESS
  CHECK_TVAL_OR_0 71, a1
  TEST_EQ 72, a0, 0x77           /* rd unchanged */
  EXPECT_TRAP
  sw a0, 0(a1)
  CHECK_TRAP 73, CAUSE_STORE_ACCESS
  CHECK_TVAL_OR_0 74, a1
  EXPECT_TRAP
  amoadd.w a0, a0, (a1)
  /* QEMU 7.2 raises a load access fault here (strict: qemu_deviations.S) */
  CHECK_TRAP2 75, CAUSE_STORE_ACCESS, CAUSE_LOAD_ACCESS
  EXPECT_TRAP
  lr.w a0, (a1)
  CHECK_TRAP 76, CAUSE_LOAD_ACCESS
  EXPECT_TRAP
  flw fa0, 8(a1)
  CHECK_TRAP 77, CAUSE_LOAD_ACCESS
  addi a1, a1, 8
  CHECK_TVAL_OR_0 78, a1
  /* instruction fetch: mepc = the target */
  li a1, UNMAPPED_ADDR
  EXPECT_TRAP_AT 1f
  jalr ra, 0(a1)
1: CHECK_TRAP 79, CAUSE_FETCH_ACCESS
  CHECK_EPC 80, a1
  CHECK_TVAL_OR_0 81, a1
  /* from U-mode too (PMP entry 0 grants everything that exists) */
  ENTER_MODE PRV_U
  li a1, UNMAPPED_ADDR
  EXPECT_TRAP
  lw a0, 0(a1)
  CHECK_TRAP 82, CAUSE_LOAD_ACCESS
  TO_M

  /* ---- mret / sret / wfi are illegal where the spec says so */
  ENTER_MODE PRV_U
  EXPECT_TRAP
  mret
  CHECK_TRAP 90, CAUSE_ILLEGAL
  EXPECT_TRAP
  sret
  CHECK_TRAP 91, CAUSE_ILLEGAL
  EXPECT_TRAP
  sfence.vma
  CHECK_TRAP 92, CAUSE_ILLEGAL
  TO_M
  ENTER_MODE PRV_S
  EXPECT_TRAP
  mret
  CHECK_TRAP 93, CAUSE_ILLEGAL
  TO_M
  PASS

  .data
  .balign 16
buf: .space 64
  .balign 4096
  .space 4092
page_end:
  .space 16
