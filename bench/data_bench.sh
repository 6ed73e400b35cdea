#!/bin/sh
# data_bench.sh - issue 4's data figures in one run (about 1-2 min on 2 cores):
# loader images/s (raw and JPEG, 32x32 and 256->224 crop) against what
# cifar10_quick and GoogLeNet training consume here; JPEG decode per core vs
# tjbench on the same file; HDF5 vs read() (warm and cold cache);
# dltrain-prep images/s on 1 and 2 threads and np=2, with peak RSS.
# Run from the build directory after `make bench`. Last line: OK or FAILED.
# usage: bench/data_bench.sh [WORKDIR]   (default: a fresh temporary folder)
set -eu
B=$(pwd)
PY=${PYTHON_H5PY:-/usr/bin/python3}
W=${1:-$(mktemp -d "${TMPDIR:-/tmp}/data_bench.XXXXXX")}
mkdir -p "$W"
SECS=${DATA_BENCH_SECONDS:-2}
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
status=OK
fail() { status=FAILED; echo "# FAILED: $*"; }

# -- inputs: smooth images with noise (photo-like entropy), 10 classes --
"$PY" - "$W" <<'EOF'
import os, sys
import numpy as np
from PIL import Image
w = sys.argv[1]
rng = np.random.RandomState(4)
def gen(root, n, wd, ht):
    yy, xx = np.mgrid[0:ht, 0:wd]
    for i in range(n):
        d = os.path.join(w, root, "c%d" % (i % 10))
        os.makedirs(d, exist_ok=True)
        base = np.stack([(xx * (1 + i % 3) + yy * (i % 5)) % 256, (yy * 2 + i) % 256,
                         (xx + yy + 7 * i) % 256], -1).astype(np.float32)
        img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(os.path.join(d, "%05d.jpg" % i), quality=90)
gen("src32", 2000, 32, 32)
gen("src256", 480, 500, 375)   # ImageNet-like 500x375 sources, prep resizes to 256x256
EOF

prep() { # NAME TIMEV_FILE ARGS... -> seconds on stdout
    name=$1; tv=$2; shift 2
    t0=$(date +%s.%N)
    /usr/bin/time -v -o "$tv" "$@" -q --progress lines >/dev/null
    echo "$(date +%s.%N) $t0" | awk '{printf "%.2f", $1 - $2}'
}
rss() { awk -F': ' '/Maximum resident/ {printf "%.0f", $2 / 1024}' "$1"; }

P="$B/dltrain-prep --format folder"
prep x "$W/tv0" $P --size 32x32 "$W/src32" "$W/raw32.h5" >/dev/null
prep x "$W/tv0" $P --size 32x32 --encoding jpeg "$W/src32" "$W/jpeg32.h5" >/dev/null
prep x "$W/tv0" $P --size 256x256 --resize crop "$W/src256" "$W/raw256.h5" >/dev/null
# prep figures: the JPEG folder of 500x375 sources -> 256x256 JPEG storage
t1=$(prep p1 "$W/tv1" $P --threads 1 --size 256x256 --resize crop --encoding jpeg "$W/src256" "$W/jpeg256.h5")
t2=$(prep p2 "$W/tv2" $P --threads 2 --size 256x256 --resize crop --encoding jpeg "$W/src256" "$W/jpeg256_t2.h5")
tm=$(prep pm "$W/tvm" mpirun --oversubscribe -np 2 $P --threads 1 --size 256x256 --resize crop \
     --encoding jpeg "$W/src256" "$W/jpeg256_np2.h5" || echo fail)
n256=480

# -- training consumption: a few dltrain-mpi iterations on this CPU --
consume() { # NET DATA.h5 CROP ITERS -> images/s of the last logged iteration
    d="$W/run_$1"; mkdir -p "$d"
    sed "s/^display:.*/display: 1/; s/^test_interval:.*/test_interval: 100000000/" \
        "$B/nets/$1_solver.prototxt" >"$d/solver.prototxt"
    # both data layers get Caffe's crop_size (random at TRAIN, centred at TEST)
    awk -v crop="$3" 'crop > 0 { sub(/transform_param \{/, "transform_param { crop_size: " crop) } { print }' \
        "$B/nets/$1_train_val.prototxt" >"$d/$1_train_val.prototxt"
    "$B/dltrain-mpi" --solver "$d/solver.prototxt" --train "$2" --run-dir "$d/run" \
        --max-iter "$4" --sample-interval 0 >/dev/null 2>&1 || { echo 0; return; }
    tail -n 1 "$d/run/metrics.jsonl" | sed -n 's/.*"images_per_s": *\([0-9.]*\).*/\1/p'
}
c_quick=$(consume cifar10_quick "$W/raw32.h5" 0 6)
c_goog=$(consume googlenet "$W/raw256.h5" 224 3)

# -- loader --
L="$B/bench/bench_loader"
raw32=$($L loader "$W/raw32.h5" 100 0 2 "$SECS")
jpg32=$($L loader "$W/jpeg32.h5" 100 0 2 "$SECS")
raw224=$($L loader "$W/raw256.h5" 32 224 2 "$SECS")
jpg224=$($L loader "$W/jpeg256.h5" 32 224 2 "$SECS")
# streamed (a 16 MB budget: chunk reads, 4 MB shuffle buffer, one decoding thread)
raw32s=$($L loader "$W/raw32.h5" 100 0 2 "$SECS" 16)
jpg224s=$($L loader "$W/jpeg256.h5" 32 224 2 "$SECS" 16)

# -- decode per core: our decoder vs tjbench on one stored JPEG (256x256) --
"$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r'); open(sys.argv[2],'wb').write(bytes(f['jpeg'][0]))" \
    "$W/jpeg256.h5" "$W/sample.jpg"
ours=$($L decode "$W/sample.jpg" 1)
if command -v tjbench >/dev/null; then
    tj=$(cd "$W" && tjbench sample.jpg -benchtime 1 -warmup 0.2 2>&1 |
         awk '/Decompress/ {d=1} d && /Throughput/ {print $2; exit}')
else
    tj=""; fail "tjbench missing (apt-get install libjpeg-turbo-progs)"
fi

# -- HDF5 vs read() of the same bytes (raw256.h5) --
# best of 3 alternating runs each: the machine is shared, the disk too
cp "$W/raw256.h5" "$W/io.h5"
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
warm_plain=0 warm_h5=0 cold_plain=0 cold_h5=0
cat "$W/io.h5" >/dev/null
for i in 1 2 3; do
    warm_plain=$(best "$warm_plain" "$($L plain "$W/io.h5")")
    warm_h5=$(best "$warm_h5" "$($L hdf5 "$W/io.h5")")
done
for i in 1 2 3; do
    $L evict "$W/io.h5" >/dev/null; cold_plain=$(best "$cold_plain" "$($L plain "$W/io.h5")")
    $L evict "$W/io.h5" >/dev/null; cold_h5=$(best "$cold_h5" "$($L hdf5 "$W/io.h5")")
done
cat "$W/io.h5" >/dev/null

f() { printf "%.0f" "${1:-0}"; }
ratio() { echo "$1 $2" | awk '{ if ($2 > 0) printf "%.2f", $1 / $2; else print "-" }'; }
ge() { echo "$1 $2" | awk '{ exit !($1 != "-" && $1 >= $2) }'; }
row() { printf '   %-28s %12s %12s %8s %8s\n' "$@"; }

echo "# data bench: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min), workdir $W"
printf '#  %-28s %12s %12s %8s %8s\n' "measure" "value" "reference" "ratio" "target"
printf '#  %-28s %12s %12s %8s %8s\n' "" "" "" "(x)" "(x)"
r=$(ratio "$raw32" "$c_quick"); row "loader raw 32x32 b100" "$(f "$raw32") im/s" "$(f "$c_quick") im/s" "$r" ">=10"
ge "$r" 10 || fail "raw 32x32 loader < 10x cifar10_quick training"
r=$(ratio "$jpg32" "$c_quick"); row "loader jpeg 32x32 b100" "$(f "$jpg32") im/s" "$(f "$c_quick") im/s" "$r" "-"
r=$(ratio "$raw224" "$c_goog"); row "loader raw 256->224 b32" "$(f "$raw224") im/s" "$(f "$c_goog") im/s" "$r" ">=10"
ge "$r" 10 || fail "raw 256->224 loader < 10x GoogLeNet training"
r=$(ratio "$jpg224" "$c_goog"); row "loader jpeg 256->224 b32" "$(f "$jpg224") im/s" "$(f "$c_goog") im/s" "$r" "-"
r=$(ratio "$raw32s" "$c_quick"); row "streamed raw 32x32 b100" "$(f "$raw32s") im/s" "$(f "$c_quick") im/s" "$r" "-"
r=$(ratio "$jpg224s" "$c_goog"); row "streamed jpeg 256->224 b32" "$(f "$jpg224s") im/s" "$(f "$c_goog") im/s" "$r" "-"
r=$(ratio "$ours" "${tj:-0}"); row "decode 1 core vs tjbench" "$(f "$ours") Mpx/s" "$(f "${tj:-0}") Mpx/s" "$r" ">=0.9"
ge "$r" 0.9 || fail "JPEG decode per core < 0.9x tjbench"
r=$(ratio "$warm_h5" "$warm_plain"); row "hdf5 vs read() warm" "$(f "$warm_h5") MB/s" "$(f "$warm_plain") MB/s" "$r" ">=0.8"
ge "$r" 0.8 || fail "HDF5 warm read < 0.8x read()"
r=$(ratio "$cold_h5" "$cold_plain"); row "hdf5 vs read() cold" "$(f "$cold_h5") MB/s" "$(f "$cold_plain") MB/s" "$r" ">=0.8"
ge "$r" 0.8 || fail "HDF5 cold read < 0.8x read()"
for v in "1 thread:$t1:tv1" "2 threads:$t2:tv2" "np=2 x 1 thread:$tm:tvm"; do
    name=${v%%:*}; rest=${v#*:}; t=${rest%%:*}; tv=${rest#*:}
    if [ "$t" = fail ] || [ ! -s "$W/$tv" ]; then row "prep jpeg 500x375->256 $name" failed - - -; fail "prep $name"; continue; fi
    row "prep $name" "$(echo "$n256 $t" | awk '{printf "%.0f", $1/$2}') im/s" "$(rss "$W/$tv") MB rss" - -
done
if [ -f "$W/jpeg256_np2.h5" ]; then
    "$PY" -c "import h5py,sys,numpy as np; a,b=(h5py.File(p,'r') for p in sys.argv[1:]); sys.exit(0 if all(np.array_equal(a[k][()],b[k][()]) for k in ('label','mean')) and all(bytes(x)==bytes(y) for x,y in zip(a['jpeg'],b['jpeg'])) else 1)" \
        "$W/jpeg256.h5" "$W/jpeg256_np2.h5" || fail "np=2 prep output differs from the 1-rank output"
fi
echo "# consumption: dltrain-mpi training images/s on this CPU, 1 rank (cifar10_quick b100, GoogLeNet b32 crop 224); peak RSS of the np=2 run is the largest process (/usr/bin/time -v follows mpirun's children)"
echo "$status"
[ "$status" = OK ]
