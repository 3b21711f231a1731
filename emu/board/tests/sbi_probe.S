.option norvc
_start:
  auipc a1, 0
  addi a1, a1, 256   # the message ("hello"), then the mode word at +8
  lw s3, 8(a1)
  li a0, 5
  li a2, 0
  li a7, 0x4442434E  # DBCN write
  li a6, 0
  ecall
  mv s1, a1          # bytes written
  li a7, 0x10        # BASE probe_extension(DBCN)
  li a6, 3
  li a0, 0x4442434E
  ecall
  mv s2, a1
  li t3, 2
  beq s3, t3, idle
  bnez s3, fin
  li a7, 0x53525354  # SRST shutdown
  li a6, 0
  li a0, 0
  li a1, 0
  ecall
1: j 1b
fin:                 # test finisher: fail with code s1 + s2
  li t0, 0x100000
  add t1, s1, s2
  slli t1, t1, 16
  li t2, 0x3333
  or t1, t1, t2
  sw t1, 0(t0)
2: j 2b
idle:
  wfi
  j idle
