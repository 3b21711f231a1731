#!/bin/bash
# Checks (or, with --write, rewrites) the manifests of the committed guest images:
#
#   rv64  guest/images/MANIFEST       (written by guest/build.sh)
#   rv32  guest/rv32/images/MANIFEST  (written by guest/rv32/build.sh)
#
# A manifest holds
#   - header lines: comments and the Debian packages (binary packages and versions; source
#     packages with the sha256 of their .dsc) the images were built from; written by the build;
#   - "input  SHA256  MODE  PATH" for every build input of that guest (the list is below);
#   - "image  SHA256  SIZE  PATH" for every file of its images directory except MANIFEST.
# Paths are relative to guest/.
#
#   guest/check-manifest.sh                        exit 1 unless every input and image of both
#                                                  guests matches its manifest (so CI fails when an
#                                                  input changes without a rebuild, or an image
#                                                  changes without a manifest update)
#   guest/check-manifest.sh --write GUEST [HEADER] rewrite GUEST's (rv64 or rv32) manifest from
#                                                  the files as they are now; the header lines come
#                                                  from the file HEADER, or are kept from the
#                                                  current manifest
#
# GUEST_OUT_DIR and RV32_OUT_DIR override the images directories (as in the build scripts).
set -euo pipefail
export LC_ALL=C

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# images_dir GUEST: the directory of GUEST's images; prefix GUEST: their paths relative to guest/.
images_dir() {
    case $1 in
    rv64) echo "${GUEST_OUT_DIR:-$GUEST_DIR/images}" ;;
    rv32) echo "${RV32_OUT_DIR:-$GUEST_DIR/rv32/images}" ;;
    esac
}
prefix() {
    case $1 in
    rv64) echo images ;;
    rv32) echo rv32/images ;;
    esac
}

# The build inputs of GUEST, relative to guest/, sorted. Both guests contain the same tree
# (lib.sh's rootfs_list: rootfs/ and the vflogin commands) and the same busybox configuration.
input_files() {
    (cd "$GUEST_DIR" && {
        echo lib.sh
        echo check-manifest.sh
        echo busybox-config
        echo vflogin/vflogin
        echo vflogin/vfsync
        echo vflogin/vflogout
        echo vflogin/profile.sh
        find rootfs -type f
        case $1 in
        rv64)
            echo build.sh
            find kernel -type f
            ;;
        rv32)
            echo rv32/build.sh
            echo rv32/busybox-overrides.config
            ;;
        esac
    } | sort)
}

current_inputs() { # GUEST
    local f mode
    while IFS= read -r f; do
        [ -f "$GUEST_DIR/$f" ] || { echo "check-manifest: input $f is missing" >&2; exit 1; }
        if [ -x "$GUEST_DIR/$f" ]; then mode=755; else mode=644; fi
        printf 'input  %s  %s  %s\n' "$(sha256sum <"$GUEST_DIR/$f" | cut -d' ' -f1)" "$mode" "$f"
    done < <(input_files "$1")
}

current_images() { # GUEST
    local dir f
    dir=$(images_dir "$1")
    while IFS= read -r f; do
        printf 'image  %s  %s  %s\n' "$(sha256sum <"$dir/$f" | cut -d' ' -f1)" \
            "$(stat -c %s "$dir/$f")" "$(prefix "$1")/$f"
    done < <(cd "$dir" && find . -type f ! -name MANIFEST | sed 's|^\./||' | sort)
}

write() { # GUEST [HEADER]
    local guest=$1 header=${2:-} dir manifest
    dir=$(images_dir "$guest")
    manifest=$dir/MANIFEST
    [ -d "$dir" ] || { echo "check-manifest: $dir does not exist" >&2; exit 1; }
    local text
    text=$(
        if [ -n "$header" ]; then
            grep -Ev '^(input|image) ' "$header" || true
        elif [ -f "$manifest" ]; then
            grep -Ev '^(input|image) ' "$manifest" || true
        fi
        current_inputs "$guest"
        current_images "$guest"
    )
    printf '%s\n' "$text" >"$manifest"
    echo "check-manifest: wrote $manifest" >&2
}

check() { # GUEST
    local guest=$1 manifest status=0
    manifest=$(images_dir "$guest")/MANIFEST
    if [ ! -f "$manifest" ]; then
        echo "check-manifest: $manifest is missing (run the $guest build)" >&2
        return 1
    fi
    if ! diff -u --label "$guest MANIFEST (inputs)" --label "guest/ now (inputs)" \
        <(grep '^input ' "$manifest") <(current_inputs "$guest"); then
        echo "check-manifest: the $guest build inputs differ from $manifest: rebuild" >&2
        status=1
    fi
    if ! diff -u --label "$guest MANIFEST (images)" --label "$(prefix "$guest") now" \
        <(grep '^image ' "$manifest") <(current_images "$guest"); then
        echo "check-manifest: the $guest images differ from $manifest: rebuild" >&2
        status=1
    fi
    [ $status -eq 0 ] && echo "check-manifest: $guest inputs and images match $manifest" >&2
    return $status
}

usage() {
    echo "usage: $0 [--write rv64|rv32 [HEADER_FILE]]" >&2
    exit 2
}

case ${1:-} in
--write)
    if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
    case $2 in rv64 | rv32) ;; *) usage ;; esac
    if [ $# -eq 3 ] && [ ! -f "$3" ]; then
        echo "check-manifest: header file $3 does not exist" >&2
        exit 1
    fi
    write "$2" "${3:-}"
    ;;
'')
    status=0
    check rv64 || status=1
    check rv32 || status=1
    exit $status
    ;;
*) usage ;;
esac
