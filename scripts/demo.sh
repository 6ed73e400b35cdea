#!/bin/sh
# demo.sh - the main job: build Fashion-MNIST HDF5 sets, train LeNet on 2 MPI
# ranks for 4 epochs, print the test accuracy; leaves runs/lenet-fashion with
# log.txt, metrics.jsonl, system.jsonl, checkpoints/ and report.html. NP, RUN
# and DATA (where the HDF5 sets go; the container images point both outside
# the read-only install) can be overridden.
set -eu
cd "$(dirname "$0")/.."
NP=${NP:-2}
RUN=${RUN:-runs/lenet-fashion}
DATA=${DATA:-data}
FM=/usr/share/datasets/fashion-mnist
mkdir -p "$DATA"
[ -f "$DATA/fashion-train.h5" ] || ./dltrain-prep --format idx \
    $FM/train-images-idx3-ubyte.gz $FM/train-labels-idx1-ubyte.gz "$DATA/fashion-train.h5"
[ -f "$DATA/fashion-test.h5" ] || ./dltrain-prep --format idx \
    $FM/t10k-images-idx3-ubyte.gz $FM/t10k-labels-idx1-ubyte.gz "$DATA/fashion-test.h5"
# Open MPI refuses root unless told; --oversubscribe allows more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
. scripts/pmix-env.sh # no 2.3 s wait for a munged that is not running
mpirun -np "$NP" --oversubscribe ./dltrain-mpi --solver nets/lenet_fashion_solver.prototxt \
    --train "$DATA/fashion-train.h5" --val "$DATA/fashion-test.h5" --run-dir "$RUN"
grep '"kind":"test"' "$RUN/metrics.jsonl" | tail -1 | sed 's/.*"test_top1":\([0-9.]*\).*/\1/' | awk '{printf "final test accuracy (top-1): %.4f\n", $1}'
ls -l "$RUN/checkpoints"
./dltrain-report "$RUN" > /dev/null && echo "report: $RUN/report.html"
