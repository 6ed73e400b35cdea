# env.sh - where the local Slurm lives; sourced by start.sh, stop.sh and
# status.sh (and by users: `. slurm/env.sh` points sbatch/squeue at it).
# Under /run (root's, not world-writable like /tmp), checked before use by
# start.sh, stop.sh and status.sh (scripts/private-dir.sh).
DLT_SLURM_DIR="${DLT_SLURM_DIR:-/run/dltrain-slurm}"
SLURM_CONF="$DLT_SLURM_DIR/slurm.conf"
export DLT_SLURM_DIR SLURM_CONF
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/private-dir.sh"
