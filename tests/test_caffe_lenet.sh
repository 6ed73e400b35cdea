#!/bin/bash
# test_caffe_lenet.sh - Caffe's own LeNet example (lenet_train_test.prototxt
# and lenet_solver.prototxt from BVLC Caffe, unchanged) trains on the
# Fashion-MNIST HDF5 and its loss falls. The solver's net: path
# (examples/mnist/...) resolves from the current directory, as in Caffe.
. "$(dirname "$0")/lib.sh"
CAFFE="$SHARED_DIR/data/caffe"
[ -f "$CAFFE/lenet_solver.prototxt" ] || skip_all "../shared/data/caffe not present (Caffe's example files live outside the repository)"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

mkdir -p "$WORK/examples/mnist"
cp "$CAFFE/lenet_train_test.prototxt" "$WORK/examples/mnist/"
check "copied net file is byte-identical to Caffe's" cmp -s "$CAFFE/lenet_train_test.prototxt" \
    "$WORK/examples/mnist/lenet_train_test.prototxt"
( cd "$WORK" && "$MPIRUN" -np 2 --oversubscribe "$TRAIN" --solver "$CAFFE/lenet_solver.prototxt" \
    --train "$FMNIST_TRAIN" --val "$FMNIST_TEST" --run-dir run --max-iter 300 ) > "$WORK/out.txt" 2>&1
rc=$?
if [ $rc -eq 0 ]; then ok "Caffe's LeNet trains 300 iterations under mpirun -np 2"; else fail "exit $rc"; diag_file "$WORK/out.txt"; fi
check "solver_mode is accepted and noted as ignored" grep -q "solver_mode.*ignored" "$WORK/out.txt"
check "LMDB source/backend noted as replaced by --train/--val" grep -qi "replaced by --train" "$WORK/out.txt"

"$PYTHON_H5PY" - "$WORK/run/metrics.jsonl" > "$WORK/py.txt" 2>&1 <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
train = [r for r in rows if r["kind"] == "train"]
test = [r for r in rows if r["kind"] == "test"]
print("train losses", [round(r["loss"], 4) for r in train])
print("test", [(r["iter"], round(r["test_loss"], 4), round(r["test_top1"], 4)) for r in test])
assert len(train) == 3 and train[-1]["loss"] < train[0]["loss"] < math.log(10)
assert test[0]["iter"] == 0 and test[-1]["iter"] == 300
assert test[-1]["test_loss"] < 0.5 * test[0]["test_loss"]
assert test[-1]["test_top1"] > 0.7
print("ok")
PY
if grep -q '^ok$' "$WORK/py.txt"; then ok "loss falls (train and test) and test accuracy > 0.7"; else fail "loss falls"; fi
diag_file "$WORK/py.txt" 4
done_testing
