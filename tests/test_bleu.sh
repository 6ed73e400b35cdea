#!/bin/bash
# test_bleu.sh - dltrain-eval --bleu equals NLTK's corpus_bleu (Debian's
# python3-nltk) on the same tokens: NLTK's docstring example, 20 random
# corpora, and hypotheses scored against a caption set's references
# (tests/bleu_check.py); caption_scenes.py --val-captions all and
# bench/caption_exact.py; bad token files and command lines are refused.
. "$(dirname "$0")/lib.sh"

EVAL="$top_builddir/dltrain-eval"
have_h5py || skip_all "h5py not available to $PYTHON_H5PY (Debian: apt-get install python3-h5py)"
"$PYTHON_H5PY" -c 'import nltk' 2>/dev/null || skip_all "NLTK not available to $PYTHON_H5PY (Debian: apt-get install python3-nltk)"
"$PYTHON_H5PY" -c 'import PIL' 2>/dev/null || skip_all "PIL not available (Debian: apt-get install python3-pil)"
have_fmnist || skip_all "Fashion-MNIST not in $FMNIST_DIR (Debian: apt-get install dataset-fashion-mnist)"
[ -x "$EVAL" ] && [ -x "$PREP" ] || skip_all "dltrain-eval or dltrain-prep not built"

S="$WORK/scenes"
"$PYTHON_H5PY" "$top_srcdir/scripts/caption_scenes.py" --train 10 --val 40 --seed 5 "$S" >/dev/null &&
    "$PREP" -q --format captions --annotations "$S/val/captions.json" --images "$S/val/images" \
        --gray --size 84x84 --min-count 2 "$WORK/val.h5" >"$WORK/prep.log" 2>&1
check "a caption set to score against (40 scenes)" test -f "$WORK/val.h5"

out=$("$PYTHON_H5PY" "$top_srcdir/tests/bleu_check.py" "$EVAL" "$WORK" "$WORK/val.h5" 2>&1)
check "bleu_check.py ran to the end" test $? -eq 0
n=0
while IFS= read -r line; do
    case $line in
    "ok "*) ok "${line#ok }"; n=$((n + 1)) ;;
    "not ok "*) fail "${line#not ok }"; n=$((n + 1)) ;;
    *) [ -n "$line" ] && echo "# $line" ;;
    esac
done <<<"$out"
check "bleu_check.py compared 22 corpora" test "$n" -eq 22

# --val-captions all: every caption of the grammar per val scene (5 for two
# items, 10 for three), the same scenes and train split; bench/caption_exact.py
# counts a hypothesis equal to one of them as exact.
S2="$WORK/scenes-all"
"$PYTHON_H5PY" "$top_srcdir/scripts/caption_scenes.py" --train 10 --val 40 --seed 5 --val-captions all "$S2" >/dev/null
check "--val-captions all: the train split is the default run's" cmp -s "$S/train/captions.json" "$S2/train/captions.json"
check "--val-captions all: the val images are the default run's" cmp -s "$S/val/images/1000039.jpg" "$S2/val/images/1000039.jpg"
"$PYTHON_H5PY" - "$S/val/captions.json" "$S2/val/captions.json" >"$WORK/all.txt" 2>&1 <<'PY'
import json, sys
five, every = (json.load(open(p)) for p in sys.argv[1:])
def by_image(d):
    m = {}
    for a in d["annotations"]:
        m.setdefault(a["image_id"], []).append(a["caption"])
    return m
five, every = by_image(five), by_image(every)
assert five.keys() == every.keys(), "other images"
for i in five:
    assert set(five[i]) <= set(every[i]), "image %d: a default caption is not among all" % i
    assert len(every[i]) == len(set(every[i])) and len(every[i]) in (5, 10), "image %d: %d" % (i, len(every[i]))
print("captions per scene:", sorted(set(len(v) for v in every.values())))
PY
check "--val-captions all: 5 or 10 distinct captions per scene, the default 5 among them" test $? -eq 0
diag_file "$WORK/all.txt"
"$PYTHON_H5PY" "$top_srcdir/scripts/caption_scenes.py" --val-captions 0 "$WORK/bad" >/dev/null 2>"$WORK/vc.txt"
[ $? -eq 2 ] && grep -q -- "--val-captions: a positive number or 'all'" "$WORK/vc.txt" &&
    ok "--val-captions 0: refused, exit 2" || { fail "--val-captions 0: refused, exit 2"; diag_file "$WORK/vc.txt"; }
"$PREP" -q --format captions --annotations "$S2/val/captions.json" --images "$S2/val/images" \
    --gray --size 84x84 --min-count 1 \
    "$WORK/val-all.h5" >"$WORK/prep-all.log" 2>&1
check "a caption set with every caption per scene" test -f "$WORK/val-all.h5"
# One reference per scene as the hypothesis: all exact; one word changed: one fewer.
"$PYTHON_H5PY" - "$WORK/val-all.h5" >"$WORK/hyp-ref.txt" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
vocab = [w.decode() for w in f["vocab"][:]]
seen = set()
for cap, n, i in zip(f["captions"][:], f["caption_length"][:], f["caption_image"][:]):
    if int(i) not in seen:
        seen.add(int(i))
        print("%d\t%s" % (i, " ".join(vocab[t] for t in cap[:n])))
PY
sed '1s/\t\([a-z]*\) /\tthe /' "$WORK/hyp-ref.txt" >"$WORK/hyp-one-off.txt"
e1=$("$PYTHON_H5PY" "$top_srcdir/bench/caption_exact.py" "$WORK/hyp-ref.txt" "$WORK/val-all.h5")
e2=$("$PYTHON_H5PY" "$top_srcdir/bench/caption_exact.py" "$WORK/hyp-one-off.txt" "$WORK/val-all.h5")
check "caption_exact.py: a reference per scene is exact 40 of 40 ($e1)" test "$e1" = "exact: 40 of 40 (100.0%)"
check "caption_exact.py: one word changed, 39 of 40 ($e2)" test "$e2" = "exact: 39 of 40 (97.5%)"

# Errors name the file and line; usage errors exit 2.
printf 'a w1 w2\nb w3\n' >"$WORK/h.txt"
printf 'a w1 w2\n' >"$WORK/r.txt"
"$EVAL" --bleu --hyp "$WORK/h.txt" --refs "$WORK/r.txt" >/dev/null 2>"$WORK/e1.txt"
[ $? -eq 1 ] && grep -q "h.txt:2: key 'b' has no reference" "$WORK/e1.txt" &&
    ok "a hypothesis without references: exit 1, names file:line" ||
    { fail "a hypothesis without references: exit 1, names file:line"; diag_file "$WORK/e1.txt"; }
printf 'a w1\na w2\n' >"$WORK/h2.txt"
"$EVAL" --bleu --hyp "$WORK/h2.txt" --refs "$WORK/r.txt" >/dev/null 2>"$WORK/e2.txt"
[ $? -eq 1 ] && grep -q "h2.txt:2: repeats the key of line 1" "$WORK/e2.txt" &&
    ok "a repeated key: exit 1, names the lines" || { fail "a repeated key"; diag_file "$WORK/e2.txt"; }
printf '40 a bag\n' >"$WORK/h3.txt"
"$EVAL" --bleu --hyp "$WORK/h3.txt" --data "$WORK/val.h5" >/dev/null 2>"$WORK/e3.txt"
[ $? -eq 1 ] && grep -q "h3.txt:1: key '40' is not an image index" "$WORK/e3.txt" &&
    ok "an image index past the set: exit 1, names file:line" || { fail "image index past the set"; diag_file "$WORK/e3.txt"; }
"$EVAL" --bleu --hyp "$WORK/h.txt" >/dev/null 2>&1
check "--bleu without references: exit 2" test $? -eq 2
"$EVAL" --bleu --hyp "$WORK/h.txt" --refs "$WORK/r.txt" --data "$WORK/val.h5" >/dev/null 2>&1
check "--bleu with both --refs and --data: exit 2" test $? -eq 2
done_testing
