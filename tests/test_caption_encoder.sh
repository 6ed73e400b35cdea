#!/bin/bash
# test_caption_encoder.sh - the captioners' pretrained encoder: the
# classifier of nets/caption_encoder_train_val.prototxt trains on
# Fashion-MNIST items (its loss falls), and dltrain-mpi --weights copies its
# conv1..conv3 into both captioners of nets/ (the attention net and the
# LRCN baseline), skipping only the classifier: after one Adam step each
# copied weight is within the step's size (base_lr) of the encoder's, which a
# fresh initialisation is not. bench/caption_bleu.sh relies on this.
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
"$PYTHON_H5PY" -c 'import PIL' 2>/dev/null || skip_all "PIL not available (Debian: apt-get install python3-pil)"

# The items: Fashion-MNIST's test set is enough for 30 small steps.
"$PREP" -q --format idx "$FMNIST_DIR/t10k-images-idx3-ubyte.gz" "$FMNIST_DIR/t10k-labels-idx1-ubyte.gz" \
    "$WORK/items.h5" > "$WORK/prep.log" 2>&1
check "Fashion-MNIST items as a labelled set" test -s "$WORK/items.h5"

sed -e 's/batch_size: 32/batch_size: 16/' -e 's/batch_size: 100/batch_size: 50/' \
    "$top_srcdir/nets/caption_encoder_train_val.prototxt" > "$WORK/encoder.prototxt"
sed -e "s#^net: .*#net: \"$WORK/encoder.prototxt\"#" -e 's/^test_iter: .*/test_iter: 2/' \
    -e 's/^test_interval: .*/test_interval: 30/' -e 's/^snapshot: .*/snapshot: 30/' \
    "$top_srcdir/nets/caption_encoder_solver.prototxt" > "$WORK/encoder_solver.prototxt"
ENC="$WORK/encoder"
if "$TRAIN" --solver "$WORK/encoder_solver.prototxt" --train "$WORK/items.h5" --val "$WORK/items.h5" \
    --run-dir "$ENC" --max-iter 30 > "$WORK/encoder.log" 2>&1; then
    ok "the encoder classifier trains 30 iterations"
else
    fail "the encoder classifier trains 30 iterations"; diag_file "$WORK/encoder.log"
fi
losses=$(awk '/^test / {print $7}' "$WORK/encoder.log" | tr '\n' ' ')
set -- $losses
awk -v a="${1:-nan}" -v b="${2:-nan}" 'BEGIN {exit !(b + 0 < 0.8 * a)}' &&
    ok "its test loss falls: $losses" || fail "its test loss does not fall: '$losses'"
W="$ENC/checkpoints/iter_00000030.h5"

S="$WORK/scenes"
"$PYTHON_H5PY" "$top_srcdir/scripts/caption_scenes.py" --train 16 --val 4 --captions 2 --seed 3 "$S" \
    > /dev/null 2>&1
"$PREP" -q --format captions --annotations "$S/train/captions.json" --images "$S/train/images" \
    --gray --size 84x84 --min-count 1 "$WORK/scenes.h5" > "$WORK/prep.log" 2>&1
check "a caption set of 16 scenes" test -s "$WORK/scenes.h5"

for net in attention lrcn; do
    sed -e 's/batch_size: 16/batch_size: 4/' \
        "$top_srcdir/nets/caption_${net}_train_val.prototxt" > "$WORK/$net.prototxt"
    sed -e "s#^net: .*#net: \"$WORK/$net.prototxt\"#" -e '/^test_/d' -e 's/^snapshot: .*/snapshot: 1/' \
        "$top_srcdir/nets/caption_${net}_solver.prototxt" > "$WORK/${net}_solver.prototxt"
    lr=$(awk '/^base_lr:/ {print $2}' "$WORK/${net}_solver.prototxt")
    "$TRAIN" --solver "$WORK/${net}_solver.prototxt" --train "$WORK/scenes.h5" --run-dir "$WORK/$net" \
        --max-iter 1 --weights "$W" > "$WORK/$net.log" 2>&1
    if grep -q "3 layers copied" "$WORK/$net.log" && grep -q "skipped: 'classify'" "$WORK/$net.log"; then
        ok "$net: --weights copies the encoder's 3 layers and skips its classifier"
    else
        fail "$net: --weights copies the encoder's 3 layers and skips its classifier"; diag_file "$WORK/$net.log"
    fi
    out=$("$PYTHON_H5PY" - "$W" "$WORK/$net/checkpoints/iter_00000001.h5" "$lr" <<'PY'
import sys, h5py, numpy as np
enc, cap, lr = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r"), float(sys.argv[3])
worst, moved = 0.0, 0
for layer in ("conv1", "conv2", "conv3"):
    a, b = enc["data/%s/0" % layer][...], cap["data/%s/0" % layer][...]
    worst = max(worst, float(np.abs(a - b).max()) / lr)
    moved += int((a != b).sum())
print("%.3f %d" % (worst, moved))
PY
)
    set -- $out
    awk -v w="${1:-99}" -v m="${2:-0}" 'BEGIN {exit !(w <= 1.01 && m > 0)}' &&
        ok "$net: after one Adam step conv1..conv3 are the encoder's within ${1} x base_lr ($2 weights moved)" ||
        fail "$net: conv1..conv3 not the encoder's after one step: '$out' (largest change / base_lr, weights moved)"
done
done_testing
