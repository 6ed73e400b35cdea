#!/bin/bash
# test_dist_equiv.sh - the overlapped bucketed reducer changes nothing but
# speed: np = 1, 2, 3, 4 (oversubscribed) with per-rank batches 48, 24, 16,
# 12 (global batch 48) end with the same weights (1e-6 relative, 3 iterations), with
# buckets smaller (0.05 MB: many buckets) and larger (64 MB: one) than
# the model, both transports (mpi, shm) and both modes.
. "$(dirname "$0")/lib.sh"
# What is under test is the reducer, so the convolutions run on im2col + sgemm,
# which sums each weight gradient per sample in double: the splits differ
# only by the rounding of the per-rank sums and the float allreduce (each
# sample's activations are bit-identical whatever the split,
# tests/test_nets.c). Measured within 2.5e-7 after ITERS iterations on
# AVX2 (OpenBLAS Zen); a difference that size can flip a max pooling
# window's choice in later iterations and grow to 1e-3, so ITERS is short.
# tests/test_mpi_equiv.sh checks the default backend's data parallelism.
export DLT_CONV_BACKEND=im2col
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
command -v "$MPIRUN" > /dev/null || skip_all "mpirun not found (apt-get install openmpi-bin)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

ITERS=3
# run NAME NP BATCH [dltrain-mpi options]: ITERS iterations, no testing.
run() {
    local name=$1 np=$2 batch=$3 dir="$WORK/$1"
    shift 3
    mkdir -p "$dir"
    sed "s/batch_size: 64/batch_size: $batch/" "$top_srcdir/nets/lenet_fashion_train_val.prototxt" \
        > "$dir/net.prototxt"
    sed -e 's/^net:.*/net: "net.prototxt"/' -e 's/^snapshot:.*/snapshot: 0/' -e 's/^display:.*/display: 10/' \
        "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$dir/solver.prototxt"
    timeout 120 "$MPIRUN" -np "$np" --oversubscribe "$TRAIN" --solver "$dir/solver.prototxt" \
        --train "$FMNIST_TRAIN" --run-dir "$dir/run" --max-iter $ITERS --watchdog 60 "$@" \
        > "$dir/out.txt" 2>&1
}
CKPT=run/checkpoints/iter_$(printf %08d $ITERS).h5

run ref 1 48 || { fail "np=1 batch 48 trains"; diag_file "$WORK/ref/out.txt"; done_testing; }
ok "np=1 batch 48 trains $ITERS iterations"
for cfg in "2 24 0.05 overlap mpi" "2 24 64 overlap shm" "3 16 0.05 overlap shm" "3 16 64 blocking mpi" \
           "4 12 0.05 overlap mpi" "4 12 0.05 blocking shm" "4 12 64 overlap auto" \
           "2 24 0.05 thread mpi" "3 16 0.05 thread shm"; do
    set -- $cfg
    name="np$1_mb$3_$4_$5" desc="np=$1 x batch $2, bucket $3 MB, $4, reducer $5"
    if ! run "$name" "$1" "$2" --bucket-mb "$3" --allreduce "$4" --reducer "$5"; then
        fail "$desc trains"; diag_file "$WORK/$name/out.txt"; continue
    fi
    grep -q "gradient allreduce: .*reducer $5" "$WORK/$name/out.txt" || [ "$5" = auto ] ||
        { fail "$desc: the log names reducer $5"; diag_file "$WORK/$name/out.txt"; }
    if "$PYTHON_H5PY" "$top_srcdir/tests/compare_ckpt.py" "$WORK/$name/$CKPT" "$WORK/ref/$CKPT" rel=1e-6 \
        > "$WORK/$name/cmp.txt" 2>&1; then
        ok "$desc: weights equal np=1 x batch 48 (1e-6 relative)"
    else
        fail "$desc: weights equal np=1 x batch 48"; diag_file "$WORK/$name/cmp.txt"
    fi
done
check "0.05 MB buckets: the model is split into several buckets" \
    grep -qE "gradient allreduce: overlapped with backward, ([2-9]|[1-9][0-9]+) buckets" "$WORK/np2_mb0.05_overlap_mpi/out.txt"
check "thread mode: the log says a communication thread reduces the buckets" \
    grep -q "overlapped with backward on a communication thread" "$WORK/np2_mb0.05_thread_mpi/out.txt"
check "the placement table lists all 4 ranks" \
    grep -q "placement:    3  " "$WORK/np4_mb0.05_overlap_mpi/out.txt"
check "4 ranks on 2 cores: oversubscription warning" \
    bash -c "[ \$(nproc) -ge 4 ] || grep -q 'is oversubscribed' '$WORK/np4_mb0.05_overlap_mpi/out.txt'"
done_testing
