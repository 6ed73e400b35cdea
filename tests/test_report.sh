#!/bin/bash
# test_report.sh - dltrain-report on a real run directory: the page is
# self-contained (no scripts, no external URLs), has its charts and summary,
# survives a torn last line and a missing system.jsonl, and renders in
# headless Chromium (screenshot with non-white chart pixels; DOM with SVG
# paths that have points).
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }
REPORT="$top_builddir/dltrain-report"

cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
sed -e 's/^test_interval:.*/test_interval: 20/' -e 's/^test_iter:.*/test_iter: 2/' \
    -e 's/^display:.*/display: 5/' -e 's/^snapshot:.*/snapshot: 20/' \
    "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/solver.prototxt"
RUN="$WORK/run"
"$MPIRUN" -np 2 "$TRAIN" --solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN" --val "$FMNIST_TEST" \
    --run-dir "$RUN" --max-iter 40 --sample-interval 0.1 > "$WORK/out.txt" 2> "$WORK/err.txt"
rc=$?
if [ $rc -eq 0 ]; then ok "np=2 training run for the report (exit 0)"; else fail "training exit $rc"; diag_file "$WORK/err.txt"; fi
check "the run has system samples" test -s "$RUN/system.jsonl"

"$REPORT" "$RUN" > "$WORK/report_out.txt" 2>&1
check "dltrain-report exits 0" test $? -eq 0
HTML="$RUN/report.html"
check "report.html written" test -s "$HTML"
check "no scripts in the page" bash -c "! grep -qi '<script' '$HTML'"
check "no external resources (only the SVG namespace URL)" bash -c "! grep -o 'https\?://[^\"]*' '$HTML' | grep -v '^http://www.w3.org/2000/svg$' | grep -q ."
for title in "Loss" "Test accuracy" "Learning rate" "Throughput" "Step time split" "CPU per rank" \
             "Resident memory per rank" "Network per rank"; do
    check "chart '$title' present" grep -q "class=\"title\">$title" "$HTML"
done
check "summary: network name" grep -q "<td>LeNet-FashionMNIST</td>" "$HTML"
check "summary: 2 ranks, global batch 128" grep -q "<td>128 (2 ranks x batch_size 64)</td>" "$HTML"
check "summary: checkpoints listed" grep -q "iter_00000040.h5" "$HTML"
check "summary: finished" grep -q '<td class="state-ended">finished</td>' "$HTML"
check "no 'no data yet' panel on a finished run" bash -c "! grep -q 'no data yet' '$HTML'"

# A run in progress: last line torn mid-write, no system.jsonl yet, no done line.
PART="$WORK/partial"
mkdir -p "$PART/config" && cp "$RUN/config/"* "$PART/config/"
head -n 5 "$RUN/metrics.jsonl" > "$PART/metrics.jsonl"
sed -n 6p "$RUN/metrics.jsonl" | head -c 40 >> "$PART/metrics.jsonl"
grep -v '^done:' "$RUN/log.txt" > "$PART/log.txt"
printf 'host %s\npid %s\n' "$(hostname)" $$ > "$PART/lock"  # held by a live process: in progress
"$REPORT" "$PART" > /dev/null 2> "$WORK/partial_err.txt"
check "report on a run in progress (torn last line, no system.jsonl) exits 0" test $? -eq 0
check "in-progress report says so" grep -q "in progress" "$PART/report.html"
check "in-progress report notes missing system.jsonl" grep -q "No system.jsonl" "$PART/report.html"
check "a torn last line is not counted as bad" bash -c "! grep -q 'did not parse' '$PART/report.html'"
"$REPORT" "$WORK/nowhere" 2> "$WORK/missing.txt"; rc=$?
check "missing run directory exits 1 naming metrics.jsonl" bash -c "[ $rc -eq 1 ] && grep -q 'nowhere/metrics.jsonl' '$WORK/missing.txt'"

# --- a real browser ---
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
    echo "# chromium not installed (scripts/install-deps.sh installs Debian's chromium): browser checks skipped"
    done_testing
fi
export HOME="$WORK"  # chromium writes its profile under HOME
timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --screenshot="$WORK/report.png" --window-size=1400,2400 "file://$HTML" > "$WORK/chrome.txt" 2>&1
check "chromium takes a screenshot" test -s "$WORK/report.png"
timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --dump-dom "file://$HTML" > "$WORK/dom.html" 2> "$WORK/chrome_dom.txt"
/usr/bin/python3 - "$WORK/report.png" "$WORK/dom.html" > "$WORK/png.txt" 2>&1 <<'PY'
import re, struct, sys, zlib
png = open(sys.argv[1], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, hdr = 8, b"", None
while pos < len(png):
    n, kind = struct.unpack(">I4s", png[pos:pos + 8])
    body = png[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
w, h, depth, ctype = hdr[:4]
assert depth == 8 and ctype in (2, 6), hdr
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
rows, prev, i = [], bytearray(stride), 0
for y in range(h):   # undo PNG's per-row filters
    f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
def colors(y0, y1):
    seen = set(); strong = 0
    for y in range(y0, min(y1, h)):
        r = rows[y]
        for x in range(0, w, 2):
            px = r[x * bpp:x * bpp + 3]; seen.add(px)
            if max(px) - min(px) > 60: strong += 1   # saturated: a plotted line or area
    return len(seen), strong
# The training charts sit in the upper half, the system charts below them.
n1, s1 = colors(500, 1500)
n2, s2 = colors(1500, 2300)
assert n1 > 50 and s1 > 2000, ("training charts look empty", n1, s1)
assert n2 > 20 and s2 > 500, ("system charts look empty", n2, s2)
dom = open(sys.argv[2]).read()
svgs = dom.count("<svg")
paths = re.findall(r'<path[^>]* d="M([^"]*)"', dom)
long_paths = [p for p in paths if p.count("L") >= 3]
assert svgs >= 10, ("svg count", svgs)
assert len(long_paths) >= 15, ("paths with points", len(long_paths))
print("ok %dx%d png, %d/%d colors, %d/%d saturated px, %d svg, %d paths with points" % (w, h, n1, n2, s1, s2, svgs, len(long_paths)))
PY
if grep -q '^ok' "$WORK/png.txt"; then ok "chromium rendering has drawn charts ($(cat "$WORK/png.txt"))"; else fail "chromium rendering"; diag_file "$WORK/png.txt"; diag_file "$WORK/chrome.txt"; fi
done_testing
