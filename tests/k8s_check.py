"""k8s_check.py - checks of k8s/ the Kubernetes schemas do not make (used by tests/test_k8s_manifests.sh).

k8s_check.py schema CRD.yaml FILE.yaml: every custom resource in FILE whose kind the CRD defines is valid
  against the CRD's openAPIV3Schema for its version (jsonschema), and strictly so: a field the schema does
  not declare is an error (the API server would prune it silently, or refuse it with strict field validation).
k8s_check.py layout FILE.yaml...: the jobs' own rules: mpirun -np equals the GPUs asked for (Job: the pod's
  nvidia.com/gpu; MPIJob: slotsPerWorker x workers, slotsPerWorker = each worker's nvidia.com/gpu), a node
  selector on the GPU pods, --resume auto and a retry budget, --device gpu, the data and run directory on
  the same claim.
Prints one line per problem and exits 1 when there is one."""
import sys

import jsonschema
import yaml


def docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def unknown_fields(obj, schema, where, out):
    """Fields of obj that schema does not declare (structural schemas: properties without
    additionalProperties or x-kubernetes-preserve-unknown-fields)."""
    if isinstance(obj, dict):
        props = schema.get("properties")
        if props is not None and not schema.get("x-kubernetes-preserve-unknown-fields") \
                and "additionalProperties" not in schema:
            for k in obj:
                if k not in props:
                    out.append("%s.%s: field not declared by the schema" % (where, k))
        for k, v in obj.items():
            sub = (props or {}).get(k) or (schema.get("additionalProperties")
                                           if isinstance(schema.get("additionalProperties"), dict) else None)
            if sub:
                unknown_fields(v, sub, "%s.%s" % (where, k), out)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(obj):
            unknown_fields(v, schema["items"], "%s[%d]" % (where, i), out)


def check_schema(crd_path, path):
    crd = [d for d in docs(crd_path) if d.get("kind") == "CustomResourceDefinition"][0]
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    schemas = {"%s/%s" % (group, v["name"]): v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"]}
    problems, n = [], 0
    for d in docs(path):
        if d.get("kind") != kind:
            continue
        n += 1
        schema = schemas.get(d.get("apiVersion"))
        name = "%s/%s" % (kind, d.get("metadata", {}).get("name"))
        if schema is None:
            problems.append("%s: apiVersion %s not served by the CRD (%s)" % (name, d.get("apiVersion"),
                                                                            ", ".join(schemas)))
            continue
        for e in jsonschema.Draft7Validator(schema).iter_errors(d):
            problems.append("%s: %s: %s" % (name, ".".join(str(p) for p in e.absolute_path) or "(root)", e.message))
        unknown_fields(d, schema, name, problems)
    if n == 0:
        problems.append("%s: no %s in it" % (path, kind))
    return problems


def mpirun_np(args):
    args = [str(a) for a in args]
    if "mpirun" not in args:
        return None
    i = args.index("mpirun")
    for j in range(i, len(args) - 1):
        if args[j] in ("-np", "-n", "--np"):
            return int(args[j + 1])
    return None


def gpus(container):
    return int(container.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0))


def claims(pod):
    return {v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes", []) if "persistentVolumeClaim" in v}


def mounts(container):
    return {m["mountPath"]: m for m in container.get("volumeMounts", [])}


def trainer_args_ok(name, args, out):
    args = [str(a) for a in args]
    joined = " ".join(args)
    if "--resume auto" not in joined:
        out.append("%s: no --resume auto: a retried pod would start over" % name)
    if "--device gpu" not in joined:
        out.append("%s: no --device gpu" % name)
    if "--stage-dir" not in args:
        out.append("%s: no --stage-dir (node-local staging)" % name)


def data_mounts_ok(name, pod, container, out):
    m = mounts(container)
    if not claims(pod):
        out.append("%s: no PersistentVolumeClaim volume for data and runs" % name)
    if "/data" not in m or not m["/data"].get("readOnly"):
        out.append("%s: /data not mounted read-only" % name)
    if "/runs" not in m:
        out.append("%s: /runs (the run directories) not mounted" % name)


def check_layout(path):
    out = []
    for d in docs(path):
        kind, name = d.get("kind"), "%s/%s" % (d.get("kind"), d.get("metadata", {}).get("name"))
        if kind == "Job":
            pod = d["spec"]["template"]["spec"]
            c = pod["containers"][0]
            n, g = mpirun_np(c.get("command", []) + c.get("args", [])), gpus(c)
            if n is None or n != g or g < 1:
                out.append("%s: mpirun -np %s but nvidia.com/gpu %s" % (name, n, g))
            if not pod.get("nodeSelector"):
                out.append("%s: no nodeSelector for the GPU nodes" % name)
            if d["spec"].get("backoffLimit", 6) < 1:
                out.append("%s: backoffLimit < 1: no retry to resume" % name)
            trainer_args_ok(name, c.get("command", []) + c.get("args", []), out)
            data_mounts_ok(name, pod, c, out)
        elif kind == "MPIJob":
            spec = d["spec"]
            launcher = spec["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"][0]
            worker_rs = spec["mpiReplicaSpecs"]["Worker"]
            wpod = worker_rs["template"]["spec"]
            worker = wpod["containers"][0]
            slots, replicas = spec.get("slotsPerWorker", 1), worker_rs.get("replicas", 1)
            n = mpirun_np(launcher.get("command", []) + launcher.get("args", []))
            if n != slots * replicas:
                out.append("%s: mpirun -np %s but slotsPerWorker %d x %d workers" % (name, n, slots, replicas))
            if slots != gpus(worker):
                out.append("%s: slotsPerWorker %d but each worker has nvidia.com/gpu %d" % (name, slots, gpus(worker)))
            if gpus(launcher):
                out.append("%s: the launcher asks for GPUs it does not use" % name)
            if not wpod.get("nodeSelector"):
                out.append("%s: no nodeSelector on the workers" % name)
            if spec.get("runPolicy", {}).get("backoffLimit", 6) < 1:
                out.append("%s: backoffLimit < 1" % name)
            trainer_args_ok(name, launcher.get("command", []) + launcher.get("args", []), out)
            data_mounts_ok(name + " worker", wpod, worker, out)
    return out


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "schema":
        problems = check_schema(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 3 and sys.argv[1] == "layout":
        problems = [p for f in sys.argv[2:] for p in check_layout(f)]
    else:
        sys.exit(__doc__)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
