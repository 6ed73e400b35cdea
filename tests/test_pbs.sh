#!/bin/bash
# test_pbs.sh - the PBS Pro and Torque templates: their #PBS directives pass
# ../shared/tools/pbs_lint.py (--dialect pro / torque; a broken copy fails),
# and their bodies, run by bash from $HOME with the PBS environment emulated
# (PBS_NODEFILE, PBS_O_WORKDIR, PBS_JOBID, PBS_JOBNAME, NCPUS or PBS_NP,
# TMPDIR), train the tiny LeNet config with 2 ranks and leave a valid
# checkpoint. No PBS server runs here: see README "Job templates".
. "$(dirname "$0")/lib.sh"
LINT="$SHARED_DIR/tools/pbs_lint.py"
[ -f "$LINT" ] || skip_all "pbs_lint.py not found at $LINT (../shared is absent)"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
command -v "$MPIRUN" > /dev/null || skip_all "mpirun not found (apt-get install openmpi-bin)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

lint() { "$PYTHON_H5PY" "$LINT" --dialect "$1" "$2" > "$WORK/lint.txt" 2>&1; }
for t in pro:googlenet.pbs torque:googlenet.torque; do
    if lint "${t%%:*}" "$top_srcdir/jobs/${t#*:}"; then ok "pbs_lint --dialect ${t%%:*} jobs/${t#*:}"
    else fail "pbs_lint --dialect ${t%%:*} jobs/${t#*:}"; diag_file "$WORK/lint.txt"; fi
done
sed 's/select=2:ncpus=32/select=2:ppn=32/' "$top_srcdir/jobs/googlenet.pbs" > "$WORK/broken.pbs"
check "the lint can fail (ppn inside select=)" bash -c "! '$PYTHON_H5PY' '$LINT' --dialect pro '$WORK/broken.pbs' > /dev/null"

SUBMIT="$WORK/submit"
mkdir -p "$SUBMIT" "$WORK/home" "$WORK/tmp"
cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$SUBMIT/"
sed -e 's/^snapshot:.*/snapshot: 0/' -e 's/^display:.*/display: 10/' -e 's/^test_interval:.*/test_interval: 1000/' \
    -e 's/^test_iter:.*/test_iter: 2/' "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$SUBMIT/solver.prototxt"
printf 'localhost\nlocalhost\n' > "$WORK/nodefile"
M=30
emulate() { # DIALECT_ENV... -- TEMPLATE RUN
    local tmpl=$1 run=$2; shift 2
    # A sanitizer build's settings (tests/sanitizer/env.sh) survive the
    # clean environment, as a real batch system passes the job's on.
    local san=()
    [ -n "${ASAN_OPTIONS:-}" ] && san+=("ASAN_OPTIONS=$ASAN_OPTIONS")
    [ -n "${UBSAN_OPTIONS:-}" ] && san+=("UBSAN_OPTIONS=$UBSAN_OPTIONS")
    (cd "$WORK/home" && env -i "${san[@]}" PATH="$PATH" HOME="$WORK/home" USER=root TMPDIR="$WORK/tmp" \
        PBS_O_WORKDIR="$SUBMIT" PBS_NODEFILE="$WORK/nodefile" PBS_JOBID=42.pbs-server PBS_JOBNAME=googlenet \
        PBS_O_HOST=login1 PBS_ENVIRONMENT=PBS_BATCH OMPI_MCA_rmaps_base_oversubscribe=1 \
        OMPI_MCA_btl_vader_single_copy_mechanism=none "$@" \
        SOLVER=solver.prototxt TRAIN_H5="$FMNIST_TRAIN" VAL_H5="$FMNIST_TEST" RUN_DIR="$run" DLTRAIN="$TRAIN" \
        EXTRA_ARGS="--max-iter $M --device cpu" bash "$top_srcdir/jobs/$tmpl") > "$WORK/$run.out" 2>&1
}
valid() { "$PYTHON_H5PY" - "$SUBMIT/$1" $M <<'PY'
import json, sys, zlib, h5py
run, it = sys.argv[1], int(sys.argv[2])
f = h5py.File("%s/checkpoints/iter_%08d.h5" % (run, it), "r")
n = []
f.visititems(lambda k, d: n.append(zlib.crc32(d[...].tobytes()) == d.attrs["crc32"] & 0xffffffff)
             if isinstance(d, h5py.Dataset) else None)
assert all(n) and len(n) == f.attrs["num_datasets"] and f.attrs["world_size"] == 2
assert any(json.loads(l)["iter"] == it for l in open(run + "/metrics.jsonl"))
PY
}
emulate googlenet.pbs pro NCPUS=2 OMP_NUM_THREADS=2
check "PBS Pro body (emulated env, from \$HOME) trains: exit 0" test $? -eq 0
check "... 2 ranks from PBS_NODEFILE, 1 BLAS thread each (NCPUS=2 / 2 ranks)" \
    grep -q "ranks 2 (2 on this node), BLAS threads per rank 1" "$WORK/pro.out"
check "... run directory relative to PBS_O_WORKDIR, valid checkpoint at $M" valid pro
emulate googlenet.torque torque PBS_NP=2 PBS_NUM_PPN=2
check "Torque body (emulated env) trains: exit 0" test $? -eq 0
check "... valid checkpoint at $M" valid torque
check "nothing was written in \$HOME" test -z "$(ls -A "$WORK/home")"
done_testing
