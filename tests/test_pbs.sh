#!/bin/bash
# test_pbs.sh - the PBS Pro and Torque templates: their #PBS directives pass
# ../shared/tools/pbs_lint.py (--dialect pro / torque; a broken copy fails),
# and their bodies, run by bash from $HOME with the PBS environment emulated
# (PBS_NODEFILE, PBS_O_WORKDIR, PBS_JOBID, PBS_JOBNAME, NCPUS or PBS_NP,
# TMPDIR; real mpirun and dltrain-mpi, 2 ranks, the tiny LeNet config; stub
# qstat -f and qsub stand in for the server):
# - train and leave a valid checkpoint; the job's end (stime + walltime from
#   qstat -f; Torque: PBS_WALLTIME) reaches the trainer as DLT_JOB_END_TIME;
# - --stop-before stops a short-walltime job with 75, the script resubmits
#   itself through qsub (same variables, this job's resources, CHAIN + 1); the
#   resubmitted job, run with those variables, resumes and stops at CHAIN_MAX;
#   Torque the same with PBS_WALLTIME; a walltime not longer than STOP_BEFORE
#   is not resubmitted;
# - MoM's TERM to every process of the job's session (script, mpirun, ranks):
#   the ranks checkpoint, the script writes its last line and exits before an
#   emulated kill_delay (10 s, the PBS default) SIGKILLs what is left; no qsub.
# No PBS server runs here: see README "PBS Pro / OpenPBS and Torque".
. "$(dirname "$0")/lib.sh"
LINT="$SHARED_DIR/tools/pbs_lint.py"
[ -f "$LINT" ] || skip_all "pbs_lint.py not found at $LINT (../shared is absent)"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
command -v "$MPIRUN" > /dev/null || skip_all "mpirun not found (apt-get install openmpi-bin)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

lint() { "$PYTHON_H5PY" "$LINT" --dialect "$1" "$2" > "$WORK/lint.txt" 2>&1; }
for t in pro:googlenet.pbs torque:googlenet.torque; do
    if lint "${t%%:*}" "$top_srcdir/jobs/${t#*:}"; then ok "pbs_lint --dialect ${t%%:*} jobs/${t#*:}"
    else fail "pbs_lint --dialect ${t%%:*} jobs/${t#*:}"; diag_file "$WORK/lint.txt"; fi
done
sed 's/select=2:ncpus=32/select=2:ppn=32/' "$top_srcdir/jobs/googlenet.pbs" > "$WORK/broken.pbs"
check "the lint can fail (ppn inside select=)" bash -c "! '$PYTHON_H5PY' '$LINT' --dialect pro '$WORK/broken.pbs' > /dev/null"

SUBMIT="$WORK/submit"
STUBS="$WORK/bin"
mkdir -p "$SUBMIT" "$WORK/home" "$WORK/tmp" "$STUBS" "$WORK/server"
cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$SUBMIT/"
sed -e 's/^snapshot:.*/snapshot: 0/' -e 's/^display:.*/display: 10/' -e 's/^test_interval:.*/test_interval: 1000/' \
    -e 's/^test_iter:.*/test_iter: 2/' "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$SUBMIT/solver.prototxt"
printf 'localhost\nlocalhost\n' > "$WORK/nodefile"
# The server's side: `qstat -f JOBID` prints server/JOBID (written below) or
# fails as for an unknown job; qsub records its arguments, one per line, in
# qsub.N and answers job id 10N.pbs-server.
cat > "$STUBS/qstat" <<STUB
#!/bin/sh
[ "\$1" = -f ] && [ -f "$WORK/server/\$2" ] && exec cat "$WORK/server/\$2"
echo "qstat: Unknown Job Id \$2" >&2
exit 153
STUB
cat > "$STUBS/qsub" <<STUB
#!/bin/sh
n=\$(ls "$WORK" | grep -c '^qsub\.')
for a in "\$@"; do printf '%s\n' "\$a"; done > "$WORK/qsub.\$n"
echo "10\$n.pbs-server"
STUB
chmod +x "$STUBS/qstat" "$STUBS/qsub"
server_job() { # JOBID STIME WALLTIME: what qstat -f says of a running PBS Pro job
    { printf 'Job Id: %s\n    Job_Name = googlenet\n    job_state = R\n    queue = workq\n' "$1"
      printf '    Account_Name = proj7\n    Resource_List.ncpus = 2\n    Resource_List.place = scatter\n'
      printf '    Resource_List.select = 1:ncpus=2:mpiprocs=2\n    Resource_List.walltime = %s\n' "$3"
      printf '    resources_used.walltime = 00:00:00\n    stime = %s\n' "$(date -d "@$2" '+%a %b %e %H:%M:%S %Y')"
      printf '    Variable_List = PBS_O_HOME=/root,PBS_O_LOGNAME=root,PBS_O_PATH=/usr/bin:/bin,\n'
      printf '\tPBS_O_WORKDIR=%s,PBS_O_HOST=login1\n' "$SUBMIT"; } > "$WORK/server/$1"
}
torque_job() { # JOBID START_TIME WALLTIME: the same from Torque
    { printf 'Job Id: %s\n    Job_Name = googlenet\n    job_state = R\n    queue = batch\n' "$1"
      printf '    Resource_List.nodes = 1:ppn=2\n    Resource_List.walltime = %s\n' "$3"
      printf '    start_time = %s\n' "$(date -d "@$2" '+%a %b %e %H:%M:%S %Y')"; } > "$WORK/server/$1"
}
M=20
emulate() { # TEMPLATE RUN [VAR=value...]: the body as MoM starts it, in a session of its own (RUN.sid)
    local tmpl=$1 run=$2; shift 2
    (cd "$WORK/home" && exec env -i ${SANITIZER_ENV[@]+"${SANITIZER_ENV[@]}"} PATH="$STUBS:$PATH" HOME="$WORK/home" USER=root TMPDIR="$WORK/tmp" \
        PBS_O_WORKDIR="$SUBMIT" PBS_NODEFILE="$WORK/nodefile" PBS_JOBID=42.pbs-server PBS_JOBNAME=googlenet \
        PBS_O_HOST=login1 PBS_ENVIRONMENT=PBS_BATCH OMPI_MCA_rmaps_base_oversubscribe=1 \
        OMPI_MCA_btl_vader_single_copy_mechanism=none \
        SOLVER=solver.prototxt TRAIN_H5="$FMNIST_TRAIN" VAL_H5="$FMNIST_TEST" RUN_DIR="$run" DLTRAIN="$TRAIN" \
        EXTRA_ARGS="--max-iter $M --device cpu" "$@" setsid sh -c 'echo $$ > "$1"; exec bash "$2"' sh "$WORK/$run.sid" \
        "$top_srcdir/jobs/$tmpl") > "$WORK/$run.out" 2>&1
}
valid() { # RUN ITER [ckpt-only]: its checkpoint's crc32s, and a metrics line
    "$PYTHON_H5PY" - "$SUBMIT/$1" "$2" "${3:-}" <<'PY'
import json, sys, zlib, h5py
run, it = sys.argv[1], int(sys.argv[2])
f = h5py.File("%s/checkpoints/iter_%08d.h5" % (run, it), "r")
n = []
f.visititems(lambda k, d: n.append(zlib.crc32(d[...].tobytes()) == d.attrs["crc32"] & 0xffffffff)
             if isinstance(d, h5py.Dataset) else None)
assert all(n) and len(n) == f.attrs["num_datasets"] and f.attrs["world_size"] == 2 and f.attrs["iter"] == it
assert sys.argv[3] == "ckpt-only" or any(json.loads(l)["iter"] == it for l in open(run + "/metrics.jsonl"))
PY
}
newest() { ls "$SUBMIT/$1/checkpoints" 2> /dev/null | sed -n 's/^iter_0*\([0-9][0-9]*\)\.h5$/\1/p' | sort -n | tail -1; }
ends_at() { grep -q "time limit: the job ends at $2 (from DLT_JOB_END_TIME)" "$WORK/$1.out"; }
qsubs() { ls "$WORK" | grep -c '^qsub\.'; }

# 1. PBS Pro, uninterrupted: the end is stime + Resource_List.walltime
T=$(($(date +%s) - 7))
server_job 42.pbs-server $T 01:00:00
emulate googlenet.pbs pro NCPUS=2 OMP_NUM_THREADS=2
check "PBS Pro body (emulated env, from \$HOME) trains: exit 0" test $? -eq 0
check "... 2 ranks from PBS_NODEFILE, 1 BLAS thread each (NCPUS=2 / 2 ranks)" \
    grep -q "ranks 2 (2 on this node), BLAS threads per rank 1" "$WORK/pro.out"
check "... run directory relative to PBS_O_WORKDIR, valid checkpoint at $M" valid pro $M
check "... walltime 01:00:00 read from qstat -f: the trainer's job end is stime + 3600 s" ends_at pro $((T + 3600)) ||
    diag_file "$WORK/pro.out" 5
check "no qsub after a job that finished (exit 0)" test "$(qsubs)" -eq 0

# 2. Continuation: walltime 16 s, STOP_BEFORE 0.15 min (9 s): --stop-before
# stops the job with 75 and the script resubmits itself.
T=$(date +%s)
server_job 44.pbs-server $T 00:00:16
emulate googlenet.pbs chain PBS_JOBID=44.pbs-server STOP_BEFORE=0.15 CHAIN_MAX=1 QSUB_ARGS="-m n" \
    EXTRA_ARGS="--max-iter 100000 --device cpu"
check "short walltime: the script exits 75" test $? -eq 75
check "... the trainer's job end is stime + 16 s (qstat -f)" ends_at chain $((T + 16))
check "... the script says where it read the walltime" grep -q "^walltime 00:00:16 (qstat -f), started" "$WORK/chain.out"
check "... and --stop-before stopped it" grep -q "stopped by the time limit (--stop-before)" "$WORK/chain.out"
K=$(newest chain)
check "... at a valid checkpoint (iteration ${K:-none})" valid chain "${K:-0}" ckpt-only
check "... one qsub: 'continuation 1 of at most 1: job 100.pbs-server'" \
    grep -q "continuation 1 of at most 1: job 100.pbs-server" "$WORK/chain.out"
args=$(tr '\n' ' ' < "$WORK/qsub.0" 2> /dev/null)
want="-N googlenet -v * -l walltime=00:00:16 -l select=1:ncpus=2:mpiprocs=2 -l place=scatter -A proj7 -m n $top_srcdir/jobs/googlenet.pbs "
check "... qsub gets this job's name, walltime, select, place, account, QSUB_ARGS and script" \
    eval '[[ $args == $want ]]' || echo "# qsub $args"
vars=$(sed -n '/^-v$/{n;p;}' "$WORK/qsub.0" 2> /dev/null)
for v in SOLVER=solver.prototxt TRAIN_H5="$FMNIST_TRAIN" VAL_H5="$FMNIST_TEST" RUN_DIR=chain DLTRAIN="$TRAIN" \
    "EXTRA_ARGS=--max-iter 100000 --device cpu" STOP_BEFORE=0.15 KILL_WAIT=2 CHAIN_MAX=1 "QSUB_ARGS=-m n" CHAIN=1; do
    case ",$vars," in *",$v,"*) ;; *) fail "qsub -v passes $v (got '$vars')"; continue ;; esac
    ok "qsub -v passes $v"
done
# The continuation, run as PBS would run it: with the variables qsub got.
IFS=, read -r -a jobvars <<< "$vars"
T=$(date +%s)
server_job 100.pbs-server $T 00:00:16
emulate googlenet.pbs chain2 PBS_JOBID=100.pbs-server "${jobvars[@]}"
check "the continuation (CHAIN=1) exits 75 again" test $? -eq 75
check "... resumed from the first job's checkpoint (iteration ${K:-none})" \
    grep -q "resumed from .*iter_$(printf %08d "${K:-0}").h5" "$WORK/chain2.out"
K2=$(newest chain)
check "... went on to a valid checkpoint (iteration ${K2:-none} > ${K:-none})" \
    eval 'valid chain "${K2:-0}" ckpt-only && [ "${K2:-0}" -gt "${K:-0}" ]'
check "... and was not resubmitted: CHAIN_MAX=1 reached" \
    grep -q "not resubmitted: 1 continuations, CHAIN_MAX=1" "$WORK/chain2.out"
check "... so qsub ran once" test "$(qsubs)" -eq 1

# 3. Torque, the same: PBS_WALLTIME (seconds; qstat -f's start_time),
# 75, qsub with the job's nodes.
T=$(date +%s)
torque_job 43.torque-server $T 00:00:16
emulate googlenet.torque torque PBS_NP=2 PBS_NUM_PPN=2 PBS_WALLTIME=16 PBS_JOBID=43.torque-server STOP_BEFORE=0.15 \
    EXTRA_ARGS="--max-iter 100000 --device cpu"
check "Torque body (emulated env), short walltime: exit 75" test $? -eq 75
check "... PBS_WALLTIME=16 reaches the trainer: its job end is start_time + 16 s" ends_at torque $((T + 16))
check "... the script says where it read the walltime" grep -q "^walltime 16 (PBS_WALLTIME), started" "$WORK/torque.out"
K=$(newest torque)
check "... valid checkpoint (iteration ${K:-none})" valid torque "${K:-0}" ckpt-only
check "... resubmitted: 'continuation 1 of at most 20: job 101.pbs-server'" \
    grep -q "continuation 1 of at most 20: job 101.pbs-server" "$WORK/torque.out"
args=$(tr '\n' ' ' < "$WORK/qsub.1" 2> /dev/null)
want="-N googlenet -v *,CPUS_PER_RANK=,CHAIN=1 -l walltime=16 -l nodes=1:ppn=2 $top_srcdir/jobs/googlenet.torque "
check "... with this job's name, variables, walltime and nodes" eval '[[ $args == $want ]]' || echo "# qsub $args"

# A walltime not longer than STOP_BEFORE: one iteration, 75, and no qsub
# (each continuation would do the same).
server_job 46.pbs-server "$(date +%s)" 00:00:05
emulate googlenet.pbs short PBS_JOBID=46.pbs-server STOP_BEFORE=0.15 EXTRA_ARGS="--max-iter 100000 --device cpu"
check "walltime 5 s, STOP_BEFORE 9 s: exit 75 after one iteration" test $? -eq 75 -a "$(newest short)" = 1
check "... not resubmitted: 'the walltime is not longer than STOP_BEFORE'" \
    grep -q "not resubmitted: the walltime is not longer than STOP_BEFORE=0.15 min" "$WORK/short.out"
check "... no qsub" test "$(qsubs)" -eq 2

# 4. MoM's TERM (qdel, walltime): to every process of the job's session
# (mpirun's ranks are in process groups of their own, not the script's);
# SIGKILL to what is left kill_delay (10 s, PBS's default) later.
server_job 45.pbs-server "$(date +%s)" 24:00:00
emulate googlenet.pbs term PBS_JOBID=45.pbs-server EXTRA_ARGS="--max-iter 100000 --device cpu" &
bg=$!
session() { # the job's live processes: PID NAME
    local sid
    sid=$(cat "$WORK/term.sid" 2> /dev/null) && [ -n "$sid" ] &&
        ps -e -o pid=,sid=,stat=,comm= | awk -v s="$sid" '$2 == s && $3 !~ /^Z/ { print $1, $4 }'
}
mom_kill() { local p; for p in $(session | awk '{ print $1 }'); do kill -"$1" "$p" 2> /dev/null; done; }
trap 'mom_kill KILL' EXIT
progress() { grep -q "^iter  *10 " "$WORK/term.out" 2> /dev/null; }
wait_for() { local t=$(($1 * 5)); shift; while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.2; t=$((t - 1)); done; return 1; }
if wait_for 60 progress; then
    session > "$WORK/session.txt"
    n() { grep -c " $1\$" "$WORK/session.txt"; }
    check "the job's session: the script, mpirun and 2 ranks ($(awk '{ print $2 }' "$WORK/session.txt" | sort | uniq -c | tr -s ' \n' ' '))" \
        test "$(n bash) $(n mpirun) $(n dltrain-mpi)" = "1 1 2"
    t0=$(date +%s%N)
    mom_kill TERM
    while [ -n "$(session)" ] && [ $(($(date +%s%N) - t0)) -lt 10000000000 ]; do sleep 0.1; done
    left=$(session | awk '{ print $2 }' | tr '\n' ' ')
    echo "# MoM's TERM -> the job's last process gone: $((($(date +%s%N) - t0) / 1000000)) ms (KILL_WAIT=2; AMD EPYC Zen 3, loaded machine)"
    mom_kill KILL
    wait $bg
    check "every process of the job ended within kill_delay (left: ${left:-none})" test -z "$left"
    check "... the script wrote its last line" grep -q "dltrain-mpi exit status" "$WORK/term.out" || diag_file "$WORK/term.out" 5
    check "... the ranks stopped at a checkpoint" grep -q "stopped by SIG" "$WORK/term.out"
    K=$(newest term)
    check "... which is valid (iteration ${K:-none})" valid term "${K:-0}" ckpt-only
    check "... and no qsub after a TERM" test "$(qsubs)" -eq 2
else
    fail "the TERM job did not train within 60 s"; diag_file "$WORK/term.out"
    mom_kill KILL
    wait $bg
fi
check "nothing was written in \$HOME" test -z "$(ls -A "$WORK/home")"
done_testing
