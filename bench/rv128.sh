#!/bin/sh
# RV128 CPU benchmark: the port of bench/cpu.c (its CRC-32 and sieve, with a
# 128-bit checksum) built by vf_riscv::asm::programs::cpu_bench, run as a raw
# binary under `vfvm --raw --stats` (release build); the same loop compiled
# from C for rv64 with bench/cpu.sh is the comparison. Writes bench/RV128-RESULTS.md.
#
# Usage: bench/rv128.sh [ROUNDS]      (default 100: about 0.22 G instructions)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
rounds=${1:-100}
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$root" && cargo build --release -q -p vfvm && cargo run --release -q -p vf-riscv --example rv128_cpu -- "$work/cpu128.bin" "$rounds")
vfvm="$target/release/vfvm"

/usr/bin/time -f '%U' -o "$work/user" "$vfvm" --raw "$work/cpu128.bin" --xlen 128 --stats 2> "$work/stats" || {
  echo "rv128 run failed:"; cat "$work/stats"; exit 1; }
insns=$(sed -n 's/^instructions: //p' "$work/stats")
secs=$(sed -n 's/^seconds: //p' "$work/stats")
mips=$(sed -n 's/^MIPS: //p' "$work/stats")
user=$(tail -1 "$work/user")
cpu_mips=$(awk -v n="$insns" -v u="$user" 'BEGIN { if (u > 0) printf "%.1f", n / u / 1e6; else print "-" }')

results="$here/RV128-RESULTS.md"
{
  echo "# RV128 CPU benchmark results"
  echo
  echo "bench/rv128.sh $rounds — $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "The program: vf_riscv::asm::programs::cpu_bench (bench/cpu.c's CRC-32 over 16 KiB and sieve to 65536 per round, in RV128 code from the project's assembler), checked against a Rust model (exit code 0)."
  echo "MIPS = guest instructions / wall-clock seconds of the whole run (user CPU seconds in brackets). Wall-clock figures on a loaded machine are noise: see the load average."
  echo
  echo "| program | instructions | seconds | MIPS | MIPS (CPU time) |"
  echo "|---|---|---|---|---|"
  echo "| cpu_bench rv128, $rounds rounds | $insns | $secs | $mips | $cpu_mips ($user s) |"
} > "$results"
echo "rv128: $insns instructions, $secs s, $mips MIPS (CPU time: $cpu_mips MIPS)"
echo "figures written to $results"
