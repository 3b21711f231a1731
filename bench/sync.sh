#!/bin/sh
# vfsync sync benchmark: first sync of 1,000 small files, first sync of one 200 MB file, and the
# re-sync after changing one byte of it. Writes bench/SYNC-RESULTS.md.
# Usage: nice bench/sync.sh            (release build)
#        PROFILE=dev nice bench/sync.sh (debug binaries, dependencies optimised; quicker to build)
# The load average at the start is recorded: on a busy machine the seconds are noise, the bytes
# are not.
set -eu
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
TARGET=${CARGO_TARGET_DIR:-target}
if [ "$PROFILE" = release ]; then
    cargo build --release -q -p vfsync-cli -p vfsync-server
    BIN=$TARGET/release
else
    cargo build -q -p vfsync-cli -p vfsync-server
    BIN=$TARGET/debug
fi
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN/vfsync-server" --listen "127.0.0.1:$PORT" --data "$WORK/data" --allow-register >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT INT TERM
i=0
until curl -s "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 200 ] || { echo "server did not start"; exit 1; }; sleep 0.1
done
export VFSYNC_PASSWORD=bench-password
URL=http://127.0.0.1:$PORT
"$BIN/vfsync" register -u bench "$URL" >/dev/null
"$BIN/vfsync" co "$URL/u/bench/home" "$WORK/small" >/dev/null
"$BIN/vfsync" create -u bench "$URL" big >/dev/null
"$BIN/vfsync" co "$URL/u/bench/big" "$WORK/big" >/dev/null

# Times a sync in DIR; prints "SECONDS BYTES" (bytes uploaded, from the command's summary line).
timed_sync() {
    start=$(date +%s.%N)
    out=$("$BIN/vfsync" -C "$1")
    end=$(date +%s.%N)
    bytes=$(printf '%s\n' "$out" | sed -n 's/^revision [0-9]* ([0-9]* blobs, \([0-9]*\) bytes uploaded)$/\1/p')
    echo "$(echo "$end - $start" | bc | sed 's/^\./0./') ${bytes:-0}"
}

python3 - "$WORK/small" <<'PY'
import os, sys
root = sys.argv[1]
for i in range(1000):
    d = os.path.join(root, "dir%02d" % (i % 50))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "file%04d.txt" % i), "wb") as f:
        f.write(os.urandom(100 + (i * 37) % 4000))
PY
set -- $(timed_sync "$WORK/small"); SMALL_S=$1; SMALL_B=$2
head -c 200000000 /dev/urandom >"$WORK/big/big.bin"
set -- $(timed_sync "$WORK/big"); BIG_S=$1; BIG_B=$2
printf '\001' | dd of="$WORK/big/big.bin" bs=1 seek=100000000 conv=notrunc status=none
set -- $(timed_sync "$WORK/big"); ONE_S=$1; ONE_B=$2
# The PBKDF2 key derivation is part of every run: measure a no-op sync for reference.
set -- $(timed_sync "$WORK/big"); NOOP_S=$1

cat >bench/SYNC-RESULTS.md <<MD
# vfsync sync benchmark

Measured by \`bench/sync.sh\` (profile: $PROFILE) on $(date -u +%Y-%m-%d), $(nproc) CPUs
($(uname -m)), against \`vfsync-server\` with its embedded store on 127.0.0.1. Seconds are wall
time of one \`vfsync\` run, including the password key derivation (PBKDF2, 600,000 iterations) and
the login. Bytes are what the client uploaded (encrypted, padded blobs). Load average at the
start: $LOAD (on a busy machine the seconds are noise; the bytes are exact).

| case | seconds | bytes uploaded |
|---|---|---|
| first sync, 1,000 small files (100 B..4 KB, 50 directories) | $SMALL_S | $SMALL_B |
| first sync, one 200 MB file | $BIG_S | $BIG_B |
| re-sync after changing 1 byte of the 200 MB file | $ONE_S | $ONE_B |
| re-sync with no change (key derivation + login + scan) | $NOOP_S | 0 |
MD
cat bench/SYNC-RESULTS.md
