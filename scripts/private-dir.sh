# private-dir.sh - sourced (bash) by slurm/env.sh and sge/env.sh: the local
# clusters' state and configuration directories are written by root, so a
# directory that someone else made first (under /tmp anyone can) would hand
# them the cluster's configuration, and with it root's jobs.
#
# dlt_private_dir DIR [create]: 0 when DIR is a real directory (not a
# symbolic link) owned by root or by the caller and writable by its owner
# only. With "create", a missing DIR is made (mode 0755: clients read the
# configuration); without it, a missing DIR is fine (nothing to trust yet).
# Otherwise prints why on stderr and returns 1.
dlt_private_dir() {
    local d=$1 owner mode
    if [ ! -e "$d" ] && [ ! -L "$d" ]; then
        [ "${2:-}" = create ] || return 0
        # No -p: if another user creates it between the test and here,
        # mkdir fails and the checks below judge their directory.
        mkdir -m 0755 "$d" 2> /dev/null ||
            { [ -e "$d" ] || { echo "cannot create $d (does its parent exist?)" >&2; return 1; }; }
    fi
    if [ -L "$d" ]; then
        echo "$d is a symbolic link (to $(readlink "$d")); refusing to use it: remove it" >&2
        return 1
    fi
    [ -d "$d" ] || { echo "$d exists and is not a directory" >&2; return 1; }
    owner=$(stat -c %u "$d") mode=$(stat -c %a "$d")
    if [ "$owner" -ne 0 ] && [ "$owner" -ne "$(id -u)" ]; then
        echo "$d belongs to uid $owner ($(stat -c %U "$d")), neither root nor you: someone else" \
            "made it; remove it, or choose another directory" >&2
        return 1
    fi
    if [ $((8#$mode & 8#022)) -ne 0 ]; then
        echo "$d is writable by group or others (mode $mode); chmod go-w it, or choose another directory" >&2
        return 1
    fi
    return 0
}
