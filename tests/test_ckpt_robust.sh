#!/bin/bash
# test_ckpt_robust.sh - checkpoints survive damage: a bit flipped in the
# newest (crc32 mismatch) or a truncated newest is detected by --resume auto,
# named, and the previous valid one used; --keep-checkpoints K keeps K; a full
# file system (4 MB tmpfs as run directory) stops the job with a message
# naming the path and ENOSPC and leaves the previous checkpoint valid.
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
sed -e 's/^snapshot:.*/snapshot: 5/' -e 's/^display:.*/display: 5/' \
    "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/solver.prototxt"
train() { # RUN_DIR MAX_ITER [args]
    local dir=$1 n=$2; shift 2
    "$TRAIN" --solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN" --run-dir "$dir" --max-iter "$n" "$@" \
        > "$dir.out" 2>&1
}
ck() { printf '%s/checkpoints/iter_%08d.h5' "$1" "$2"; }
RUN="$WORK/run"
check "20 iterations, snapshot every 5, --keep-checkpoints 2" train "$RUN" 20 --keep-checkpoints 2
check "... keeps exactly iter 15 and 20" \
    test "$(ls "$RUN/checkpoints" | tr '\n' ' ')" = "iter_00000015.h5 iter_00000020.h5 "

# Flip one float in the newest: HDF5 still opens it, only the checksum knows.
"$PYTHON_H5PY" -c '
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    d = f["data/conv1/0"]; v = d[...]; v.flat[7] += 1.0; d[...] = v' "$(ck "$RUN" 20)"
cp "$(ck "$RUN" 20)" "$WORK/flipped.h5" # the resumed run writes a new iter 20
check "bit-flipped newest: resume auto runs" train "$RUN" 21 --resume auto
check "... warns naming the file and the checksum" \
    grep -q "iter_00000020.h5' is unreadable or incomplete (/data/conv1/0 fails its crc32" "$RUN.out"
check "... resumes from iteration 15" grep -q "resumed from .*iter_00000015.h5 at iteration 15" "$RUN.out"
train "$WORK/explicit" 21 --resume "$WORK/flipped.h5"
check "--resume FLIPPED.h5 fails (exit $?)" test $? -eq 1
check "... naming the blob and the checksum" grep -q "flipped.h5: /data/conv1/0 fails its checksum" "$WORK/explicit.out"

# Truncate the newest (now iter 21) to half its size.
f=$(ck "$RUN" 21)
truncate -s $(($(stat -c %s "$f") / 2)) "$f"
check "truncated newest: resume auto runs" train "$RUN" 22 --resume auto
check "... warns about iter_00000021.h5" grep -q "iter_00000021.h5' is unreadable or incomplete" "$RUN.out"
check "... and resumes from the previous valid one (20)" grep -q "iter_00000020.h5 at iteration 20" "$RUN.out"

# Full disk: a 4 MB tmpfs holds one LeNet checkpoint (3.4 MB), not two.
FS="$WORK/tmpfs"
mkdir -p "$FS"
if ! mount -t tmpfs -o size=4m tmpfs "$FS" 2> "$WORK/mount.err"; then
    echo "# full-disk check skipped: cannot mount a tmpfs ($(cat "$WORK/mount.err")); needs root"
else
    trap 'umount "$FS" 2> /dev/null' EXIT
    train "$FS/run" 20
    rc=$?
    check "full disk: non-zero exit ($rc)" test $rc -ne 0
    check "... message names the path and ENOSPC" \
        grep -q "cannot write '$FS/run/checkpoints/iter_00000010.h5.tmp': No space left on device (ENOSPC)" "$FS/run.out"
    check "... no temporary file left" test ! -e "$FS/run/checkpoints/iter_00000010.h5.tmp"
    cp "$FS/run/checkpoints/iter_00000005.h5" "$WORK/survivor.h5" 2> /dev/null
    umount "$FS"
    "$PYTHON_H5PY" -c '
import sys, zlib, h5py
f = h5py.File(sys.argv[1], "r"); n = 0
for root in ("data", "history"):
    for l in f[root].values():
        for d in l.values():
            assert zlib.crc32(d[...].tobytes()) == d.attrs["crc32"] & 0xffffffff; n += 1
assert n + 1 == f.attrs["num_datasets"] and f.attrs["iter"] == 5' "$WORK/survivor.h5" > "$WORK/surv.txt" 2>&1
    check "... the previous checkpoint (iter 5) is intact (h5py, every crc32)" test $? -eq 0
fi
done_testing
