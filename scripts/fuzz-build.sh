#!/bin/sh
# fuzz-build.sh - build the libFuzzer harnesses (tests/fuzz/) in build-fuzz/:
# a copy of the tree (tracked and untracked files, not ignored ones; an
# in-tree configured source cannot also host a VPATH build) configured with
# clang, --enable-fuzz (libdltrain and the programs with ASan, UBSan and
# coverage instrumentation) and built there. Incremental: the copy keeps
# the files' times, so only what changed is rebuilt. `make fuzz` runs it;
# tests/fuzz/run.sh then runs the harnesses. Extra arguments go to configure.
set -eu
cd "$(dirname "$0")/.."
dir=build-fuzz
command -v clang > /dev/null ||
    { echo "fuzz-build.sh: clang not found; apt-get install clang libclang-rt-14-dev" >&2; exit 1; }
mkdir -p "$dir"
git ls-files -co --exclude-standard | grep -v '^build-' | tar -cf - -T - | tar -xf - -C "$dir"
cd "$dir"
if [ ! -f Makefile ] || [ configure.ac -nt Makefile ] || [ Makefile.am -nt Makefile ]; then
    autoreconf -fi > autoreconf.log 2>&1 || { tail -20 autoreconf.log; exit 1; }
    ./configure CC=clang --enable-fuzz "$@" > configure.log 2>&1 || { tail -30 configure.log; exit 1; }
fi
make -j"$(nproc)" libdltrain.la
make fuzz
echo "fuzz-build.sh: harnesses in $dir/tests/fuzz/: $(cd tests/fuzz && ls fuzz_* | grep -v '\.' | tr '\n' ' ')"
