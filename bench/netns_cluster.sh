#!/bin/bash
# netns_cluster.sh - a test "cluster" of N hosts on one machine: network
# namespaces joined by veth pairs to a bridge (in its own namespace), Open
# MPI over TCP launched into them through bench/nsagent, optional shaping
# (tbf rate limit on every host's egress). Needs root (ip netns).
#   netns_cluster.sh up N [RATE]     e.g. up 2 1gbit   (RATE: tc tbf rate; none = unshaped)
#   netns_cluster.sh mpirun NP ARGS  mpirun (in the first host) across the hosts
#   netns_cluster.sh down
# Hosts are ${NS_PREFIX}1..N (default dltns1..), addresses 10.77.${NS_NET}.i/24.
set -u
PREFIX=${NS_PREFIX:-dltns}
NET=${NS_NET:-55}
HERE=$(cd "$(dirname "$0")" && pwd)
STATE=/tmp/$PREFIX.hosts

up() {
    local n=$1 rate=${2:-none}
    down 2>/dev/null
    ip netns add ${PREFIX}sw || return 1
    ip -n ${PREFIX}sw link set lo up
    ip -n ${PREFIX}sw link add br0 type bridge && ip -n ${PREFIX}sw link set br0 up || return 1
    : > "$STATE"
    for i in $(seq 1 "$n"); do
        local h=$PREFIX$i
        ip netns add $h && ip -n $h link set lo up || return 1
        ip link add ${PREFIX}v$i type veth peer name ${PREFIX}b$i || return 1
        ip link set ${PREFIX}v$i netns $h && ip link set ${PREFIX}b$i netns ${PREFIX}sw || return 1
        ip -n $h link set ${PREFIX}v$i name eth0
        ip -n ${PREFIX}sw link set ${PREFIX}b$i master br0 && ip -n ${PREFIX}sw link set ${PREFIX}b$i up
        ip -n $h addr add 10.77.$NET.$i/24 dev eth0 && ip -n $h link set eth0 up || return 1
        if [ "$rate" != none ]; then
            # tbf on the host's egress; netem (delay) is not in every kernel.
            ip netns exec $h tc qdisc add dev eth0 root tbf rate "$rate" burst 128kb latency 20ms || return 1
        fi
        echo "$h slots=1" >> "$STATE"
    done
}

down() {
    for ns in $(ip netns list | awk '{print $1}' | grep -E "^${PREFIX}([0-9]+|sw)$"); do
        ip netns del "$ns"
    done
    rm -f "$STATE"
}

# Open MPI settings that the namespace hosts need (see MULTIHOST.md):
# TCP only, no core binding, no hwloc vmhole (orted crash), and two TCP
# links with 128 KB buffers so small messages do not queue behind bulk data.
run_mpi() {
    local np=$1
    shift
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
        ip netns exec ${PREFIX}1 mpirun --hostfile "$STATE" -np "$np" --bind-to none \
        --mca rtc_hwloc_vmhole none --mca plm_rsh_agent "$HERE/nsagent" \
        --mca btl tcp,self --mca btl_tcp_if_include 10.77.$NET.0/24 --mca oob_tcp_if_include 10.77.$NET.0/24 \
        --mca btl_tcp_links 2 --mca btl_tcp_sndbuf 131072 --mca btl_tcp_rcvbuf 131072 \
        -x OPENBLAS_NUM_THREADS -x DLT_TEST_HANG_RANK -x DLT_TEST_HANG_ITER "$@"
}

case "${1:-}" in
up) shift; up "$@" ;;
down) down ;;
mpirun) shift; run_mpi "$@" ;;
*) sed -n '2,12p' "$0"; exit 2 ;;
esac
