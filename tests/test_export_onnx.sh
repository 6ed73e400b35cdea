#!/bin/bash
# test_export_onnx.sh - dltrain-export --format onnx, read by an independent
# runtime: for every network in nets/ and tests/export_ops.prototxt (the
# layer settings nets/ lacks), a checkpoint of random parameters is
# exported, onnxruntime runs model.onnx on a random batch, and its "prob"
# equals dltrain's TEST-phase softmax to 1e-4 relative (onnx's checker
# validates each file); preprocess.json carries the transform, channel
# order and class names of the run; layers ONNX cannot express and bad
# command lines are refused with messages that name them.
# onnxruntime comes from PyPI into a venv made once, under
# ${DLT_VENV_CACHE:-/var/cache/dltrain/venv-onnx}; without PyPI the
# comparison is skipped with the reason.
. "$(dirname "$0")/lib.sh"
EXPORT="$top_builddir/dltrain-export"
FWD="$top_builddir/tests/export_forward"
[ -x "$EXPORT" ] && [ -x "$FWD" ] || skip_all "dltrain-export or tests/export_forward not built"
export HDF5_USE_FILE_LOCKING=FALSE
to() { local out=$1; shift; "$@" > "$out" 2>&1; } # to FILE CMD...: run with output in FILE
t0=$(date +%s)

# ---- the independent runtime ----
VENV="${DLT_VENV_CACHE:-/var/cache/dltrain/venv-onnx}"
venv_ok() { "$VENV/bin/python" -c 'import onnxruntime, onnx, numpy' 2>/dev/null; }
if ! venv_ok; then
    mkdir -p "$(dirname "$VENV")" 2>/dev/null
    { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check \
        onnxruntime numpy protobuf onnx; } > "$WORK/venv.log" 2>&1
fi
if venv_ok; then
    PY="$VENV/bin/python"
    echo "# onnxruntime $("$PY" -c 'import onnxruntime; print(onnxruntime.__version__)') in $VENV"
else
    PY=
    echo "# $(tail -n 1 "$WORK/venv.log" 2>/dev/null)"
fi

# ---- every net: export, then onnxruntime against dltrain's forward ----
# name prototxt stored-shape batch
NETS="lenet nets/lenet_train_val.prototxt 1x28x28 3
lenet_fashion nets/lenet_fashion_train_val.prototxt 1x28x28 3
fashion_bn nets/fashion_bn_train_val.prototxt 1x28x28 3
cifar10_quick nets/cifar10_quick_train_val.prototxt 3x32x32 3
cifar10_full nets/cifar10_full_train_val.prototxt 3x32x32 3
alexnet nets/alexnet_train_val.prototxt 3x227x227 2
googlenet nets/googlenet_train_val.prototxt 3x224x224 2
resnet18 nets/resnet18_train_val.prototxt 3x224x224 2
resnet50 nets/resnet50_train_val.prototxt 3x224x224 1
export_ops tests/export_ops.prototxt 3x13x13 3"
# The captioners (caption_*) are left out: no deploy form for a decoder run step by step.
n_nets=$(ls "$top_srcdir"/nets/*_train_val.prototxt | grep -vc '/caption_')
[ "$(echo "$NETS" | grep -c ' nets/')" -eq "$n_nets" ] &&
    ok "the list covers all $n_nets networks in nets/" ||
    fail "nets/ has $n_nets train_val networks; this test lists $(echo "$NETS" | grep -c ' nets/')"
while read -r name proto shape batch; do
    d="$WORK/$name"
    mkdir -p "$d"
    # A small TEST batch keeps GoogLeNet and ResNet-50 quick.
    sed "s/batch_size: *[0-9]*/batch_size: $batch/" "$top_srcdir/$proto" > "$d/net.prototxt"
    IFS=x read -r c h w <<< "$shape"
    ts=$(date +%s.%N)
    if ! to "$d/fwd.log" "$FWD" "$d/net.prototxt" "$c" "$h" "$w" 11 "$d"; then
        fail "$name: dltrain forward"; diag_file "$d/fwd.log"; continue
    fi
    if ! to "$d/export.log" "$EXPORT" "$d/ckpt.h5" --net "$d/net.prototxt" --shape "$shape" \
            --channel-order RGB --format onnx -o "$d/out"; then
        fail "$name: dltrain-export"; diag_file "$d/export.log"; continue
    fi
    if [ -z "$PY" ]; then
        ok "$name: exported # SKIP onnxruntime not installable (PyPI unreachable?)"; continue
    fi
    if to "$d/check.log" "$PY" "$top_srcdir/tests/onnx_check.py" "$d/out/model.onnx" "$d"; then
        ok "$name: onnxruntime = dltrain to 1e-4 ($(head -n 1 "$d/check.log" | cut -d'(' -f1)in $(echo "$(date +%s.%N) - $ts" | bc | cut -c1-4) s)"
        echo "#   $(head -n 1 "$d/check.log")"
    else
        fail "$name: onnxruntime disagrees with dltrain"; diag_file "$d/check.log"
    fi
done <<< "$NETS"

# ---- GoogLeNet: the side classifiers are pruned, one output ----
if [ -n "$PY" ] && [ -f "$WORK/googlenet/out/model.onnx" ]; then
    check "googlenet: side classifiers (loss1, loss2) left out" \
        "$PY" -c 'import onnx, sys
m = onnx.load(sys.argv[1])
names = [n.name for n in m.graph.node]
assert not any(n.startswith(("loss1", "loss2")) for n in names), names
assert [o.name for o in m.graph.output] == ["prob"]' "$WORK/googlenet/out/model.onnx"
    check "resnet18: every Scale folded into its BatchNormalization" \
        "$PY" -c 'import onnx, sys
m = onnx.load(sys.argv[1])
ops = [n.op_type for n in m.graph.node]
assert ops.count("BatchNormalization") == 20 and "Mul" not in ops, ops' \
        "$WORK/resnet18/out/model.onnx"
fi

# ---- preprocess.json from a run directory: shape, order, transform, classes ----
R="$WORK/run"
mkdir -p "$R/config" "$R/checkpoints"
sed -e 's/batch_size: *[0-9]*/batch_size: 2/' \
    -e 's/transform_param { scale: 0.00390625 }/transform_param { scale: 0.5 crop_size: 24 mean_value: 33 }/' \
    "$top_srcdir/nets/lenet_train_val.prototxt" > "$R/config/net.prototxt"
printf 'shape 1 28 28\nchannel_order GRAY\nresize crop\nresize_seed 4\n' > "$R/config/input.txt"
printf 'tee\ntrouser\npullover\ndress\ncoat\nsandal\nshirt\nsneaker\nbag\nankle boot\n' \
    > "$R/config/labels.txt"
mkdir -p "$WORK/run_fwd"
"$FWD" "$R/config/net.prototxt" 1 28 28 3 "$WORK/run_fwd" > /dev/null 2>&1
cp "$WORK/run_fwd/ckpt.h5" "$R/checkpoints/iter_00000001.h5"
if to "$WORK/run.log" "$EXPORT" "$R" -o "$WORK/run_out"; then
    ok "export from a run directory (net, checkpoint, input record and labels found)"
else
    fail "export from a run directory"; diag_file "$WORK/run.log"
fi
check "preprocess.json: input, crop, mean, scale, order, resize, no mirror, classes" \
    python3 - "$WORK/run_out/preprocess.json" <<'EOT'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["input"] == {"name": "data", "layout": "NCHW", "dtype": "float32", "shape": [1, 24, 24]}, p["input"]
assert p["image"]["shape"] == [1, 28, 28] and p["image"]["channel_order"] == "GRAY", p["image"]
assert p["image"]["resize"] == "crop" and p["image"]["resize_seed"] == 4, p["image"]
assert p["crop"] == {"size": 24, "mode": "centre", "offset": [2, 2]}, p["crop"]
assert p["mean"] == {"kind": "values", "values": [33]}, p["mean"]
assert p["scale"] == 0.5 and p["mirror"] is False
assert p["classes"][0] == "tee" and p["classes"][9] == "ankle boot" and len(p["classes"]) == 10
EOT
if [ -n "$PY" ]; then
    check "run export: model input is the crop (batch x 1 x 24 x 24)" "$PY" -c 'import onnx, sys
m = onnx.load(sys.argv[1])
d = m.graph.input[0].type.tensor_type.shape.dim
assert [x.dim_param or x.dim_value for x in d] == ["batch", 1, 24, 24], d' "$WORK/run_out/model.onnx"
fi

# mean_file: the mean image goes beside the model as mean.npy.
"$PYTHON_H5PY" -c 'import h5py, numpy as np, sys
with h5py.File(sys.argv[1], "w") as f:
    f["mean"] = np.arange(28 * 28, dtype=np.float32).reshape(1, 28, 28) / 10' "$WORK/mean.h5" 2>/dev/null
sed -i "s|mean_value: 33|mean_file: \"$WORK/mean.h5\"|" "$R/config/net.prototxt"
if to "$WORK/mean.log" "$EXPORT" "$R" -o "$WORK/mean_out" && [ -n "$PY" ]; then
    check "mean_file: mean.npy holds the mean image, preprocess.json points to it" \
        "$PY" -c 'import json, numpy as np, sys
d = sys.argv[1]
p = json.load(open(d + "/preprocess.json"))
m = np.load(d + "/mean.npy")
assert p["mean"]["kind"] == "image" and p["mean"]["file"] == "mean.npy", p["mean"]
assert m.shape == (1, 28, 28) and np.allclose(m.ravel(), np.arange(784) / 10), m.shape
assert abs(p["mean"]["channel_averages"][0] - m.mean()) < 1e-3' "$WORK/mean_out"
else
    fail "mean_file export"; diag_file "$WORK/mean.log"
fi

# ---- the deployment path: a run trained on JPEG class folders, exported
# with nothing but its directory; preprocess.json applied in numpy to the
# stored samples feeds onnxruntime, which must give dltrain-eval's
# probabilities (centre crop, mean_file, scale and the class names as
# training recorded them) ----
EVAL="$top_builddir/dltrain-eval"
if [ -n "$PY" ] && [ -x "$TRAIN" ] && [ -x "$PREP" ] && [ -x "$EVAL" ] && have_h5py &&
        "$PYTHON_H5PY" -c 'import PIL' 2>/dev/null; then
    D="$WORK/deploy"
    mkdir -p "$D"
    "$PYTHON_H5PY" - "$D" <<'EOT'
import os, sys
import numpy as np
from PIL import Image
r = np.random.RandomState(5)
for cls, rgb in {"azure": (30, 90, 220), "crimson": (210, 20, 60), "olive": (120, 130, 20)}.items():
    os.makedirs("%s/img/%s" % (sys.argv[1], cls))
    for i in range(6):
        w, h = r.randint(14, 40), r.randint(14, 40)
        px = np.array(rgb, float)[None, None, :] + r.normal(0, 25, (h, w, 3))
        Image.fromarray(np.clip(px, 0, 255).astype(np.uint8)).save("%s/img/%s/%d.jpg" % (sys.argv[1], cls, i))
EOT
    "$PREP" -q --format folder --size 16x16 "$D/img" "$D/train.h5" > "$D/prep.log" 2>&1
    cat > "$D/net.prototxt" <<P
layer { name: "d" type: "Data" top: "data" top: "label" include { phase: TRAIN }
        data_param { batch_size: 6 }
        transform_param { crop_size: 12 mirror: true scale: 0.0078125 mean_file: "$D/train.h5" } }
layer { name: "d" type: "Data" top: "data" top: "label" include { phase: TEST }
        data_param { batch_size: 5 }
        transform_param { crop_size: 12 scale: 0.0078125 mean_file: "$D/train.h5" } }
layer { name: "c" type: "Convolution" bottom: "data" top: "c"
        convolution_param { num_output: 6 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "r" type: "ReLU" bottom: "c" top: "c" }
layer { name: "p" type: "Pooling" bottom: "c" top: "p" pooling_param { pool: AVE kernel_size: 3 stride: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "p" top: "ip"
        inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
layer { name: "acc" type: "Accuracy" bottom: "ip" bottom: "label" top: "acc" include { phase: TEST } }
P
    printf 'net: "net.prototxt"\nbase_lr: 0.05\nmomentum: 0.9\nlr_policy: "fixed"\nmax_iter: 6\nsnapshot: 0\nrandom_seed: 3\n' \
        > "$D/solver.prototxt"
    (cd "$D" && "$TRAIN" --solver solver.prototxt --train train.h5 --run-dir run > train.log 2>&1)
    to "$D/export.log" "$EXPORT" "$D/run" -o "$D/out" || diag_file "$D/export.log"
    to "$D/eval.log" "$EVAL" --run-dir "$D/run" --data "$D/train.h5" --probabilities "$D/eval_prob.txt" ||
        diag_file "$D/eval.log"
    # preprocess.json, applied as a deployment would, to the stored samples.
    "$PYTHON_H5PY" - "$D" <<'EOT' > "$D/pre.log" 2>&1
import json, sys
import h5py, numpy as np
d = sys.argv[1]
p = json.load(open(d + "/out/preprocess.json"))
assert p["classes"] == ["azure", "crimson", "olive"], p["classes"]
assert p["image"]["channel_order"] == "RGB" and p["image"]["shape"] == [3, 16, 16], p["image"]
px = h5py.File(d + "/train.h5", "r")["data"][...].astype(np.float32)
mean = np.load(d + "/out/" + p["mean"]["file"])
oh, ow = p["crop"]["offset"]
c, h, w = p["input"]["shape"]
x = ((px - mean) * p["scale"])[:, :, oh:oh + h, ow:ow + w]
np.ascontiguousarray(x, dtype=np.float32).tofile(d + "/input.f32")
open(d + "/shape.txt", "w").write("%d %d %d %d 3\n" % (len(x), c, h, w))
EOT
    check "deploy: preprocess.json (classes, RGB, crop, mean.npy, scale) read from the run" \
        test -s "$D/input.f32" || diag_file "$D/pre.log"
    check "deploy: onnxruntime on preprocess.json's input = dltrain-eval --data to 1e-4" \
        "$PY" - "$D" <<'EOT'
import sys
import numpy as np
import onnxruntime as ort
d = sys.argv[1]
b, c, h, w, k = (int(v) for v in open(d + "/shape.txt").read().split())
x = np.fromfile(d + "/input.f32", dtype=np.float32).reshape(b, c, h, w)
want = np.loadtxt(d + "/eval_prob.txt")[:, 1:]
sess = ort.InferenceSession(d + "/out/model.onnx", providers=["CPUExecutionProvider"])
got = sess.run(["prob"], {"data": x})[0]
print("# deploy: max |prob difference| %.3g over %d images" % (np.abs(got - want).max(), b))
sys.exit(not np.allclose(got, want, rtol=1e-4, atol=1e-6))
EOT
else
    ok "deploy path # SKIP needs onnxruntime, dltrain-mpi/prep/eval, h5py and PIL"
fi

# ---- refusals: a layer ONNX cannot express, bad command lines ----
sed 's/kernel_size: 2 stride: 2/kernel_size: 1 stride: 5/' "$top_srcdir/nets/lenet_train_val.prototxt" |
    sed 's/batch_size: *[0-9]*/batch_size: 2/' > "$WORK/bad.prototxt"
mkdir -p "$WORK/bad"
if "$FWD" "$WORK/bad.prototxt" 1 28 28 3 "$WORK/bad" > /dev/null 2>&1; then
    to "$WORK/bad.log" "$EXPORT" "$WORK/bad/ckpt.h5" --net "$WORK/bad.prototxt" --shape 1x28x28 -o "$WORK/bad_out"
    rc=$?
    [ $rc -eq 1 ] && grep -q "layer 'pool1' (Pooling).*cannot express" "$WORK/bad.log" &&
        ok "a pooling window wholly in the padding is refused by layer name" ||
        { fail "refusal by layer name (exit $rc)"; diag_file "$WORK/bad.log"; }
else
    fail "forward of the refused net"
fi
to "$WORK/caffe.log" "$EXPORT" "$WORK/lenet/ckpt.h5" --net "$WORK/lenet/net.prototxt" --shape 1x28x28 \
    --format caffe -o "$WORK/x"
rc=$?
[ $rc -eq 0 ] && [ -s "$WORK/x/deploy.prototxt" ] && [ -s "$WORK/x/weights.caffemodel" ] &&
    [ -s "$WORK/x/weights.caffemodel.h5" ] && ok "--format caffe writes deploy.prototxt and the weights" ||
    { fail "--format caffe (exit $rc)"; diag_file "$WORK/caffe.log"; }
to "$WORK/noshape.log" "$EXPORT" "$WORK/lenet/ckpt.h5" --net "$WORK/lenet/net.prototxt" -o "$WORK/x"
rc=$?
[ $rc -eq 1 ] && grep -q "give --shape" "$WORK/noshape.log" && ok "no recorded input shape: asks for --shape" ||
    { fail "missing shape (exit $rc)"; diag_file "$WORK/noshape.log"; }
to "$WORK/nonet.log" "$EXPORT" "$WORK/lenet/ckpt.h5" --shape 1x28x28 -o "$WORK/x"
rc=$?
[ $rc -eq 1 ] && grep -q "give --net" "$WORK/nonet.log" && ok "a checkpoint outside a run directory: asks for --net" ||
    { fail "missing --net (exit $rc)"; diag_file "$WORK/nonet.log"; }
echo "# total $(( $(date +%s) - t0 )) s"
done_testing
