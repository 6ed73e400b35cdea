#!/bin/bash
# test_prep.sh - dltrain-prep converts Fashion-MNIST IDX to our HDF5 schema;
# an independent reader (h5py + numpy, decoding the IDX itself) checks it.
. "$(dirname "$0")/lib.sh"

have_fmnist || skip_all "Fashion-MNIST not found in $FMNIST_DIR"
have_h5py || skip_all "h5py not available to $PYTHON_H5PY (Debian: apt-get install python3-h5py)"
[ -x "$PREP" ] || skip_all "$PREP not built"

for split in train t10k; do
    out="$WORK/$split.h5"
    if "$PREP" --format idx "$FMNIST_DIR/$split-images-idx3-ubyte.gz" \
        "$FMNIST_DIR/$split-labels-idx1-ubyte.gz" "$out" >"$WORK/$split.out" 2>"$WORK/$split.err"; then
        ok "$split: dltrain-prep exits 0"
    else
        fail "$split: dltrain-prep exits 0"
        diag_file "$WORK/$split.err"
        continue
    fi
    check "$split: summary names the output" grep -q "wrote $out" "$WORK/$split.out"

    # Each check prints "ok NAME" or "not ok NAME: detail"; turned into TAP below.
    "$PYTHON_H5PY" - "$FMNIST_DIR" "$split" "$out" >"$WORK/$split.py" 2>&1 <<'EOF'
import gzip, struct, sys
import h5py, numpy as np

fdir, split, path = sys.argv[1:4]
def idx(name):
    raw = gzip.open("%s/%s" % (fdir, name), "rb").read()
    ndim = raw[3]
    dims = struct.unpack(">%dI" % ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)
images = idx(split + "-images-idx3-ubyte.gz")
labels = idx(split + "-labels-idx1-ubyte.gz")
n = images.shape[0]

def check(name, cond, detail=""):
    print(("ok %s" % name) if cond else ("not ok %s: %s" % (name, detail)))

with h5py.File(path, "r") as f:
    d, l, m = f["data"], f["label"], f["mean"]
    check("/data dtype uint8", d.dtype == np.uint8, d.dtype)
    check("/data shape (N,1,28,28)", d.shape == (n, 1, 28, 28), d.shape)
    check("/data chunked by samples", d.chunks is not None and d.chunks[1:] == (1, 28, 28), d.chunks)
    check("/data equals the IDX bytes", np.array_equal(d[...].reshape(images.shape), images))
    check("/label dtype int32", l.dtype == np.int32, l.dtype)
    check("/label equals the IDX labels", l.shape == (n,) and np.array_equal(l[...], labels))
    want = images.astype(np.float64).mean(axis=0)
    diff = np.abs(m[...].reshape(28, 28) - want).max()
    check("/mean float32 (1,28,28) within 1e-3", m.dtype == np.float32 and m.shape == (1, 28, 28)
          and diff <= 1e-3, "dtype %s shape %s max diff %g" % (m.dtype, m.shape, diff))
    a = f.attrs
    fmt = a.get("dltrain_format")
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    check("dltrain_format attribute", fmt == "dltrain-dataset", fmt)
    check("dltrain_version attribute 1", int(a.get("dltrain_version", -1)) == 1, a.get("dltrain_version"))
    classes = [c.decode() if isinstance(c, bytes) else c for c in a.get("classes", [])]
    check("classes: 10 names, 'Ankle boot' last", len(classes) == 10 and classes[-1] == "Ankle boot"
          and classes[0] == "T-shirt/top", classes)
    check("shape attribute (1,28,28)", list(a.get("shape", [])) == [1, 28, 28], a.get("shape"))
    check("num_samples attribute", int(a.get("num_samples", -1)) == n, a.get("num_samples"))
EOF
    py_rc=$?
    [ $py_rc -eq 0 ] || { fail "$split: h5py reader ran (status $py_rc)"; diag_file "$WORK/$split.py"; }
    while IFS= read -r line; do
        case $line in
        "ok "*) ok "$split: ${line#ok }" ;;
        "not ok "*) fail "$split: ${line#not ok }" ;;
        *) echo "# $line" ;;
        esac
    done <"$WORK/$split.py"
done

leftover=$(find "$WORK" -name '*.tmp-*' | head -n 5)
check "no *.tmp-* files left" test -z "$leftover"

done_testing
