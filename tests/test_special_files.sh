#!/bin/bash
# test_special_files.sh - every file a run or dltrain-prep reads whole, named
# as a FIFO, /dev/zero or an oversized file: refused at once with the file,
# what it is and the limit, never read without end or waited on (each run
# here would hang or fill memory otherwise: `timeout` guards the test).
. "$(dirname "$0")/lib.sh"
[ -x "$TRAIN" ] && [ -x "$PREP" ] || skip_all "programs not built"

mkfifo "$WORK/fifo"
cat >"$WORK/net.prototxt" <<'P'
layer { name: "d" type: "HDF5Data" top: "data" top: "label" hdf5_data_param { batch_size: 8 } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 4 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
P
solver() { printf 'net: "%s"\nbase_lr: 0.01\nmax_iter: 2\n' "$1" >"$WORK/solver_$2.prototxt"; }
run() { # NAME SOLVER [args]: a run that must fail fast
    local name=$1 s=$2
    shift 2
    (cd "$WORK" && timeout 60 "$TRAIN" --solver "$s" --run-dir "run_$name" "$@" >"out_$name.txt" 2>&1)
}
refused() { # NAME RC PATTERN
    test "$2" -ne 0 -a "$2" -ne 124 && grep -q "$3" "$WORK/out_$1.txt"
}

solver /dev/zero zero
run zero solver_zero.prototxt --train x.h5; rc=$?
check "solver net: /dev/zero refused (exit $rc), naming it a character device" \
    refused zero $rc "prototxt '/dev/zero' is a character device, not a regular file: refused"
solver "$WORK/fifo" fifo
run fifo solver_fifo.prototxt --train x.h5; rc=$?
check "solver net: a FIFO refused without waiting (exit $rc)" \
    refused fifo $rc "prototxt '.*/fifo' is a FIFO, not a regular file: refused"
run solverfifo "$WORK/fifo" --train x.h5; rc=$?
check "--solver a FIFO: refused (exit $rc)" refused solverfifo $rc "'.*/fifo' is a FIFO"
truncate -s 65M "$WORK/huge.prototxt"
solver "$WORK/huge.prototxt" huge
run huge solver_huge.prototxt --train x.h5; rc=$?
check "solver net: a 65 MiB file refused (exit $rc), the limit named" \
    refused huge $rc "huge.prototxt' is 68157440 bytes, more than the limit of 64 MiB"
solver net.prototxt ok
run train_fifo solver_ok.prototxt --train "$WORK/fifo"; rc=$?
check "--train a FIFO: refused (exit $rc)" refused train_fifo $rc "HDF5 file '.*/fifo' is a FIFO"
run train_zero solver_ok.prototxt --train /dev/zero; rc=$?
check "--train /dev/zero: refused (exit $rc)" refused train_zero $rc "HDF5 file '/dev/zero' is a character device"

timeout 60 "$PREP" --format list "$WORK/fifo" "$WORK/o.h5" >"$WORK/out_list.txt" 2>&1; rc=$?
check "dltrain-prep: a FIFO as list file refused (exit $rc)" refused list $rc "list file '.*/fifo' is a FIFO"
timeout 60 "$PREP" --format list /dev/zero "$WORK/o.h5" >"$WORK/out_listz.txt" 2>&1; rc=$?
check "dltrain-prep: /dev/zero as list file refused (exit $rc)" refused listz $rc "list file '/dev/zero' is a character device"
timeout 60 "$PREP" --format cifar10 "$WORK/fifo" "$WORK/o.h5" >"$WORK/out_cifar.txt" 2>&1; rc=$?
check "dltrain-prep: a FIFO as CIFAR batch refused (exit $rc)" refused cifar $rc "CIFAR batch '.*/fifo' is a FIFO"
timeout 60 "$PREP" --format idx "$WORK/fifo" "$WORK/fifo" "$WORK/o.h5" >"$WORK/out_idx.txt" 2>&1; rc=$?
check "dltrain-prep: a FIFO as IDX file refused (exit $rc)" refused idx $rc "IDX file '.*/fifo' is a FIFO"

done_testing
