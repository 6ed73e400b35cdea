#!/bin/bash
# test_resume.sh - resume is invisible: 2N iterations uninterrupted equal
# N iterations + checkpoint + resume + N iterations, bit for bit (weights
# and momentum), under mpirun -np 2 with --resume auto and with one rank
# resuming from an explicit file.
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
command -v "$MPIRUN" > /dev/null || skip_all "mpirun not found (apt-get install openmpi-bin)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

N=15
cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
sed -e "s/^snapshot:.*/snapshot: $N/" -e 's/^display:.*/display: 5/' \
    -e 's/^test_interval:.*/test_interval: 10/' -e 's/^test_iter:.*/test_iter: 2/' \
    "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/solver.prototxt"
train() { # NP RUN_DIR MAX_ITER [extra args]
    local np=$1 dir=$2 iters=$3
    shift 3
    "$MPIRUN" -np "$np" --oversubscribe "$TRAIN" --solver "$WORK/solver.prototxt" \
        --train "$FMNIST_TRAIN" --val "$FMNIST_TEST" --run-dir "$dir" --max-iter "$iters" "$@" \
        >> "$dir.out" 2>&1
}
cmp_exact() { "$PYTHON_H5PY" "$top_srcdir/tests/compare_ckpt.py" "$1" "$2" exact > "$WORK/cmp.txt" 2>&1; }
END=$(printf 'iter_%08d.h5' $((2 * N)))
MID=$(printf 'iter_%08d.h5' $N)

for np in 2 1; do
    full="$WORK/full$np" part="$WORK/part$np"
    check "np=$np: $((2 * N)) iterations uninterrupted" train $np "$full" $((2 * N))
    check "np=$np: first $N iterations" train $np "$part" $N
    check "np=$np: stopped run left $MID" test -f "$part/checkpoints/$MID"
    if [ $np -eq 2 ]; then
        check "np=$np: --resume auto continues to $((2 * N))" train $np "$part" $((2 * N)) --resume auto
        check "np=$np: log says where it resumed" grep -q "resumed from .*$MID at iteration $N" "$part.out"
    else
        check "np=$np: --resume FILE continues to $((2 * N))" train $np "$part" $((2 * N)) \
            --resume "$part/checkpoints/$MID"
    fi
    if cmp_exact "$part/checkpoints/$END" "$full/checkpoints/$END"; then
        ok "np=$np: resumed weights and history are bit-identical to the uninterrupted run"
    else
        fail "np=$np: resumed run differs"; diag_file "$WORK/cmp.txt"
    fi
done
# Another rank count: a checkpoint of 2 ranks resumed by 1 rank carries the
# weights and the solver state over unchanged (read back bit for bit when no
# iteration runs), and the data-order change is said.
check "np=2 checkpoint resumed on np=1" train 1 "$WORK/rescale" $N --resume "$WORK/part2/checkpoints/$MID"
check "... says the rank count changed" grep -q "written by 2 ranks, now 1" "$WORK/rescale.out"
if cmp_exact "$WORK/rescale/checkpoints/$MID" "$WORK/part2/checkpoints/$MID"; then
    ok "... weights and history carried over bit for bit"
else
    fail "... weights and history carried over"; diag_file "$WORK/cmp.txt"
fi
check "... and training goes on from there" train 1 "$WORK/rescale" $((N + 5)) --resume auto
# --resume auto with no checkpoint starts from scratch, saying so
check "--resume auto without checkpoints starts fresh" train 1 "$WORK/fresh" 2 --resume auto
check "... and says so" grep -q "no checkpoint" "$WORK/fresh.out"
# A corrupt newest checkpoint is skipped in favour of the previous one.
cp "$WORK/full1/checkpoints/$MID" "$WORK/c_mid.h5"
echo garbage > "$WORK/full1/checkpoints/$(printf 'iter_%08d.h5' $((3 * N)))"
check "corrupt newest checkpoint: resume auto falls back" train 1 "$WORK/full1" $((2 * N + 1)) --resume auto
check "... with a warning naming it" grep -q "unreadable or incomplete" "$WORK/full1.out"
check "... and resumes from iteration $((2 * N))" grep -q "at iteration $((2 * N))" "$WORK/full1.out"
# Inconsistent RNG section: a 2-rank checkpoint whose world_size says 3
# (its /rng has 2 states) is refused, saying which counts disagree; one
# without /rng resumes, saying the RNG streams restart (it used to claim
# the rank count had changed).
edit_ckpt() { # SRC DST PYTHON-STATEMENT (f is the open file)
    cp "$1" "$2" && "$PYTHON_H5PY" -c "import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'r+') as f:
    $3" "$2"
}
edit_ckpt "$WORK/part2/checkpoints/$MID" "$WORK/rng_world3.h5" "f.attrs['world_size'] = np.int64(3)"
train 2 "$WORK/rng_bad" $((N + 1)) --resume "$WORK/rng_world3.h5"
check "world_size 3 with 2 RNG states: resume refused" test $? -ne 0
check "... naming both counts" grep -q "/rng holds 2 per-rank RNG states but the checkpoint's world_size attribute says 3" "$WORK/rng_bad.out"
edit_ckpt "$WORK/part2/checkpoints/$MID" "$WORK/rng_none.h5" "del f['rng']"
check "checkpoint without /rng: resume runs" train 2 "$WORK/rng_none" $((N + 1)) --resume "$WORK/rng_none.h5"
check "... saying it has no /rng section" grep -q "has no /rng section" "$WORK/rng_none.out"
check "... not that the rank count changed" bash -c '! grep -q "written by 2 ranks, now 2" "$1"' _ "$WORK/rng_none.out"
done_testing
