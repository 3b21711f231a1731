#!/bin/sh
# Writes the chunked form of a disk image (web/src/chunked.rs): chunk files
# IMAGE.NNNNNN of CHUNK bytes each (the last may be shorter) and the index
# IMAGE.chunks.json, in OUTDIR.
#
# Usage: web/chunk-image.sh IMAGE OUTDIR [CHUNK_BYTES]   (default 262144)
set -eu
img=$1; out=$2; chunk=${3:-262144}
[ -f "$img" ] || { echo "no such image: $img" >&2; exit 1; }
case $chunk in *[!0-9]*|'') echo "bad chunk size: $chunk" >&2; exit 1;; esac
[ $((chunk % 512)) -eq 0 ] || { echo "chunk size must be a multiple of 512" >&2; exit 1; }
size=$(stat -c %s "$img")
[ $((size % 512)) -eq 0 ] || { echo "image size $size is not a multiple of 512" >&2; exit 1; }
base=$(basename "$img")
mkdir -p "$out"
rm -f "$out/$base".[0-9][0-9][0-9][0-9][0-9][0-9]
split -b "$chunk" -d -a 6 "$img" "$out/$base."
{
  printf '{"size":%s,"chunk_size":%s,"chunks":[' "$size" "$chunk"
  first=1
  for f in "$out/$base".[0-9][0-9][0-9][0-9][0-9][0-9]; do
    [ -e "$f" ] || continue
    [ $first = 1 ] || printf ','
    first=0
    printf '"%s"' "$(basename "$f")"
  done
  printf ']}\n'
} > "$out/$base.chunks.json"
echo "$out/$base.chunks.json: $size bytes in chunks of $chunk"
