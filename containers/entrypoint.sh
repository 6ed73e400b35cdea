#!/bin/sh
# entrypoint.sh - the images' entry point: `IMAGE --doctor ...` or any other
# leading option runs dltrain-mpi with it; `IMAGE demo` runs scripts/demo.sh
# with its data and run directory under the working directory (/work, a
# volume); `IMAGE mpirun ...` runs mpirun, turning the SIGTERM a container
# stop or Kubernetes sends into the SIGUSR2 dltrain checkpoints on (mpirun
# would pass SIGTERM on only 1 s before SIGKILL); anything else (dltrain-prep,
# dltrain-eval, bash...) runs as given.
set -eu
case "${1:-}" in
-*) exec dltrain-mpi "$@" ;;
demo) shift; DATA=${DATA:-$PWD/data} RUN=${RUN:-$PWD/runs/lenet-fashion} exec /opt/dltrain/scripts/demo.sh "$@" ;;
mpirun)
    "$@" &
    child=$!
    trap 'kill -USR2 $child 2> /dev/null' TERM INT
    # wait returns early when a trapped signal arrives: wait again for the
    # exit status (75 after a checkpoint: rerun with --resume auto).
    status=0
    wait $child || status=$?
    while kill -0 $child 2> /dev/null; do
        status=0
        wait $child || status=$?
    done
    exit $status ;;
"") exec dltrain-mpi --help ;;
*) exec "$@" ;;
esac
