#!/usr/bin/python3
"""net_vs_pytorch.py - dltrain vs PyTorch CPU on one net prototxt, side by side.

Runs bench/bench_net (dltrain, OpenBLAS) and bench/torch_net.py (PyTorch,
the same prototxt translated) alternately, each in its own process so that neither side's idle
worker threads compete with the other, REPEATS times each; takes the median
images/s of each side and prints one table (header row, units row,
fixed-width rows) and a last line OK or FAILED: OK when dltrain's training
throughput is at least --min-ratio times PyTorch's (and inference at least
--min-infer-ratio, when given). It also reports each side's GFLOP/s as a
share of the FP32 peak (bench/fma_peak, same thread count) and each
process's peak RSS (VmHWM of /proc/self/status, which exec resets, unlike
ru_maxrss, which would count this Python process's pages in a child).

Same batch, same thread count (OPENBLAS_NUM_THREADS / torch.set_num_threads),
same architecture and optimizer work on both sides. OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE are left as the caller has them, and reported.

usage: /usr/bin/python3 bench/net_vs_pytorch.py [NET] [--batch B] [--input CxHxW]
  NET: a prototxt path or a name in nets/ (lenet, cifar10_quick, googlenet...)
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

ROWS = (("train", "train_img_s"), ("infer", "infer_img_s"))


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("net", nargs="?", default="lenet_fashion",
                    help="prototxt path or name in nets/ (default lenet_fashion)")
    ap.add_argument("--bin", default=os.path.join("bench", "bench_net"),
                    help="bench_net program (default: bench/bench_net, relative "
                         "to the build directory)")
    ap.add_argument("--peak-bin", default=os.path.join("bench", "fma_peak"))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--input", help="CxHxW (default: from the net's header comment)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each side (default 3)")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iters", type=int, default=0,
                    help="timed iterations per measurement (default 0: --min-time)")
    ap.add_argument("--min-time", type=float, default=3.0, help="seconds per measurement")
    ap.add_argument("--stat", choices=("median", "best"), default="median")
    ap.add_argument("--min-ratio", type=float, default=1.0,
                    help="OK needs train dltrain/pytorch >= this (default 1.0)")
    ap.add_argument("--min-infer-ratio", type=float, default=None,
                    help="OK also needs infer dltrain/pytorch >= this (default: not checked)")
    ap.add_argument("--max-other-cpu", type=float, default=0.10,
                    help="FAILED when other processes used more than this share of the "
                         "CPU during the runs (default 0.10)")
    ap.add_argument("--json", help="also write all runs and the summary to this file")
    return ap.parse_args(argv)


def net_path(a):
    if os.path.exists(a.net):
        return a.net
    return os.path.join(HERE, "..", "nets", a.net + "_train_val.prototxt")


def common_args(a):
    return [net_path(a)] + (["--input", a.input] if a.input else []) + ["--batch", str(a.batch), "--threads", str(a.threads), "--warmup", str(a.warmup),
            "--iters", str(a.iters), "--min-time", str(a.min_time), "--json"]


def child_env(a):
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = str(a.threads)
    env["OMP_NUM_THREADS"] = str(a.threads)
    return env


def run_json(cmd, env):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit("net_vs_pytorch: %s exited with status %d"
                         % (" ".join(cmd), p.returncode))
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise SystemExit("net_vs_pytorch: no JSON line from %s" % " ".join(cmd))
    return json.loads(lines[-1])


def run_dltrain(a):
    return run_json([a.bin] + common_args(a), child_env(a))


def run_torch(a, dlt):
    """Same solver file as the dltrain run."""
    cmd = [sys.executable, os.path.join(HERE, "torch_net.py")] + common_args(a) + [
        "--solver", dlt["solver"]]
    return run_json(cmd, child_env(a))


def run_peak(a):
    return run_json([a.peak_bin, "--threads", str(a.threads), "--json"], child_env(a))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_environment(a, dlt, pt, load, peak):
    print("# date: %s" % time.strftime("%Y-%m-%d %H:%M:%S %z"))
    print("# cpu: %s, %d online cores" % (cpu_model(), os.cpu_count() or 0))
    print("# net: %s, input %s" % (net_path(a), dlt["input"]))
    print("# threads: %d per side, batch %d, %d repeats per side (%s), >= %.1f s or %d iters"
          % (a.threads, a.batch, a.repeats, a.stat, a.min_time, a.iters))
    print("# FP32 peak: %.1f GFLOP/s (%s FMA loop, %d threads); GEMM work per image: "
          "train %.4f GFLOP, infer %.4f GFLOP" % (peak["peak_gflop_s"], peak["isa"], a.threads,
                                                  dlt["train_gflop_per_img"],
                                                  dlt["infer_gflop_per_img"]))
    print("# sgd: base_lr %g (times each lr_mult), momentum %g, weight_decay %g (times each decay_mult), both sides"
          % (dlt["base_lr"], dlt["momentum"], dlt["weight_decay"]))
    print("# dltrain: %s, OpenBLAS: %s (core %s)"
          % (a.bin, dlt.get("openblas_config", "?"), dlt.get("openblas_core", "?")))
    print("# pytorch: %s (%s), mkldnn %s" % (pt["torch"], sys.executable, pt["mkldnn"]))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS"):
        print("# %s=%s" % (var, os.environ.get(var, "(unset)")))
    print("# load average before the runs: %.2f %.2f %.2f" % load)


def cpu_busy_seconds():
    """Busy CPU time of the whole machine (all processes), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_seconds():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def foreign_load(busy, own, wall):
    """Share of the cores other processes used while the benchmark ran."""
    other = max(0.0, busy - own) / (wall * (os.cpu_count() or 1))
    print("# other processes used %.0f%% of the CPU during the runs%s"
          % (100 * other, "  (WARNING: machine busy, figures unreliable)" if other > 0.05 else ""))
    return other


def summarize(runs, key, stat):
    vals = [r[key] for r in runs]
    return max(vals) if stat == "best" else statistics.median(vals)


def print_table(a, dlt_runs, torch_runs, peak):
    fmt = " %13s %7s %12s %12s %9s %9s %9s %17s %17s"
    print("#" + fmt[1:] % ("case", "batch", "dltrain", "pytorch", "ratio", "dltrain", "pytorch",
                           "dltrain min-max", "pytorch min-max"))
    print("#" + fmt[1:] % ("", "", "(img/s)", "(img/s)", "(dlt/pt)", "(%peak)", "(%peak)",
                           "(img/s)", "(img/s)"))
    ratios = {}
    gflop = dlt_runs[0]
    for name, key in ROWS:
        d, t = summarize(dlt_runs, key, a.stat), summarize(torch_runs, key, a.stat)
        ratios[name] = d / t
        dv, tv = [r[key] for r in dlt_runs], [r[key] for r in torch_runs]
        work = gflop[name + "_gflop_per_img"] / peak["peak_gflop_s"]
        print(" %13s %7d %12.1f %12.1f %9.3f %9.1f %9.1f %8.1f-%-8.1f %8.1f-%-8.1f"
              % ("%s b%d" % (name, a.batch), a.batch, d, t, d / t, 100 * d * work,
                 100 * t * work, min(dv), max(dv), min(tv), max(tv)))
    d = max(r["peak_rss_kb"] for r in dlt_runs) / 1024
    t = max(r["peak_rss_kb"] for r in torch_runs) / 1024
    ratios["rss"] = d / t
    print(" %13s %7d %12.1f %12.1f %9.3f   (peak RSS in MiB: VmHWM, max of the runs)"
          % ("rss", a.batch, d, t, d / t))
    return ratios


def verdict(a, ratios, other):
    ok = ratios["train"] >= a.min_ratio
    if other > a.max_other_cpu:
        print("# other processes used more than --max-other-cpu %.2f of the CPU" % a.max_other_cpu)
        ok = False
    msg = "train ratio %.3f vs --min-ratio %.3f" % (ratios["train"], a.min_ratio)
    if a.min_infer_ratio is not None:
        ok = ok and ratios["infer"] >= a.min_infer_ratio
        msg += ", infer ratio %.3f vs --min-infer-ratio %.3f" % (ratios["infer"],
                                                                  a.min_infer_ratio)
    print("# %s" % msg)
    print("OK" if ok else "FAILED")
    return ok


def main(argv=None):
    a = parse_args(argv)
    if not os.access(a.bin, os.X_OK):
        raise SystemExit("net_vs_pytorch: %s not found; build it with `make bench`" % a.bin)
    load = os.getloadavg()
    busy0, own0, t0 = cpu_busy_seconds(), children_seconds(), time.monotonic()
    peak = run_peak(a)
    dlt_runs, torch_runs = [], []
    for _ in range(a.repeats):
        dlt_runs.append(run_dltrain(a))
        torch_runs.append(run_torch(a, dlt_runs[-1]))
    busy, own = cpu_busy_seconds() - busy0, children_seconds() - own0
    print_environment(a, dlt_runs[0], torch_runs[0], load, peak)
    other = foreign_load(busy, own, time.monotonic() - t0)
    ratios = print_table(a, dlt_runs, torch_runs, peak)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"dltrain": dlt_runs, "pytorch": torch_runs, "ratios": ratios,
                       "peak": peak, "other_cpu": other}, f, indent=1)
    return 0 if verdict(a, ratios, other) else 1


if __name__ == "__main__":
    sys.exit(main())
