# tests/lib.sh - shared helpers for the shell tests: TAP output, paths,
# mpirun settings, the Fashion-MNIST files. Source it; then call ok/fail,
# and `done_testing` at the end.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
: "${PYTHON_H5PY:=/usr/bin/python3}"
: "${MPIRUN:=mpirun}"
PREP="$top_builddir/dltrain-prep"
TRAIN="$top_builddir/dltrain-mpi"
FMNIST_DIR="${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}"
SHARED_DIR="${SHARED_DIR:-$top_srcdir/../shared}"

# Open MPI as root in a container: allow it, allow more ranks than cores,
# and keep it on loopback shared memory/TCP.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# No 2.3 s wait for a munged that is not running, at every mpirun start.
. "$top_srcdir/scripts/pmix-env.sh"
export OPENBLAS_NUM_THREADS=1
# A sanitizer build's settings (tests/sanitizer/env.sh), for tests that run
# a job script under `env -i "${SANITIZER_ENV[@]}" ...`: a batch system
# passes the job's environment on, and without them LeakSanitizer (off in
# env.sh, see there) would fail the run.
SANITIZER_ENV=()
[ -n "${ASAN_OPTIONS:-}" ] && SANITIZER_ENV+=("ASAN_OPTIONS=$ASAN_OPTIONS")
[ -n "${UBSAN_OPTIONS:-}" ] && SANITIZER_ENV+=("UBSAN_OPTIONS=$UBSAN_OPTIONS")

TEST_NAME=$(basename "$0" .sh)
# DLT_TEST_TMP_SUFFIX: a second run beside the first (tests/test_older_isa.sh).
WORK="$top_builddir/tests/tmp/$TEST_NAME${DLT_TEST_TMP_SUFFIX:-}"
# A test killed mid-way may have left a file system (tmpfs) mounted here.
awk -v w="$WORK/" 'index($2, w) == 1 {print $2}' /proc/mounts 2> /dev/null |
    while read -r m; do umount "$m" 2> /dev/null; done
rm -rf "$WORK"
mkdir -p "$WORK"

tap_n=0
tap_failed=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
fail() { tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1)); echo "not ok $tap_n - $*"; }
# check "description" command...: ok when the command exits 0
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
# One point skipped, with the reason (after other points: skip_all's plan
# 1..0 would then be an error).
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP $*"; }
done_testing() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; exit $?; }
# Print a file's contents as TAP diagnostics (for failures).
diag_file() { sed 's/^/#   /' "$1" | tail -n "${2:-20}"; }

have_h5py() { [ "$PYTHON_H5PY" != none ] && "$PYTHON_H5PY" -c 'import h5py' 2>/dev/null; }
have_fmnist() { [ -f "$FMNIST_DIR/train-images-idx3-ubyte.gz" ]; }

# Small Fashion-MNIST HDF5 sets shared by tests (built once per build tree).
fmnist_h5() {
    local cache="$top_builddir/tests/tmp/fmnist"
    mkdir -p "$cache"
    if [ ! -f "$cache/train.h5" ]; then
        "$PREP" --format idx "$FMNIST_DIR/train-images-idx3-ubyte.gz" \
            "$FMNIST_DIR/train-labels-idx1-ubyte.gz" "$cache/train.h5" >/dev/null || return 1
    fi
    if [ ! -f "$cache/test.h5" ]; then
        "$PREP" --format idx "$FMNIST_DIR/t10k-images-idx3-ubyte.gz" \
            "$FMNIST_DIR/t10k-labels-idx1-ubyte.gz" "$cache/test.h5" >/dev/null || return 1
    fi
    FMNIST_TRAIN="$cache/train.h5"
    FMNIST_TEST="$cache/test.h5"
}
