#!/bin/bash
# test_slurm.sh - the shipped Slurm templates on a real one-node Slurm
# (slurm/start.sh): lenet_cpu.slurm and googlenet.slurm (tiny LeNet config,
# 2 ranks, --device cpu) complete with a valid checkpoint and metrics;
# googlenet.slurm as shipped (--device gpu) stops at start on this node
# (its GPU is a fake gres), naming rank and host; a googlenet.slurm job
# requeued mid-training (scontrol requeue) checkpoints, restarts, resumes and
# ends with weights bit-identical to the uninterrupted job. Then the scaling
# study: jobs/scaling_submit.sh --ranks 1 2 (jobs/scaling.slurm), and
# jobs/scaling_table.sh prints one row per run with images/s > 0. (One test
# file: two tests starting and stopping the same local Slurm would race.)
# The first run's own last lines may be lost: Slurm SIGKILLs what is left of
# a requeued job's batch step after KillWait.
. "$(dirname "$0")/lib.sh"
command -v sbatch > /dev/null && [ -x /usr/sbin/slurmctld ] ||
    skip_all "slurm-wlm not installed (scripts/install-deps.sh --slurm)"
[ "$(id -u)" -eq 0 ] || skip_all "starting slurmd needs root"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

SL="$top_srcdir/slurm"
started=0
if ! "$SL/status.sh" -q; then
    "$SL/start.sh" > "$WORK/start.out" 2>&1 || { fail "slurm/start.sh"; diag_file "$WORK/start.out"; done_testing; }
    started=1
fi
trap '[ $started -eq 1 ] && "$SL/stop.sh" -q' EXIT
. "$SL/env.sh"
ok "local Slurm is up ($(sinfo -h -N -o '%N %t %c CPUs %G'))"

cd "$WORK"
cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" .
sed -e 's/^snapshot:.*/snapshot: 50/' -e 's/^display:.*/display: 5/' -e 's/^test_interval:.*/test_interval: 1000/' \
    -e 's/^test_iter:.*/test_iter: 2/' "$top_srcdir/nets/lenet_fashion_solver.prototxt" > solver.prototxt
M=60
wait_for() { local t=$(($1 * 5)); shift; while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.2; t=$((t - 1)); done; return 1; }
job_gone() { ! squeue -h -j "$1" 2> /dev/null | grep -q .; }
job_field() { scontrol show job "$1" 2> /dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
# submit NAME TEMPLATE RUN_DIR [sbatch options]: prints the job id
submit() {
    local name=$1 tmpl=$2 run=$3; shift 3
    sbatch --parsable --job-name="$name" --output="$WORK/$name.out" "$@" \
        --export=ALL,SOLVER=solver.prototxt,TRAIN_H5="$FMNIST_TRAIN",VAL_H5="$FMNIST_TEST",RUN_DIR="$run",DLTRAIN="$TRAIN",EXTRA_ARGS="--max-iter $M ${DEV_ARG---device cpu}" \
        "$top_srcdir/jobs/$tmpl"
}
valid_run() { # RUN_DIR ITER: checkpoint crc32s and metrics, read with h5py/json
    "$PYTHON_H5PY" - "$1" "$2" <<'PY'
import json, sys, zlib, h5py
run, it = sys.argv[1], int(sys.argv[2])
f = h5py.File("%s/checkpoints/iter_%08d.h5" % (run, it), "r")
n = []
f.visititems(lambda k, d: n.append(zlib.crc32(d[...].tobytes()) == d.attrs["crc32"] & 0xffffffff)
             if isinstance(d, h5py.Dataset) else None)
assert all(n) and len(n) == f.attrs["num_datasets"] and f.attrs["iter"] == it
m = [json.loads(l) for l in open(run + "/metrics.jsonl")]
assert any(x["kind"] == "train" and x["iter"] == it for x in m)
assert any(x["kind"] == "test" and x["iter"] == it for x in m)
PY
}
GPU_OPTS=(--nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --time=15 --gres=gpu:1)

# 1. lenet_cpu.slurm as shipped (its resources fit this node)
j=$(submit lenet lenet_cpu.slurm "$WORK/lenet")
check "sbatch lenet_cpu.slurm (job $j)" test -n "$j"
wait_for 120 job_gone "$j"
check "lenet_cpu.slurm: COMPLETED, exit 0" test "$(job_field "$j" JobState) $(job_field "$j" ExitCode)" = "COMPLETED 0:0"
check "lenet_cpu.slurm: valid checkpoint (crc32) and metrics at $M" valid_run "$WORK/lenet" $M

# 2. googlenet.slurm with the tiny config, uninterrupted: the reference
j=$(submit ref googlenet.slurm "$WORK/ref" "${GPU_OPTS[@]}")
wait_for 120 job_gone "$j"
check "googlenet.slurm (tiny config, 2 ranks): COMPLETED, exit 0" \
    test "$(job_field "$j" JobState) $(job_field "$j" ExitCode)" = "COMPLETED 0:0"
check "googlenet.slurm: valid checkpoint and metrics at $M" valid_run "$WORK/ref" $M || diag_file "$WORK/ref.out"

# 2b. googlenet.slurm as shipped (--device gpu, no override) on this node,
# whose GPU is a fake gres: the job stops at start naming the rank and host
j=$(DEV_ARG= submit nogpu googlenet.slurm "$WORK/nogpu" "${GPU_OPTS[@]}")
wait_for 120 job_gone "$j"
check "googlenet.slurm as shipped (--device gpu), no real GPU: FAILED at start, exit 1" \
    test "$(job_field "$j" JobState) $(job_field "$j" ExitCode)" = "FAILED 1:0"
check "... naming the rank and host" grep -q "rank [01] on host .* has no GPU for --device gpu" "$WORK/nogpu.out"
check "... before any training step" bash -c "! grep -q '^iter ' '$WORK/nogpu.out'"

# 3. the same job, requeued mid-training
j=$(submit preempt googlenet.slurm "$WORK/pre" "${GPU_OPTS[@]}")
progress() { grep -q "iter  *$1 " "$WORK/preempt.out" 2> /dev/null; }
check "preempt job $j is training" wait_for 120 progress 10
scontrol requeue "$j"
t_requeue=$(date +%s.%N)
resumed() { grep -A100 "resumed from" "$WORK/preempt.out" | grep -q "^iter "; }
check "requeued job restarts and resumes" wait_for 120 resumed
t_resumed=$(date +%s.%N)
echo "# requeue -> first resumed iteration: $(echo "$t_resumed - $t_requeue" | bc) s (cred_expire=10 wait included)"
wait_for 120 job_gone "$j"
check "... then COMPLETED with exit 0 after 1 restart" \
    test "$(job_field "$j" JobState) $(job_field "$j" ExitCode) $(job_field "$j" Restarts)" = "COMPLETED 0:0 1"
# snapshot is 50: a checkpoint at another iteration >= 10 was written on the requeue's TERM
K=$(sed -n 's/^resumed from .* at iteration \([0-9]*\) .*/\1/p' "$WORK/preempt.out" | head -1)
check "the requeue's TERM wrote a checkpoint (iteration $K) that the restart resumed from" \
    test -n "$K" -a "${K:-0}" -ge 10 -a $((${K:-0} % 50)) -ne 0
LAST=$(printf 'checkpoints/iter_%08d.h5' $M)
if "$PYTHON_H5PY" "$top_srcdir/tests/compare_ckpt.py" "$WORK/pre/$LAST" "$WORK/ref/$LAST" exact > cmp.txt 2>&1; then
    ok "requeued + resumed job = uninterrupted job, bit for bit"
else
    fail "requeued job's weights differ"; diag_file cmp.txt; diag_file "$WORK/preempt.out" 40
fi
# 4. scaling study: scaling_submit.sh --ranks 1 2, then scaling_table.sh.
# This node has one fake GPU and 2 cores: no GPUs, one core per rank.
sed -e 's/^snapshot:.*/snapshot: 0/' -e 's/^display:.*/display: 5/' \
    "$top_srcdir/nets/lenet_fashion_solver.prototxt" > scaling_solver.prototxt
jobs=$(RESULTS="$WORK/results" SOLVER=scaling_solver.prototxt TRAIN_H5="$FMNIST_TRAIN" DLTRAIN="$TRAIN" ITERS=40 \
    SBATCH_OPTS="--gres=gpu:0 --cpus-per-task=1 --time=10 --output=$WORK/scaling-%j.out" \
    "$top_srcdir/jobs/scaling_submit.sh" --ranks 1 2 2> submit.err)
check "scaling_submit.sh --ranks 1 2 submitted 2 jobs ($(echo $jobs))" test "$(echo "$jobs" | grep -c '^[0-9][0-9]*$')" -eq 2 ||
    diag_file submit.err
for j in $jobs; do
    check "scaling job $j ends within 60 s" wait_for 60 job_gone "$j"
done
if "$top_srcdir/jobs/scaling_table.sh" "$WORK/results" > table.txt 2> table.err; then
    sed 's/^/# /' table.txt
    check "the scaling table has a row for 1 rank and one for 2 ranks, images/s > 0" \
        test "$(awk 'NR > 1 && $3 > 0 { print $2 }' table.txt | tr '\n' ' ')" = "1 2 "
    check "speed-up and efficiency of the 1-rank row are 1.00 and 100%" \
        test "$(awk 'NR == 2 { print $4, $5 }' table.txt)" = "1.00 100%"
else
    fail "scaling_table.sh found results"; diag_file table.err
    for f in scaling-*.out; do diag_file "$f"; done
fi
done_testing
