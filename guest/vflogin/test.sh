#!/bin/sh
# Tests of vflogin, vfsync and vflogout under a POSIX shell (default: busybox
# ash if installed, else /bin/sh): ./test.sh [SHELL...]
#
# The control file is faked by a regular file opened read-write: the script's
# command overwrites its start and the script then reads on from where its
# write ended. So the fake holds a placeholder as long as the expected command,
# followed by the host's reply; afterwards the placeholder must have become
# exactly the expected command, written through one handle.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "$#" -eq 0 ]; then
    if command -v busybox >/dev/null; then set -- "busybox sh"; else set -- /bin/sh; fi
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# fake EXPECTED_COMMAND REPLY: prepares the control file.
fake() {
    printf '%s' "$1" | tr -c '' 'X' >"$tmp/ctl"
    printf '%s' "$2" >>"$tmp/ctl"
}

# check NAME EXPECTED_COMMAND: the command the script wrote.
check() {
    got=$(head -c "${#2}" "$tmp/ctl"; echo .)
    got=${got%.}
    if [ "$got" != "$2" ]; then
        echo "FAIL $1: wrote '$got', expected '$2'"
        fails=$((fails + 1))
    fi
}

# expect NAME WANTED_STATUS WANTED_TEXT STATUS TEXT
expect() {
    case $5 in
    *"$3"*) ;;
    *) echo "FAIL $1: output '$5' lacks '$3'"; fails=$((fails + 1)) ;;
    esac
    if [ "$4" -ne "$2" ]; then
        echo "FAIL $1: exit status $4, expected $2"
        fails=$((fails + 1))
    fi
}

for sh in "$@"; do
    echo "== $sh"
    export VFHOME_CTL="$tmp/ctl" VFHOME_ROOT="$tmp/home"
    mkdir -p "$tmp/home/alice"
    nl='
'
    cmd="login alice${nl}p4ss \\w0rd ${nl}"
    fake "$cmd" "ok: signed in as alice$nl"
    st=0; out=$(printf 'p4ss \\w0rd \n' | $sh "$here/vflogin" alice 2>&1) || st=$?
    check "vflogin ok" "$cmd"
    expect "vflogin ok" 0 "signed in as alice" "$st" "$out"
    case $out in *p4ss*) echo "FAIL vflogin echoed the password"; fails=$((fails + 1)) ;; esac

    # On a terminal, echo is off before the prompt appears (a password typed as soon as the
    # prompt shows is never echoed). A logging stty stands in for the real one; util-linux's
    # `script` gives vflogin a terminal as its stdin; the prompt goes to the same log.
    if command -v script >/dev/null; then
        mkdir -p "$tmp/bin"
        # shellcheck disable=SC2016 # $* and $1 belong to the fake stty
        printf '#!/bin/sh\necho "stty $*" >>"%s"\n[ "$1" = -g ] && echo saved-state\nexit 0\n' \
            "$tmp/order" >"$tmp/bin/stty"
        chmod +x "$tmp/bin/stty"
        : >"$tmp/order"
        cmd="login alice${nl}tty-secret${nl}"
        fake "$cmd" "ok: signed in as alice$nl"
        st=0
        echo tty-secret | PATH="$tmp/bin:$PATH" script -qec \
            "$sh '$here/vflogin' alice 2>>'$tmp/order'" /dev/null >/dev/null 2>&1 || st=$?
        check "vflogin on a tty" "$cmd"
        order=$(cat "$tmp/order")
        expect "vflogin on a tty" 0 "stty -echo${nl}Password for alice: " "$st" "$order"
        expect "vflogin on a tty restores" 0 "stty saved-state" "$st" "$order"
    else
        echo "SKIP vflogin on a tty: no 'script' (util-linux)"
    fi

    cmd="login alice${nl}nope${nl}"
    fake "$cmd" "error: wrong password$nl"
    st=0; out=$(echo nope | $sh "$here/vflogin" alice 2>&1) || st=$?
    check "vflogin wrong" "$cmd"
    expect "vflogin wrong" 1 "vflogin: wrong password" "$st" "$out"

    st=0; out=$(echo pw | $sh "$here/vflogin" ../etc 2>&1) || st=$?
    expect "vflogin bad name" 1 "invalid user name" "$st" "$out"
    st=0; out=$(echo pw | VFHOME_CTL="$tmp/none" $sh "$here/vflogin" alice 2>&1) || st=$?
    expect "vflogin no home" 1 "not available" "$st" "$out"
    st=0; out=$(: | $sh "$here/vflogin" alice 2>&1) || st=$?
    expect "vflogin empty password" 1 "empty password" "$st" "$out"

    fake "sync$nl" "ok: version 3, 1 uploaded, 0 downloaded, 0 deleted here, 0 deleted on the server, 1 conflicts${nl}up a.txt${nl}conflict b.txt -> b.txt.1$nl"
    st=0; out=$($sh "$here/vfsync" 2>&1) || st=$?
    check "vfsync" "sync$nl"
    expect "vfsync" 0 "conflict b.txt -> b.txt.1" "$st" "$out"
    expect "vfsync" 0 "vfsync: version 3" "$st" "$out"

    fake "sync$nl" "error: not signed in$nl"
    st=0; out=$($sh "$here/vfsync" 2>&1) || st=$?
    expect "vfsync signed out" 1 "vfsync: not signed in" "$st" "$out"

    fake "status$nl" "user alice${nl}pending no$nl"
    st=0; out=$($sh "$here/vfsync" status 2>&1) || st=$?
    check "vfsync status" "status$nl"
    expect "vfsync status" 0 "user alice" "$st" "$out"

    fake "logout$nl" "ok: signed out alice$nl"
    st=0; out=$($sh "$here/vflogout" 2>&1) || st=$?
    check "vflogout" "logout$nl"
    expect "vflogout" 0 "signed out alice" "$st" "$out"

    fake "logout force$nl" "ok: signed out alice$nl"
    st=0; out=$($sh "$here/vflogout" -f 2>&1) || st=$?
    check "vflogout -f" "logout force$nl"
    expect "vflogout -f" 0 "signed out alice" "$st" "$out"

    st=0; out=$($sh "$here/vflogout" --now 2>&1) || st=$?
    expect "vflogout usage" 1 "usage" "$st" "$out"
done

if [ "$fails" -ne 0 ]; then
    echo "$fails failure(s)"
    exit 1
fi
echo "all vflogin script tests passed"
