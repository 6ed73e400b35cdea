#!/bin/bash
# test_caption_decode.sh - dltrain-caption on a run of the attention
# captioner of nets/ (batch 4, 40 iterations on 40 scenes): greedy equals
# --beam 1; beam search's captions are at least as likely as greedy's;
# --length-norm picks among the same beams; JPEG files caption as their
# samples in the set do; the captions score with dltrain-eval --bleu (through
# --hyp, and --bleu --run-dir by itself, the same figures); bad
# inputs (no checkpoint, a net without caption data, a missing image, a beam
# wider than the batch, --attention without an AttentionLSTM) exit non-zero
# with a message naming what is wrong. --attention DIR leaves the captions
# as they are and writes strips whose red shows index.tsv's weights.
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
"$PYTHON_H5PY" -c 'import PIL' 2>/dev/null || skip_all "PIL not available (Debian: apt-get install python3-pil)"
CAP="$top_builddir/dltrain-caption"
EVAL="$top_builddir/dltrain-eval"

S="$WORK/scenes"
"$PYTHON_H5PY" "$top_srcdir/scripts/caption_scenes.py" --train 40 --val 12 --captions 3 --seed 5 "$S" \
    >/dev/null 2>&1
vocab=
for split in train val; do
    "$PREP" -q --format captions --annotations "$S/$split/captions.json" --images "$S/$split/images" \
        --gray --size 84x84 --min-count 1 ${vocab:+--vocab "$vocab"} --vocab-out "$WORK/$split.vocab" \
        "$WORK/$split.h5" >"$WORK/prep.log" 2>&1
    vocab="$WORK/train.vocab"
done
sed -e 's/batch_size: 16/batch_size: 4/' -e 's/batch_size: 50/batch_size: 8/' \
    "$top_srcdir/nets/caption_attention_train_val.prototxt" > "$WORK/att.prototxt"
sed -e "s#^net: .*#net: \"$WORK/att.prototxt\"#" -e 's/^test_iter: .*/test_iter: 1/' \
    -e 's/^base_lr: .*/base_lr: 0.003/' "$top_srcdir/nets/caption_attention_solver.prototxt" \
    > "$WORK/solver.prototxt"
RUN="$WORK/run"
train() { "$TRAIN" --solver "$WORK/solver.prototxt" --train "$WORK/train.h5" --val "$WORK/val.h5" \
    --run-dir "$RUN" --max-iter 40 > "$WORK/train.log" 2>&1; }
check "the attention captioner trains 40 iterations (one process)" train
check "the run keeps the training set's vocabulary (config/vocab.txt)" cmp -s "$RUN/config/vocab.txt" "$WORK/train.vocab"

cap() { "$CAP" --run-dir "$RUN" --log-prob "$@" 2> "$WORK/cap.err"; }
cap --data "$WORK/val.h5" > "$WORK/greedy.txt"
check "greedy: one line per val image, NAME<TAB>caption<TAB>log-prob, nothing else on stdout" \
    awk -F'\t' 'NF != 3 || $1 != NR - 1 {exit 1} END {exit NR != 12}' "$WORK/greedy.txt"
cap --data "$WORK/val.h5" --beam 1 > "$WORK/beam1.txt"
check "--beam 1 gives greedy's captions and log-probabilities" cmp "$WORK/greedy.txt" "$WORK/beam1.txt"
cap --data "$WORK/val.h5" --beam 4 > "$WORK/beam4.txt"
cap --data "$WORK/val.h5" --beam 4 --length-norm > "$WORK/norm4.txt"
out=$(paste "$WORK/greedy.txt" "$WORK/beam4.txt" "$WORK/norm4.txt" |
    awk -F'\t' '{g = $3; b = $6; n = $9; ge += (b >= g); le += (n <= b); diff += ($5 != $2)}
                END {printf "%d %d %d", ge, le, diff}')
set -- $out
echo "# beam 4 vs greedy: $3 of 12 captions differ"
[ "$1" = 12 ] && ok "beam 4: every caption's log-prob >= greedy's" ||
    { fail "beam 4 log-prob >= greedy for $1 of 12"; paste "$WORK/greedy.txt" "$WORK/beam4.txt" | sed 's/^/#   /'; }
[ "$2" = 12 ] && ok "--length-norm picks among the beams: log-prob <= the best sum" ||
    fail "--length-norm log-prob <= beam's for $2 of 12"

# The val JPEG files caption as their samples in the set (same decode and resize).
"$PYTHON_H5PY" -c 'import json, sys; d = json.load(open(sys.argv[1]))
print("\n".join(sys.argv[2] + "/" + im["file_name"] for im in d["images"][:5]))' \
    "$S/val/captions.json" "$S/val/images" > "$WORK/files.txt"
mapfile -t files < "$WORK/files.txt"
cap "${files[@]}" > "$WORK/files_cap.txt"
check "5 JPEG files: the captions of images 0-4 of the set" \
    cmp <(cut -f2,3 "$WORK/files_cap.txt") <(head -n 5 "$WORK/greedy.txt" | cut -f2,3)
cut -f1,2 "$WORK/greedy.txt" > "$WORK/greedy.hyp" # without the log-prob column
cut -f1,2 "$WORK/beam4.txt" > "$WORK/beam4.hyp"
if "$EVAL" --bleu --hyp "$WORK/greedy.hyp" --data "$WORK/val.h5" > "$WORK/bleu.txt" 2>&1 &&
    grep -q '^BLEU-4 ' "$WORK/bleu.txt"; then
    ok "dltrain-eval --bleu scores dltrain-caption's output: $(grep '^BLEU-4' "$WORK/bleu.txt" | tr -s ' ' | cut -d' ' -f1-2)"
else
    fail "dltrain-eval --bleu on the captions"; diag_file "$WORK/bleu.txt"
fi
"$EVAL" --bleu --hyp "$WORK/beam4.hyp" --data "$WORK/val.h5" > "$WORK/bleu4.txt" 2>&1
"$EVAL" --bleu --run-dir "$RUN" --data "$WORK/val.h5" > "$WORK/bleu_run.txt" 2>&1
"$EVAL" --bleu --run-dir "$RUN" --data "$WORK/val.h5" --beam 4 > "$WORK/bleu_run4.txt" 2>&1
check "dltrain-eval --bleu --run-dir [--beam 4] = dltrain-caption's output through --hyp" \
    bash -c "cmp <(grep -E '^(BLEU|brevity)' '$WORK/bleu.txt') <(grep -E '^(BLEU|brevity)' '$WORK/bleu_run.txt') &&
             cmp <(grep -E '^(BLEU|brevity)' '$WORK/bleu4.txt') <(grep -E '^(BLEU|brevity)' '$WORK/bleu_run4.txt')"

# --attention DIR: a strip per image whose red shows the weights of index.tsv.
ATT="$WORK/attention"
rm -rf "$ATT"
"$CAP" --run-dir "$RUN" --data "$WORK/val.h5" --beam 4 --attention "$ATT" > "$WORK/att_beam4.txt" 2> "$WORK/att.err"
check "--attention leaves the captions as they are (beam 4)" cmp <(cut -f1,2 "$WORK/att_beam4.txt") "$WORK/beam4.hyp"
if "$PYTHON_H5PY" - "$ATT" "$WORK/beam4.hyp" > "$WORK/att_check.txt" 2>&1 <<'PY'
import sys
import numpy as np
from PIL import Image
att, hyp = sys.argv[1], sys.argv[2]
caps = [l.rstrip("\n").split("\t")[1] for l in open(hyp)]
rows = [l.rstrip("\n").split("\t") for l in open(att + "/index.tsv")]
assert len(rows) == len(caps) == 12, "%d rows for %d captions" % (len(rows), len(caps))
html = open(att + "/index.html").read()
worst, cells = 0.0, 0
for i, (f, name, cap, maps) in enumerate(rows):
    assert name == str(i) and cap == caps[i], "row %d: %s %s" % (i, name, cap)
    words = cap.split()
    steps = [[float(v) for v in s.split(",")] for s in maps.split(";")] if words else []
    assert len(steps) == len(words), "row %d: %d maps for %d words" % (i, len(steps), len(words))
    img = np.asarray(Image.open(att + "/" + f).convert("RGB")).astype(float)
    assert img.shape == (168, (len(words) + 1) * 172 - 4, 3), "%s: %s" % (f, img.shape)
    assert 'src="%s"' % f in html
    for k, a in enumerate(steps):
        assert len(a) == 9 and abs(sum(a) - 1) < 1e-3, "row %d step %d: %s" % (i, k, a)
        panel = img[:, (k + 1) * 172:(k + 1) * 172 + 168]
        for l in range(9):  # the inside of each 56 x 56 cell, away from JPEG's chroma edges
            y, x = divmod(l, 3)
            cell = panel[y * 56 + 12:y * 56 + 44, x * 56 + 12:x * 56 + 44]
            red = (cell[..., 0] - cell[..., 1]).mean()
            worst = max(worst, abs(red - 115 * a[l] / max(a)))
            cells += 1
print("%d cells: red - green within %.1f of 115 x weight / largest" % (cells, worst))
sys.exit(1 if worst > 20 else 0)
PY
then ok "--attention: index.tsv, index.html and 12 strips; $(cat "$WORK/att_check.txt")"
else fail "--attention output"; diag_file "$WORK/att_check.txt"; diag_file "$WORK/att.err"; fi
# A strip that cannot be written (its name taken by a directory) stops the
# maps, not the captions: all 12 printed, then exit 1 naming the file.
mkdir -p "$WORK/att_bad/000003.jpg"
"$CAP" --run-dir "$RUN" --data "$WORK/val.h5" --attention "$WORK/att_bad" > "$WORK/att_bad.txt" 2> "$WORK/att_bad.err"
st=$?
if [ $st -eq 1 ] && cmp -s <(cut -f1,2 "$WORK/att_bad.txt") "$WORK/greedy.hyp" &&
    grep -q "att_bad/000003.jpg" "$WORK/att_bad.err"; then
    ok "--attention write error: the 12 captions printed, exit 1 naming the strip"
else
    fail "--attention write error (exit $st)"; diag_file "$WORK/att_bad.err"
fi

bad() { # DESCRIPTION PATTERN ARGS...: exit 1 and PATTERN in the message
    local d=$1 pat=$2
    shift 2
    "$CAP" "$@" > "$WORK/bad.out" 2>&1
    local st=$?
    if [ $st -ne 0 ] && grep -q "$pat" "$WORK/bad.out"; then ok "$d (exit $st)"; else
        fail "$d (exit $st)"; diag_file "$WORK/bad.out"; fi
}
mkdir -p "$WORK/empty/config" "$WORK/empty/checkpoints"
bad "a run without a checkpoint" "no checkpoint in $WORK/empty/checkpoints" --run-dir "$WORK/empty" "${files[0]}"
cp -r "$RUN" "$WORK/classifier"
cat > "$WORK/classifier/config/net.prototxt" <<'NET'
layer { name: "d" type: "Data" top: "data" top: "label" data_param { batch_size: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 10 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
NET
bad "a net without caption data" "not a caption net" --run-dir "$WORK/classifier" "${files[0]}"
bad "a missing image file" "$WORK/nothere.jpg" --run-dir "$RUN" "${files[0]}" "$WORK/nothere.jpg"
bad "a beam wider than the TEST batch" "wider than the TEST batch_size 8" --run-dir "$RUN" --beam 9 "${files[0]}"
cp -r "$RUN" "$WORK/lrcn"
sed -e 's/batch_size: 16/batch_size: 4/' -e 's/batch_size: 50/batch_size: 8/' \
    "$top_srcdir/nets/caption_lrcn_train_val.prototxt" > "$WORK/lrcn/config/net.prototxt"
bad "--attention with a net without AttentionLSTM (the LRCN)" "needs an AttentionLSTM layer" \
    --run-dir "$WORK/lrcn" --attention "$WORK/att_none" "${files[0]}"
"$CAP" --run-dir "$RUN" > "$WORK/usage.out" 2>&1
check "no images and no --data: usage, exit 2" test $? -eq 2
done_testing
