#!/bin/bash
# test_caffe_cifar10.sh - Caffe's own cifar10_quick example (solver and
# train_test prototxt from BVLC Caffe, unchanged) trains on a CIFAR-10-format
# dataset built by dltrain-prep, with Caffe's mean.binaryproto, and its loss
# falls. The data are synthetic and learnable (each class has its own colour
# and stripe pattern) and written in CIFAR-10's binary layout by this test.
. "$(dirname "$0")/lib.sh"
CAFFE="$SHARED_DIR/data/caffe"
[ -f "$CAFFE/cifar10_quick_solver.prototxt" ] || skip_all "../shared/data/caffe not present (Caffe's example files live outside the repository)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"

mkdir -p "$WORK/examples/cifar10"
cp "$CAFFE/cifar10_quick_train_test.prototxt" "$WORK/examples/cifar10/"
# CIFAR-10 binary batches (1 label byte + 3072 pixel bytes per record) and
# Caffe's mean.binaryproto (a BlobProto: num, channels, height, width, packed data).
"$PYTHON_H5PY" - "$WORK" <<'PY' || exit 1
import struct, sys
import numpy as np
work = sys.argv[1]
rng = np.random.default_rng(7)
colors = rng.integers(40, 216, size=(10, 3))
def batch(n, path):
    labels = rng.integers(0, 10, size=n)
    imgs = np.empty((n, 3, 32, 32), np.float64)
    for i, l in enumerate(labels):
        base = colors[l][:, None, None] * np.ones((3, 32, 32))
        stripes = 30 * np.sin(np.arange(32) * (l + 1) * 0.3)[None, None, :]
        imgs[i] = base + stripes + rng.normal(0, 25, size=(3, 32, 32))
    imgs = np.clip(imgs, 0, 255).astype(np.uint8)
    with open(path, "wb") as f:
        for l, im in zip(labels, imgs):
            f.write(bytes([l]) + im.tobytes())
    return imgs
train = batch(2000, work + "/data_batch_1.bin")
batch(500, work + "/test_batch.bin")
mean = train.astype(np.float64).mean(axis=0).astype(np.float32)
def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out
payload = mean.tobytes()
blob = (b"\x08" + varint(1) + b"\x10" + varint(3) + b"\x18" + varint(32) + b"\x20" + varint(32)
        + b"\x2a" + varint(len(payload)) + payload)
open(work + "/examples/cifar10/mean.binaryproto", "wb").write(blob)
PY
check "prep: CIFAR-10 train batch -> HDF5" "$PREP" -q --format cifar10 "$WORK/data_batch_1.bin" "$WORK/train.h5"
check "prep: CIFAR-10 test batch -> HDF5" "$PREP" -q --format cifar10 "$WORK/test_batch.bin" "$WORK/test.h5"
( cd "$WORK" && "$TRAIN" --solver "$CAFFE/cifar10_quick_solver.prototxt" --train train.h5 \
    --val test.h5 --run-dir run --max-iter 100 ) > "$WORK/out.txt" 2>&1
rc=$?
if [ $rc -eq 0 ]; then ok "Caffe's cifar10_quick trains 100 iterations unchanged"; else fail "exit $rc"; diag_file "$WORK/out.txt"; fi
# The mean file is really read: a truncated one stops the run naming it.
cp "$WORK/examples/cifar10/mean.binaryproto" "$WORK/mean.good"
head -c 100 "$WORK/mean.good" > "$WORK/examples/cifar10/mean.binaryproto"
( cd "$WORK" && "$TRAIN" --solver "$CAFFE/cifar10_quick_solver.prototxt" --train train.h5 \
    --run-dir run_badmean --max-iter 1 ) > "$WORK/badmean.txt" 2>&1
rc=$?
check "a truncated mean.binaryproto is an error naming it" \
    bash -c "[ $rc -ne 0 ] && grep -q 'mean.binaryproto' '$WORK/badmean.txt'"
cp "$WORK/mean.good" "$WORK/examples/cifar10/mean.binaryproto"
"$PYTHON_H5PY" - "$WORK/run/metrics.jsonl" > "$WORK/py.txt" 2>&1 <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
test = [r for r in rows if r["kind"] == "test"]
print("test", [(r["iter"], round(r["test_loss"], 4), round(r["test_top1"], 4)) for r in test])
assert test[0]["iter"] == 0 and test[-1]["iter"] == 100
assert test[-1]["test_loss"] < 0.8 * test[0]["test_loss"], "test loss did not fall"
assert test[-1]["test_top1"] > test[0]["test_top1"] + 0.2
print("ok")
PY
if grep -q '^ok$' "$WORK/py.txt"; then ok "test loss falls and accuracy rises"; else fail "loss falls"; fi
diag_file "$WORK/py.txt" 3
done_testing
