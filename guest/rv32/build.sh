#!/bin/bash
# Reproducible build of the rv32 (riscv32, ilp32d) userland of the vfsync guest.
#
#   guest/rv32/build.sh [STAGE...]
#
# Debian bookworm ships no riscv32 C library and no riscv32-linux cross compiler, so this builds:
#   musl       musl 1.2.5 (Debian trixie's source package; riscv32 support is new in 1.2.5) for
#              rv32imafdc/ilp32d with the bare-metal compiler riscv64-unknown-elf-gcc, whose rv32
#              multilib provides libgcc; plus a compiler wrapper riscv32-linux-musl-gcc (a gcc
#              specs file) that compiles against musl and the Linux UAPI headers and links
#              statically with musl's crt files, libc.a and the multilib's libgcc.a
#   busybox    busybox 1.35 (Debian bookworm's source package, the same as the rv64 guest),
#              configured by ../busybox-config (CONFIG_STATIC=y) with the few symbols of
#              busybox-overrides.config replaced (applets that cannot work on rv32), built with
#              the wrapper
#   initramfs  images/initramfs.cpio: busybox, its applet links, the vflogin commands and the
#              ../rootfs/ overlay (lib.sh: the same tree as rv64); sorted, fixed mtimes, owned by root
#   firmware   images/fw_jump-rv32.bin: OpenSBI 1.6 (Debian trixie's source package) for
#              PLATFORM=generic PLATFORM_RISCV_XLEN=32, for booting under QEMU
#   manifest   images/MANIFEST (sha256 of every input and output, package versions)
# Default: all stages in this order.
#
# Environment:
#   RV32_BUILD_DIR  scratch directory (default: <repo>/target/guest-rv32)
#   RV32_OUT_DIR    where the images go (default: guest/rv32/images)
#   JOBS            parallel make jobs (default: nproc)
#
# Source packages: apt-get source needs deb-src entries for bookworm (busybox) and trixie (musl,
# opensbi); see guest/rv32/README.md. Only source packages come from trixie.
set -euo pipefail

RV32_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GUEST_DIR=$(cd "$RV32_DIR/.." && pwd)
REPO_DIR=$(cd "$GUEST_DIR/.." && pwd)
BUILD=${RV32_BUILD_DIR:-$REPO_DIR/target/guest-rv32}
OUT=${RV32_OUT_DIR:-$RV32_DIR/images}
JOBS=${JOBS:-$(nproc)}

# The fixed environment (SOURCE_DATE_EPOCH, locale, umask, KBUILD_*), log/die/need, deb_version,
# gen_init_cpio and the root file system tree (rootfs_list, write_initramfs): shared with
# guest/build.sh, so both guests boot the same tree.
export BUILD_NAME=rv32/build.sh
# shellcheck source=guest/lib.sh
. "$GUEST_DIR/lib.sh"

MUSL_DEB_VERSION=${MUSL_DEB_VERSION:-1.2.5-3.1~deb13u1}
OPENSBI_DEB_VERSION=${OPENSBI_DEB_VERSION:-1.6-1}
# The ISA and ABI of every rv32 user program: the emulator implements F and D.
MARCH=rv32imafdc_zicsr_zifencei
MABI=ilp32d
ELFCC=riscv64-unknown-elf-gcc
# The multilib directory is chosen by -march; gcc 12 matches it only without the z* extensions.
LIBGCC_MARCH=rv32imafdc
# The Linux UAPI headers (linux/, asm/, ...) for riscv; they are XLEN-neutral.
UAPI_DIR=/usr/riscv64-linux-gnu/include
UAPI_SUBDIRS=(asm asm-generic drm linux misc mtd rdma scsi sound video xen)

SYSROOT=$BUILD/sysroot
WRAPPER=$BUILD/bin/riscv32-linux-musl-gcc

mkdir -p "$BUILD/src" "$OUT"

# Unpacks a Debian source package into $BUILD/src/DIR (once) and records its .dsc.
deb_source() { # package version dir
    local pkg=$1 version=$2 dir=$BUILD/src/$3
    if [ ! -f "$dir/.vfsync-extracted" ]; then
        need dpkg-source dpkg-dev
        log "fetching the Debian source package $pkg=$version"
        rm -rf "$dir"
        (cd "$BUILD/src" && apt-get source -q "$pkg=$version" >&2) ||
            die "apt-get source $pkg=$version failed (deb-src entries? see guest/rv32/README.md)"
        [ -d "$dir" ] || die "apt-get source did not make $dir"
        touch "$dir/.vfsync-extracted"
    fi
}
# The .dsc of a fetched source package (the epoch is not part of the file name).
dsc_of() { # package version
    local v=${2#*:}
    echo "$BUILD/src/${1}_$v.dsc"
}

# --- musl and the compiler wrapper -------------------------------------------------------------
MUSLSRC=$BUILD/src/musl-1.2.5
build_musl() {
    need "$ELFCC" gcc-riscv64-unknown-elf
    [ -d "$UAPI_DIR/linux" ] || die "$UAPI_DIR/linux missing (apt-get install linux-libc-dev-riscv64-cross)"
    deb_source musl "$MUSL_DEB_VERSION" musl-1.2.5
    local libgcc
    libgcc=$("$ELFCC" -march=$LIBGCC_MARCH -mabi=$MABI -print-libgcc-file-name)
    case $libgcc in */$LIBGCC_MARCH/$MABI/libgcc.a) ;; *) die "no $LIBGCC_MARCH/$MABI multilib libgcc ($libgcc)" ;; esac
    local tools=(AR=riscv64-unknown-elf-ar RANLIB=riscv64-unknown-elf-ranlib)
    log "configuring musl for riscv32 ($MARCH/$MABI)"
    rm -rf "$SYSROOT"
    (cd "$MUSLSRC" && make -s distclean >/dev/null 2>&1 || true)
    (cd "$MUSLSRC" && env CC="$ELFCC -march=$MARCH -mabi=$MABI" "${tools[@]}" ./configure \
        --target=riscv32-linux-musl --prefix="$SYSROOT" --disable-shared LIBCC="$libgcc" \
        >"$BUILD/musl-configure.log") || die "musl configure failed (see $BUILD/musl-configure.log)"
    log "building musl"
    make -C "$MUSLSRC" -s -j"$JOBS" "${tools[@]}" >/dev/null
    make -C "$MUSLSRC" -s "${tools[@]}" install >/dev/null
    log "installing the Linux UAPI headers from $UAPI_DIR"
    local d
    for d in "${UAPI_SUBDIRS[@]}"; do
        [ -d "$UAPI_DIR/$d" ] && cp -a "$UAPI_DIR/$d" "$SYSROOT/include/"
    done
    # The specs file: musl's headers (and the compiler's own, e.g. stdarg.h), Linux's predefined
    # macros (a bare-metal compiler does not define them), and a static link with musl's crt files,
    # libc.a and the multilib's libgcc.a instead of the bare-metal C library.
    # (cpp_options is used by -E only, cc1 by a compile.)
    local OS_DEFINES="-D__linux__ -D__linux -D__unix__ -D__unix"
    cat >"$SYSROOT/lib/musl.specs" <<EOF
%rename cpp_options old_cpp_options

*cpp_options:
-nostdinc -isystem $SYSROOT/include -isystem include%s $OS_DEFINES %(old_cpp_options)

*cc1:
%(cc1_cpu) -nostdinc -isystem $SYSROOT/include -isystem include%s $OS_DEFINES

*link_libgcc:
-L$SYSROOT/lib

*libgcc:
$libgcc

*lib:
--start-group -lc $libgcc --end-group

*startfile:
$SYSROOT/lib/crt1.o $SYSROOT/lib/crti.o

*endfile:
$SYSROOT/lib/crtn.o

*link:
-static -nostdlib -melf32lriscv %{rdynamic:-export-dynamic}

EOF
    mkdir -p "$(dirname "$WRAPPER")"
    cat >"$WRAPPER" <<EOF
#!/bin/sh
# riscv32-linux-musl-gcc: static rv32 Linux programs with musl (written by guest/rv32/build.sh).
exec $ELFCC -march=$MARCH -mabi=$MABI -specs=$SYSROOT/lib/musl.specs "\$@"
EOF
    chmod 0755 "$WRAPPER"
    # A smoke test of the wrapper: a static program that must be a riscv32 Linux executable.
    printf '#include <stdio.h>\nint main(void){printf("%%d\\n", 6*7);return 0;}\n' >"$BUILD/hello.c"
    "$WRAPPER" -O2 -o "$BUILD/hello" "$BUILD/hello.c"
    file "$BUILD/hello" | grep -q 'ELF 32-bit LSB executable, UCB RISC-V.*statically linked' ||
        die "the wrapper did not make a static rv32 executable: $(file "$BUILD/hello")"
    if command -v qemu-riscv32 >/dev/null; then
        [ "$(qemu-riscv32 "$BUILD/hello")" = 42 ] || die "hello under qemu-riscv32 did not print 42"
        log "musl smoke test under qemu-riscv32: ok"
    fi
}

# --- busybox -----------------------------------------------------------------------------------
BBSRC=$BUILD/src/busybox-1.35.0
build_busybox() {
    [ -x "$WRAPPER" ] || die "the musl stage has not run yet"
    deb_source busybox "$BUSYBOX_DEB_VERSION" busybox-1.35.0
    # CC is the wrapper; the other tools (ar, strip, ...) are the bare-metal binutils.
    local mk=(make -C "$BBSRC" ARCH=riscv CROSS_COMPILE=riscv64-unknown-elf- CC="$WRAPPER")
    log "configuring busybox from guest/busybox-config"
    "${mk[@]}" -s distclean >/dev/null
    # The rv64 configuration with the symbols of busybox-overrides.config replaced.
    local want=$BUILD/busybox-config.rv32 line sym
    cp "$GUEST_DIR/busybox-config" "$want"
    while IFS= read -r line; do
        case $line in
        CONFIG_*=*) sym=${line%%=*} ;;
        "# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
        *) continue ;;
        esac
        grep -qE "^(# )?${sym}[= ]" "$want" || die "busybox-overrides.config: $sym is not in busybox-config"
        sed -i -E "s/^(# )?$sym([= ].*)?\$/$line/" "$want"
    done <"$RV32_DIR/busybox-overrides.config"
    cp "$want" "$BBSRC/.config"
    "${mk[@]}" -s oldconfig </dev/null >/dev/null
    # oldconfig must not change a single symbol.
    if ! diff <(grep -E '^(CONFIG_|# CONFIG_)' "$want") \
        <(grep -E '^(CONFIG_|# CONFIG_)' "$BBSRC/.config") >&2; then
        die "busybox-config + busybox-overrides.config is not a complete busybox 1.35 configuration (diff above)"
    fi
    grep -qx 'CONFIG_STATIC=y' "$BBSRC/.config" || die "busybox-config must set CONFIG_STATIC=y"
    log "building busybox for rv32"
    "${mk[@]}" -s -j"$JOBS" busybox busybox.links >/dev/null
    file "$BBSRC/busybox" | grep -q 'ELF 32-bit LSB executable, UCB RISC-V.*statically linked' ||
        die "busybox is not a static rv32 executable: $(file "$BBSRC/busybox")"
    mkdir -p "$BUILD/busybox"
    install -m 0755 "$BBSRC/busybox" "$BUILD/busybox/busybox"
    install -m 0644 "$BBSRC/busybox.links" "$BUILD/busybox/busybox.links"
    if command -v qemu-riscv32 >/dev/null; then
        [ "$(qemu-riscv32 "$BUILD/busybox/busybox" sh -c 'echo $((6*7))')" = 42 ] ||
            die "busybox sh under qemu-riscv32 did not print 42"
        log "busybox smoke test under qemu-riscv32: ok"
    fi
}

# --- the initramfs -----------------------------------------------------------------------------
# lib.sh's tree (busybox, its applet links, the vflogin commands, guest/rootfs/), as rv64's.
build_initramfs() {
    write_initramfs "$BUILD/busybox" "$OUT/initramfs.cpio"
}

# --- OpenSBI for rv32 (for QEMU) ---------------------------------------------------------------
OPENSBI_ORIG_SHA256=d11702103f177a2914e94eec57ce5ed820296d874f6b6525c4482e55d71a3667
build_firmware() {
    need riscv64-linux-gnu-gcc gcc-riscv64-linux-gnu
    local v=${OPENSBI_DEB_VERSION%-*} tarball src
    tarball=$BUILD/src/opensbi_$v.orig.tar.gz
    src=$BUILD/src/opensbi-$v
    if [ ! -f "$tarball" ]; then
        log "fetching the Debian source package opensbi=$OPENSBI_DEB_VERSION (upstream tarball)"
        # The mirror may lack the .dsc; the upstream tarball is all the build uses (the
        # Debian patches only touch packaging), and its sha256 is checked below.
        (cd "$BUILD/src" && apt-get source -q --download-only "opensbi=$OPENSBI_DEB_VERSION" >&2) || true
        [ -f "$tarball" ] || die "could not fetch $tarball"
    fi
    echo "$OPENSBI_ORIG_SHA256  $tarball" | sha256sum -c --quiet - || die "$tarball: wrong sha256"
    rm -rf "$src"
    mkdir -p "$src"
    tar -C "$src" --strip-components=1 -xzf "$tarball"
    log "building OpenSBI $v fw_jump for rv32"
    make -C "$src" -s -j"$JOBS" CROSS_COMPILE=riscv64-linux-gnu- PLATFORM=generic \
        PLATFORM_RISCV_XLEN=32 OPENSBI_VERSION_GIT= BUILD_INFO=n >/dev/null
    install -m 0644 "$src/build/platform/generic/firmware/fw_jump.bin" "$OUT/fw_jump-rv32.bin"
}

# --- the manifest ------------------------------------------------------------------------------
# The header (source packages with the sha256 of their .dsc, tool packages), then
# check-manifest.sh adds the sha256 of every input and image; `make test` checks it.
build_manifest() {
    local header=$BUILD/MANIFEST.header f dsc
    log "writing $OUT/MANIFEST"
    {
        echo "# vfsync rv32 guest userland. Written by guest/rv32/build.sh; checked by guest/check-manifest.sh."
        echo "# Paths are relative to guest/. debian-source lines: source package, version, sha256 of the .dsc (or of the tarball used)."
        for f in "musl $MUSL_DEB_VERSION" "busybox $BUSYBOX_DEB_VERSION"; do
            # shellcheck disable=SC2086 # "package version": two words
            set -- $f
            dsc=$(dsc_of "$1" "$2")
            [ -f "$dsc" ] || die "$dsc missing (run the musl and busybox stages)"
            echo "debian-source  $1  $2  $(sha256sum <"$dsc" | cut -d' ' -f1)  $(basename "$dsc")"
        done
        echo "debian-source  opensbi  $OPENSBI_DEB_VERSION  $OPENSBI_ORIG_SHA256  opensbi_${OPENSBI_DEB_VERSION%-*}.orig.tar.gz"
        for f in gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf linux-libc-dev-riscv64-cross \
            gcc-riscv64-linux-gnu linux-source-6.1; do
            echo "debian  $f  $(deb_version "$f")"
        done
    } >"$header"
    RV32_OUT_DIR=$OUT "$GUEST_DIR/check-manifest.sh" --write rv32 "$header"
}

# --- main --------------------------------------------------------------------------------------
# Sourcing this file (for debugging) only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    stages=("$@")
    [ ${#stages[@]} -gt 0 ] || stages=(musl busybox initramfs firmware manifest)
    for s in "${stages[@]}"; do
        case $s in
        musl) build_musl ;;
        busybox) build_busybox ;;
        initramfs) build_initramfs ;;
        firmware) build_firmware ;;
        manifest) build_manifest ;;
        *) die "unknown stage '$s' (musl busybox initramfs firmware manifest)" ;;
        esac
    done
    log "done: $OUT"
fi
