"""torch_train.py - the PyTorch side of bench/time_to_accuracy.sh: trains a
Caffe train_val prototxt (built by torch_net.py's translator) with its
solver on IDX files (MNIST / Fashion-MNIST), as dltrain-mpi does: SGD with
momentum and weight decay per param { lr_mult decay_mult }, the solver's lr
policy (fixed, step, inv), a reshuffle every epoch, a test pass of test_iter
batches every test_interval iterations (and at iteration 0 unless
test_initialization is false) and after the last one. Prints one line per
test and a JSON line at the end:
  torch_train.py NET.prototxt --solver S --data DIR --iters N [--threads T]
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_net  # noqa: E402  (the prototxt translator and SGD groups)


def read_idx(path):
    """An IDX file (gzip or not) as a numpy array of its declared shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\0\0" or raw[2] != 8:
        raise SystemExit("torch_train: %s: not an unsigned-byte IDX file" % path)
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)


def load(data_dir, prefix):
    x = read_idx(os.path.join(data_dir, prefix + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data_dir, prefix + "-labels-idx1-ubyte.gz"))
    return torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype(np.int64))


def lr_at(solver, it):
    """Caffe's lr policies that nets/ uses."""
    get = torch_net.get
    base, policy = float(get(solver, "base_lr", 0.01)), get(solver, "lr_policy", "fixed")
    gamma, power = float(get(solver, "gamma", 0)), float(get(solver, "power", 0))
    if policy == "inv":
        return base * (1 + gamma * it) ** (-power)
    if policy == "step":
        return base * gamma ** (it // int(get(solver, "stepsize", 1)))
    if policy == "fixed":
        return base
    raise SystemExit("torch_train: lr_policy %s not supported" % policy)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("net")
    ap.add_argument("--solver", required=True)
    ap.add_argument("--data", required=True, help="directory of the four IDX .gz files")
    ap.add_argument("--iters", type=int, required=True)
    ap.add_argument("--batch", type=int, default=64, help="training batch")
    ap.add_argument("--test-batch", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    get = torch_net.get
    tree = torch_net.parse_prototxt(open(a.net).read())
    solver = torch_net.parse_prototxt(open(a.solver).read())
    scale = 1.0
    for _, layer in [kv for kv in tree if kv[0] == "layer"]:
        s = get(get(layer, "transform_param"), "scale")
        if s is not None:
            scale = float(s)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "t10k")
    net = torch_net.Net(tree, a.batch, tuple(xtr.shape[1:]), a.seed)
    opt, base_lr, _, _ = torch_net.sgd(net, solver)
    mults = [g["lr"] / base_lr for g in opt.param_groups]
    data = [s for s in net.steps["TRAIN"] if s[0] == "data"][0][3]
    tdata = [s for s in net.steps["TEST"] if s[0] == "data"][0][3]
    logits = [s for s in net.steps["TEST"] if s[4]][0][2][0]  # the loss layer's first bottom
    test_iter, test_interval = int(get(solver, "test_iter", 0)), int(get(solver, "test_interval", 0))
    test_init = get(solver, "test_initialization", "true") not in ("false", False)
    gen = torch.Generator().manual_seed(a.seed)
    order, pos, epoch = torch.randperm(len(xtr), generator=gen), 0, 0

    def test(it):
        net.eval()
        right = seen = 0
        with torch.no_grad():
            for b in range(test_iter):
                i = (b * a.test_batch) % len(xte)
                x = xte[i:i + a.test_batch].float() * scale
                y = yte[i:i + a.test_batch]
                blobs = {tdata[0]: x, tdata[1]: y}
                net.run("TEST", blobs)
                right += int((blobs[logits].argmax(1) == y).sum())
                seen += len(y)
        net.train()
        print("iter %d test: %d images, top-1 %.4f (%.1f s)" % (it, seen, right / seen,
                                                                 time.perf_counter() - t0),
              flush=True)
        return right / seen

    acc = None
    net.train()
    for it in range(a.iters):
        if test_iter and test_interval and it % test_interval == 0 and (it or test_init):
            acc = test(it)
        if pos + a.batch > len(order):  # a new epoch, reshuffled
            order, pos, epoch = torch.randperm(len(xtr), generator=gen), 0, epoch + 1
        idx = order[pos:pos + a.batch]
        pos += a.batch
        lr = lr_at(solver, it)
        for g, m in zip(opt.param_groups, mults):
            g["lr"] = lr * m
        opt.zero_grad()
        loss = net.run("TRAIN", {data[0]: xtr[idx].float() * scale, data[1]: ytr[idx]})
        loss.backward()
        opt.step()
    if test_iter:
        acc = test(a.iters)
    print(json.dumps({"iters": a.iters, "batch": a.batch, "threads": a.threads,
                      "top1": acc, "seconds": time.perf_counter() - t0,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
