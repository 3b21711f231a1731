/*
 * RV32 reference oracle for the vf-riscv FPU differential test (tests/fp_oracle.rs).
 *
 * Freestanding (no libc: there is no rv32 glibc in Debian), built with
 *   riscv64-linux-gnu-gcc -march=rv32imafd_zicsr_zifencei -mabi=ilp32d
 *     -nostdlib -static -ffreestanding -O1 -Wl,-N
 * (-N makes the image writable and executable, so the instruction under test
 * can be patched into code_buf) and run under qemu-riscv32.
 *
 * Same protocol as oracle.c: reads lines "INSN RS1 A B C FRM" (hexadecimal),
 * executes INSN with x11 = low 32 bits of RS1, f11/f12/f13 = A/B/C (64-bit
 * patterns), frm = FRM, fflags cleared, and prints "X10 F10 FFLAGS". The test
 * sends only instructions that must be legal on RV32: an illegal one kills
 * the process with SIGILL, which fails the test.
 */
typedef unsigned int u32;
typedef unsigned long long u64;

static long syscall3(long n, long a, long b, long c) {
    register long a0 __asm__("a0") = a;
    register long a1 __asm__("a1") = b;
    register long a2 __asm__("a2") = c;
    register long a7 __asm__("a7") = n;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
    return a0;
}

static void exit_now(int code) {
    syscall3(93, code, 0, 0);
    for (;;) {
    }
}

static char in_buf[1 << 16];
static long in_len, in_pos;
static char out_buf[1 << 16];
static long out_len;

static void flush(void) {
    long off = 0;
    while (off < out_len) {
        long n = syscall3(64, 1, (long)(out_buf + off), out_len - off);
        if (n <= 0) exit_now(3);
        off += n;
    }
    out_len = 0;
}

/* Next input byte, or -1 at end of input. */
static int next_byte(void) {
    if (in_pos == in_len) {
        in_len = syscall3(63, 0, (long)in_buf, sizeof in_buf);
        in_pos = 0;
        if (in_len <= 0) return -1;
    }
    return (unsigned char)in_buf[in_pos++];
}

/* Parses one hexadecimal field; sets *eol at a newline; returns 0 at end of input. */
static int hex_field(u64 *v, int *eol) {
    int c = next_byte();
    while (c == ' ') c = next_byte();
    if (c < 0) return 0;
    u64 x = 0;
    int digits = 0;
    for (;; c = next_byte()) {
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else break;
        x = (x << 4) | (u64)d;
        digits++;
    }
    if (digits == 0) exit_now(2);
    *eol = (c == '\n');
    *v = x;
    return 1;
}

static void put_hex(u64 v, char end) {
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    if (out_len + 20 > (long)sizeof out_buf) flush();
    while (n) out_buf[out_len++] = tmp[--n];
    out_buf[out_len++] = end;
}

/* io: [0] rs1 (low word), [1..3] a, b, c, [4] frm; out [5] x10, [6] f10, [7] fflags. */
void run_insn(u64 *io, void *code);
__asm__(
    ".text\n"
    ".globl run_insn\n"
    "run_insn:\n"
    "  addi sp, sp, -16\n"
    "  sw ra, 0(sp)\n"
    "  sw a0, 4(sp)\n"
    "  mv t0, a1\n"
    "  lw a1, 0(a0)\n"
    "  fld f11, 8(a0)\n"
    "  fld f12, 16(a0)\n"
    "  fld f13, 24(a0)\n"
    "  lw t1, 32(a0)\n"
    "  fsrm t1\n"
    "  fsflags zero\n"
    "  li a0, 0\n"
    "  fcvt.d.w f10, zero\n"
    "  jalr ra, t0, 0\n"
    "  frflags t1\n"
    "  lw t2, 4(sp)\n"
    "  sw a0, 40(t2)\n"
    "  sw zero, 44(t2)\n"
    "  fsd f10, 48(t2)\n"
    "  sw t1, 56(t2)\n"
    "  sw zero, 60(t2)\n"
    "  lw ra, 0(sp)\n"
    "  addi sp, sp, 16\n"
    "  ret\n");

/* A page of its own: QEMU invalidates translated code per page when it is
 * written, so the oracle's own code must not share the page. */
static u32 code_buf[1024] __attribute__((aligned(4096)));

void oracle_main(void);
/* Entry: set up gp (the linker relaxes accesses to small data against it). */
__asm__(
    ".text\n"
    ".globl _start\n"
    "_start:\n"
    ".option push\n"
    ".option norelax\n"
    "  la gp, __global_pointer$\n"
    ".option pop\n"
    "  andi sp, sp, -16\n"
    "  call oracle_main\n");

void oracle_main(void) {
    for (;;) {
        u64 f[6];
        int eol = 0;
        int i;
        for (i = 0; i < 6; i++) {
            if (!hex_field(&f[i], &eol)) {
                if (i == 0) {
                    flush();
                    exit_now(0);
                }
                exit_now(2);
            }
            if (eol != (i == 5)) exit_now(2);
        }
        code_buf[0] = (u32)f[0];
        code_buf[1] = 0x00008067; /* ret */
        __asm__ volatile("fence.i" ::: "memory");
        volatile u64 io[8] = {f[1], f[2], f[3], f[4], f[5] & 7, 0, 0, 0};
        run_insn((u64 *)io, code_buf);
        put_hex(io[5], ' ');
        put_hex(io[6], ' ');
        put_hex(io[7], '\n');
    }
}
