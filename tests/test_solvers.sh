#!/bin/bash
# test_solvers.sh - the solvers end to end under mpirun -np 2: Adam with
# iter_size 2, warmup and linear scaling resumes bit for bit (weights,
# /history and /history2); the start summary gives the global batch and
# the schedule; AdaGrad, RMSProp and AdaDelta converge and resume bit for
# bit; a bad solver field is named FILE:LINE:COL; an SGD checkpoint cannot
# resume an Adam run.
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
command -v "$MPIRUN" > /dev/null || skip_all "mpirun not found (apt-get install openmpi-bin)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

N=6
cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
cat > "$WORK/adam.prototxt" <<EOT
net: "lenet_fashion_train_val.prototxt"
type: "Adam"
base_lr: 0.001
momentum: 0.9
momentum2: 0.999
delta: 1e-8
weight_decay: 0.0005
lr_policy: "multistep"
gamma: 0.5
stepvalue: 4
stepvalue: 9
iter_size: 2
clip_gradients: 10
display: 3
snapshot: $N
max_iter: 100
random_seed: 3
EOT
train() { # NP RUN_DIR MAX_ITER SOLVER [extra args]
    local np=$1 dir=$2 iters=$3 solver=$4
    shift 4
    "$MPIRUN" -np "$np" "$TRAIN" --solver "$solver" --train "$FMNIST_TRAIN" --run-dir "$dir" \
        --max-iter "$iters" --warmup-iters 3 --lr-scale-ref-batch 64 "$@" >> "$dir.out" 2>&1
}
END=$(printf 'iter_%08d.h5' $((2 * N)))
MID=$(printf 'iter_%08d.h5' $N)
check "Adam, iter_size 2: $((2 * N)) iterations uninterrupted" train 2 "$WORK/full" $((2 * N)) "$WORK/adam.prototxt"
check "Adam, iter_size 2: first $N iterations" train 2 "$WORK/part" $N "$WORK/adam.prototxt"
check "... resume auto to $((2 * N))" train 2 "$WORK/part" $((2 * N)) "$WORK/adam.prototxt" --resume auto
if "$PYTHON_H5PY" "$top_srcdir/tests/compare_ckpt.py" "$WORK/part/checkpoints/$END" \
    "$WORK/full/checkpoints/$END" exact > "$WORK/cmp.txt" 2>&1; then
    ok "resumed Adam weights, /history and /history2 are bit-identical to the uninterrupted run"
else
    fail "resumed Adam run differs"; diag_file "$WORK/cmp.txt"
fi
check "checkpoint holds Adam's second moments under /history2" grep -q "^/history2/" "$WORK/cmp.txt"
check "summary: global batch 256 = 2 ranks x 64 x iter_size 2" \
    grep -q "global batch 256 = 2 ranks x batch_size 64 x iter_size 2" "$WORK/full.out"
check "summary: schedule names Adam, multistep, scaling x4 and warmup" \
    grep -q "solver Adam, lr_policy multistep.*linear scaling x4; linear warmup over 3 iterations" \
    "$WORK/full.out"
# lr logged at iteration 3 (warmup done, x4, before the first step at 4): 0.004
check "metrics: lr at iteration 3 is 4 x base_lr" \
    grep -q '"iter": *3,.*"lr": *0.004[,}]' "$WORK/full/metrics.jsonl"

# An SGD checkpoint lacks /history2: resuming Adam from it is refused.
sed -e '/^type:/d' -e '/^momentum2:/d' -e '/^delta:/d' "$WORK/adam.prototxt" > "$WORK/sgd.prototxt"
check "SGD run for the mismatch test" train 1 "$WORK/sgd" 2 "$WORK/sgd.prototxt"
if train 1 "$WORK/sgd" 4 "$WORK/adam.prototxt" --resume auto; then
    fail "Adam resuming from an SGD checkpoint should fail"
else
    ok "Adam resuming from an SGD checkpoint fails"
fi
check "... naming the missing /history2" grep -q "no /history2" "$WORK/sgd.out"

# Each of Caffe's adaptive solvers, np=2 (Caffe's example settings; RMSProp
# at a tenth of its example rate, whose first steps overshoot at this batch):
# the loss goes down over 16 iterations, and 8 + checkpoint + resume + 8
# equals 16 uninterrupted, bit for bit (weights and every history slot).
cat > "$WORK/AdaGrad.prototxt" <<EOT
type: "AdaGrad"
base_lr: 0.01
delta: 1e-8
EOT
cat > "$WORK/RMSProp.prototxt" <<EOT
type: "RMSProp"
base_lr: 0.001
rms_decay: 0.98
EOT
cat > "$WORK/AdaDelta.prototxt" <<EOT
type: "AdaDelta"
base_lr: 1.0
momentum: 0.95
delta: 1e-6
EOT
run_np2() { # NAME RUN_DIR [extra args]: no warmup or scaling; output to $WORK/NAME.out
    local name=$1
    shift
    "$MPIRUN" -np 2 "$TRAIN" --solver "$WORK/$name.prototxt" --train "$FMNIST_TRAIN" --run-dir "$@" \
        >> "$WORK/$name.out" 2>&1
}
adaptive() { # NAME: converges, and resumes bit for bit (the comparison in $WORK/NAME.cmp)
    local name=$1 dir="$WORK/$1"
    printf 'net: "lenet_fashion_train_val.prototxt"\nweight_decay: 0.0005\ndisplay: 1\n' >> "$dir.prototxt"
    printf 'snapshot: 8\nmax_iter: 100\nrandom_seed: 5\n' >> "$dir.prototxt"
    check "$name: 16 iterations uninterrupted" run_np2 "$name" "$dir-full" --max-iter 16
    check "$name: the schedule line names it" grep -q "solver $name, lr_policy fixed" "$dir.out"
    if "$PYTHON_H5PY" - "$dir-full/metrics.jsonl" > "$dir.loss" 2>&1 <<'EOP'
import json, sys
loss = [json.loads(l)["loss"] for l in open(sys.argv[1]) if '"kind":"train"' in l]
first, last = sum(loss[:4]) / 4, sum(loss[-4:]) / 4
print("loss, mean of the first 4 iterations %.4f, of the last 4 %.4f (%d iterations)" % (first, last, len(loss)))
sys.exit(0 if len(loss) == 16 and last < 0.75 * first else 1)
EOP
    then ok "$name: $(cat "$dir.loss")"; else fail "$name: loss does not go down"; diag_file "$dir.loss"; fi
    check "$name: first 8 iterations" run_np2 "$name" "$dir-part" --max-iter 8
    check "$name: ... resume auto to 16" run_np2 "$name" "$dir-part" --max-iter 16 --resume auto
    local last=$(printf 'iter_%08d.h5' 16)
    if "$PYTHON_H5PY" "$top_srcdir/tests/compare_ckpt.py" "$dir-part/checkpoints/$last" \
        "$dir-full/checkpoints/$last" exact > "$dir.cmp" 2>&1; then
        ok "$name: resumed weights and history are bit-identical to the uninterrupted run"
    else
        fail "$name: resumed run differs"; diag_file "$dir.cmp"
    fi
}
adaptive AdaGrad
check "AdaGrad: its one history slot (sum of g^2) is checkpointed as /history" grep -q "^/history/" "$WORK/AdaGrad.cmp"
adaptive RMSProp
check "RMSProp: its one history slot (mean of g^2) is checkpointed as /history" grep -q "^/history/" "$WORK/RMSProp.cmp"
check "RMSProp: the schedule line gives rms_decay and delta" grep -q "rms_decay 0.98, delta 1e-08" "$WORK/RMSProp.out"
adaptive AdaDelta
check "AdaDelta: both slots are checkpointed, /history and /history2" \
    sh -c "grep -q '^/history/' '$WORK/AdaDelta.cmp' && grep -q '^/history2/' '$WORK/AdaDelta.cmp'"

# Bad solver fields are named FILE:LINE:COL by dltrain-mpi.
printf 'net: "lenet_fashion_train_val.prototxt"\nmax_iter: 5\nlr_policy: "step"\ngamma: 0.1\n' \
    > "$WORK/bad.prototxt"
if train 1 "$WORK/bad" 2 "$WORK/bad.prototxt"; then fail "step without stepsize should fail"; else
    ok "step without stepsize: non-zero exit"; fi
check "... message names bad.prototxt:3:1" grep -q "bad.prototxt:3:1: .*stepsize" "$WORK/bad.out"
done_testing
