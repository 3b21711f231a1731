/*
 * mini-sbi: the smallest M-mode firmware that starts an rv32 Linux kernel
 * under QEMU's virt machine, for checking guest/images/Image-rv32 while
 * Debian has no rv32 OpenSBI. Not part of the guest images.
 *
 * It implements the SBI v0.1 (legacy) calls Linux 6.1 needs on one hart:
 * set_timer (EID 0x00), console_putchar (0x01, to QEMU's 16550 at
 * 0x1000_0000), console_getchar (0x02, always -1), shutdown (0x08, through
 * the sifive_test device at 0x10_0000). Every other EID, including the v0.2
 * BASE extension, returns SBI_ERR_NOT_SUPPORTED, so Linux falls back to v0.1.
 *
 * Entry (from QEMU): a0 = hart id, a1 = DTB. It delegates the S-mode
 * exceptions and interrupts, opens all memory to S mode with one PMP entry,
 * lets S mode read time/cycle/instret and use stimecmp (Sstc), and mrets to the kernel at
 * 0x8040_0000 in S mode with a0/a1 unchanged.
 *
 *   riscv64-unknown-elf-gcc -march=rv32ima_zicsr -mabi=ilp32 -nostdlib \
 *       -Wl,-Ttext=0x80000000 -o mini-sbi.elf mini-sbi.S
 */
#define KERNEL      0x80400000
#define UART        0x10000000
#define TEST        0x00100000
#define MTIMECMP    0x02004000
#define MIP_STIP    (1 << 5)
#define MIE_MTIE    (1 << 7)

    /* No gp-relative relaxation: gp is not set up here. */
    .option norelax
    .section .text
    .globl _start
_start:
    la      t0, trap
    csrw    mtvec, t0
    la      t0, stack_top
    csrw    mscratch, t0
    /* Exceptions 0-8 and 12, 13, 15 go to S mode; ecall from S (9) stays here. */
    li      t0, 0xb1ff
    csrw    medeleg, t0
    li      t0, 0x222               /* SSIP, STIP, SEIP */
    csrw    mideleg, t0
    li      t0, 7
    csrw    mcounteren, t0
    /* menvcfgh.STCE (bit 63 of menvcfg): S mode may use stimecmp (Sstc). QEMU's
       device tree declares Sstc, and Linux then writes stimecmp directly. */
    li      t0, 0x80000000
    csrs    0x31a, t0
    li      t0, -1
    csrw    pmpaddr0, t0
    li      t0, 0x0f                /* TOR, R, W, X */
    csrw    pmpcfg0, t0
    li      t0, MIE_MTIE
    csrw    mie, zero
    /* mstatus.MPP = S (01), MPIE = 0 */
    li      t0, (3 << 11)
    csrc    mstatus, t0
    li      t0, (1 << 11)
    csrs    mstatus, t0
    li      t0, KERNEL
    csrw    mepc, t0
    mret

    .align 2
trap:
    csrrw   sp, mscratch, sp
    addi    sp, sp, -16
    sw      t0, 0(sp)
    sw      t1, 4(sp)
    sw      t2, 8(sp)
    csrr    t0, mcause
    bltz    t0, interrupt
    li      t1, 9                   /* ecall from S */
    bne     t0, t1, hang
    csrr    t0, mepc
    addi    t0, t0, 4
    csrw    mepc, t0
    li      t1, 0x00
    beq     a7, t1, set_timer
    li      t1, 0x01
    beq     a7, t1, putchar
    li      t1, 0x02
    beq     a7, t1, getchar
    li      t1, 0x08
    beq     a7, t1, shutdown
    li      a0, -2                  /* SBI_ERR_NOT_SUPPORTED */
    li      a1, 0
    j       done

set_timer:                          /* a0 = low, a1 = high */
    li      t0, MTIMECMP
    li      t1, -1
    sw      t1, 4(t0)               /* no spurious match while the halves change */
    sw      a0, 0(t0)
    sw      a1, 4(t0)
    li      t0, MIP_STIP
    csrc    mip, t0
    li      t0, MIE_MTIE
    csrs    mie, t0
    li      a0, 0
    j       done

putchar:
    li      t0, UART
1:  lbu     t1, 5(t0)               /* LSR: wait for THR empty */
    andi    t1, t1, 0x20
    beqz    t1, 1b
    sb      a0, 0(t0)
    li      a0, 0
    j       done

getchar:
    li      a0, -1
    j       done

shutdown:
    li      t0, TEST
    li      t1, 0x5555
    sw      t1, 0(t0)
hang:
    wfi
    j       hang

interrupt:
    slli    t0, t0, 1
    srli    t0, t0, 1
    li      t1, 7                   /* machine timer: hand it to S mode */
    bne     t0, t1, done
    li      t0, MIE_MTIE
    csrc    mie, t0
    li      t0, MIP_STIP
    csrs    mip, t0

done:
    lw      t0, 0(sp)
    lw      t1, 4(sp)
    lw      t2, 8(sp)
    addi    sp, sp, 16
    csrrw   sp, mscratch, sp
    mret

    .section .bss
    .align 4
    .space 1024
stack_top:
