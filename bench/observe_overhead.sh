#!/bin/bash
# observe_overhead.sh - cost of observability: the same LeNet training
# (np=2, ITERS iterations, display every 10) with system sampling every
# second vs sampling off, alternated PAIRS times; prints ms per step of each
# and the overhead. Usage: bench/observe_overhead.sh [ITERS] [PAIRS]
set -eu
cd "$(dirname "$0")/.."
ITERS=${1:-200}
PAIRS=${2:-3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
FM=/usr/share/datasets/fashion-mnist
./dltrain-prep --format idx $FM/train-images-idx3-ubyte.gz $FM/train-labels-idx1-ubyte.gz "$W/train.h5" -q
cp nets/lenet_fashion_train_val.prototxt "$W/"
sed -e 's/^display:.*/display: 10/' -e 's/^snapshot:.*/snapshot: 0/' nets/lenet_fashion_solver.prototxt > "$W/solver.prototxt"
step_ms() { # run with --sample-interval $1; print ms per step from the "done:" line
    rm -rf "$W/run"
    mpirun -np 2 ./dltrain-mpi --solver "$W/solver.prototxt" --train "$W/train.h5" --run-dir "$W/run" \
        --max-iter "$ITERS" --sample-interval "$1" 2>/dev/null | sed -n 's/^done: \([0-9]*\) iterations in \([0-9.]*\) s.*/\2 \1/p' |
        awk '{printf "%.3f", 1000 * $1 / $2}'
}
printf "%-6s %12s %12s %10s\n" pair "off ms/step" "1s ms/step" overhead
printf "%-6s %12s %12s %10s\n" "" ms ms "%"
tot_off=0 tot_on=0
for p in $(seq "$PAIRS"); do
    off=$(step_ms 0); on=$(step_ms 1)
    printf "%-6s %12s %12s %9.2f%%\n" "$p" "$off" "$on" "$(echo "100 * ($on - $off) / $off" | bc -l)"
    tot_off=$(echo "$tot_off + $off" | bc -l); tot_on=$(echo "$tot_on + $on" | bc -l)
done
ovh=$(echo "100 * ($tot_on - $tot_off) / $tot_off" | bc -l)
printf "%-6s %12.3f %12.3f %9.2f%%\n" mean "$(echo "$tot_off / $PAIRS" | bc -l)" "$(echo "$tot_on / $PAIRS" | bc -l)" "$ovh"
echo "$ovh" | awk '{print ($1 <= 1.0) ? "OK" : "FAILED (> 1%)"}'
