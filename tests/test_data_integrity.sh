#!/bin/bash
# test_data_integrity.sh - dataset checksums: dltrain-prep writes a CRC-32C
# per chunk (checked here against a Python CRC-32C of the chunk) and one of
# the labels; a flipped byte in /data, /jpeg or /label stops a run, in memory
# and streaming, naming the file and the chunk; a training set truncated
# under a streaming run stops it; files without checksums (Caffe's layout,
# older dltrain files) still train, with one note.
. "$(dirname "$0")/lib.sh"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
[ -x "$TRAIN" ] && [ -x "$PREP" ] || skip_all "programs not built"

# 2000 random CIFAR-layout records (6 MB raw, chunks of 341 samples).
"$PYTHON_H5PY" -c "
import numpy as np
r = np.random.RandomState(3)
np.concatenate([r.randint(0, 10, (2000, 1)), r.randint(0, 256, (2000, 3072))], 1).astype(np.uint8).tofile('$WORK/b.bin')"
"$PREP" -q --format cifar10 "$WORK/b.bin" "$WORK/set.h5" 2>/dev/null
"$PREP" -q --format cifar10 --encoding jpeg --chunk 100 "$WORK/b.bin" "$WORK/jpeg.h5" 2>/dev/null
check "prep: raw and JPEG sets written" test -s "$WORK/set.h5" -a -s "$WORK/jpeg.h5"
# Smaller sets for the reference check (a CRC-32C in Python, bit by bit).
head -c $((300 * 3073)) "$WORK/b.bin" >"$WORK/s.bin"
"$PREP" -q --format cifar10 --chunk 64 "$WORK/s.bin" "$WORK/small.h5" 2>/dev/null
"$PREP" -q --format cifar10 --encoding jpeg --chunk 50 "$WORK/s.bin" "$WORK/jsmall.h5" 2>/dev/null

crc_ok() { # FILE: /crc32c, crc32c_block and label_crc32c as computed here
    "$PYTHON_H5PY" - "$1" <<'PY'
import sys, struct, h5py
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ T[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF
f = h5py.File(sys.argv[1], "r")
b = int(f.attrs["crc32c_block"])
want = []
if "data" in f:
    d = f["data"][:]
    want = [crc32c(d[i:i + b].tobytes()) for i in range(0, len(d), b)]
else:
    j = f["jpeg"]
    for i in range(0, len(j), b):
        c = 0
        for rec in j[i:i + b]:
            c = crc32c(struct.pack("<I", len(rec)) + rec.tobytes(), c)
        want.append(c)
ok = list(f["crc32c"][:]) == want and len(want) > 1
ok = ok and int(f.attrs["label_crc32c"]) == crc32c(f["label"][:].astype("<i4").tobytes())
sys.exit(0 if ok else 1)
PY
}
check "raw set: /crc32c holds the CRC-32C of each chunk, label_crc32c of /label" crc_ok "$WORK/small.h5"
check "JPEG set: /crc32c holds each chunk's (length, bytes) CRC-32C" crc_ok "$WORK/jsmall.h5"

flip() { # SRC DST DATASET CHUNK: DST is SRC with one byte of that chunk flipped
    cp "$1" "$2"
    "$PYTHON_H5PY" - "$2" "$3" "$4" <<'PY'
import sys, h5py
path, name, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
with h5py.File(path, "r") as f:
    d = f[name]
    if name == "jpeg":  # records live in the global heap: flip one inside record k*100+1
        import numpy as np
        rec = d[k * 100 + 1].tobytes()
        off = None
    else:
        info = d.id.get_chunk_info(k) if d.chunks else None
        off = (info.byte_offset if info else d.id.get_offset()) + 100
if off is None:
    raw = bytearray(open(path, "rb").read())
    off = raw.find(rec) + len(rec) // 2
else:
    raw = bytearray(open(path, "rb").read())
raw[off] ^= 0x10
open(path, "wb").write(raw)
PY
}
cat >"$WORK/net.prototxt" <<'P'
layer { name: "d" type: "Data" top: "data" top: "label" data_param { batch_size: 8 }
        transform_param { scale: 0.00390625 } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
P
cat >"$WORK/solver.prototxt" <<'P'
net: "net.prototxt"
base_lr: 0.01
lr_policy: "fixed"
display: 1
max_iter: 300
random_seed: 5
P
train() { # NAME DATA [args]: exit status of a run
    local name=$1 data=$2
    shift 2
    (cd "$WORK" && "$TRAIN" --solver solver.prototxt --train "$data" --run-dir "run_$name" "$@" \
        >"out_$name.txt" 2>&1)
}
train good set.h5; rc=$?
check "intact set trains (exit $rc)" test $rc -eq 0
check "... without a note about checksums" bash -c "! grep -q 'no checksums' '$WORK/out_good.txt'"

flip "$WORK/set.h5" "$WORK/flip.h5" data 2
for mode in memory stream; do
    extra=""
    [ $mode = stream ] && extra="--data-memory-mb 1"
    train "flip_$mode" flip.h5 $extra; rc=$?
    check "flipped byte in /data, $mode: run stops (exit $rc)" test $rc -ne 0
    check "... the message names the file and chunk 2" \
        grep -q "flip.h5: chunk 2 (samples 682-1022) fails its checksum" "$WORK/out_flip_$mode.txt"
done
if command -v "$MPIRUN" >/dev/null; then
    (cd "$WORK" && timeout 120 "$MPIRUN" -np 2 "$TRAIN" --solver solver.prototxt --train flip.h5 \
        --run-dir run_flip_np2 --data-memory-mb 1 >out_flip_np2.txt 2>&1)
    rc=$?
    check "flipped byte, streaming under mpirun -np 2: the job stops, no hang (exit $rc)" \
        test $rc -ne 0 -a $rc -ne 124
    check "... the rank that read it names the file and chunk 2" \
        grep -q "rank [01]/2 .*flip.h5: chunk 2 (samples 682-1022) fails its checksum" "$WORK/out_flip_np2.txt"
else
    ok "# SKIP mpirun not found"
fi
flip "$WORK/jpeg.h5" "$WORK/flipj.h5" jpeg 7
train flip_jpeg flipj.h5; rc=$?
check "flipped byte in a /jpeg record: run stops (exit $rc), chunk 7 named" \
    grep -q "flipj.h5: chunk 7 (samples 700-799) fails its checksum" "$WORK/out_flip_jpeg.txt"
flip "$WORK/set.h5" "$WORK/flipl.h5" label 0
train flip_label flipl.h5; rc=$?
check "flipped byte in /label: refused at open (exit $rc)" test $rc -ne 0
check "... /label named" grep -q "flipl.h5: /label fails its checksum" "$WORK/out_flip_label.txt"

# Truncated while a streaming run reads it: the run stops with the file and chunk named.
cp "$WORK/set.h5" "$WORK/trunc.h5"
sed -i 's/max_iter: 300/max_iter: 1000000/' "$WORK/solver.prototxt"
(cd "$WORK" && exec "$TRAIN" --solver solver.prototxt --train trunc.h5 --run-dir run_trunc \
    --data-memory-mb 1 >out_trunc.txt 2>&1) &
pid=$!
for _ in $(seq 600); do grep -q "iter  *[1-9]" "$WORK/out_trunc.txt" 2>/dev/null && break; sleep 0.1; done
truncate -s $(($(stat -c %s "$WORK/trunc.h5") / 2)) "$WORK/trunc.h5"
for _ in $(seq 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { kill $pid; sleep 1; }
wait $pid; rc=$?
check "set truncated under a streaming run: the run stops by itself with an error (exit $rc)" test $rc -eq 1
# Either the size check before a chunk read sees the shrink, or (the
# truncation landing during the read) the chunk's checksum fails and the
# message adds the shrink: both name the file, the chunk and the shrink.
check "... naming the file, the chunk and the shrink" \
    grep -Eq "trunc.h5: (changed under this job, stopping before chunk [0-9]+ \(samples [0-9]+-[0-9]+\); it shrank|chunk [0-9]+ \(samples [0-9]+-[0-9]+\) fails its checksum.*; it shrank since this job opened it)" \
    "$WORK/out_trunc.txt"
[ $rc -ne 0 ] || diag_file "$WORK/out_trunc.txt"
sed -i 's/max_iter: 1000000/max_iter: 300/' "$WORK/solver.prototxt"

# No checksums: an older dltrain file (attributes and /crc32c removed) and Caffe's layout.
cp "$WORK/set.h5" "$WORK/old.h5"
"$PYTHON_H5PY" - "$WORK/old.h5" "$WORK/caffe.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "a") as f:
    del f["crc32c"]; del f.attrs["crc32c_block"]; del f.attrs["label_crc32c"]
r = np.random.RandomState(0)
with h5py.File(sys.argv[2], "w") as f:
    f["data"] = r.rand(400, 3, 32, 32).astype(np.float32)
    f["label"] = r.randint(0, 10, (400, 1)).astype(np.float32)
PY
train old old.h5 --data-memory-mb 1; rc=$?
check "older dltrain file without checksums streams (exit $rc)" test $rc -eq 0
check "... with one note naming it" test "$(grep -c 'old.h5 has no checksums' "$WORK/out_old.txt")" -eq 1
train caffe caffe.h5 --val caffe.h5; rc=$?
check "Caffe-layout file trains, also as --val (exit $rc)" test $rc -eq 0
check "... with one note naming it" test "$(grep -c 'caffe.h5 has no checksums' "$WORK/out_caffe.txt")" -eq 1

done_testing
