#!/bin/bash
# gpu_check_run.sh - on a GPU node: unpack a gpu_check_pack.sh archive and
# run the GPU tests (each layer and every nets/ network against the CPU,
# the solvers, NCCL, training with resume) and the GPU benchmark (images/s
# of dltrain and of PyTorch on CUDA for the same nets), logs in LOG_DIR.
# The packed Open MPI runs from the archive (its plugins and help files
# through OPAL_* / PMIX_* variables), whatever MPI the node has.
#
# usage: gpu_check_run.sh ARCHIVE.tar.xz LOG_DIR [tests|bench|all]
#   BENCH="net:batch ..." chooses the benchmark nets; PYTHON a Python with
#   h5py and torch (default python3).
set -u
ARCHIVE=$(realpath "$1") LOGS=$(realpath -m "$2") STAGE=${3:-all}
PY=${PYTHON:-python3}
T0=$(date +%s)
el() { echo "[$(($(date +%s) - T0)) s] $*"; }
D=$(mktemp -d)
mkdir -p "$LOGS" && tar -C "$D" -xJf "$ARCHIVE" || exit 1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
# The node's CUDA libraries, wherever its image keeps them (toolkit, wheels).
cudalibs=$(for l in libcudnn.so.9 libcublas.so.13 libcudart.so.13 libnccl.so.2 libcublasLt.so.13; do
    find / -xdev \( -path /proc -o -path /sys -o -path "$D" \) -prune -o -name "$l" -print 2> /dev/null | head -3
done | xargs -r -n1 dirname | awk '!s[$0]++' | paste -sd:)
echo "CUDA libraries: $cudalibs"
R=$D/root O=$D/root/usr/lib/x86_64-linux-gnu/openmpi
export LD_LIBRARY_PATH=$D/lib:$D/mpilib:$cudalibs PATH=$R/usr/bin:$PATH
export OPAL_PREFIX=$R/usr OPAL_EXEC_PREFIX=$R/usr OPAL_BINDIR=$R/usr/bin OPAL_LIBDIR=$O/lib \
    OPAL_PKGLIBDIR=$O/lib/openmpi3 OPAL_DATAROOTDIR=$R/usr/share OPAL_DATADIR=$R/usr/share \
    OPAL_PKGDATADIR=$R/usr/share/openmpi OPAL_SYSCONFDIR=$R/etc/openmpi
export PMIX_INSTALL_PREFIX=$R/usr/lib/x86_64-linux-gnu/pmix2 \
    PMIX_MCA_mca_base_component_path=$R/usr/lib/x86_64-linux-gnu/pmix2/lib/pmix
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader OMPI_MCA_pml=ob1 \
    OMPI_MCA_mtl='^ofi,psm,psm2' OMPI_MCA_osc='^ucx' OMPI_MCA_btl_vader_single_copy_mechanism=none
# Python (h5py, torch) keeps the node's own libraries.
printf '#!/bin/sh\nunset LD_LIBRARY_PATH\nexec %s "$@"\n' "$PY" > "$D/py" && chmod +x "$D/py"
export top_builddir=$D/build top_srcdir=$D/build PYTHON_H5PY=$D/py MPIRUN=$R/usr/bin/orterun
cd "$D/build" || exit 1
ldd dltrain-mpi | grep "not found"
save() { tar -czf "$LOGS/logs.tgz" -C "$LOGS" --exclude logs.tgz . 2> /dev/null; }
el "start"
if [ "$STAGE" != bench ]; then
    for t in test_gpu_layers test_gpu_layers_more test_gpu_nets; do
        timeout 300 "tests/$t" > "$LOGS/$t.tap" 2>&1
        echo "exit $?" >> "$LOGS/$t.tap"
        el "$t: $(grep -c '^ok' "$LOGS/$t.tap") ok, $(grep -c '^not ok' "$LOGS/$t.tap") not ok; $(tail -1 "$LOGS/$t.tap")"
        grep -E '^not ok|^#' "$LOGS/$t.tap" | head -12
    done
    timeout 400 bash tests/test_gpu_train.sh > "$LOGS/test_gpu_train.tap" 2>&1
    echo "exit $?" >> "$LOGS/test_gpu_train.tap"
    el "test_gpu_train: $(grep -c '^ok' "$LOGS/test_gpu_train.tap") ok, $(grep -c '^not ok' "$LOGS/test_gpu_train.tap") not ok"
    grep -E '^not ok' -A6 "$LOGS/test_gpu_train.tap" | head -30
    mkdir -p "$LOGS/train_runs" && cp tests/tmp/test_gpu_train/*.out "$LOGS/train_runs/" 2> /dev/null
    save
fi
if [ "$STAGE" != tests ]; then
    printf '%-14s %5s | %10s %10s | %10s %10s | %6s %6s\n' net batch "dlt train" "dlt infer" "torch train" \
        "torch infer" train infer
    for spec in ${BENCH:-lenet_fashion:64 cifar10_quick:100 alexnet:128 googlenet:64 resnet50:64}; do
        net=${spec%%:*} b=${spec#*:} o=$LOGS/bench_$net-$b
        timeout 90 bench/bench_net --device gpu --batch "$b" --warmup 5 --min-time 2 --json \
            "nets/${net}_train_val.prototxt" > "$o.dlt.json" 2> "$o.dlt.err"
        timeout 120 "$D/py" bench/torch_net.py "nets/${net}_train_val.prototxt" --device cuda --batch "$b" \
            --warmup 5 --min-time 2 --json > "$o.torch.json" 2> "$o.torch.err"
        "$D/py" - "$net" "$b" "$o.dlt.json" "$o.torch.json" << 'PY'
import json, sys
def rd(p):
    try:
        return json.loads(open(p).read().strip().splitlines()[-1])
    except Exception:
        return {}
d, t = rd(sys.argv[3]), rd(sys.argv[4])
v = lambda r, k: r.get(k, float("nan"))
ratio = lambda k: v(d, k) / v(t, k) if t.get(k) else float("nan")
print("%-14s %5s | %10.1f %10.1f | %10.1f %10.1f | %6.2f %6.2f" % (sys.argv[1], sys.argv[2],
      v(d, "train_img_s"), v(d, "infer_img_s"), v(t, "train_img_s"), v(t, "infer_img_s"),
      ratio("train_img_s"), ratio("infer_img_s")))
PY
        grep -h "error" "$o.dlt.err" "$o.torch.err" | head -2
    done
    el "bench done"
    save
fi
rm -rf "$D"
