#!/usr/bin/env bash
# Builds the web page into dist/ (release: LTO, then wasm-opt -O3), installing
# what is missing first. Nothing is downloaded at build time except crates
# (crates.io) and npm packages (npm registry): Trunk runs --offline with the
# wasm-bindgen and wasm-opt found on PATH.
#
#   web/build.sh            # release build into dist/
#   web/build.sh --debug    # quick unoptimised build
#
# Needs: cargo + rustup, Node.js + npm. wasm-opt is binaryen's from npm
# (package.json; Debian's binaryen 108 breaks wasm-bindgen's externref table).
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14        # the last Trunk that builds with Rust 1.85..1.95
# wasm-bindgen-cli must be exactly the version of the wasm-bindgen crate.
WB_VERSION=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' web/Cargo.toml)
export PATH="$HOME/.cargo/bin:$PATH"

have_version() { # tool expected-version-string
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qF "$2"
}

if ! have_version trunk "trunk $TRUNK_VERSION"; then
  echo "== installing trunk $TRUNK_VERSION (crates.io)"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi
if ! have_version wasm-bindgen "wasm-bindgen $WB_VERSION"; then
  echo "== installing wasm-bindgen-cli $WB_VERSION (crates.io)"
  # Not --locked: its lock file pins webpki-roots 1.0.11, which the crates.io
  # index reachable here lacks; cargo resolves 1.0.10 instead.
  cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if [ ! -d node_modules/@xterm/xterm ] || [ ! -x node_modules/.bin/wasm-opt ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  npm ci --ignore-scripts --no-audit --no-fund
fi
# binaryen's wasm-opt from npm (the version Trunkfile.toml names) before any
# other on PATH: binaryen <= 108 (Debian bookworm's) points wasm-bindgen's
# externref table export at the funcref table (binaryen issue 4711, fixed in
# 110), and the page then dies on load in WebAssembly.Table.set/grow.
export PATH="$PWD/node_modules/.bin:$PATH"
WASM_OPT_VERSION=$(wasm-opt --version | awk '{print $3}')
if ! grep -q "wasm_opt = \"version_$WASM_OPT_VERSION\"" Trunkfile.toml; then
  echo "wasm-opt is version $WASM_OPT_VERSION; Trunkfile.toml names another: Trunk would try to download it" >&2
  exit 1
fi

# Trunk runs offline (Trunkfile.toml), so cargo must have every crate already.
cargo fetch --target wasm32-unknown-unknown

mode=(--release)
if [ "${1:-}" = "--debug" ]; then mode=(); shift; fi
trunk build --config Trunkfile.toml "${mode[@]}" "$@"

# The VM configs and, if built, the guest images, where the configs expect
# them relative to the page (vm-configs/*.json name ../guest/images/...).
mkdir -p dist/vm-configs
cp vm-configs/*.json dist/vm-configs/
for d in guest/images guest/rv32/images; do
  if [ -d "$d" ]; then
    mkdir -p "dist/$d"
    cp -l "$d"/* "dist/$d/" 2>/dev/null || cp "$d"/* "dist/$d/"
  fi
done
# The ext2 root also as a chunked image (web/src/chunked.rs, docs/vm-config.md),
# and vm-configs/linux-rv64-disk.json naming it: the page fetches its chunks
# on demand (tests/browser/e2e.test.mjs boots it).
if [ -f guest/images/rootfs.ext2 ] && [ -f vm-configs/linux-rv64-disk.json ]; then
  web/chunk-image.sh guest/images/rootfs.ext2 dist/guest/images
  sed 's|"\(\.\./guest/images/rootfs\.ext2\)"|"\1.chunks.json"|' vm-configs/linux-rv64-disk.json \
    > dist/vm-configs/linux-rv64-disk-chunked.json
  grep -q 'rootfs\.ext2\.chunks\.json' dist/vm-configs/linux-rv64-disk-chunked.json || {
    echo "vm-configs/linux-rv64-disk.json no longer names ../guest/images/rootfs.ext2" >&2; exit 1; }
fi
echo "== dist/ is ready: serve it, e.g. vfsync-server --web dist"
