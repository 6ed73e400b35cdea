#!/bin/bash
# caption_gpu_bench.sh - issue 16's GPU benchmark: the captioners of nets/
# on a GPU node. Training images/s of both nets with dltrain-mpi --device gpu
# on 1 GPU and on NP GPUs (one rank per GPU), --device cpu on the same node
# for reference, and the PyTorch peer (bench/caption_torch.py --device cuda:
# the attention net, the same scenes, batch and encoder) when TORCH_PYTHON is
# set, with the ratio; then the val scenes captioned by the GPU-trained
# attention net (dltrain-caption, greedy) and their BLEU-4, so the GPU run is
# seen to learn, not only to run. Everything starts from the pretrained
# encoder, as bench/caption_bleu.sh.
# Written on a machine without a GPU: NOT RUN on one yet (README, GPU backend);
# the layers' GPU code is checked against the CPU by tests/test_gpu_recurrent.
# Usage: bench/caption_gpu_bench.sh [WORKDIR] (default bench-caption-gpu/), in
# a tree configured --with-cuda. Environment: ITERS (300), BATCH (per rank,
# default 16 as the nets), NP (default: the GPUs nvidia-smi lists), CPU_NP
# (ranks of the CPU row, default 2; 0 leaves it out), TRAIN_SCENES (4000),
# VAL_SCENES (500), TORCH_PYTHON (a Python with torch and h5py).
# Last line OK, or FAILED when a run failed.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC" || exit 2
W=$(realpath -m "${1:-bench-caption-gpu}")
ITERS=${ITERS:-300} BATCH=${BATCH:-16} CPU_NP=${CPU_NP:-2}
TRAIN_SCENES=${TRAIN_SCENES:-4000} VAL_SCENES=${VAL_SCENES:-500}
NP=${NP:-$(nvidia-smi -L 2> /dev/null | grep -c '^GPU ')}
PY=${PYTHON_H5PY:-/usr/bin/python3}
grep -q "^#define HAVE_CUDA 1" config.h 2> /dev/null ||
    { echo "caption_gpu_bench.sh: build with ./configure --with-cuda first" >&2; exit 2; }
[ "$NP" -ge 1 ] 2> /dev/null || { echo "caption_gpu_bench.sh: no GPU found (nvidia-smi -L); set NP" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p "$W"
echo "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name --format=csv,noheader 2> /dev/null | head -1) x $NP;" \
    "CPU$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(nproc) cores"
if [ ! -f "$W/val.h5" ]; then
    "$PY" scripts/caption_scenes.py --train "$TRAIN_SCENES" --val "$VAL_SCENES" --seed 1 "$W/scenes" > /dev/null &&
        ./dltrain-prep -q --format captions --annotations "$W/scenes/train/captions.json" \
            --images "$W/scenes/train/images" --gray --size 84x84 --vocab-out "$W/vocab.txt" "$W/train.h5" &&
        ./dltrain-prep -q --format captions --annotations "$W/scenes/val/captions.json" \
            --images "$W/scenes/val/images" --gray --size 84x84 --vocab "$W/vocab.txt" "$W/val.h5" ||
        { echo "caption_gpu_bench.sh: making the scene sets failed"; echo FAILED; exit 1; }
fi
FM=${FMNIST:-/usr/share/datasets/fashion-mnist}
enc=$W/run-encoder/checkpoints/iter_00001875.h5
if [ ! -f "$enc" ]; then # the encoder, pretrained on the GPU
    ./dltrain-prep -q --format idx "$FM/train-images-idx3-ubyte.gz" "$FM/train-labels-idx1-ubyte.gz" \
        "$W/fashion-train.h5" &&
        mpirun -np 1 ./dltrain-mpi --device gpu --solver nets/caption_encoder_solver.prototxt \
            --train "$W/fashion-train.h5" --run-dir "$W/run-encoder" > "$W/run-encoder.log" 2>&1 ||
        { echo "caption_gpu_bench.sh: pretraining the encoder failed ($W/run-encoder.log)"; echo FAILED; exit 1; }
fi
# The nets and solvers with BATCH per rank, in WORKDIR (a solver's net: is
# found next to it).
for net in attention lrcn; do
    sed "s/batch_size: 16 /batch_size: $BATCH /" "nets/caption_${net}_train_val.prototxt" > "$W/caption_${net}_train_val.prototxt"
    sed "s/^display:.*/display: $(( ITERS / 10 > 0 ? ITERS / 10 : 1 ))/" "nets/caption_${net}_solver.prototxt" \
        > "$W/caption_${net}_solver.prototxt"
done
# mean images/s of a run's train records after the first (warm-up; the
# solvers' display is set to ITERS/10 above, so there are ten)
ips() { awk -F'"images_per_s":' '/"kind":"train"/ {n++; split($2, a, ","); if (n == 1) f = a[1]; else {s += a[1]; k++}}
    END {if (k) printf "%.1f", s / k; else if (n) printf "%.1f", f; else print "nan"}' "$1/metrics.jsonl" 2> /dev/null; }
status=OK
printf '%-10s %-7s %5s %12s %14s\n' net device ranks images/s images/s/rank
declare -A IPS
for net in attention lrcn; do
    rows="gpu:1"
    [ "$NP" -gt 1 ] && rows="$rows gpu:$NP"
    [ "$CPU_NP" -gt 0 ] && rows="$rows cpu:$CPU_NP"
    for row in $rows; do
        dev=${row%%:*} np=${row#*:} run=$W/run-$net-$dev-np${row#*:}
        rm -rf "$run"
        if mpirun -np "$np" ./dltrain-mpi --device "$dev" --solver "$W/caption_${net}_solver.prototxt" \
            --train "$W/train.h5" --run-dir "$run" --max-iter "$ITERS" --weights "$enc" --sample-interval 0 \
            > "$run.log" 2>&1; then
            v=$(ips "$run")
            IPS[$net-$dev-$np]=$v
            printf '%-10s %-7s %5s %12s %14.1f\n' "$net" "$dev" "$np" "$v" "$(echo "$v / $np" | bc -l)"
        else
            printf '%-10s %-7s %5s %12s   (%s)\n' "$net" "$dev" "$np" failed "$run.log"
            status=FAILED
        fi
    done
done
if [ -n "${TORCH_PYTHON:-}" ]; then
    if "$TORCH_PYTHON" bench/caption_torch.py --device cuda --train "$W/train.h5" --val "$W/val.h5" --weights "$enc" \
        --iters "$ITERS" --batch "$BATCH" --eval ./dltrain-eval --out "$W/hyp-torch.txt" > "$W/torch.out" 2>&1; then
        tips=$(grep '^pytorch' "$W/torch.out" | sed 's/.*: \([0-9.]*\) images\/s.*/\1/')
        printf '%-10s %-7s %5s %12s %14s\n' pytorch cuda 1 "$tips" "$tips"
        echo "# $(grep '^pytorch' "$W/torch.out"); its BLEU-4 $(awk '/^BLEU-4/ {print $2}' "$W/torch.out")"
        a=${IPS[attention-gpu-1]:-}
        [ -n "$a" ] && echo "# attention net, 1 GPU, batch $BATCH: dltrain $a / PyTorch $tips = $(echo "scale=2; $a / $tips" | bc)x"
    else
        echo "# PyTorch peer failed: $W/torch.out"; status=FAILED
    fi
fi
run=$W/run-attention-gpu-np1
if [ -d "$run/checkpoints" ]; then
    ./dltrain-caption --run-dir "$run" --vocab "$W/vocab.txt" --data "$W/val.h5" > "$W/hyp-attention-gpu.txt" &&
        echo "# attention net trained on 1 GPU, $ITERS iterations: val $(./dltrain-eval --bleu \
            --hyp "$W/hyp-attention-gpu.txt" --data "$W/val.h5" | awk '/^BLEU-4/ {print "BLEU-4", $2}') (greedy)" ||
        status=FAILED
fi
echo "$status"
