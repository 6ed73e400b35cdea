#!/bin/bash
# test_k8s_manifests.sh - k8s/ is valid: the core kinds (PersistentVolume,
# PersistentVolumeClaim, Job) against the Kubernetes API schemas with
# kubernetes-validate --strict (the newest version it knows and 1.31, where
# podFailurePolicy became GA), the MPIJob against the Kubeflow CRD's own
# OpenAPI schema (../shared/data/k8s/kubeflow.org_mpijobs.yaml, v2beta1,
# strict: undeclared fields are errors), and the jobs' layout rules
# (tests/k8s_check.py: -np = GPUs, --resume auto, node selector, volumes);
# each check also refuses a broken copy. kubernetes-validate, jsonschema and
# PyYAML come from PyPI into a venv made once under
# ${DLT_K8S_VENV:-/var/cache/dltrain/venv-k8s} (scripts/install-deps.sh
# --containers makes it); skipped with the reason without PyPI, and the
# CRD check alone without ../shared.
. "$(dirname "$0")/lib.sh"
K8S=$top_srcdir/k8s
CRD=$SHARED_DIR/data/k8s/kubeflow.org_mpijobs.yaml
VENV="${DLT_K8S_VENV:-/var/cache/dltrain/venv-k8s}"
venv_ok() { "$VENV/bin/python" -c 'import kubernetes_validate, jsonschema, yaml' 2> /dev/null; }
if ! venv_ok; then
    mkdir -p "$(dirname "$VENV")" 2> /dev/null
    { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check \
        kubernetes-validate jsonschema pyyaml; } > "$WORK/venv.log" 2>&1
fi
venv_ok || skip_all "kubernetes-validate not installable: $(tail -n 1 "$WORK/venv.log" 2> /dev/null)"
PY=$VENV/bin/python
echo "# kubernetes-validate $("$VENV/bin/kubernetes-validate" --version 2>&1 | tail -n 1), jsonschema $("$PY" -c 'import jsonschema, importlib.metadata as m; print(m.version("jsonschema"))')"
# expect_fail FILE "description" command...: ok when the command fails
expect_fail() { local d=$1; shift; if "$@" > "$WORK/neg.txt" 2>&1; then fail "$d"; else ok "$d"; fi; }
# checkd OUT "description" command...: ok when it succeeds; else OUT's tail
checkd() { local o=$1 d=$2; shift 2; if "$@" > "$o" 2>&1; then ok "$d"; else fail "$d"; diag_file "$o"; fi; }
kv() { "$VENV/bin/kubernetes-validate" --strict "$@"; }

CORE="$K8S/storage.yaml $K8S/job-1node.yaml"
for v in "" 1.31; do
    checkd "$WORK/kv$v.txt" "kubernetes-validate --strict ${v:+-k $v }storage.yaml job-1node.yaml" kv ${v:+-k $v} $CORE
done
check "... and it read every document (PV, PVC, Job)" test "$(grep -c ' passed for resource ' "$WORK/kv.txt")" -eq 3
sed 's/^      nodeSelector:/      nodeSelectr:/' "$K8S/job-1node.yaml" > "$WORK/job-typo.yaml"
expect_fail "... refuses a Job with a misspelt field" kv "$WORK/job-typo.yaml"
sed 's/^  backoffLimit: .*/  backoffLimit: many/' "$K8S/job-1node.yaml" > "$WORK/job-type.yaml"
expect_fail "... refuses a Job with a string backoffLimit" kv "$WORK/job-type.yaml"

if [ -f "$CRD" ]; then
    checkd "$WORK/mpijob.txt" "mpijob.yaml valid against the CRD's v2beta1 schema" \
        "$PY" "$top_srcdir/tests/k8s_check.py" schema "$CRD" "$K8S/mpijob.yaml"
    sed 's/^  slotsPerWorker: .*/  slotsPerWorker: eight/' "$K8S/mpijob.yaml" > "$WORK/mpi-type.yaml"
    expect_fail "... refuses slotsPerWorker: eight" "$PY" "$top_srcdir/tests/k8s_check.py" schema "$CRD" "$WORK/mpi-type.yaml"
    sed 's/^  sshAuthMountPath:/  sshAuthMountPth:/' "$K8S/mpijob.yaml" > "$WORK/mpi-typo.yaml"
    expect_fail "... refuses an undeclared field (sshAuthMountPth)" "$PY" "$top_srcdir/tests/k8s_check.py" schema "$CRD" "$WORK/mpi-typo.yaml"
    sed 's#^apiVersion: kubeflow.org/v2beta1#apiVersion: kubeflow.org/v1#' "$K8S/mpijob.yaml" > "$WORK/mpi-v1.yaml"
    expect_fail "... refuses an apiVersion the CRD does not serve" "$PY" "$top_srcdir/tests/k8s_check.py" schema "$CRD" "$WORK/mpi-v1.yaml"
else
    ok "mpijob.yaml against the CRD's schema # SKIP the MPIJob CRD is absent ($CRD: ../shared not here)"
fi

checkd "$WORK/layout.txt" "layout: -np = GPUs, slotsPerWorker = GPUs per worker, --resume auto, node selector, volumes" \
    "$PY" "$top_srcdir/tests/k8s_check.py" layout "$K8S/job-1node.yaml" "$K8S/mpijob.yaml"
sed 's/nvidia.com\/gpu: 4/nvidia.com\/gpu: 2/' "$K8S/job-1node.yaml" > "$WORK/job-np.yaml"
expect_fail "... refuses a Job whose -np is not its GPU count" "$PY" "$top_srcdir/tests/k8s_check.py" layout "$WORK/job-np.yaml"
sed 's/^  slotsPerWorker: .*/  slotsPerWorker: 4/' "$K8S/mpijob.yaml" > "$WORK/mpi-slots.yaml"
expect_fail "... refuses an MPIJob whose slotsPerWorker is not the GPUs per worker" "$PY" "$top_srcdir/tests/k8s_check.py" layout "$WORK/mpi-slots.yaml"
grep -v -e '- --resume' -e '- auto' "$K8S/job-1node.yaml" > "$WORK/job-noresume.yaml"
expect_fail "... refuses a Job without --resume auto" "$PY" "$top_srcdir/tests/k8s_check.py" layout "$WORK/job-noresume.yaml"
done_testing
