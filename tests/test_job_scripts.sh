#!/bin/bash
# test_job_scripts.sh - the job templates and cluster scripts handle what a
# user hands them: EXTRA_ARGS reaches dltrain-mpi as separate arguments,
# unglobbed (a '*' stays a '*'), in every template (Slurm, PBS Pro, Torque,
# SGE; the launchers are stubs that record their arguments); the GPU
# templates hand dltrain-mpi --device gpu and the CPU template --device cpu,
# and with the real mpirun and trainer a GPU template stops at start on a
# node without a GPU, naming the rank and host, while the CPU template
# trains and records the device per rank in metrics.jsonl; the local
# clusters' directories (slurm/, sge/) are refused when a symbolic link,
# another user's or writable by others, and default outside /tmp; and
# RUN/config/command.txt, pasted back into a shell, gives the same arguments.
. "$(dirname "$0")/lib.sh"

# ---- EXTRA_ARGS in every template ----
STUBS="$WORK/stubs"
mkdir -p "$STUBS" "$WORK/submit"
# Launchers and scheduler queries: record the arguments one per line.
for s in mpirun srun; do
    printf '#!/bin/sh\nfor a in "$@"; do printf "%%s\\n" "$a"; done > "$ARGS_OUT"\n' > "$STUBS/$s"
done
printf '#!/bin/sh\nexit 1\n' > "$STUBS/squeue"
cp "$STUBS/squeue" "$STUBS/scontrol"
cp "$STUBS/squeue" "$STUBS/qstat"
chmod +x "$STUBS"/*
# Files a glob of '*' or 'a?b' would match in the job's directory.
touch "$WORK/submit/aXb" "$WORK/submit/other"
echo localhost > "$WORK/nodefile"
extra='--max-iter 5 --note * a?b'
for t in googlenet.slurm lenet_cpu.slurm scaling.slurm googlenet.pbs googlenet.torque googlenet.sge; do
    out="$WORK/args.$t"
    (cd "$WORK/submit" && env -i ${SANITIZER_ENV[@]+"${SANITIZER_ENV[@]}"} PATH="$STUBS:$PATH" HOME="$WORK" ARGS_OUT="$out" EXTRA_ARGS="$extra" \
        SLURM_SUBMIT_DIR="$WORK/submit" SLURM_JOB_ID=7 SLURM_NTASKS=1 SLURM_JOB_NODELIST=n1 \
        SLURM_JOB_NUM_NODES=1 PBS_O_WORKDIR="$WORK/submit" PBS_NODEFILE="$WORK/nodefile" PBS_JOBID=7 \
        JOB_ID=7 NSLOTS=1 PE=mpi bash "$top_srcdir/jobs/$t") > "$WORK/out.$t" 2>&1
    if [ -f "$out" ] && [ "$(tail -n 5 "$out" | tr '\n' '|')" = "--max-iter|5|--note|*|a?b|" ]; then
        ok "jobs/$t: EXTRA_ARGS '$extra' reaches dltrain-mpi as 5 arguments, unglobbed"
    else
        fail "jobs/$t: EXTRA_ARGS '$extra' reaches dltrain-mpi as 5 arguments, unglobbed"
        [ -f "$out" ] && diag_file "$out" 8
        diag_file "$WORK/out.$t" 5
    fi
done
# The device each template asks for: the word after --device, after the trainer.
for t in googlenet.slurm:gpu googlenet.pbs:gpu googlenet.torque:gpu googlenet.sge:gpu lenet_cpu.slurm:cpu; do
    f="$WORK/args.${t%%:*}" want=${t#*:}
    got=$(sed -n '/^dltrain-mpi$/,$p' "$f" 2> /dev/null | grep -x -A1 -- --device | tail -n 1)
    check "jobs/${t%%:*}: dltrain-mpi gets --device $want (got '${got:-none}')" test "$got" = "$want"
done

# ---- private directories of the local clusters ----
. "$top_srcdir/scripts/private-dir.sh"
check "a missing directory is created (create)" dlt_private_dir "$WORK/new" create
check "... owned by us, mode 755" test "$(stat -c '%u %a' "$WORK/new")" = "$(id -u) 755"
check "our own directory is accepted" dlt_private_dir "$WORK/new"
mkdir -m 0777 "$WORK/open"
check "a directory writable by others is refused" bash -c ". '$top_srcdir/scripts/private-dir.sh'; ! dlt_private_dir '$WORK/open' 2> /dev/null"
ln -s "$WORK/new" "$WORK/link"
check "a symbolic link is refused" bash -c ". '$top_srcdir/scripts/private-dir.sh'; ! dlt_private_dir '$WORK/link' create 2> /dev/null"
for sched in slurm sge; do
    def=$(env -u DLT_SLURM_DIR -u DLT_SGE_DIR bash -c ". '$top_srcdir/$sched/env.sh'; echo \${DLT_${sched^^}_DIR}")
    check "$sched/env.sh: the default directory (${def:-none}) is not under /tmp" test -n "$def" -a "${def#/tmp/}" = "$def"
done
# A directory another user planted: start.sh must refuse it before anything
# else. It runs as the user nobody, so that a start.sh without the check
# stops at its "run as root" test instead of starting daemons here.
if [ "$(id -u)" -eq 0 ] && command -v runuser > /dev/null && id nobody > /dev/null 2>&1; then
    for sched in slurm sge; do
        d="$WORK/planted-$sched"
        mkdir -m 0755 "$d" && chown 12345 "$d"
        var="DLT_${sched^^}_DIR"
        runuser -u nobody -- env "$var=$d" bash "$top_srcdir/$sched/start.sh" > "$WORK/start-$sched.txt" 2>&1
        rc=$?
        if [ $rc -ne 0 ] && grep -q "belongs to uid 12345" "$WORK/start-$sched.txt" && [ -z "$(ls -A "$d")" ]; then
            ok "$sched/start.sh refuses $var made by another user, writing nothing there"
        else
            fail "$sched/start.sh refuses $var made by another user (exit $rc)"
            diag_file "$WORK/start-$sched.txt" 5
        fi
    done
    # stop.sh kills the PIDs its pid files name: not from a planted one.
    sleep 60 & victim=$!
    echo $victim > "$WORK/planted-slurm/slurmd.pid"
    DLT_SLURM_DIR="$WORK/planted-slurm" bash "$top_srcdir/slurm/stop.sh" -q > /dev/null 2>&1
    check "slurm/stop.sh does not kill the PID a planted pid file names" kill -0 $victim
    kill $victim 2> /dev/null
else
    ok "# SKIP another user's directory: needs root, runuser and the user nobody"
fi

# ---- command.txt is shell-quoted ----
WEIRD="$WORK/we ird*\$dir 'q'"
mkdir -p "$WEIRD"
"$PREP" -q --format cifar10 --size 4x4 "$top_srcdir/tests/fuzz/corpus/cifar/cifar10_2rec.bin" \
    "$WEIRD/train.h5" 2> /dev/null
cat > "$WEIRD/net.prototxt" <<'NET'
layer { name: "data" type: "Data" top: "data" top: "label" data_param { batch_size: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 10 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
NET
printf 'net: "net.prototxt"\nbase_lr: 0.01\nlr_policy: "fixed"\nmax_iter: 1\n' > "$WEIRD/solver.prototxt"
args=("$TRAIN" --solver "$WEIRD/solver.prototxt" --train "$WEIRD/train.h5" --run-dir "$WEIRD/run" \
      --sample-interval 0 --max-iter 1)
"${args[@]}" > "$WORK/train.txt" 2>&1
check "a run whose paths hold a space, '*', '\$' and quotes: exit 0" test $? -eq 0
cmd="$WEIRD/run/config/command.txt"
if [ -f "$cmd" ] && eval "set -- $(cat "$cmd")" 2> /dev/null && [ $# -eq ${#args[@]} ]; then
    same=1
    for ((i = 0; i < $#; i++)); do
        a=$((i + 1))
        [ "${!a}" = "${args[i]}" ] || same=0
    done
    check "config/command.txt pasted into a shell gives the same ${#args[@]} arguments" test $same -eq 1
else
    fail "config/command.txt pasted into a shell gives the same ${#args[@]} arguments"
    [ -f "$cmd" ] && diag_file "$cmd"
    diag_file "$WORK/train.txt" 5
fi

# ---- the device flag reaches the real trainer through the real mpirun ----
# (a 1-iteration run of the small net above; squeue/scontrol/qstat stubbed)
STUBS2="$WORK/stubs2"
mkdir -p "$STUBS2" && cp "$STUBS/squeue" "$STUBS/scontrol" "$STUBS/qstat" "$STUBS2/"
if grep -q "^#define HAVE_CUDA 1" "$top_builddir/config.h" && nvidia-smi -L > /dev/null 2>&1; then gpu=1; else gpu=0; fi
host=$(hostname)
real_job() { # TEMPLATE RUN_DIR
    (cd "$WORK/submit" && env -i ${SANITIZER_ENV[@]+"${SANITIZER_ENV[@]}"} PATH="$STUBS2:$PATH" HOME="$WORK" SOLVER="$WEIRD/solver.prototxt" \
        TRAIN_H5="$WEIRD/train.h5" VAL_H5= RUN_DIR="$2" DLTRAIN="$TRAIN" EXTRA_ARGS="--sample-interval 0" \
        OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1 \
        SLURM_SUBMIT_DIR="$WORK/submit" SLURM_JOB_ID=7 SLURM_NTASKS=1 SLURM_NTASKS_PER_NODE=1 SLURM_JOB_NODELIST=n1 \
        SLURM_JOB_NUM_NODES=1 PBS_O_WORKDIR="$WORK/submit" PBS_NODEFILE="$WORK/nodefile" PBS_JOBID=7 \
        JOB_ID=7 NSLOTS=1 PE=mpi bash "$top_srcdir/jobs/$1") > "$2.out" 2>&1
}
if ! command -v "$MPIRUN" > /dev/null; then
    ok "# SKIP the real trainer under the templates: mpirun not found (apt-get install openmpi-bin)"
else
    for t in googlenet.slurm googlenet.pbs googlenet.torque googlenet.sge; do
        real_job "$t" "$WORK/real-$t"; st=$?
        if [ $gpu -eq 1 ]; then
            check "jobs/$t with the real trainer on this GPU node: trains on the GPU (exit $st)" \
                bash -c "[ $st -eq 0 ] && grep -q '\"device\":\"gpu\"' '$WORK/real-$t/metrics.jsonl'"
        elif [ $st -ne 0 ] && grep -q "rank 0 on host $host (node-local rank 0) has no GPU for --device gpu" "$WORK/real-$t.out" &&
            ! grep -q "^iter " "$WORK/real-$t.out"; then
            ok "jobs/$t with the real trainer, no GPU here: stops at start naming rank 0 and host $host (exit $st)"
        else
            fail "jobs/$t with the real trainer, no GPU here: stops at start naming rank 0 and host $host (exit $st)"
            diag_file "$WORK/real-$t.out" 8
        fi
    done
    real_job lenet_cpu.slurm "$WORK/real-cpu"; st=$?
    check "jobs/lenet_cpu.slurm with the real trainer: trains on the CPU (exit $st)" test $st -eq 0
    check "... the placement table gives rank 0's device: cpu" grep -qE "placement: +0 +$host +0 +cpu " "$WORK/real-cpu.out"
    check "... metrics.jsonl records rank 0 on the CPU" \
        grep -qE "^\{\"kind\":\"device\",\"iter\":0,\"time\":[0-9.]+,\"rank\":0,\"host\":\"$host\",\"device\":\"cpu\"\}$" \
        "$WORK/real-cpu/metrics.jsonl"
fi
done_testing
