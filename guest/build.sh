#!/bin/bash
# Reproducible build of the vfsync guest from Debian bookworm packages.
#
#   guest/build.sh [STAGE...]
#
# Stages (default: all, in this order):
#   kernel-rv64  Linux 6.1 Image for rv64  (tinyconfig + kernel/common.config + kernel/rv64.config)
#   kernel-rv32  Linux 6.1 Image for rv32  (tinyconfig + kernel/common.config + kernel/rv32.config)
#   busybox      static rv64 busybox 1.35 from Debian's source package, configured by busybox-config
#   initramfs    initramfs.cpio: busybox, the vflogin commands and the rootfs/ overlay
#                (lib.sh; an uncompressed newc cpio by gen_init_cpio, fixed mtimes)
#   rootfs       rootfs.ext2: the same tree as an ext2 image (mke2fs -d, fixed UUID/hash seed/times)
#   firmware     fw_jump.bin copied from Debian's opensbi package
#   manifest     guest/images/MANIFEST (see check-manifest.sh)
#
# Environment:
#   GUEST_BUILD_DIR  scratch directory (default: <repo>/target/guest)
#   GUEST_OUT_DIR    where the images go (default: guest/images)
#   JOBS             parallel make jobs (default: nproc)
#
# Inputs: /usr/src/linux-source-6.1.tar.xz (package linux-source-6.1), `apt-get source busybox`
# (needs a deb-src entry for bookworm, see guest/README.md), riscv64-linux-gnu-gcc, e2fsprogs,
# fakeroot, cpio, opensbi. Every output is a function of these inputs only: times, user and
# host names are fixed below, archives are sorted, file systems get fixed UUIDs and seeds.
set -euo pipefail

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$GUEST_DIR/.." && pwd)
BUILD=${GUEST_BUILD_DIR:-$REPO_DIR/target/guest}
OUT=${GUEST_OUT_DIR:-$GUEST_DIR/images}
JOBS=${JOBS:-$(nproc)}

# The fixed environment (SOURCE_DATE_EPOCH, locale, umask, KBUILD_*), log/die/need,
# gen_init_cpio and the root file system tree (rootfs_list, write_initramfs): shared with rv32/.
export BUILD_NAME=build.sh
# shellcheck source=guest/lib.sh
. "$GUEST_DIR/lib.sh"
CROSS=riscv64-linux-gnu-
OPENSBI_FW=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin
# Fixed identities of the ext2 image.
EXT2_UUID=76667379-6e63-4000-8000-000000000001
EXT2_HASH_SEED=76667379-6e63-4000-8000-000000000002
EXT2_SIZE_MIB=16

mkdir -p "$BUILD/src" "$OUT"

# --- Linux -------------------------------------------------------------------------------------
KSRC=$BUILD/src/linux-source-6.1
linux_source() {
    [ -f "$LINUX_TARBALL" ] || die "$LINUX_TARBALL not found (apt-get install linux-source-6.1)"
    if [ ! -f "$KSRC/.vfsync-extracted" ]; then
        log "extracting $LINUX_TARBALL"
        rm -rf "$KSRC"
        tar -C "$BUILD/src" -xJf "$LINUX_TARBALL"
        touch "$KSRC/.vfsync-extracted"
    fi
}

# Every CONFIG_ line of the fragments must survive olddefconfig unchanged: a symbol whose
# dependencies are not met would otherwise vanish without a word.
check_kconfig() { # config fragment...
    local config=$1; shift
    local frag line sym
    for frag in "$@"; do
        while IFS= read -r line; do
            case $line in
            CONFIG_*=*) sym=${line%%=*}
                grep -qxF -- "$line" "$config" ||
                    die "$frag: '$line' did not survive olddefconfig (got: $(grep -E "^(# )?${sym}[= ]" "$config" || echo unset))" ;;
            "# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *}
                if grep -q -- "^$sym=" "$config"; then die "$frag: $sym is set although the fragment unsets it"; fi ;;
            esac
        done <"$frag"
    done
}

build_kernel() { # rv64|rv32
    local xlen=$1 name
    need "${CROSS}gcc" gcc-riscv64-linux-gnu
    need bc bc; need flex flex; need bison bison
    linux_source
    local obj=out-$xlen # a child of the source tree: the kernel then uses relative source paths
    local mk=(make -C "$KSRC" O="$obj" ARCH=riscv CROSS_COMPILE="$CROSS" LOCALVERSION=)
    log "configuring Linux for $xlen"
    "${mk[@]}" -s tinyconfig
    (cd "$KSRC/$obj" && "$KSRC/scripts/kconfig/merge_config.sh" -m -O . .config \
        "$GUEST_DIR/kernel/common.config" "$GUEST_DIR/kernel/$xlen.config" >/dev/null)
    "${mk[@]}" -s olddefconfig
    check_kconfig "$KSRC/$obj/.config" "$GUEST_DIR/kernel/common.config" "$GUEST_DIR/kernel/$xlen.config"
    log "building Linux Image for $xlen"
    "${mk[@]}" -s -j"$JOBS" Image
    if [ "$xlen" = rv64 ]; then name=Image; else name=Image-rv32; fi
    install -m 0644 "$KSRC/$obj/arch/riscv/boot/Image" "$OUT/$name"
    log "wrote $OUT/$name"
}

# --- busybox -----------------------------------------------------------------------------------
BBSRC=$BUILD/src/busybox-1.35.0
busybox_source() {
    if [ ! -f "$BBSRC/.vfsync-extracted" ]; then
        need dpkg-source dpkg-dev
        log "fetching the Debian source package busybox=$BUSYBOX_DEB_VERSION"
        rm -rf "$BBSRC"
        (cd "$BUILD/src" && apt-get source -q "busybox=$BUSYBOX_DEB_VERSION") ||
            die "apt-get source busybox=$BUSYBOX_DEB_VERSION failed (is there a deb-src entry? see guest/README.md)"
        [ -d "$BBSRC" ] || die "apt-get source did not make $BBSRC"
        touch "$BBSRC/.vfsync-extracted"
    fi
}

build_busybox() {
    need "${CROSS}gcc" gcc-riscv64-linux-gnu
    busybox_source
    local mk=(make -C "$BBSRC" ARCH=riscv CROSS_COMPILE="$CROSS")
    log "configuring busybox"
    cp "$GUEST_DIR/busybox-config" "$BBSRC/.config"
    "${mk[@]}" -s oldconfig </dev/null >/dev/null
    # busybox-config is a complete configuration: oldconfig must not change a single symbol.
    if ! diff <(grep -E '^(CONFIG_|# CONFIG_)' "$GUEST_DIR/busybox-config") \
        <(grep -E '^(CONFIG_|# CONFIG_)' "$BBSRC/.config") >&2; then
        die "guest/busybox-config is not a complete busybox 1.35 configuration (diff above)"
    fi
    log "building busybox"
    "${mk[@]}" -s -j"$JOBS" busybox busybox.links
    mkdir -p "$BUILD/busybox"
    install -m 0755 "$BBSRC/busybox" "$BUILD/busybox/busybox"
    install -m 0644 "$BBSRC/busybox.links" "$BUILD/busybox/busybox.links"
}

# --- the root file system tree -----------------------------------------------------------------
# rootfs_list and write_initramfs (lib.sh): busybox, its applet links, the vflogin commands and
# the rootfs/ overlay.
build_initramfs() {
    write_initramfs "$BUILD/busybox" "$OUT/initramfs.cpio"
}

# Unpacks the same tree into a directory (under fakeroot, so owners are 0:0 and /dev/console is a
# real device node) and makes an ext2 image of it with mke2fs -d.
build_rootfs() {
    need mke2fs e2fsprogs; need fakeroot fakeroot; need cpio cpio
    log "building rootfs.ext2"
    rootfs_list "$BUILD/busybox" >"$BUILD/rootfs.list"
    gen_init_cpio -t "$SOURCE_DATE_EPOCH" "$BUILD/rootfs.list" >"$BUILD/rootfs.cpio"
    local tree=$BUILD/rootfs-tree img=$BUILD/rootfs.ext2
    rm -rf "$tree" "$img"
    mkdir -p "$tree"
    truncate -s "${EXT2_SIZE_MIB}M" "$img"
    fakeroot -- sh -euc '
        cd "$1"
        cpio -id --quiet --preserve-modification-time <"$2"
        mke2fs -q -F -t ext2 -b 1024 -m 0 -I 256 -L vfsync-root \
            -U "$3" -E "hash_seed=$4,root_owner=0:0" \
            -d . "$5" "$6"M
    ' sh "$tree" "$BUILD/rootfs.cpio" "$EXT2_UUID" "$EXT2_HASH_SEED" "$img" "$EXT2_SIZE_MIB"
    # mke2fs copies each inode's ctime from the tree, which is the time of unpacking: set every
    # inode's times to SOURCE_DATE_EPOCH.
    local cmds=$BUILD/rootfs.debugfs
    : >"$cmds"
    (cd "$tree" && find . | sort) | while IFS= read -r p; do
        p=${p#.}; [ -z "$p" ] && p=/
        for field in atime ctime mtime crtime; do
            printf 'sif "%s" %s @%s\n' "$p" "$field" "$SOURCE_DATE_EPOCH" >>"$cmds"
        done
    done
    debugfs -w -f "$cmds" "$img" >/dev/null 2>"$BUILD/rootfs.debugfs.log" ||
        die "debugfs failed: $(cat "$BUILD/rootfs.debugfs.log")"
    if grep -v '^debugfs ' "$BUILD/rootfs.debugfs.log" | grep -q .; then
        die "debugfs reported: $(grep -v '^debugfs ' "$BUILD/rootfs.debugfs.log" | head -5)"
    fi
    e2fsck -fn "$img" >/dev/null 2>&1 || die "e2fsck found errors in $img (run e2fsck -fn $img)"
    install -m 0644 "$img" "$OUT/rootfs.ext2"
    log "wrote $OUT/rootfs.ext2"
}

build_firmware() {
    [ -f "$OPENSBI_FW" ] || die "$OPENSBI_FW not found (apt-get install opensbi)"
    install -m 0644 "$OPENSBI_FW" "$OUT/fw_jump.bin"
    log "wrote $OUT/fw_jump.bin"
}

# The manifest: the Debian packages the images come from, then (check-manifest.sh) the sha256 of
# every input and image.
MANIFEST_PACKAGES=(linux-source-6.1 gcc-riscv64-linux-gnu gcc-12-riscv64-linux-gnu
    binutils-riscv64-linux-gnu libc6-dev-riscv64-cross opensbi e2fsprogs fakeroot cpio)
build_manifest() {
    local p header=$BUILD/MANIFEST.header
    {
        echo "# vfsync guest images. Written by guest/build.sh; checked by guest/check-manifest.sh."
        echo "# Paths are relative to guest/. Rebuild with guest/build.sh after changing any input."
        echo "debian  busybox  $BUSYBOX_DEB_VERSION  (source package)"
        for p in "${MANIFEST_PACKAGES[@]}"; do
            printf 'debian  %s  %s\n' "$p" "$(deb_version "$p")"
        done
    } >"$header"
    "$GUEST_DIR/check-manifest.sh" --write rv64 "$header"
}

main() {
    local stages=("$@") s
    [ ${#stages[@]} -eq 0 ] && stages=(kernel-rv64 kernel-rv32 busybox initramfs rootfs firmware manifest)
    for s in "${stages[@]}"; do
        case $s in
        kernel-rv64) build_kernel rv64 ;;
        kernel-rv32) build_kernel rv32 ;;
        busybox) build_busybox ;;
        initramfs) build_initramfs ;;
        rootfs) build_rootfs ;;
        firmware) build_firmware ;;
        manifest) build_manifest ;;
        *) die "unknown stage '$s' (kernel-rv64 kernel-rv32 busybox initramfs rootfs firmware manifest)" ;;
        esac
    done
}

# One line, read whole before it runs: editing this file during a build cannot derail it.
main "$@"; exit
