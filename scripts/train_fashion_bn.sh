#!/bin/sh
# train_fashion_bn.sh - the Accuracy figure: train the BatchNorm Fashion-MNIST
# net (nets/fashion_bn_train_val.prototxt, solver nets/fashion_bn_solver.prototxt)
# on NP=2 MPI ranks, report the wall time, then evaluate the final checkpoint
# with dltrain-eval (top-1, top-5, per-class, confusion matrix). NP, RUN,
# SOLVER and EXTRA (more dltrain-mpi options, e.g. "--warmup-iters 468") can
# be overridden from the environment.
set -eu
cd "$(dirname "$0")/.."
NP=${NP:-2}
RUN=${RUN:-runs/fashion-bn}
SOLVER=${SOLVER:-nets/fashion_bn_solver.prototxt}
EXTRA=${EXTRA:-}
FM=/usr/share/datasets/fashion-mnist
[ -f "$SOLVER" ] || { echo "train_fashion_bn.sh: $SOLVER not found" >&2; exit 1; }
mkdir -p data
[ -f data/fashion-train.h5 ] || ./dltrain-prep --format idx \
    $FM/train-images-idx3-ubyte.gz $FM/train-labels-idx1-ubyte.gz data/fashion-train.h5
[ -f data/fashion-test.h5 ] || ./dltrain-prep --format idx \
    $FM/t10k-images-idx3-ubyte.gz $FM/t10k-labels-idx1-ubyte.gz data/fashion-test.h5
# Open MPI refuses root unless told; --oversubscribe allows more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
. scripts/pmix-env.sh # no 2.3 s wait for a munged that is not running
start=$(date +%s)
# shellcheck disable=SC2086 # EXTRA is a list of options
mpirun -np "$NP" --oversubscribe ./dltrain-mpi --solver "$SOLVER" \
    --train data/fashion-train.h5 --val data/fashion-test.h5 --run-dir "$RUN" $EXTRA
end=$(date +%s)
echo "wall time: $((end - start)) s for $NP ranks on $(nproc) cores"
grep '"kind":"test"' "$RUN/metrics.jsonl" | tail -1 | sed 's/.*"test_top1":\([0-9.]*\).*/\1/' |
    awk '{printf "final test accuracy (top-1, trainer): %.4f\n", $1}'
./dltrain-eval --run-dir "$RUN" --data data/fashion-test.h5
