#!/bin/bash
# test_train_basic.sh - one process trains LeNet on Fashion-MNIST for a few
# iterations; the run directory holds what DESIGN.md promises, read back
# with h5py and Python's json; command-line and prototxt errors exit non-zero
# naming file:line:column.
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
sed -e 's/^test_interval:.*/test_interval: 20/' -e 's/^test_iter:.*/test_iter: 2/' \
    -e 's/^display:.*/display: 10/' -e 's/^snapshot:.*/snapshot: 20/' \
    "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/solver.prototxt"
RUN="$WORK/run"
"$TRAIN" --solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN" --val "$FMNIST_TEST" \
    --run-dir "$RUN" --max-iter 30 > "$WORK/out.txt" 2> "$WORK/err.txt"
rc=$?
if [ $rc -eq 0 ]; then ok "train 30 iterations (exit 0)"; else fail "train exit $rc"; diag_file "$WORK/err.txt"; fi
for f in log.txt metrics.jsonl config/solver.prototxt config/net.prototxt config/command.txt \
         checkpoints/iter_00000020.h5 checkpoints/iter_00000030.h5; do
    check "run directory has $f" test -s "$RUN/$f"
done
check "start summary names global batch and ranks" grep -q "global batch 64 = 1 ranks x batch_size 64" "$WORK/out.txt"
check "log.txt mirrors the progress lines" grep -q "iter      30" "$RUN/log.txt"
# The programs set short idle spins for libgomp and OpenBLAS unless the user did.
check "log names the idle-spin settings dltrain chose (GOMP_SPINCOUNT=10000, OPENBLAS_THREAD_TIMEOUT=4)" \
    grep -q "idle worker threads: OMP_WAIT_POLICY=(unset) GOMP_SPINCOUNT=10000 OPENBLAS_THREAD_TIMEOUT=4 " "$WORK/out.txt"
GOMP_SPINCOUNT=123 OPENBLAS_THREAD_TIMEOUT=20 "$TRAIN" --solver "$WORK/solver.prototxt" \
    --train "$FMNIST_TRAIN" --run-dir "$WORK/spin" --max-iter 1 > "$WORK/spin.txt" 2>&1
check "the user's GOMP_SPINCOUNT and OPENBLAS_THREAD_TIMEOUT win" \
    grep -q "GOMP_SPINCOUNT=123 OPENBLAS_THREAD_TIMEOUT=20 " "$WORK/spin.txt"
check "no temporary checkpoint left" bash -c "! ls '$RUN/checkpoints' | grep -q tmp"

"$PYTHON_H5PY" - "$RUN" > "$WORK/py.txt" 2>&1 <<'PY'
import json, sys, h5py, numpy as np
run = sys.argv[1]
train = [json.loads(l) for l in open(run + "/metrics.jsonl") if '"train"' in l]
test = [json.loads(l) for l in open(run + "/metrics.jsonl") if '"test"' in l]
keys = {"kind", "iter", "epoch", "loss", "lr", "images_per_s", "t_data", "t_forward",
        "t_backward", "t_allreduce", "t_update"}
assert [m["iter"] for m in train] == [10, 20, 30], train
assert all(keys <= set(m) for m in train), train[0]
assert all(m["images_per_s"] > 0 and m["loss"] > 0 for m in train)
assert [m["iter"] for m in test] == [0, 20, 30], test
assert all({"test_loss", "test_top1", "test_top5", "epoch"} <= set(m) for m in test)
assert test[-1]["test_loss"] < test[0]["test_loss"], test
# per-token loss and perplexity are for caption nets only (test_caption_train.sh)
assert not any(k in m for m in train + test for k in ("token_loss", "perplexity", "test_perplexity"))
with h5py.File(run + "/checkpoints/iter_00000030.h5", "r") as f:
    assert f.attrs["dltrain_format"] == "dltrain-checkpoint"
    assert int(f.attrs["iter"]) == 30 and int(f.attrs["world_size"]) == 1
    shapes = {"conv1": [(20, 1, 5, 5), (20,)], "conv2": [(50, 20, 5, 5), (50,)],
              "ip1": [(500, 800), (500,)], "ip2": [(10, 500), (10,)]}
    for layer, ss in shapes.items():
        for i, s in enumerate(ss):
            assert f["data/%s/%d" % (layer, i)].shape == s, (layer, i, f["data/%s/%d" % (layer, i)].shape)
            assert f["history/%s/%d" % (layer, i)].shape == s
            assert np.isfinite(f["data/%s/%d" % (layer, i)][...]).all()
    assert f["rng"].shape == (1, 4)
    assert "LeNet-FashionMNIST" in f.attrs["net"]
print("ok")
PY
if grep -q '^ok$' "$WORK/py.txt"; then ok "metrics.jsonl and checkpoint read back with json/h5py"; else fail "metrics/checkpoint read back"; diag_file "$WORK/py.txt"; fi

# --- command line and prototxt errors ---
"$TRAIN" --help > "$WORK/help.txt"; check "--help exits 0 and shows defaults" grep -q "default" "$WORK/help.txt"
"$TRAIN" --solver x 2> /dev/null; rc=$?
check "missing --train/--run-dir exits 2 (usage)" test $rc -eq 2

sed 's/^    num_output: 20/    num_output: 20 colour: 3/' "$WORK/lenet_fashion_train_val.prototxt" > "$WORK/bad_net.prototxt"
sed 's/lenet_fashion_train_val/bad_net/' "$WORK/solver.prototxt" > "$WORK/bad_solver.prototxt"
line=$(grep -n 'colour' "$WORK/bad_net.prototxt" | cut -d: -f1)
"$TRAIN" --solver "$WORK/bad_solver.prototxt" --train "$FMNIST_TRAIN" --run-dir "$WORK/bad" > /dev/null 2> "$WORK/bad.txt"
rc=$?
check "unknown field exits 1" test $rc -eq 1
check "unknown field message names bad_net.prototxt:$line:20" grep -q "bad_net.prototxt:$line:20: error: unknown field 'colour'" "$WORK/bad.txt"

sed 's/pool: MAX/pool: MAXIMUM/' "$WORK/lenet_fashion_train_val.prototxt" > "$WORK/bad_net.prototxt"
"$TRAIN" --solver "$WORK/bad_solver.prototxt" --train "$FMNIST_TRAIN" --run-dir "$WORK/bad" > /dev/null 2> "$WORK/bad.txt"
rc=$?
check "bad enum exits 1 naming file:line:col" bash -c "[ $rc -eq 1 ] && grep -q 'bad_net.prototxt:[0-9]*:[0-9]*: error: .*MAXIMUM' '$WORK/bad.txt'"

head -n 20 "$WORK/lenet_fashion_train_val.prototxt" > "$WORK/bad_net.prototxt"
"$TRAIN" --solver "$WORK/bad_solver.prototxt" --train "$FMNIST_TRAIN" --run-dir "$WORK/bad" > /dev/null 2> "$WORK/bad.txt"
rc=$?
check "unterminated message exits 1 naming file:line:col" bash -c "[ $rc -eq 1 ] && grep -q 'bad_net.prototxt:[0-9]*:[0-9]*: error: .*unterminated' '$WORK/bad.txt'"

sed 's/kernel_size: 5/kernel_size: "five"/' "$WORK/lenet_fashion_train_val.prototxt" > "$WORK/bad_net.prototxt"
"$TRAIN" --solver "$WORK/bad_solver.prototxt" --train "$FMNIST_TRAIN" --run-dir "$WORK/bad" > /dev/null 2> "$WORK/bad.txt"
rc=$?
check "wrong type exits 1 naming file:line:col" bash -c "[ $rc -eq 1 ] && grep -q 'bad_net.prototxt:[0-9]*:[0-9]*: error: .*kernel_size' '$WORK/bad.txt'"

sed 's/^net:.*/net: "nowhere.prototxt"/' "$WORK/solver.prototxt" > "$WORK/bad_solver2.prototxt"
"$TRAIN" --solver "$WORK/bad_solver2.prototxt" --train "$FMNIST_TRAIN" --run-dir "$WORK/bad" > /dev/null 2> "$WORK/bad.txt"
rc=$?
check "missing net file exits 1 naming both paths tried" bash -c "[ $rc -eq 1 ] && grep -q \"nowhere.prototxt' not found\" '$WORK/bad.txt'"
done_testing
