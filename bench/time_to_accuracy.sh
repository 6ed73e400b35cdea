#!/bin/sh
# time_to_accuracy.sh - issue 21's time-to-accuracy figure, both sides in one
# run: Caffe's LeNet (nets/lenet_train_val.prototxt) with Caffe's lenet_solver
# on Fashion-MNIST, EPOCHS epochs at global batch 64: dltrain-mpi on NP ranks
# (batch_size 64/NP each) vs bench/torch_train.py (PyTorch, one process,
# THREADS threads). Wall time of each whole process, start to final test;
# prints both, the ratio, and OK when dltrain takes at most MAX_RATIO of
# PyTorch's time at equal or better final top-1.
# Run from the build directory. Environment: NP (2), THREADS (2), EPOCHS (5),
# MAX_RATIO (0.5), PYTHON (/opt/torchvenv/bin/python), FM (the IDX files),
# WORK (a scratch directory, default: a new one under /tmp), ITERS (default:
# EPOCHS epochs; a smaller number checks the script quickly).
set -eu
cd "$(dirname "$0")/.."
NP=${NP:-2}
THREADS=${THREADS:-2}
EPOCHS=${EPOCHS:-5}
MAX_RATIO=${MAX_RATIO:-0.5}
PYTHON=${PYTHON:-/opt/torchvenv/bin/python}
FM=${FM:-/usr/share/datasets/fashion-mnist}
WORK=${WORK:-$(mktemp -d /tmp/tta.XXXXXX)}
GLOBAL=64
[ $((GLOBAL % NP)) -eq 0 ] || { echo "time_to_accuracy.sh: NP=$NP does not divide batch $GLOBAL" >&2; exit 2; }
ITERS=${ITERS:-$(( (60000 * EPOCHS + GLOBAL - 1) / GLOBAL ))}
mkdir -p "$WORK"

# The datasets once (a conversion, not part of either side's time: PyTorch
# reads the same IDX files directly, and its parse is in its time).
[ -f "$WORK/train.h5" ] || ./dltrain-prep --format idx "$FM/train-images-idx3-ubyte.gz" \
    "$FM/train-labels-idx1-ubyte.gz" "$WORK/train.h5" >/dev/null
[ -f "$WORK/test.h5" ] || ./dltrain-prep --format idx "$FM/t10k-images-idx3-ubyte.gz" \
    "$FM/t10k-labels-idx1-ubyte.gz" "$WORK/test.h5" >/dev/null

# Per-rank batch: the TRAIN data layer's batch_size 64 becomes 64/NP (the
# first batch_size in the file is the TRAIN one; the TEST one, 100, stays).
awk -v b=$((GLOBAL / NP)) '!done && /batch_size: 64/ { sub(/batch_size: 64/, "batch_size: " b); done = 1 } 1' \
    nets/lenet_train_val.prototxt > "$WORK/lenet_train_val.prototxt"
sed 's|^net:.*|net: "lenet_train_val.prototxt"|' nets/lenet_solver.prototxt > "$WORK/lenet_solver.prototxt"

now() { date +%s.%N; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$WORK/run"
t0=$(now)
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 mpirun -np "$NP" --oversubscribe --bind-to none \
    ./dltrain-mpi --solver "$WORK/lenet_solver.prototxt" --train "$WORK/train.h5" \
    --val "$WORK/test.h5" --run-dir "$WORK/run" --max-iter "$ITERS" --seed 1 >"$WORK/dltrain.log" 2>&1
t1=$(now)
d_acc=$(grep '"kind":"test"' "$WORK/run/metrics.jsonl" | tail -1 | sed 's/.*"test_top1":\([0-9.]*\).*/\1/')

t2=$(now)
OMP_NUM_THREADS=$THREADS "$PYTHON" bench/torch_train.py "$WORK/lenet_train_val.prototxt" \
    --solver "$WORK/lenet_solver.prototxt" --data "$FM" --iters "$ITERS" --batch $GLOBAL \
    --threads "$THREADS" >"$WORK/torch.log" 2>&1
t3=$(now)
p_acc=$(tail -1 "$WORK/torch.log" | sed 's/.*"top1": \([0-9.]*\).*/\1/')
torch=$(tail -1 "$WORK/torch.log" | sed 's/.*"torch": "\([^"]*\)".*/\1/')

awk -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" -v da="$d_acc" -v pa="$p_acc" \
    -v max="$MAX_RATIO" -v np="$NP" -v th="$THREADS" -v it="$ITERS" -v tv="$torch" '
BEGIN {
    d = t1 - t0
    p = t3 - t2
    printf "# LeNet, lenet_solver, Fashion-MNIST, %d iterations at global batch 64 (%.2f epochs)\n", it, it * 64 / 60000
    printf "#  %-36s %10s %8s\n", "side", "wall", "top-1"
    printf "#  %-36s %10s %8s\n", "", "(s)", ""
    printf "   %-36s %10.1f %8.4f\n", "dltrain mpirun -np " np " x 1 thread", d, da
    printf "   %-36s %10.1f %8.4f\n", "PyTorch " tv ", " th " threads", p, pa
    r = d / p
    ok = r <= max && da + 0 >= pa + 0
    printf "ratio %.2f (target <= %.2f at equal or better top-1): %s\n", r, max, ok ? "OK" : "FAILED"
    exit ok ? 0 : 1
}'
