#!/bin/bash
# stop.sh - stop the local Slurm: cancel jobs, then slurmd and slurmctld by
# the PIDs in their pid files (slurmstepd can outlive slurmd, so jobs first).
# munged is left running (other users of munge may need it). -q: quieter.
. "$(dirname "$0")/env.sh"
D="$DLT_SLURM_DIR"
# Its pid files name what to kill: only trust a directory that is ours.
dlt_private_dir "$D" || { echo "slurm/stop.sh: DLT_SLURM_DIR=$D is not safe to use (above)" >&2; exit 1; }
quiet=0; [ "${1:-}" = -q ] && quiet=1
if [ -f "$SLURM_CONF" ] && timeout 5 squeue -h > /dev/null 2>&1; then
    scancel --user="$(id -un)" 2> /dev/null
    for _ in $(seq 1 50); do
        [ -z "$(squeue -h 2> /dev/null)" ] && break
        sleep 0.2
    done
fi
stop_pid() { # NAME PIDFILE
    [ -f "$2" ] || return 0
    local pid; pid=$(cat "$2")
    if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then
        kill "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2> /dev/null && kill -9 "$pid"
        [ $quiet -eq 1 ] || echo "slurm/stop.sh: stopped $1 ($pid)"
    fi
    rm -f "$2"
}
stop_pid slurmd "$D/slurmd.pid"
stop_pid slurmctld "$D/slurmctld.pid"
exit 0
