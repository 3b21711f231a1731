#!/bin/sh
# Regenerates vectors.txt from gen.c with the host's GCC (x86-64 only: the
# generator relies on __float128 and the SSE rounding mode). CI does not run
# this; the vectors are committed.
set -eu
cd "$(dirname "$0")"
[ "$(uname -m)" = x86_64 ] || { echo "regen.sh: needs an x86-64 host" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O1 -frounding-math -fsignaling-nans -o "$out/gen" gen.c -lquadmath -lm
"$out/gen" > vectors.txt
wc -l vectors.txt
