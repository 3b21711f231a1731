/* vfsync ISA test framework: macros shared by every test program.
 *
 * A test program is one assembly file that includes this header and defines
 * `test_main` (use TEST_MAIN).  It is linked with crt.S (start-up code, trap
 * handlers, HTIF exit and console) and link.ld.  Conventions:
 *   - gp (x3) holds the number of the current test case; a failure exits via
 *     HTIF with code gp, so "exit code 7" means "test case 7 failed".
 *   - The check macros clobber t5 and t6 only (TEST_FD also t4).  A failing
 *     TEST_EQ/TEST_EQR/CHECK_TRAP prints the value it got and the one it
 *     expected ("test 12: got 0x.. expected 0x..") before exiting.
 *   - Every trap is unexpected (and fails the program, printing the cause)
 *     unless EXPECT_TRAP armed the handler first.  The handler records
 *     cause/tval/epc/mstatus in `trap_info` and resumes at `resume` if
 *     EXPECT_TRAP_AT set one, otherwise after the trapping instruction.
 *     For interrupts it clears the interrupt's enable bit in mie (or sie)
 *     and returns to the interrupted instruction with MIE (SIE) off.
 *   - `ecall` with a7 == ECALL_TO_M (from any mode) returns to the next
 *     instruction in M-mode without recording anything: that is how tests
 *     get back to M-mode (macro TO_M).
 */
#ifndef VF_TEST_H
#define VF_TEST_H

#if __riscv_xlen == 64
#define LREG ld
#define SREG sd
#define REGBYTES 8
#else
#define LREG lw
#define SREG sw
#define REGBYTES 4
#endif

#define XLEN __riscv_xlen

/* trap_info layout: 8-byte slots on both XLENs (LREG reads the low half). */
#define TI_EXPECT   0
#define TI_CAUSE    8
#define TI_TVAL    16
#define TI_EPC     24
#define TI_STATUS  32
#define TI_RESUME  40
#define TI_COUNT   48
#define TI_MODE    56   /* 3 = taken in M, 1 = taken in S */
#define TI_SIZE    64

#define ECALL_TO_M 0x7654321

#define MSTATUS_SIE   (1 << 1)
#define MSTATUS_MIE   (1 << 3)
#define MSTATUS_SPIE  (1 << 5)
#define MSTATUS_MPIE  (1 << 7)
#define MSTATUS_SPP   (1 << 8)
#define MSTATUS_MPP   (3 << 11)
#define MSTATUS_FS    (3 << 13)
#define MSTATUS_MPRV  (1 << 17)
#define MSTATUS_SUM   (1 << 18)
#define MSTATUS_MXR   (1 << 19)
#define MSTATUS_TVM   (1 << 20)
#define MSTATUS_TW    (1 << 21)
#define MSTATUS_TSR   (1 << 22)

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#define CAUSE_MISALIGNED_FETCH   0
#define CAUSE_FETCH_ACCESS       1
#define CAUSE_ILLEGAL            2
#define CAUSE_BREAKPOINT         3
#define CAUSE_MISALIGNED_LOAD    4
#define CAUSE_LOAD_ACCESS        5
#define CAUSE_MISALIGNED_STORE   6
#define CAUSE_STORE_ACCESS       7
#define CAUSE_ECALL_U            8
#define CAUSE_ECALL_S            9
#define CAUSE_ECALL_M           11
#define CAUSE_FETCH_PAGE        12
#define CAUSE_LOAD_PAGE         13
#define CAUSE_STORE_PAGE        15

#define IRQ_BIT (1 << (XLEN - 1))
#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11

#define CLINT_BASE     0x2000000
#define CLINT_MSIP     (CLINT_BASE + 0)
#define CLINT_MTIMECMP (CLINT_BASE + 0x4000)
#define CLINT_MTIME    (CLINT_BASE + 0xbff8)

/* An address where nothing is mapped (access faults). */
#define UNMAPPED_ADDR 0x40000000

#define TEST_MAIN .text; .globl test_main; test_main:

/* Exit with success. */
#define PASS j pass

/* Fail with test number n. */
.macro FAIL n
  li gp, \n
  j fail
.endm

/* Check that register `reg` equals the constant `val`. */
.macro TEST_EQ n, reg, val
  li gp, \n
  li t6, \val
  beq \reg, t6, .Lok\@
  mv t5, \reg
  j fail_value
.Lok\@:
.endm

/* Check that two registers are equal. */
.macro TEST_EQR n, a, b
  li gp, \n
  beq \a, \b, .Lok\@
  mv t5, \a
  mv t6, \b
  j fail_value
.Lok\@:
.endm

/* Check the 32-bit word / 64-bit doubleword at `sym` (a label). */
.macro TEST_MEM32 n, sym, val
  li gp, \n
  la t6, \sym
  lw t6, 0(t6)
  li t5, \val
  sext.w32 t5
  beq t5, t6, .Lok\@
  j fail
.Lok\@:
.endm

/* On rv64 keep t5 as sign-extended 32-bit; on rv32 nothing to do. */
.macro sext.w32 r
#if XLEN == 64
  addiw \r, \r, 0
#endif
.endm

/* Compare 64-bit memory at 0(addr_reg) with the 64-bit constant hi:lo.
 * Works on both XLENs. Clobbers t5, t6. */
.macro TEST_MEM64 n, areg, hi, lo
  li gp, \n
  lw t6, 0(\areg)
  li t5, \lo
  sext.w32 t5
  bne t5, t6, .Lbad\@
  lw t6, 4(\areg)
  li t5, \hi
  sext.w32 t5
  beq t5, t6, .Lok\@
.Lbad\@:
  j fail
.Lok\@:
.endm

/* Arm the trap handler for exactly one trap, resuming after the trapping
 * instruction. */
.macro EXPECT_TRAP
  la t6, trap_info
  li t5, 1
  SREG t5, TI_EXPECT(t6)
  li t5, -1
  SREG t5, TI_CAUSE(t6)
.endm

/* Arm the trap handler for one trap, resuming at label `where`. */
.macro EXPECT_TRAP_AT where
  EXPECT_TRAP
  la t5, \where
  SREG t5, TI_RESUME(t6)
.endm

/* Check that the armed trap happened with cause `cause` (interrupts: give
 * IRQ_BIT|code). */
.macro CHECK_TRAP n, cause
  li gp, \n
  la t6, trap_info
  LREG t5, TI_EXPECT(t6)
  bnez t5, .Lbad\@
  LREG t5, TI_CAUSE(t6)
  li t6, \cause
  beq t5, t6, .Lok\@
  j fail_value
.Lbad\@:
  j fail_notrap
.Lok\@:
.endm

/* Check that the armed trap happened with one of two causes (where the
 * specification leaves the choice to the implementation). */
.macro CHECK_TRAP2 n, cause1, cause2
  li gp, \n
  la t6, trap_info
  LREG t5, TI_EXPECT(t6)
  bnez t5, .Lbad\@
  LREG t5, TI_CAUSE(t6)
  li t6, \cause1
  beq t5, t6, .Lok\@
  li t6, \cause2
  beq t5, t6, .Lok\@
.Lbad\@:
  j fail
.Lok\@:
.endm

/* Same with three allowed causes. */
.macro CHECK_TRAP3 n, cause1, cause2, cause3
  li gp, \n
  la t6, trap_info
  LREG t5, TI_EXPECT(t6)
  bnez t5, .Lbad\@
  LREG t5, TI_CAUSE(t6)
  li t6, \cause1
  beq t5, t6, .Lok\@
  li t6, \cause2
  beq t5, t6, .Lok\@
  li t6, \cause3
  beq t5, t6, .Lok\@
.Lbad\@:
  j fail
.Lok\@:
.endm

/* Check that the recorded tval is either `reg` or zero (both allowed). */
.macro CHECK_TVAL_OR_0 n, reg
  li gp, \n
  la t6, trap_info
  LREG t6, TI_TVAL(t6)
  beqz t6, .Lok\@
  beq t6, \reg, .Lok\@
  j fail
.Lok\@:
.endm

/* Check the recorded xstatus field (mstatus or sstatus at trap time):
 * (status >> shift) & mask == val. */
.macro CHECK_STATUS n, shift, mask, val
  li gp, \n
  la t6, trap_info
  LREG t6, TI_STATUS(t6)
  srli t6, t6, \shift
  andi t6, t6, \mask
  li t5, \val
  beq t6, t5, .Lok\@
  j fail
.Lok\@:
.endm

/* Check the recorded tval / epc against a register. */
.macro CHECK_TVAL n, reg
  li gp, \n
  la t6, trap_info
  LREG t6, TI_TVAL(t6)
  beq t6, \reg, .Lok\@
  j fail
.Lok\@:
.endm
.macro CHECK_EPC n, reg
  li gp, \n
  la t6, trap_info
  LREG t6, TI_EPC(t6)
  beq t6, \reg, .Lok\@
  j fail
.Lok\@:
.endm
/* Check which handler took the last trap: PRV_M or PRV_S. */
.macro CHECK_TRAP_MODE n, mode
  li gp, \n
  la t6, trap_info
  LREG t6, TI_MODE(t6)
  li t5, \mode
  beq t6, t5, .Lok\@
  j fail
.Lok\@:
.endm

/* Check that no trap happened since EXPECT_TRAP (for "this must not trap"
 * checks use no macro at all: unexpected traps fail by themselves). */
.macro CHECK_NO_TRAP n
  li gp, \n
  la t6, trap_info
  LREG t5, TI_EXPECT(t6)
  bnez t5, .Lok\@
  j fail
.Lok\@:
  SREG zero, TI_EXPECT(t6)
.endm

/* Drop from M-mode to `mode` (PRV_S or PRV_U) and continue at the next
 * instruction; mret copies MPIE into MIE (M-mode interrupts are enabled in
 * S and U whatever MIE says). Clobbers t5, t6. */
.macro ENTER_MODE mode
  li t6, MSTATUS_MPP
  csrc mstatus, t6
  li t6, (\mode << 11)
  csrs mstatus, t6
  la t6, .Lnext\@
  csrw mepc, t6
  mret
.Lnext\@:
.endm

/* Return to M-mode from any mode (via the handler's ecall convention). */
.macro TO_M
  li a7, ECALL_TO_M
  ecall
  li a7, 0
.endm

/* Load the 32-bit pattern `bits` into float register f (via t6). */
.macro FLI_S f, bits
  li t6, \bits
  fmv.w.x \f, t6
.endm

/* Load the 64-bit pattern hi:lo into double register f (via memory). */
.macro FLI_D f, hi, lo
  .pushsection .data
  .balign 8
.Lc\@: .word \lo, \hi
  .popsection
  la t6, .Lc\@
  fld \f, 0(t6)
.endm

/* Check single-precision register f holds the bit pattern `bits`
 * (on rv64 also checks the NaN boxing). */
.macro TEST_FS n, f, bits
  li gp, \n
  fmv.x.w t6, \f
  li t5, \bits
  sext.w32 t5
  bne t5, t6, .Lbad\@
#if XLEN == 64 && defined(__riscv_d)
  fmv.x.d t6, \f
  srli t6, t6, 32
  li t5, 0xffffffff
  beq t5, t6, .Lok\@
#else
  j .Lok\@
#endif
.Lbad\@:
  j fail
.Lok\@:
.endm

/* Check double register f holds hi:lo. */
.macro TEST_FD n, f, hi, lo
  la t6, fp_scratch
  fsd \f, 0(t6)
  mv t4, t6
  TEST_MEM64 \n, t4, \hi, \lo
.endm

/* Check fflags == val and clear them. */
.macro TEST_FFLAGS n, val
  csrrw t6, fflags, zero
  TEST_EQ \n, t6, \val
.endm

#endif
