#!/bin/bash
# stop.sh - stop the local Grid Engine: delete jobs, then sge_execd and
# sge_qmaster by the PIDs in their pid files (a job's sge_shepherd can
# outlive execd, so jobs first). -q: quieter.
. "$(dirname "$0")/env.sh"
quiet=0; [ "${1:-}" = -q ] && quiet=1
if command -v qstat > /dev/null && timeout 5 qstat > /dev/null 2>&1; then
    qdel -f -u '*' > /dev/null 2>&1
    for _ in $(seq 1 50); do
        [ -z "$(timeout 5 qstat -u '*' 2> /dev/null)" ] && break
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
        [ $quiet -eq 1 ] || echo "sge/stop.sh: stopped $1 ($pid)"
    fi
    rm -f "$2"
}
# execd spools under the name the host resolves to (localhost here).
for f in /var/spool/gridengine/execd/*/execd.pid; do stop_pid sge_execd "$f"; done
stop_pid sge_qmaster /var/spool/gridengine/qmaster/qmaster.pid
exit 0
