#!/bin/bash
# The figures of the synced home natively (issue 6): vfvm --sync against vfsync-server on
# 127.0.0.1, driven over the console by the ignored test `bench_home` of vfvm/tests/home.rs.
#
#   bench/home.sh            release build (what the recorded figures use); writes bench/HOME-RESULTS.md
#   PROFILE=dev bench/home.sh   the test profile (quicker to build; dependencies are optimised)
#   nice bench/home.sh       on a shared machine
#
# It measures, for a home of 1,000 files of 1 KiB in 10 directories plus a 10 MiB file:
# vflogin (password Enter to the prompt in the home, PBKDF2 included), the first listing of all
# 1,001 files, the first read of the 10 MiB file (fetched from the server on open), and vfsync
# of 100 changed files. Wall-clock seconds: noise on a loaded machine, so the load average is
# recorded beside them. Runs unattended in a few minutes once built.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
case $PROFILE in
release) flags=(--release) ;;
dev) flags=() ;;
*) echo "bench/home.sh: PROFILE must be release or dev" >&2; exit 2 ;;
esac
out=bench/HOME-RESULTS.md

echo "bench/home.sh: building ($PROFILE)" >&2
cargo build -q "${flags[@]}" -p vfsync-server -p vfsync-cli
cargo test -q "${flags[@]}" -p vfvm --test home --no-run

figures=$(mktemp)
trap 'rm -f "$figures"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench/home.sh: running (load average $load_before)" >&2
VF_HOME_BENCH_OUT=$figures cargo test -q "${flags[@]}" -p vfvm --test home -- \
    --ignored --exact bench_home >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

fig() { awk -v k="$1" '$1 == k { print $2 }' "$figures"; }
for k in host_upload boot vflogin usable open_10mb reread_10mb sync_100; do
    [ -n "$(fig "$k")" ] || { echo "bench/home.sh: figure $k missing" >&2; exit 1; }
done

cat >"$out" <<EOF
# The synced home natively: vfvm --sync (bench/home.sh)

Written by \`bench/home.sh\` (profile \`$PROFILE\`) on $(date -u '+%Y-%m-%d %H:%M UTC'),
$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),
load average $load_before before the run and $load_after after it (1, 5, 15 minutes).
Wall-clock seconds on the host: on a loaded machine they are noise, rerun on an idle one.

The home: 1,000 files of 1 KiB in 10 directories and a 10 MiB file (incompressible), uploaded
by the host's \`vfsync\` to \`vfsync-server\` on 127.0.0.1 (its embedded store); then the rv64
guest (vm-configs/linux-rv64.json) in \`vfvm --sync\`, driven over its console. Keys are derived
with PBKDF2 (600,000 rounds) in \`vflogin\`, as for a real user.

| what | seconds |
|---|---|
| vflogin: password Enter to the prompt in /home/alice (sign-in, manifest, tree of 1,001 files) | $(fig vflogin) |
| vflogin to a usable home: the above plus \`find . -type f \| wc -l\` listing all 1,001 files | $(fig usable) |
| first open of the 10 MiB file: \`wc -c < big.bin\` (fetched and decrypted on open) | $(fig open_10mb) |
| the same file again (cached in the host) | $(fig reread_10mb) |
| \`vfsync\` of 100 changed files (1 KiB each) | $(fig sync_100) |

Context: the host's \`vfsync\` uploaded the whole home in $(fig host_upload) s; vfvm booted to the
shell prompt in $(fig boot) s.

The browser's figures are in WEB-HOME-RESULTS.md (bench/web-home.mjs).
EOF
echo "bench/home.sh: wrote $out" >&2
cat "$out"
