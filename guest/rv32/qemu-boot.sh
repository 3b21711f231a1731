#!/bin/bash
# Boots the rv32 guest under QEMU's virt machine (Debian qemu-system-misc 7.2): OpenSBI 1.6
# fw_jump for rv32 (images/fw_jump-rv32.bin, built by build.sh: Debian has no rv32 firmware) at
# 0x80000000, guest/images/Image-rv32 at 0x80400000, the rv32 busybox initramfs, the console on
# virtio-console (hvc0) and virtio-rng: the same devices as the rv64 guest/qemu-boot.sh.
#
#   guest/rv32/qemu-boot.sh
#
# The console is this terminal; Ctrl-C goes to the guest. Leave the guest's shell (exit or
# Ctrl-D) to power off, which ends QEMU. Extra QEMU arguments go in $QEMU_EXTRA; KERNEL,
# INITRD and FIRMWARE override the image paths.
set -euo pipefail
RV32_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KERNEL=${KERNEL:-$RV32_DIR/../images/Image-rv32}
INITRD=${INITRD:-$RV32_DIR/images/initramfs.cpio.gz}
FIRMWARE=${FIRMWARE:-$RV32_DIR/images/fw_jump-rv32.bin}
for f in "$KERNEL" "$INITRD" "$FIRMWARE"; do
    [ -f "$f" ] || { echo "qemu-boot.sh: $f missing (guest/build.sh kernel-rv32, guest/rv32/build.sh)" >&2; exit 1; }
done
args=(-M virt -cpu rv32 -m 256 -smp 1 -display none -serial none -monitor none -no-reboot
    -bios "$FIRMWARE" -kernel "$KERNEL" -initrd "$INITRD"
    -append "console=hvc0 earlycon=sbi"
    -chardev stdio,id=con,signal=off
    -device virtio-serial-device -device virtconsole,chardev=con
    -device virtio-rng-device)
# shellcheck disable=SC2086 # QEMU_EXTRA is a list of arguments
exec qemu-system-riscv32 "${args[@]}" ${QEMU_EXTRA:-}
