#!/bin/bash
# test_precision.sh - --precision on the CPU: tf32 is fp32 bit for bit (the
# CPU has no TF32); amp and bf16 (the CPU reference: FP16/bfloat16 rounding
# where the GPU path stores 16 bits) change the numbers and still train
# LeNet on Fashion-MNIST; amp's dynamic loss scale skips overflowing steps
# and lowers the scale, grows it after clean steps (at the floor scale 1 a
# NaN stops the run as without amp), and resumes bit-exactly from its
# checkpoint attributes; checkpoints without them still load.
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }
cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
sed -e 's/^display:.*/display: 10/' -e 's/^snapshot:.*/snapshot: 10/' -e 's/^test_iter:.*/test_iter: 10/' \
    -e 's/^test_interval:.*/test_interval: 1000/' \
    "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/solver.prototxt"
train() { # RUN_DIR MAX_ITER [extra args]
    local dir=$1 iters=$2
    shift 2
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$TRAIN" --solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN" \
        --val "$FMNIST_TEST" --run-dir "$dir" --max-iter "$iters" "$@" >> "$dir.out" 2>&1
}
cmp_ckpt() { "$PYTHON_H5PY" "$top_srcdir/tests/compare_ckpt.py" "$1" "$2" exact > "$WORK/cmp.txt" 2>&1; }
ck() { printf '%s/checkpoints/iter_%08d.h5' "$1" "$2"; }
attr() { "$PYTHON_H5PY" -c "import sys, h5py; print(h5py.File(sys.argv[1], 'r').attrs.get(sys.argv[2], 'absent'))" "$1" "$2"; }
# The last smoothed training loss and the test accuracy of a run directory.
last_loss() { "$PYTHON_H5PY" -c "import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print([r['loss'] for r in rows if r.get('kind') == 'train'][-1])" "$1/metrics.jsonl"; }
top1() { "$PYTHON_H5PY" -c "import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print([r['test_top1'] for r in rows if r.get('kind') == 'test'][-1])" "$1/metrics.jsonl"; }

# ---- bad values ----
train "$WORK/bad" 1 --precision fp16; st=$?
check "--precision fp16: usage error, exit 2 (got $st)" test $st -eq 2
check "... naming the four choices" grep -q "fp32, tf32, amp or bf16" "$WORK/bad.out"
train "$WORK/bad2" 1 --precision amp --loss-scale 1000; st=$?
check "--loss-scale 1000 (not a power of two): exit 2 (got $st)" test $st -eq 2

# ---- tf32 = fp32 on the CPU; amp and bf16 round ----
check "fp32: 10 iterations" train "$WORK/fp32" 10 --precision fp32
check "tf32 (the default): 10 iterations" train "$WORK/tf32" 10
check "... the log says tf32 is fp32 on the CPU" grep -q "precision tf32 (= fp32 on the CPU)" "$WORK/tf32.out"
if cmp_ckpt "$(ck "$WORK/tf32" 10)" "$(ck "$WORK/fp32" 10)"; then
    ok "tf32 on the CPU: weights bit-identical to fp32"
else
    fail "tf32 on the CPU: weights bit-identical to fp32"; diag_file "$WORK/cmp.txt" 5
fi
for p in amp bf16; do
    check "$p: 10 iterations" train "$WORK/${p}10" 10 --precision $p
    if cmp_ckpt "$(ck "$WORK/${p}10" 10)" "$(ck "$WORK/fp32" 10)"; then
        fail "$p: the 16-bit rounding changes the weights (identical to fp32)"
    else
        ok "$p: the 16-bit rounding changes the weights"
    fi
    check "$p: the log names the CPU reference" grep -q "precision $p (CPU reference" "$WORK/${p}10.out"
done

# ---- amp and bf16 train: loss down from ln(10) = 2.30, test accuracy up ----
for p in fp32 amp bf16; do
    check "$p: 150 iterations" train "$WORK/${p}150" 150 --precision $p
    loss=$(last_loss "$WORK/${p}150") acc=$(top1 "$WORK/${p}150")
    eval "loss_$p=$loss acc_$p=$acc"
    check "$p: last smoothed loss $loss < 0.9" awk -v l="$loss" 'BEGIN { exit !(l < 0.9) }'
    check "$p: test top-1 $acc > 0.65" awk -v a="$acc" 'BEGIN { exit !(a > 0.65) }'
done
check "amp within 0.1 of fp32's test top-1 ($acc_amp vs $acc_fp32)" \
    awk -v a="$acc_amp" -v b="$acc_fp32" 'BEGIN { d = a - b; exit !(d < 0.1 && d > -0.1) }'
check "bf16 within 0.1 of fp32's test top-1 ($acc_bf16 vs $acc_fp32)" \
    awk -v a="$acc_bf16" -v b="$acc_fp32" 'BEGIN { d = a - b; exit !(d < 0.1 && d > -0.1) }'
check "amp: no step skipped at the default scale 65536" bash -c "! grep -q 'overflowed at loss scale' '$WORK/amp150.out'"

# ---- the loss scale: overflow skips and lowers, clean steps grow ----
# 2^40 makes the scaled gradients overflow FP16 (max 65504): steps are
# skipped and the scale halves until they fit; with a window of 5 it then
# doubles every 5 clean steps and overflows again now and then.
scale_args=(--precision amp --loss-scale 1099511627776 --loss-scale-window 5)
check "amp from scale 2^40, window 5: 30 iterations" train "$WORK/full" 30 "${scale_args[@]}"
check "... the first step overflows and is skipped, the scale halved" \
    grep -q "iteration 0: gradients overflowed at loss scale 1.09951e+12; step skipped, scale now 5.49756e+11" "$WORK/full.out"
skipped=$(grep -c "overflowed at loss scale" "$WORK/full.out")
check "... the checkpoint counts the $skipped skipped steps" test "$(attr "$(ck "$WORK/full" 30)" loss_scale_skipped)" = "$skipped"
s10=$(attr "$(ck "$WORK/full" 10)" loss_scale) s30=$(attr "$(ck "$WORK/full" 30)" loss_scale)
check "... the scale in the checkpoints went down from 2^40 (iter 10: $s10, iter 30: $s30)" \
    awk -v a="$s10" -v b="$s30" 'BEGIN { exit !(a < 1099511627776 && b < 1099511627776 && a != b) }'
check "... and grew after 5 clean steps" grep -q "loss scale raised to .* after 5 clean steps" "$WORK/full.out"
check "... the training loss is finite" awk -v l="$(last_loss "$WORK/full")" 'BEGIN { exit !(l < 5) }'

# ---- a NaN in the data (DLT_TEST_NAN_ITER puts one in the batch) ----
DLT_TEST_NAN_ITER=3 train "$WORK/nan" 6 --precision amp; st=$?
check "amp, a NaN batch at iteration 3: skipped like an overflow, the run goes on (exit $st)" \
    bash -c "[ $st -eq 0 ] && grep -q 'iteration 3: gradients overflowed at loss scale 65536' '$WORK/nan.out'"
DLT_TEST_NAN_ITER=3 train "$WORK/nan1" 6 --precision amp --loss-scale 1; st=$?
check "amp at the floor scale 1: a NaN batch stops the run as without amp (exit $st)" \
    bash -c "[ $st -ne 0 ] && grep -q 'NaN/Inf in the gradients at iteration 3' '$WORK/nan1.out'"

# ---- resume under amp: 15 + resume + 15 = 30, bit for bit ----
check "amp: first 15 iterations" train "$WORK/part" 15 "${scale_args[@]}"
check "amp: --resume auto continues to 30" train "$WORK/part" 30 "${scale_args[@]}" --resume auto
check "... the loss scale resumed from the checkpoint" grep -q "loss scale .* resumed" "$WORK/part.out"
if cmp_ckpt "$(ck "$WORK/part" 30)" "$(ck "$WORK/full" 30)"; then
    ok "amp: resumed weights and history bit-identical to the uninterrupted run"
else
    fail "amp: resumed weights and history bit-identical to the uninterrupted run"; diag_file "$WORK/cmp.txt" 5
fi
for a in loss_scale loss_scale_good_steps loss_scale_skipped; do
    x=$(attr "$(ck "$WORK/part" 30)" $a) y=$(attr "$(ck "$WORK/full" 30)" $a)
    check "amp: resumed $a $x = uninterrupted $y" test "$x" = "$y" -a "$x" != absent
done

# ---- checkpoints without a loss scale ----
check "an fp32 checkpoint has no loss_scale attribute" test "$(attr "$(ck "$WORK/fp32" 10)" loss_scale)" = absent
check "an fp32 checkpoint resumes under amp" train "$WORK/from32" 12 --precision amp --resume "$(ck "$WORK/fp32" 10)"
check "... saying it starts the scale afresh" grep -q "has no loss scale (written without --precision amp): starting from 65536" "$WORK/from32.out"
check "an amp checkpoint resumes under fp32, saying the scale is not used" \
    bash -c "$(declare -f train); TRAIN='$TRAIN' WORK='$WORK' FMNIST_TRAIN='$FMNIST_TRAIN' FMNIST_TEST='$FMNIST_TEST' train '$WORK/to32' 12 --precision fp32 --resume '$(ck "$WORK/full" 10)' && grep -q 'written with --precision amp' '$WORK/to32.out'"
done_testing
