#!/bin/bash
# test_stream_train.sh - the streaming loader end to end under mpirun -np 2: a
# set larger than --data-memory-mb is streamed (the log says so and why),
# every sample is served exactly once per epoch across the ranks (counted
# from DLTRAIN_TRACE_SAMPLES) in both modes, and a streaming run resumed
# mid-epoch serves the same samples and ends bit-identical to one that
# was not stopped.
. "$(dirname "$0")/lib.sh"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
command -v "$MPIRUN" > /dev/null || skip_all "mpirun not found (apt-get install openmpi-bin)"
[ -x "$TRAIN" ] || skip_all "programs not built"

# 480 float samples of 3x16x16 (3 KB each, 1.4 MB in all) in HDF5 chunks of 16.
"$PYTHON_H5PY" - "$WORK/set.h5" <<'PY'
import sys, h5py, numpy as np
r = np.random.RandomState(0)
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("data", data=r.rand(480, 3, 16, 16).astype(np.float32), chunks=(16, 3, 16, 16))
    f["label"] = r.randint(0, 4, 480).astype(np.float32)
PY
cat >"$WORK/net.prototxt" <<'P'
layer { name: "d" type: "HDF5Data" top: "data" top: "label" hdf5_data_param { batch_size: 8 } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param { num_output: 4 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
P
cat >"$WORK/solver.prototxt" <<'P'
net: "net.prototxt"
base_lr: 0.01
momentum: 0.9
lr_policy: "fixed"
display: 10
snapshot: 20
random_seed: 7
max_iter: 1000
P
# 2 ranks x batch 8: 30 iterations per epoch.
train() { # NAME MAX_ITER [args]
    local name=$1 iters=$2
    shift 2
    (cd "$WORK" && DLTRAIN_TRACE_SAMPLES="$WORK/$name.trace" "$MPIRUN" -np 2 "$TRAIN" \
        --solver solver.prototxt --train set.h5 --run-dir "run_$name" --max-iter "$iters" "$@" \
        >>"out_$name.txt" 2>&1)
}
# Each epoch of TRACE: every index 0..479 exactly once over both ranks, and
# both ranks served as many samples.
once_per_epoch() { # TRACE EPOCHS
    awk -v E="$2" '{ n[$2 " " $3]++; per[$1]++ }
        END { bad = 0
              for (e = 0; e < E; e++) for (i = 0; i < 480; i++) if (n[e " " i] != 1) bad++
              for (k in n) if (n[k] != 1) bad++
              if (per[0] != per[1] || per[0] != 240 * E) bad++
              exit bad != 0 }' "$1"
}

check "streaming: 60 iterations (2 epochs) with --data-memory-mb 1" train stream 60 --data-memory-mb 1
check "... the log says streaming, share vs budget" \
    grep -q "loader: rank share 1 MB (the whole set, in memory) > --data-memory-mb 1: streaming chunks" "$WORK/out_stream.txt"
check "... said once" test "$(grep -c 'loader: rank share' "$WORK/out_stream.txt")" -eq 1
check "... every sample exactly once per epoch across the 2 ranks" once_per_epoch "$WORK/stream.trace" 2
check "... and the 2 epochs in different orders" bash -c \
    "[ \"\$(awk '\$1 == 0 && \$2 == 0 {print \$3}' '$WORK/stream.trace' | head -40)\" != \
       \"\$(awk '\$1 == 0 && \$2 == 1 {print \$3}' '$WORK/stream.trace' | head -40)\" ]"
check "in memory (default budget): 60 iterations" train mem 60
check "... the log says in memory" grep -q "loader: rank share 1 MB (the whole set) <= the default .*: in memory" "$WORK/out_mem.txt"
check "... every sample exactly once per epoch across the 2 ranks" once_per_epoch "$WORK/mem.trace" 2

# Resume mid-epoch (iteration 20 of 30) in streaming mode.
check "streaming: 40 iterations uninterrupted" train full 40 --data-memory-mb 1
check "streaming: first 20 iterations" train part 20 --data-memory-mb 1
check "streaming: --resume auto to 40" train part 40 --data-memory-mb 1 --resume auto
check "the uninterrupted run traced 2 x 40 x 8 samples" test "$(wc -l < "$WORK/full.trace")" -eq 640
for r in 0 1; do
    check "rank $r served the same samples, in the same order, stopped and resumed" \
        cmp -s <(awk -v r=$r '$1 == r' "$WORK/full.trace") <(awk -v r=$r '$1 == r' "$WORK/part.trace")
done
if "$PYTHON_H5PY" "$top_srcdir/tests/compare_ckpt.py" "$WORK/run_part/checkpoints/iter_00000040.h5" \
    "$WORK/run_full/checkpoints/iter_00000040.h5" exact > "$WORK/cmp.txt" 2>&1; then
    ok "resumed streaming run is bit-identical to the uninterrupted one"
else
    fail "resumed streaming run differs"; diag_file "$WORK/cmp.txt"
fi
check "a TEST loader is never streamed: --val with a small budget still runs" \
    train val 2 --data-memory-mb 1 --val set.h5
done_testing
