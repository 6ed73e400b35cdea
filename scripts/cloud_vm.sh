#!/bin/bash
# cloud_vm.sh - make a fresh rented GPU VM (Ubuntu 22.04 / 24.04, Debian 12;
# IBM Cloud, AWS, Neuromation...) ready to train: NVIDIA driver check, CUDA,
# cuDNN and NCCL (NVIDIA's repository by default, or the distribution's),
# the build packages (scripts/install-deps.sh --build-only), an NFS export
# mounted for data and runs (the NFS-server VM pattern: the data outlives
# the GPU VM), dltrain built --with-cuda, and dltrain-mpi --doctor on the
# mounted run directory. Run as root (or with sudo) from the checkout.
#
# usage: scripts/cloud_vm.sh [options]
#   --nfs SERVER:/EXPORT  mount it at --mount-dir (fstab entry: _netdev,nofail)
#   --mount-dir DIR       default /mnt/dltrain; holds data/ and runs/
#   --cuda-from nvidia|distro   default nvidia (developer.download.nvidia.com);
#                         distro: nvidia-cuda-toolkit, nvidia-cudnn, libnccl-dev
#                         (Ubuntu multiverse; Debian contrib/non-free)
#   --cuda-version X-Y    NVIDIA's package suffix, default 13-0 (cuda-toolkit-13-0)
#   --install-driver      no working driver: install one (ubuntu-drivers on
#                         Ubuntu, NVIDIA's cuda-drivers on Debian), then reboot
#                         and run again; without it a missing driver is an error
#   --no-gpu              skip the driver and CUDA steps; build for CPU
#   --skip-build          use the programs already built in --build-dir
#   --build-dir DIR       where the programs are (default: the checkout)
#   --dry-run             print what would be done (commands prefixed "+ ")
# Environment: DLT_OS_RELEASE (default /etc/os-release).
# Exit status: 0 ready; 1 a step failed; 2 usage or unsupported system;
# 3 a driver was installed: reboot, then run again.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
NFS='' MOUNT_DIR=/mnt/dltrain CUDA_FROM=nvidia CUDA_VER=13-0 INSTALL_DRIVER=0 NO_GPU=0 SKIP_BUILD=0
BUILD_DIR=$REPO DRY=0
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "cloud_vm.sh: $*" >&2; exit "${2:-1}"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --nfs) NFS=${2:?--nfs needs SERVER:/EXPORT}; shift ;;
    --mount-dir) MOUNT_DIR=${2:?}; shift ;;
    --cuda-from) CUDA_FROM=${2:?}; shift ;;
    --cuda-version) CUDA_VER=${2:?}; shift ;;
    --install-driver) INSTALL_DRIVER=1 ;;
    --no-gpu) NO_GPU=1 ;;
    --skip-build) SKIP_BUILD=1 ;;
    --build-dir) BUILD_DIR=${2:?}; shift ;;
    --dry-run) DRY=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" 2 ;;
    esac
    shift
done
case "$CUDA_FROM" in nvidia | distro) ;; *) die "--cuda-from must be nvidia or distro" 2 ;; esac
case "$CUDA_VER" in [0-9]*-[0-9]*) ;; *) die "--cuda-version is MAJOR-MINOR, e.g. 13-0" 2 ;; esac
case "$NFS" in "" | ?*:/*) ;; *) die "--nfs must be SERVER:/EXPORT (got '$NFS')" 2 ;; esac

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
say() { echo "cloud_vm.sh: $*"; }
# run CMD...: run it (through sudo when not root), or print it with --dry-run
run() {
    if [ $DRY -eq 1 ]; then echo "+ $*"; else $SUDO "$@" || die "failed: $*"; fi
}
export DEBIAN_FRONTEND=noninteractive

# ---- the system ----
OS_RELEASE=${DLT_OS_RELEASE:-/etc/os-release}
[ -r "$OS_RELEASE" ] || die "cannot read $OS_RELEASE" 2
# shellcheck source=/dev/null
ID=$(. "$OS_RELEASE" && echo "${ID:-}")
# shellcheck source=/dev/null
VERSION_ID=$(. "$OS_RELEASE" && echo "${VERSION_ID:-}")
case "$ID $VERSION_ID" in
"ubuntu 22.04") NV_DISTRO=ubuntu2204 ;;
"ubuntu 24.04") NV_DISTRO=ubuntu2404 ;;
"debian 12") NV_DISTRO=debian12 ;;
*) die "unsupported system '$ID $VERSION_ID' (Ubuntu 22.04/24.04 or Debian 12)" 2 ;;
esac
ARCH=$(uname -m)
case "$ARCH" in x86_64) NV_ARCH=x86_64 ;; aarch64) NV_ARCH=sbsa ;; *) die "unsupported CPU architecture $ARCH" 2 ;; esac
say "$ID $VERSION_ID ($ARCH)"

# ---- the driver: the one piece a container cannot bring ----
if [ $NO_GPU -eq 0 ]; then
    if command -v nvidia-smi > /dev/null && nvidia-smi > /dev/null 2>&1; then
        say "driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1)," \
            "$(nvidia-smi -L | wc -l) GPU(s): $(nvidia-smi --query-gpu=name --format=csv,noheader | sort | uniq -c | xargs)"
    elif [ $INSTALL_DRIVER -eq 1 ] || [ $DRY -eq 1 ]; then
        say "no working NVIDIA driver (nvidia-smi): installing one"
        DRIVER_INSTALLED=1
        run apt-get update -q
        if [ "$ID" = ubuntu ]; then
            run apt-get install -y -q ubuntu-drivers-common
            run ubuntu-drivers install --gpgpu
        fi
        DRIVER_FROM_REPO=$([ "$ID" = debian ] && echo 1 || echo 0)
    else
        die "no working NVIDIA driver: nvidia-smi $(command -v nvidia-smi > /dev/null && echo fails || echo 'not found'); rerun with --install-driver (then reboot), or --no-gpu for a CPU build"
    fi
fi

# ---- packages: the build ones, NFS client, CUDA + cuDNN + NCCL ----
say "build packages (scripts/install-deps.sh --build-only)"
run "$REPO/scripts/install-deps.sh" --build-only
[ -n "$NFS" ] && run apt-get install -y -q --no-install-recommends nfs-common
CUDA_HOME=
if [ $NO_GPU -eq 0 ]; then
    if [ "$CUDA_FROM" = nvidia ]; then
        major=${CUDA_VER%-*}
        url=https://developer.download.nvidia.com/compute/cuda/repos/$NV_DISTRO/$NV_ARCH/cuda-keyring_1.1-1_all.deb
        say "CUDA $CUDA_VER, cuDNN 9 and NCCL from NVIDIA's repository ($NV_DISTRO/$NV_ARCH)"
        if ! dpkg -s cuda-keyring > /dev/null 2>&1; then
            run apt-get install -y -q --no-install-recommends ca-certificates curl
            run curl -fsSL -o /tmp/cuda-keyring.deb "$url"
            run dpkg -i /tmp/cuda-keyring.deb
        fi
        run apt-get update -q
        pkgs="cuda-toolkit-$CUDA_VER cudnn9-cuda-$major libnccl2 libnccl-dev"
        [ "${DRIVER_FROM_REPO:-0}" = 1 ] && pkgs="$pkgs cuda-drivers"
        run apt-get install -y -q --no-install-recommends $pkgs
        CUDA_HOME=/usr/local/cuda-${CUDA_VER/-/.}
    else
        say "CUDA, cuDNN and NCCL from $ID's archive (contrib/non-free or multiverse must be enabled)"
        run apt-get update -q
        run apt-get install -y -q nvidia-cuda-toolkit nvidia-cudnn libnccl-dev
        [ "${DRIVER_FROM_REPO:-0}" = 1 ] && run apt-get install -y -q nvidia-driver
        CUDA_HOME=/usr
    fi
    if [ "${DRIVER_INSTALLED:-0}" = 1 ]; then
        if [ $DRY -eq 0 ]; then
            say "driver installed: reboot, then run this again"
            exit 3
        fi
        say "(driver installed: the real run stops here for a reboot, exit status 3)"
    fi
fi

# ---- the NFS export: data and runs outlive the GPU VM ----
if [ -n "$NFS" ]; then
    say "mounting $NFS at $MOUNT_DIR"
    run mkdir -p "$MOUNT_DIR"
    line="$NFS $MOUNT_DIR nfs4 rw,hard,noatime,_netdev,nofail 0 0"
    if ! grep -qs " $MOUNT_DIR nfs" /etc/fstab; then
        if [ $DRY -eq 1 ]; then echo "+ echo '$line' >> /etc/fstab"; else echo "$line" | $SUDO tee -a /etc/fstab > /dev/null; fi
    fi
    mountpoint -q "$MOUNT_DIR" 2> /dev/null || run mount "$MOUNT_DIR"
    run mkdir -p "$MOUNT_DIR/data" "$MOUNT_DIR/runs"
fi

# ---- build and check ----
if [ $SKIP_BUILD -eq 0 ]; then
    flags=
    [ $NO_GPU -eq 0 ] && flags="--with-cuda=$CUDA_HOME"
    say "building in $REPO (scripts/build.sh $flags)"
    if [ $DRY -eq 1 ]; then echo "+ $REPO/scripts/build.sh $flags"; else "$REPO/scripts/build.sh" $flags || die "build failed"; fi
    BUILD_DIR=$REPO
fi
runs=$MOUNT_DIR/runs
[ -n "$NFS" ] || runs=${DLT_RUNS_DIR:-$REPO/runs}
doctor="$BUILD_DIR/dltrain-mpi --doctor --run-dir $runs/doctor-$(hostname -s)"
if [ $DRY -eq 1 ]; then
    echo "+ $doctor"
else
    [ -x "$BUILD_DIR/dltrain-mpi" ] || die "$BUILD_DIR/dltrain-mpi not built"
    $doctor || die "dltrain-mpi --doctor found a problem (above)"
fi
say "ready: $( [ $NO_GPU -eq 0 ] && echo "mpirun -np <GPUs> $BUILD_DIR/dltrain-mpi --device gpu" || echo "mpirun -np <cores> $BUILD_DIR/dltrain-mpi") --solver ... --run-dir $runs/NAME"
