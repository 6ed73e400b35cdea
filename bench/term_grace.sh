#!/bin/bash
# term_grace.sh - how long an mpirun job needs to end after PBS MoM's SIGTERM
# to every process of the job's session (script, mpirun, ranks), for several
# KILL_WAIT (OMPI_MCA_odls_base_sigkill_timeout) values: with dltrain-mpi
# ranks (LeNet, 2 ranks: they checkpoint and exit 75 at once) and with ranks
# that ignore TERM (mpirun's own path: TERM to them after KILL_WAIT, SIGKILL
# after as long again). The job's stop path must end within the queue's
# kill_delay (PBS default 10 s); last line OK when every KILL_WAIT with
# 2 x KILL_WAIT < kill_delay ended within it in both cases, else FAILED.
# usage (from the build directory): bench/term_grace.sh [--kill-delay S] [KILL_WAIT...]
set -u
KILL_DELAY=10
[ "${1:-}" = --kill-delay ] && { KILL_DELAY=$2; shift 2; }
WAITS=${*:-1 2 3 5 10}
B=$(pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/term_grace.XXXXXX")
trap 'rm -rf "$W"' EXIT
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
TRAIN_H5=${TRAIN_H5:-$B/tests/tmp/fmnist/train.h5}
FM=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -f "$TRAIN_H5" ]; then
    TRAIN_H5=$W/train.h5
    "$B/dltrain-prep" --format idx "$FM/train-images-idx3-ubyte.gz" "$FM/train-labels-idx1-ubyte.gz" "$TRAIN_H5" \
        > /dev/null || { echo "FAILED: no training set (Fashion-MNIST in $FM)"; exit 1; }
fi
cp "$B/nets/lenet_fashion_train_val.prototxt" "$W/"
sed -e 's/^snapshot:.*/snapshot: 0/' -e 's/^display:.*/display: 10/' -e 's/^test_interval:.*/test_interval: 100000/' \
    "$B/nets/lenet_fashion_solver.prototxt" > "$W/solver.prototxt"
cat > "$W/deaf_rank.sh" <<'EOF'
#!/bin/sh
trap '' TERM
echo started
while :; do sleep 0.1; done
EOF
chmod +x "$W/deaf_rank.sh"

# run KW OUT READY_PATTERN CMD...: prints the seconds from the TERM to an empty session
run() {
    local kw=$1 out=$2 ready=$3 sid t0 n=0; shift 3
    OMPI_MCA_odls_base_sigkill_timeout=$kw setsid sh -c 'echo $$ > "$1"; shift; exec "$@"' sh "$out.sid" \
        mpirun -np 2 --bind-to none "$@" > "$out" 2>&1 &
    until grep -q "$ready" "$out" 2> /dev/null; do
        sleep 0.1; n=$((n + 1)); [ $n -lt 600 ] || { echo nan; return; }
    done
    sleep 0.3
    sid=$(cat "$out.sid")
    live() { ps -e -o pid=,sid=,stat= | awk -v s="$sid" '$2 == s && $3 !~ /^Z/ { print $1 }'; }
    t0=$(date +%s%N)
    kill -TERM $(live) 2> /dev/null
    while [ -n "$(live)" ] && [ $(($(date +%s%N) - t0)) -lt 60000000000 ]; do sleep 0.05; done
    echo "$(($(date +%s%N) - t0))" | awk '{ printf "%.2f", $1 / 1e9 }'
    kill -KILL $(live) 2> /dev/null
    wait
}

status=OK
printf '%9s %14s %14s %10s\n' KILL_WAIT dltrain_ranks deaf_ranks ckpt_iter
printf '%9s %14s %14s %10s\n' s s s iter
for kw in $WAITS; do
    rm -rf "$W/run"
    a=$(cd "$W" && run "$kw" "$W/a.out" "^iter  *10 " "$B/dltrain-mpi" --solver solver.prototxt --train "$TRAIN_H5" \
        --run-dir run --max-iter 100000)
    it=$(ls "$W/run/checkpoints" 2> /dev/null | sed -n 's/^iter_0*\([0-9]*\)\.h5$/\1/p' | tail -1)
    d=$(run "$kw" "$W/d.out" started "$W/deaf_rank.sh")
    printf '%9s %14s %14s %10s\n' "$kw" "$a" "$d" "${it:-none}"
    if [ $((2 * kw)) -lt "$KILL_DELAY" ]; then
        awk -v a="$a" -v d="$d" -v k="$KILL_DELAY" 'BEGIN { exit !(a + 0 < k && d + 0 < k && a != "nan" && d != "nan") }' ||
            status=FAILED
        [ -n "$it" ] || status=FAILED
    fi
done
echo "kill_delay $KILL_DELAY s: $status"
[ $status = OK ]
