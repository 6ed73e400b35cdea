#!/bin/bash
# gpu_check_run.sh - on a GPU node: unpack a gpu_check_pack.sh archive and
# run every GPU check in one go, logs in LOG_DIR: a smoke run of the packed
# trainer (CPU, then GPU), the GPU test programs (each layer and every
# nets/ network against the CPU, the solvers, NCCL) and the GPU training
# test (GPU vs CPU, resume, precisions), the throughput of dltrain against
# PyTorch on CUDA (GoogLeNet b128 and ResNet-50 b256 at 224x224 in fp32,
# tf32 and amp: images/s, GPU memory, % of the GPU's peak), and
# bench/gpu_bench.sh (dltrain-mpi itself, loader included, on a synthetic
# 224x224 set). The packed Open MPI runs from the archive (its plugins and
# help files through OPAL_* / PMIX_* variables), whatever MPI the node has.
# On a node without a GPU only the CPU smoke run does anything (the way to
# test the archive on the build machine); the GPU stages say they skip.
#
# usage: gpu_check_run.sh ARCHIVE.tar.xz LOG_DIR [smoke|tests|compare|bench|all|diverge]...
#   SAVE_TGZ=FILE: after each stage, LOG_DIR as one .tgz there (default
#   LOG_DIR/logs.tgz; point it at a place that survives a timeout).
#   COMPARE="net:batch ..." (default googlenet:128 resnet50:256),
#   PRECISIONS="fp32 tf32 amp" (default), BENCH_NETS="googlenet resnet50",
#   BENCH_ITERS=20; PYTHON: a Python with h5py and torch (default python3).
#   DEADLINE_S=540: no step starts after this many seconds, and each one's
#   timeout is cut to what is left, so the logs are saved before a caller's
#   10-minute limit.
set -u
ARCHIVE=$(realpath "$1") LOGS=$(realpath -m "$2")
shift 2
STAGES=" ${*:-all} "
want() { [[ $STAGES == *" $1 "* || $STAGES == *" all "* ]]; }
PY=${PYTHON:-python3}
SAVE_TGZ=$(realpath -m "${SAVE_TGZ:-$LOGS/logs.tgz}")
T0=$(date +%s)
el() { echo "[$(($(date +%s) - T0)) s] $*"; }
# tmo S: S seconds, or what is left before DEADLINE_S if less (at least 1)
tmo() {
    local left=$((${DEADLINE_S:-540} - ($(date +%s) - T0)))
    [ $left -lt 1 ] && left=1 # timeout 0 would mean none
    echo $((left < $1 ? left : $1))
}
# due NAME S: 0 when at least S seconds are left for step NAME, else says it is skipped
due() { [ "$(tmo "$2")" -ge "$2" ] && return 0; el "deadline: $1 skipped"; return 1; }
D=$(mktemp -d)
mkdir -p "$LOGS" && tar -C "$D" -xJf "$ARCHIVE" || exit 1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee "$LOGS/gpu.txt"
NGPU=$(nvidia-smi -L 2> /dev/null | grep -c '^GPU ')
# The node's CUDA libraries, wherever its image keeps them (toolkit, wheels).
cudalibs=$(for l in libcudnn.so.9 libcublas.so.13 libcudart.so.13 libnccl.so.2 libcublasLt.so.13; do
    find / -xdev \( -path /proc -o -path /sys -o -path "$D" \) -prune -o -name "$l" -print 2> /dev/null | head -3
done | xargs -r -n1 dirname | awk '!s[$0]++' | paste -sd:)
echo "CUDA libraries: $cudalibs"
R=$D/root O=$D/root/usr/lib/x86_64-linux-gnu/openmpi
# mpirun (bench/gpu_bench.sh calls it by name) is the packed orterun.
mkdir -p "$D/bin" && ln -sf "$R/usr/bin/orterun" "$D/bin/mpirun"
export LD_LIBRARY_PATH=$D/lib:$D/mpilib:$cudalibs PATH=$D/bin:$R/usr/bin:$PATH
export OPAL_PREFIX=$R/usr OPAL_EXEC_PREFIX=$R/usr OPAL_BINDIR=$R/usr/bin OPAL_LIBDIR=$O/lib \
    OPAL_PKGLIBDIR=$O/lib/openmpi3 OPAL_DATAROOTDIR=$R/usr/share OPAL_DATADIR=$R/usr/share \
    OPAL_PKGDATADIR=$R/usr/share/openmpi OPAL_SYSCONFDIR=$R/etc/openmpi
export PMIX_INSTALL_PREFIX=$R/usr/lib/x86_64-linux-gnu/pmix2 \
    PMIX_MCA_mca_base_component_path=$R/usr/lib/x86_64-linux-gnu/pmix2/lib/pmix
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader OMPI_MCA_pml=ob1 \
    OMPI_MCA_mtl='^ofi,psm,psm2' OMPI_MCA_osc='^ucx' OMPI_MCA_btl_vader_single_copy_mechanism=none
# Python (h5py, torch) keeps the node's own libraries.
printf '#!/bin/sh\nunset LD_LIBRARY_PATH\nexec %s "$@"\n' "$PY" > "$D/py" && chmod +x "$D/py"
export top_builddir=$D/build top_srcdir=$D/build PYTHON_H5PY=$D/py PYTHON=$D/py MPIRUN=$R/usr/bin/orterun
cd "$D/build" || exit 1
ldd dltrain-mpi | grep "not found"
mkdir -p "$(dirname "$SAVE_TGZ")"
save() { tar -czf "$SAVE_TGZ.tmp" -C "$LOGS" --exclude "$(basename "$SAVE_TGZ")" . 2> /dev/null &&
    mv "$SAVE_TGZ.tmp" "$SAVE_TGZ"; }
# tap FILE: "N ok, M not ok, K skipped" of a TAP log
tap() { echo "$(grep -c '^ok' "$1") ok, $(grep -c '^not ok' "$1") not ok, $(grep -c '# SKIP' "$1") skipped"; }
el "start: $NGPU GPU(s)"

# ---- smoke: the packed trainer and Open MPI, 5 iterations, CPU then GPU ----
if want smoke; then
    "$D/py" - "$D/smoke" <<'PY' > "$LOGS/smoke.txt" 2>&1
import os, sys, h5py, numpy as np
os.makedirs(sys.argv[1], exist_ok=True)
r = np.random.RandomState(1)
with h5py.File(sys.argv[1] + "/train.h5", "w") as f:   # Caffe's HDF5 layout
    f["data"] = (r.rand(256, 1, 28, 28) * 255).astype(np.float32)
    f["label"] = r.randint(0, 10, (256, 1)).astype(np.float32)
PY
    sed -e 's/^display:.*/display: 1/' -e 's/^snapshot:.*/snapshot: 5/' -e 's/^test_interval:.*/test_interval: 0/' \
        nets/lenet_fashion_solver.prototxt > "$D/smoke/solver.prototxt"
    cp nets/lenet_fashion_train_val.prototxt "$D/smoke/"
    devs="cpu"; [ "$NGPU" -ge 1 ] && devs="cpu gpu"
    for dev in $devs; do
        timeout "$(tmo 120)" "$MPIRUN" -np 1 ./dltrain-mpi --device $dev --solver "$D/smoke/solver.prototxt" \
            --train "$D/smoke/train.h5" --run-dir "$D/smoke/run-$dev" --max-iter 5 --sample-interval 0 \
            >> "$LOGS/smoke.txt" 2>&1
        st=$?
        el "smoke --device $dev: exit $st; $(grep -c '^iter ' "$LOGS/smoke.txt") progress lines so far"
    done
    grep -h "^placement:\|^device:\|error" "$LOGS/smoke.txt" | head -12
    [ "$NGPU" -ge 1 ] || el "no GPU visible (nvidia-smi -L): the GPU stages skip"
    save
fi

# ---- tests: every GPU test program, then the GPU training test ----
if want tests && [ "$NGPU" -ge 1 ]; then
    for t in test_gpu_layers test_gpu_layers_more test_gpu_recurrent test_gpu_nets; do
        due "$t" 20 || continue
        timeout "$(tmo 240)" "tests/$t" > "$LOGS/$t.tap" 2>&1
        echo "exit $?" >> "$LOGS/$t.tap"
        el "$t: $(tap "$LOGS/$t.tap"); $(tail -1 "$LOGS/$t.tap")"
        grep -E '^not ok' -A3 "$LOGS/$t.tap" | head -12
        save
    done
    due test_gpu_train 60 && timeout "$(tmo 420)" bash tests/test_gpu_train.sh > "$LOGS/test_gpu_train.tap" 2>&1
    echo "exit $?" >> "$LOGS/test_gpu_train.tap"
    el "test_gpu_train: $(tap "$LOGS/test_gpu_train.tap")"
    grep -E '^not ok' -A6 "$LOGS/test_gpu_train.tap" | head -30
    mkdir -p "$LOGS/train_runs"
    for f in tests/tmp/test_gpu_train/*.out; do [ -f "$f" ] && cp "$f" "$LOGS/train_runs/"; done
    save
fi

# ---- diverge: LeNet on the CPU and on the GPU (fp32), a checkpoint after every
# iteration, compared blob by blob: whether test_gpu_train's GPU-vs-CPU gap
# is there from the first step (a difference in the GPU path) or grows from
# rounding-sized values (amplified rounding). Not part of "all". ----
if [[ $STAGES == *" diverge "* ]] && [ "$NGPU" -ge 1 ]; then
    V=$D/diverge
    mkdir -p "$V"
    "$D/py" - "$V" <<'PY' > "$LOGS/diverge.txt" 2>&1
import sys, h5py, numpy as np   # test_gpu_train.sh's learnable set
r = np.random.RandomState(7)
proto = r.rand(10, 1, 28, 28) * 255
y = r.randint(0, 10, 2048)
x = np.clip(0.6 * proto[y] + 0.4 * r.rand(2048, 1, 28, 28) * 255, 0, 255)
with h5py.File(sys.argv[1] + "/train.h5", "w") as f:
    f["data"] = x.astype(np.float32)
    f["label"] = y.reshape(-1, 1).astype(np.float32)
PY
    cp nets/lenet_fashion_train_val.prototxt "$V/"
    sed -e 's/^display:.*/display: 1/' -e 's/^snapshot:.*/snapshot: 1/' -e 's/^test_interval:.*/test_interval: 0/' \
        nets/lenet_fashion_solver.prototxt > "$V/solver.prototxt"
    for dev in cpu gpu; do
        extra=(); [ $dev = gpu ] && extra=(--cudnn-deterministic)
        timeout "$(tmo 120)" "$MPIRUN" -np 1 ./dltrain-mpi --device $dev --precision fp32 "${extra[@]}" \
            --solver "$V/solver.prototxt" --train "$V/train.h5" --run-dir "$V/run-$dev" --max-iter 40 \
            --seed 3 --keep-checkpoints 0 --sample-interval 0 >> "$LOGS/diverge.txt" 2>&1
    done
    for i in 1 2 3 5 10 20 40; do
        c=$(printf 'checkpoints/iter_%08d.h5' $i)
        "$D/py" tests/compare_ckpt.py "$V/run-gpu/$c" "$V/run-cpu/$c" rel=0 2>&1 |
            awk -v i=$i '{for (k = 1; k <= NF; k++) if ($k ~ /^[0-9.e+-]+$/ && $(k-1) == "difference") print $k, $0}' |
            sort -g | tail -1 | sed "s/^[^ ]* /iteration $i, worst blob: /" | tee -a "$LOGS/diverge.txt"
    done
    el "diverge done"
    save
fi

# ---- compare: dltrain (bench_net) against PyTorch (torch_net.py), same net ----
# H200 SXM dense peaks, TFLOP/s: FP32 67, TF32 495, FP16/BF16 989 (dltrain's
# amp runs FP32 kernels with TF32 math: its % is of the TF32 peak).
peak() { case $1 in fp32) echo 67 ;; tf32) echo 495 ;; *) echo 989 ;; esac; }
# memwatch START|STOP FILE: the GPU's used memory sampled every 100 ms; STOP prints the peak MiB
memwatch() {
    if [ "$1" = start ]; then
        nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$2" 2> /dev/null &
        MEMPID=$!
    else
        kill "$MEMPID" 2> /dev/null; wait "$MEMPID" 2> /dev/null
        sort -n "$2" | tail -1
    fi
}
if want compare && [ "$NGPU" -ge 1 ]; then
    T="$LOGS/compare.txt"
    printf '%-10s %5s %-5s | %10s %8s %6s | %10s %8s %6s %-3s | %6s\n' net batch prec "dlt img/s" "dlt MiB" "%peak" \
        "torch img/s" "torch MiB" "%peak" "NHWC" "ratio" | tee "$T"
    for spec in ${COMPARE:-googlenet:128 resnet50:256}; do
        net=${spec%%:*} b=${spec#*:}
        for p in ${PRECISIONS:-fp32 tf32 amp}; do
            o=$LOGS/cmp_$net-$b-$p
            due "compare $net $p" 45 || continue
            memwatch start "$o.dlt.mem"
            timeout "$(tmo 120)" bench/bench_net --device gpu --precision "$p" --batch "$b" --input 3x224x224 --warmup 3 \
                --min-time 1.5 --json "nets/${net}_train_val.prototxt" > "$o.dlt.json" 2> "$o.dlt.err"
            dmem=$(memwatch stop "$o.dlt.mem")
            for cl in 0 1; do
                memwatch start "$o.torch$cl.mem"
                timeout "$(tmo 120)" "$D/py" bench/torch_net.py "nets/${net}_train_val.prototxt" --device cuda --batch "$b" \
                    --input 3x224x224 --precision "$p" $([ $cl = 1 ] && echo --channels-last) --warmup 3 \
                    --min-time 1.5 --json > "$o.torch$cl.json" 2> "$o.torch$cl.err"
                memwatch stop "$o.torch$cl.mem" > /dev/null
            done
            "$D/py" - "$net" "$b" "$p" "$o" "${dmem:-nan}" "$(peak "$p")" << 'PY' | tee -a "$T"
import json, sys
net, b, p, o, dmem, peak = sys.argv[1:7]
def rd(path):
    try:
        return json.loads(open(path).read().strip().splitlines()[-1])
    except Exception:
        return {}
d = rd(o + ".dlt.json")
t0, t1 = rd(o + ".torch0.json"), rd(o + ".torch1.json")
t, nhwc = (t1, "yes") if t1.get("train_img_s", 0) > t0.get("train_img_s", 0) else (t0, "no")
gf = d.get("train_gflop_per_img", float("nan"))
pct = lambda ips: 100 * ips * gf / (float(peak) * 1e3)
di, ti = d.get("train_img_s", float("nan")), t.get("train_img_s", float("nan"))
print("%-10s %5s %-5s | %10.1f %8s %6.1f | %10.1f %8.0f %6.1f %-3s | %6.2f" % (
    net, b, p, di, dmem, pct(di), ti, t.get("gpu_mem_mib", float("nan")), pct(ti), nhwc,
    di / ti if ti == ti and ti else float("nan")))
PY
            grep -h "error\|Error" "$o.dlt.err" "$o.torch0.err" | head -2
            save
        done
    done
    el "compare done (MiB: dltrain the GPU's used memory from nvidia-smi; torch max_memory_allocated)"
fi

# ---- bench: bench/gpu_bench.sh, dltrain-mpi with its loader, 224x224 synthetic set ----
if want bench && [ "$NGPU" -ge 1 ] && due gpu_bench 60; then
    "$D/py" - "$D/b224.h5" <<'PY' > "$LOGS/gpu_bench_data.txt" 2>&1
import sys, h5py, numpy as np
r = np.random.RandomState(2)
with h5py.File(sys.argv[1], "w") as f:   # Caffe's HDF5 layout, 1024 images 3x224x224
    f["data"] = (r.rand(1024, 3, 224, 224) * 255).astype(np.float32)
    f["label"] = r.randint(0, 1000, (1024, 1)).astype(np.float32)
PY
    specs=(); for n in ${BENCH_NETS:-googlenet resnet50}; do specs+=("$n=nets/${n}_solver.prototxt"); done
    timeout "$(tmo 300)" bash bench/gpu_bench.sh --train "$D/b224.h5" --iters "${BENCH_ITERS:-20}" "${specs[@]}" \
        > "$LOGS/gpu_bench.txt" 2>&1
    echo "exit $?" >> "$LOGS/gpu_bench.txt"
    cat "$LOGS/gpu_bench.txt"
    mkdir -p "$LOGS/gpu_bench_runs" && cp bench/out/gpu/*.log "$LOGS/gpu_bench_runs/" 2> /dev/null
    el "gpu_bench done"
    save
fi
el "end"
save
rm -rf "$D"
