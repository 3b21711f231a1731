/*
 * Reference oracle for the vf-riscv FPU differential test (tests/fp_oracle.rs).
 *
 * Built with `riscv64-linux-gnu-gcc -static -O1` and run under qemu-riscv64.
 * Reads lines "INSN RS1 A B C FRM" (hexadecimal) from stdin. For each line it
 * places the 32-bit instruction word in an executable buffer, loads
 * x11 = RS1, f11 = A, f12 = B, f13 = C (raw 64-bit patterns, so NaN-boxing
 * violations reach the instruction), sets frm = FRM and clears fflags,
 * executes the instruction and prints "X10 F10 FFLAGS" in hexadecimal, or
 * "ILL" if it raised SIGILL. The test generates instructions with rd = 10,
 * rs1 = 11, rs2 = 12, rs3 = 13.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* io[0] rs1, io[1] a, io[2] b, io[3] c, io[4] frm; out: io[5] x10, io[6] f10, io[7] fflags. */
void run_insn(uint64_t *io, void *code);
__asm__(
    ".text\n"
    ".globl run_insn\n"
    "run_insn:\n"
    "  addi sp, sp, -16\n"
    "  sd ra, 0(sp)\n"
    "  sd a0, 8(sp)\n"
    "  mv t0, a1\n"
    "  ld a1, 0(a0)\n"
    "  fld f11, 8(a0)\n"
    "  fld f12, 16(a0)\n"
    "  fld f13, 24(a0)\n"
    "  ld t1, 32(a0)\n"
    "  fsrm t1\n"
    "  fsflags zero\n"
    "  li a0, 0\n"
    "  fmv.d.x f10, zero\n"
    "  jalr ra, t0, 0\n"
    "  frflags t1\n"
    "  ld t2, 8(sp)\n"
    "  sd a0, 40(t2)\n"
    "  fsd f10, 48(t2)\n"
    "  sd t1, 56(t2)\n"
    "  ld ra, 0(sp)\n"
    "  addi sp, sp, 16\n"
    "  ret\n");

static sigjmp_buf on_ill;

static void sigill(int sig) {
    (void)sig;
    siglongjmp(on_ill, 1);
}

int main(void) {
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    uint32_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sigill;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NODEFER;
    if (sigaction(SIGILL, &sa, NULL) != 0) {
        perror("sigaction");
        return 2;
    }
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        unsigned long long insn, rs1, a, b, c, frm;
        if (sscanf(line, "%llx %llx %llx %llx %llx %llx", &insn, &rs1, &a, &b, &c,
                   &frm) != 6) {
            fprintf(stderr, "oracle: bad input line: %s", line);
            return 2;
        }
        code[0] = (uint32_t)insn;
        code[1] = 0x00008067; /* ret */
        __builtin___clear_cache((char *)code, (char *)(code + 2));
        volatile uint64_t io[8] = {rs1, a, b, c, frm & 7, 0, 0, 0};
        if (sigsetjmp(on_ill, 1) == 0) {
            run_insn((uint64_t *)io, code);
            printf("%llx %llx %llx\n", (unsigned long long)io[5],
                   (unsigned long long)io[6], (unsigned long long)io[7]);
        } else {
            printf("ILL\n");
        }
    }
    fflush(stdout);
    return 0;
}
