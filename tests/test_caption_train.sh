#!/bin/bash
# test_caption_train.sh - a caption set through dltrain-mpi: the 4-top Data
# layer takes its T from the set, the loader's word batches reach the net
# (a plumbing net: InnerProduct over input_words, SoftmaxWithLoss with
# ignore_label 0 against target_words, batch 1 so the shapes agree without
# the recurrent layers), mpirun -np 2 serves every caption once per epoch,
# and a resumed run is bit-identical to an uninterrupted one.
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
"$PYTHON_H5PY" -c 'import PIL' 2>/dev/null || skip_all "PIL not available (Debian: apt-get install python3-pil)"
command -v "$MPIRUN" > /dev/null || skip_all "mpirun not found (apt-get install openmpi-bin)"

S="$WORK/scenes"
"$PYTHON_H5PY" "$top_srcdir/scripts/caption_scenes.py" --train 40 --val 10 --captions 3 --seed 9 "$S" \
    >/dev/null 2>&1
for split in train val; do
    "$PREP" -q --format captions --annotations "$S/$split/captions.json" --images "$S/$split/images" \
        --gray --size 84x84 --min-count 1 ${vocab:+--vocab "$vocab"} --vocab-out "$WORK/$split.vocab" \
        "$WORK/$split.h5" >"$WORK/prep.log" 2>&1
    vocab="$WORK/train.vocab"
done
check "caption sets for training (40 + 10 scenes, 3 captions each)" test -f "$WORK/val.h5"

cat >"$WORK/net.prototxt" <<'NET'
name: "caption_plumbing"
layer { name: "d" type: "Data" top: "data" top: "input_words" top: "target_words" top: "cont"
        include { phase: TRAIN } data_param { batch_size: 1 } transform_param { scale: 0.00390625 } }
layer { name: "d" type: "Data" top: "data" top: "input_words" top: "target_words" top: "cont"
        include { phase: TEST } data_param { batch_size: 1 } transform_param { scale: 0.00390625 } }
layer { name: "ip" type: "InnerProduct" bottom: "input_words" top: "scores"
        inner_product_param { num_output: 64 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "scores" bottom: "target_words" top: "loss"
        loss_param { ignore_label: 0 } }
NET
N=20
cat >"$WORK/solver.prototxt" <<SOLVER
net: "$WORK/net.prototxt"
base_lr: 0.001
momentum: 0.9
lr_policy: "fixed"
max_iter: 1000
display: 10
snapshot: $N
test_interval: 10
test_iter: 4
random_seed: 3
SOLVER
train() { # NP RUN_DIR MAX_ITER [extra args]
    local np=$1 dir=$2 iters=$3
    shift 3
    "$MPIRUN" -np "$np" --oversubscribe "$TRAIN" --solver "$WORK/solver.prototxt" \
        --train "$WORK/train.h5" --val "$WORK/val.h5" --run-dir "$dir" --max-iter "$iters" "$@" \
        >> "$dir.out" 2>&1
}

# One epoch on 2 ranks of batch 1: 120 captions in 60 steps, each once.
rm -f "$WORK/trace.txt"
DLTRAIN_TRACE_SAMPLES="$WORK/trace.txt" train 2 "$WORK/epoch" 60
check "mpirun -np 2 trains on the caption set" test $? -eq 0
out=$(awk '$2 == 0 {n++; seen[$3]++; r[$1]++} END {d = 0; for (k in seen) d++;
          printf "%d %d %d %d", n, d, r[0], r[1]}' "$WORK/trace.txt")
[ "$out" = "120 120 60 60" ] && ok "epoch 0: 120 captions served, all distinct, 60 by each rank" ||
    { fail "epoch 0 served (samples distinct rank0 rank1): $out, expected 120 120 60 60"; }
grep -q "test_loss" "$WORK/epoch.out" && ok "the TEST net runs on the val caption set" ||
    { fail "the TEST net runs on the val caption set"; diag_file "$WORK/epoch.out"; }

END=$(printf 'iter_%08d.h5' $((2 * N)))
MID=$(printf 'iter_%08d.h5' $N)
check "np=2: $((2 * N)) iterations uninterrupted" train 2 "$WORK/full" $((2 * N))
check "np=2: first $N iterations" train 2 "$WORK/part" $N
check "np=2: --resume auto continues to $((2 * N))" train 2 "$WORK/part" $((2 * N)) --resume auto
if "$PYTHON_H5PY" "$top_srcdir/tests/compare_ckpt.py" "$WORK/part/checkpoints/$END" \
    "$WORK/full/checkpoints/$END" exact >"$WORK/cmp.txt" 2>&1; then
    ok "resumed weights and history are bit-identical to the uninterrupted run"
else
    fail "resumed run differs"; diag_file "$WORK/cmp.txt"
fi
done_testing
