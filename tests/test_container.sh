#!/bin/bash
# test_container.sh - the CPU image (containers/Dockerfile) built with podman
# from a locally imported Debian 12 base (containers/base-image.sh), then, in
# it: no compiler, a non-root user, the OCI labels, --doctor (alone and under
# mpirun -np 2), the demo (Fashion-MNIST, mpirun -np 2) to its accuracy, and
# the demo's first checkpoint, written by the host build into a run
# directory bind-mounted into the container, resumed there to the same files
# and bit-identical weights and losses as the host's own resume; and
# `podman stop` (SIGTERM to the entry point) ending in a checkpoint and exit
# 75. Prints the image size. Skips, saying why, without root, podman or a base image.
# The build reuses podman's layer cache: a changed source tree rebuilds the
# compile stage only, a changed package list the runtime packages;
# DLT_CONTAINER_IMAGE names the image (default localhost/dltrain:cpu-test,
# with -deps and -build for its first stages).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "rootful podman needs root (this machine's podman setup; README)"
command -v podman > /dev/null || skip_all "podman not found (scripts/install-deps.sh --containers)"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
command -v "$MPIRUN" > /dev/null || skip_all "mpirun not found (apt-get install openmpi-bin)"
# The image is configured by default, and the resume is compared bit for bit
# with this build: only the default configuration's run (not .ci/run's
# --without-dnnl, --with-cuda and ASan copies) can and need build it.
cfg=$("$top_builddir/config.status" --config 2> /dev/null)
[ -z "$cfg" ] || skip_all "this build is configured $cfg; the image and the comparison use the default configuration (its run covers them)"
base_log=$WORK/base-image.log
"$top_srcdir/containers/base-image.sh" > "$base_log" 2>&1 ||
    skip_all "no Debian 12 base image: $(tail -n 1 "$base_log")"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }

IMAGE=${DLT_CONTAINER_IMAGE:-localhost/dltrain:cpu-test}
# This machine's podman: runc (crun refuses hybrid cgroups), the host's
# network (no bridge), ulimits at or below the host's.
PFLAGS="--runtime runc --network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096"
prun() { podman run --rm $PFLAGS "$@"; }
UID_IN=1000 # the image's user dltrain
SOLVER=nets/lenet_fashion_solver.prototxt
# checkd FILE "description" command...: check, showing FILE when it fails
checkd() { local f=$1 d=$2; shift 2; if "$@"; then ok "$d"; else fail "$d"; diag_file "$f"; fi; }

# ---- the image ----
# The deps and build stages are tagged too, so their layers stay cached for
# the next run; what older runs left (untagged now) is pruned by label.
t0=$(date +%s)
rev=$(git -C "$top_srcdir" rev-parse HEAD 2> /dev/null || echo unknown)
build() { # TAG [podman build options]
    local tag=$1
    shift
    nice -n 10 podman build --pull=never $PFLAGS --build-arg JOBS=2 --build-arg REVISION="$rev" "$@" \
        -f "$top_srcdir/containers/Dockerfile" -t "$tag" "$top_srcdir" >> "$WORK/build.log" 2>&1
}
# podman 4.3 (buildah 1.28) reuses a cached LABEL layer after its ARG
# changed (measured: the revision stayed the previous one); --label too
# makes it redo that one layer.
if build "$IMAGE-deps" --target deps && build "$IMAGE-build" --target build &&
    build "$IMAGE" --label "org.opencontainers.image.revision=$rev"; then
    ok "podman build -f containers/Dockerfile ($(($(date +%s) - t0)) s)"
else
    fail "podman build -f containers/Dockerfile"
    diag_file "$WORK/build.log" 30
    done_testing
fi
for l in dltrain.stage org.opencontainers.image.title=dltrain; do
    podman image prune -f --filter "label=$l" > /dev/null 2>&1
done
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "# image $IMAGE: $((size / 1000000)) MB ($size bytes); base $(($(podman image inspect --format '{{.Size}}' localhost/debian:bookworm) / 1000000)) MB"
label() { podman image inspect --format "{{index .Labels \"org.opencontainers.image.$1\"}}" "$IMAGE"; }
check "OCI labels: title dltrain, revision $rev" test "$(label title)" = dltrain -a "$(label revision)" = "$rev"
check "runs as the non-root user dltrain ($UID_IN)" test "$(prun "$IMAGE" id -u)" = "$UID_IN"
prun --entrypoint /bin/sh "$IMAGE" -c \
    'for c in cc gcc c++ g++ clang ld as make; do command -v $c; done; ls -d /usr/lib/gcc/*/*/cc1 /usr/include/stdio.h 2>/dev/null' \
    > "$WORK/compilers.txt" 2>&1
checkd "$WORK/compilers.txt" "the runtime stage has no compiler, linker, make or C headers" \
    test ! -s "$WORK/compilers.txt"
check "every program's libraries resolve" prun --entrypoint /bin/sh "$IMAGE" -c \
    '! ldd /opt/dltrain/dltrain-* | grep "not found"'

# ---- --doctor ----
mkdir -p "$WORK/doc" && chown "$UID_IN" "$WORK/doc"
prun -v "$WORK/doc:/work" -v "$FMNIST_TRAIN:/data/train.h5:ro" \
    "$IMAGE" --doctor --train /data/train.h5 --run-dir /work/run > "$WORK/doctor1.txt" 2>&1
checkd "$WORK/doctor1.txt" "IMAGE --doctor --train (the entry point's dltrain-mpi): every rank can train" \
    grep -q "every rank can train" "$WORK/doctor1.txt"
prun -v "$WORK/doc:/work" "$IMAGE" mpirun -np 2 dltrain-mpi --doctor --run-dir /work/run > "$WORK/doctor2.txt" 2>&1
checkd "$WORK/doctor2.txt" "mpirun -np 2 dltrain-mpi --doctor in the image: a row per rank, both ok" \
    test "$(grep -Ec '^[01] .* ok ' "$WORK/doctor2.txt")" -eq 2

# ---- the demo ----
mkdir -p "$WORK/demo" && chown "$UID_IN" "$WORK/demo"
t1=$(date +%s)
prun -v "$WORK/demo:/work" "$IMAGE" demo > "$WORK/demo.txt" 2>&1
echo "# demo in the image: $(($(date +%s) - t1)) s; $(grep 'final test accuracy' "$WORK/demo.txt")"
acc=$(sed -n 's/final test accuracy (top-1): //p' "$WORK/demo.txt")
checkd "$WORK/demo.txt" "demo (mpirun -np 2, 4 epochs): test accuracy $acc >= 0.85" \
    awk -v a="${acc:-0}" 'BEGIN { exit !(a >= 0.85) }'
check "demo left both checkpoints and report.html" test -f "$WORK/demo/runs/lenet-fashion/checkpoints/iter_00000936.h5" \
    -a -f "$WORK/demo/runs/lenet-fashion/checkpoints/iter_00001872.h5" -a -f "$WORK/demo/runs/lenet-fashion/report.html"

# ---- a host checkpoint resumed in the image ----
# The host build runs the demo's training to its first snapshot (iteration
# 936); two copies of that run directory are resumed to 1000, one by the host
# build, one by the image with the copy bind-mounted.
MID=iter_00000936.h5 END=iter_00001000.h5
host_train() { # RUN_DIR MAX_ITER [args]
    local d=$1 n=$2
    shift 2
    "$MPIRUN" -np 2 --oversubscribe "$TRAIN" --solver "$top_srcdir/$SOLVER" --train "$FMNIST_TRAIN" \
        --val "$FMNIST_TEST" --run-dir "$d" --max-iter "$n" "$@" >> "$d.out" 2>&1
}
check "host build: the demo's training to its snapshot at 936" host_train "$WORK/host" 936
check "... wrote $MID" test -f "$WORK/host/checkpoints/$MID"
cp -a "$WORK/host" "$WORK/res_host" && cp -a "$WORK/host" "$WORK/res_image" && chown -R "$UID_IN" "$WORK/res_image"
check "host build: --resume auto to 1000" host_train "$WORK/res_host" 1000 --resume auto
prun -v "$WORK/res_image:/work/run" -v "$(dirname "$FMNIST_TRAIN"):/data:ro" "$IMAGE" \
    mpirun -np 2 dltrain-mpi --solver "/opt/dltrain/$SOLVER" --train /data/train.h5 --val /data/test.h5 \
    --run-dir /work/run --max-iter 1000 --resume auto > "$WORK/res_image.out" 2>&1
checkd "$WORK/res_image.out" "image: --resume auto of the host's run directory to 1000" \
    grep -q "resumed from .*$MID at iteration 936" "$WORK/res_image.out"
files() { (cd "$1" && find . -type f | sort); }
diff <(files "$WORK/res_host") <(files "$WORK/res_image") > "$WORK/files.diff"
checkd "$WORK/files.diff" "same files in both run directories ($(files "$WORK/res_host" | wc -l))" test ! -s "$WORK/files.diff"
if "$PYTHON_H5PY" "$top_srcdir/tests/compare_ckpt.py" "$WORK/res_host/checkpoints/$END" \
    "$WORK/res_image/checkpoints/$END" exact > "$WORK/cmp.txt" 2>&1; then
    ok "resumed weights and momentum: image == host, bit for bit"
else
    fail "resumed weights differ between image and host"; diag_file "$WORK/cmp.txt"
fi
# The results in metrics.jsonl: every train loss and test score, without times.
results() {
    "$PYTHON_H5PY" -c 'import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("kind") in ("train", "test"):
        print({k: v for k, v in r.items() if "loss" in k or "top" in k or k in ("kind", "iter", "lr")})' "$1/metrics.jsonl"
}
results "$WORK/res_host" > "$WORK/res_host.metrics" && results "$WORK/res_image" > "$WORK/res_image.metrics"
diff "$WORK/res_host.metrics" "$WORK/res_image.metrics" > "$WORK/metrics.diff"
checkd "$WORK/metrics.diff" "same losses and test scores in metrics.jsonl ($(wc -l < "$WORK/res_host.metrics") records)" \
    test -s "$WORK/res_host.metrics" -a ! -s "$WORK/metrics.diff"
# ---- podman stop: SIGTERM to the entry point, PID 1 of the container ----
# (what Kubernetes sends a pod): the ranks checkpoint and the container exits
# 75, the status k8s/job-1node.yaml's podFailurePolicy does not count.
mkdir -p "$WORK/stop" && cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/stop/"
sed -e 's/^display:.*/display: 5/' -e 's/^test_interval:.*/test_interval: 100000/' \
    "$top_srcdir/$SOLVER" > "$WORK/stop/solver.prototxt"
chown -R "$UID_IN" "$WORK/stop"
name=dltrain-test-stop-$$
trap 'podman rm -f "$name" > /dev/null 2>&1' EXIT
podman run -d --name "$name" $PFLAGS -v "$WORK/stop:/work/run" -v "$(dirname "$FMNIST_TRAIN"):/data:ro" "$IMAGE" \
    mpirun -np 2 dltrain-mpi --solver /work/run/solver.prototxt --train /data/train.h5 --val /data/test.h5 \
    --run-dir /work/run/r --max-iter 100000 > /dev/null
for _ in $(seq 240); do grep -q '"kind":"train"' "$WORK/stop/r/metrics.jsonl" 2> /dev/null && break; sleep 0.5; done
podman stop -t 120 "$name" > /dev/null
st=$(podman inspect --format '{{.State.ExitCode}}' "$name")
podman logs "$name" > "$WORK/stop.out" 2>&1
podman rm "$name" > /dev/null
checkd "$WORK/stop.out" "podman stop: the ranks checkpoint, the container exits 75 (got $st)" test "$st" = 75
check "... leaving a checkpoint to --resume auto from" sh -c "ls '$WORK/stop/r/checkpoints/'iter_*.h5 > /dev/null"
echo "# test_container.sh: $(($(date +%s) - t0)) s in all"
done_testing
