#!/bin/bash
# test_test_iter.sh - Caffe's test_iter counts test batches of the whole
# job (Caffe tests on its root solver only), so dltrain splits them over the
# ranks: the same weights tested under mpirun -np 1 and -np 2 cover the same
# 30 x 100 = 3,000 images and give the same accuracy and loss. (Counted per
# rank, -np 2 would test 6,000 images: another accuracy.)
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }
to() { local out=$1; shift; "$@" > "$out" 2>&1; } # to FILE CMD...: run with output in FILE

cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
sed -e 's/^test_iter:.*/test_iter: 30/' -e 's/^test_interval:.*/test_interval: 100000/' \
    -e 's/^snapshot:.*/snapshot: 0/' "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/solver.prototxt"
check "train 30 iterations: the weights both runs start from" \
    to "$WORK/w.out" "$TRAIN" --solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN" --run-dir "$WORK/w" \
    --max-iter 30 --sample-interval 0
W="$WORK/w/checkpoints/iter_00000030.h5"
for np in 1 2; do
    check "mpirun -np $np: test at iteration 0 (test_initialization) of --weights" \
        to "$WORK/np$np.out" "$MPIRUN" -np $np "$TRAIN" --solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN" \
        --val "$FMNIST_TEST" --run-dir "$WORK/np$np" --weights "$W" --max-iter 1 --sample-interval 0
    check "... tests 3000 images (test_iter 30 x batch 100, split over $np rank(s))" \
        grep -q "test: 3000 images (test_iter 30 batches over $np ranks)" "$WORK/np$np.out"
done
"$PYTHON_H5PY" - "$WORK/np1/metrics.jsonl" "$WORK/np2/metrics.jsonl" > "$WORK/py.txt" 2>&1 <<'PY'
import json, sys
t = [[json.loads(l) for l in open(p) if '"test"' in l][0] for p in sys.argv[1:]]
print("np1", t[0]["test_top1"], t[0]["test_loss"], "np2", t[1]["test_top1"], t[1]["test_loss"])
print("equal", t[0]["iter"] == t[1]["iter"] == 0 and abs(t[0]["test_top1"] - t[1]["test_top1"]) < 1e-6
      and abs(t[0]["test_loss"] - t[1]["test_loss"]) < 1e-5 * abs(t[0]["test_loss"]))
PY
check "np 1 and np 2 give the same test accuracy and loss (to 1e-6 / 1e-5 relative)" grep -q "^equal True" "$WORK/py.txt"
diag_file "$WORK/py.txt" 2
done_testing
