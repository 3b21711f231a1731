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
npm ci --ignore-scripts --no-audit --no-fund
web/build.sh "$@"

# A bare-metal program for the HTIF console test.
if command -v riscv64-unknown-elf-gcc >/dev/null; then
  mkdir -p dist/tests
  riscv64-unknown-elf-gcc -nostdlib -march=rv64imac -mabi=lp64 -Wl,-T,bench/link.ld \
    -o dist/tests/hello.elf tests/browser/hello.S
fi

# The test serves dist/ with vfsync-server, as `make run` does (on 127.0.0.1,
# a free port, a fresh data directory and Chromium profile, all removed after).
if [ -z "${VFSYNC_SERVER:-}" ]; then
  cargo build --release -p vfsync-server
  export VFSYNC_SERVER="${CARGO_TARGET_DIR:-target}/release/vfsync-server"
fi
# Bounded: every wait in the test is bounded too; this caps the whole run.
timeout 1800 node --test --test-concurrency=1 tests/browser/
