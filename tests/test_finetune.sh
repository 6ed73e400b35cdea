#!/bin/bash
# test_finetune.sh - the fine-tuning workflow of README "Models in and out":
# LeNet trained on Fashion-MNIST classes 0-4, then a net whose last layer
# is renamed (ip2 -> ip2_ft, so --weights leaves it to its filler) trained
# on 500 images of classes 5-9 with base_lr lowered and lr_mult 10/20 on
# the new layer. After 20 iterations it must beat the same net trained from
# scratch (the solver's usual base_lr) by a margin of 0.05 in test accuracy
# on the 5,000 test images of classes 5-9. (Figures: README.)
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }
to() { local out=$1; shift; "$@" > "$out" 2>&1; } # to FILE CMD...: run with output in FILE
PY() { "$PYTHON_H5PY" "$top_srcdir/tests/caffe_io.py" "$WORK" "$@"; }

check "h5py writes the splits: classes 0-4 (all), 5-9 (100 per class), test 5-9" \
    bash -c "$(declare -f PY); PY subset '$FMNIST_TRAIN' '$WORK/pre.h5' 0 0 1 2 3 4 &&
             PY subset '$FMNIST_TRAIN' '$WORK/target.h5' 100 5 6 7 8 9 &&
             PY subset '$FMNIST_TEST' '$WORK/target_test.h5' 0 5 6 7 8 9"
# Five outputs; the fine-tuning net renames the last layer and raises its lr_mult.
awk '/num_output: 10$/ {sub(/num_output: 10/, "num_output: 5")} {print}' \
    "$top_srcdir/nets/lenet_fashion_train_val.prototxt" > "$WORK/pre.prototxt"
sed 's/"ip2"/"ip2_ft"/g' "$WORK/pre.prototxt" > "$WORK/scratch.prototxt"
awk '/name: "ip2_ft"/ {ft = 1} ft && /lr_mult: 1 }/ {sub(/lr_mult: 1 }/, "lr_mult: 10 }")}
     ft && /lr_mult: 2 }/ {sub(/lr_mult: 2 }/, "lr_mult: 20 }"); ft = 0} {print}' \
    "$WORK/scratch.prototxt" > "$WORK/finetune.prototxt"
solver() { # NET BASE_LR
    sed -e "s/^net:.*/net: \"$1\"/" -e "s/^base_lr:.*/base_lr: $2/" -e 's/^test_iter:.*/test_iter: 50/' \
        -e 's/^test_interval:.*/test_interval: 20/' -e 's/^snapshot:.*/snapshot: 0/' -e 's/^display:.*/display: 0/' \
        "$top_srcdir/nets/lenet_fashion_solver.prototxt"
    echo "test_initialization: false"
}
solver pre.prototxt 0.03 > "$WORK/pre_solver.prototxt"
solver scratch.prototxt 0.03 > "$WORK/scratch_solver.prototxt"
solver finetune.prototxt 0.01 > "$WORK/finetune_solver.prototxt"
check "train LeNet on classes 0-4 (200 iterations)" \
    to "$WORK/pre.out" "$TRAIN" --solver "$WORK/pre_solver.prototxt" --train "$WORK/pre.h5" --run-dir "$WORK/pre" \
    --max-iter 200 --sample-interval 0
check "from scratch on classes 5-9 (20 iterations)" \
    to "$WORK/scratch.out" "$TRAIN" --solver "$WORK/scratch_solver.prototxt" --train "$WORK/target.h5" \
    --val "$WORK/target_test.h5" --run-dir "$WORK/scratch" --max-iter 20 --sample-interval 0
check "fine-tuned from the 0-4 weights (20 iterations)" \
    to "$WORK/ft.out" "$TRAIN" --solver "$WORK/finetune_solver.prototxt" --train "$WORK/target.h5" \
    --val "$WORK/target_test.h5" --run-dir "$WORK/ft" --max-iter 20 --sample-interval 0 \
    --weights "$WORK/pre/checkpoints/iter_00000200.h5"
check "... ip2 is skipped and ip2_ft left to its filler, the other 3 layers copied" \
    bash -c "grep -q '3 layers copied' '$WORK/ft.out' && grep -q \"skipped: 'ip2'\" '$WORK/ft.out' &&
             grep -q \"initialized by their fillers: 'ip2_ft'\" '$WORK/ft.out'"
"$PYTHON_H5PY" - "$WORK/scratch/metrics.jsonl" "$WORK/ft/metrics.jsonl" > "$WORK/py.txt" 2>&1 <<'PY'
import json, sys
acc = [[json.loads(l)["test_top1"] for l in open(p) if '"test"' in l][-1] for p in sys.argv[1:]]
print("after 20 iterations: scratch %.4f, fine-tuned %.4f" % tuple(acc))
print("faster", acc[1] > acc[0] + 0.05)
PY
check "fine-tuning beats scratch by > 0.05 after 20 iterations" grep -q "^faster True" "$WORK/py.txt"
diag_file "$WORK/py.txt" 2
done_testing
