#!/bin/bash
# test_sge.sh - jobs/googlenet.sge on a real one-node Son of Grid Engine
# (sge/start.sh): `qsub -pe mpi 2` with the tiny LeNet config completes with
# a valid checkpoint and metrics; then the -notify path: a running job gets
# `qdel` with notify (SIGUSR2 first), checkpoints, exits 75 -> 99; the
# checkpoint it wrote is valid. Grid Engine is stopped at the end if this
# test started it.
. "$(dirname "$0")/lib.sh"
command -v qsub > /dev/null && [ -x /usr/sbin/sge_qmaster ] && [ -x /usr/sbin/sge_execd ] ||
    skip_all "gridengine-master/-exec/-client not installed (scripts/install-deps.sh --sge; CI tries it, a failed install only prints a note)"
[ "$(id -u)" -eq 0 ] || skip_all "starting sge_execd needs root"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

SG="$top_srcdir/sge"
. "$SG/env.sh"
started=0
if ! "$SG/status.sh" -q; then
    if ! "$SG/start.sh" > "$WORK/start.out" 2>&1; then
        "$SG/stop.sh" -q
        skip_all "Grid Engine could not be brought up: $(tail -1 "$WORK/start.out")"
    fi
    started=1
fi
trap '[ $started -eq 1 ] && "$SG/stop.sh" -q' EXIT
ok "local Grid Engine is up ($(qstat -f | awk '/all.q@/ { print $1, $3 }'))"

cd "$WORK"
cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" .
sed -e 's/^snapshot:.*/snapshot: 50/' -e 's/^display:.*/display: 5/' -e 's/^test_interval:.*/test_interval: 1000/' \
    -e 's/^test_iter:.*/test_iter: 2/' "$top_srcdir/nets/lenet_fashion_solver.prototxt" > solver.prototxt
M=60
wait_for() { local t=$(($1 * 5)); shift; while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.2; t=$((t - 1)); done; return 1; }
job_gone() { ! qstat -u '*' 2> /dev/null | awk '{ print $1 }' | grep -qx "$1"; }
# submit NAME RUN_DIR MAX_ITER: prints the job id
submit() {
    qsub -terse -N "$1" -o "$WORK/$1.out" -pe mpi 2 -l h_rt=00:15:00 -l mem_free=0 \
        -v SOLVER=solver.prototxt,TRAIN_H5="$FMNIST_TRAIN",VAL_H5="$FMNIST_TEST",RUN_DIR="$2",DLTRAIN="$TRAIN",EXTRA_ARGS="--max-iter $3 --device cpu" \
        "$top_srcdir/jobs/googlenet.sge"
}
valid_run() { # RUN_DIR ITER [ckpt-only]: checkpoint crc32s and metrics, read with h5py/json
    "$PYTHON_H5PY" - "$1" "$2" "${3:-}" <<'PY'
import json, sys, zlib, h5py
run, it = sys.argv[1], int(sys.argv[2])
f = h5py.File("%s/checkpoints/iter_%08d.h5" % (run, it), "r")
n = []
f.visititems(lambda k, d: n.append(zlib.crc32(d[...].tobytes()) == d.attrs["crc32"] & 0xffffffff)
             if isinstance(d, h5py.Dataset) else None)
assert all(n) and len(n) == f.attrs["num_datasets"] and f.attrs["iter"] == it
if sys.argv[3] != "ckpt-only":
    m = [json.loads(l) for l in open(run + "/metrics.jsonl")]
    assert any(x["kind"] == "train" and x["iter"] == it for x in m)
PY
}

# 1. the template, uninterrupted, 2 ranks from `-pe mpi 2`
j=$(submit ref "$WORK/ref" $M)
check "qsub -pe mpi 2 jobs/googlenet.sge (job $j)" test -n "$j"
check "job $j finishes within 90 s" wait_for 90 job_gone "$j"
check "it ran 2 ranks from the PE allocation (NSLOTS)" grep -q "2 ranks (PE mpi)" ref.out
check "... dltrain-mpi exit status 0" grep -q "dltrain-mpi exit status 0" ref.out || diag_file ref.out
check "valid checkpoint (crc32) and metrics at $M" valid_run "$WORK/ref" $M

# 2. -notify: qdel sends SIGUSR2 first (queue notify time), the script
# forwards it, the ranks checkpoint and exit 75, the script exits 99.
j=$(submit notify "$WORK/pre" 100000)
progress() { grep -q "iter  *$1 " "$WORK/notify.out" 2> /dev/null; }
if wait_for 60 progress 10; then
    ok "notify job $j is training"
    qdel "$j" > /dev/null
    check "qdel: job ends within 40 s" wait_for 40 job_gone "$j"
    check "the script got SIGUSR2 (-notify) and forwarded it" grep -q "SIGUSR2: checkpoint and stop" notify.out
    stopped_75_99() { grep -q "exit status 75" notify.out && grep -q "requeueing job $j (exit 99)" notify.out; }
    check "dltrain-mpi exited 75, the script asked for a requeue (exit 99)" stopped_75_99
    K=$(ls "$WORK/pre/checkpoints" 2> /dev/null | sed -n 's/^iter_0*\([0-9]*\)\.h5$/\1/p' | sort -n | tail -1)
    check "the checkpoint written on SIGUSR2 (iteration ${K:-none}) is valid" valid_run "$WORK/pre" "${K:-0}" ckpt-only
else
    fail "notify job $j did not start training within 60 s"; diag_file notify.out
fi
done_testing
