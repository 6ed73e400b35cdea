#!/bin/bash
# test_prep_robust.sh - dltrain-prep with hostile folders and signals: a FIFO
# (and a socket) named *.jpg among the images is skipped, named in
# OUT.skipped.txt and counted, instead of blocking forever; a class folder
# that is a symlink to another class (or a subfolder linking into one) is
# refused naming both; SIGINT, SIGTERM and SIGHUP remove the temporary
# files and say so.
. "$(dirname "$0")/lib.sh"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
[ -x "$PREP" ] || skip_all "programs not built"
"$PYTHON_H5PY" -c 'import PIL' 2>/dev/null || skip_all "python3 PIL not found (apt-get install python3-pil)"

"$PYTHON_H5PY" - "$WORK/img" <<'PY'
import os, sys
import numpy as np
from PIL import Image
r = np.random.RandomState(2)
for c in "ab":
    os.makedirs(os.path.join(sys.argv[1], c))
    for i in range(6):
        Image.fromarray((r.rand(20, 20, 3) * 255).astype(np.uint8)).save(
            os.path.join(sys.argv[1], c, "%d.jpg" % i))
PY
mkfifo "$WORK/img/a/fifo.jpg"
"$PYTHON_H5PY" -c "import socket; socket.socket(socket.AF_UNIX).bind('$WORK/img/b/sock.jpg')"
timeout 60 "$PREP" --format folder --size 16x16 "$WORK/img" "$WORK/out.h5" >"$WORK/fifo.txt" 2>&1
rc=$?
check "a FIFO and a socket named *.jpg: no hang, written with skips (exit $rc)" test $rc -eq 3
check "... the FIFO named in out.h5.skipped.txt" \
    grep -q "img/a/fifo.jpg.*not a regular file (a FIFO)" "$WORK/out.h5.skipped.txt"
check "... the socket too" grep -q "img/b/sock.jpg.*not a regular file (a socket)" "$WORK/out.h5.skipped.txt"
check "... counted: 2 skipped, 12 written" \
    bash -c "grep -q 'skipped  2 bad inputs' '$WORK/fifo.txt' && grep -q '(12 samples)' '$WORK/fifo.txt'"
rm -f "$WORK/img/a/fifo.jpg" "$WORK/img/b/sock.jpg"

ln -s a "$WORK/img/c"
timeout 60 "$PREP" -q --format folder --size 16x16 "$WORK/img" "$WORK/link.h5" >"$WORK/link.txt" 2>&1
rc=$?
check "class folder c a symlink to class a: refused (exit $rc)" test $rc -eq 1
check "... naming both folders" grep -q "img/a and .*img/c are the same folder" "$WORK/link.txt"
check "... and nothing written" test ! -e "$WORK/link.h5"
rm "$WORK/img/c"
ln -s ../b "$WORK/img/a/more"
timeout 60 "$PREP" -q --format folder --size 16x16 "$WORK/img" "$WORK/link.h5" >"$WORK/link2.txt" 2>&1
rc=$?
check "a subfolder of class a linking to class b: refused (exit $rc), both named" \
    grep -q "img/a/more and .*img/b are the same folder" "$WORK/link2.txt"
rm "$WORK/img/a/more"

# Signals: a CIFAR-layout set re-encoded as JPEG takes long enough to be caught writing.
"$PYTHON_H5PY" -c "
import numpy as np
r = np.random.RandomState(1)
np.concatenate([r.randint(0, 10, (60000, 1)), r.randint(0, 256, (60000, 3072))], 1).astype(np.uint8).tofile('$WORK/big.bin')"
for sig in INT TERM HUP; do
    rm -f "$WORK"/sig.h5*
    "$PREP" -q --threads 1 --format cifar10 --encoding jpeg "$WORK/big.bin" "$WORK/sig.h5" \
        >"$WORK/sig_$sig.txt" 2>&1 &
    pid=$!
    for _ in $(seq 300); do ls "$WORK"/sig.h5.tmp-* >/dev/null 2>&1 && break; sleep 0.05; done
    had=$(ls "$WORK"/sig.h5.tmp-* 2>/dev/null | wc -l)
    sleep 0.3
    kill -$sig $pid
    wait $pid
    rc=$?
    left=$(ls "$WORK" | grep -c "sig.h5")
    check "SIG$sig while writing (temporary file seen: $had): dies of it (exit $rc), nothing left" \
        test "$had" -ge 1 -a $rc -gt 128 -a "$left" -eq 0
    check "... and says it removed the temporary file" \
        grep -q "dltrain-prep: .*(SIG$sig); removed .*sig.h5.tmp-$pid" "$WORK/sig_$sig.txt"
done

done_testing
