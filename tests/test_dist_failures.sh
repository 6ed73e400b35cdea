#!/bin/bash
# test_dist_failures.sh - distributed runs end instead of hanging: a rank
# that hangs (test hook) trips the watchdog, which names the phase and
# iteration; kill -9 of one rank ends the job with a message within the
# watchdog time; NaN in the input stops naming the iteration and layer
# (or is skipped with --on-nan skip); an uneven dataset (N not divisible
# by ranks x batch) runs the same iteration count on every rank.
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
command -v "$MPIRUN" > /dev/null || skip_all "mpirun not found (apt-get install openmpi-bin)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

sed -e 's/batch_size: 64/batch_size: 16/' "$top_srcdir/nets/lenet_fashion_train_val.prototxt" > "$WORK/net.prototxt"
sed -e 's/^net:.*/net: "net.prototxt"/' -e 's/^snapshot:.*/snapshot: 0/' -e 's/^display:.*/display: 5/' \
    "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/solver.prototxt"
# train NAME NP [options]: dltrain-mpi in the background of nothing; output in $WORK/NAME.txt
train() {
    local name=$1 np=$2
    shift 2
    timeout 90 "$MPIRUN" -np "$np" --oversubscribe "$TRAIN" --solver "$WORK/solver.prototxt" \
        --run-dir "$WORK/run_$name" "$@" > "$WORK/$name.txt" 2>&1
}

# 1. A hanging rank trips the watchdog (3 s) naming itself, the phase and
# the iteration; rank 0, waiting in the allreduce, leaves the report to it.
start=$(date +%s)
DLT_TEST_HANG_RANK=1 DLT_TEST_HANG_ITER=5 train hang 2 --train "$FMNIST_TRAIN" --max-iter 50 --watchdog 3
rc=$? took=$(($(date +%s) - start))
check "hanging rank: the job fails (rc $rc), not hangs (took $took s)" test $rc -ne 0 -a $rc -ne 124 -a $took -lt 60
if grep -qE "watchdog: rank 1 stopped making progress: no progress for [0-9]+ s, stuck in phase 'data' of iteration 5" "$WORK/hang.txt"; then
    ok "hanging rank: watchdog names the rank, phase and iteration ($(grep -o "rank 1 stopped.*of iteration 5" "$WORK/hang.txt" | head -1))"
else
    fail "hanging rank: watchdog names the rank (1), phase and iteration"; diag_file "$WORK/hang.txt"
fi
check "hanging rank: rank 0, waiting for it, does not report itself as the stuck one" \
    bash -c '! grep -q "rank 0 stopped making progress" "$1"' _ "$WORK/hang.txt"

# 2. kill -9 of one rank mid-training ends the job within the watchdog time.
timeout 120 "$MPIRUN" -np 2 --oversubscribe "$TRAIN" --solver "$WORK/solver.prototxt" \
    --train "$FMNIST_TRAIN" --run-dir "$WORK/run_kill" --max-iter 100000 --watchdog 20 \
    > "$WORK/kill.txt" 2>&1 &
launcher=$!
for _ in $(seq 1 300); do grep -q "^iter  *5 " "$WORK/kill.txt" && break; sleep 0.1; done
mpirun_pid=$(pgrep -P $launcher -x mpirun)
victim=$(pgrep -P "$mpirun_pid" -x dltrain-mpi | tail -1)
if [ -z "$victim" ]; then
    fail "kill -9: found a rank to kill"; diag_file "$WORK/kill.txt"
else
    start=$(date +%s)
    kill -9 "$victim"
    wait $launcher
    rc=$? took=$(($(date +%s) - start))
    check "kill -9 of one rank: the job ends (rc $rc) within the watchdog time (took $took s, limit 20)" \
        test $rc -ne 0 -a $rc -ne 124 -a $took -le 25
    if grep -qE "signal 9|Killed|watchdog: no progress" "$WORK/kill.txt"; then
        ok "kill -9 of one rank: message ($(grep -oE "exited on signal 9[^.]*|watchdog: no progress[^,]*" "$WORK/kill.txt" | head -1))"
    else
        fail "kill -9 of one rank: message"; diag_file "$WORK/kill.txt"
    fi
fi

# 3. NaN in rank 1's input at iteration 3: stop naming iteration and layer, or skip.
DLT_TEST_NAN_ITER=3 DLT_TEST_NAN_RANK=1 train nan 2 --train "$FMNIST_TRAIN" --max-iter 10
rc=$?
check "NaN in the input: the job stops (rc $rc)" test $rc -ne 0 -a $rc -ne 124
# Max pooling drops the NaN from the outputs, so the loss stays finite and
# conv1's weight gradient is where it shows.
check "NaN in the input: message names iteration 3 and the first layer (conv1's gradients)" \
    grep -qE "NaN/Inf in the gradients at iteration 3, first \(in backward order\) in layer 'conv1'" "$WORK/nan.txt"
DLT_TEST_NAN_ITER=3 DLT_TEST_NAN_RANK=1 train nanskip 2 --train "$FMNIST_TRAIN" --max-iter 10 --on-nan skip
rc=$?
check "--on-nan skip: the run completes (rc $rc)" [ $rc -eq 0 ]
check "--on-nan skip: iteration 3 skipped on both ranks" \
    bash -c "[ \$(grep -c 'iteration 3: NaN/Inf in the gradients; step skipped' '$WORK/nanskip.txt') -eq 2 ]"
check "--on-nan skip: final weights finite" "$PYTHON_H5PY" -c "
import h5py, numpy, sys
f = h5py.File('$WORK/run_nanskip/checkpoints/iter_00000010.h5', 'r')
bad = []
f.visititems(lambda n, o: bad.append(n) if isinstance(o, h5py.Dataset) and o.dtype.kind == 'f' and not numpy.isfinite(o[()]).all() else None)
sys.exit(1 if bad else 0)"

# 4. Uneven dataset: 1000 samples, 3 ranks x 16 = 48 per step -> 20 steps per
#    epoch (the 40 left over are skipped); 45 iterations span 3 epochs.
"$PYTHON_H5PY" -c "
import h5py
src = h5py.File('$FMNIST_TRAIN', 'r'); dst = h5py.File('$WORK/uneven.h5', 'w')
for k in src:
    if k != 'crc32c': dst.create_dataset(k, data=src[k][:1000] if k != 'mean' else src[k][()])
for k, v in src.attrs.items():
    if k not in ('crc32c_block', 'label_crc32c'): dst.attrs[k] = v  # a cut file: no checksums
" || fail "h5py writes a 1000-sample dataset"
train uneven 3 --train "$WORK/uneven.h5" --max-iter 45 --watchdog 30
rc=$?
check "uneven dataset (N=1000, 3 ranks x 16): completes without hang (rc $rc)" [ $rc -eq 0 ]
check "uneven dataset: 20 iterations per epoch on every rank" grep -q "20 iterations per epoch" "$WORK/uneven.txt"
check "uneven dataset: all 45 iterations done (collectives matched on every rank)" \
    grep -q "done: 45 iterations" "$WORK/uneven.txt"
done_testing
