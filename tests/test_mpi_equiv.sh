#!/bin/bash
# test_mpi_equiv.sh - data parallelism changes nothing but speed: P ranks
# with batch B each end with the same weights (1e-5 relative) as one rank
# with batch P*B after 20 iterations on the same samples in the same order.
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
command -v "$MPIRUN" > /dev/null || skip_all "mpirun not found (apt-get install openmpi-bin)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

ITERS=20
# run NP BATCH: train ITERS iterations with NP ranks of batch BATCH (no testing).
run() {
    local np=$1 batch=$2 dir="$WORK/np$1_b$2"
    mkdir -p "$dir"
    sed "s/batch_size: 64/batch_size: $batch/" "$top_srcdir/nets/lenet_fashion_train_val.prototxt" \
        > "$dir/net.prototxt"
    sed -e 's/^net:.*/net: "net.prototxt"/' -e 's/^snapshot:.*/snapshot: 0/' -e 's/^display:.*/display: 10/' \
        "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$dir/solver.prototxt"
    "$MPIRUN" -np "$np" --oversubscribe "$TRAIN" --solver "$dir/solver.prototxt" \
        --train "$FMNIST_TRAIN" --run-dir "$dir/run" --max-iter $ITERS > "$dir/out.txt" 2>&1
}
compare() {
    "$PYTHON_H5PY" "$top_srcdir/tests/compare_ckpt.py" "$1" "$2" rel=1e-5 > "$WORK/cmp.txt" 2>&1
}

run 1 64 || { fail "np=1 batch 64 trains"; diag_file "$WORK/np1_b64/out.txt"; done_testing; }
ok "np=1 batch 64 trains $ITERS iterations"
REF="$WORK/np1_b64/run/checkpoints/iter_000000$ITERS.h5"
for cfg in "2 32" "4 16"; do
    set -- $cfg
    if run "$1" "$2"; then ok "np=$1 batch $2 trains"; else fail "np=$1 batch $2 trains"; diag_file "$WORK/np$1_b$2/out.txt"; continue; fi
    check "np=$1 prints global batch 64 = $1 ranks x batch_size $2" \
        grep -q "global batch 64 = $1 ranks x batch_size $2" "$WORK/np$1_b$2/out.txt"
    if compare "$WORK/np$1_b$2/run/checkpoints/iter_000000$ITERS.h5" "$REF"; then
        ok "np=$1 x batch $2 weights equal np=1 x batch 64 (1e-5 relative)"
    else
        fail "np=$1 x batch $2 weights equal np=1 x batch 64"; diag_file "$WORK/cmp.txt"
    fi
done
# The check must be able to fail: a different seed gives different weights.
sed -i 's/^random_seed:.*/random_seed: 2/' "$WORK/np2_b32/solver.prototxt"
"$MPIRUN" -np 2 --oversubscribe "$TRAIN" --solver "$WORK/np2_b32/solver.prototxt" \
    --train "$FMNIST_TRAIN" --run-dir "$WORK/seed2" --max-iter $ITERS > /dev/null 2>&1
if compare "$WORK/seed2/checkpoints/iter_000000$ITERS.h5" "$REF"; then
    fail "another seed gives different weights (the comparison can fail)"
else
    ok "another seed gives different weights (the comparison can fail)"
fi
done_testing
