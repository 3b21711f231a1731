#!/bin/bash
# shellcheck disable=SC2054 # commas inside QEMU option values
# The reference boot of the guest images under QEMU's virt machine (Debian qemu-system-misc 7.2),
# with the same devices our board has: OpenSBI fw_jump at 0x80000000, the kernel after it, the
# console on virtio-console (hvc0), virtio-rng, and optionally virtio-blk and virtio-9p.
#
#   guest/qemu-boot.sh [initramfs]          rv64: the busybox initramfs (the default)
#   guest/qemu-boot.sh disk [SHARE_DIR]     rv64: the ext2 root on virtio-blk (root=/dev/vda rw, a
#                                           throw-away snapshot: the image is never written) and
#                                           SHARE_DIR (default: vm-configs/home) as the 9p share "home"
#   guest/qemu-boot.sh rv32                 rv32: Image-rv32 and the rv32 initramfs, started by the
#                                           rv32 OpenSBI 1.6 fw_jump that rv32/build.sh builds
#                                           (Debian has no rv32 firmware)
#
# The console is this terminal; Ctrl-C goes to the guest. Leave the guest's shell (exit or
# Ctrl-D) or type poweroff to power off, which ends QEMU. Extra QEMU arguments go in $QEMU_EXTRA.
set -euo pipefail
GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGES=$GUEST_DIR/images
mode=${1:-initramfs}
CMDLINE="console=hvc0 earlycon=sbi"

qemu="qemu-system-riscv64"
args=(-M virt -m 256 -smp 1 -display none -serial none -monitor none -no-reboot
    -chardev stdio,id=con,signal=off
    -device virtio-serial-device -device virtconsole,chardev=con
    -device virtio-rng-device)
case $mode in
initramfs)
    args+=(-bios "$IMAGES/fw_jump.bin" -kernel "$IMAGES/Image"
        -initrd "$IMAGES/initramfs.cpio" -append "$CMDLINE")
    ;;
disk)
    share=${2:-$GUEST_DIR/../vm-configs/home}
    args+=(-bios "$IMAGES/fw_jump.bin" -kernel "$IMAGES/Image"
        -append "$CMDLINE root=/dev/vda rw"
        -drive "file=$IMAGES/rootfs.ext2,format=raw,if=none,id=hd,snapshot=on"
        -device virtio-blk-device,drive=hd
        -fsdev "local,id=home,path=$share,security_model=none"
        -device virtio-9p-device,fsdev=home,mount_tag=home)
    ;;
rv32)
    qemu="qemu-system-riscv32"
    args+=(-cpu rv32 -bios "$GUEST_DIR/rv32/images/fw_jump-rv32.bin"
        -kernel "$IMAGES/Image-rv32" -initrd "$GUEST_DIR/rv32/images/initramfs.cpio"
        -append "$CMDLINE")
    ;;
*)
    echo "usage: $0 [initramfs | disk [SHARE_DIR] | rv32]" >&2
    exit 2
    ;;
esac
# shellcheck disable=SC2086 # QEMU_EXTRA is a list of arguments
exec "$qemu" "${args[@]}" ${QEMU_EXTRA:-}
