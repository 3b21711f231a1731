#!/bin/bash
# The reference boot of the guest images under QEMU's virt machine (Debian qemu-system-misc 7.2),
# with the same devices our board has: OpenSBI fw_jump at 0x80000000, the kernel at 0x80200000,
# the console on virtio-console (hvc0), virtio-rng, and optionally virtio-blk and virtio-9p.
#
#   guest/qemu-boot.sh [initramfs]          busybox initramfs (the default)
#   guest/qemu-boot.sh disk [SHARE_DIR]     ext2 root on virtio-blk (root=/dev/vda rw, a throw-away
#                                           snapshot: the image is never written) and SHARE_DIR
#                                           (default: vm-configs/home) as the 9p share "home"
#
# The console is this terminal; Ctrl-C goes to the guest. Leave the guest's shell (exit or
# Ctrl-D) to power off, which ends QEMU. Extra QEMU arguments go in $QEMU_EXTRA.
set -euo pipefail
GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGES=$GUEST_DIR/images
mode=${1:-initramfs}

args=(-M virt -m 256 -smp 1 -display none -serial none -monitor none -no-reboot
    -bios "$IMAGES/fw_jump.bin" -kernel "$IMAGES/Image"
    -chardev stdio,id=con,signal=off
    -device virtio-serial-device -device virtconsole,chardev=con
    -device virtio-rng-device)
case $mode in
initramfs)
    args+=(-initrd "$IMAGES/initramfs.cpio.gz" -append "console=hvc0 earlycon=sbi")
    ;;
disk)
    share=${2:-$GUEST_DIR/../vm-configs/home}
    args+=(-append "console=hvc0 earlycon=sbi root=/dev/vda rw"
        -drive "file=$IMAGES/rootfs.ext2,format=raw,if=none,id=hd,snapshot=on"
        -device virtio-blk-device,drive=hd
        -fsdev "local,id=home,path=$share,security_model=none"
        -device virtio-9p-device,fsdev=home,mount_tag=home)
    ;;
*)
    echo "usage: $0 [initramfs | disk [SHARE_DIR]]" >&2
    exit 2
    ;;
esac
# shellcheck disable=SC2086 # QEMU_EXTRA is a list of arguments
exec qemu-system-riscv64 "${args[@]}" ${QEMU_EXTRA:-}
