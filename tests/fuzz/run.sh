#!/bin/bash
# run.sh - run the libFuzzer harnesses built by `make fuzz` (build-fuzz/,
# scripts/fuzz-build.sh) for a bounded time each, under ASan+UBSan:
#   tests/fuzz/run.sh [-t SECONDS] [-j JOBS] [-o OUTDIR] [-k] [HARNESS...]
# (default: 60 s each, one at a time, every harness, OUTDIR fuzz-out/). Each
# starts from its seed corpus (tests/fuzz/corpus/NAME, read only) and the
# regression inputs, adds what it finds to OUTDIR/corpus/NAME, and writes a
# crashing input to OUTDIR/crash/NAME/ (keep it in tests/fuzz/regressions/NAME/
# once fixed). Prints one line per harness (executions, coverage, features,
# corpus size, crashes); exit 1 when any harness crashed, leaked or timed out.
# -k (campaigns): keep going after a crash (libFuzzer's fork mode, one
# worker per harness), so that one known bug does not end the run.
set -uo pipefail
cd "$(dirname "$0")/../.."
SRC=$PWD
T=60 JOBS=1 OUT=fuzz-out BIN=${FUZZ_BIN:-build-fuzz/tests/fuzz} KEEP=()
while getopts t:j:o:k o; do
    case $o in
    t) T=$OPTARG ;; j) JOBS=$OPTARG ;; o) OUT=$OPTARG ;;
    k) KEEP=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1) ;;
    *) echo "usage: $0 [-t SECONDS] [-j JOBS] [-o OUTDIR] [-k] [HARNESS...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
HARNESSES=${*:-net dataset ckpt jpeg idx cifar captions}
. tests/sanitizer/env.sh
# Largest input per harness: a few records or layers more than the seeds.
max_len() {
    case $1 in
    net) echo 16384 ;; cifar) echo 24592 ;; dataset|ckpt) echo 65536 ;; jpeg) echo 16384 ;; *) echo 4096 ;;
    esac
}
run_one() { # NAME
    local h=$1 dir="$OUT/corpus/$1" art="$OUT/crash/$1"
    mkdir -p "$dir" "$art"
    [ -x "$BIN/fuzz_$h" ] || { echo "$h: $BIN/fuzz_$h not built (make fuzz)"; return 1; }
    # -close_fd_mask=3: the library's messages about bad input go nowhere;
    # libFuzzer and the sanitizers still report on their own descriptor.
    local dict=()
    [ -f "$SRC/tests/fuzz/$h.dict" ] && dict=(-dict="$SRC/tests/fuzz/$h.dict")
    # Seeds, then the regression inputs (git keeps no empty folder).
    local seeds=("$SRC/tests/fuzz/corpus/$h")
    [ -d "$SRC/tests/fuzz/regressions/$h" ] && seeds+=("$SRC/tests/fuzz/regressions/$h")
    "$BIN/fuzz_$h" "$dir" "${seeds[@]}" \
        -max_total_time="$T" -max_len="$(max_len "$h")" -timeout=30 -rss_limit_mb=2560 \
        -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$art/" ${KEEP[@]+"${KEEP[@]}"} ${dict[@]+"${dict[@]}"} \
        > "$OUT/$h.log" 2>&1
    local rc=$?
    local execs cov ft units crashes
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$h.log")
    # Fork mode prints no final stats: its last "#EXECS: cov: ..." line.
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$OUT/$h.log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$OUT/$h.log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$OUT/$h.log" | tail -1 | cut -d' ' -f2)
    units=$(ls "$dir" | wc -l)
    crashes=$(ls "$art" | wc -l)
    [ "$crashes" -eq 0 ] || [ $rc -ne 0 ] || rc=1 # fork mode exits 0 after crashes
    printf '%-8s %3s s  execs %-9s cov %-6s ft %-6s corpus %-5s crashes %s  exit %s\n' \
        "$h" "$T" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$units" "$crashes" "$rc"
    if [ $rc -ne 0 ]; then
        grep -m1 -A12 'ERROR: \|runtime error\|deadly signal\|Timeout\|out-of-memory' "$OUT/$h.log" | sed 's/^/    /'
        return 1
    fi
}
mkdir -p "$OUT"
rc=0 n=0
for h in $HARNESSES; do
    run_one "$h" > "$OUT/$h.summary" &
    n=$((n + 1))
    if [ $n -ge "$JOBS" ]; then wait -n || rc=1; n=$((n - 1)); fi
done
while [ $n -gt 0 ]; do wait -n || rc=1; n=$((n - 1)); done
for h in $HARNESSES; do cat "$OUT/$h.summary"; done
exit $rc
