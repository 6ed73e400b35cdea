#!/bin/bash
# make_seeds.sh - (re)make the small seed corpora of tests/fuzz/corpus/ from
# the built tools and python3 (PIL, h5py): tiny JPEGs, IDX and CIFAR files,
# datasets of each layout dltrain reads, and checkpoints of the checkpoint
# harness's net. Run from the configured tree after make; the files are
# checked in, so this runs only when a format changes. The net corpus is
# nets/*.prototxt (the small ones) plus hand-written nets, copied by hand.
set -euo pipefail
cd "$(dirname "$0")/../.."
C=tests/fuzz/corpus
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PY=${PYTHON_H5PY:-/usr/bin/python3}

# JPEG: gray and colour, baseline and progressive, subsamplings, restart
# markers; 8..24 pixels a side. The harness reads options from the last byte.
$PY - "$C/jpeg" <<'PYEOF'
import io, sys, random
from PIL import Image
out = sys.argv[1]
random.seed(1)
def img(mode, w, h):
    im = Image.new(mode, (w, h))
    im.putdata([tuple(random.randrange(256) for _ in range(3)) if mode == "RGB" else random.randrange(256)
                for _ in range(w * h)])
    return im
cases = [("gray8", "L", 8, 8, {}), ("rgb16x12", "RGB", 16, 12, {}),
         ("rgb444", "RGB", 9, 7, {"subsampling": 0}), ("rgb422", "RGB", 24, 8, {"subsampling": 1}),
         ("progressive", "RGB", 16, 16, {"progressive": True}), ("q10", "L", 20, 5, {"quality": 10}),
         ("restart", "RGB", 16, 16, {"restart_marker_blocks": 1} if False else {"optimize": True})]
for name, mode, w, h, kw in cases:
    b = io.BytesIO()
    img(mode, w, h).save(b, "JPEG", **kw)
    open(f"{out}/{name}.jpg", "wb").write(b.getvalue())
PYEOF

# IDX: images (3 of 5x4), labels, gzipped images; CIFAR-10 (2 records) and
# CIFAR-100 (1 record; the last byte odd picks CIFAR-100 in the harness).
$PY - "$C/idx" "$C/cifar" "$W" <<'PYEOF'
import gzip, struct, sys, random
idx, cifar, work = sys.argv[1:4]
random.seed(2)
imgs = struct.pack(">BBBB3I", 0, 0, 8, 3, 3, 5, 4) + bytes(random.randrange(256) for _ in range(60))
labs = struct.pack(">BBBBI", 0, 0, 8, 1, 3) + bytes([1, 7, 3])
open(f"{idx}/images3x5x4.idx", "wb").write(imgs)
open(f"{idx}/labels3.idx", "wb").write(labs)
open(f"{idx}/images3x5x4.idx.gz", "wb").write(gzip.compress(imgs, mtime=0))
open(f"{work}/images.idx", "wb").write(struct.pack(">BBBB3I", 0, 0, 8, 3, 4, 8, 8) +
                                       bytes(random.randrange(256) for _ in range(256)))
open(f"{work}/labels.idx", "wb").write(struct.pack(">BBBBI", 0, 0, 8, 1, 4) + bytes([0, 1, 2, 0]))
c10 = bytes([3]) + bytes(random.randrange(256) for _ in range(3072))
c10 += bytes([9]) + bytes(random.randrange(256) for _ in range(3071)) + bytes([0x96])
open(f"{cifar}/cifar10_2rec.bin", "wb").write(c10)
c100 = bytes([4, 77]) + bytes(random.randrange(256) for _ in range(3071)) + bytes([0x25])
open(f"{cifar}/cifar100_1rec.bin", "wb").write(c100)
PYEOF

# Datasets: raw uint8 (chunk of 1 and unchunked-size chunks), JPEG records,
# gray, a caption set, and Caffe's HDF5Data layout (float32 /data, float /label).
# Written to $W/sets/, then encoded for h5gen (tests/fuzz/h5gen.h) into the corpus.
mkdir -p "$W/sets" "$W/ckpt"
P="./dltrain-prep -q --threads 1"
$P --format cifar10 --size 4x4 --chunk 1 "$C/cifar/cifar10_2rec.bin" "$W/sets/raw_chunk1.h5"
$P --format cifar10 --size 6x5 --gray "$C/cifar/cifar10_2rec.bin" "$W/sets/raw_gray.h5"
$P --format cifar10 --size 8x8 --encoding jpeg --quality 50 "$C/cifar/cifar10_2rec.bin" "$W/sets/jpeg.h5"
# A caption set: 2 images, 3 captions, the caption tables and /vocab.
mkdir -p "$W/cap"
cp "$C/jpeg/gray8.jpg" "$C/jpeg/q10.jpg" "$W/cap/"
printf '%s' '{"images": [{"id": 5, "file_name": "gray8.jpg"}, {"id": 9, "file_name": "q10.jpg"}],
 "annotations": [{"image_id": 5, "caption": "a bag above a coat"}, {"image_id": 9, "caption": "two bags"},
                 {"image_id": 5, "caption": "a coat below a bag"}]}' >"$W/cap/c.json"
$P --format captions --annotations "$W/cap/c.json" --images "$W/cap" --gray --size 4x4 --min-count 1 \
    "$W/sets/captions.h5"
# dltrain-prep's chunks are sized for real sets (a label chunk alone is
# 64 KiB): copy each file with chunks no larger than the data, the
# attributes' types kept (h5gen encodes a chunk dimension up to 255).
$PY - "$W"/sets/*.h5 <<'PYEOF'
import sys, h5py
for path in sys.argv[1:]:
    tmp = path + ".small"
    with h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
        def attrs(s, d):
            for k in s.attrs:
                d.attrs.create(k, s.attrs[k], dtype=s.attrs.get_id(k).dtype)
        attrs(src, dst)
        for name, ds in src.items():
            chunks = tuple(min(c, n) for c, n in zip(ds.chunks, ds.shape)) if ds.chunks else None
            out = dst.create_dataset(name, data=ds[()], dtype=ds.dtype, chunks=chunks)
            attrs(ds, out)
    import os
    os.replace(tmp, path)
PYEOF
$PY - "$W/sets/caffe_hdf5data.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["data"] = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4) / 96
    f["label"] = np.array([0, 1], dtype=np.float32)
PYEOF

# Checkpoints of tests/fuzz/ckpt_net.prototxt (1x8x8 input): SGD and Adam
# (with /history2), two iterations each on four 8x8 IDX images.
./dltrain-prep -q --format idx "$W/images.idx" "$W/labels.idx" "$W/train.h5"
cp tests/fuzz/ckpt_net.prototxt "$W/net.prototxt"
for solver in SGD Adam; do
    printf 'net: "net.prototxt"\nbase_lr: 0.01\nmax_iter: 2\nsnapshot: 2\ntype: "%s"\nlr_policy: "fixed"\n' \
        "$solver" > "$W/solver.prototxt"
    ./dltrain-mpi --solver "$W/solver.prototxt" --train "$W/train.h5" --run-dir "$W/run_$solver" \
        --sample-interval 0 > "$W/run_$solver.log" 2>&1 || { cat "$W/run_$solver.log"; exit 1; }
    cp "$(ls "$W/run_$solver"/checkpoints/iter_*.h5 | tail -1)" "$W/ckpt/$(echo "$solver" | tr A-Z a-z).h5"
done
for f in "$W"/sets/*.h5; do $PY tests/fuzz/h5gen.py "$f" "$C/dataset/$(basename "$f" .h5).h5gen"; done
for f in "$W"/ckpt/*.h5; do $PY tests/fuzz/h5gen.py "$f" "$C/ckpt/$(basename "$f" .h5).h5gen"; done
ls -l $C/*/ | awk '{s += $5} END {print "make_seeds.sh: corpus " s " bytes"}'
