# shellcheck shell=bash
# Shared by guest/build.sh (rv64) and guest/rv32/build.sh: the fixed environment of a
# reproducible build, small helpers, and the root file system tree both guests boot.
# Source it after setting GUEST_DIR (the guest/ directory) and BUILD (the scratch directory).
# bash only (arrays, process substitution).

# --- the fixed environment of a reproducible build ---------------------------------------------
export LC_ALL=C TZ=UTC
umask 022
# 2024-01-01 00:00:00 UTC: the time stamp of every file and file system the builds make.
export SOURCE_DATE_EPOCH=1704067200
export KBUILD_BUILD_TIMESTAMP="Mon Jan  1 00:00:00 UTC 2024"
export KBUILD_BUILD_USER=vfsync KBUILD_BUILD_HOST=vfsync KBUILD_BUILD_VERSION=1
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
LINUX_TARBALL=/usr/src/linux-source-6.1.tar.xz
# busybox 1.35 from Debian bookworm's source package, for both guests.
BUSYBOX_DEB_VERSION=${BUSYBOX_DEB_VERSION:-1:1.35.0-4+deb12u1}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf '%s: error: %s\n' "${BUILD_NAME:-build.sh}" "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "missing tool '$1' (package $2)"; }
deb_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }

# The kernel's usr/gen_init_cpio, built once from the Linux source tarball (only that one file is
# extracted).
gen_init_cpio() {
    local tool=$BUILD/gen_init_cpio
    if [ ! -x "$tool" ]; then
        [ -f "$LINUX_TARBALL" ] || die "$LINUX_TARBALL not found (apt-get install linux-source-6.1)"
        log "building gen_init_cpio from $LINUX_TARBALL"
        mkdir -p "$BUILD/gen_init_cpio.src"
        tar -C "$BUILD/gen_init_cpio.src" -xJf "$LINUX_TARBALL" linux-source-6.1/usr/gen_init_cpio.c
        cc -O2 -o "$tool" "$BUILD/gen_init_cpio.src/linux-source-6.1/usr/gen_init_cpio.c"
    fi
    "$tool" "$@"
}

# The guest-side vflogin commands (docs/vflogin.md section 5): installed in /usr/bin; profile.sh
# is installed as /etc/profile.d/vflogin.sh, which every interactive shell sources (/etc/shrc).
VFLOGIN_COMMANDS=(vflogin vfsync vflogout)

# rootfs_list BUSYBOX_DIR: writes a gen_init_cpio list of the whole guest tree to stdout:
# directories, BUSYBOX_DIR/busybox and its applet links (BUSYBOX_DIR/busybox.links), the
# vflogin commands and the rootfs/ overlay, owned by 0:0 with fixed modes and times, sorted by path.
rootfs_list() {
    local bbdir=$1
    [ -x "$bbdir/busybox" ] || die "busybox not built yet (run the busybox stage)"
    # gen_init_cpio takes a regular file's mtime from the file: stage copies with fixed times.
    local stage=$BUILD/stage
    rm -rf "$stage"
    mkdir -p "$stage/vflogin"
    cp -p "$bbdir/busybox" "$stage/busybox"
    cp -a "$GUEST_DIR/rootfs" "$stage/rootfs"
    local c
    for c in "${VFLOGIN_COMMANDS[@]}" profile.sh; do
        cp "$GUEST_DIR/vflogin/$c" "$stage/vflogin/$c"
    done
    find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    local fixed=" bin dev etc etc/profile.d home mnt proc root sbin sys tmp usr usr/bin usr/sbin "
    {
        local d
        for d in $fixed; do
            case $d in
            tmp) echo "dir /$d 1777 0 0" ;;
            root) echo "dir /$d 0700 0 0" ;;
            *) echo "dir /$d 0755 0 0" ;;
            esac
        done
        echo "nod /dev/console 0600 0 0 c 5 1"
        echo "file /bin/busybox $stage/busybox 0755 0 0"
        # Applet links, relative to their directory. PID 1 is busybox init (/init for an
        # initramfs, /sbin/init for a disk root), configured by rootfs/etc/inittab.
        local link rel
        while IFS= read -r link; do
            case $link in
            /bin/busybox | /linuxrc) continue ;;
            /bin/*) rel=busybox ;;
            /sbin/*) rel=../bin/busybox ;;
            /usr/bin/* | /usr/sbin/*) rel=../../bin/busybox ;;
            *) die "unexpected busybox link $link" ;;
            esac
            echo "slink $link $rel 0777 0 0"
        done <"$bbdir/busybox.links"
        grep -qx /sbin/init "$bbdir/busybox.links" || die "busybox has no init applet"
        echo "slink /init bin/busybox 0777 0 0"
        for c in "${VFLOGIN_COMMANDS[@]}"; do
            grep -qx "/usr/bin/$c" "$bbdir/busybox.links" && die "busybox has an applet /usr/bin/$c"
            echo "file /usr/bin/$c $stage/vflogin/$c 0755 0 0"
        done
        echo "file /etc/profile.d/vflogin.sh $stage/vflogin/profile.sh 0644 0 0"
        # The overlay: every file under rootfs/, executable bit kept.
        local f p mode
        while IFS= read -r f; do
            p=${f#./}
            if [ -d "$stage/rootfs/$p" ]; then
                case $fixed in
                *" $p "*) ;;
                *) echo "dir /$p 0755 0 0" ;;
                esac
            else
                if [ -x "$stage/rootfs/$p" ]; then mode=0755; else mode=0644; fi
                echo "file /$p $stage/rootfs/$p $mode 0 0"
            fi
        done < <(cd "$stage/rootfs" && find . -mindepth 1 | sort)
    } | sort -k2,2
}

# write_initramfs BUSYBOX_DIR OUT_FILE: the tree as an uncompressed newc cpio. Uncompressed on
# purpose: gunzip in the guest cost about 75 M of the boot's 115 M instructions; a web server
# can still compress it on the wire.
write_initramfs() {
    log "writing $2"
    rootfs_list "$1" >"$BUILD/initramfs.list"
    # gen_init_cpio stamps directories, nodes and links with -t.
    gen_init_cpio -t "$SOURCE_DATE_EPOCH" "$BUILD/initramfs.list" >"$BUILD/initramfs.cpio"
    install -m 0644 "$BUILD/initramfs.cpio" "$2"
}
