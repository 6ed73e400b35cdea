#!/bin/bash
# gpu_check_prepare.sh - on the build machine (no GPU needed): build a
# --with-cuda copy of this tree, pack it with gpu_check_pack.sh into
# .gpu/dltrain-gpu.tar.xz (ignored by .gitignore, so a device call can
# carry it), run the archive's CPU part (gpu_check_run.sh smoke)
# to show it works, and print the one command for the GPU machine.
#
# usage: scripts/gpu_check_prepare.sh [BUILD_DIR]   (default build-cuda, as .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd) B=${1:-build-cuda}
if [ ! -f "$B/config.h" ] || ! grep -q "^#define HAVE_CUDA 1" "$B/config.h"; then
    rm -rf "$B" && mkdir -p "$B"
    git ls-files -co --exclude-standard | grep -v '^build-' | tar -cf - -T - | tar -xf - -C "$B"
    (cd "$B" && autoreconf -fi && ./configure --with-cuda) > "$B.log" 2>&1 ||
        { echo "configure --with-cuda failed: $B.log" >&2; exit 1; }
else # an existing CUDA copy: bring this tree's files over, make rebuilds what changed
    git ls-files -co --exclude-standard | grep -v '^build-' | tar -cf - -T - | tar -xf - -C "$B"
fi
(cd "$B" && make -j"$(nproc)") >> "$B.log" 2>&1 || { echo "build failed: $B.log" >&2; exit 1; }
mkdir -p .gpu
"$B/scripts/gpu_check_pack.sh" "$top/.gpu/dltrain-gpu.tar.xz"
PYTHON=${PYTHON:-/usr/bin/python3} bash scripts/gpu_check_run.sh .gpu/dltrain-gpu.tar.xz .gpu/cpu-logs smoke
cat <<'CMD'
On the GPU machine (carry .gpu), one call of about 9 minutes:
SAVE_TGZ=$OUT/logs.tgz bash scripts/gpu_check_run.sh .gpu/dltrain-gpu.tar.xz /tmp/gpulogs all 2>&1 | tee $OUT/summary.txt
CMD
