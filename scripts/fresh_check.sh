#!/bin/bash
# fresh_check.sh - the README's two commands on a fresh, minimal Debian 12:
# a debootstrap root (made once, cached), a clone of this repository's
# committed HEAD in /root/dltrain, and both commands run there as root;
# then the test summary line and the failing tests' logs. Run as root on
# Debian/Ubuntu with network access to the Debian archive.
#
# usage: scripts/fresh_check.sh [--keep]
#   --keep  leave the root (its path is printed) instead of deleting it
# Environment: DLT_FRESH_CACHE (default /var/cache/dltrain-fresh: the root's
# tarball and the working roots), DLT_FRESH_MIRROR (default
# http://deb.debian.org/debian).
#
# The commands run in a chroot inside private mount and PID namespaces
# (unshare), so /proc, /sys, /dev and a fresh /dev/shm are mounted for them
# alone and every process they leave (munged, slurmctld, ...) ends with
# them. Packages are installed first with the host's network (the README's
# scripts/install-deps.sh, which both commands start with); the commands
# themselves then run in a network namespace of their own (loopback and a
# veth pair on 10.254.254.1/24, no way out), so the daemons the tests start
# (Slurm, munge) cannot meet the host's; where no veth can be made there,
# in the host's network. Without unshare, it falls back to a plain chroot.
# Exit status: 0 when both commands succeed, 1 when one fails, 2 on a
# usage or setup error.
set -uo pipefail

KEEP=0
for arg in "$@"; do
    case "$arg" in
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh_check.sh: unknown option '$arg'" >&2; exit 2 ;;
    esac
done
die() { echo "fresh_check.sh: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and mounts need it)"

REPO=$(cd "$(dirname "$0")/.." && pwd)
HEAD=$(git -C "$REPO" rev-parse HEAD) || die "$REPO is not a git checkout"
CACHE=${DLT_FRESH_CACHE:-/var/cache/dltrain-fresh}
MIRROR=${DLT_FRESH_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
TARBALL=$CACHE/$SUITE-minbase.tar
mkdir -p "$CACHE" || die "cannot create $CACHE"
say() { echo "fresh_check.sh: $(date -u +%H:%M:%S) $*"; }

# ---- the base root: debootstrap once, then a tarball ----
if [ ! -s "$TARBALL" ]; then
    if ! command -v debootstrap > /dev/null; then
        say "installing debootstrap"
        apt-get update -q > /dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap > /dev/null ||
            die "cannot install debootstrap (apt-get install debootstrap)"
    fi
    say "debootstrap --variant=minbase $SUITE from $MIRROR"
    base=$CACHE/base.tmp
    awk -v r="$base/" 'index($2 "/", r) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount -l
    rm -rf "$base"
    debootstrap --variant=minbase "$SUITE" "$base" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 ||
        { tail -20 "$CACHE/debootstrap.log"; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
    # git to clone the repository, ca-certificates for apt over https; the
    # rest is what the README assumes of a fresh Debian 12.
    cp /etc/resolv.conf "$base/etc/resolv.conf"
    chroot "$base" sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends git ca-certificates' \
        > "$CACHE/base-git.log" 2>&1 ||
        die "installing git in the base root failed (log: $CACHE/base-git.log)"
    chroot "$base" apt-get clean
    tar -C "$base" -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL" || die "cannot write $TARBALL"
    rm -rf "$base"
fi

ROOT=$(mktemp -d "$CACHE/root.XXXXXX") || die "mktemp failed"
mounts_under() { awk -v r="$ROOT/" 'index($2 "/", r) == 1 {print $2}' /proc/mounts; }
# Every process whose root directory is ROOT (or below): the commands' and
# any daemon they started.
procs_in_root() {
    local p r
    for p in /proc/[0-9]*; do
        r=$(readlink "$p/root" 2> /dev/null) || continue
        case "$r/" in "$ROOT/"*) echo "${p#/proc/}" ;; esac
    done
}
cleanup() {
    local pids left
    pids=$(procs_in_root)
    if [ -n "$pids" ]; then
        say "ending processes left in the root: $(for p in $pids; do printf '%s(%s) ' "$p" "$(cat /proc/$p/comm 2> /dev/null)"; done)"
        kill -TERM $pids 2> /dev/null
        sleep 2
        pids=$(procs_in_root)
        [ -n "$pids" ] && kill -KILL $pids 2> /dev/null && sleep 1
    fi
    # Deepest first; lazily if busy.
    mounts_under | sort -r | while read -r m; do umount "$m" 2> /dev/null || umount -l "$m"; done
    left=$(mounts_under)
    if [ -n "$left" ]; then
        echo "fresh_check.sh: still mounted, $ROOT not removed: $left" >&2
    elif [ "$KEEP" -eq 1 ]; then
        say "root kept: $ROOT"
    else
        rm -rf "$ROOT"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

say "unpacking $TARBALL into $ROOT"
tar -C "$ROOT" -xf "$TARBALL" || die "cannot unpack $TARBALL"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# The host's name must resolve inside (MPI, Slurm), to loopback as the
# commands have only that.
printf '127.0.0.1 localhost\n127.0.1.1 %s %s\n::1 localhost ip6-localhost ip6-loopback\n' \
    "$(hostname -f 2> /dev/null || hostname)" "$(hostname -s)" > "$ROOT/etc/hosts"
# No init system inside: package scripts must not start daemons.
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d" && chmod 755 "$ROOT/usr/sbin/policy-rc.d"

say "cloning $REPO at $HEAD"
git clone -q "$REPO" "$ROOT/root/dltrain" && git -C "$ROOT/root/dltrain" checkout -q --detach "$HEAD" ||
    die "cannot clone $REPO at $HEAD into the root"

# in_root [--net] COMMAND: COMMAND run by bash in the root as root, with a
# clean environment; --net: in a network namespace with only loopback.
USE_UNSHARE=0
unshare --mount --pid --fork --kill-child true 2> /dev/null && USE_UNSHARE=1
DLT_FRESH_ENV="HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive"
in_root() {
    local net=
    [ "$1" = --net ] && { net=--net; shift; }
    local setup='
        R=$1; shift
        # Loopback, and a veth pair with a private IPv4 address: with only
        # loopback, getaddrinfo(AI_ADDRCONFIG) finds no IPv4 and slurmctld
        # cannot resolve even 127.0.0.1.
        [ -n "$NEWNET" ] && { ip link set lo up && ip link add dlt0 type veth peer name dlt1 &&
            ip addr add 10.254.254.1/24 dev dlt0 && ip link set dlt0 up && ip link set dlt1 up || exit 2; }
        mount -t proc proc "$R/proc" && mount --rbind /sys "$R/sys" &&
            mount --rbind /dev "$R/dev" || exit 2
        # Unmounting in here must never reach the host'"'"'s /dev/pts or /sys.
        mount --make-rslave "$R/sys" && mount --make-rslave "$R/dev" &&
            mount -t tmpfs -o mode=1777,size=4g tmpfs "$R/dev/shm" || exit 2
        chroot "$R" /usr/bin/env -i $DLT_FRESH_ENV /bin/bash -c "$1"'
    if [ "$USE_UNSHARE" -eq 1 ]; then
        NEWNET=$net DLT_FRESH_ENV="$DLT_FRESH_ENV" unshare --mount --pid --fork --kill-child $net \
            bash -c "$setup" sh "$ROOT" "$1"
    else
        # Mounts in the host's namespace (slaves, so nothing propagates
        # back); what the command left running ends here, the mounts at cleanup.
        NEWNET= DLT_FRESH_ENV="$DLT_FRESH_ENV" bash -c "$setup" sh "$ROOT" "$1"
        local rc=$? pids
        pids=$(procs_in_root)
        [ -n "$pids" ] && kill -TERM $pids 2> /dev/null
        mounts_under | sort -r | while read -r m; do umount "$m" 2> /dev/null || umount -l "$m"; done
        return $rc
    fi
}
[ "$USE_UNSHARE" -eq 1 ] || say "unshare unavailable: plain chroot (the tests' daemons share the host's network)"
NETFLAG=--net
[ "$USE_UNSHARE" -eq 1 ] && command -v ip > /dev/null &&
    unshare --net sh -c 'ip link add dlt0 type veth peer name dlt1' 2> /dev/null || NETFLAG=
[ -n "$NETFLAG" ] || say "no network namespace with a veth pair here: the commands share the host's network"

# The README's commands, from its first code block.
mapfile -t CMDS < <(sed -n '1,50p' "$ROOT/root/dltrain/README.md" | grep '^scripts/install-deps.sh')
[ "${#CMDS[@]}" -eq 2 ] || die "expected two commands starting scripts/install-deps.sh in README.md lines 1-50, found ${#CMDS[@]}"

LOGS=$CACHE/logs-$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$LOGS"
say "logs in $LOGS"
t0=$(date +%s)
say "packages: scripts/install-deps.sh (with the host's network)"
in_root "cd /root/dltrain && scripts/install-deps.sh" > "$LOGS/install.log" 2>&1 ||
    { tail -30 "$LOGS/install.log"; die "scripts/install-deps.sh failed in the root"; }
say "packages installed in $(($(date +%s) - t0)) s"

rc=0
for i in 0 1; do
    t0=$(date +%s)
    say "command $((i + 1)): ${CMDS[$i]}"
    in_root $NETFLAG "cd /root/dltrain && ${CMDS[$i]}" > "$LOGS/command$((i + 1)).log" 2>&1
    r=$?
    say "command $((i + 1)) exit status $r in $(($(date +%s) - t0)) s"
    [ "$r" -ne 0 ] && rc=1
    [ "$i" -eq 0 ] && { echo "--- command 1, last lines:"; tail -8 "$LOGS/command1.log"; }
done

# The summary as .ci/run counts it: every TAP point of every test.
pass=0 fail=0 skip=0
T=$ROOT/root/dltrain/tests
for trs in $(find "$T" -maxdepth 1 -name '*.trs' 2> /dev/null); do
    pass=$((pass + $(grep -c '^:test-result: \(PASS\|XFAIL\)' "$trs")))
    fail=$((fail + $(grep -c '^:test-result: \(FAIL\|XPASS\|ERROR\)' "$trs")))
    skip=$((skip + $(grep -c '^:test-result: SKIP' "$trs")))
    if grep -q '^:test-result: \(FAIL\|XPASS\|ERROR\)' "$trs"; then
        log=${trs%.trs}.log
        echo "=== ${log#$ROOT/root/dltrain/} (failed points, then the last lines)"
        grep -E '^(not ok|Bail out!)' "$log" | head -20
        tail -30 "$log"
        cp "$log" "$LOGS/"
    fi
done
[ -f "$T/../test-suite.log" ] && cp "$T/../test-suite.log" "$LOGS/"
[ "$rc" -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
echo "--- skipped (with the reason):"
grep -h '^SKIP:' "$LOGS/command2.log" | head -40
echo "fresh Debian 12 at $HEAD: $pass passed, $fail failed, $skip skipped"
exit $rc
