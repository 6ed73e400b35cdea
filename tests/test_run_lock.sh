#!/bin/bash
# test_run_lock.sh - one run at a time in a run directory: the same command
# started twice under mpirun -np 2 while the first runs is refused (both
# ranks exit non-zero, no hang) naming the first run's host, PID and start
# time, and the first run goes on alone; a lock left by a run killed with
# -9 is reported and taken over by --resume auto; another host's lock is
# refused while its heartbeat is fresh and taken over once it is stale; a
# finished run leaves no lock; a lock of this host naming a live PID is
# taken over only when its fcntl lock is gone.
. "$(dirname "$0")/lib.sh"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
command -v "$MPIRUN" > /dev/null || skip_all "mpirun not found (apt-get install openmpi-bin)"
[ -x "$TRAIN" ] && [ -x "$PREP" ] || skip_all "programs not built"

"$PYTHON_H5PY" -c "
import numpy as np
r = np.random.RandomState(3)
np.concatenate([r.randint(0, 10, (400, 1)), r.randint(0, 256, (400, 3072))], 1).astype(np.uint8).tofile('$WORK/b.bin')"
"$PREP" -q --format cifar10 "$WORK/b.bin" "$WORK/set.h5" 2>/dev/null
cat >"$WORK/net.prototxt" <<'P'
layer { name: "d" type: "Data" top: "data" top: "label" data_param { batch_size: 8 }
        transform_param { scale: 0.00390625 } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
P
cat >"$WORK/solver.prototxt" <<'P'
net: "net.prototxt"
base_lr: 0.01
lr_policy: "fixed"
display: 10
snapshot: 100
max_iter: 100000000
random_seed: 5
P
RUN="$WORK/run"
start_a() { # the first run, in the background under mpirun -np 2
    (cd "$WORK" && exec timeout 300 "$MPIRUN" -np 2 "$TRAIN" --solver solver.prototxt --train set.h5 \
        --run-dir run >out_a.txt 2>&1) &
    A=$!
    for _ in $(seq 600); do grep -q "iter  *[1-9]" "$WORK/out_a.txt" 2>/dev/null && break; sleep 0.1; done
}
start_a
check "first run is training" grep -q "iter  *[1-9]" "$WORK/out_a.txt"
check "... and holds RUN/lock" test -s "$RUN/lock"
lock_pid=$(awk '$1 == "pid" {print $2}' "$RUN/lock" 2>/dev/null)
lock_host=$(awk '$1 == "host" {print $2}' "$RUN/lock" 2>/dev/null)
check "... the lock names this host and a live dltrain-mpi" \
    bash -c "[ '$lock_host' = '$(hostname)' ] && grep -q dltrain-mpi /proc/$lock_pid/cmdline"

(cd "$WORK" && timeout 120 "$MPIRUN" -np 2 "$TRAIN" --solver solver.prototxt --train set.h5 \
    --run-dir run >out_b.txt 2>&1)
rc=$?
check "the same command again, concurrently: refused, exit non-zero, no hang (exit $rc)" \
    test $rc -ne 0 -a $rc -ne 124
check "... naming the first run's host, PID and start time" \
    grep -q "run: in use by another run: host $lock_host, PID $lock_pid, started [0-9-]* [0-9:]*" \
    "$WORK/out_b.txt"
[ $rc -ne 0 ] || diag_file "$WORK/out_b.txt"
check "... before writing anything: log.txt has one run's header" \
    test "$(grep -c '^dltrain [0-9.]*: net' "$RUN/log.txt")" -eq 1
check "the first run goes on" kill -0 $A

kill -9 "$lock_pid"
wait $A 2>/dev/null
check "first run killed with -9: its lock is left behind" test -s "$RUN/lock"
(cd "$WORK" && timeout 120 "$TRAIN" --solver solver.prototxt --train set.h5 --run-dir run \
    --resume auto --max-iter 20 >out_c.txt 2>&1)
rc=$?
check "--resume auto in that run directory: takes the stale lock over (exit $rc)" test $rc -eq 0
check "... and says so, naming the dead run" \
    grep -q "taking over a stale lock of host $lock_host, PID $lock_pid, .*process $lock_pid on this host is gone" \
    "$WORK/out_c.txt"
[ $rc -eq 0 ] || diag_file "$WORK/out_c.txt"
check "a finished run leaves no lock" test ! -e "$RUN/lock"

other_lock() { printf 'host otherhost.example\npid 4242\nstarted %s 2026-01-01 00:00:00 UTC\n' \
    "$(date +%s)" >"$RUN/lock"; }
other_lock
(cd "$WORK" && timeout 120 "$TRAIN" --solver solver.prototxt --train set.h5 --run-dir run \
    --max-iter 10 >out_d.txt 2>&1)
rc=$?
check "another host's lock with a fresh heartbeat: refused (exit $rc)" test $rc -ne 0
check "... naming that host and PID" \
    grep -q "in use by another run: host otherhost.example, PID 4242" "$WORK/out_d.txt"
check "... and its lock kept" grep -q otherhost "$RUN/lock"
touch -d '20 minutes ago' "$RUN/lock"
(cd "$WORK" && timeout 120 "$TRAIN" --solver solver.prototxt --train set.h5 --run-dir run \
    --max-iter 10 >out_e.txt 2>&1)
rc=$?
check "another host's lock without heartbeat for 20 min: taken over (exit $rc)" test $rc -eq 0
check "... and said why" grep -q "no heartbeat from host otherhost.example for [0-9]* s (> 600 s)" \
    "$WORK/out_e.txt"

# This host, a live PID (this shell): alive unless the lock says its holder
# took an fcntl lock that nobody holds now (a PID of another namespace).
printf 'host %s\npid %d\nstarted %s 2026-01-01 00:00:00 UTC\n' "$(hostname)" $$ "$(date +%s)" >"$RUN/lock"
(cd "$WORK" && timeout 120 "$TRAIN" --solver solver.prototxt --train set.h5 --run-dir run \
    --max-iter 10 >out_f.txt 2>&1)
rc=$?
check "this host's lock naming a live PID: refused (exit $rc)" \
    grep -q "in use by another run: host $(hostname), PID $$," "$WORK/out_f.txt"
echo "fcntl 1" >>"$RUN/lock"
(cd "$WORK" && timeout 120 "$TRAIN" --solver solver.prototxt --train set.h5 --run-dir run \
    --max-iter 10 >out_g.txt 2>&1)
rc=$?
check "... the same lock saying its fcntl lock was taken, none held now: taken over (exit $rc)" \
    grep -q "the fcntl lock that process $$ took is gone" "$WORK/out_g.txt"

# An unreadable (empty) lock: refused while recent (a run may be writing it), taken over when old.
: >"$RUN/lock"
(cd "$WORK" && timeout 120 "$TRAIN" --solver solver.prototxt --train set.h5 --run-dir run \
    --max-iter 10 >out_h.txt 2>&1)
rc=$?
check "an empty lock file just written: refused (exit $rc)" \
    grep -q "the lock file is unreadable or incomplete (written [0-9]* s ago)" "$WORK/out_h.txt"
touch -d '20 minutes ago' "$RUN/lock"
(cd "$WORK" && timeout 120 "$TRAIN" --solver solver.prototxt --train set.h5 --run-dir run \
    --max-iter 10 >out_i.txt 2>&1)
rc=$?
check "... the same 20 minutes old: taken over (exit $rc)" \
    grep -q "taking over a stale lock of host ?, PID 0, started ?: it is unreadable and [0-9]* s old" \
    "$WORK/out_i.txt"

done_testing
