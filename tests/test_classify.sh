#!/bin/bash
# test_classify.sh - one input pipeline: dltrain-eval --classify on JPEG
# files gives the predictions and probabilities (to 1e-5) that
# dltrain-eval --data gives on those files built into a dataset by
# dltrain-prep, for colour and gray nets and images, each resize mode, with
# crop and mean_file; and a net trained on red/green/blue class folders
# classifies held-out JPEGs of those colours right (the channel order the
# training set recorded is the one classification decodes to).
. "$(dirname "$0")/lib.sh"
EVAL="$top_builddir/dltrain-eval"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
"$PYTHON_H5PY" -c 'import PIL' 2>/dev/null || skip_all "python3 PIL not found (apt-get install python3-pil)"
[ -x "$TRAIN" ] && [ -x "$PREP" ] && [ -x "$EVAL" ] || skip_all "programs not built"
to() { local out=$1; shift; "$@" > "$out" 2>&1; } # to FILE CMD...: run with output in FILE

# Colour images of red, green and blue (random sizes and aspect ratios,
# shading and noise), a held-out set of the same kind, and gray JPEGs.
"$PYTHON_H5PY" - "$WORK" <<'EOT'
import os, sys
import numpy as np
from PIL import Image
work = sys.argv[1]
base = {"red": (200, 30, 30), "green": (30, 180, 40), "blue": (30, 40, 210)}
def make(root, n, seed):
    r = np.random.RandomState(seed)
    for cls, rgb in base.items():
        os.makedirs("%s/%s" % (root, cls), exist_ok=True)
        for i in range(n):
            w, h = r.randint(14, 48), r.randint(14, 48)
            shade = np.linspace(0.7, 1.1, w)[None, :, None] * r.uniform(0.8, 1.1)
            px = np.array(rgb, float)[None, None, :] * shade + r.normal(0, 18, (h, w, 3))
            Image.fromarray(np.clip(px, 0, 255).astype(np.uint8)).save(
                "%s/%s/%02d.jpg" % (root, cls, i), quality=int(r.randint(70, 96)))
make(work + "/train", 30, 1)
make(work + "/held", 10, 2)
r = np.random.RandomState(3)
os.makedirs(work + "/gray", exist_ok=True)
for i in range(8):
    w, h = r.randint(10, 40), r.randint(10, 40)
    px = np.clip(r.normal(120, 50, (h, w)), 0, 255).astype(np.uint8)
    Image.fromarray(px, "L").save("%s/gray/%02d.jpg" % (work, i), quality=90)
EOT
printf 'blue\ngreen\nred\n' > "$WORK/classes.txt"
# The files classified, in a list file's order: held-out colour, then gray.
{ for c in blue green red; do for f in "$WORK/held/$c"/*.jpg; do echo "$f $c"; done; done
  for f in "$WORK/gray"/*.jpg; do echo "$f 0"; done; } |
    sed -e 's/ blue$/ 0/' -e 's/ green$/ 1/' -e 's/ red$/ 2/' > "$WORK/list.txt"
cut -d' ' -f1 "$WORK/list.txt" > "$WORK/files.txt"
mapfile -t FILES < "$WORK/files.txt"

net() { # CHANNELS-NOTE MEAN_FILE: a small conv net, crop 12 of 16, mirror, mean_file, scale
    cat <<P
name: "rgb$1"
layer { name: "d" type: "Data" top: "data" top: "label" include { phase: TRAIN }
        data_param { batch_size: 10 }
        transform_param { crop_size: 12 mirror: true scale: 0.0078125 mean_file: "$2" } }
layer { name: "d" type: "Data" top: "data" top: "label" include { phase: TEST }
        data_param { batch_size: 7 }
        transform_param { crop_size: 12 scale: 0.0078125 mean_file: "$2" } }
layer { name: "c" type: "Convolution" bottom: "data" top: "c"
        convolution_param { num_output: 6 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "r" type: "ReLU" bottom: "c" top: "c" }
layer { name: "p" type: "Pooling" bottom: "c" top: "p" pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "p" top: "ip"
        inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
layer { name: "acc" type: "Accuracy" bottom: "ip" bottom: "label" top: "acc" include { phase: TEST } }
P
}
solver() { # MAX_ITER
    printf 'net: "net.prototxt"\nbase_lr: 0.05\nmomentum: 0.9\nlr_policy: "fixed"\ndisplay: 20\n'
    printf 'max_iter: %d\nsnapshot: 0\nrandom_seed: 3\n' "$1"
}

# ---- colour: red/green/blue class folders (the issue's case) ----
check "prep: colour class folders, 16x16" "$PREP" -q --format folder --size 16x16 "$WORK/train" "$WORK/train.h5"
check "prep: held-out folders" "$PREP" -q --format folder --size 16x16 "$WORK/held" "$WORK/held.h5"
check "the dataset records channel_order RGB and resize squash" "$PYTHON_H5PY" -c "
import h5py, sys; a = h5py.File('$WORK/train.h5', 'r').attrs
sys.exit(not (a['channel_order'] in ('RGB', b'RGB') and a['resize'] in ('squash', b'squash')))"
mkdir -p "$WORK/c"
net "" "$WORK/train.h5" > "$WORK/c/net.prototxt"
solver 120 > "$WORK/c/solver.prototxt"
(cd "$WORK/c" && "$TRAIN" --solver solver.prototxt --train "$WORK/train.h5" --run-dir run > train.out 2>&1)
check "train the colour net (120 iterations)" test -s "$WORK/c/run/config/input.txt"
check "the run directory records the training set's channel order" grep -q "^channel_order RGB" "$WORK/c/run/config/input.txt"
RUN="$WORK/c/run"
to "$WORK/held.out" "$EVAL" --run-dir "$RUN" --data "$WORK/held.h5"
check "dltrain-eval --data on the held-out set: top-1 1.0000" grep -q "^top-1 accuracy: 1.0000 (30/30)" "$WORK/held.out" ||
    diag_file "$WORK/held.out"
# --classify with only the run directory: the input spec comes from config/input.txt.
to "$WORK/cls.out" "$EVAL" --run-dir "$RUN" --labels "$WORK/classes.txt" --classify "$WORK"/held/*/*.jpg
right=$(awk '/\.jpg$/ {n = split($1, a, "/"); want = a[n - 1]} /^  1\. / && $4 == want {k++} END {print k + 0}' "$WORK/cls.out")
if [ "$right" -eq 30 ]; then ok "--classify on the 30 held-out red/green/blue JPEGs: all right"
else fail "--classify got $right/30 held-out JPEGs right"; diag_file "$WORK/cls.out" 40; fi
check "... it says where the input spec came from" grep -q "^input 3x16x16 RGB, resize squash (from .*config/input.txt)" "$WORK/cls.out"
to "$WORK/bgr.out" "$EVAL" --run-dir "$RUN" --labels "$WORK/classes.txt" --channel-order BGR --classify "$WORK"/held/*/*.jpg
wrong=$(awk '/\.jpg$/ {n = split($1, a, "/"); want = a[n - 1]} /^  1\. / && $4 != want {k++} END {print k + 0}' "$WORK/bgr.out")
check "... and --channel-order BGR (the old classify path) swaps red and blue ($wrong/30 wrong)" test "$wrong" -ge 20

# ---- classify == eval --data, every resize mode, colour and gray ----
compare() { # NAME: probabilities of --data and of --classify agree
    "$PYTHON_H5PY" - "$WORK/$1.data.txt" "$WORK/$1.cls.txt" > "$WORK/$1.cmp" 2>&1 <<'EOT'
import sys
import numpy as np
a, b = np.loadtxt(sys.argv[1], ndmin=2), np.loadtxt(sys.argv[2], ndmin=2)
print("samples", a.shape, b.shape)
ok = a.shape == b.shape and a.shape[0] == 38 and (a[:, 0] == b[:, 0]).all()
if ok:
    d = np.abs(a[:, 1:] - b[:, 1:]).max()
    same = (a[:, 1:].argmax(1) == b[:, 1:].argmax(1)).all()
    print("max |p_data - p_classify| = %.3g; same argmax: %s" % (d, same))
    ok = d <= 1e-5 and same
sys.exit(not ok)
EOT
}
equiv() { # KIND RUN PREP-ARGS...: per resize mode, a dataset of the list vs --classify
    local kind=$1 run=$2 mode
    shift 2
    for mode in squash crop fill half_crop; do
        "$PREP" -q --format list --classes "$WORK/classes.txt" --size 16x16 --resize $mode "$@" \
            "$WORK/list.txt" "$WORK/$kind.$mode.h5" 2> "$WORK/$kind.$mode.prep"
        to "$WORK/$kind.$mode.out1" "$EVAL" --run-dir "$run" --data "$WORK/$kind.$mode.h5" \
            --probabilities "$WORK/$kind.$mode.data.txt"
        to "$WORK/$kind.$mode.out2" "$EVAL" --run-dir "$run" --data "$WORK/$kind.$mode.h5" \
            --probabilities "$WORK/$kind.$mode.cls.txt" --classify "${FILES[@]}"
        if compare "$kind.$mode"; then
            ok "$kind, --resize $mode: --classify equals --data on 38 files ($(tail -1 "$WORK/$kind.$mode.cmp"))"
        else
            fail "$kind, --resize $mode: --classify differs from --data"
            diag_file "$WORK/$kind.$mode.cmp"; diag_file "$WORK/$kind.$mode.out2" 5
        fi
    done
}
equiv colour "$RUN"

check "prep: gray class folders" "$PREP" -q --format folder --gray --size 16x16 "$WORK/train" "$WORK/train_gray.h5"
mkdir -p "$WORK/g"
net "_gray" "$WORK/train_gray.h5" > "$WORK/g/net.prototxt"
solver 20 > "$WORK/g/solver.prototxt"
(cd "$WORK/g" && "$TRAIN" --solver solver.prototxt --train "$WORK/train_gray.h5" --run-dir run > train.out 2>&1)
check "train a gray net (20 iterations)" test -s "$WORK/g/run/config/input.txt"
equiv gray "$WORK/g/run" --gray

# --net/--weights find the run directory's record from the checkpoint's path.
to "$WORK/nw.out" "$EVAL" --net "$RUN/config/net.prototxt" --weights "$RUN"/checkpoints/iter_*.h5 \
    --labels "$WORK/classes.txt" --classify "$WORK/held/blue/00.jpg"
check "--net/--weights: the input spec from the checkpoint's run directory" \
    grep -q "^input 3x16x16 RGB, resize squash (from .*config/input.txt)" "$WORK/nw.out"
# Files without the channel_order attribute: a dltrain file of an older
# build is RGB, a file in Caffe's HDF5Data layout BGR (Caffe's convention).
"$PYTHON_H5PY" - "$WORK" <<'EOT'
import shutil, sys
import h5py, numpy as np
w = sys.argv[1]
shutil.copy(w + "/held.h5", w + "/old.h5")
with h5py.File(w + "/old.h5", "a") as f:
    for a in ("channel_order", "resize", "resize_seed"):
        del f.attrs[a]
with h5py.File(w + "/caffe.h5", "w") as f:
    f["data"] = np.zeros((4, 3, 16, 16), np.float32)
    f["label"] = np.zeros((4, 1), np.float32)
EOT
to "$WORK/old.out" "$EVAL" --run-dir "$RUN" --data "$WORK/old.h5" --classify "$WORK/held/red/00.jpg"
check "a dltrain dataset without channel_order is taken as RGB" grep -q "^input 3x16x16 RGB, resize squash" "$WORK/old.out"
to "$WORK/caffe.out" "$EVAL" --run-dir "$RUN" --data "$WORK/caffe.h5" --classify "$WORK/held/red/00.jpg"
check "a Caffe HDF5Data file is taken as BGR" grep -q "^input 3x16x16 BGR, resize squash" "$WORK/caffe.out"
check "... with a warning that the net was trained on RGB samples" grep -q "trained on RGB" "$WORK/caffe.out"
"$EVAL" --run-dir "$RUN" --channel-order XYZ --classify "$WORK/held/blue/00.jpg" > "$WORK/bad.out" 2>&1
rc=$?
check "--channel-order XYZ: exit 1 naming XYZ" sh -c "[ $rc -eq 1 ] && grep -q XYZ '$WORK/bad.out'"
done_testing
