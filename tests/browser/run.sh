#!/usr/bin/env bash
# The browser end-to-end test: installs the npm packages, builds the page
# (web/build.sh), builds the test program, serves dist/ and runs the test in
# headless Chromium (Debian package `chromium`).
#
#   tests/browser/run.sh            # release build
#   tests/browser/run.sh --debug    # quicker, unoptimised build
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "chromium is missing: apt-get install chromium" >&2
  exit 1
fi
web/build.sh "$@"   # also runs npm ci when node_modules is missing or stale

# A bare-metal program for the HTIF console test.
if command -v riscv64-unknown-elf-gcc >/dev/null; then
  mkdir -p dist/tests
  riscv64-unknown-elf-gcc -nostdlib -march=rv64imac -mabi=lp64 -Wl,-T,bench/link.ld \
    -o dist/tests/hello.elf tests/browser/hello.S
fi

# The test serves dist/ with vfsync-server, as `make run` does (on 127.0.0.1,
# a free port, a fresh data directory and Chromium profile, all removed after).
# The dev profile: it only serves files here, and `cargo test` has built its
# dependencies already (the release build would cost minutes of LTO in CI).
# home.test.mjs also runs the host's `vfsync` command.
if [ -z "${VFSYNC_SERVER:-}" ] || [ -z "${VFSYNC_CLI:-}" ]; then
  cargo build -p vfsync-server -p vfsync-cli
  export VFSYNC_SERVER="${VFSYNC_SERVER:-${CARGO_TARGET_DIR:-target}/debug/vfsync-server}"
  export VFSYNC_CLI="${VFSYNC_CLI:-${CARGO_TARGET_DIR:-target}/debug/vfsync}"
fi
# Bounded: every wait in the test is bounded too; this caps the whole run.
timeout 1800 node --test --test-concurrency=1 tests/browser/
