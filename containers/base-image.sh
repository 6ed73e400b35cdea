#!/bin/sh
# base-image.sh - make the Debian 12 image the Dockerfiles start FROM where no
# registry can be reached: debootstrap --variant=minbase bookworm (once; the
# root's tarball is cached), podman import, and tag it with the names
# `FROM debian:bookworm` resolves to (use --pull=never). Idempotent: an
# existing image is kept. Run as root with Debian's archive reachable.
# usage: containers/base-image.sh
# Environment: DLT_CONTAINER_CACHE (default /var/cache/dltrain/container-base),
# DLT_MIRROR (default http://deb.debian.org/debian).
# Exit status: 0 the image exists, 2 usage, 3 it cannot be made here (the
# reason on stderr; tests skip on it).
set -eu
case "${1:-}" in
"") ;;
-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
*) echo "base-image.sh: unknown option '$1'" >&2; exit 2 ;;
esac
NAME=localhost/debian:bookworm
CACHE=${DLT_CONTAINER_CACHE:-/var/cache/dltrain/container-base}
MIRROR=${DLT_MIRROR:-http://deb.debian.org/debian}
TARBALL=$CACHE/bookworm-minbase.tgz
cannot() { echo "base-image.sh: $*" >&2; exit 3; }
say() { echo "base-image.sh: $*"; }

command -v podman > /dev/null || cannot "podman not found (apt-get install podman runc)"
if podman image exists "$NAME" && podman image exists docker.io/library/debian:bookworm; then
    say "$NAME present"
    exit 0
fi
if [ ! -s "$TARBALL" ]; then
    [ "$(id -u)" -eq 0 ] || cannot "debootstrap needs root"
    command -v debootstrap > /dev/null || cannot "debootstrap not found (apt-get install debootstrap)"
    mkdir -p "$CACHE" || cannot "cannot create $CACHE"
    root=$CACHE/root.tmp
    rm -rf "$root"
    say "debootstrap --variant=minbase bookworm $MIRROR (a few minutes; log: $CACHE/debootstrap.log)"
    debootstrap --variant=minbase bookworm "$root" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 ||
        cannot "debootstrap failed (log: $CACHE/debootstrap.log)"
    # The suites Debian's own debian:bookworm image lists; no package lists
    # or caches in the image (each Dockerfile runs apt-get update).
    rm -f "$root/etc/apt/sources.list"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$MIRROR" > "$root/etc/apt/sources.list.d/debian.sources"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin
    tar -C "$root" --numeric-owner -czf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL" ||
        cannot "cannot write $TARBALL"
    rm -rf "$root"
fi
say "podman import $TARBALL as $NAME"
podman import --change 'CMD ["/bin/bash"]' "$TARBALL" "$NAME" > /dev/null || cannot "podman import failed"
podman tag "$NAME" docker.io/library/debian:bookworm || cannot "podman tag failed"
say "$NAME ready ($(podman image inspect --format '{{.Size}}' "$NAME") bytes)"
