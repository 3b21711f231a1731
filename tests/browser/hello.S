/* A bare-metal RV64 program for the browser test: prints a greeting and
 * some UTF-8 through HTIF putchar (device 1, command 1), then exits with 7.
 * Build: riscv64-unknown-elf-gcc -nostdlib -march=rv64imac -mabi=lp64
 *        -Wl,-T,bench/link.ld -o hello.elf tests/browser/hello.S */
  .section .text.init
  .globl _start
_start:
  la s0, msg
  la s1, tohost
  la s2, fromhost
  li s3, 0x0101000000000000      /* dev 1, cmd 1 */
1:
  lbu a0, 0(s0)
  beqz a0, 3f
  or a0, a0, s3
  sd a0, 0(s1)
2:
  ld t0, 0(s2)                   /* wait for the acknowledgement */
  beqz t0, 2b
  sd zero, 0(s2)
  addi s0, s0, 1
  j 1b
3:
  li a0, (7 << 1) | 1            /* exit 7 */
  sd a0, 0(s1)
4: j 4b

  .section .rodata
msg:
  .string "hello from RISC-V \xce\xbb\xe2\x86\x92\xe2\x9c\x93\r\n"

  .section .tohost, "aw", @progbits
  .align 6
  .globl tohost
tohost: .dword 0
  .size tohost, 8
  .align 6
  .globl fromhost
fromhost: .dword 0
  .size fromhost, 8
