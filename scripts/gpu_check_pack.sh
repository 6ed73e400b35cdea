#!/bin/bash
# gpu_check_pack.sh - pack a CUDA build for a GPU node that lacks the build
# dependencies (a cluster's GPU partition, a cloud GPU image): the programs,
# the GPU tests and benchmark, the files they read, the non-CUDA shared
# libraries they need and Open MPI's runtime tree, in one tar.xz. Unpack and
# run it there with scripts/gpu_check_run.sh (it is inside the archive).
# The CUDA libraries (cudart, cuBLAS, cuDNN, NCCL) are the node's own.
#
# usage: scripts/gpu_check_pack.sh OUT.tar.xz   (in a tree configured --with-cuda)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:?usage: gpu_check_pack.sh OUT.tar.xz}")
grep -q "^#define HAVE_CUDA 1" config.h 2>/dev/null || { echo "gpu_check_pack.sh: configure --with-cuda and build first" >&2; exit 2; }
bins="dltrain-mpi dltrain-prep tests/test_gpu_layers tests/test_gpu_layers_more tests/test_gpu_nets tests/test_gpu_recurrent bench/bench_net"
make -j"$(nproc)" $bins > /dev/null
S=$(mktemp -d); trap 'rm -rf "$S"' EXIT
mkdir -p "$S/build/tests" "$S/build/bench" "$S/lib" "$S/mpilib" "$S/root"
for f in $bins; do cp "$f" "$S/build/$f"; strip "$S/build/$f"; done
cp config.h "$S/build/"
# The scripts, nets and test helpers: git's list in a checkout; in a copy of
# the tree outside git (.ci/run's build-cuda/) the same kinds of files.
if git ls-files --error-unmatch scripts/gpu_check_pack.sh > /dev/null 2>&1; then
    git ls-files tests nets bench scripts | grep -v '\.c$'
else
    find tests nets bench scripts -path tests/tmp -prune -o -type f \( -name '*.sh' -o -name '*.py' \
        -o -name '*.prototxt' -o -name '*.h' -o -name '*.md' \) -print
fi | tar -cf - -T - | tar -xf - -C "$S/build"
# Shared libraries: all but glibc, libstdc++/libgcc and CUDA's; Open MPI's
# own family apart (mpilib) so the run script can keep it with its plugins.
skip='^(libc|libm|libdl|librt|libpthread|libresolv|ld-linux-x86-64|libstdc\+\+|libgcc_s|libcudnn|libcublas|libcublasLt|libcudart|libnccl|linux-vdso)\.'
mpire='^(libmpi|libopen-rte|libopen-pal|libpmix|libhwloc|libevent|libmca_common|libucp|libucs|libuct|libfabric|libpsm)'
ompi=/usr/lib/x86_64-linux-gnu/openmpi pmix=/usr/lib/x86_64-linux-gnu/pmix2
plugins=$(ls $ompi/lib/openmpi3/*.so $pmix/lib/pmix/*.so 2> /dev/null || true)
for f in $bins $(command -v orterun orted) $plugins; do ldd "$f"; done 2> /dev/null |
    awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u | while read -r name path; do
    [[ $name =~ $skip ]] && continue
    if [[ $name =~ $mpire ]]; then cp -L "$path" "$S/mpilib/$name"; else cp -L "$path" "$S/lib/$name"; fi
done
for p in $ompi $pmix /usr/share/openmpi /usr/share/pmix /etc/openmpi /etc/pmix /usr/bin/orterun /usr/bin/orted; do
    [ -e "$p" ] || continue
    mkdir -p "$S/root$(dirname "$p")"; cp -a "$p" "$S/root$p"
done
rm -rf "$S/root$ompi/include"
tar -C "$S" -cJf "$OUT" .
echo "packed $(du -h "$OUT" | cut -f1) into $OUT"
