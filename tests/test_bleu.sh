#!/bin/bash
# test_bleu.sh - dltrain-eval --bleu equals NLTK's corpus_bleu (Debian's
# python3-nltk) on the same tokens: NLTK's docstring example, 20 random
# corpora, and hypotheses scored against a caption set's references
# (tests/bleu_check.py); bad token files and command lines are refused.
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
