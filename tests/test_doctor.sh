#!/bin/bash
# test_doctor.sh - dltrain-mpi --doctor: alone and under mpirun -np 2 it
# prints one row per rank and exits 0; an unwritable run directory or an
# unreadable dataset makes it exit 1 naming the path.
. "$(dirname "$0")/lib.sh"

"$TRAIN" --doctor > "$WORK/one.txt" 2> "$WORK/one_err.txt"
rc=$?
check "doctor alone exits 0" test $rc -eq 0
check "doctor alone prints one row" test "$(grep -c '^0 ' "$WORK/one.txt")" -eq 1
check "doctor shows MPI and HDF5 versions" bash -c "grep -q 'Open MPI v\|MPICH' '$WORK/one.txt' && grep -Eq ' 1\.[0-9]+\.[0-9]+ ' '$WORK/one.txt'"

TRAIN_SET=""
if have_fmnist && fmnist_h5; then TRAIN_SET="--train $FMNIST_TRAIN"; fi
"$MPIRUN" -np 2 "$TRAIN" --doctor $TRAIN_SET --run-dir "$WORK/run" > "$WORK/two.txt" 2> "$WORK/two_err.txt"
rc=$?
if [ $rc -eq 0 ]; then ok "doctor under mpirun -np 2 exits 0"; else fail "doctor np=2 exit $rc"; diag_file "$WORK/two.txt"; diag_file "$WORK/two_err.txt"; fi
check "two rows, ranks 0 and 1, both ok" bash -c "grep -Eq '^0 .* ok ' '$WORK/two.txt' && grep -Eq '^1 .* ok ' '$WORK/two.txt' && [ \$(grep -Ec '^[0-9]+ ' '$WORK/two.txt') -eq 2 ]"
check "local ranks 0 and 1 on one host" bash -c "awk '/^[01] /{print \$3}' '$WORK/two.txt' | sort | tr '\n' ' ' | grep -q '^0 1 \$'"
check "every rank can train" grep -q "every rank can train" "$WORK/two.txt"
check "the doctor leaves no run directory behind" test ! -e "$WORK/run"

touch "$WORK/afile"
"$MPIRUN" -np 2 "$TRAIN" --doctor --run-dir "$WORK/afile/run" > "$WORK/bad.txt" 2> "$WORK/bad_err.txt"
rc=$?
check "unwritable run directory: exit non-zero" test $rc -ne 0
check "unwritable run directory: named, every rank FAIL" bash -c "grep -q 'rank 0 (.*): cannot train: run directory .*afile/run' '$WORK/bad.txt' && [ \$(grep -Ec '^[01] .* FAIL ' '$WORK/bad.txt') -eq 2 ]"

echo "not hdf5" > "$WORK/bad.h5"
"$TRAIN" --doctor --train "$WORK/bad.h5" > "$WORK/bad2.txt" 2> "$WORK/bad2_err.txt"
rc=$?
check "unreadable dataset: exit 1 naming it" bash -c "[ $rc -eq 1 ] && grep -q 'training set .*bad.h5 cannot be opened' '$WORK/bad2.txt'"
done_testing
