# Sourced by /etc/profile in the guest: shell functions around the vflogin
# commands that also move the interactive shell (a script cannot change its
# caller's directory). POSIX sh / busybox ash.

vflogin() {
    command vflogin "$@" || return
    HOME=${VFHOME_ROOT:-/home}/$1
    export HOME
    cd "$HOME" || return
}

vflogout() {
    # Leave the home first: it disappears when the sign-out succeeds.
    _vflogout_pwd=$PWD
    case $PWD/ in
    "${VFHOME_ROOT:-/home}"/?*/*) cd / || return ;;
    esac
    if ! command vflogout "$@"; then
        cd "$_vflogout_pwd" 2>/dev/null || :
        unset _vflogout_pwd
        return 1
    fi
    unset _vflogout_pwd
    HOME=/root
    export HOME
}
