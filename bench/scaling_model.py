#!/usr/bin/env python3
"""scaling_model.py - predicts data-parallel time per iteration and weak-scaling
efficiency from per-GPU compute time, gradient bytes and interconnect alpha/beta.

Model (per iteration, P GPUs, G GPUs per node, N = P/G nodes, S gradient bytes,
K = ceil(S / bucket) buckets, each bucket an allreduce of S/K bytes):
  ring over all P:   T_ar = K * 2(P-1) a  + 2(P-1)/P * S / B
  hierarchical:      T_ar = K * (2(G-1) a_i + 2(N-1) a) + 2(G-1)/G * S / B_i + 2(N-1)/N * S / B
                     (reduce-scatter + allgather inside the node at B_i, the node's
                     slices allreduced over the NIC at B by G parallel rings)
  compute:           T_c = batch / (images/s per GPU); backward ~ 2/3 of it
  overlap fraction f: the share of backward during which buckets can travel
  time per iter:     T = T_c + max(T_ar / K, T_ar - f * 2/3 * T_c)
                     (the last bucket, the first layers' gradients, never overlaps)
  efficiency:        T_c / T (weak scaling: fixed batch per GPU)
Assumptions (change with options): batch 64/GPU; GoogLeNet 7.0M params at
600 images/s/GPU, ResNet-50 25.6M params at 360 images/s/GPU (V100-class,
fp32); 8 GPUs per node with an intra-node link of 50 GB/s, a_i = 5 us; 25 MB
buckets; f = 0.8. Validation mode (--validate) evaluates the same formula for
the namespace cluster measured by bench/bench_scaling.sh.
"""
import argparse
import json
import math

NETS = {  # name: parameters, images/s per GPU (fp32, V100 class), batch per GPU
    "googlenet": (7.0e6, 600.0, 64),
    "resnet50": (25.6e6, 360.0, 64),
}
LINKS = {  # name: alpha (s), beta as bandwidth B (bytes/s) per node NIC
    "10GbE": (25e-6, 1.25e9 * 0.94),
    "25GbE": (15e-6, 3.125e9 * 0.94),
    "100GbE": (8e-6, 12.5e9 * 0.94),
    "HDR-IB": (1.5e-6, 25e9 * 0.95),
}


def t_allreduce(S, P, G, alpha, B, alpha_i, B_i, buckets, algo):
    if P <= 1:
        return 0.0
    if algo == "ring" or P <= G:
        if P <= G:  # one node: the intra-node link only
            alpha, B = alpha_i, B_i
        return buckets * 2 * (P - 1) * alpha + 2 * (P - 1) / P * S / B
    N = P // G
    return (buckets * (2 * (G - 1) * alpha_i + 2 * (N - 1) * alpha)
            + 2 * (G - 1) / G * S / B_i + 2 * (N - 1) / N * S / B)


def predict(S, t_c, P, G, alpha, B, alpha_i, B_i, bucket, overlap, algo):
    buckets = max(1, math.ceil(S / bucket))
    t_ar = t_allreduce(S, P, G, alpha, B, alpha_i, B_i, buckets, algo)
    exposed = max(t_ar / buckets, t_ar - overlap * (2.0 / 3.0) * t_c)
    t = t_c + exposed
    return t, t_c / t, t_ar


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpus-per-node", type=int, default=8)
    ap.add_argument("--intra-gbs", type=float, default=50.0, help="intra-node GB/s")
    ap.add_argument("--bucket-mb", type=float, default=25.0)
    ap.add_argument("--overlap", type=float, default=0.8)
    ap.add_argument("--validate", metavar="JSON", help="bench_scaling.sh measurements to check the model against")
    a = ap.parse_args()
    if a.validate:
        m = json.load(open(a.validate))
        # 1 rank per namespace host, so G = 1; the link is the shaped veth.
        t, eff, t_ar = predict(m["grad_bytes"], m["t_compute_s"], m["ranks"], 1, m["alpha_s"],
                               m["bandwidth_Bps"], 1e-6, 1e10, m["bucket_bytes"], m["overlap"], "ring")
        err = (m["t_iter_s"] - t) / t
        print(f"namespace cluster: {m['ranks']} hosts, {m['bandwidth_Bps']/1e6:.1f} MB/s, "
              f"S={m['grad_bytes']/1e6:.2f} MB, T_c={m['t_compute_s']*1e3:.1f} ms")
        print(f"  predicted allreduce {t_ar*1e3:.1f} ms, time/iter {t*1e3:.1f} ms; "
              f"measured allreduce {m['t_allreduce_s']*1e3:.1f} ms, time/iter {m['t_iter_s']*1e3:.1f} ms; "
              f"error {err*100:+.1f}% -> {'OK' if abs(err) <= 0.10 else 'OUTSIDE 10%'}")
        return
    gpus = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    bucket = a.bucket_mb * 1e6
    for net, (params, ips, batch) in NETS.items():
        S = 4 * params
        t_c = batch / ips
        print(f"\n{net}: {params/1e6:.1f}M params ({S/1e6:.1f} MB of fp32 gradients), batch {batch}/GPU, "
              f"{ips:.0f} images/s/GPU -> T_c {t_c*1e3:.0f} ms; {a.gpus_per_node} GPUs/node, "
              f"overlap {a.overlap}, buckets {a.bucket_mb:g} MB")
        print("efficiency (time/iter ms) by GPUs; ring | hierarchical")
        print(f"{'link':8s} {'algo':5s} " + " ".join(f"{p:>12d}" for p in gpus))
        for link, (alpha, B) in LINKS.items():
            for algo in ("ring", "hier"):
                row = []
                for p in gpus:
                    t, eff, _ = predict(S, t_c, p, a.gpus_per_node, alpha, B, 5e-6, a.intra_gbs * 1e9,
                                        bucket, a.overlap, algo)
                    row.append(f"{eff:5.3f}({t*1e3:5.0f})")
                print(f"{link:8s} {algo:5s} " + " ".join(f"{c:>12s}" for c in row))


if __name__ == "__main__":
    main()
