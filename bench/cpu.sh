#!/bin/sh
# CPU-bound interpreter benchmark: builds bench/cpu.c for rv64 and rv32 with
# riscv64-unknown-elf-gcc -O2, runs it under `vfvm --elf --stats` (release
# build), and writes the figures to bench/RESULTS.md.
#
# Usage: bench/cpu.sh [ROUNDS]      (default 200: about 0.95 G instructions on rv64)
# Set QEMU=1 to add qemu-system-riscv64/32 (TCG) wall times for context.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
rounds=${1:-200}
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$root" && cargo build --release -q -p vfvm)
vfvm="$target/release/vfvm"

build() { # xlen march mabi
  riscv64-unknown-elf-gcc -O2 -mcmodel=medany -march="$2" -mabi="$3" \
    -nostdlib -nostartfiles -ffreestanding -DROUNDS="$rounds" \
    -T "$here/link.ld" "$here/start.S" "$here/cpu.c" -o "$work/cpu$1.elf"
}
build 64 rv64gc lp64d
build 32 rv32gc ilp32d

results="$here/RESULTS.md"
# Everything from the first "## " heading on (notes, history, callgrind
# counts) is written by hand and kept across runs.
notes="$work/notes.md"
if [ -f "$results" ]; then sed -n '/^## /,$p' "$results" > "$notes"; else : > "$notes"; fi
{
  echo "# CPU benchmark results"
  echo
  echo "bench/cpu.sh $rounds — $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "MIPS = guest instructions / wall-clock seconds of the whole run (user CPU seconds in brackets)."
  echo
  echo "| program | instructions | seconds | MIPS | MIPS (CPU time) |"
  echo "|---|---|---|---|---|"
} > "$results"

# rv64 with the block compiler (docs/jit.md; user CPU time includes its
# thread) and interpreted; rv32 is always interpreted.
for run in "64 jit" "64 no-jit" "32 no-jit"; do
  set -- $run
  x=$1
  flag=""; label="cpu.c rv$x (interpreted)"
  if [ "$2" = jit ]; then label="cpu.c rv$x (compiled)"; else flag=--no-jit; fi
  /usr/bin/time -f '%U' -o "$work/user" "$vfvm" --elf "$work/cpu$x.elf" --stats $flag 2> "$work/stats" || {
    echo "rv$x run failed:"; cat "$work/stats"; exit 1; }
  insns=$(sed -n 's/^instructions: //p' "$work/stats")
  secs=$(sed -n 's/^seconds: //p' "$work/stats")
  mips=$(sed -n 's/^MIPS: //p' "$work/stats")
  user=$(tail -1 "$work/user")
  cpu_mips=$(awk -v n="$insns" -v u="$user" 'BEGIN { if (u > 0) printf "%.1f", n / u / 1e6; else print "-" }')
  echo "| $label | $insns | $secs | $mips | $cpu_mips ($user s) |" >> "$results"
  echo "$label: $insns instructions, $secs s, $mips MIPS (CPU time: $cpu_mips MIPS)"
done

if [ "${QEMU:-0}" = 1 ]; then
  echo >> "$results"
  for x in 64 32; do
    start=$(date +%s.%N)
    timeout 120 "qemu-system-riscv$x" -machine spike -nographic -bios none \
      -kernel "$work/cpu$x.elf" -monitor none -serial none || true
    end=$(date +%s.%N)
    echo "qemu-system-riscv$x (TCG) on the same program: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') s wall" >> "$results"
  done
fi
if [ -s "$notes" ]; then
  echo >> "$results"
  cat "$notes" >> "$results"
fi
echo "figures written to $results"
