#!/bin/bash
# test_caption_train.sh - a caption set through dltrain-mpi: the 4-top Data
# layer takes its T from the set, the loader's word batches reach the net
# (a plumbing net: InnerProduct over input_words, SoftmaxWithLoss with
# ignore_label 0 against target_words, batch 1 so the shapes agree without
# the recurrent layers), mpirun -np 2 serves every caption once per epoch,
# and a resumed run is bit-identical to an uninterrupted one. Then the real
# attention captioner of nets/ (batch 4 so it runs in seconds): its
# per-token loss falls under mpirun -np 2, a resumed run is bit-identical,
# and a vocabulary smaller than the set's is refused at setup naming both.
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

# ---- the attention captioner of nets/ (batch 4, test_iter 1) ----
sed -e 's/batch_size: 16/batch_size: 4/' -e 's/batch_size: 50/batch_size: 10/' \
    "$top_srcdir/nets/caption_attention_train_val.prototxt" > "$WORK/att.prototxt"
sed -e "s#^net: .*#net: \"$WORK/att.prototxt\"#" -e 's/^display: .*/display: 5/' \
    -e 's/^test_iter: .*/test_iter: 2/' -e 's/^test_interval: .*/test_interval: 1000/' \
    -e 's/^snapshot: .*/snapshot: 10/' "$top_srcdir/nets/caption_attention_solver.prototxt" \
    > "$WORK/att_solver.prototxt"
att() { # RUN_DIR MAX_ITER [extra args]
    local dir=$1 iters=$2
    shift 2
    "$MPIRUN" -np 2 --oversubscribe "$TRAIN" --solver "$WORK/att_solver.prototxt" \
        --train "$WORK/train.h5" --val "$WORK/val.h5" --run-dir "$dir" --max-iter "$iters" "$@" \
        >> "$dir.out" 2>&1
}
check "np=2: the attention captioner trains 40 iterations" att "$WORK/att" 40
# The loss is the mean over each batch's words (SoftmaxWithLoss, ignore_label 0).
losses=$(awk -F'"loss":' '/"kind":"train"/ {split($2, a, ","); printf "%s ", a[1]}' \
    "$WORK/att/metrics.jsonl")
set -- $losses
if [ $# -eq 8 ] && awk -v a="$1" -v b="${8}" 'BEGIN {exit !(b < 0.85 * a)}'; then
    ok "per-token loss falls: $1 (iterations 1-5) -> ${8} (36-40)"
else
    fail "per-token loss falls by 15%: $losses"; diag_file "$WORK/att.out"
fi
# Per-token loss and perplexity: every train and test record, perplexity =
# exp(token loss); the token loss (per word over the interval) near the batch
# mean loss; the report shows them.
"$PYTHON_H5PY" - "$WORK/att/metrics.jsonl" > "$WORK/ppl.txt" 2>&1 <<'PY'
import json, math, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
train = [r for r in recs if r["kind"] == "train"]
test = [r for r in recs if r["kind"] == "test"]
assert len(train) == 8 and len(test) == 2, (len(train), len(test))
for r in train:
    assert abs(r["perplexity"] - math.exp(r["token_loss"])) <= 1e-6 * r["perplexity"], r
    assert abs(r["token_loss"] - r["loss"]) < 0.1 * r["loss"], r
for r in test:
    assert abs(r["test_perplexity"] - math.exp(r["test_token_loss"])) <= 1e-6 * r["test_perplexity"], r
    assert abs(r["test_token_loss"] - r["test_loss"]) < 0.1 * r["test_loss"], r
assert train[-1]["perplexity"] < train[0]["perplexity"] and test[-1]["test_perplexity"] < test[0]["test_perplexity"]
print("ok perplexity %.2f -> %.2f, test %.2f -> %.2f" % (train[0]["perplexity"], train[-1]["perplexity"],
      test[0]["test_perplexity"], test[-1]["test_perplexity"]))
PY
if grep -q '^ok' "$WORK/ppl.txt"; then ok "metrics.jsonl: per-token loss and perplexity, train and test ($(cat "$WORK/ppl.txt"))"
else fail "metrics.jsonl: per-token loss and perplexity"; diag_file "$WORK/ppl.txt"; fi
check "report.html: the perplexity chart and the last test perplexity" \
    grep -q "last test perplexity.*Perplexity (per-token loss, exp)" <(tr -d '\n' < "$WORK/att/report.html")
check "np=2: attention net, 20 iterations uninterrupted" att "$WORK/att_full" 20
check "np=2: attention net, first 10" att "$WORK/att_part" 10
check "np=2: attention net, --resume auto to 20" att "$WORK/att_part" 20 --resume auto
if "$PYTHON_H5PY" "$top_srcdir/tests/compare_ckpt.py" "$WORK/att_part/checkpoints/iter_00000020.h5" \
    "$WORK/att_full/checkpoints/iter_00000020.h5" exact >"$WORK/cmp_att.txt" 2>&1; then
    ok "attention net: resumed weights and Adam history bit-identical to the uninterrupted run"
else
    fail "attention net: resumed run differs"; diag_file "$WORK/cmp_att.txt"
fi

# A vocabulary too small for the set: refused at setup, both numbers named.
V=$("$PYTHON_H5PY" -c 'import h5py, sys; print(int(h5py.File(sys.argv[1])["vocab"].shape[0]))' \
    "$WORK/train.h5")
sed -i 's/input_dim: 64/input_dim: 8/' "$WORK/att.prototxt"
att "$WORK/att_small" 1
st=$?
if [ $st -ne 0 ] && grep -q "layer 'embed' (Embed) takes 8 word ids.*vocabulary of $V" "$WORK/att_small.out"; then
    ok "Embed input_dim 8 < the set's $V words: refused at setup (exit $st), naming both"
else
    fail "a too-small vocabulary is refused naming 8 and $V (exit $st)"; diag_file "$WORK/att_small.out"
fi
done_testing
