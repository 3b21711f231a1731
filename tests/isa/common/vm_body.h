/* The body of the paging tests, shared by vm_sv32.S, vm_sv39.S and
 * vm_sv48.S: the including file defines VM_SV32, VM_SV39 or VM_SV48.
 *
 * Address space built at run time (in M-mode):
 *   - RAM (0x80000000..) identity-mapped for S by the largest page the
 *     mode has (4 MiB megapages on Sv32, a 1 GiB gigapage on Sv39/Sv48),
 *     so code, data, the trap handlers and the page tables are reachable;
 *   - TVA (0x40000000): sixteen 4 KiB test pages, one kind each (below),
 *     backed by `pages`;
 *   - TVA + 1*MEGA: a superpage onto physical 0x80400000 (aligned);
 *   - TVA + 2*MEGA: a superpage whose PPN is misaligned (a page fault);
 *   - Sv39/Sv48: 0xC0000000 a gigapage alias of RAM; Sv48: 0x8000000000 a
 *     512 GiB terapage onto physical 0.
 * Traps are not delegated: they land in M's handler (identity map: mepc
 * is a physical address of the instruction for the skip logic).
 */
#include "test.h"

#define PTE_V 0x01
#define PTE_R 0x02
#define PTE_W 0x04
#define PTE_X 0x08
#define PTE_U 0x10
#define PTE_G 0x20
#define PTE_A 0x40
#define PTE_D 0x80
#define RWXAD (PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)

#define TVA 0x40000000
#define PAGE(k) (TVA + (k) * 0x1000)
#ifdef VM_SV32
#define MEGA 0x400000
#define SATP_MODE (1 << 31)
#else
#define MEGA 0x200000
#endif
#ifdef VM_SV39
#define SATP_MODE (8 << 60)
#endif
#ifdef VM_SV48
#define SATP_MODE (9 << 60)
#define PT_GIGA pt_l2     /* the table holding the 1 GiB entries */
#else
#define PT_GIGA pt_root
#endif
#define SUPER_PA 0x80400000

/* page kinds */
#define K_RW      0   /* R W A D */
#define K_RO      1   /* R A */
#define K_NOA     2   /* R W, A = 0, D = 0 */
#define K_NOD     3   /* R W A, D = 0 */
#define K_USER    4   /* R W A D U */
#define K_XO      5   /* X A (holds code) */
#define K_INVALID 6   /* V = 0 */
#define K_WO      7   /* W only: reserved */
#define K_UCODE   8   /* R X A D U (holds code) */
#define K_NOX     9   /* R W A D (holds code, not executable) */
#define K_ALT     10  /* R W A D (the sfence.vma test retargets it) */

/* set PTE number `index` of `table` to map physical address in register
 * `pa` with `flags`; clobbers a0, a1, t0, t1 */
.macro SETPTE table, index, pa, flags
  mv a0, \pa
  srli a0, a0, 12
  slli a0, a0, 10
  li a1, \flags
  or a0, a0, a1
  la t0, \table
  li t1, (\index) * REGBYTES
  add t0, t0, t1
  SREG a0, 0(t0)
.endm
/* make PTE `index` of `table` point to the next-level `next` table */
.macro SETPTR table, index, next
  la a2, \next
  SETPTE \table, \index, a2, PTE_V
.endm

/* the address of test page k's PTE, in a0 */
.macro PTE_ADDR k
  la a0, pt_l0
  addi a0, a0, (\k) * REGBYTES
.endm

/* Expect either a page fault with `cause` or that the hardware set `bit`
 * in page k's PTE (the specification allows both for A/D updates). */
.macro CHECK_AD n, cause, k, bit
  la t6, trap_info
  LREG t5, TI_EXPECT(t6)
  bnez t5, .Lnotrap\@
  CHECK_TRAP \n, \cause
  j .Ldone\@
.Lnotrap\@:
  SREG zero, TI_EXPECT(t6)
  PTE_ADDR \k
  LREG a0, 0(a0)
  andi a0, a0, \bit
  TEST_EQ \n, a0, \bit
.Ldone\@:
.endm

/* set the flags of the RAM identity mapping */
.macro SET_IDENTITY flags
  li s0, 0x80000000
#ifdef VM_SV32
  SETPTE pt_root, 0x200, s0, \flags
  li s0, 0x80400000
  SETPTE pt_root, 0x201, s0, \flags
#else
  SETPTE PT_GIGA, 2, s0, \flags
#endif
  sfence.vma
.endm

TEST_MAIN
  mv s11, ra
  /* ---------------------------------------------------- build the tables */
  /* identity map of RAM */
  li s0, 0x80000000
#ifdef VM_SV32
  /* 0x80000000..0x80800000 as two 4 MiB megapages */
  SETPTE pt_root, 0x200, s0, RWXAD
  li s0, 0x80400000
  SETPTE pt_root, 0x201, s0, RWXAD
  SETPTR pt_root, 0x100, pt_l0           /* TVA */
  li s0, SUPER_PA
  SETPTE pt_root, 0x101, s0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  li s0, SUPER_PA + 0x1000               /* misaligned megapage */
  SETPTE pt_root, 0x102, s0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
#else
#ifdef VM_SV48
  SETPTR pt_root, 0, pt_l2
  li s0, 0
  SETPTE pt_root, 1, s0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D   /* terapage */
#endif
  li s0, 0x80000000
  SETPTE PT_GIGA, 2, s0, RWXAD            /* identity gigapage */
  SETPTE PT_GIGA, 3, s0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D   /* alias */
  SETPTR PT_GIGA, 1, pt_l1                /* 0x40000000.. */
  SETPTR pt_l1, 0, pt_l0                  /* TVA */
  li s0, SUPER_PA
  SETPTE pt_l1, 1, s0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  li s0, SUPER_PA + 0x1000
  SETPTE pt_l1, 2, s0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
#endif
  /* the 4 KiB test pages */
  la s1, pages
  .macro PAGEPTE k, flags
  li s0, (\k) * 0x1000
  add s0, s0, s1
  SETPTE pt_l0, \k, s0, \flags
  .endm
  PAGEPTE K_RW, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  PAGEPTE K_RO, PTE_V | PTE_R | PTE_A
  PAGEPTE K_NOA, PTE_V | PTE_R | PTE_W
  PAGEPTE K_NOD, PTE_V | PTE_R | PTE_W | PTE_A
  PAGEPTE K_USER, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D | PTE_U
  PAGEPTE K_XO, PTE_V | PTE_X | PTE_A
  PAGEPTE K_INVALID, PTE_R | PTE_W | PTE_A | PTE_D
  PAGEPTE K_WO, PTE_V | PTE_W | PTE_A | PTE_D
  PAGEPTE K_UCODE, PTE_V | PTE_R | PTE_X | PTE_A | PTE_D | PTE_U
  PAGEPTE K_NOX, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  PAGEPTE K_ALT, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  /* a marker word at the start of every test page: 0x1000 + k */
  li t2, 0
1: slli t3, t2, 12
  add t3, t3, s1
  addi t4, t2, 0x100
  sw t4, 0(t3)
  addi t2, t2, 1
  li t3, 16
  blt t2, t3, 1b
  /* code pages: "li a0, 42; ret" */
  li t2, 0x02a00513
  li t3, 0x00008067
  .irp k, K_XO, K_UCODE, K_NOX
  li t4, (\k) * 0x1000 + 16
  add t4, t4, s1
  sw t2, 0(t4)
  sw t3, 4(t4)
  .endr
  fence.i
  /* a marker at the superpage's physical address */
  li t2, SUPER_PA
  li t3, 0x5a5a
  sw t3, 0(t2)
  /* paging on */
  la t0, pt_root
  srli t0, t0, 12
  li t1, SATP_MODE
  or t0, t0, t1
  csrw satp, t0
  sfence.vma
  csrr a0, satp
  TEST_EQR 1, a0, t0                     /* the mode is supported */

  /* ---------------------------------------------------- S-mode accesses */
  ENTER_MODE PRV_S
  li s2, PAGE(K_RW)
  lw a0, 0(s2)
  TEST_EQ 2, a0, 0x100 + K_RW
  li a1, 0x1234
  sw a1, 4(s2)
  lw a0, 4(s2)
  TEST_EQ 3, a0, 0x1234
  /* read-only page: loads work, stores fault with stval = the address */
  li s2, PAGE(K_RO) + 8
  lw a0, -8(s2)
  TEST_EQ 4, a0, 0x100 + K_RO
  EXPECT_TRAP
  sw a1, 0(s2)
  CHECK_TRAP 5, CAUSE_STORE_PAGE
  CHECK_TVAL 6, s2
  EXPECT_TRAP
  amoadd.w a0, a1, (s2)                  /* AMOs are stores */
  CHECK_TRAP 7, CAUSE_STORE_PAGE
  /* invalid page: every access faults */
  li s2, PAGE(K_INVALID)
  EXPECT_TRAP
  lw a0, 0(s2)
  CHECK_TRAP 8, CAUSE_LOAD_PAGE
  CHECK_TVAL 9, s2
  EXPECT_TRAP
  sw a0, 0(s2)
  CHECK_TRAP 10, CAUSE_STORE_PAGE
  EXPECT_TRAP_AT 1f
  jalr ra, 0(s2)
1: CHECK_TRAP 11, CAUSE_FETCH_PAGE
  CHECK_TVAL 12, s2
  CHECK_EPC 13, s2
  /* W without R is reserved: a page fault */
  li s2, PAGE(K_WO)
  EXPECT_TRAP
  lw a0, 0(s2)
  CHECK_TRAP 14, CAUSE_LOAD_PAGE
  EXPECT_TRAP
  sw a0, 0(s2)
  CHECK_TRAP 15, CAUSE_STORE_PAGE
  /* A = 0: fault, or the hardware sets A */
  li s2, PAGE(K_NOA)
  EXPECT_TRAP
  lw a0, 0(s2)
  CHECK_AD 16, CAUSE_LOAD_PAGE, K_NOA, PTE_A
  /* D = 0: a store faults or sets D (loads never set D) */
  li s2, PAGE(K_NOD)
  lw a0, 0(s2)
  PTE_ADDR K_NOD
  LREG a0, 0(a0)
  andi a0, a0, PTE_D
  TEST_EQ 17, a0, 0
  EXPECT_TRAP
  sw a0, 0(s2)
  CHECK_AD 18, CAUSE_STORE_PAGE, K_NOD, PTE_D
  /* U page from S: faults without SUM, works with SUM */
  li s2, PAGE(K_USER)
  EXPECT_TRAP
  lw a0, 0(s2)
  CHECK_TRAP 19, CAUSE_LOAD_PAGE
  EXPECT_TRAP
  sw a0, 0(s2)
  CHECK_TRAP 20, CAUSE_STORE_PAGE
  li t0, MSTATUS_SUM
  csrs sstatus, t0
  lw a0, 0(s2)
  TEST_EQ 21, a0, 0x100 + K_USER
  sw a0, 4(s2)
  /* S never executes from a U page, SUM or not */
  li s3, PAGE(K_UCODE) + 16
  EXPECT_TRAP_AT 1f
  jalr ra, 0(s3)
1: CHECK_TRAP 22, CAUSE_FETCH_PAGE
  li t0, MSTATUS_SUM
  csrc sstatus, t0
  /* execute-only page: fetch works, loads need MXR */
  li s3, PAGE(K_XO) + 16
  li a0, 0
  jalr ra, 0(s3)
  TEST_EQ 23, a0, 42
  li s2, PAGE(K_XO)
  EXPECT_TRAP
  lw a0, 0(s2)
  CHECK_TRAP 24, CAUSE_LOAD_PAGE
  li t0, MSTATUS_MXR
  csrs sstatus, t0
  lw a0, 0(s2)
  TEST_EQ 25, a0, 0x100 + K_XO
  EXPECT_TRAP
  sw a0, 0(s2)                           /* MXR does not make it writable */
  CHECK_TRAP 26, CAUSE_STORE_PAGE
  li t0, MSTATUS_MXR
  csrc sstatus, t0
  /* no X: fetch faults */
  li s3, PAGE(K_NOX) + 16
  EXPECT_TRAP_AT 1f
  jalr ra, 0(s3)
1: CHECK_TRAP 27, CAUSE_FETCH_PAGE
  CHECK_TVAL 28, s3
  /* superpages */
  li s2, TVA + MEGA
  lw a0, 0(s2)
  TEST_EQ 30, a0, 0x5a5a
  li a1, 0x7777
  sw a1, 8(s2)
  li s2, TVA + MEGA + 0x1ff000            /* the far end of the superpage */
  sw a1, 0(s2)
  li s2, TVA + 2 * MEGA                   /* misaligned superpage */
  EXPECT_TRAP
  lw a0, 0(s2)
  CHECK_TRAP 31, CAUSE_LOAD_PAGE
#ifndef VM_SV32
  /* the gigapage alias at 0xC0000000 reads RAM */
  la s2, pages
  li t0, 0x40000000
  add s2, s2, t0
  lw a0, 0(s2)
  TEST_EQ 32, a0, 0x100
  /* non-canonical addresses fault */
#ifdef VM_SV39
  li s2, 0x0000004000000000
#else
  li s2, 0x0000800000000000
#endif
  EXPECT_TRAP
  lw a0, 0(s2)
  CHECK_TRAP 33, CAUSE_LOAD_PAGE
#endif
#ifdef VM_SV48
  /* the terapage at 0x8000000000 maps physical 0.. */
  la s2, pages
  li t0, 0x8000000000 - 0
  add s2, s2, t0
  lw a0, 4(s2)
  TEST_EQ 34, a0, 0x1234
#endif
  /* sfence.vma: retarget page K_ALT to K_RO's frame */
  li s2, PAGE(K_ALT)
  lw a0, 0(s2)
  TEST_EQ 35, a0, 0x100 + K_ALT
  la a2, pages
  li t0, K_RO * 0x1000
  add a2, a2, t0
  SETPTE pt_l0, K_ALT, a2, PTE_V | PTE_R | PTE_A
  sfence.vma s2, zero
  lw a0, 0(s2)
  TEST_EQ 36, a0, 0x100 + K_RO
  EXPECT_TRAP
  sw a0, 0(s2)
  CHECK_TRAP 37, CAUSE_STORE_PAGE
  TO_M

  /* ---------------------------------------------------- U-mode accesses */
  /* U cannot execute the framework's code through S pages: make the RAM
     identity map user pages for this phase (then S could not run it). */
  SET_IDENTITY RWXAD | PTE_U
  ENTER_MODE PRV_U
  li s2, PAGE(K_USER)
  lw a0, 0(s2)
  TEST_EQ 40, a0, 0x100 + K_USER
  li s3, PAGE(K_UCODE) + 16
  li a0, 0
  jalr ra, 0(s3)
  TEST_EQ 41, a0, 42
  li s2, PAGE(K_RW)
  EXPECT_TRAP
  lw a0, 0(s2)
  CHECK_TRAP 42, CAUSE_LOAD_PAGE
  TO_M
  SET_IDENTITY RWXAD

  /* ---------------------------------------------------- MPRV in M-mode */
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, (PRV_S << 11) | MSTATUS_MPRV
  csrs mstatus, t0
  li s2, PAGE(K_RW)
  lw a0, 0(s2)                           /* translated as S */
  TEST_EQ 50, a0, 0x100 + K_RW
  EXPECT_TRAP                            /* (its stores are translated as S) */
  li t0, MSTATUS_MPP
  csrc mstatus, t0                       /* MPP = U */
  lw a0, 0(s2)
  CHECK_TRAP 51, CAUSE_LOAD_PAGE
  /* the handler turned MPRV off: M accesses are physical again */
  la a0, pages
  lw a0, 0(a0)
  TEST_EQ 52, a0, 0x100
  /* MPRV with MPP = U reaches U pages; SUM does not matter for U */
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  li s2, PAGE(K_USER)
  lw a0, 0(s2)
  TEST_EQ 53, a0, 0x100 + K_USER
  /* MXR applies under MPRV too */
  li t0, (PRV_S << 11)
  csrs mstatus, t0
  li t0, MSTATUS_MXR
  csrs mstatus, t0
  li s2, PAGE(K_XO)
  lw a0, 0(s2)
  TEST_EQ 54, a0, 0x100 + K_XO
  li t0, MSTATUS_MXR | MSTATUS_MPRV
  csrc mstatus, t0
  /* ---------------------------------------------------- delegated faults */
  /* page faults delegated to S: the S handler (running translated) sees
     scause, stval = the address, sepc */
  li t0, (1 << CAUSE_LOAD_PAGE) | (1 << CAUSE_STORE_PAGE) | (1 << CAUSE_FETCH_PAGE)
  csrw medeleg, t0
  ENTER_MODE PRV_S
  li s2, PAGE(K_INVALID) + 12
  EXPECT_TRAP
  lw a0, 0(s2)
  CHECK_TRAP 60, CAUSE_LOAD_PAGE
  CHECK_TRAP_MODE 61, PRV_S
  CHECK_TVAL 62, s2
  li s2, PAGE(K_RO) + 4
  EXPECT_TRAP
  sh a0, 0(s2)
  CHECK_TRAP 63, CAUSE_STORE_PAGE
  CHECK_TRAP_MODE 64, PRV_S
  CHECK_TVAL 65, s2
  li s3, PAGE(K_NOX) + 16
  EXPECT_TRAP_AT 1f
  jalr ra, 0(s3)
1: CHECK_TRAP 66, CAUSE_FETCH_PAGE
  CHECK_TRAP_MODE 67, PRV_S
  CHECK_EPC 68, s3
  TO_M
  /* (not from U here: U runs this code only through user pages, which
     the S handler could not execute) */
  csrw medeleg, zero
  /* a misaligned load that crosses from a readable page into an invalid
     one faults (it is not split silently), with stval in the range */
  ENTER_MODE PRV_S
  li s2, PAGE(11) - 2                    /* K_ALT (readable), then no PTE */
  EXPECT_TRAP
  lw a0, 0(s2)
  CHECK_TRAP 71, CAUSE_LOAD_PAGE
  TO_M

  /* ---------------------------------------------------- malformed tables */
  /* a pointer PTE (V, R = W = X = 0) at the last level is a page fault */
  la a2, pages
  SETPTE pt_l0, 12, a2, PTE_V
  sfence.vma
  ENTER_MODE PRV_S
  li s2, PAGE(12)
  EXPECT_TRAP
  lw a0, 0(s2)
  CHECK_TRAP 72, CAUSE_LOAD_PAGE
  TO_M
#ifndef VM_SV32
  /* satp written with an unsupported MODE: the whole write is ignored */
  csrr a1, satp
  li t0, (5 << 60) | 0x1234
  csrw satp, t0
  csrr a0, satp
  TEST_EQR 73, a0, a1
#endif

  /* ---------------------------------------------------- PMP on the walk */
  /* the implicit page-table reads are checked by PMP as S-mode accesses:
     with pt_l0 inaccessible, a translation through it is an access fault */
  la t0, pt_l0
  srli t0, t0, 2
  ori t0, t0, 0x1ff                      /* 4 KiB NAPOT */
  csrw pmpaddr0, t0
  li t0, -1
  csrw pmpaddr1, t0
  li t0, (0x1f << 8) | 0x18              /* entry 0: NAPOT, none; entry 1: all */
  csrw pmpcfg0, t0
  sfence.vma
  ENTER_MODE PRV_S
  li s2, PAGE(K_RW)
  EXPECT_TRAP
  lw a0, 0(s2)
  CHECK_TRAP 80, CAUSE_LOAD_ACCESS
  EXPECT_TRAP
  sw a0, 0(s2)
  CHECK_TRAP 81, CAUSE_STORE_ACCESS
  li s3, PAGE(K_XO) + 16
  EXPECT_TRAP_AT 1f
  jalr ra, 0(s3)
1: CHECK_TRAP 82, CAUSE_FETCH_ACCESS
  li s2, TVA + MEGA                      /* the superpage needs no pt_l0 */
  lw a0, 0(s2)
  TEST_EQ 83, a0, 0x5a5a
  TO_M
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f
  csrw pmpcfg0, t0
  sfence.vma

  /* M-mode itself is never translated */
  li s2, PAGE(K_RW)
  li t0, 0x80000000
  mv a0, s1
  lw a0, 0(a0)
  TEST_EQ 55, a0, 0x100
  csrw satp, zero
  sfence.vma
  mv ra, s11
  PASS

  .data
  .balign 4096
pt_root: .space 4096
#ifndef VM_SV32
pt_l1: .space 4096
#endif
#ifdef VM_SV48
pt_l2: .space 4096
#endif
pt_l0: .space 4096
pages: .space 16 * 4096
