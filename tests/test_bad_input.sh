#!/bin/bash
# test_bad_input.sh - bad input files fail cleanly: non-zero exit status, a
# message that names the offending file, and no output under the final name.
. "$(dirname "$0")/lib.sh"

# IDX headers: 0x00 0x00 0x08 NDIM, then big-endian uint32 dimensions.
images_3x2x2() { printf '\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x02'; printf 'abcdefghijkl'; }
labels_n() { # labels_n COUNT BYTES...: a 1-D IDX label file
    local n=$1; shift
    printf '\x00\x00\x08\x01\x00\x00\x00'"$(printf '\\x%02x' "$n")"
    for b in "$@"; do printf "$(printf '\\x%02x' "$b")"; done
}

# expect_fail NAME WANT_STATUS PATTERN OUT CMD...: CMD exits with WANT_STATUS
# (or any non-zero status for "nonzero"), its stderr contains PATTERN
# (fixed string), and neither OUT nor OUT.tmp-* exists afterwards.
# Leaves the stderr file's name in LAST_ERR.
err_n=0
expect_fail() {
    local name=$1 want=$2 pattern=$3 out=$4; shift 4
    err_n=$((err_n + 1))
    local err="$WORK/case$err_n.err"
    LAST_ERR=$err
    "$@" >/dev/null 2>"$err"
    local rc=$?
    if [ "$want" = nonzero ] && [ $rc -ne 0 ] || [ "$rc" = "$want" ]; then
        ok "$name: exit status $rc"
    else
        fail "$name: exit status $rc, expected $want"
        diag_file "$err"
    fi
    if grep -qF -- "$pattern" "$err"; then
        ok "$name: message names $pattern"
    else
        fail "$name: message names $pattern"
        diag_file "$err"
    fi
    if [ -n "$out" ]; then
        if [ ! -e "$out" ] && [ -z "$(find "$(dirname "$out")" -name "$(basename "$out").tmp-*")" ]; then
            ok "$name: no output left"
        else
            fail "$name: no output left ($out or a temporary file exists)"
        fi
    fi
}

[ -x "$PREP" ] || skip_all "$PREP not built"

out="$WORK/out.h5"
images_3x2x2 >"$WORK/img.idx"
labels_n 3 0 1 2 >"$WORK/lab3.idx"

# sanity: the small files convert, so the failures below are about what each breaks
quiet() { "$@" >/dev/null; }
check "3 images + 3 labels convert" quiet "$PREP" -q --format idx "$WORK/img.idx" "$WORK/lab3.idx" "$WORK/good.h5"

expect_fail "missing images file" 1 "$WORK/nope-images.idx" "$out" \
    "$PREP" --format idx "$WORK/nope-images.idx" "$WORK/lab3.idx" "$out"

printf 'GIF89a-not-an-idx-file' >"$WORK/magic.idx"
expect_fail "wrong IDX magic" 1 "$WORK/magic.idx" "$out" \
    "$PREP" --format idx "$WORK/magic.idx" "$WORK/lab3.idx" "$out"
check "wrong magic: message says 'not an IDX file'" grep -q "not an IDX file" "$LAST_ERR"

labels_n 2 0 1 >"$WORK/lab2.idx"
expect_fail "3 images, 2 labels" 1 "$WORK/lab2.idx" "$out" \
    "$PREP" --format idx "$WORK/img.idx" "$WORK/lab2.idx" "$out"
check "count mismatch: message gives both counts" \
    grep -q "has 3 images but .* has 2 labels" "$LAST_ERR"

images_3x2x2 | head -c 25 >"$WORK/trunc.idx"
expect_fail "truncated IDX" 1 "$WORK/trunc.idx" "$out" \
    "$PREP" --format idx "$WORK/trunc.idx" "$WORK/lab3.idx" "$out"
check "truncated: message says expected and got" \
    grep -q "truncated: expected 12 bytes of data, got 9" "$LAST_ERR"

images_3x2x2 | gzip -c >"$WORK/fashion-img.idx.gz"
labels_n 3 0 10 2 >"$WORK/lab-big.idx"
expect_fail "label 10 with 10 Fashion-MNIST classes" 1 "record 1" "$out" \
    "$PREP" --format idx "$WORK/fashion-img.idx.gz" "$WORK/lab-big.idx" "$out"

expect_fail "unsupported --format" 2 "format expects folder, list, cifar10, cifar100, idx or captions, got 'tiff'" "$out" \
    "$PREP" --format tiff "$WORK/img.idx" "$WORK/lab3.idx" "$out"

# The trainer refuses an HDF5 file without /data and names it.
if have_h5py; then
    bad="$WORK/BAD.h5"
    "$PYTHON_H5PY" -c 'import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["label"] = np.zeros(4, dtype=np.int32)' "$bad"
    expect_fail "dltrain-mpi with BAD.h5 (no /data)" nonzero "BAD.h5" "" \
        "$TRAIN" --solver "$top_srcdir/nets/lenet_fashion_solver.prototxt" --train "$bad" \
        --run-dir "$WORK/run" --max-iter 1
    check "dltrain-mpi: message mentions /data" grep -q "/data" "$LAST_ERR"
else
    ok "# SKIP dltrain-mpi with BAD.h5: h5py not available"
fi

expect_fail "--size past int" 2 "--size expects WIDTHxHEIGHT, each 1..65535" "$out" \
    "$PREP" --format idx --size 99999999999x2 "$WORK/img.idx" "$WORK/lab3.idx" "$out"

# An IDX header claiming 60000 x 60000 x 60000 images with 12 bytes of data:
# refused as truncated, naming the file, without allocating what it claims.
{ printf '\x00\x00\x08\x03\x00\x00\xea\x60\x00\x00\xea\x60\x00\x00\xea\x60'; printf 'abcdefghijkl'; } >"$WORK/huge.idx"
expect_fail "IDX header of 60000^3 images, 12 bytes of data" 1 "$WORK/huge.idx" "$out" \
    "$PREP" --format idx "$WORK/huge.idx" "$WORK/lab3.idx" "$out"
check "huge IDX: message says truncated with both sizes" \
    grep -q "truncated: expected 216000000000000 bytes of data, got 12" "$LAST_ERR"

# A dataset whose /data says 2^31 values per sample ([1, 2147483648], Caffe's
# [N, D] layout, never written): refused naming the file, the axis and the
# limit (the size used to be cast to a negative int).
if have_h5py; then
    "$PYTHON_H5PY" -c 'import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("data", shape=(1, 2**31), dtype="f4")
    f["label"] = np.zeros(1, dtype="f4")' "$WORK/WIDE.h5"
    expect_fail "dltrain-mpi with WIDE.h5 (2^31 values per sample)" nonzero "WIDE.h5" "" \
        "$TRAIN" --solver "$top_srcdir/nets/lenet_fashion_solver.prototxt" --train "$WORK/WIDE.h5" \
        --run-dir "$WORK/run_wide" --max-iter 1
    check "wide dataset: message names the axis and the limit" \
        grep -q "/data: axis C must be between 1 and 2147483647" "$LAST_ERR"
else
    ok "# SKIP dataset with 2^31 values per sample: h5py not available"
fi

# A truncated HDF5 file (an interrupted copy): the message says so and names
# the file; it used to end in a hint about file locking ("sblock" matched).
if [ -f "$WORK/good.h5" ]; then
    size=$(stat -c %s "$WORK/good.h5")
    head -c $((size / 2)) "$WORK/good.h5" >"$WORK/TRUNC.h5"
    expect_fail "dltrain-mpi with a truncated TRUNC.h5" nonzero "TRUNC.h5" "" \
        "$TRAIN" --solver "$top_srcdir/nets/lenet_fashion_solver.prototxt" --train "$WORK/TRUNC.h5" \
        --run-dir "$WORK/run_trunc" --max-iter 1
    check "truncated: message says the file looks truncated or damaged" \
        grep -q "looks truncated or damaged" "$LAST_ERR"
    check "truncated: no file-locking hint" bash -c '! grep -q HDF5_USE_FILE_LOCKING=FALSE "$1"' _ "$LAST_ERR"
else
    fail "truncated HDF5: good.h5 was not built"
fi

done_testing
