#!/bin/bash
# gpu_bench.sh - GPU throughput of dltrain on a GPU node: images/s per GPU
# for each given net on 1 GPU and on NP GPUs (one rank per GPU), the
# exposed communication fraction (the NCCL wait after the backward kernels
# have finished / step time; buckets start during backward), and NCCL bus
# bandwidth from nccl-tests' all_reduce_perf when it is on PATH.
# NOT RUN YET: written on a machine without a GPU (see README, GPU backend).
# PYTHON: the Python for the summaries (default /usr/bin/python3; json only).
#
# usage: bench/gpu_bench.sh --train TRAIN.h5 [--np N] [--iters N]
#            NAME=SOLVER.prototxt [NAME=SOLVER.prototxt ...]
#   e.g. bench/gpu_bench.sh --train imagenet_train.h5 --np 8 \
#            googlenet=nets/googlenet_solver.prototxt resnet50=nets/resnet50_solver.prototxt
# Needs a CUDA build (configure --with-cuda). Prints one table; last line
# OK, or FAILED when a run failed.
set -u
cd "$(dirname "$0")/.."
TRAIN= NP=$(nvidia-smi -L 2>/dev/null | wc -l) ITERS=60 NETS=()
while [ $# -gt 0 ]; do
    case "$1" in
    --train) TRAIN=$2; shift 2 ;;
    --np) NP=$2; shift 2 ;;
    --iters) ITERS=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *=*) NETS+=("$1"); shift ;;
    *) echo "gpu_bench.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[ -n "$TRAIN" ] && [ ${#NETS[@]} -gt 0 ] || { sed -n '9,12p' "$0" >&2; exit 2; }
[ "$NP" -ge 1 ] 2>/dev/null || { echo "gpu_bench.sh: no GPU found (nvidia-smi -L); pass --np" >&2; exit 2; }
grep -q "^#define HAVE_CUDA 1" config.h 2>/dev/null || { echo "gpu_bench.sh: build with ./configure --with-cuda first" >&2; exit 2; }
OUT=bench/out/gpu; mkdir -p "$OUT"
status=OK

# Mean of the train records after the first (warm-up) one: images/s and the exposed fraction.
summarize() {
    "${PYTHON:-/usr/bin/python3}" - "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"kind":"train"' in l.replace(" ", "")][1:]
if not rows: print("nan nan"); sys.exit()
ips = sum(r["images_per_s"] for r in rows) / len(rows)
step = sum(r["t_data"] + r["t_forward"] + r["t_backward"] + r["t_allreduce"] + r["t_update"] for r in rows)
comm = sum(r["t_allreduce"] for r in rows)
print("%.1f %.3f" % (ips, comm / step if step else float("nan")))
PY
}

printf '%-12s %5s %14s %14s %10s\n' net gpus "images/s" "images/s/GPU" "exposed"
printf '%-12s %5s %14s %14s %10s\n' "" "" "(total)" "" "comm frac"
for spec in "${NETS[@]}"; do
    name=${spec%%=*} solver=${spec#*=}
    for np in 1 "$NP"; do
        run="$OUT/$name-np$np"; rm -rf "$run"
        if mpirun -np "$np" ./dltrain-mpi --device gpu --solver "$solver" --train "$TRAIN" \
            --run-dir "$run" --max-iter "$ITERS" > "$run.log" 2>&1; then
            read -r ips frac < <(summarize "$run/metrics.jsonl")
            per=$("${PYTHON:-/usr/bin/python3}" -c "print('%.1f' % ($ips / $np))")
        else
            ips=failed per=- frac=-; status=FAILED
        fi
        printf '%-12s %5d %14s %14s %10s\n' "$name" "$np" "$ips" "$per" "$frac"
        [ "$np" = 1 ] && [ "$NP" = 1 ] && break
    done
done

# NCCL bus bandwidth (busbw = algbw x 2(n-1)/n), 256 MB allreduce, from nccl-tests.
if command -v all_reduce_perf > /dev/null && [ "$NP" -gt 1 ]; then
    bw=$(all_reduce_perf -b 256M -e 256M -g "$NP" 2>&1 | awk '/Avg bus bandwidth/ {print $NF}')
    printf '%-12s %5d %14s GB/s (NCCL all_reduce_perf, 256 MB)\n' "nccl-busbw" "$NP" "${bw:-failed}"
else
    printf '%-12s %5s %14s (nccl-tests all_reduce_perf not on PATH, or 1 GPU)\n' "nccl-busbw" "$NP" "n/a"
fi
echo "$status"
[ "$status" = OK ]
