# pmix-env.sh - source before mpirun (sh or bash). Slurm's packages install
# munge; where munged is not running, PMIx's munge security component
# retries it for about 2.3 s at every mpirun start (and at an MPI
# singleton's) before it falls back to native, Unix socket credentials,
# which is all one node needs: ask for native at once. A PMIX_MCA_psec
# already set is kept; with munged running nothing changes.
if [ -z "${PMIX_MCA_psec:-}" ] && ! pgrep -x munged > /dev/null 2>&1; then
    PMIX_MCA_psec=native
    export PMIX_MCA_psec
fi
