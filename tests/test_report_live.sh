#!/bin/bash
# test_report_live.sh - watching runs live: RUN/report.html rewritten during
# an mpirun -np 2 job (reloads itself while live, not once stopped);
# dltrain-report --serve in headless Chromium (the run page of a running job
# gains points between two captures and updates itself from its JSON; the
# index tells a running, an ended, a failed and a preempted run); the server
# refuses paths outside its directories and listens on loopback only; a torn
# metrics.jsonl line does not break a page; comparisons render.
. "$(dirname "$0")/lib.sh"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
REPORT="$top_builddir/dltrain-report"
"$REPORT" --serve --port 0 "$WORK" > "$WORK/probe.txt" 2>&1 &
probe=$!
for _ in $(seq 50); do grep -q serving "$WORK/probe.txt" && break; kill -0 $probe 2>/dev/null || break; sleep 0.1; done
kill $probe 2>/dev/null; wait $probe 2>/dev/null
grep -q "without libmicrohttpd" "$WORK/probe.txt" &&
    skip_all "dltrain-report built without libmicrohttpd (apt-get install libmicrohttpd-dev; configure again)"
CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || skip_all "chromium not installed (scripts/install-deps.sh installs Debian's chromium)"
command -v curl > /dev/null || skip_all "curl not installed"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }
export HOME="$WORK"  # chromium writes its profile under HOME
export no_proxy='*' NO_PROXY='*'

cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
sed -e 's/^test_interval:.*/test_interval: 10/' -e 's/^test_iter:.*/test_iter: 2/' \
    -e 's/^display:.*/display: 5/' -e 's/^snapshot:.*/snapshot: 0/' \
    "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/solver.prototxt"
sed 's/^base_lr:.*/base_lr: 0.02/' "$WORK/solver.prototxt" > "$WORK/solver_lr.prototxt"
RUNS="$WORK/runs"
mkdir -p "$RUNS"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
train_args() { # NAME SOLVER MAX_ITER
    ARGS=(-np 2 "$TRAIN" --solver "$2" --train "$FMNIST_TRAIN" --val "$FMNIST_TEST"
          --run-dir "$RUNS/$1" --max-iter "$3" --sample-interval 0.5)
}
train() { train_args "$@"; "$MPIRUN" "${ARGS[@]}" > "$WORK/$1.out" 2>&1; }
# In the background, $! is mpirun itself: the cleanup's SIGTERM stops the job.
train_bg() { train_args "$@"; "$MPIRUN" "${ARGS[@]}" > "$WORK/$1.out" 2>&1 & }
# wait_for SECONDS COMMAND...: poll until the command succeeds
wait_for() { local t=$1; shift; for _ in $(seq $((t * 5))); do "$@" && return 0; sleep 0.2; done; return 1; }
train_lines() { cat "$1/metrics.jsonl" 2>/dev/null | grep -c '"kind":"train"'; }
chrome() { timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars "$@" 2>> "$WORK/chrome.txt"; }

# --- an ended run (another base_lr, for the comparison) ---
train ended "$WORK/solver_lr.prototxt" 20
rc=$?
check "ended run: training exits 0" test $rc -eq 0
E="$RUNS/ended"
check "report.html rewritten and its cost logged" grep -q "report.html rewritten [0-9]* times in" "$E/log.txt"
check "ended run's report.html does not reload itself" bash -c "! grep -q 'http-equiv=\"refresh\"' '$E/report.html'"
check "ended run's report.html says finished" grep -q '<td class="state-ended">finished</td>' "$E/report.html"
check "static report has no scripts" bash -c "! grep -qi '<script' '$E/report.html'"

# --- a failed run: rank 0 killed mid-run, its lock left behind ---
train_bg failed "$WORK/solver.prototxt" 100000
PIDS+=($!)
wait_for 120 grep -qs '"kind":"train"' "$RUNS/failed/metrics.jsonl"
pid0=$(sed -n 's/^pid //p' "$RUNS/failed/lock" 2>/dev/null)
[ -n "$pid0" ] && kill -KILL "$pid0"
wait_for 60 bash -c "! kill -0 $pid0 2>/dev/null"
check "failed run: rank 0 (pid ${pid0:-?}) killed" bash -c "[ -n '$pid0' ] && ! kill -0 '$pid0' 2>/dev/null"

# --- a running run, and the server ---
train_bg live "$WORK/solver.prototxt" 100000
LIVE_JOB=$!
PIDS+=($LIVE_JOB)
L="$RUNS/live"
"$REPORT" --serve --port 0 --poll 1 "$RUNS" > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER=$!
PIDS+=($SERVER)
wait_for 30 grep -q "serving" "$WORK/serve.out"
PORT=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$WORK/serve.out")
check "server prints its loopback address and port" test -n "$PORT"
URL="http://127.0.0.1:$PORT"
wait_for 120 test -s "$L/report.html"
check "live run: report.html written at the first test" grep -q 'http-equiv="refresh"' "$L/report.html"
check "live run's report.html says in progress" grep -q "in progress" "$L/report.html"
wait_for 120 grep -qs '"kind":"train"' "$L/metrics.jsonl" # the first test comes before any

chrome --dump-dom "$URL/" > "$WORK/index.html"
/usr/bin/python3 - "$WORK/index.html" > "$WORK/index.txt" 2>&1 <<'PY'
import re, sys
dom = open(sys.argv[1]).read()
rows = {}
for tr in re.findall(r"<tr>(.*?)</tr>", dom, re.S):
    cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
    if len(cells) >= 7:
        name = re.sub(r"<[^>]+>", "", cells[1])
        rows[name] = [re.sub(r"<[^>]+>", "", c) for c in cells[2:]]
print(rows)
want = {"runs/live": "running", "runs/ended": "ended", "runs/failed": "failed"}
for name, state in want.items():
    assert name in rows, ("missing", name)
    assert rows[name][0] == state, (name, rows[name])
assert rows["runs/ended"][1] == "20", rows["runs/ended"]
assert int(rows["runs/live"][1]) > 0 and rows["runs/live"][4] != "-", rows["runs/live"]
print("ok")
PY
if tail -n 1 "$WORK/index.txt" | grep -q '^ok'; then ok "index in Chromium: running, ended, failed runs with iterations and start time"
else fail "index in Chromium"; diag_file "$WORK/index.txt"; fi

# Two captures of the running job's page some seconds apart: more points.
count_points() { # DOM: how many line segments the charts draw; and the JS poll count
    /usr/bin/python3 -c '
import re, sys
dom = open(sys.argv[1]).read()
paths = re.findall(r"<path[^>]* d=\"M([^\"]*)\"", dom)
polls = re.search(r"data-polls=\"(\d+)\"", dom)
print(sum(p.count("L") for p in paths), polls.group(1) if polls else 0)' "$1"
}
chrome --virtual-time-budget=4000 --dump-dom "$URL/run/runs/live/" > "$WORK/live1.html"
read -r pts1 polls1 < <(count_points "$WORK/live1.html")
mid=$(train_lines "$L") # the first capture shows at most these
wait_for 90 bash -c "[ \$(cat '$L/metrics.jsonl' | grep -c '\"kind\":\"train\"') -ge $((mid + 2)) ]"
chrome --virtual-time-budget=4000 --dump-dom "$URL/run/runs/live/" > "$WORK/live2.html"
read -r pts2 polls2 < <(count_points "$WORK/live2.html")
check "the served page of the running job gains points ($pts1 -> $pts2 segments)" test "$pts2" -gt "$pts1"
check "the page updated itself from data.json ($polls2 polls)" test "$polls2" -ge 1
check "the served page has the log's last lines" grep -q '<pre class="log">' "$WORK/live2.html"
check "the served page has the system panel" grep -q 'CPU per rank' "$WORK/live2.html"
curl -s "$URL/run/runs/live/" > "$WORK/live_src.html"
check "the served page is self-contained (one inline script, no external URLs)" bash -c "
    [ \$(grep -o '<script' '$WORK/live_src.html' | wc -l) -eq 1 ] && ! grep -q '<script[^>]*src=\|<link' '$WORK/live_src.html' &&
    ! grep -o 'https\?://[^\"]*' '$WORK/live_src.html' | grep -v '^http://www.w3.org/2000/svg$' | grep -q ."
curl -s "$URL/run/runs/live/data.json" > "$WORK/live.json"
check "data.json parses and says running" /usr/bin/python3 -c "
import json, sys; j = json.load(open('$WORK/live.json')); assert j['state'] == 'running' and j['train_points'] > 0, j"

# --- comparison: a file and a served page ---
"$REPORT" -o "$WORK/compare.html" "$E" "$L" > /dev/null 2> "$WORK/compare.err"
check "dltrain-report A B writes a comparison" test -s "$WORK/compare.html"
check "comparison: final figures of both runs" bash -c "grep -q 'id=\"figures\"' '$WORK/compare.html' && grep -q '>ended<' '$WORK/compare.html' && grep -q '>live<' '$WORK/compare.html'"
check "comparison: the base_lr difference" grep -q '<tr><th>base_lr</th><td>0.02</td>' "$WORK/compare.html"
check "comparison: curves vs iteration, epoch and wall time" bash -c "for a in iteration epoch 'wall time'; do grep -q \"Train loss (smoothed) vs \$a\" '$WORK/compare.html' || exit 1; done"
chrome --dump-dom "$URL/compare?run=runs/ended&run=runs/live" > "$WORK/compare_dom.html"
check "served comparison renders in Chromium with curves" bash -c "[ \$(grep -o '<path[^>]* d=\"M[^\"]*L' '$WORK/compare_dom.html' | wc -l) -ge 6 ]"

# --- paths outside the served directories ---
mkdir -p "$WORK/outside"
cp -r "$E" "$WORK/outside/run"
echo "SECRET-$$" > "$WORK/outside/secret.txt"
ln -s "$WORK/outside/run" "$RUNS/linked"              # a run directory linked from outside
cp -r "$E" "$RUNS/leaky" && rm "$RUNS/leaky/log.txt"
ln -s "$WORK/outside/secret.txt" "$RUNS/leaky/log.txt" # a file inside linking out
code() { curl -s --path-as-is -o "$WORK/body.txt" -w "%{http_code}" "$URL$1"; }
for u in "/run/../../outside/secret.txt" "/run/%2e%2e/%2e%2e/outside/secret.txt" "/%2E%2E/%2E%2E/etc/passwd" \
         "//etc/passwd" "/run/$WORK/outside/run/" "/run/runs/..%2f..%2foutside/run/"; do
    c=$(code "$u")
    check "refused: $u ($c)" bash -c "[ '$c' = 403 ] || [ '$c' = 404 ]"
done
check "absolute path of a file: not found" test "$(code /etc/passwd)" = 404
check "a symlinked run directory leading out is not served" test "$(code /run/runs/linked/)" = 404
check "a run whose log.txt links out is not served" test "$(code /run/runs/leaky/)" = 404
curl -s "$URL/" > "$WORK/index2.html"
check "the index lists neither" bash -c "! grep -q 'runs/linked\|runs/leaky' '$WORK/index2.html'"
check "the secret never appears" bash -c "! grep -rq 'SECRET-$$' '$WORK/index2.html' '$WORK/body.txt'"
check "the server says why it skipped them" grep -q "not serving.*resolves outside" "$WORK/serve.err"

# --- loopback only unless told ---
# Listening sockets from /proc/net/tcp{,6} (no ss/netstat needed): "ADDRESS:PORT" lines.
listening() {
    /usr/bin/python3 -c '
import socket, struct
for name, fam in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
    try: lines = open(name).read().split("\n")[1:]
    except OSError: continue
    for l in lines:
        f = l.split()
        if len(f) > 3 and f[3] == "0A":  # LISTEN
            a, p = f[1].split(":")
            raw = bytes.fromhex(a)
            raw = b"".join(struct.pack("<I", w) for w in struct.unpack(">%dI" % (len(raw) // 4), raw))
            print("%s:%d" % (socket.inet_ntop(fam, raw), int(p, 16)))'
}
listening > "$WORK/listen.txt"
check "listening on 127.0.0.1:$PORT only" bash -c "grep -qx '127.0.0.1:$PORT' '$WORK/listen.txt' && [ \$(grep -c ':$PORT\$' '$WORK/listen.txt') -eq 1 ]"
IP=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -v '^127\.' | grep -v : | head -n 1)
if [ -n "$IP" ]; then
    check "not reachable on $IP" bash -c "! curl -s -m 5 -o /dev/null 'http://$IP:$PORT/'"
else
    echo "# no non-loopback IPv4 address here: the reachability check is skipped"
fi
"$REPORT" --serve --port 0 --bind 0.0.0.0 "$RUNS" > "$WORK/wide.out" 2>&1 &
WIDE=$!
PIDS+=($WIDE)
# The address line, not the "not serving 'runs/leaky'" warnings printed before
# it to the same file (waiting for those raced the server under load).
wait_for 30 grep -q "serving .* at http://" "$WORK/wide.out"
WPORT=$(sed -n 's|.*http://0\.0\.0\.0:\([0-9][0-9]*\)/.*|\1|p' "$WORK/wide.out")
listening > "$WORK/listen_wide.txt"
check "--bind 0.0.0.0 listens on all addresses" bash -c "[ -n '$WPORT' ] && grep -qx '0.0.0.0:$WPORT' '$WORK/listen_wide.txt'"
kill $WIDE 2>/dev/null

# --- a torn metrics.jsonl line in the middle and at the end ---
T="$RUNS/torn"
cp -r "$E" "$T"
{ head -n 3 "$E/metrics.jsonl"; sed -n 4p "$E/metrics.jsonl" | head -c 30; echo; tail -n +5 "$E/metrics.jsonl"
  sed -n 5p "$E/metrics.jsonl" | head -c 25; } > "$T/metrics.jsonl"
check "torn: run page served" test "$(code /run/runs/torn/)" = 200
check "torn: the page notes the bad line" grep -q "1 line(s) of metrics.jsonl/system.jsonl did not parse" "$WORK/body.txt"
chrome --dump-dom "$URL/run/runs/torn/" > "$WORK/torn.html"
read -r tpts _ < <(count_points "$WORK/torn.html")
check "torn: Chromium draws its charts ($tpts segments)" test "$tpts" -gt 20
check "torn: data.json still parses" bash -c "curl -s '$URL/run/runs/torn/data.json' | /usr/bin/python3 -c 'import json,sys; assert json.load(sys.stdin)[\"bad_lines\"] == 1'"
"$REPORT" "$T" > /dev/null 2>&1
check "torn: the static report is written" grep -q "did not parse" "$T/report.html"

# --- the live run preempted (SIGTERM to rank 0, as a scheduler sends): its file stops reloading ---
kill -TERM "$(sed -n 's/^pid //p' "$L/lock")"
wait_for 90 grep -q "stopped by" "$L/log.txt"
wait_for 60 bash -c "! kill -0 $LIVE_JOB 2>/dev/null"
wait_for 30 grep -q "report.html rewritten" "$L/log.txt"
check "preempted run's report.html no longer reloads itself" bash -c "! grep -q 'http-equiv=\"refresh\"' '$L/report.html'"
check "index: preempted" bash -c "curl -s '$URL/' | grep -q '<td class=\"state-preempted\">preempted</td>'"
kill $SERVER
wait $SERVER 2>/dev/null
grep -h "report.html rewritten" "$E/log.txt" "$L/log.txt" | sed 's/^/# /'
done_testing
