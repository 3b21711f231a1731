#!/bin/bash
# Checks (or, with --write, rewrites) guest/images/MANIFEST.
#
# The manifest lists
#   - the Debian packages (name and version) the images were built from,
#   - "input  SHA256  MODE  PATH" for every build input: build.sh, this script, the kernel
#     configuration fragments, busybox-config and every file of the rootfs/ overlay,
#   - "image  SHA256  SIZE  PATH" for every file under guest/images/ except MANIFEST.
#
#   guest/check-manifest.sh          exit 1 unless every input and image matches the manifest
#                                    (so CI fails when an input changes without a rebuild, or an
#                                    image changes without a manifest update)
#   guest/check-manifest.sh --write  rewrite the manifest from the files as they are now
#                                    (build.sh does this as its last stage)
set -euo pipefail
export LC_ALL=C

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGES=${GUEST_OUT_DIR:-$GUEST_DIR/images}
MANIFEST=$IMAGES/MANIFEST
# Debian packages whose versions go into the manifest (binary packages installed on the build host).
PACKAGES=(linux-source-6.1 gcc-riscv64-linux-gnu gcc-12-riscv64-linux-gnu binutils-riscv64-linux-gnu
    libc6-dev-riscv64-cross opensbi e2fsprogs fakeroot cpio gzip)

# Paths relative to guest/, sorted.
input_files() {
    (cd "$GUEST_DIR" && {
        echo build.sh
        echo check-manifest.sh
        echo busybox-config
        find kernel rootfs -type f
    } | sort)
}

current_inputs() {
    local f mode
    while IFS= read -r f; do
        if [ -x "$GUEST_DIR/$f" ]; then mode=755; else mode=644; fi
        printf 'input  %s  %s  %s\n' "$(sha256sum <"$GUEST_DIR/$f" | cut -d' ' -f1)" "$mode" "$f"
    done < <(input_files)
}

current_images() {
    local f
    while IFS= read -r f; do
        printf 'image  %s  %s  %s\n' "$(sha256sum <"$IMAGES/$f" | cut -d' ' -f1)" \
            "$(stat -c %s "$IMAGES/$f")" "images/$f"
    done < <(cd "$IMAGES" && find . -type f ! -name MANIFEST | sed 's|^\./||' | sort)
}

if [ "${1:-}" = --write ]; then
    [ -d "$IMAGES" ] || { echo "check-manifest: $IMAGES does not exist" >&2; exit 1; }
    manifest=$(
        echo "# vfsync guest images. Written by guest/build.sh; checked by guest/check-manifest.sh."
        echo "# Paths are relative to guest/. Rebuild with guest/build.sh after changing any input."
        echo "debian  busybox  ${BUSYBOX_DEB_VERSION:-1:1.35.0-4+deb12u1}  (source package)"
        for p in "${PACKAGES[@]}"; do
            printf 'debian  %s  %s\n' "$p" "$(dpkg-query -W -f '${Version}' "$p" 2>/dev/null || echo unknown)"
        done
        current_inputs
        current_images
    )
    printf '%s\n' "$manifest" >"$MANIFEST"
    echo "check-manifest: wrote $MANIFEST" >&2
    exit 0
elif [ $# -ne 0 ]; then
    echo "usage: $0 [--write]" >&2
    exit 2
fi

[ -f "$MANIFEST" ] || { echo "check-manifest: $MANIFEST is missing (run guest/build.sh)" >&2; exit 1; }
status=0
if ! diff -u --label "MANIFEST (inputs)" --label "guest/ now (inputs)" \
    <(grep '^input ' "$MANIFEST") <(current_inputs); then
    echo "check-manifest: the build inputs differ from the manifest: rebuild with guest/build.sh" >&2
    status=1
fi
if ! diff -u --label "MANIFEST (images)" --label "guest/images now" \
    <(grep '^image ' "$MANIFEST") <(current_images); then
    echo "check-manifest: the images differ from the manifest: rebuild with guest/build.sh" >&2
    status=1
fi
[ $status -eq 0 ] && echo "check-manifest: inputs and images match $MANIFEST" >&2
exit $status
