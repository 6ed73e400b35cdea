#!/bin/bash
# test_prep_captions.sh - dltrain-prep --format captions on scenes from
# scripts/caption_scenes.py: the schema and every caption checked with h5py
# (tests/prep_captions_check.py), a shared vocabulary (--vocab, --vocab-out),
# the tokenizer's rule, bad records skipped and named, bad files refused,
# JPEG storage, --val-percent, damaged caption tables refused at open, and
# mpirun -np 2 equal to one process.
. "$(dirname "$0")/lib.sh"

have_h5py || skip_all "h5py not available to $PYTHON_H5PY (Debian: apt-get install python3-h5py)"
"$PYTHON_H5PY" -c 'import PIL' 2>/dev/null || skip_all "PIL not available (Debian: apt-get install python3-pil)"
have_fmnist || skip_all "Fashion-MNIST not in $FMNIST_DIR (Debian: apt-get install dataset-fashion-mnist)"
[ -x "$PREP" ] || skip_all "$PREP not built"
CHECK="$PYTHON_H5PY $top_srcdir/tests/prep_captions_check.py"
S="$WORK/scenes"

# Run the checker; its ok/not ok lines become TAP, and a checker that
# crashes (or checks nothing) is a failure too.
pycheck() {
    local out rc
    out=$($CHECK "$@" 2>&1)
    rc=$?
    grep -q "^ok \|^not ok " <<<"$out" && [ $rc -eq 0 ] || fail "prep_captions_check.py $1 ${2##*/} ran (exit $rc)"
    while IFS= read -r line; do
        case $line in
        "ok "*) ok "${line#ok }" ;;
        "not ok "*) fail "${line#not ok }" ;;
        *) [ -n "$line" ] && echo "# $line" ;;
        esac
    done <<<"$out"
}
# prep EXPECTED_STATUS NAME ARGS...
prep() {
    local want=$1 name=$2; shift 2
    "$PREP" --progress lines "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
    local rc=$?
    if [ $rc -eq "$want" ]; then ok "$name: dltrain-prep exits $want"
    else fail "$name: dltrain-prep exits $want (got $rc)"; diag_file "$WORK/$name.err"; fi
}

"$PYTHON_H5PY" "$top_srcdir/scripts/caption_scenes.py" --train 60 --val 20 --seed 3 "$S" \
    >"$WORK/gen.out" 2>&1
check "caption_scenes.py writes train and val (COCO JSON, JPEG images)" \
    test -f "$S/train/captions.json" -a -f "$S/val/captions.json" -a -f "$S/val/images/1000000.jpg"

prep 0 train --format captions --annotations "$S/train/captions.json" --images "$S/train/images" \
    --gray --size 84x84 --min-count 1 --vocab-out "$WORK/vocab.txt" "$WORK/train.h5"
pycheck check "$WORK/train.h5" "$S/train/captions.json" "$S/train/images"
check "--vocab-out: 4 reserved words, then the vocabulary" \
    test "$(head -4 "$WORK/vocab.txt" | tr '\n' ' ')" = "<pad> <start> <end> <unk> "
prep 0 val --format captions --annotations "$S/val/captions.json" --images "$S/val/images" \
    --gray --size 84x84 --vocab "$WORK/vocab.txt" "$WORK/val.h5"
pycheck check "$WORK/val.h5" "$S/val/captions.json" "$S/val/images"
vocab_of() { "$PYTHON_H5PY" -c 'import sys,h5py; print("\n".join(w.decode() if isinstance(w,bytes) else w for w in h5py.File(sys.argv[1],"r")["vocab"][:]))' "$1"; }
check "val shares the training vocabulary (--vocab)" cmp -s <(vocab_of "$WORK/val.h5") "$WORK/vocab.txt"
grep -q "captions 100, vocabulary" "$WORK/val.out" && ok "summary: captions and vocabulary size" ||
    { fail "summary: captions and vocabulary size"; diag_file "$WORK/val.out"; }
prep 0 mincount --format captions --annotations "$S/train/captions.json" --images "$S/train/images" \
    --gray --size 84x84 --min-count 100000 "$WORK/rare.h5"
check "--min-count above every count: only the reserved words, every word <unk>" \
    test "$(vocab_of "$WORK/rare.h5" | wc -l)" = 4

prep 0 maxwords --format captions --annotations "$S/train/captions.json" --images "$S/train/images" \
    --gray --size 84x84 --min-count 1 --max-words 3 "$WORK/short.h5"
"$PYTHON_H5PY" - "$WORK/short.h5" "$WORK/train.h5" <<'PYEOF' >"$WORK/short.txt" 2>&1
import sys, h5py, numpy as np
s, t = (h5py.File(p, "r") for p in sys.argv[1:])
assert s["captions"].shape == (300, 3) and s.attrs["caption_max_words"] == 3
assert (s["caption_length"][:] == np.minimum(t["caption_length"][:], 3)).all()
vs, vt = ([w.decode() if isinstance(w, bytes) else w for w in f["vocab"][:]] for f in (s, t))
assert [[vs[w] for w in c] for c in s["captions"][:]] == \
       [[vt[w] for w in c] for c in t["captions"][:, :3]]  # ids differ: counted over 3 words
PYEOF
[ $? -eq 0 ] && ok "--max-words 3: every caption cut to its first 3 words" ||
    { fail "--max-words 3"; diag_file "$WORK/short.txt"; }

# The tokenizer: lower case, apostrophes dropped, split on the rest, UTF-8 kept.
T="$WORK/tok"
mkdir -p "$T"
cp "$S/train/images/000000.jpg" "$T/a.jpg"
cat >"$T/c.json" <<'JSON'
{"images": [{"id": 7, "file_name": "a.jpg"}],
 "annotations": [{"image_id": 7, "caption": "A Man's HAT, on-the  caf\u00e9 table!!\n"}]}
JSON
prep 0 tokenizer --format captions --annotations "$T/c.json" --images "$T" --gray --size 84x84 \
    --min-count 1 "$WORK/tok.h5"
got=$($CHECK caption "$WORK/tok.h5" 0)
[ "$got" = "a mans hat on the café table" ] && ok "tokenized: '$got'" ||
    fail "tokenized: '$got', expected 'a mans hat on the café table'"

# Bad records: skipped, counted (exit 3), named on stderr and in the report.
B="$WORK/bad"
mkdir -p "$B"
cp "$S/train/images/"00000[0-4].jpg "$B/"
head -c 300 "$S/train/images/000005.jpg" >"$B/cut.jpg"          # truncated JPEG
echo "not a jpeg" >"$B/text.jpg"
cat >"$B/c.json" <<'JSON'
{"images": [{"id": 0, "file_name": "000000.jpg"}, {"id": 1, "file_name": "000001.jpg"},
            {"id": 2, "file_name": "000002.jpg"}, {"id": 3, "file_name": "missing.jpg"},
            {"id": 4, "file_name": "cut.jpg"}, {"id": 5, "file_name": "text.jpg"},
            {"id": 1, "file_name": "000003.jpg"}, {"file_name": "000004.jpg"},
            {"id": 9, "file_name": "000004.jpg"}],
 "annotations": [{"id": 100, "image_id": 0, "caption": "a bag above a coat"},
                 {"id": 101, "image_id": 0, "caption": "two bags"},
                 {"id": 102, "image_id": 1, "caption": "a shirt"},
                 {"id": 103, "image_id": 2, "caption": "?!? ..."},
                 {"id": 104, "image_id": 2, "caption": "a boot on the left"},
                 {"id": 105, "image_id": 3, "caption": "a dress"},
                 {"id": 106, "image_id": 4, "caption": "a coat"},
                 {"id": 107, "image_id": 5, "caption": "a sandal"},
                 {"id": 108, "image_id": 42, "caption": "a top"},
                 {"id": 109, "image_id": 1}]}
JSON
prep 3 "bad records" --format captions --annotations "$B/c.json" --images "$B" --gray \
    --size 84x84 --min-count 1 "$WORK/bad.h5"
R="$WORK/bad.h5.skipped.txt"
for what in "annotations\[3\] (id 103).*no words" "annotations\[8\] (id 108).*image_id 42 is not" \
    "annotations\[9\] (id 109).*no integer" "images\[6\].*repeats image id 1" \
    "images\[7\].*no integer \"id\"" "images\[8\] (id 9, 000004.jpg).*has no captions" \
    "missing.jpg.*cannot read" "cut.jpg" "text.jpg.*not an image"; do
    grep -q "$what" "$R" && ok "skip report names: $what" || { fail "skip report names: $what"; diag_file "$R"; }
done
grep -q "skipped .*annotations\[3\] (id 103)" "$WORK/bad records.err" &&
    ok "stderr names the skipped records" || { fail "stderr names the skipped records"; diag_file "$WORK/bad records.err"; }
grep -q "dropped  3 captions of skipped images" "$WORK/bad records.out" &&
    ok "captions of images that did not decode are dropped and counted" ||
    { fail "dropped captions counted"; diag_file "$WORK/bad records.out"; }
pycheck check "$WORK/bad.h5" "$B/c.json" "$B"

# Whole-file errors: exit 1 naming the file (and line:column for JSON).
printf '{"images": [{"id": 1,, }]}' >"$B/broken.json"
prep 1 "broken JSON" --format captions --annotations "$B/broken.json" --images "$B" "$WORK/x.h5"
grep -q "broken.json:1:[0-9]*: not valid JSON" "$WORK/broken JSON.err" && ok "names file:line:column" ||
    { fail "names file:line:column"; diag_file "$WORK/broken JSON.err"; }
echo '{"images": []}' >"$B/noann.json"
prep 1 "no annotations" --format captions --annotations "$B/noann.json" --images "$B" "$WORK/x.h5"
printf '<pad>\n<begin>\n' >"$B/v.txt"
prep 1 "bad vocabulary" --format captions --annotations "$B/c.json" --images "$B" --vocab "$B/v.txt" "$WORK/x.h5"
grep -q "v.txt:2: expected '<start>'" "$WORK/bad vocabulary.err" && ok "names vocab file:line" ||
    { fail "names vocab file:line"; diag_file "$WORK/bad vocabulary.err"; }
prep 2 "usage" --format captions "$WORK/x.h5"
check "nothing written under the output's name after errors" test ! -e "$WORK/x.h5"

# JPEG storage and a split by image: the captions follow their images.
prep 0 "jpeg split" --format captions --annotations "$S/train/captions.json" --images "$S/train/images" \
    --gray --size 84x84 --encoding jpeg --val-percent 25 --min-count 1 "$WORK/j.h5"
"$PYTHON_H5PY" - "$WORK/j.h5" "$WORK/j_val.h5" <<'PYEOF' >"$WORK/split.txt" 2>&1
import sys, h5py
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
assert "jpeg" in a and "jpeg" in b
assert a["caption_image"][:].max() < len(a["jpeg"]) and b["caption_image"][:].max() < len(b["jpeg"])
assert len(a["jpeg"]) + len(b["jpeg"]) == 60 and len(a["captions"]) + len(b["captions"]) == 300
assert list(a["vocab"][:]) == list(b["vocab"][:])
print(len(a["jpeg"]), len(b["jpeg"]))
PYEOF
[ $? -eq 0 ] && ok "--encoding jpeg --val-percent 25: $(cat "$WORK/split.txt") images, 300 captions in all, one vocabulary" ||
    { fail "--encoding jpeg --val-percent 25"; diag_file "$WORK/split.txt"; }

# Damaged caption tables are refused at open, naming the file and caption.
damage() { # NAME PYTHON-STATEMENTS EXPECTED-MESSAGE
    cp "$WORK/val.h5" "$WORK/d_$1.h5"
    "$PYTHON_H5PY" -c "import h5py; f = h5py.File('$WORK/d_$1.h5', 'r+'); $2" ||
        { fail "damaging $1"; return; }
    "$top_builddir/dltrain-eval" --bleu --hyp "$WORK/h0.txt" --data "$WORK/d_$1.h5" >/dev/null 2>"$WORK/d_$1.err"
    local rc=$?
    [ $rc -eq 1 ] && grep -q "$3" "$WORK/d_$1.err" && ok "$1: refused at open ($3)" ||
        { fail "$1: refused at open with '$3' (exit $rc)"; diag_file "$WORK/d_$1.err"; }
}
echo "0 a bag" >"$WORK/h0.txt"
damage "flipped word" "f['captions'][5, 0] = f['captions'][5, 0] + 1" "do not match their CRC-32C"
damage "word outside the vocabulary" "f['captions'][5, 0] = 9999; del f.attrs['caption_crc32c']" \
    "caption 5, word 0: id 9999"
damage "image out of range" "f['caption_image'][7] = 20; del f.attrs['caption_crc32c']" "caption 7 belongs to image 20"
damage "length past T_max" "f['caption_length'][2] = 99; del f.attrs['caption_crc32c']" "caption 2 has length 99"
damage "no vocabulary" "del f['vocab']" "has /captions but no /vocab"

if command -v "$MPIRUN" >/dev/null; then
    timeout 120 "$MPIRUN" -np 2 "$PREP" -q --format captions --annotations "$B/c.json" --images "$B" \
        --gray --size 84x84 --min-count 1 --threads 1 "$WORK/bad2.h5" >"$WORK/mpi.log" 2>&1
    rc=$?
    [ $rc -eq 3 ] && ok "mpirun -np 2: exit 3 (bad records skipped)" ||
        { fail "mpirun -np 2: exit 3 (got $rc)"; diag_file "$WORK/mpi.log"; }
    pycheck same "$WORK/bad.h5" "$WORK/bad2.h5"
    cmp -s "$WORK/bad.h5.skipped.txt" "$WORK/bad2.h5.skipped.txt" && ok "mpirun -np 2: same skip report" ||
        fail "mpirun -np 2: same skip report"
else
    echo "ok $((tap_n += 1)) # SKIP $MPIRUN not found"
fi
done_testing
