# env.sh - where the local Slurm lives; sourced by start.sh, stop.sh and
# status.sh (and by users: `. slurm/env.sh` points sbatch/squeue at it).
DLT_SLURM_DIR="${DLT_SLURM_DIR:-/tmp/dltrain-slurm}"
SLURM_CONF="$DLT_SLURM_DIR/slurm.conf"
export DLT_SLURM_DIR SLURM_CONF
