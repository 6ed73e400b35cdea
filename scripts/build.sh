#!/bin/sh
# build.sh - configure and build dltrain in the source tree (idempotent).
# Extra arguments go to ./configure.
set -eu
cd "$(dirname "$0")/.."
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi
[ -f Makefile ] && [ config.status -nt configure ] || ./configure "$@"
make -j"$(nproc)"
