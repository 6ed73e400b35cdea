#!/bin/bash
# test_scaling.sh - the scaling-study templates on the local one-node Slurm
# (slurm/start.sh): jobs/scaling_submit.sh --ranks 1 2 submits
# jobs/scaling.slurm twice (tiny LeNet config, fixed iterations); both
# complete, and jobs/scaling_table.sh prints one row per run with images/s > 0.
. "$(dirname "$0")/lib.sh"
command -v sbatch > /dev/null && [ -x /usr/sbin/slurmctld ] ||
    skip_all "slurm-wlm not installed (scripts/install-deps.sh --slurm)"
[ "$(id -u)" -eq 0 ] || skip_all "starting slurmd needs root"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

SL="$top_srcdir/slurm"
started=0
if ! "$SL/status.sh" -q; then
    "$SL/start.sh" > "$WORK/start.out" 2>&1 || { fail "slurm/start.sh"; diag_file "$WORK/start.out"; done_testing; }
    started=1
fi
trap '[ $started -eq 1 ] && "$SL/stop.sh" -q' EXIT
. "$SL/env.sh"

cd "$WORK"
cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" .
sed -e 's/^snapshot:.*/snapshot: 0/' -e 's/^display:.*/display: 5/' \
    "$top_srcdir/nets/lenet_fashion_solver.prototxt" > solver.prototxt
wait_for() { local t=$(($1 * 5)); shift; while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.2; t=$((t - 1)); done; return 1; }
job_gone() { ! squeue -h -j "$1" 2> /dev/null | grep -q .; }
# This node has one fake GPU and 2 cores: no GPUs, one core per rank.
export RESULTS="$WORK/results" SOLVER=solver.prototxt TRAIN_H5="$FMNIST_TRAIN" DLTRAIN="$TRAIN" ITERS=40
export SBATCH_OPTS="--gres=gpu:0 --cpus-per-task=1 --time=10 --output=$WORK/scaling-%j.out"
jobs=$("$top_srcdir/jobs/scaling_submit.sh" --ranks 1 2 2> submit.err)
check "scaling_submit.sh --ranks 1 2 submitted 2 jobs ($(echo $jobs))" test "$(echo "$jobs" | grep -c '^[0-9][0-9]*$')" -eq 2 ||
    diag_file submit.err
for j in $jobs; do
    check "scaling job $j ends within 60 s" wait_for 60 job_gone "$j"
done
if "$top_srcdir/jobs/scaling_table.sh" "$RESULTS" > table.txt 2> table.err; then
    sed 's/^/# /' table.txt
    check "the table has a row for 1 rank and one for 2 ranks, images/s > 0" \
        test "$(awk 'NR > 1 && $3 > 0 { print $2 }' table.txt | tr '\n' ' ')" = "1 2 "
    check "speed-up and efficiency of the 1-rank row are 1.00 and 100%" \
        test "$(awk 'NR == 2 { print $4, $5 }' table.txt)" = "1.00 100%"
else
    fail "scaling_table.sh found results"; diag_file table.err
    for f in scaling-*.out; do diag_file "$f"; done
fi
done_testing
