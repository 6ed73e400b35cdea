#!/bin/sh
# install-deps.sh - install everything dltrain needs to build, test and run
# its demo on Debian 12 / Ubuntu (as root, or with sudo). Idempotent: only
# missing packages are installed (libjansson: the COCO captions JSON of
# dltrain-prep --format captions; python3-nltk: tests/test_bleu.sh's reference
# BLEU; protobuf-c: Caffe .caffemodel files and ONNX
# models; protoc, python3-protobuf and python3-venv: the tests read them
# independently, with onnxruntime from PyPI in a venv; clang and its runtime
# (libFuzzer, sanitizers): the fuzz harnesses, make fuzz). --bench adds PyTorch CPU and tjbench for bench/.
# --sge installs only Son of Grid Engine (gridengine-master/-exec/-client,
# debconf preseeded for a one-node cell on this host; for sge/start.sh).
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config
  libopenmpi-dev openmpi-bin libhdf5-dev libturbojpeg0-dev libopenblas-dev zlib1g-dev
  libjansson-dev
  libdnnl-dev
  libprotobuf-c-dev protobuf-c-compiler protobuf-compiler python3-protobuf python3-venv
  clang libclang-rt-14-dev
  python3 python3-h5py python3-numpy python3-pil python3-nltk dataset-fashion-mnist
  chromium
  slurm-wlm slurm-client munge"  # a one-node Slurm for tests/test_slurm.sh (slurm/start.sh)
for arg in "$@"; do
    case "$arg" in
    --bench) PACKAGES="$PACKAGES python3-torch libjpeg-turbo-progs" ;;  # tjbench: bench/data_bench.sh
    --sge) PACKAGES="gridengine-master gridengine-exec gridengine-client"
        # Without these answers the packages ask, or configure no cell.
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        H=$(hostname -s)
        for p in gridengine-common gridengine-master gridengine-client gridengine-exec; do
            printf '%s shared/gridengineconfig boolean true\n%s shared/gridenginecell string default\n%s shared/gridenginemaster string %s\n' \
                $p $p $p "$H"
        done | $SUDO debconf-set-selections ;;
    -h|--help) echo "usage: $0 [--bench] [--sge]"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg'" >&2; exit 2 ;;
    esac
done

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps.sh: all packages present"
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps.sh: installing$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
