#!/bin/bash
# test_prep_mpi.sh - dltrain-prep under mpirun -np 2 builds the same dataset
# as one process: a folder of generated JPEGs with bad files among them, raw
# and JPEG storage, with --shuffle and --val-percent; h5py compares /data or
# /jpeg, /label, /mean, the classes and the skip reports.
. "$(dirname "$0")/lib.sh"

have_h5py || skip_all "h5py not available to $PYTHON_H5PY (Debian: apt-get install python3-h5py)"
"$PYTHON_H5PY" -c 'import PIL' 2>/dev/null || skip_all "PIL not available (Debian: apt-get install python3-pil)"
[ -x "$PREP" ] || skip_all "$PREP not built"
command -v "$MPIRUN" >/dev/null || skip_all "$MPIRUN not found (Debian: apt-get install openmpi-bin)"

D="$WORK/in"
"$PYTHON_H5PY" - "$D" <<'PYEOF' || { fail "generating inputs"; done_testing; }
import os, sys
import numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.RandomState(7)
for c in range(3):
    os.makedirs("%s/class%d" % (d, c))
    for i in range(23):  # odd counts: shares of unequal size
        img = rng.randint(0, 256, (40 + i, 48, 3)).astype(np.uint8)
        Image.fromarray(img).save("%s/class%d/img%02d.jpg" % (d, c, i), quality=90)
open("%s/class0/zero.jpg" % d, "wb").close()
good = open("%s/class1/img00.jpg" % d, "rb").read()
open("%s/class1/trunc.jpg" % d, "wb").write(good[: len(good) // 3])
Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save("%s/class2/fake.jpg" % d, format="PNG")
PYEOF

# build NAME NP ARGS...: dltrain-prep on NP ranks (0: without mpirun); exit 3 expected (skips)
build() {
    local name=$1 np=$2; shift 2
    if [ "$np" = 0 ]; then
        "$PREP" -q --format folder "$@" "$D" "$WORK/$name.h5" >"$WORK/$name.log" 2>&1
    else
        "$MPIRUN" -np "$np" "$PREP" -q --format folder --threads 1 "$@" "$D" "$WORK/$name.h5" \
            >"$WORK/$name.log" 2>&1
    fi
    local rc=$?
    if [ $rc -eq 3 ]; then ok "$name: exit status 3 (built, 3 inputs skipped)"
    else fail "$name: exit status 3 (got $rc)"; diag_file "$WORK/$name.log"; fi
}

# same A B [noreport]: the two builds hold the same samples, labels, mean,
# classes and (unless noreport: a validation file has none) skip report.
same() {
    local out
    out=$("$PYTHON_H5PY" - "$WORK/$1.h5" "$WORK/$2.h5" <<'PYEOF' 2>&1
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
bad = []
for k in ("data", "label", "mean"):
    if (k in a) != (k in b):
        bad.append("/%s in one file only" % k)
    elif k in a and not np.array_equal(a[k][()], b[k][()]):
        bad.append("/%s differs" % k)
if ("jpeg" in a) != ("jpeg" in b):
    bad.append("/jpeg in one file only")
elif "jpeg" in a and [bytes(x) for x in a["jpeg"]] != [bytes(x) for x in b["jpeg"]]:
    bad.append("/jpeg differs")
if list(a.attrs.get("classes", [])) != list(b.attrs.get("classes", [])):
    bad.append("classes differ")
n = len(a["label"])
if n == 0:
    bad.append("no samples")
print("; ".join(bad) if bad else "equal (%d samples)" % n)
sys.exit(1 if bad else 0)
PYEOF
)
    local rc=$?
    if [ $rc -eq 0 ]; then ok "$2 = $1: $out"; else fail "$2 = $1: $out"; fi
    [ "${3:-}" = noreport ] && return
    if cmp -s "$WORK/$1.h5.skipped.txt" "$WORK/$2.h5.skipped.txt"; then
        ok "$2 = $1: same skip report ($(wc -l <"$WORK/$1.h5.skipped.txt") lines)"
    else
        fail "$2 = $1: same skip report"; diff "$WORK/$1.h5.skipped.txt" "$WORK/$2.h5.skipped.txt" | sed 's/^/#   /'
    fi
}

RAW=(--size 32x32 --resize half_crop)
build raw1 0 "${RAW[@]}"
build raw_np1 1 "${RAW[@]}"
build raw_np2 2 "${RAW[@]}"
same raw1 raw_np1
same raw1 raw_np2
ls "$WORK"/raw_np2.h5.tmp* >/dev/null 2>&1 && fail "np=2 left temporary files" || ok "np=2 left no temporary files"

JPG=(--size 32x24 --resize fill --encoding jpeg --shuffle --seed 5 --val-percent 20)
build jpg1 0 "${JPG[@]}"
build jpg_np2 2 "${JPG[@]}"
same jpg1 jpg_np2
same jpg1_val jpg_np2_val noreport
# np=3 (oversubscribed): shares of 23+ items split three ways
build raw_np3 3 "${RAW[@]}"
same raw1 raw_np3

# A failure on the writer (rank 0) stops every rank with an error, no hang.
timeout 60 "$MPIRUN" -np 2 "$PREP" -q --format folder --size 32x32 "$D" "$WORK/no/such/dir/x.h5" \
    >"$WORK/fail.log" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "x.h5" "$WORK/fail.log"; then
    ok "np=2 with an unwritable output fails (status $rc) naming the file"
else
    fail "np=2 with an unwritable output fails naming the file (status $rc)"; diag_file "$WORK/fail.log"
fi
done_testing
