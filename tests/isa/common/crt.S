/* Start-up code, trap handlers, HTIF exit and console for the ISA tests.
 * See test.h for the conventions. */
#include "test.h"

  .section .text.init, "ax", @progbits
  .globl _start
_start:
  /* Deterministic register state. */
  li x1, 0
  li x2, 0
  li x3, 0
  li x4, 0
  li x5, 0
  li x6, 0
  li x7, 0
  li x8, 0
  li x9, 0
  li x10, 0
  li x11, 0
  li x12, 0
  li x13, 0
  li x14, 0
  li x15, 0
  li x16, 0
  li x17, 0
  li x18, 0
  li x19, 0
  li x20, 0
  li x21, 0
  li x22, 0
  li x23, 0
  li x24, 0
  li x25, 0
  li x26, 0
  li x27, 0
  li x28, 0
  li x29, 0
  li x30, 0
  li x31, 0
  la t0, m_trap
  csrw mtvec, t0
  la t0, s_trap
  csrw stvec, t0
  csrw medeleg, zero
  csrw mideleg, zero
  csrw mie, zero
  csrw satp, zero
  /* Without a PMP entry S/U may access nothing: give them everything. */
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f          /* NAPOT, R W X */
  csrw pmpcfg0, t0
  /* Let S/U read the counters. */
  li t0, 7
  csrw mcounteren, t0
  csrw scounteren, t0
  /* FPU on, rounding to nearest, flags clear. */
  li t0, MSTATUS_FS
  csrs mstatus, t0
  csrwi fcsr, 0
  la sp, stack_top
  li gp, 0
  call test_main
  j pass

  .text
/* ---------------------------------------------------------------- exits */
  .globl pass
pass:
  li a0, 1
  j htif_exit
/* fail_value: t5 = the value found, t6 = the value expected. */
  .globl fail_value
fail_value:
  mv s10, t5
  mv s11, t6
  la a1, msg_test_n
  call puts
  mv a1, gp
  call puthex
  la a1, msg_got
  call puts
  mv a1, s10
  call puthex
  la a1, msg_expected
  call puts
  mv a1, s11
  call puthex
  li a0, '\n'
  call putc
  j fail
/* fail_notrap: an armed trap did not happen. */
  .globl fail_notrap
fail_notrap:
  la a1, msg_test_n
  call puts
  mv a1, gp
  call puthex
  la a1, msg_notrap
  call puts
  j fail
  .globl fail
fail:
  /* code = test number; a failure with test number 0 still fails. */
  bnez gp, 1f
  li gp, 0x7ff
1:
  slli a0, gp, 1
  ori a0, a0, 1
  /* fall through */
  .globl htif_exit
htif_exit:
  /* Exits are issued from M-mode with translation off. */
  la t0, tohost
  sw a0, 0(t0)
  sw zero, 4(t0)
1: j 1b

/* ---------------------------------------------------------------- console */
/* putchar(a0); clobbers t0-t2.  M-mode only. */
  .globl putc
putc:
  la t0, tohost
  li t1, 0x01010000
  andi a0, a0, 0xff
  sw a0, 0(t0)
  sw t1, 4(t0)
  la t0, fromhost
1: lw t1, 0(t0)
  beqz t1, 1b
  sw zero, 0(t0)
  sw zero, 4(t0)
  ret

/* puts(a1 = NUL-terminated string); clobbers t0-t2, a0, a1, a2. */
  .globl puts
puts:
  mv a2, ra
1: lbu a0, 0(a1)
  beqz a0, 2f
  call putc
  addi a1, a1, 1
  j 1b
2: mv ra, a2
  ret

/* puthex(a1 = value): XLEN/4 hex digits; clobbers t0-t2, a0, a1, a2, a3. */
  .globl puthex
puthex:
  mv a2, ra
  li a3, XLEN - 4
1: srl a0, a1, a3
  andi a0, a0, 15
  addi a0, a0, '0'
  li t0, '9'
  ble a0, t0, 2f
  addi a0, a0, 'a' - '9' - 1
2: call putc
  addi a3, a3, -4
  bgez a3, 1b
  mv ra, a2
  ret

/* ---------------------------------------------------------------- M trap */
  .balign 4
m_trap:
  csrw mscratch, t0
  /* The handler runs with MPRV off (it may have been set by a test). */
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  la t0, m_save
  SREG t1, 1*REGBYTES(t0)
  SREG t2, 2*REGBYTES(t0)
  SREG t3, 3*REGBYTES(t0)
  csrr t1, mscratch
  SREG t1, 0*REGBYTES(t0)

  csrr t1, mcause
  /* The "return to M-mode" service. */
  bltz t1, 1f
  li t2, ECALL_TO_M
  bne a7, t2, 1f
  li t2, CAUSE_ECALL_U
  beq t1, t2, 2f
  li t2, CAUSE_ECALL_S
  beq t1, t2, 2f
  li t2, CAUSE_ECALL_M
  bne t1, t2, 1f
2:
  /* back in M with MIE = 0, whatever it was before */
  li t2, MSTATUS_MPP
  csrs mstatus, t2
  li t2, MSTATUS_MPIE
  csrc mstatus, t2
  csrr t2, mepc
  addi t2, t2, 4
  csrw mepc, t2
  j m_trap_return

1:
  la t0, trap_info
  LREG t2, TI_EXPECT(t0)
  beqz t2, m_unexpected
  SREG zero, TI_EXPECT(t0)
  SREG t1, TI_CAUSE(t0)
  csrr t2, mtval
  SREG t2, TI_TVAL(t0)
  csrr t2, mepc
  SREG t2, TI_EPC(t0)
  csrr t2, mstatus
  SREG t2, TI_STATUS(t0)
  LREG t2, TI_COUNT(t0)
  addi t2, t2, 1
  SREG t2, TI_COUNT(t0)
  li t2, PRV_M
  SREG t2, TI_MODE(t0)

  bgez t1, 3f
  /* Interrupt: disable its source in mie and return to the interrupted
     instruction with MIE off (so that one EXPECT_TRAP sees one interrupt
     even when several are pending). */
  li t2, 1
  sll t2, t2, t1          /* the shift uses the low bits: the code */
  csrc mie, t2
  li t2, MSTATUS_MPIE
  csrc mstatus, t2
  j m_trap_return
3:
  /* Exception: resume at TI_RESUME if set, else skip the instruction. */
  LREG t2, TI_RESUME(t0)
  beqz t2, 4f
  SREG zero, TI_RESUME(t0)
  csrw mepc, t2
  j m_trap_return
4:
  csrr t2, mepc
  lhu t3, 0(t2)
  andi t3, t3, 3
  addi t2, t2, 2
  li t1, 3
  bne t3, t1, 5f
  addi t2, t2, 2
5:
  csrw mepc, t2

m_trap_return:
  la t0, m_save
  LREG t1, 1*REGBYTES(t0)
  LREG t2, 2*REGBYTES(t0)
  LREG t3, 3*REGBYTES(t0)
  LREG t0, 0*REGBYTES(t0)
  mret

m_unexpected:
  /* Print what happened, then fail with the current test number. */
  la a1, msg_unexpected_m
  call puts
  csrr a1, mcause
  call puthex
  la a1, msg_epc
  call puts
  csrr a1, mepc
  call puthex
  la a1, msg_tval
  call puts
  csrr a1, mtval
  call puthex
  la a1, msg_test
  call puts
  mv a1, gp
  call puthex
  la a1, msg_last
  call puts
  la t0, trap_info
  LREG a1, TI_CAUSE(t0)
  call puthex
  la a1, msg_count
  call puts
  la t0, trap_info
  LREG a1, TI_COUNT(t0)
  call puthex
  li a0, ')'
  call putc
  li a0, '\n'
  call putc
  j fail

/* ---------------------------------------------------------------- S trap */
/* Same contract as m_trap, for traps delegated to S-mode.  Runs in S-mode;
 * tests that turn on paging identity-map the framework's text and data. */
  .balign 4
s_trap:
  csrw sscratch, t0
  la t0, s_save
  SREG t1, 1*REGBYTES(t0)
  SREG t2, 2*REGBYTES(t0)
  SREG t3, 3*REGBYTES(t0)
  csrr t1, sscratch
  SREG t1, 0*REGBYTES(t0)

  csrr t1, scause
  /* The "return to M-mode" service when ecall is delegated: ecall again
     from S (never delegated by the tests), which returns here in M-mode;
     then continue after the original ecall, in M-mode. */
  bltz t1, 1f
  li t2, ECALL_TO_M
  bne a7, t2, 1f
  li t2, CAUSE_ECALL_U
  beq t1, t2, 2f
  li t2, CAUSE_ECALL_S
  bne t1, t2, 1f
2:
  ecall
  csrr t2, sepc
  addi t2, t2, 4
  csrw mepc, t2
  li t2, MSTATUS_MPP
  csrs mstatus, t2
  li t2, MSTATUS_MPIE
  csrc mstatus, t2
  la t0, s_save
  LREG t1, 1*REGBYTES(t0)
  LREG t2, 2*REGBYTES(t0)
  LREG t3, 3*REGBYTES(t0)
  LREG t0, 0*REGBYTES(t0)
  mret
1:
  la t0, trap_info
  LREG t2, TI_EXPECT(t0)
  beqz t2, s_unexpected
  SREG zero, TI_EXPECT(t0)
  SREG t1, TI_CAUSE(t0)
  csrr t2, stval
  SREG t2, TI_TVAL(t0)
  csrr t2, sepc
  SREG t2, TI_EPC(t0)
  csrr t2, sstatus
  SREG t2, TI_STATUS(t0)
  LREG t2, TI_COUNT(t0)
  addi t2, t2, 1
  SREG t2, TI_COUNT(t0)
  li t2, PRV_S
  SREG t2, TI_MODE(t0)

  bgez t1, 3f
  li t2, 1
  sll t2, t2, t1
  csrc sie, t2
  li t2, MSTATUS_SPIE
  csrc sstatus, t2
  /* A software interrupt pending bit would fire again: clear SSIP. */
  li t3, IRQ_BIT | IRQ_SSI
  bne t1, t3, s_trap_return
  csrci sip, 2
  j s_trap_return
3:
  LREG t2, TI_RESUME(t0)
  beqz t2, 4f
  SREG zero, TI_RESUME(t0)
  csrw sepc, t2
  j s_trap_return
4:
  csrr t2, sepc
  lhu t3, 0(t2)
  andi t3, t3, 3
  addi t2, t2, 2
  li t1, 3
  bne t3, t1, 5f
  addi t2, t2, 2
5:
  csrw sepc, t2

s_trap_return:
  la t0, s_save
  LREG t1, 1*REGBYTES(t0)
  LREG t2, 2*REGBYTES(t0)
  LREG t3, 3*REGBYTES(t0)
  LREG t0, 0*REGBYTES(t0)
  sret

s_unexpected:
  /* Cannot print from S-mode: record the cause and go to M to report. */
  la t0, trap_info
  SREG t1, TI_CAUSE(t0)
  li t2, PRV_S
  SREG t2, TI_MODE(t0)
  csrr t2, sepc
  SREG t2, TI_EPC(t0)
  csrr t2, stval
  SREG t2, TI_TVAL(t0)
  li a7, ECALL_TO_M
  ecall
  la a1, msg_unexpected_s
  call puts
  la t0, trap_info
  LREG a1, TI_CAUSE(t0)
  call puthex
  la a1, msg_epc
  call puts
  la t0, trap_info
  LREG a1, TI_EPC(t0)
  call puthex
  la a1, msg_tval
  call puts
  la t0, trap_info
  LREG a1, TI_TVAL(t0)
  call puthex
  la a1, msg_test
  call puts
  mv a1, gp
  call puthex
  li a0, '\n'
  call putc
  j fail

  .section .rodata
msg_unexpected_m: .asciz "unexpected trap in M: cause="
msg_unexpected_s: .asciz "unexpected trap in S: cause="
msg_epc: .asciz " epc="
msg_tval: .asciz " tval="
msg_test: .asciz " test="
msg_last: .asciz " (last expected trap: cause="
msg_count: .asciz ", traps so far="
msg_test_n: .asciz "test 0x"
msg_got: .asciz ": got 0x"
msg_expected: .asciz " expected 0x"
msg_notrap: .asciz ": the expected trap did not happen\n"

  .data
  .balign 64
  .globl trap_info
trap_info: .space TI_SIZE
m_save: .space 8 * REGBYTES
s_save: .space 8 * REGBYTES
  .balign 8
  .globl fp_scratch
fp_scratch: .space 16

  .bss
  .balign 16
stack: .space 4096
stack_top:

  .section .tohost, "aw", @progbits
  .balign 64
  .globl tohost
tohost: .dword 0
  .size tohost, 8
  .balign 64
  .globl fromhost
fromhost: .dword 0
  .size fromhost, 8
