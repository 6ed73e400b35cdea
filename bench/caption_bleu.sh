#!/bin/bash
# caption_bleu.sh - issue 16's captioning figure: Fashion-MNIST scenes
# (scripts/caption_scenes.py), both captioners of nets/ (Show-Attend-Tell and
# the LRCN baseline) trained with mpirun -np 2 for the same budget, the val
# scenes captioned by dltrain-caption (greedy and beam 3), BLEU-1..4 of each.
# Both captioners and the PyTorch peer start from the same encoder, pretrained
# first as a Fashion-MNIST classifier (nets/caption_encoder_solver.prototxt,
# mpirun -np 2, on Fashion-MNIST's training images: the val scenes are made
# of its test images), as Xu et al. and Donahue et al. start from an
# ImageNet-trained CNN.
# Usage: bench/caption_bleu.sh [WORKDIR] (default bench-caption/); environment:
# TRAIN_SCENES (4000), VAL_SCENES (500), VAL_CAPTIONS (all: every caption
# the grammar has for a val scene, so BLEU scores any correct caption fully
# and "exact" is the share of val scenes captioned correctly; 5 gives the
# older figures), ITERS (1200), BEAM (3), BUILD (the
# build tree, default: the source tree). Steps already done (a set, a run
# with its last checkpoint) are reused, so a second call only re-scores.
# TORCH_PYTHON (e.g. /opt/torchvenv/bin/python) adds the PyTorch peer
# (bench/caption_torch.py: the attention net, the same data, ITERS x batch
# 32 on 2 threads) as a last row, and the ratio of training images/s.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC}
W=${1:-bench-caption}
TRAIN_SCENES=${TRAIN_SCENES:-4000} VAL_SCENES=${VAL_SCENES:-500} VAL_CAPTIONS=${VAL_CAPTIONS:-all} ITERS=${ITERS:-1200} BEAM=${BEAM:-3}
PY=${PYTHON_H5PY:-/usr/bin/python3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
mkdir -p "$W"
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ; load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f "$W/val.h5" ]; then
    "$PY" "$SRC/scripts/caption_scenes.py" --train "$TRAIN_SCENES" --val "$VAL_SCENES" \
        --val-captions "$VAL_CAPTIONS" --seed 1 "$W/scenes" >/dev/null
    "$BUILD/dltrain-prep" -q --format captions --annotations "$W/scenes/train/captions.json" \
        --images "$W/scenes/train/images" --gray --size 84x84 --vocab-out "$W/vocab.txt" "$W/train.h5"
    "$BUILD/dltrain-prep" -q --format captions --annotations "$W/scenes/val/captions.json" \
        --images "$W/scenes/val/images" --gray --size 84x84 --vocab "$W/vocab.txt" "$W/val.h5"
fi
FM=${FMNIST:-/usr/share/datasets/fashion-mnist}
enc="$W/run-encoder/checkpoints/iter_00001875.h5"
if [ ! -f "$enc" ]; then
    for s in train t10k; do
        [ -f "$W/fashion-$s.h5" ] || "$BUILD/dltrain-prep" -q --format idx "$FM/$s-images-idx3-ubyte.gz" \
            "$FM/$s-labels-idx1-ubyte.gz" "$W/fashion-$s.h5"
    done
    rm -rf "$W/run-encoder"
    t0=$(date +%s.%N)
    mpirun -np 2 "$BUILD/dltrain-mpi" --solver "$SRC/nets/caption_encoder_solver.prototxt" \
        --train "$W/fashion-train.h5" --val "$W/fashion-t10k.h5" --run-dir "$W/run-encoder" \
        > "$W/run-encoder.log" 2>&1
    echo "$(echo "$(date +%s.%N) - $t0" | bc)" > "$W/run-encoder.seconds"
fi
echo "# encoder pretrained (nets/caption_encoder_solver.prototxt, mpirun -np 2) in $(printf %.0f "$(cat "$W/run-encoder.seconds")") s, Fashion-MNIST test top-1 $(grep '^test' "$W/run-encoder.log" | tail -1 | awk '{print $NF}')"
echo "# scenes: $TRAIN_SCENES train, $VAL_SCENES val ($VAL_CAPTIONS references each); vocabulary $(wc -l < "$W/vocab.txt") ids; $ITERS iterations, global batch 32"
last=$(printf 'iter_%08d.h5' "$ITERS")
for net in attention lrcn; do
    run="$W/run-$net"
    if [ ! -f "$run/checkpoints/$last" ]; then
        rm -rf "$run"
        t0=$(date +%s.%N)
        mpirun -np 2 "$BUILD/dltrain-mpi" --solver "$SRC/nets/caption_${net}_solver.prototxt" \
            --train "$W/train.h5" --val "$W/val.h5" --run-dir "$run" --max-iter "$ITERS" \
            --weights "$enc" > "$run.log" 2>&1
        echo "$(echo "$(date +%s.%N) - $t0" | bc)" > "$run.seconds"
    fi
done
printf '%-10s %5s %8s %10s %10s %7s %7s %7s %7s %7s\n' net beam train_s images/s perplexity BLEU-1 BLEU-2 BLEU-3 BLEU-4 exact
printf '%-10s %5s %8s %10s %10s %7s %7s %7s %7s %7s\n' "" "" s "" val "" "" "" "" "%"
for net in attention lrcn; do
    run="$W/run-$net"
    ips=$(awk -F'"images_per_s":' '/"kind":"train"/ {split($2, a, ","); s += a[1]; n++} END {printf "%.1f", s / n}' "$run/metrics.jsonl")
    ppl=$(grep '"kind":"test"' "$run/metrics.jsonl" | tail -1 | sed 's/.*"test_perplexity":\([0-9.e+-]*\).*/\1/')
    for k in 1 "$BEAM"; do
        "$BUILD/dltrain-caption" --run-dir "$run" --vocab "$W/vocab.txt" --beam "$k" --data "$W/val.h5" > "$W/hyp-$net-$k.txt"
        b=$("$BUILD/dltrain-eval" --bleu --hyp "$W/hyp-$net-$k.txt" --data "$W/val.h5" |
            awk '/^BLEU-[1-4]/ {printf "%s ", $2}')
        ex=$("$PY" "$SRC/bench/caption_exact.py" "$W/hyp-$net-$k.txt" "$W/val.h5" | sed 's/.*(\(.*\)%)/\1/')
        printf '%-10s %5s %8.0f %10s %10.3f %7s %7s %7s %7s %7s\n' "$net" "$k" "$(cat "$run.seconds")" "$ips" "$ppl" $b "$ex"
    done
done
if [ -n "${TORCH_PYTHON:-}" ]; then
    "$TORCH_PYTHON" "$SRC/bench/caption_torch.py" --train "$W/train.h5" --val "$W/val.h5" \
        --weights "$enc" --iters "$ITERS" --threads 2 --pool3 7 --eval "$BUILD/dltrain-eval" --out "$W/hyp-torch.txt" \
        > "$W/torch.out" 2>&1
    tline=$(grep '^pytorch' "$W/torch.out")
    ts=$(echo "$tline" | sed 's/.* in \([0-9.]*\) s: .*/\1/')
    tips=$(echo "$tline" | sed 's/.*: \([0-9.]*\) images\/s.*/\1/')
    b=$(awk '/^BLEU-[1-4]/ {printf "%s ", $2}' "$W/torch.out")
    ex=$("$PY" "$SRC/bench/caption_exact.py" "$W/hyp-torch.txt" "$W/val.h5" | sed 's/.*(\(.*\)%)/\1/')
    printf '%-10s %5s %8.0f %10s %10s %7s %7s %7s %7s %7s\n' pytorch 1 "$ts" "$tips" - $b "$ex"
    echo "# $tline"
    aips=$(awk -F'"images_per_s":' '/"kind":"train"/ {split($2, a, ","); s += a[1]; n++} END {printf "%.1f", s / n}' "$W/run-attention/metrics.jsonl")
    echo "# training images/s, attention net: dltrain mpirun -np 2 $aips / PyTorch 2 threads $tips = $(echo "scale=2; $aips / $tips" | bc)x"
fi
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
