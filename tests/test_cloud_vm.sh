#!/bin/bash
# test_cloud_vm.sh - scripts/cloud_vm.sh: its plan (--dry-run) for each
# supported system (Ubuntu 22.04 and 24.04, Debian 12, from a stand-in
# os-release): NVIDIA's repository for that system, CUDA + cuDNN + NCCL
# packages, the NFS fstab line and mount, the --with-cuda build, --doctor;
# the distribution's CUDA instead; refusals (unsupported system, bad
# options); and its non-GPU part for real here (--no-gpu --skip-build: the
# build packages, dltrain-mpi --doctor on a run directory).
. "$(dirname "$0")/lib.sh"
VM=$top_srcdir/scripts/cloud_vm.sh
osr() { printf 'ID=%s\nVERSION_ID="%s"\n' "$1" "$2" > "$WORK/os-$1-$2"; echo "$WORK/os-$1-$2"; }
# plan OUT ID VERSION [options]: a dry run for that system
plan() { local out=$1 id=$2 ver=$3; shift 3; DLT_OS_RELEASE=$(osr "$id" "$ver") "$VM" --dry-run "$@" > "$out" 2>&1; }
has() { grep -qF -- "$2" "$1"; }

check "--help describes the options" sh -c "'$VM' --help | grep -q -- --nfs"
for sys in "ubuntu 22.04 ubuntu2204" "ubuntu 24.04 ubuntu2404" "debian 12 debian12"; do
    set -- $sys
    out=$WORK/plan-$3.txt
    check "$1 $2: the dry run succeeds" plan "$out" "$1" "$2" --nfs 10.0.0.2:/export/dltrain
    check "... NVIDIA's $3 repository keyring" has "$out" \
        "https://developer.download.nvidia.com/compute/cuda/repos/$3/x86_64/cuda-keyring_1.1-1_all.deb"
    check "... CUDA 13.0, cuDNN 9, NCCL" has "$out" "install -y -q --no-install-recommends cuda-toolkit-13-0 cudnn9-cuda-13 libnccl2 libnccl-dev"
    check "... the build packages by install-deps.sh --build-only, nfs-common" \
        sh -c "grep -q 'install-deps.sh --build-only' '$out' && grep -q 'nfs-common' '$out'"
    check "... the NFS export in fstab and mounted" \
        sh -c "grep -qF \"'10.0.0.2:/export/dltrain /mnt/dltrain nfs4 rw,hard,noatime,_netdev,nofail 0 0' >> /etc/fstab\" '$out' && grep -qx '+ mount /mnt/dltrain' '$out'"
    check "... built --with-cuda=/usr/local/cuda-13.0, then --doctor on the NFS run directory" \
        sh -c "grep -q 'build.sh --with-cuda=/usr/local/cuda-13.0' '$out' && grep -q 'dltrain-mpi --doctor --run-dir /mnt/dltrain/runs/' '$out'"
done
if ! command -v nvidia-smi > /dev/null; then
    check "no driver: Ubuntu's plan installs one with ubuntu-drivers" has "$WORK/plan-ubuntu2404.txt" "+ ubuntu-drivers install --gpgpu"
    check "... Debian's with NVIDIA's cuda-drivers" has "$WORK/plan-debian12.txt" "cuda-drivers"
fi
check "--cuda-from distro: the distribution's toolkit" \
    plan "$WORK/distro.txt" debian 12 --cuda-from distro
check "... nvidia-cuda-toolkit nvidia-cudnn libnccl-dev, --with-cuda=/usr" \
    sh -c "grep -q 'nvidia-cuda-toolkit nvidia-cudnn libnccl-dev' '$WORK/distro.txt' && grep -q 'build.sh --with-cuda=/usr\$' '$WORK/distro.txt' && ! grep -q cuda-keyring '$WORK/distro.txt'"
plan "$WORK/nogpu.txt" debian 12 --no-gpu
check "--no-gpu: no driver, no CUDA, a CPU build" \
    sh -c "! sed 's|$top_srcdir||g' '$WORK/nogpu.txt' | grep -qi -e cuda -e nvidia -e driver && grep -q 'build.sh *\$' '$WORK/nogpu.txt'"

plan "$WORK/fedora.txt" fedora 40
check "unsupported system refused, exit 2" test $? -eq 2
check "... naming it" has "$WORK/fedora.txt" "unsupported system 'fedora 40'"
plan "$WORK/badnfs.txt" debian 12 --nfs server-without-path
check "--nfs without :/EXPORT refused, exit 2" test $? -eq 2
plan "$WORK/badopt.txt" debian 12 --cuda-from conda
check "--cuda-from conda refused, exit 2" test $? -eq 2

# The non-GPU part for real: the packages (present: nothing to install) and
# the doctor on a run directory here.
if [ "$(id -u)" -ne 0 ]; then
    echo "# the real --no-gpu run needs root (install-deps.sh): not run"
elif [ ! -x "$top_builddir/dltrain-mpi" ]; then
    echo "# dltrain-mpi not built: the real --no-gpu run not done"
else
    DLT_RUNS_DIR=$WORK/runs "$VM" --no-gpu --skip-build --build-dir "$top_builddir" > "$WORK/real.txt" 2>&1
    st=$?
    if [ $st -eq 0 ] && grep -q 'doctor: every rank can train' "$WORK/real.txt" && grep -q '^cloud_vm.sh: ready' "$WORK/real.txt"; then
        ok "--no-gpu for real: packages, dltrain-mpi --doctor on $WORK/runs, ready"
    else
        fail "--no-gpu for real (exit $st)"; diag_file "$WORK/real.txt"
    fi
    check "... the doctor created nothing" test ! -e "$WORK/runs/doctor-$(hostname -s)"
    if ! command -v nvidia-smi > /dev/null; then
        "$VM" --skip-build --build-dir "$top_builddir" > "$WORK/nodriver.txt" 2>&1
        check "without --no-gpu on a machine with no driver: exit 1" test $? -eq 1
        check "... saying so and what to do" has "$WORK/nodriver.txt" "no working NVIDIA driver: nvidia-smi not found; rerun with --install-driver"
    fi
fi
done_testing
