#!/usr/bin/env bash
# Builds the initramfs of bench/boot.sh's "build of something small": the
# committed guest initramfs with a second cpio archive appended (Linux unpacks
# both), holding TinyCC for riscv64 with glibc's headers, start files and
# shared libraries, and TinyCC's own source, which the guest compiles.
#
#   bench/tcc-initrd.sh          # writes $OUT (default target/bench/initramfs-tcc.cpio)
#
# Inputs: Debian bookworm's tcc source package (`apt-get source tcc`, needs a
# deb-src entry as guest/README.md shows for busybox), riscv64-linux-gnu-gcc
# and libc6-dev-riscv64-cross (make setup installs both), cpio.
# In the guest: /usr/bin/tcc, /usr/include, /usr/lib (crt files, libc, libm,
# libtcc1.a under tcc/), /lib (the dynamic loader, so that what tcc links
# runs), /opt/tcc (the source: tcc -DONE_SOURCE=1 builds it whole).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/target/bench/initramfs-tcc.cpio}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SYSLIB=/usr/riscv64-linux-gnu/lib
SYSINC=/usr/riscv64-linux-gnu/include
for t in riscv64-linux-gnu-gcc cpio apt-get; do
  command -v "$t" >/dev/null || { echo "tcc-initrd: $t is missing (make setup)" >&2; exit 1; }
done
[ -f "$SYSLIB/crt1.o" ] || { echo "tcc-initrd: $SYSLIB/crt1.o is missing (libc6-dev-riscv64-cross)" >&2; exit 1; }

cd "$WORK"
echo "tcc-initrd: fetching Debian's tcc source" >&2
apt-get source -qq tcc >/dev/null 2>&1 || {
  echo "tcc-initrd: apt-get source tcc failed (is there a deb-src entry? see guest/README.md)" >&2; exit 1; }
src=$(find . -maxdepth 1 -type d -name 'tcc-*' | head -1)
[ -n "$src" ] || { echo "tcc-initrd: no tcc source tree" >&2; exit 1; }

echo "tcc-initrd: cross-building a static riscv64 tcc" >&2
(cd "$src" &&
  ./configure --prefix=/usr --cpu=riscv64 --cross-prefix=riscv64-linux-gnu- \
    --extra-ldflags=-static --sysincludepaths=/usr/include:/usr/lib/tcc/include \
    --libpaths=/usr/lib:/usr/lib/tcc --crtprefix=/usr/lib \
    --elfinterp=/lib/ld-linux-riscv64-lp64d.so.1 >/dev/null &&
  make -s tcc >/dev/null 2>&1 &&
  make -s -C lib XCC=riscv64-linux-gnu-gcc XAR=riscv64-linux-gnu-ar CC=riscv64-linux-gnu-gcc >/dev/null 2>&1)

root=$WORK/root
mkdir -p "$root"/usr/bin "$root"/usr/lib/tcc/include "$root"/usr/include "$root"/lib "$root"/opt/tcc
cp "$src/tcc" "$root/usr/bin/"
cp "$src/libtcc1.a" "$root/usr/lib/tcc/"
cp -r "$src"/include/. "$root/usr/lib/tcc/include/"
cp -r "$SYSINC"/. "$root/usr/include/"
cp "$SYSLIB"/{crt1.o,crti.o,crtn.o,libc_nonshared.a,libdl.a,libpthread.a} "$root/usr/lib/"
# The libraries where both tcc and the dynamic loader look; the loader also
# where programs name it.
cp "$SYSLIB"/{libc.so.6,libm.so.6,ld-linux-riscv64-lp64d.so.1} "$root/usr/lib/"
ln -s /usr/lib/ld-linux-riscv64-lp64d.so.1 "$root/lib/ld-linux-riscv64-lp64d.so.1"
# glibc's libc.so and libm.so are linker scripts naming the cross sysroot's paths.
printf 'OUTPUT_FORMAT(elf64-littleriscv)\nGROUP ( /usr/lib/libc.so.6 /usr/lib/libc_nonshared.a AS_NEEDED ( /lib/ld-linux-riscv64-lp64d.so.1 ) )\n' \
  > "$root/usr/lib/libc.so"
printf 'OUTPUT_FORMAT(elf64-littleriscv)\nGROUP ( /usr/lib/libm.so.6 )\n' > "$root/usr/lib/libm.so"
cp "$src"/*.c "$src"/*.h "$src"/*.def "$root/opt/tcc/"

mkdir -p "$(dirname "$OUT")"
cp "$ROOT/guest/images/initramfs.cpio" "$OUT"
# Fixed owner and times, sorted names: the archive depends on its inputs only.
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >> "$OUT"
echo "tcc-initrd: wrote $OUT ($(du -h "$OUT" | cut -f1))" >&2
