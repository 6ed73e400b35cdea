#!/bin/bash
# test_allreduce.sh - the gradient reducer's sums are exact under mpirun
# -np 2, 3 and 4 (oversubscribed): tests/allreduce_check on every rank,
# its TAP lines (rank 0) counted here, one result per np.
. "$(dirname "$0")/lib.sh"
command -v "$MPIRUN" > /dev/null || skip_all "mpirun not found (apt-get install openmpi-bin)"
CHECK="$top_builddir/tests/allreduce_check"
for np in 2 3 4; do
    out="$WORK/np$np.txt"
    if timeout 300 "$MPIRUN" -np $np --oversubscribe "$CHECK" > "$out" 2>&1 &&
        ! grep -q '^not ok' "$out" && [ "$(grep -c '^ok' "$out")" -ge 34 ]; then
        ok "np=$np: $(grep -c '^ok' "$out") reducer sums exact (1 element .. 64 MB, odd counts, mpi/shm, overlap/blocking/thread)"
    else
        fail "np=$np: reducer sums exact"; diag_file "$out" 40
    fi
done
done_testing
