#!/bin/bash
# scaling_submit.sh - submit jobs/scaling.slurm once per size, then print the
# job ids (one a line). Sizes are node counts (--nodes=N, ranks = N x
# --ntasks-per-node of the template) or, with --ranks, rank counts on one
# node (--ntasks=N: for a one-node cluster or a CPU study). Other sbatch
# options and --export go through SBATCH_OPTS / the environment:
#   RESULTS=runs/scaling jobs/scaling_submit.sh 1 2 4 8
#   RESULTS=runs/sc SBATCH_OPTS="--gres=gpu:0" jobs/scaling_submit.sh --ranks 1 2
# Afterwards: jobs/scaling_table.sh runs/scaling
set -eu
mode=nodes
[ "${1:-}" = --ranks ] && { mode=ranks; shift; }
[ $# -gt 0 ] || { echo "usage: $0 [--ranks] N..." >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
export RESULTS=${RESULTS:-runs/scaling}
mkdir -p "$RESULTS"
for n in "$@"; do
    case "$n" in ''|*[!0-9]*) echo "scaling_submit.sh: '$n' is not a count" >&2; exit 2 ;; esac
    if [ $mode = nodes ]; then size=(--nodes="$n"); else size=(--nodes=1 --ntasks="$n" --ntasks-per-node="$n"); fi
    # shellcheck disable=SC2086 # SBATCH_OPTS is a list of options
    sbatch --parsable --job-name="scaling-$mode$n" "${size[@]}" ${SBATCH_OPTS:-} --export=ALL "$here/scaling.slurm"
done
