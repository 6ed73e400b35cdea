#!/bin/sh
# runtime-packages.sh - print the Debian/Ubuntu packages that hold the shared
# libraries the given programs load (ldd, then dpkg -S), one a line: what a
# runtime image must install so the programs run without the build stage's
# compilers and -dev packages. Names differ between Debian 12 and Ubuntu
# 22.04/24.04 (libopenmpi3 vs libopenmpi3t64), so they are found, not listed.
# usage: runtime-packages.sh PROGRAM...   (exit 1 when a library is missing
# or belongs to no package, naming it)
set -eu
[ $# -gt 0 ] || { echo "usage: $0 PROGRAM..." >&2; exit 2; }
libs=$(ldd "$@" | awk '/ => not found/ {print "MISSING:" $1; next} / => \// {print $3}' | sort -u)
status=0
pkgs=
for lib in $libs; do
    case "$lib" in MISSING:*) echo "runtime-packages.sh: ${lib#MISSING:} not found by ldd" >&2; status=1; continue ;; esac
    # Merged /usr: ldd may say /lib/... where dpkg registered /usr/lib/... (or
    # the reverse), and a soname link may be registered only by its target.
    pkg=
    for p in "$lib" "/usr$lib" "${lib#/usr}" "$(readlink -f "$lib")"; do
        pkg=$(dpkg -S "$p" 2> /dev/null | head -n 1 | cut -d: -f1) && [ -n "$pkg" ] && break
    done
    if [ -z "$pkg" ]; then
        echo "runtime-packages.sh: no package holds $lib" >&2
        status=1
    else
        pkgs="$pkgs $pkg"
    fi
done
printf '%s\n' $pkgs | sort -u
exit $status
