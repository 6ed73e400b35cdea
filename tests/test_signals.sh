#!/bin/bash
# test_signals.sh - preemption under mpirun -np 2: SIGUSR1 (forwarded by
# mpirun) writes a checkpoint and training goes on; SIGTERM to the ranks (what
# Slurm sends on scancel/requeue/preemption) writes one more and exits 75;
# --resume auto then ends with weights bit-identical to an uninterrupted run.
# Also: the time limit (--stop-before with DLT_JOB_END_TIME) stops with 75.
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
command -v "$MPIRUN" > /dev/null || skip_all "mpirun not found (apt-get install openmpi-bin)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }
# glibc fills allocated and freed memory with a pattern: a use after free or
# an overrun near a checkpoint then tends to abort here instead of passing
# (oneDNN's GEMM convolution path aborted in about 1 of 3 runs this way).
export MALLOC_PERTURB_=165

cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
sed -e 's/^snapshot:.*/snapshot: 0/' -e 's/^display:.*/display: 5/' \
    "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/solver.prototxt"
args=(--solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN")
# wait_for SECONDS COMMAND...: poll until the command succeeds
wait_for() { local t=$(($1 * 10)); shift; while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.1; t=$((t - 1)); done; return 1; }
ckpts() { ls "$1/checkpoints" 2> /dev/null | grep -c '^iter_.*\.h5$'; }
has_ckpts() { [ "$(ckpts "$1")" -ge "$2" ]; }
progress_lines() { grep -c "iter  *[0-9]* " "$1"; }
more_lines() { [ "$(progress_lines "$1")" -gt "$2" ]; }

RUN="$WORK/run"
"$MPIRUN" -np 2 --oversubscribe "$TRAIN" "${args[@]}" --run-dir "$RUN" --max-iter 100000 \
    > "$WORK/run.out" 2>&1 &
MPI_PID=$!
check "training is under way" wait_for 60 grep -q "iter  *5 " "$WORK/run.out"
kill -USR1 $MPI_PID
check "SIGUSR1 to mpirun: a checkpoint is written" wait_for 30 has_ckpts "$RUN" 1
n_before=$(progress_lines "$WORK/run.out")
check "... and training goes on" wait_for 30 more_lines "$WORK/run.out" "$n_before"
# SIGTERM straight to both ranks, as slurmstepd does (mpirun itself would
# SIGKILL its ranks odls_base_sigkill_timeout seconds after a TERM).
kill -TERM $(pgrep -P $MPI_PID)
wait $MPI_PID
rc=$?
if [ $rc -eq 75 ]; then ok "SIGTERM: exit status 75 (preempted, resumable)"; else fail "SIGTERM: exit status $rc, expected 75"; diag_file "$WORK/run.out"; fi
check "... the log says why and where" grep -q "stopped by SIGTERM at iteration .*exit status 75" "$WORK/run.out"
check "... two checkpoints (USR1 and TERM)" test "$(ckpts "$RUN")" -eq 2
K=$(sed -n 's/.*stopped by SIGTERM at iteration \([0-9]*\).*/\1/p' "$WORK/run.out" | head -1)
STOP=$(printf '%s/checkpoints/iter_%08d.h5' "$RUN" "${K:-0}")
"$PYTHON_H5PY" - "$STOP" "${K:-0}" > "$WORK/py.txt" 2>&1 <<'PY'
import sys, zlib, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["iter"] == int(sys.argv[2]), f.attrs["iter"]
assert f.attrs["world_size"] == 2 and f["rng"].shape == (2, 4)
n = 0
def check(name, obj):
    global n
    if isinstance(obj, h5py.Dataset):
        assert zlib.crc32(obj[...].tobytes()) == obj.attrs["crc32"] & 0xffffffff, name
        n += 1
f.visititems(check)
assert n == f.attrs["num_datasets"], (n, f.attrs["num_datasets"])
print("ok", n)
PY
if [ $? -eq 0 ]; then ok "checkpoint at iteration $K: both ranks' RNG, every crc32 matches (h5py+zlib)"; else fail "checkpoint check"; diag_file "$WORK/py.txt"; fi

END=$((K + 10))
"$MPIRUN" -np 2 --oversubscribe "$TRAIN" "${args[@]}" --run-dir "$RUN" --max-iter $END --resume auto \
    > "$WORK/resume.out" 2>&1
check "resume auto from iteration $K to $END" grep -q "resumed from .* at iteration $K " "$WORK/resume.out"
"$MPIRUN" -np 2 --oversubscribe "$TRAIN" "${args[@]}" --run-dir "$WORK/full" --max-iter $END \
    > "$WORK/full.out" 2>&1
LAST=$(printf 'checkpoints/iter_%08d.h5' $END)
if "$PYTHON_H5PY" "$top_srcdir/tests/compare_ckpt.py" "$RUN/$LAST" "$WORK/full/$LAST" exact > "$WORK/cmp.txt" 2>&1; then
    ok "interrupted (USR1, TERM) + resumed = uninterrupted $END iterations, bit for bit"
else
    fail "resumed run differs from the uninterrupted one"; diag_file "$WORK/cmp.txt"
fi
check "--keep-checkpoints 3 (default) left at most 3" test "$(ckpts "$RUN")" -le 3

# SIGINT to a single process
"$TRAIN" "${args[@]}" --run-dir "$WORK/int" --max-iter 100000 > "$WORK/int.out" 2>&1 &
pid=$!
wait_for 60 grep -q "iter  *5 " "$WORK/int.out"
kill -INT $pid
wait $pid
check "SIGINT to one process: exit 75 with a checkpoint" test $? -eq 75 -a "$(ckpts "$WORK/int")" -eq 1

# Time limit: the job "ends" 4 s from now; --stop-before 0 stops at that moment.
DLT_JOB_END_TIME=$(($(date +%s) + 4)) "$TRAIN" "${args[@]}" --run-dir "$WORK/tl" --max-iter 100000 \
    --stop-before 0 > "$WORK/tl.out" 2>&1
rc=$?
check "time limit: exit 75 after a checkpoint" test $rc -eq 75 -a "$(ckpts "$WORK/tl")" -eq 1
check "... the log names the time limit and the source" \
    grep -q "stopped by the time limit" "$WORK/tl.out"
check "... and where the end came from" grep -q "from DLT_JOB_END_TIME" "$WORK/tl.out"
done_testing
