#!/bin/bash
# bench_scaling.sh - weak scaling of training on this machine (LeNet by
# default; --net cifar10_quick or googlenet on generated data of their shape):
# np=1 with 2 BLAS threads vs np=2 with 1 thread each (same batch per rank),
# images/s, efficiency = (images/s at np=2) / (2 x images/s per rank-thread
# at np=1 scaled: np=1 uses both cores, so efficiency = ips2 / ips1), and
# exposed communication = allreduce wait / step time. With --netns RATE
# (root) it also runs np=2 across two namespace hosts shaped to RATE and
# writes bench/scaling_netns.json for scaling_model.py --validate.
# Usage (from the build directory):
#   bench/bench_scaling.sh [--iters N] [--net lenet_fashion|cifar10_quick|googlenet] [--batch B]
#                          [--allreduce overlap|thread|blocking] [--netns 1gbit]
set -u
HERE=$(cd "$(dirname "$0")" && pwd); TOP=$(cd "$HERE/.." && pwd)
ITERS=60 NETNS="" NET=lenet_fashion BATCH="" MODE=overlap
while [ $# -gt 0 ]; do
    case $1 in
    --iters) ITERS=$2; shift 2 ;;
    --netns) NETNS=$2; shift 2 ;;
    --net) NET=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --allreduce) MODE=$2; shift 2 ;;
    *) echo "unknown $1"; exit 2 ;;
    esac
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
W=$(mktemp -d)
case $NET in
lenet_fashion)
    TRAIN_H5=${TRAIN_H5:-$TOP/tests/tmp/fmnist/train.h5}
    [ -f "$TRAIN_H5" ] || { echo "needs $TRAIN_H5 (run make check TESTS=tests/test_mpi_equiv.sh once, or set TRAIN_H5)"; exit 1; } ;;
cifar10_quick|googlenet)
    # Random bytes of the net's input shape (Caffe float layout): the speed does not depend on the values.
    shape=$([ "$NET" = googlenet ] && echo "3, 224, 224" || echo "3, 32, 32")
    TRAIN_H5=$W/train.h5
    /usr/bin/python3 -c "import h5py, numpy as np; r = np.random.RandomState(0); f = h5py.File('$TRAIN_H5', 'w'); \
f['data'] = (r.rand(256, $shape) * 255).astype(np.float32); f['label'] = r.randint(0, 10, (256, 1)).astype(np.float32)" ||
        exit 1 ;;
*) echo "unknown net $NET"; exit 2 ;;
esac
cp "$TOP/nets/${NET}_train_val.prototxt" "$W/net.prototxt"
[ -n "$BATCH" ] && sed -i "0,/batch_size: [0-9]*/s//batch_size: $BATCH/" "$W/net.prototxt"
BATCH=$(grep -m1 -o 'batch_size: [0-9]*' "$W/net.prototxt" | grep -o '[0-9]*$')
sed -e 's|^net:.*|net: "'"$W"'/net.prototxt"|' -e 's/^snapshot:.*/snapshot: 0/' -e 's/^test_interval:.*/test_interval: 0/' \
    -e "s/^display:.*/display: $ITERS/" "$TOP/nets/${NET}_solver.prototxt" > "$W/solver.prototxt"
# stats FILE: "images/s fwd bwd allreduce update" from the last display line
num() { printf "%.6f" "$(echo "$1" | bc -l)"; }
stats() { grep "^iter" "$1" | tail -1 | sed -E 's/.* ([0-9.]+) images\/s.*fwd ([0-9.]+) bwd ([0-9.]+) allreduce ([0-9.]+) update ([0-9.]+).*/\1 \2 \3 \4 \5/'; }
OPENBLAS_NUM_THREADS=2 "$TOP/dltrain-mpi" --solver "$W/solver.prototxt" --train "$TRAIN_H5" --run-dir "$W/np1" --max-iter $ITERS > "$W/np1.txt" 2>&1
OPENBLAS_NUM_THREADS=1 mpirun -np 2 --bind-to core -x OPENBLAS_NUM_THREADS "$TOP/dltrain-mpi" --solver "$W/solver.prototxt" \
    --train "$TRAIN_H5" --run-dir "$W/np2" --max-iter $ITERS --allreduce "$MODE" > "$W/np2.txt" 2>&1
read -r i1 f1 b1 a1 u1 <<< "$(stats "$W/np1.txt")"
read -r i2 f2 b2 a2 u2 <<< "$(stats "$W/np2.txt")"
printf "%-28s %10s %8s %8s %10s %8s\n" "$NET, batch $BATCH/rank" "images/s" "fwd ms" "bwd ms" "allreduce" "exposed"
printf "%-28s %10s %8s %8s %10s %8s\n" "np=1 x 2 threads" "$i1" "$f1" "$b1" "$a1" "-"
printf "%-28s %10s %8s %8s %10s %7.1f%%\n" "np=2 x 1 thread, $MODE" "$i2" "$f2" "$b2" "$a2" \
    "$(echo "100 * $a2 / ($f2 + $b2 + $a2 + $u2)" | bc -l)"
printf "weak-scaling efficiency (np=2 images/s / np=1 images/s, same 2 cores): %.3f\n" "$(echo "$i2 / $i1" | bc -l)"
if [ -n "$NETNS" ]; then
    export NS_PREFIX=dsc$$
    "$HERE/netns_cluster.sh" up 2 "$NETNS" || exit 1
    OPENBLAS_NUM_THREADS=1 "$HERE/netns_cluster.sh" mpirun 2 "$TOP/dltrain-mpi" --solver "$W/solver.prototxt" \
        --train "$TRAIN_H5" --run-dir "$W/ns" --max-iter $ITERS --reducer mpi --allreduce blocking > "$W/ns.txt" 2>&1
    "$HERE/netns_cluster.sh" down
    read -r i3 f3 b3 a3 u3 <<< "$(stats "$W/ns.txt")"
    rate_bps=$(echo "$NETNS" | sed -E 's/gbit/*1000000000/; s/mbit/*1000000/' | bc)
    printf "%-28s %10s %8s %8s %10s\n" "np=2, 2 hosts, $NETNS" "$i3" "$f3" "$b3" "$a3"
    cat > "$HERE/scaling_netns.json" <<JSON
{"ranks": 2, "grad_bytes": 1724320, "bucket_bytes": 4194304, "overlap": 0.0,
 "alpha_s": 0.0001, "bandwidth_Bps": $(num "$rate_bps / 8 * 0.957"),
 "t_compute_s": $(num "($f3 + $b3 + $u3) / 1000"), "t_allreduce_s": $(num "$a3 / 1000"),
 "t_iter_s": $(num "($f3 + $b3 + $a3 + $u3) / 1000")}
JSON
    /usr/bin/python3 "$HERE/scaling_model.py" --validate "$HERE/scaling_netns.json"
fi
rm -rf "$W"
