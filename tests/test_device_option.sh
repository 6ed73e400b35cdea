#!/bin/bash
# test_device_option.sh - --device on a node without a usable GPU (every
# CI machine): auto trains on the CPU after one line saying why, gpu fails
# with exit 1 naming the reason, a bad value is a usage error (exit 2).
# On a GPU node, auto and gpu train on the GPU instead (checked too).
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }
SOLVER="$WORK/solver.prototxt"
cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
sed -e 's/^display:.*/display: 5/' "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$SOLVER"
run() { "$TRAIN" --solver "$SOLVER" --train "$FMNIST_TRAIN" --run-dir "$WORK/$1" --max-iter 5 "${@:2}" \
    > "$WORK/$1.out" 2> "$WORK/$1.err"; }

run bogus --device tpu; st=$?
check "--device tpu: exit status 2 (got $st)" test "$st" -eq 2
check "--device tpu: message lists cpu, gpu, auto" grep -q "cpu, gpu or auto" "$WORK/bogus.err"

if grep -q "^#define HAVE_CUDA 1" "$top_builddir/config.h"; then built=cuda; else built=cpu; fi
run auto --device auto; st=$?
check "--device auto: trains (exit $st)" test "$st" -eq 0
if grep -q "device: gpu" "$WORK/auto/log.txt"; then
    ok "--device auto: a GPU was found and used"
    run gpu --device gpu --cudnn-deterministic --cudnn-workspace-mb 64; st=$?
    check "--device gpu: trains (exit $st)" test "$st" -eq 0
else
    check "--device auto: one line says why there is no GPU and that it runs on the CPU" \
        grep -q "no usable GPU (.*); running on the CPU" "$WORK/auto.out" "$WORK/auto.err"
    [ "$built" = cpu ] && check "--device auto: the reason is 'built without CUDA'" \
        grep -q "built without CUDA" "$WORK/auto.out" "$WORK/auto.err"
    [ "$built" = cuda ] && check "--device auto: the reason is cudaGetDeviceCount's error" \
        grep -q "cudaGetDeviceCount: " "$WORK/auto.out" "$WORK/auto.err"
    run gpu --device gpu; st=$?
    check "--device gpu without a GPU: exit status 1 (got $st)" test "$st" -eq 1
    check "--device gpu without a GPU: message says so and suggests --device cpu" \
        grep -q "no usable GPU.*use --device cpu" "$WORK/gpu.err"
    diag_file "$WORK/gpu.err" 3
fi
run cpu --device cpu; st=$?
check "--device cpu: trains (exit $st)" test "$st" -eq 0
done_testing
