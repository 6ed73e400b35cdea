#!/bin/bash
# report_overhead.sh - cost of the live RUN/report.html: LeNet on Fashion-MNIST,
# np=2, ITERS iterations, for each TEST_INTERVAL given (the shipped solver
# tests every 468); the trainer times each rewrite (CLOCK_MONOTONIC around
# read + render + write + rename) and logs the total, which this prints
# against the run's wall time. Usage: bench/report_overhead.sh [ITERS] [TEST_INTERVAL...]
set -eu
cd "$(dirname "$0")/.."
ITERS=${1:-1872}
shift || true
INTERVALS=${*:-468 50}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
FM=/usr/share/datasets/fashion-mnist
./dltrain-prep --format idx $FM/train-images-idx3-ubyte.gz $FM/train-labels-idx1-ubyte.gz "$W/train.h5" -q
./dltrain-prep --format idx $FM/t10k-images-idx3-ubyte.gz $FM/t10k-labels-idx1-ubyte.gz "$W/test.h5" -q
cp nets/lenet_fashion_train_val.prototxt "$W/"
printf "%-14s %10s %10s %12s %10s %10s\n" test_interval rewrites "run" "rewrites" "per one" overhead
printf "%-14s %10s %10s %12s %10s %10s\n" "" "" s s ms "%"
worst=0
for ti in $INTERVALS; do
    sed -e "s/^test_interval:.*/test_interval: $ti/" -e 's/^snapshot:.*/snapshot: 0/' \
        nets/lenet_fashion_solver.prototxt > "$W/solver.prototxt"
    rm -rf "$W/run"
    mpirun -np 2 ./dltrain-mpi --solver "$W/solver.prototxt" --train "$W/train.h5" --val "$W/test.h5" \
        --run-dir "$W/run" --max-iter "$ITERS" > /dev/null 2>&1
    # "report.html rewritten N times in S s (P% of the T s run)"
    read -r n s p t < <(sed -n 's/^report.html rewritten \([0-9]*\) times in \([0-9.]*\) s (\([0-9.]*\)% of the \([0-9.]*\) s run)/\1 \2 \3 \4/p' "$W/run/log.txt")
    printf "%-14s %10s %10s %12s %10.1f %9s%%\n" "$ti" "$n" "$t" "$s" "$(echo "1000 * $s / $n" | bc -l)" "$p"
    worst=$(echo "if ($p > $worst) $p else $worst" | bc -l)
done
echo "$worst" | awk '{print ($1 < 0.5) ? "OK" : "FAILED (>= 0.5%)"}'
