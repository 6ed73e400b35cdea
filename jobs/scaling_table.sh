#!/bin/bash
# scaling_table.sh - collect the results of jobs/scaling.slurm runs in
# RESULTS (default runs/scaling) into one table: nodes, ranks, images/s,
# speed-up against the smallest run (fewest ranks; 1 node in a node study)
# and efficiency (images/s per rank relative to the smallest run's). Exit 1 when there is no result.
set -eu
dir=${1:-${RESULTS:-runs/scaling}}
ls "$dir"/N*-n*.txt > /dev/null 2>&1 || { echo "scaling_table.sh: no results (N*-n*.txt) in $dir" >&2; exit 1; }
cat "$dir"/N*-n*.txt | sort -n -k2 | awk '
    NR == 1 { total = $3; per_rank = $3 / $2; printf "%5s %5s %12s %8s %10s %8s\n", "nodes", "ranks", "images/s", "speedup", "efficiency", "job" }
    { printf "%5d %5d %12.1f %8.2f %9.0f%% %8s\n", $1, $2, $3, $3 / total, 100 * ($3 / $2) / per_rank, $4 }'
