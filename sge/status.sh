#!/bin/bash
# status.sh - is the local Grid Engine up? Prints the queue summary; exit 0
# when sge_qmaster answers and the exec host reports a load, 1 otherwise.
# -q: no output.
. "$(dirname "$0")/env.sh"
quiet=0; [ "${1:-}" = -q ] && quiet=1
say() { [ $quiet -eq 1 ] || echo "sge/status.sh: $*"; }
command -v qstat > /dev/null || { say "qstat not installed"; exit 1; }
[ -f "$SGE_ROOT/$SGE_CELL/common/act_qmaster" ] || { say "no cell $SGE_ROOT/$SGE_CELL"; exit 1; }
# qhost shows '-' as the load until sge_execd has reported.
load=$(timeout 5 qhost -h "$(hostname -s)" 2> /dev/null | awk 'NR > 3 { print $4 }')
case "$load" in
''|-) say "not running or exec host not reporting (load '${load:-no answer}')"; exit 1 ;;
esac
[ $quiet -eq 1 ] || { qhost; qstat -f; }
exit 0
