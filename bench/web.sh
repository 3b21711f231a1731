#!/bin/sh
# Browser benchmark: guest MIPS of bench/cpu.c (rv64) in headless Chromium
# (the release page from web/build.sh) next to the native runner
# (`vfvm --elf --stats`), and seconds from navigation to the Linux shell
# prompt. Writes bench/WEB-RESULTS.md.
#
# Usage: bench/web.sh [ROUNDS]   (default 200, as bench/cpu.sh)
#        NATIVE_MIPS=N bench/web.sh   (no native run: N is the native figure)
# Needs: dist/ built (web/build.sh), chromium, node_modules (npm ci).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
rounds=${1:-200}
target=${CARGO_TARGET_DIR:-$root/target}
cd "$root"
[ -f dist/index.html ] || { echo "dist/ is not built: run web/build.sh" >&2; exit 1; }

mkdir -p dist/bench
riscv64-unknown-elf-gcc -O2 -mcmodel=medany -march=rv64gc -mabi=lp64d \
  -nostdlib -nostartfiles -ffreestanding -DROUNDS="$rounds" \
  -T "$here/link.ld" "$here/start.S" "$here/cpu.c" -o dist/bench/cpu.elf

# NATIVE_MIPS=N takes the native figure as given (e.g. from bench/RESULTS.md).
native=${NATIVE_MIPS:-}
if [ -z "$native" ] && cargo build --release -q -p vfvm 2>/dev/null; then
  stats=$(mktemp)
  # The page interprets, so the native figure is the interpreter's too (docs/jit.md).
  "$target/release/vfvm" --elf dist/bench/cpu.elf --stats --no-jit 2> "$stats" || true
  native=$(sed -n 's/^MIPS: //p' "$stats")
  rm -f "$stats"
fi
NATIVE_MIPS="$native" ROUNDS="$rounds" node "$here/web.mjs"
