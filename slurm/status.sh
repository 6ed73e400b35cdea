#!/bin/bash
# status.sh - is the local Slurm up? Prints sinfo and the queue; exit 0 when
# slurmctld answers and the node is usable, 1 otherwise. -q: no output.
. "$(dirname "$0")/env.sh"
dlt_private_dir "$DLT_SLURM_DIR" || { echo "slurm/status.sh: DLT_SLURM_DIR=$DLT_SLURM_DIR is not safe to use (above)" >&2; exit 1; }
quiet=0; [ "${1:-}" = -q ] && quiet=1
[ -f "$SLURM_CONF" ] || { [ $quiet -eq 1 ] || echo "slurm/status.sh: not configured ($SLURM_CONF missing)"; exit 1; }
command -v sinfo > /dev/null || { [ $quiet -eq 1 ] || echo "slurm/status.sh: sinfo not installed"; exit 1; }
state=$(timeout 5 sinfo -h -N -o %t 2> /dev/null | head -1)
case "$state" in
idle*|mix*|alloc*|comp*)
    [ $quiet -eq 1 ] || { sinfo -N -o '%N %t %c %m %G'; squeue; }
    exit 0 ;;
*)  [ $quiet -eq 1 ] || echo "slurm/status.sh: not running or node unusable (state '${state:-no answer}')"
    exit 1 ;;
esac
