#!/bin/bash
# test_netns.sh - multi-host training without a cluster: 2 "hosts" made of
# network namespaces joined by veth + bridge, egress shaped to 1 Gbit/s
# (tc tbf), Open MPI over TCP only (bench/netns_cluster.sh). 2 ranks x
# batch 24 across the hosts end with the same weights as 1 rank x batch 48
# on one host (1e-6 relative, 3 iterations), using the hierarchical reducer path.
. "$(dirname "$0")/lib.sh"
# What is under test is Open MPI over TCP between hosts, so the convolutions run on im2col + sgemm,
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
command -v ip > /dev/null && command -v tc > /dev/null || skip_all "iproute2 (ip, tc) not installed"
export NS_PREFIX=dt$$   # veth names stay under 15 characters
if ! ip netns add "${NS_PREFIX}probe" 2>/dev/null; then
    skip_all "cannot create network namespaces here (needs root / CAP_NET_ADMIN: $(ip netns add x 2>&1 | head -1))"
fi
ip netns del "${NS_PREFIX}probe"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }
CLUSTER="$top_srcdir/bench/netns_cluster.sh"
trap '"$CLUSTER" down' EXIT

ITERS=3
setup_run() {
    mkdir -p "$WORK/$1"
    sed "s/batch_size: 64/batch_size: $2/" "$top_srcdir/nets/lenet_fashion_train_val.prototxt" > "$WORK/$1/net.prototxt"
    sed -e 's/^net:.*/net: "net.prototxt"/' -e 's/^snapshot:.*/snapshot: 0/' -e 's/^display:.*/display: 5/' \
        "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/$1/solver.prototxt"
}
setup_run ref 48
"$TRAIN" --solver "$WORK/ref/solver.prototxt" --train "$FMNIST_TRAIN" --run-dir "$WORK/ref/run" \
    --max-iter $ITERS > "$WORK/ref/out.txt" 2>&1 || { fail "np=1 reference trains"; diag_file "$WORK/ref/out.txt"; done_testing; }
ok "np=1 x batch 48 on one host trains"

if "$CLUSTER" up 2 1gbit > "$WORK/up.txt" 2>&1; then
    ok "2 namespace hosts joined by a bridge, egress shaped to 1 Gbit/s"
else
    fail "2 namespace hosts"; diag_file "$WORK/up.txt"; done_testing
fi
setup_run ns 24
timeout 120 "$CLUSTER" mpirun 2 "$TRAIN" --solver "$WORK/ns/solver.prototxt" --train "$FMNIST_TRAIN" \
    --run-dir "$WORK/ns/run" --max-iter $ITERS --watchdog 60 > "$WORK/ns/out.txt" 2>&1
rc=$?
check "np=2 across the 2 hosts over TCP trains (rc $rc)" test $rc -eq 0
check "placement table: rank 0 on ${NS_PREFIX}1, rank 1 on ${NS_PREFIX}2, each local rank 0" \
    bash -c "grep -qE 'placement: +0 +${NS_PREFIX}1 +0 ' '$WORK/ns/out.txt' && grep -qE 'placement: +1 +${NS_PREFIX}2 +0 ' '$WORK/ns/out.txt'"
CKPT=run/checkpoints/iter_$(printf %08d $ITERS).h5
if "$PYTHON_H5PY" "$top_srcdir/tests/compare_ckpt.py" "$WORK/ns/$CKPT" "$WORK/ref/$CKPT" rel=1e-6 > "$WORK/cmp.txt" 2>&1; then
    ok "2 hosts x batch 24 weights equal 1 host x batch 48 (1e-6 relative)"
else
    fail "2 hosts x batch 24 weights equal 1 host x batch 48"; diag_file "$WORK/cmp.txt"; diag_file "$WORK/ns/out.txt"
fi
done_testing
