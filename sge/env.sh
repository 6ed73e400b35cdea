# env.sh - where the local Son of Grid Engine lives (Debian's layout);
# sourced by start.sh, stop.sh and status.sh, and by users: `. sge/env.sh`
# points qsub/qstat at it.
SGE_ROOT="${SGE_ROOT:-/var/lib/gridengine}"
SGE_CELL="${SGE_CELL:-default}"
DLT_SGE_DIR="${DLT_SGE_DIR:-/run/dltrain-sge}"      # generated configuration files (root's /run, checked)
export SGE_ROOT SGE_CELL DLT_SGE_DIR
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/private-dir.sh"
