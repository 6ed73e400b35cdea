#!/bin/bash
# test_eval.sh - dltrain-eval on a short Fashion-MNIST run: its top-1
# equals the trainer's final test accuracy over the same 10,000 samples
# and batches; per-class counts and confusion-matrix rows sum to the
# class counts; --classify on quality-100 JPEGs of test images agrees
# with the net on the raw images; bad inputs name the file or blob.
. "$(dirname "$0")/lib.sh"
EVAL="$top_builddir/dltrain-eval"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
"$PYTHON_H5PY" -c 'import PIL' 2>/dev/null || skip_all "python3 PIL not found (apt-get install python3-pil)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }
to() { local out=$1; shift; "$@" > "$out" 2>&1; } # to FILE CMD...: run with output in FILE

cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
sed -e 's/^test_iter:.*/test_iter: 100/' -e 's/^test_interval:.*/test_interval: 100000/' \
    -e 's/^display:.*/display: 20/' -e 's/^snapshot:.*/snapshot: 0/' \
    "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/solver.prototxt"
echo "test_initialization: false" >> "$WORK/solver.prototxt"
RUN="$WORK/run"
check "train 60 iterations on one rank (final test: 100 x 100 = all 10,000 test images)" \
    to "$WORK/train.out" "$TRAIN" --solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN" --val "$FMNIST_TEST" \
    --run-dir "$RUN" --max-iter 60
check "dltrain-eval --run-dir --data" \
    to "$WORK/eval.out" "$EVAL" --run-dir "$RUN" --data "$FMNIST_TEST" --predictions "$WORK/pred.txt"
check "... picks the newest checkpoint" grep -q "iter_00000060.h5 (iteration 60)" "$WORK/eval.out"
check "... and the same with --net/--weights" to "$WORK/eval2.out" "$EVAL" --net "$RUN/config/net.prototxt" \
    --weights "$RUN/checkpoints/iter_00000060.h5" --data "$FMNIST_TEST"
check "... gives the same report" cmp <(grep -A40 "^data " "$WORK/eval.out") <(grep -A40 "^data " "$WORK/eval2.out")

# One Python check of the numbers against the trainer and the dataset.
"$PYTHON_H5PY" - "$WORK/eval.out" "$RUN/metrics.jsonl" "$FMNIST_TEST" "$WORK/pred.txt" \
    > "$WORK/py.txt" 2>&1 <<'EOT'
import json, re, sys
import h5py, numpy as np
out = open(sys.argv[1]).read()
tests = [json.loads(l) for l in open(sys.argv[2]) if '"test"' in l]
labels = h5py.File(sys.argv[3], "r")["label"][...]
top1 = int(re.search(r"top-1 accuracy: \S+ \((\d+)/10000\)", out).group(1)) / 10000
top5 = int(re.search(r"top-5 accuracy: \S+ \((\d+)/10000\)", out).group(1)) / 10000
t = tests[-1]
print("eval top-1 %.6f trainer %.6f; eval top-5 %.6f trainer %s" % (top1, t["test_top1"], top5, t.get("test_top5")))
print("top1_match", abs(top1 - t["test_top1"]) < 1e-6)
rows = re.findall(r"^\s+(\d+)((?:\s+\d+){10})$", out.split("confusion matrix")[1], re.M)
m = np.array([[int(v) for v in r[1].split()] for r in rows])
counts = np.bincount(labels, minlength=10)
print("rows_match", m.shape == (10, 10) and (m.sum(axis=1) == counts).all())
pc = re.findall(r"^\s+(\d)\s+(.+?)\s+(\d+)\s+(\d+)\s+[\d.]+$", out.split("per-class")[1].split("confusion")[0], re.M)
print("perclass_match", len(pc) == 10 and all(int(p[2]) == counts[i] and int(p[3]) == m[i, i] for i, p in enumerate(pc)))
print("names_match", pc[0][1] == "T-shirt/top" and pc[9][1] == "Ankle boot")
pred = np.loadtxt(sys.argv[4], dtype=int)
print("pred_match", len(pred) == 10000 and (pred[:, 1] == labels).all() and (pred[:, 1] == pred[:, 2]).sum() == round(top1 * 10000))
EOT
for k in top1_match rows_match perclass_match names_match pred_match; do
    case $k in
    top1_match) d="eval top-1 equals the trainer's final test accuracy (same samples, same batches)" ;;
    rows_match) d="confusion matrix rows sum to the class counts of the test set" ;;
    perclass_match) d="per-class counts and correct counts agree with the matrix" ;;
    names_match) d="class names come from the dataset's classes attribute" ;;
    pred_match) d="--predictions lists all 10,000 samples with their labels, consistent with top-1" ;;
    esac
    if grep -q "^$k True" "$WORK/py.txt"; then ok "$d"; else fail "$d"; diag_file "$WORK/py.txt"; fi
done

# --classify: the first 200 test images as quality-100 JPEGs.
mkdir -p "$WORK/jpg"
"$PYTHON_H5PY" - "$FMNIST_TEST" "$WORK/jpg" <<'EOT'
import sys, h5py
from PIL import Image
d = h5py.File(sys.argv[1], "r")["data"]
for i in range(200):
    Image.fromarray(d[i, 0]).save("%s/%03d.jpg" % (sys.argv[2], i), quality=100)
EOT
check "dltrain-eval --classify 200 JPEGs" to "$WORK/cls.out" "$EVAL" --run-dir "$RUN" \
    --data "$FMNIST_TEST" --classify "$WORK"/jpg/*.jpg
awk '/\.jpg$/ {f = $1} /^  1\. / {n = split(f, a, "/"); sub(/\.jpg/, "", a[n]); print a[n] + 0, $3}' \
    "$WORK/cls.out" > "$WORK/cls_top1.txt"
agree=$(awk 'NR == FNR {p[$1] = $3; next} ($1 in p) && p[$1] == $2 {n++} END {print n + 0}' \
    "$WORK/pred.txt" "$WORK/cls_top1.txt")
check "--classify printed a top-1 for each of the 200 files" test "$(wc -l < "$WORK/cls_top1.txt")" -eq 200
if [ "$agree" -ge 190 ]; then ok "JPEG top-1 agrees with the raw-image prediction for $agree/200 (>= 95%)"
else fail "JPEG top-1 agrees for only $agree/200"; fi
check "--classify prints 5 classes with probabilities and names" \
    grep -qE '^  5\. 0\.[0-9]{6} +[0-9] +[A-Za-z]' "$WORK/cls.out"
printf 'c0\nc1\nc2\nc3\nc4\nc5\nc6\nc7\nc8\nc9\n' > "$WORK/labels.txt"
check "--labels and --shape without --data" to "$WORK/cls2.out" "$EVAL" --run-dir "$RUN" \
    --labels "$WORK/labels.txt" --shape 1x28x28 --classify "$WORK/jpg/000.jpg"
check "... names classes from the labels file" grep -qE '^  1\. .* c[0-9]$' "$WORK/cls2.out"

# Bad inputs: non-zero exit, message naming what is wrong.
bad() { # DESCRIPTION PATTERN ARGS...
    local d=$1 pat=$2
    shift 2
    if "$EVAL" "$@" > "$WORK/bad.out" 2>&1; then fail "$d: should fail"; return; fi
    if grep -q -- "$pat" "$WORK/bad.out"; then ok "$d: fails naming $pat"
    else fail "$d: message lacks $pat"; diag_file "$WORK/bad.out"; fi
}
bad "missing JPEG" "nope.jpg" --run-dir "$RUN" --data "$FMNIST_TEST" --classify "$WORK/nope.jpg"
echo "not a jpeg" > "$WORK/text.jpg"
bad "a text file as JPEG" "text.jpg" --run-dir "$RUN" --data "$FMNIST_TEST" --classify "$WORK/text.jpg"
bad "missing dataset" "missing.h5" --run-dir "$RUN" --data "$WORK/missing.h5"
bad "run dir without checkpoints" "no checkpoint" --run-dir "$WORK/empty" --data "$FMNIST_TEST"
sed 's/num_output: 500/num_output: 300/' "$RUN/config/net.prototxt" > "$WORK/other.prototxt"
bad "checkpoint of another net (ip1 500 -> 300)" "layer 'ip1' blob 0: shape (500,800) there, (300,800) in the net" --net "$WORK/other.prototxt" \
    --weights "$RUN/checkpoints/iter_00000060.h5" --data "$FMNIST_TEST"
sed 's/"ip1"/"fc1"/g' "$RUN/config/net.prototxt" > "$WORK/renamed.prototxt"
bad "checkpoint without the net's layer fc1" "no weights for layer 'fc1'" --net "$WORK/renamed.prototxt" \
    --weights "$RUN/checkpoints/iter_00000060.h5" --data "$FMNIST_TEST"
# A checkpoint whose weights hold NaN (saved after divergence; its crc32
# made to match, as the trainer would have written it) is refused, naming the blob.
cp "$RUN/checkpoints/iter_00000060.h5" "$WORK/nan.h5"
"$PYTHON_H5PY" - "$WORK/nan.h5" <<'EOT'
import sys, zlib, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    d = f["data/ip2/0"]
    w = d[...]
    w.flat[7] = np.nan
    d[...] = w
    d.attrs["crc32"] = np.int64(zlib.crc32(w.astype(np.float32).tobytes()))
EOT
bad "NaN in a checkpoint's weights" "parameter blob 0 (/data/ip2/0) holds 1 non-finite" \
    --net "$RUN/config/net.prototxt" --weights "$WORK/nan.h5" --data "$FMNIST_TEST"
"$EVAL" --data "$FMNIST_TEST" > /dev/null 2>&1
check "no net/weights: usage error, exit status 2" test $? -eq 2
done_testing
