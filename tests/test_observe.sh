#!/bin/bash
# test_observe.sh - what a run reports while it trains: metrics.jsonl and
# system.jsonl (np=2, sampling every second) parse with Python's json and
# carry the documented fields; in a pseudo-terminal (util-linux script)
# the progress line updates in place with \r, while redirected output and
# log.txt hold plain lines only.
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
sed -e 's/^test_interval:.*/test_interval: 30/' -e 's/^test_iter:.*/test_iter: 2/' \
    -e 's/^display:.*/display: 10/' -e 's/^snapshot:.*/snapshot: 0/' \
    "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/solver.prototxt"
echo "average_loss: 5" >> "$WORK/solver.prototxt"

# --- np=2, system sampling every second ---
RUN="$WORK/run"
"$MPIRUN" -np 2 "$TRAIN" --solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN" --val "$FMNIST_TEST" \
    --run-dir "$RUN" --max-iter 60 --sample-interval 1 > "$WORK/out.txt" 2> "$WORK/err.txt"
rc=$?
if [ $rc -eq 0 ]; then ok "np=2 training with --sample-interval 1 (exit 0)"; else fail "np=2 exit $rc"; diag_file "$WORK/err.txt"; fi

/usr/bin/python3 - "$RUN" > "$WORK/py.txt" 2>&1 <<'PY'
import json, sys
run = sys.argv[1]
lines = [json.loads(l) for l in open(run + "/metrics.jsonl")]
train = [m for m in lines if m["kind"] == "train"]
test = [m for m in lines if m["kind"] == "test"]
phases = ["t_data", "t_forward", "t_backward", "t_allreduce", "t_update"]
keys = {"kind", "iter", "epoch", "time", "loss", "loss_smoothed", "loss_raw", "lr", "images_per_s"}
keys |= set(phases) | {p + "_max" for p in phases}
assert [m["iter"] for m in train] == [10, 20, 30, 40, 50, 60], [m["iter"] for m in train]
for m in train:
    assert keys <= set(m), sorted(keys - set(m))
    for p in phases:   # the slowest rank is at least the mean
        assert m[p + "_max"] >= m[p] - 1e-12 and m[p] >= 0, (p, m)
    assert 0 < m["loss_smoothed"] < 5 and 0 < m["loss_raw"] < 5 and m["images_per_s"] > 0, m
    assert m["time"] > 1.6e9, m
assert any(abs(m["loss_smoothed"] - m["loss"]) > 1e-6 for m in train), "smoothed loss equals the interval mean"
assert [m["iter"] for m in test] == [0, 30, 60], test
assert all({"time", "test_loss", "test_top1", "test_top5"} <= set(m) for m in test)
sysl = [json.loads(l) for l in open(run + "/system.jsonl")]
assert sysl, "system.jsonl is empty"
for s in sysl:
    assert s["kind"] == "system" and s["time"] > 1.6e9 and s["host"], s
    assert {"cpu_pct", "rss_bytes", "net_rx_bytes_s", "net_tx_bytes_s"} <= set(s), s
    assert 0 <= s["cpu_pct"] < 10000 and s["rss_bytes"] > 1e6, s
    for g in s.get("gpus", []):
        assert "index" in g, g
assert {s["rank"] for s in sysl} == {0, 1}, {s["rank"] for s in sysl}
print("ok %d train, %d test, %d system lines" % (len(train), len(test), len(sysl)))
PY
if grep -q '^ok' "$WORK/py.txt"; then ok "metrics.jsonl and system.jsonl fields ($(cat "$WORK/py.txt"))"; else fail "jsonl fields"; diag_file "$WORK/py.txt"; fi

no_cr() { ! grep -q $'\r' "$1"; }
no_esc() { ! grep -q $'\x1b' "$1"; }
check "redirected output has display lines" grep -q "^iter      60 .*smoothed" "$WORK/out.txt"
check "redirected output has no carriage returns" no_cr "$WORK/out.txt"
check "log.txt has no carriage returns or escape codes" bash -c "! grep -q \$'[\\r\\x1b]' '$RUN/log.txt'"

# --- a pseudo-terminal: the progress line updates in place ---
command -v script > /dev/null || { fail "script (util-linux) not found"; done_testing; }
TTYRUN="$WORK/ttyrun"
script -qfc "'$TRAIN' --solver '$WORK/solver.prototxt' --train '$FMNIST_TRAIN' --run-dir '$TTYRUN' --max-iter 60 --sample-interval 0" \
    "$WORK/typescript" < /dev/null > /dev/null 2>&1
rc=$?
check "training in a pseudo-terminal exits 0" test $rc -eq 0
/usr/bin/python3 - "$WORK/typescript" > "$WORK/tty.txt" 2>&1 <<'PY'
import re, sys
raw = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
updates = re.findall(r"\repoch \d+ \[ *\d+%\]  iter (\d+)/60  [0-9]+ images/s  loss [0-9.]+  lr [0-9.e-]+  ETA [0-9:-]+", raw)
assert len(updates) >= 2, ("fewer than 2 in-place updates", raw[-800:])
iters = [int(i) for i in updates]
assert iters == sorted(iters) and iters[-1] == 60, iters
# On a terminal the display-interval lines go to log.txt only.
assert "iter      60  epoch" not in raw, "display lines printed on the terminal"
print("ok %d in-place updates" % len(updates))
PY
if grep -q '^ok' "$WORK/tty.txt"; then ok "pseudo-terminal shows \\r progress updates ($(cat "$WORK/tty.txt"))"; else fail "pseudo-terminal progress"; diag_file "$WORK/tty.txt"; fi
check "pseudo-terminal run: log.txt has the display lines" grep -q "^iter      60 " "$TTYRUN/log.txt"
check "pseudo-terminal run: log.txt has no carriage returns or escape codes" bash -c "! grep -q \$'[\\r\\x1b]' '$TTYRUN/log.txt'"
check "--sample-interval 0 writes no system.jsonl" test ! -e "$TTYRUN/system.jsonl"
"$TRAIN" --solver x --train y --run-dir z --sample-interval abc 2> "$WORK/bad.txt"; rc=$?
check "--sample-interval abc exits 2" test $rc -eq 2
done_testing
