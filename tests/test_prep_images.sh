#!/bin/bash
# test_prep_images.sh - dltrain-prep on class folders (each resize mode), a
# list file, CIFAR-10/100 binaries, JPEG storage, bad inputs, --val-percent
# and an interrupted build; h5py + numpy + PIL check the files independently.
. "$(dirname "$0")/lib.sh"

have_h5py || skip_all "h5py not available to $PYTHON_H5PY (Debian: apt-get install python3-h5py)"
"$PYTHON_H5PY" -c 'import PIL' 2>/dev/null || skip_all "PIL not available (Debian: apt-get install python3-pil)"
[ -x "$PREP" ] || skip_all "$PREP not built"
CHECK="$PYTHON_H5PY $top_srcdir/tests/prep_images_check.py"
D="$WORK/in"
$CHECK gen "$D" || { fail "generating inputs"; done_testing; }

# Run the checker; turn its ok/not ok lines into TAP.
pycheck() {
    local out
    out=$($CHECK "$@" 2>&1)
    while IFS= read -r line; do
        case $line in
        "ok "*) ok "${line#ok }" ;;
        "not ok "*) fail "${line#not ok }" ;;
        *) [ -n "$line" ] && echo "# $line" ;;
        esac
    done <<<"$out"
}
# prep EXPECTED_STATUS NAME ARGS...: run dltrain-prep, check its exit status.
prep() {
    local want=$1 name=$2; shift 2
    "$PREP" -q "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
    local rc=$?
    if [ $rc -eq "$want" ]; then ok "$name: dltrain-prep exits $want"
    else fail "$name: dltrain-prep exits $want (got $rc)"; diag_file "$WORK/$name.err"; fi
}

for mode in squash crop fill half_crop; do
    prep 0 "folder $mode" --format folder --size 32x32 --resize $mode "$D/folder" "$WORK/f_$mode.h5"
    pycheck folder "$WORK/f_$mode.h5" "$D/folder" $mode 32 32
done
# Enlarging (bilinear) with fill, and a 512x384 JPEG decoded at reduced DCT scale.
prep 0 "fill up" --format folder --size 100x60 --resize fill "$D/folder" "$WORK/up.h5"
pycheck folder "$WORK/up.h5" "$D/folder" fill 100 60
prep 0 "scaled decode" --format folder --size 48x40 --resize half_crop "$D/big" "$WORK/big.h5"
pycheck folder "$WORK/big.h5" "$D/big" half_crop 48 40

prep 0 "cifar10" --format cifar10 "$D/data_batch_1.bin" "$D/data_batch_2.bin" "$WORK/c10.h5"
pycheck cifar "$WORK/c10.h5" 1 color "$D/data_batch_1.bin" "$D/data_batch_2.bin"
prep 0 "cifar10 gray" --format cifar10 --gray "$D/data_batch_1.bin" "$D/data_batch_2.bin" "$WORK/c10g.h5"
pycheck cifar "$WORK/c10g.h5" 1 gray "$D/data_batch_1.bin" "$D/data_batch_2.bin"
prep 0 "cifar100" --format cifar100 "$D/train.bin" "$WORK/c100.h5"
pycheck cifar "$WORK/c100.h5" 2 color "$D/train.bin"
head -c 3000 "$D/data_batch_1.bin" >"$WORK/short.bin"
prep 1 "cifar of the wrong size" --format cifar10 "$WORK/short.bin" "$WORK/short.h5"
check "cifar of the wrong size: message names the file and record size" \
    grep -q "short.bin.*3073-byte" "$WORK/cifar of the wrong size.err"

# List file: label 7 with 3 classes is skipped and reported (status 3).
prep 3 "list" --format list --root "$D/root" --classes "$D/classes3.txt" --size 32x32 \
    "$D/list.txt" "$WORK/l.h5"
pycheck list "$WORK/l.h5" "$D/root"
check "list: report names the out-of-range label" grep -q "im 0.jpg.*label 7 outside" "$WORK/l.h5.skipped.txt"
printf 'a.jpg 1\nno-label-here\n' >"$WORK/badlist.txt"
prep 1 "malformed list" --format list "$WORK/badlist.txt" "$WORK/bl.h5"
check "malformed list: error names file:line" grep -q "badlist.txt:2:" "$WORK/malformed list.err"

prep 0 "jpeg" --format folder --size 32x32 --encoding jpeg "$D/folder" "$WORK/fj.h5"
pycheck jpeg "$WORK/fj.h5" "$WORK/f_squash.h5" "$D/folder/cat/small.jpg"

prep 3 "bad inputs" --format folder --size 32x32 --threads 2 "$D/bad" "$WORK/bad.h5"
pycheck bad "$WORK/bad.h5" "$WORK/bad.h5.skipped.txt" "$D/bad"
check "bad inputs: no report when nothing is skipped" test ! -e "$WORK/f_squash.h5.skipped.txt"

prep 0 "val split" --format folder --size 32x32 --val-percent 25 --shuffle --seed 3 "$D/folder" "$WORK/v.h5"
"$PYTHON_H5PY" - "$WORK/v.h5" "$WORK/v_val.h5" "$WORK/f_squash.h5" >"$WORK/val.py" 2>&1 <<'PY'
import sys, h5py, numpy as np
t, v, a = (h5py.File(p, "r") for p in sys.argv[1:4])
print("ok" if (len(t["label"]), len(v["label"])) == (9, 3) else "not ok sizes")
key = lambda f: sorted(map(bytes, f["data"][...].reshape(len(f["label"]), -1)))
print("ok" if key(t) + key(v) and sorted(key(t) + key(v)) == key(a) else "not ok union")
PY
check "val split: 9 + 3 samples that together are the whole set" test "$(grep -c '^ok' "$WORK/val.py")" -eq 2

# Interrupt: SIGINT during a build leaves no output and no temporary file.
mkdir -p "$WORK/many/x"
for i in $(seq 1 300); do ln -sf "$D/big/grad/big.jpg" "$WORK/many/x/$i.jpg"; done
"$PREP" -q --format folder --threads 1 --size 256x256 "$WORK/many" "$WORK/int.h5" 2>/dev/null &
pid=$!
sleep 0.5
kill -INT $pid
wait $pid
rc=$?
check "interrupted: killed by SIGINT (status $rc)" test $rc -eq 130
check "interrupted: no output file" test ! -e "$WORK/int.h5"
check "interrupted: no temporary files" test -z "$(ls "$WORK" | grep 'int.h5')"

done_testing
