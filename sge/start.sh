#!/bin/bash
# start.sh - start a one-node Son of Grid Engine on localhost (sge_qmaster,
# sge_execd) without systemd, from Debian's gridengine-master/-exec/-client
# (installed by scripts/install-deps.sh --sge): for tests and for trying
# jobs/googlenet.sge. Run as root. Configures what a fresh install lacks:
# host_aliases (127.0.0.1 reverse-resolves to localhost), min_uid/min_gid 0
# (jobs as root), the exec host, PE `mpi` ($fill_up, control_slaves TRUE),
# queue all.q with every core, schedule_interval 0:0:2. Idempotent: a
# running cluster is left alone.
set -eu
. "$(dirname "$0")/env.sh"
D="$DLT_SGE_DIR"
die() { echo "sge/start.sh: $*" >&2; exit 1; }
dlt_private_dir "$D" create || die "DLT_SGE_DIR=$D is not safe to use as root (above)"
# qconf reports success and failure alike on stderr; keep it for errors.
qc() { local out; out=$(qconf "$@" 2>&1) || die "qconf $*: $out"; }
for b in sge_qmaster sge_execd qsub qconf; do
    command -v $b > /dev/null || [ -x /usr/sbin/$b ] ||
        die "$b not found: install Grid Engine with scripts/install-deps.sh --sge (gridengine-master/-exec/-client)"
done
[ "$(id -u)" -eq 0 ] || die "run as root (sge_execd must start jobs as any user)"
COMMON="$SGE_ROOT/$SGE_CELL/common"
[ -f "$COMMON/act_qmaster" ] ||
    die "no cell $SGE_ROOT/$SGE_CELL: the packages were installed without the debconf preseed (scripts/install-deps.sh --sge)"
if "$(dirname "$0")/status.sh" -q; then
    echo "sge/start.sh: already running (SGE_ROOT=$SGE_ROOT)"
    exit 0
fi
"$(dirname "$0")/stop.sh" -q || true
HOST=$(hostname -s)
NCPU=$(nproc)
# The master name the packages were configured with must be this host.
echo "$HOST" > "$COMMON/act_qmaster"
# Clients connect from 127.0.0.1, which reverse-resolves to localhost.
echo "$HOST localhost" > "$COMMON/host_aliases"

/usr/sbin/sge_qmaster || die "sge_qmaster did not start; see /var/spool/gridengine/qmaster/messages"
for _ in $(seq 1 50); do qconf -sh > /dev/null 2>&1 && break; sleep 0.2; done
qconf -sh > /dev/null 2>&1 || die "sge_qmaster does not answer; see /var/spool/gridengine/qmaster/messages"

# Global configuration: jobs may run as root (uid/gid 0).
qconf -sconf global | sed -e 's/^min_uid .*/min_uid 0/' -e 's/^min_gid .*/min_gid 0/' > "$D/global"
qc -Mconf "$D/global"
# Scheduler: look every 2 s, not every 15 s.
qconf -ssconf | sed 's/^schedule_interval .*/schedule_interval 0:0:2/' > "$D/sched.conf"
qc -Msconf "$D/sched.conf"
qconf -sh | grep -qx "$HOST" || qc -ah "$HOST"
qconf -ss 2> /dev/null | grep -qx "$HOST" || qc -as "$HOST"
if ! qconf -se "$HOST" > /dev/null 2>&1; then
    printf 'hostname %s\nload_scaling NONE\ncomplex_values NONE\nuser_lists NONE\nxuser_lists NONE\nprojects NONE\nxprojects NONE\nusage_scaling NONE\nreport_variables NONE\n' \
        "$HOST" > "$D/exechost.conf"
    qc -Ae "$D/exechost.conf"
fi
# PE mpi: Wynton-style `qsub -pe mpi N`; Open MPI reads PE_HOSTFILE/NSLOTS
# and starts its daemons with qrsh -inherit (control_slaves TRUE).
cat > "$D/pe_mpi.conf" << CONF
pe_name            mpi
slots              9999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    \$fill_up
control_slaves     TRUE
job_is_first_task  FALSE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
CONF
if qconf -sp mpi > /dev/null 2>&1; then qc -Mp "$D/pe_mpi.conf"; else qc -Ap "$D/pe_mpi.conf"; fi
# smp: all slots on one host (for threaded single-node jobs).
sed -e 's/^pe_name .*/pe_name            smp/' -e 's/^allocation_rule .*/allocation_rule    $pe_slots/' \
    "$D/pe_mpi.conf" > "$D/pe_smp.conf"
if qconf -sp smp > /dev/null 2>&1; then qc -Mp "$D/pe_smp.conf"; else qc -Ap "$D/pe_smp.conf"; fi
# Queue all.q: every core of this host; no load threshold (a busy shared
# machine would otherwise put the queue in alarm state and start nothing).
qconf -sq all.q > /dev/null 2>&1 && qc -dq all.q
qconf -sq | sed -e "s/^qname .*/qname all.q/" -e "s/^hostlist .*/hostlist $HOST/" \
    -e "s/^slots .*/slots $NCPU/" -e 's/^load_thresholds .*/load_thresholds NONE/' \
    -e 's/^pe_list .*/pe_list mpi smp/' -e "s/^notify .*/notify ${DLT_SGE_NOTIFY:-00:01:00}/" \
    -e 's/^shell .*/shell \/bin\/bash/' > "$D/queue.conf"
qc -Aq "$D/queue.conf"

/usr/sbin/sge_execd || die "sge_execd did not start; see /var/spool/gridengine/execd/*/messages"
for _ in $(seq 1 100); do "$(dirname "$0")/status.sh" -q && break; sleep 0.2; done
"$(dirname "$0")/status.sh" -q || die "exec host $HOST does not report; see /var/spool/gridengine/execd/*/messages"
echo "sge/start.sh: host $HOST up, queue all.q ($NCPU slots), PEs mpi and smp; SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL"
