/* PMP: NAPOT, TOR and NA4 regions, R/W/X per region, priority of the
 * lowest-numbered matching entry, M-mode exemption unless locked, and the
 * lock bit (last: a locked entry stays until reset). */
#include "test.h"

#define PMP_R 0x01
#define PMP_W 0x02
#define PMP_X 0x04
#define PMP_TOR 0x08
#define PMP_NA4 0x10
#define PMP_NAPOT 0x18
#define PMP_L 0x80

TEST_MAIN
  /* code for the no-X test: "li a0, 42; ret" at the start of region */
  la s0, region
  li t0, 0x02a00513
  sw t0, 0(s0)
  li t0, 0x00008067
  sw t0, 4(s0)
  fence.i
  /* entry 0: region (4 KiB NAPOT), R only */
  srli t0, s0, 2
  ori t0, t0, 0x1ff
  csrw pmpaddr0, t0
  /* entry 1: TOR up to region + 8 KiB, no permissions (effective for the
     second page: the first matches entry 0, which has priority) */
  li t1, 8192
  add t1, t1, s0
  srli t1, t1, 2
  csrw pmpaddr1, t1
  /* entry 2: NA4 over the word at region + 8 KiB, no permissions */
  li t1, 8192
  add t1, t1, s0
  srli t1, t1, 2
  csrw pmpaddr2, t1
  /* entry 3: everything, RWX */
  li t0, -1
  csrw pmpaddr3, t0
  li t0, ((PMP_R | PMP_W | PMP_X | PMP_NAPOT) << 24) | ((PMP_NA4) << 16) | ((PMP_TOR) << 8) | (PMP_R | PMP_NAPOT)
  csrw pmpcfg0, t0
  csrr a0, pmpcfg0
  TEST_EQR 1, a0, t0
  csrr a0, pmpaddr1
  TEST_EQR 2, a0, t1

  ENTER_MODE PRV_S
  /* entry 0: R only */
  lw a0, 0(s0)
  TEST_EQ 10, a0, 0x02a00513
  addi s1, s0, 8
  EXPECT_TRAP
  sw a0, 0(s1)
  CHECK_TRAP 11, CAUSE_STORE_ACCESS
  CHECK_TVAL_OR_0 12, s1
  EXPECT_TRAP
  amoadd.w a0, a0, (s1)
  CHECK_TRAP 13, CAUSE_STORE_ACCESS
  EXPECT_TRAP_AT 1f
  jalr ra, 0(s0)
1: CHECK_TRAP 14, CAUSE_FETCH_ACCESS
  CHECK_EPC 15, s0
  /* entry 1 (TOR): nothing allowed */
  li s1, 4096
  add s1, s1, s0
  EXPECT_TRAP
  lw a0, 0(s1)
  CHECK_TRAP 16, CAUSE_LOAD_ACCESS
  CHECK_TVAL_OR_0 17, s1
  li t0, 4092
  add s1, s0, t0
  EXPECT_TRAP
  lw a0, 4(s1)                 /* the first word of the TOR page */
  CHECK_TRAP 18, CAUSE_LOAD_ACCESS
  lw a0, 0(s1)                 /* the last word of region: entry 0, readable */
  /* entry 2 (NA4): exactly one word */
  li s1, 8192
  add s1, s1, s0
  EXPECT_TRAP
  lw a0, 0(s1)
  CHECK_TRAP 19, CAUSE_LOAD_ACCESS
  lw a0, 4(s1)                 /* the next word: entry 3 */
  sw a0, 4(s1)
  TO_M
  ENTER_MODE PRV_U
  li s1, 8188                  /* the word before the NA4 one: TOR, denied */
  add s1, s1, s0
  EXPECT_TRAP
  lw a0, 0(s1)
  CHECK_TRAP 20, CAUSE_LOAD_ACCESS
  /* U is subject to the same entries */
  EXPECT_TRAP
  sw a0, 0(s0)
  CHECK_TRAP 21, CAUSE_STORE_ACCESS
  TO_M

  /* M-mode ignores unlocked entries */
  sw zero, 16(s0)
  li s1, 4096
  add s1, s1, s0
  lw a0, 0(s1)
  sw a0, 0(s1)

  /* no matching entry: S/U fail, M succeeds */
  csrw pmpcfg0, zero
  srli t0, s0, 2
  csrw pmpaddr0, t0
  li t0, (PMP_R | PMP_W | PMP_X | PMP_TOR)
  csrw pmpcfg0, t0             /* entry 0 TOR [0, pmpaddr0): region excluded */
  ENTER_MODE PRV_S
  EXPECT_TRAP
  lw a0, 0(s0)                 /* region is above pmpaddr0: no entry matches */
  CHECK_TRAP 30, CAUSE_LOAD_ACCESS
  TO_M
  lw a0, 0(s0)

  /* lock: entry 1 locked TOR without permissions applies to M as well,
     and its pmpaddr1 (and pmpaddr0, its TOR base) ignore writes */
  srli t0, s0, 2
  ori t0, t0, 0x1ff
  csrw pmpaddr0, t0
  li t1, 8192
  add t1, t1, s0
  srli t1, t1, 2
  csrw pmpaddr1, t1
  li t0, ((PMP_R | PMP_W | PMP_X | PMP_NAPOT) << 16) | ((PMP_TOR | PMP_L) << 8) | (PMP_R | PMP_NAPOT)
  li t1, -1
  csrw pmpaddr2, t1
  csrw pmpcfg0, t0
  li s1, 4096
  add s1, s1, s0
  EXPECT_TRAP
  lw a0, 0(s1)
  CHECK_TRAP 40, CAUSE_LOAD_ACCESS
  csrr a1, pmpaddr1
  csrw pmpaddr1, zero
  csrr a0, pmpaddr1
  TEST_EQR 41, a0, a1
  csrr a1, pmpaddr0
  csrw pmpaddr0, zero
  csrr a0, pmpaddr0
  TEST_EQR 42, a0, a1
  csrr a1, pmpcfg0
  csrw pmpcfg0, zero           /* entry 1's byte stays; others change */
  csrr a0, pmpcfg0
  li t0, 0xff00
  and a0, a0, t0
  and a1, a1, t0
  TEST_EQR 43, a0, a1
  PASS

  .data
  .balign 4096
region: .space 3 * 4096
