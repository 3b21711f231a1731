/* The signature printer of the differential tester (see diff/gen.rs).
 * sig_dump(a1 = seed low word, a2 = seed high word) prints the register
 * save area and scratch memory at diff_mem through the HTIF console. */
#include "test.h"

#define SCRATCH_BYTES 128
#define SAVE_X 512
#define SAVE_F (SAVE_X + 256)
#define SAVE_FCSR (SAVE_F + 256)

  .text
/* puthex32(a1): 8 hex digits of the low word; clobbers t0-t2, a0, a1, a3. */
puthex32:
  mv a4, ra
  li a3, 28
1: srl a0, a1, a3
  andi a0, a0, 15
  addi a0, a0, '0'
  li t0, '9'
  ble a0, t0, 2f
  addi a0, a0, 'a' - '9' - 1
2: call putc
  addi a3, a3, -4
  bgez a3, 1b
  mv ra, a4
  ret

  .globl sig_dump
sig_dump:
  mv s1, ra
  mv s2, a1
  li a0, '@'
  call putc
  mv a1, a2
  call puthex32
  mv a1, s2
  call puthex32
  li a0, '\n'
  call putc
  /* x1..x31 */
  la s3, diff_mem
  addi s4, s3, SAVE_X + REGBYTES
  li s5, 31
1: LREG a1, 0(s4)
  call puthex
  li a0, ' '
  call putc
  addi s4, s4, REGBYTES
  addi s5, s5, -1
  bnez s5, 1b
  li a0, '\n'
  call putc
  /* f0..f31, high word first */
  addi s4, s3, SAVE_F
  li s5, 32
1: lw a1, 4(s4)
  call puthex32
  lw a1, 0(s4)
  call puthex32
  li a0, ' '
  call putc
  addi s4, s4, 8
  addi s5, s5, -1
  bnez s5, 1b
  li a0, '\n'
  call putc
  /* fcsr */
  lw a1, SAVE_FCSR(s3)
  call puthex32
  li a0, '\n'
  call putc
  /* scratch words */
  mv s4, s3
  li s5, SCRATCH_BYTES / 4
1: lw a1, 0(s4)
  call puthex32
  li a0, ' '
  call putc
  addi s4, s4, 4
  addi s5, s5, -1
  bnez s5, 1b
  li a0, '\n'
  call putc
  mv ra, s1
  ret

/* diff_vm_on: paging on with an identity map of RAM for S-mode (Sv32:
 * two 4 MiB megapages; Sv39: one 1 GiB gigapage); diff_vm_off: paging
 * off.  M-mode only; clobber t0-t2. */
  .globl diff_vm_on
diff_vm_on:
  la t0, diff_pt
  li t1, (0x80000 << 10) | 0xcf          /* V R W X A D */
#if XLEN == 64
  sd t1, 2 * 8(t0)
  li t2, 8
  slli t2, t2, 60
#else
  li t2, 0x200 * 4
  add t2, t2, t0
  sw t1, 0(t2)
  li t1, (0x80400 << 10) | 0xcf
  sw t1, 4(t2)
  li t2, 1 << 31
#endif
  srli t0, t0, 12
  or t0, t0, t2
  csrw satp, t0
  sfence.vma
  ret
  .globl diff_vm_off
diff_vm_off:
  csrw satp, zero
  sfence.vma
  ret

  .data
  .balign 4096
diff_pt: .space 4096
  .balign 4096
  .globl diff_mem
diff_mem: .space 2048
